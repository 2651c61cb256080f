//! The store under faults, with the real `dockmap serve`: the data directory's file system
//! full in the middle of a save (a small tmpfs this test mounts and removes), and a damaged
//! SQLite file (the server starts, says so, serves the live picture, leaves the file alone).

use crate::support::netlab;
use crate::support::store as support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dockmap::store::{Kind, Store};
use support::{client, download, listed, synthetic, wait_ready, write_atomically, Server};

/// A tmpfs of `size` mounted on `dir` for the test; unmounted on drop, also when it fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        netlab::run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
                dir.to_str().unwrap(),
            ],
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let p = self.0.to_str().unwrap_or_default();
        let ok = std::process::Command::new("umount")
            .arg(p)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("umount")
                .args(["-l", p])
                .status();
        }
    }
}

/// Fill the file system under `dir` to the last byte with one file; its path.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0x5au8; 16 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0x5au8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    p
}

async fn status(c: &reqwest::Client, base: &str) -> serde_json::Value {
    c.get(format!("{base}/api/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_during_a_save_says_so_keeps_the_store_and_the_next_save_works() {
    if !netlab::require_root() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("dmt-door-full-")
        .tempdir()
        .unwrap();
    let mnt = dir.path().join("mnt");
    let _fs = Tmpfs::mount(&mnt, "6m");
    let data = mnt.join("data");
    let open = dir.path().join("open.json");
    write_atomically(
        &open,
        &serde_json::to_vec(&synthetic(1, 3, "2026-06-01T00:00:00Z")).unwrap(),
    );
    let (data_s, open_s) = (
        data.to_str().unwrap().to_owned(),
        open.to_str().unwrap().to_owned(),
    );
    let server = Server::start(&["--data-dir", &data_s, "--open", &open_s]);
    let c = client();
    wait_ready(&c, &server.base).await;
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_bytes = download(&c, &server.base, &a).await;

    // A bigger state to save, and no room left for it.
    write_atomically(
        &open,
        &serde_json::to_vec(&synthetic(2, 400, "2026-06-02T00:00:00Z")).unwrap(),
    );
    let g = status(&c, &server.base).await["generation"]
        .as_u64()
        .unwrap();
    c.post(format!("{}/api/refresh", server.base))
        .send()
        .await
        .unwrap();
    for _ in 0..300 {
        let s = status(&c, &server.base).await;
        if s["generation"].as_u64().unwrap() > g && s["state"] == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let filler = fill(&mnt);
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 507);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["reason"], "disk-full", "{j}");
    assert!(j["error"].as_str().unwrap().contains("full"), "{j}");
    // The store is as it was: the first snapshot listed and byte for byte the same.
    assert_eq!(
        listed(&c, &server.base).await,
        vec![(a.clone(), "manual".to_owned())]
    );
    assert_eq!(download(&c, &server.base, &a).await, a_bytes);

    // Room again: the same save goes through, and the file is sound.
    std::fs::remove_file(&filler).unwrap();
    let r = c
        .post(format!("{}/api/snapshots", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert_eq!(listed(&c, &server.base).await.len(), 2);
    let store = Store::open(&data).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    drop(store);
    drop(server);
}

/// A store with two snapshots, closed; the path of its file.
fn a_store(data: &Path) -> PathBuf {
    let s = Store::open(data).unwrap();
    for (i, t) in ["2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z"]
        .iter()
        .enumerate()
    {
        let c = dockmap::snapshot::ClusterSnapshot::of_nodes(synthetic(1, 20 + i, t), "file");
        s.save(c, Kind::Manual, "").unwrap();
    }
    let p = s.path().to_owned();
    drop(s);
    p
}

#[tokio::test]
async fn a_damaged_store_is_named_left_alone_and_the_live_picture_is_served() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-door-corrupt-")
        .tempdir()
        .unwrap();
    let open = dir.path().join("open.json");
    write_atomically(
        &open,
        &serde_json::to_vec(&synthetic(1, 3, "2026-07-03T00:00:00Z")).unwrap(),
    );
    // Two ways: garbage over the header (no database at all), and zeros over every page but
    // the first (the header and the schema read fine, the tables do not).
    for how in ["header", "pages"] {
        let data = dir.path().join(format!("data-{how}"));
        let file = a_store(&data);
        let mut bytes = std::fs::read(&file).unwrap();
        assert!(bytes.len() > 8192, "the store spans pages");
        match how {
            "header" => bytes[..100].copy_from_slice(&[0xa5; 100]),
            _ => {
                let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
                bytes[page..].fill(0);
            }
        }
        std::fs::write(&file, &bytes).unwrap();
        let (data_s, open_s) = (
            data.to_str().unwrap().to_owned(),
            open.to_str().unwrap().to_owned(),
        );
        let server = Server::start(&["--data-dir", &data_s, "--open", &open_s]);
        let said = server.said.join("\n");
        assert!(
            said.contains("damaged") && said.contains("live picture is served"),
            "{how}: {said}"
        );
        let c = client();
        wait_ready(&c, &server.base).await;
        for path in ["/", "/api/graph", "/scene.svg"] {
            let r = c
                .get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{how}: {path}");
        }
        // Saving is off, not failing half-way, and says why to whoever tries (the page's Save
        // shows the error); the file is as it was.
        for (method, path) in [
            ("POST", "/api/snapshots"),
            ("GET", "/api/snapshots"),
            ("GET", "/snapshots"),
        ] {
            let r = c
                .request(method.parse().unwrap(), format!("{}{path}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 503, "{how}: {method} {path}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["reason"], "store-off", "{how}: {body}");
            let error = body["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with("saving is off: ")
                    && error.contains("damaged")
                    && error.contains("moved aside"),
                "{how}: {error}"
            );
        }
        drop(server);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            bytes,
            "{how}: the damaged file was changed"
        );
    }
}
