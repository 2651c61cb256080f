//! What uploads cost in memory (`cargo bench --profile dev --bench upload_rss [-- MiB N BIN…]`):
//! the real `dockmap serve` gets one upload of about MiB (default 60) mebibytes, then, started
//! afresh, N (default 20) such uploads at once; each distinct (a small node first), all sent
//! from one buffer over raw HTTP/1.1. Prints the server's resident memory at rest and its peak
//! (VmHWM) for one and for N, per binary: this build's, and any other binaries named (e.g. one
//! built from an earlier commit) side by side (`UPLOAD_RSS_OTHERS_ONLY=1`: only those).
//! Asserts nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(bin: &str, dir: &std::path::Path, open: &std::path::Path) -> Server {
        let data = dir.join(format!("data-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--upload-limit",
                "128MiB",
            ])
            .arg("--open")
            .arg(open)
            .arg("--data-dir")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let err = BufReader::new(child.stderr.take().unwrap());
        let mut port = 0;
        for line in err.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on http://").nth(1) {
                port = rest
                    .trim()
                    .trim_end_matches('/')
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                break;
            }
        }
        assert!(port != 0, "the server did not start");
        Server { child, port }
    }

    /// (VmRSS, VmHWM) in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (kib("VmRSS:"), kib("VmHWM:"))
    }
}

fn node(name: &str, containers: usize, hosts: usize) -> Vec<NodeSnapshot> {
    let mut v = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    for (i, s) in v.iter_mut().enumerate() {
        s.node.hostname = format!("{name}-{i}");
        s.taken_at = "2026-03-01T00:00:00Z".into();
    }
    v
}

/// The inside of a JSON array of node snapshots of about `mib` MiB (without its brackets).
fn big_array_inside(mib: usize) -> Vec<u8> {
    let probe = serde_json::to_vec(&node("big", 1000, 10)).unwrap();
    let per = probe.len() as f64 / 1000.0;
    let want = (mib as f64 * 1024.0 * 1024.0 / per) as usize;
    let v = serde_json::to_vec(&node("big", want.max(10), 10)).unwrap();
    v[1..v.len() - 1].to_vec()
}

async fn upload(port: u16, i: usize, big: Arc<Vec<u8>>) -> u16 {
    let small = serde_json::to_vec(&node(&format!("small{i}"), 1, 1)[0]).unwrap();
    let len = 1 + small.len() + 1 + big.len() + 1;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/snapshots/upload?label=bench{i} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(b"[").await.unwrap();
    s.write_all(&small).await.unwrap();
    s.write_all(b",").await.unwrap();
    // The server may answer early (a refusal) and close: then the rest is not sent.
    if s.write_all(&big).await.is_ok() {
        let _ = s.write_all(b"]").await;
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp).await;
    String::from_utf8_lossy(&resp)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

async fn uploads(port: u16, n: usize, big: &Arc<Vec<u8>>) -> (Vec<u16>, Duration) {
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(upload(port, i, big.clone())))
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    (codes, t.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    // UPLOAD_RSS_OTHERS_ONLY=1: only the binaries named.
    let mut bins = Vec::new();
    if std::env::var_os("UPLOAD_RSS_OTHERS_ONLY").is_none() {
        bins.push(env!("CARGO_BIN_EXE_dockmap").to_owned());
    }
    bins.extend(args.iter().skip(2).cloned());
    let dir = tempfile::Builder::new()
        .prefix("dmt-bench-upload-")
        .tempdir()
        .unwrap();
    let open = dir.path().join("small.json");
    std::fs::write(&open, serde_json::to_vec(&node("open", 2, 1)).unwrap()).unwrap();
    let big = Arc::new(big_array_inside(mib));
    println!(
        "upload body: {:.1} MiB; {n} at once",
        big.len() as f64 / 1048576.0
    );
    for bin in &bins {
        println!("{bin}");
        let s = Server::start(bin, dir.path(), &open);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rest, _) = s.memory();
        let (codes, took) = uploads(s.port, 1, &big).await;
        let (_, one) = s.memory();
        println!(
            "  at rest {rest:.0} MiB; one upload: peak {one:.0} MiB (+{:.0}), {:.1} s, status {codes:?}",
            one - rest,
            took.as_secs_f64()
        );
        drop(s);
        let s = Server::start(bin, dir.path(), &open);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rest_n, _) = s.memory();
        let (codes, took) = uploads(s.port, n, &big).await;
        let (_, peak) = s.memory();
        println!(
            "  {n} at once: peak {peak:.0} MiB (+{:.0}), {:.1} s, {:.2}× one upload's growth; statuses {codes:?}",
            peak - rest_n,
            took.as_secs_f64(),
            (peak - rest_n) / (one - rest).max(1.0)
        );
    }
}
