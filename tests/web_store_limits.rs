//! A store that cannot be filled, over HTTP: saves and uploads past `--store-max-bytes` are
//! refused with 507 and store nothing, a delete makes room, and an upload that is no JSON is
//! refused while it streams, before its body has arrived.

use crate::support::browser;
use crate::support::store as support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use dockmap::store::{Kind, Store};
use dockmap::web::store::StoreState;
use dockmap::web::{router_with_store, AppState};

fn nodes(containers: usize, taken_at: &str) -> Vec<dockmap::snapshot::NodeSnapshot> {
    support::synthetic(1, containers, taken_at)
}

/// A server whose store holds one manual snapshot and room for about one more.
async fn server(dir: &std::path::Path) -> (String, Arc<Store>) {
    let probe = Store::open(&dir.join("probe")).unwrap();
    probe
        .save(
            dockmap::snapshot::ClusterSnapshot::of_nodes(nodes(30, "2026-04-01T00:00:00Z"), "file"),
            Kind::Manual,
            "",
        )
        .unwrap();
    let one = probe.used_bytes().unwrap();
    let store = Arc::new(
        Store::open(&dir.join("data"))
            .unwrap()
            .with_max_bytes(one * 2 + one / 2),
    );
    store
        .save(
            dockmap::snapshot::ClusterSnapshot::of_nodes(nodes(30, "2026-04-02T00:00:00Z"), "file"),
            Kind::Manual,
            "already here",
        )
        .unwrap();
    let app = AppState::fixed(nodes(30, "2026-04-03T00:00:00Z"));
    let base = browser::serve(router_with_store(
        app.clone(),
        StoreState {
            app,
            store: store.clone(),
            upload_limit: 8 << 20,
        },
    ))
    .await;
    (base, store)
}

#[tokio::test]
async fn a_full_store_refuses_with_507_stores_nothing_and_a_delete_makes_room() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-quota-")
        .tempdir()
        .unwrap();
    let (base, store) = server(dir.path()).await;
    let c = support::client();
    // The live state fits once.
    let r = c
        .post(format!("{base}/api/snapshots"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let live_id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = store.list().unwrap();
    let used = store.used_bytes().unwrap();
    // An upload of new content does not.
    let file = serde_json::to_vec(&nodes(30, "2026-04-04T00:00:00Z")).unwrap();
    let r = c
        .post(format!("{base}/api/snapshots/upload?label=big"))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 507);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["reason"], "store-full");
    let msg = j["error"].as_str().unwrap();
    assert!(
        msg.contains("--store-max-bytes") && msg.contains("delete"),
        "{msg}"
    );
    assert_eq!(
        store.list().unwrap(),
        before,
        "a refused upload stored nothing"
    );
    assert_eq!(store.used_bytes().unwrap(), used);
    // The same content saved again needs no room: 200, nothing new.
    let r = c
        .post(format!("{base}/api/snapshots"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Delete one (404 for one that is not there), and the upload fits.
    let r = c
        .delete(format!("{base}/api/snapshots/{live_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["deleted"],
        live_id
    );
    let r = c
        .delete(format!("{base}/api/snapshots/{live_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(format!("{base}/api/snapshots/{live_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "its bytes are gone too");
    let r = c
        .post(format!("{base}/api/snapshots/upload?label=big"))
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Headers and the first bytes of a long body, then nothing more: the answer, if one comes.
fn answer_before_the_body_ends(base: &str, first: &[u8]) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /api/snapshots/upload HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        4 << 20
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(first).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn an_upload_that_is_no_snapshot_is_refused_while_it_streams() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-quota-")
        .tempdir()
        .unwrap();
    let (base, store) = server(dir.path()).await;
    let before = store.list().unwrap();
    let b = base.clone();
    let (html, scalar) = tokio::task::spawn_blocking(move || {
        (
            answer_before_the_body_ends(&b, b"  <html><body>"),
            answer_before_the_body_ends(&b, b"\n\"a string"),
        )
    })
    .await
    .unwrap();
    assert!(html.starts_with("HTTP/1.1 400"), "{html}");
    assert!(
        html.contains("not-json") && html.contains("starts with '<'"),
        "{html}"
    );
    assert!(scalar.starts_with("HTTP/1.1 422"), "{scalar}");
    assert!(scalar.contains("not-snapshot"), "{scalar}");
    assert_eq!(store.list().unwrap(), before);
}
