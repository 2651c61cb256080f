//! The snapshot store through the page and the API: save from the UI and open the permalink in
//! a fresh browser, upload through the list page, bad uploads refused over HTTP, scheduled
//! snapshots with retention (the real `dockmap serve`).

use crate::support::browser;
use crate::support::store as support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use browser::{serve, Browser};
use dockmap::snapshot::file::SnapshotFile;
use dockmap::snapshot::{NodeState, CLUSTER_SCHEMA};
use dockmap::store::Store;
use dockmap::web::store::StoreState;
use dockmap::web::{router_with_store, AppState};
use serde_json::{json, Value};
use support::{client, synthetic, write_atomically, Server};

/// A server on a snapshot file, with a store in a temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    store: Arc<Store>,
    app: AppState,
    url: String,
}

async fn fixture(containers: usize, upload_limit: usize) -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("dmt-bstore-")
        .tempdir()
        .unwrap();
    let file = dir.path().join("live.json");
    write_atomically(
        &file,
        &serde_json::to_vec(&synthetic(1, containers, "2026-04-01T00:00:00Z")).unwrap(),
    );
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let app = AppState::from_file(&file).unwrap();
    let url = serve(router_with_store(
        app.clone(),
        StoreState {
            app: app.clone(),
            store: store.clone(),
            upload_limit,
        },
    ))
    .await;
    Fixture {
        _dir: dir,
        file,
        store,
        app,
        url,
    }
}

/// The body of a GET of `url`, whatever its status.
async fn get_text(c: &reqwest::Client, url: String) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

const DRAWN: &str =
    "return [...document.querySelectorAll('#map [data-id]')].map(e => e.dataset.id)";

