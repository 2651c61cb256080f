//! The real `dockmap serve` as a child process on a data directory, for the store's tests.
//!
//! The child listens on 127.0.0.1:0 and says where on stderr; dropping the guard kills it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions};

/// A running `dockmap serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// Everything it wrote on stderr so far is sent here, line by line.
    pub stderr: mpsc::Receiver<String>,
    /// What it said before it listened (up to the "serving on" line).
    pub said: Vec<String>,
}

impl Server {
    /// Start `dockmap serve --listen 127.0.0.1:0` with these further arguments; wait until it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dockmap"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dockmap serve");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("  [serve] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            stderr: rx,
            said: Vec::new(),
        };
        loop {
            match server.stderr.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    server.said.push(line.clone());
                    if let Some(rest) = line.split("serving on ").nth(1) {
                        server.base = rest.trim().trim_end_matches('/').to_owned();
                        return server;
                    }
                }
                Err(e) => panic!("dockmap serve did not start listening: {e}"),
            }
        }
    }

    /// Kill it with SIGKILL (no chance to clean up) and reap it.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client that never goes through a proxy (everything here is on loopback).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("http client")
}

/// Synthetic node snapshots of `containers` containers over `hosts` hosts, all taken at `taken_at`.
pub fn synthetic(hosts: usize, containers: usize, taken_at: &str) -> Vec<NodeSnapshot> {
    let mut v = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    for s in &mut v {
        s.taken_at = taken_at.into();
    }
    v
}

/// Write JSON to `path` whole (a reader sees the old file or the new one, never half).
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp: PathBuf = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// Wait until the server has something to show.
pub async fn wait_ready(c: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        let s: serde_json::Value = c
            .get(format!("{base}/api/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status JSON");
        if s["state"] == "ready" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never became ready");
}

/// The IDs listed by `GET /api/snapshots`, with their kinds.
pub async fn listed(c: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = c
        .get(format!("{base}/api/snapshots"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list JSON");
    v["snapshots"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The bytes `GET /api/snapshots/{id}` sends.
pub async fn download(c: &reqwest::Client, base: &str, id: &str) -> Vec<u8> {
    let r = c
        .get(format!("{base}/api/snapshots/{id}"))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200, "download {id}");
    r.bytes().await.expect("body").to_vec()
}
