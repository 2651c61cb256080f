//! The store survives a server killed in the middle of a save: the real `dockmap serve` on a
//! big snapshot, saves (live and uploads) cut short by SIGKILL at moments spread over a whole
//! save; afterwards the file passes SQLite's integrity check and every snapshot saved before
//! is listed and downloads byte for byte as it did.

use crate::support::store as support;

use std::time::{Duration, Instant};

use dockmap::store::Store;
use support::{client, download, listed, synthetic, wait_ready, write_atomically, Server};

/// Big enough that one save takes a while (encoding, hashing and writing tens of MB).
const HOSTS: usize = 4;
const CONTAINERS: usize = 3000;
/// Saves cut short.
const KILLS: usize = 6;

fn taken(i: usize) -> String {
    format!("2026-05-{:02}T00:00:00Z", i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_saves_leaves_every_earlier_snapshot_intact() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-store-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let big = dir.path().join("big.json");
    let data_s = data.to_str().unwrap().to_owned();
    let big_s = big.to_str().unwrap().to_owned();
    let c = client();
    let args = ["--data-dir", &data_s, "--open", &big_s];

    // Before: a live save and two uploads, each downloaded as the server keeps it.
    write_atomically(
        &big,
        &serde_json::to_vec(&synthetic(HOSTS, CONTAINERS, &taken(0))).unwrap(),
    );
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    let mut server = Server::start(&args);
    wait_ready(&c, &server.base).await;
    let t = Instant::now();
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .json(&serde_json::json!({ "label": "before" }))
        .send()
        .await
        .unwrap();
    let save_time = t.elapsed();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    kept.push((id.clone(), download(&c, &server.base, &id).await));
    // The same state again is found by its ID and writes nothing: what it costs is the part of
    // a save before the database; the rest of a first save is the write.
    let t = Instant::now();
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .send()
        .await
        .unwrap();
    let encode_time = t.elapsed().min(save_time);
    assert_eq!(r.status(), 200, "the same state saved again is not new");
    let mut upload_time = Duration::MAX;
    for i in 1..=2 {
        let body = serde_json::to_vec(&synthetic(HOSTS, CONTAINERS, &taken(i))).unwrap();
        let t = Instant::now();
        let r = c
            .post(format!("{}/api/snapshots/upload?label=up{i}", server.base))
            .body(body)
            .send()
            .await
            .unwrap();
        upload_time = upload_time.min(t.elapsed());
        assert_eq!(r.status(), 201);
        let id = r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        kept.push((id.clone(), download(&c, &server.base, &id).await));
    }
    let size = kept[0].1.len();
    eprintln!(
        "store_crash: {HOSTS} hosts, {CONTAINERS} containers: stored {size} bytes; live save {save_time:?} (before the write {encode_time:?}), upload {upload_time:?}"
    );
    server.kill();

    // Saves cut short at moments spread over the length of a whole one.
    let mut finished: Vec<String> = Vec::new();
    for k in 0..KILLS {
        let i = 3 + k;
        let live = k % 2 == 0;
        if live {
            // A new state on disk, so the live save has new content to write.
            write_atomically(
                &big,
                &serde_json::to_vec(&synthetic(HOSTS, CONTAINERS, &taken(i))).unwrap(),
            );
        }
        let mut server = Server::start(&args);
        wait_ready(&c, &server.base).await;
        let f = (k / 2 + 1) as f64 / (KILLS / 2 + 1) as f64;
        // Live saves are cut inside the database write; uploads anywhere (reading, checking, writing).
        let delay = if live {
            encode_time + (save_time - encode_time).mul_f64(f)
        } else {
            upload_time.mul_f64(f)
        };
        let req = if live {
            c.post(format!("{}/api/snapshots", server.base))
                .json(&serde_json::json!({ "label": format!("cut {k}") }))
        } else {
            let body = serde_json::to_vec(&synthetic(HOSTS, CONTAINERS, &taken(i))).unwrap();
            c.post(format!("{}/api/snapshots/upload?label=cut{k}", server.base))
                .body(body)
        };
        let pending = tokio::spawn(req.send());
        tokio::time::sleep(delay).await;
        server.kill();
        if let Ok(Ok(r)) = pending.await {
            if r.status().is_success() {
                // Answered before the kill: it must be there too.
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    finished.push(v["id"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    eprintln!(
        "store_crash: {KILLS} saves cut, {} answered before the kill",
        finished.len()
    );

    // The file is sound and holds every earlier snapshot, byte for byte.
    let store = Store::open(&data).expect("the store opens after the kills");
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let ids: Vec<String> = store.list().unwrap().into_iter().map(|m| m.id).collect();
    for (id, bytes) in &kept {
        assert!(ids.contains(id), "{id} lost");
        assert_eq!(&store.bytes(id).unwrap().unwrap(), bytes, "{id} changed");
        assert!(store.get(id).unwrap().is_some(), "{id} no longer decodes");
    }
    for id in &finished {
        assert!(ids.contains(id), "{id} was answered as saved but is lost");
    }
    // No row names torn bytes: every stored blob still hashes to its ID.
    for id in &ids {
        let b = store.bytes(id).unwrap().unwrap();
        assert_eq!(
            &dockmap::store::content_id(&b),
            id,
            "{id} holds other bytes"
        );
    }
    drop(store);
    // And a server started on it serves them as before.
    let server = Server::start(&args);
    let listed_ids: Vec<String> = listed(&c, &server.base)
        .await
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    for (id, bytes) in &kept {
        assert!(listed_ids.contains(id), "{id} not listed after restart");
        assert_eq!(
            &download(&c, &server.base, id).await,
            bytes,
            "{id} differs after restart"
        );
    }
}