fn ids(v: Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_saved_from_the_page_reopens_by_permalink_in_a_fresh_browser() {
    let f = fixture(8, 1 << 20).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    b.open(&f.url).await;
    let live_drawn = ids(b.js(DRAWN).await);
    assert!(
        live_drawn.len() > 20,
        "the fixture should draw a real picture"
    );
    b.js("document.querySelector('#save > summary').click()")
        .await;
    let label = b
        .client
        .find(fantoccini::Locator::Id("save-label"))
        .await
        .unwrap();
    label.send_keys("before <b>the</b> change").await.unwrap();
    b.click_id("save-go").await;
    b.until(
        "return !!document.getElementById('save-result-link')",
        20,
        "the permalink to be shown",
    )
    .await;
    let link = b
        .js("return document.getElementById('save-result-link').href")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let saved = f.store.list().unwrap();
    assert_eq!(saved.len(), 1, "one snapshot saved");
    assert_eq!(saved[0].label, "before <b>the</b> change");
    assert!(link.ends_with(&format!("/s/{}", saved[0].id)), "{link}");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;

    // The live state moves on: the permalink must still show what was saved.
    write_atomically(
        &f.file,
        &serde_json::to_vec(&synthetic(1, 3, "2026-04-02T00:00:00Z")).unwrap(),
    );
    let generation = f.app.status().generation;
    assert!(f.app.refresh());
    while f.app.is_collecting() || f.app.status().generation == generation {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let Some(b2) = Browser::start().await else {
        return;
    };
    b2.open(&link).await;
    let drawn = ids(b2.js(DRAWN).await);
    let cluster = f.store.get(&saved[0].id).unwrap().unwrap();
    let graph = dockmap::graph::build_cluster(&cluster);
    let in_saved: BTreeSet<String> = graph.elements.iter().map(|e| e.id.clone()).collect();
    let stray: Vec<&String> = drawn.iter().filter(|d| !in_saved.contains(*d)).collect();
    assert!(
        stray.is_empty(),
        "drawn but not in the saved snapshot: {stray:?}"
    );
    assert_eq!(
        drawn, live_drawn,
        "the permalink draws other elements than were saved"
    );
    assert_eq!(
        b2.js("return document.body.dataset.snap").await,
        json!(saved[0].id)
    );
    // The page names the snapshot it shows; there is nothing to save on it.
    b2.until_with(
        "return (document.getElementById('saved-as')?.textContent ?? '').includes(arguments[0])",
        vec![json!("before <b>the</b> change")],
        10,
        "the permalink page to name the saved snapshot",
    )
    .await;
    assert_eq!(
        b2.js("return document.getElementById('save').hidden").await,
        json!(true)
    );
    // The live page now draws the new state: the permalink is not just the live view.
    b2.open(&f.url).await;
    assert_ne!(ids(b2.js(DRAWN).await), live_drawn);
    let errors = b2.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_page_refuses_a_bad_file_with_its_reason_and_takes_a_good_one() {
    let f = fixture(4, 1 << 20).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let good = serde_json::to_vec(&synthetic(1, 4, "2026-04-03T00:00:00Z")[0]).unwrap();
    let bad_path = f._dir.path().join("truncated.json");
    std::fs::write(&bad_path, &good[..good.len() / 3]).unwrap();
    let good_path = f._dir.path().join("good.json");
    std::fs::write(&good_path, &good).unwrap();

    b.client
        .goto(&format!("{}/snapshots", f.url))
        .await
        .unwrap();
    b.until(
        "return window.dockmapStoreReady === true",
        20,
        "the list page's script",
    )
    .await;
    assert_eq!(
        b.js("return document.querySelectorAll('#snapshots tbody tr').length")
            .await,
        json!(0)
    );
    let input = b
        .client
        .find(fantoccini::Locator::Id("upload-file"))
        .await
        .unwrap();
    input.send_keys(bad_path.to_str().unwrap()).await.unwrap();
    b.click_id("upload-go").await;
    b.until(
        "const o = document.getElementById('upload-result'); return o.classList.contains('error') && o.textContent.includes('truncated')",
        20,
        "the reason for the refusal",
    )
    .await;
    assert!(
        f.store.list().unwrap().is_empty(),
        "a bad upload was stored"
    );

    input.clear().await.unwrap();
    input.send_keys(good_path.to_str().unwrap()).await.unwrap();
    b.click_id("upload-go").await;
    b.until(
        "return document.querySelectorAll('#snapshots tbody tr').length === 1",
        20,
        "the uploaded snapshot in the list",
    )
    .await;
    let saved = f.store.list().unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].label, "good.json");
    let row = b
        .js("return document.querySelector('#snapshots tbody tr').textContent")
        .await;
    let row = row.as_str().unwrap();
    assert!(
        row.contains("uploaded") && row.contains("node-00") && row.contains("good.json"),
        "{row}"
    );
    let errors: Vec<String> = b
        .console_errors()
        .await
        .into_iter()
        // The refused upload's 400 is logged by the browser itself.
        .filter(|e| !e.contains("status of 400"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

/// A request whose body is sent in chunks, with no Content-Length: only counting while reading
/// can refuse it.
fn chunked_post(base: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    for chunk in body.chunks(64 * 1024) {
        // The server may answer and close before the whole body is sent.
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // A small JSON answer, possibly in one chunk: take what lies between the outer braces.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_upload_is_refused_over_http_with_its_reason_and_the_list_is_unchanged() {
    const LIMIT: usize = 256 * 1024;
    let f = fixture(4, LIMIT).await;
    let c = client();
    // One saved snapshot to start with (the live state, no body at all).
    let r = c
        .post(format!("{}/api/snapshots", f.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["permalink"], json!(format!("/s/{id}")));
    assert_eq!(first["kind"], "manual");
    let list_before = get_text(&c, format!("{}/api/snapshots", f.url)).await;

    let good = serde_json::to_vec(&synthetic(1, 4, "2026-04-04T00:00:00Z")[0]).unwrap();
    let mut wrong: Value = serde_json::from_slice(&good).unwrap();
    wrong["schema"] = json!("dockmap.node-snapshot/7");
    let mut oversized = synthetic(1, 40, "2026-04-04T00:00:00Z");
    while serde_json::to_vec(&oversized).unwrap().len() <= LIMIT {
        oversized.extend(synthetic(1, 40, "2026-04-04T00:00:00Z"));
    }
    let oversized = serde_json::to_vec(&oversized).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = vec![
        (
            "wrong schema",
            serde_json::to_vec(&wrong).unwrap(),
            422,
            "schema",
            "dockmap.node-snapshot/7",
        ),
        (
            "truncated",
            good[..good.len() - 10].to_vec(),
            400,
            "truncated",
            "truncated",
        ),
        (
            "not JSON",
            b"\x89PNG\r\n\x1a\n not a snapshot".to_vec(),
            400,
            "not-json",
            "not JSON",
        ),
        ("oversized", oversized.clone(), 413, "too-large", "limit"),
    ];
    for (what, body, status, reason, words) in cases {
        let r = c
            .post(format!("{}/api/snapshots/upload?label=bad", f.url))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["reason"], reason, "{what}: {v}");
        assert!(v["error"].as_str().unwrap().contains(words), "{what}: {v}");
        let list = get_text(&c, format!("{}/api/snapshots", f.url)).await;
        assert_eq!(list, list_before, "{what} changed the list");
    }
    // Oversized without a declared length: refused while reading.
    let url = f.url.clone();
    let (status, v) = tokio::task::spawn_blocking(move || {
        chunked_post(&url, "/api/snapshots/upload", &oversized)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["reason"], "too-large");
    assert_eq!(f.store.list().unwrap().len(), 1);

    // The download is the stored JSON, as an attachment.
    let r = c
        .get(format!("{}/api/snapshots/{id}", f.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cd.starts_with("attachment") && cd.contains(&id), "{cd}");
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        f.store.bytes(&id).unwrap().unwrap()
    );
    let r = c
        .get(format!("{}/api/snapshots/{}", f.url, "a".repeat(26)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A good upload goes in; the same content again is found, not stored twice.
    for (expect, label) in [(201, "one"), (200, "two")] {
        let r = c
            .post(format!("{}/api/snapshots/upload?label={label}", f.url))
            .body(good.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expect);
    }
    let list = f.store.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].label, "two");
    // The list page names both.
    let page = get_text(&c, format!("{}/snapshots", f.url)).await;
    assert!(page.contains(&format!("/s/{id}")) && page.contains(&format!("/s/{}", list[0].id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_snapshot_file_opens_with_its_node_states() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-cfile-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("cluster.json");
    let mut cluster =
        SnapshotFile::Nodes(synthetic(2, 6, "2026-04-05T00:00:00Z")).into_cluster("agent");
    cluster.nodes[1].state = NodeState::Stale;
    cluster.nodes[1].error = "agent timed out".into();
    assert_eq!(cluster.schema, CLUSTER_SCHEMA);
    std::fs::write(&path, serde_json::to_vec(&cluster).unwrap()).unwrap();
    let app = AppState::from_file(&path).expect("a cluster snapshot file opens");
    let cur = app.current().unwrap();
    assert_eq!(cur.data.snapshots.len(), 2);
    assert!(
        cur.node_problems
            .iter()
            .any(|p| p.state == "stale" && p.message == "agent timed out"),
        "{:?}",
        cur.node_problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_snapshots_keep_exactly_the_newest_two_and_never_a_manual_one() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-sched-")
        .tempdir()
        .unwrap();
    let file = dir.path().join("live.json");
    let data = dir.path().join("data");
    let at = |i: usize| format!("2026-06-{:02}T00:00:00Z", i + 1);
    write_atomically(
        &file,
        &serde_json::to_vec(&synthetic(1, 4, &at(0))).unwrap(),
    );
    let server = Server::start(&[
        "--open",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--snapshot-every",
        "1s",
        "--keep",
        "2",
    ]);
    let c = client();
    support::wait_ready(&c, &server.base).await;
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .json(&json!({ "label": "manual" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let manual = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = |c: reqwest::Client, base: String| async move {
        let v: Value = c
            .get(format!("{base}/api/snapshots"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["snapshots"].as_array().unwrap().clone()
    };
    // Each new state on disk is picked up by the next tick and saved as a scheduled snapshot.
    for i in 1..=4 {
        write_atomically(
            &file,
            &serde_json::to_vec(&synthetic(1, 4, &at(i))).unwrap(),
        );
        let mut seen = false;
        for _ in 0..150 {
            let l = list(c.clone(), server.base.clone()).await;
            if l.iter()
                .any(|m| m["kind"] == "scheduled" && m["taken_at"] == json!(at(i)))
            {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "no scheduled snapshot of state {i}");
    }
    let l = list(c.clone(), server.base.clone()).await;
    let scheduled: Vec<&Value> = l
        .iter()
        .filter(|m| m["kind"] == "scheduled")
        .map(|m| &m["taken_at"])
        .collect();
    assert_eq!(scheduled, vec![&json!(at(4)), &json!(at(3))], "{l:?}");
    // The manual save outlived retention (even though the first tick saw the same state).
    assert!(
        l.iter()
            .any(|m| m["id"] == json!(manual) && m["kind"] == "manual"),
        "{l:?}"
    );
    assert_eq!(l.len(), 3, "{l:?}");
}
