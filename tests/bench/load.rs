//! `dockmap serve` under load: 100 concurrent clients on the page, the drawing, the graph, search,
//! paths and the HTML export of a 500-container cluster, while collections run.
//!
//!     cargo bench --bench load
//!
//! No root needed; every byte goes over loopback. Two runs, one after the other:
//! 1. five `dockmap agent --serve-file` processes serve the five nodes of a synthetic
//!    500-container swarm; `dockmap serve --agents` gathers them, with `--snapshot-every 10s`
//!    (a scheduled collection and save) and a client that asks for a refresh (a new gather of
//!    every agent, a new generation) every 2 s;
//! 2. the same 500 containers over ten nodes, nine served, and one agent frozen: it accepts the
//!    connection and never answers (its node goes unreachable at the deadline, every time).
//!
//! Each client sends `GET` requests round-robin over `/`, `/scene.svg`, `/api/graph`,
//! `/api/search`, `/api/path` and `/export.html` over its own keep-alive connection until the run
//! ends. Reported per run: requests per second, p50 and p99 latency (overall and per route),
//! errors (any status but 200, any transport error: there must be none) and the server's peak
//! resident memory (VmHWM).
//!
//! Settings, from the environment:
//! - DOCKMAP_BENCH_SECONDS: length of each run (default 60);
//! - DOCKMAP_BENCH_CLIENTS: concurrent clients (default 100);
//! - DOCKMAP_BENCH_CONTAINERS: containers in the swarm (default 500).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it only says how to run it.

#[path = "../support/agents.rs"]
mod agents;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents::{free_port, write_node, FileAgent, BIN};
use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions};

const TOKEN: &str = "dockmap-bench-load-token";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("load: run it with `cargo bench --bench load` (no root needed)");
        return;
    }
    let seconds = env_usize("DOCKMAP_BENCH_SECONDS", 60).max(1) as u64;
    let clients = env_usize("DOCKMAP_BENCH_CLIENTS", 100).max(1);
    let containers = env_usize("DOCKMAP_BENCH_CONTAINERS", 500).max(1);
    let dir = TempDir::new();
    let token_file = dir.0.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write the token file");
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    println!(
        "load: {clients} clients for {seconds} s per run, {containers} containers, GET / /scene.svg \
         /api/graph /api/search /api/path /export.html round-robin; refresh every 2 s, \
         --snapshot-every 10s"
    );
    for (hosts, frozen, title) in [(5, false, "5 agents"), (10, true, "10 agents, one frozen")] {
        let snaps = snapshots(&SyntheticOptions {
            hosts,
            containers,
            hostile_names: false,
        });
        let run = Run::start(&dir.0, &token_file, &snaps, frozen, title);
        let report = rt.block_on(run.load(&snaps, clients, Duration::from_secs(seconds)));
        report.print(title, run.server.peak_kb());
        drop(run);
    }
}

/// The agents, the frozen one, and the server of one run; all stopped on drop.
struct Run {
    _agents: Vec<FileAgent>,
    _frozen: Option<Frozen>,
    server: Server,
    base: String,
}

impl Run {
    fn start(
        dir: &Path,
        token_file: &Path,
        snaps: &[NodeSnapshot],
        frozen: bool,
        title: &str,
    ) -> Run {
        let tag = title.split(' ').next().unwrap_or("run");
        let served = if frozen { snaps.len() - 1 } else { snaps.len() };
        let mut agents = Vec::new();
        for (i, snap) in snaps.iter().take(served).enumerate() {
            let name = format!("r{tag}-{i}");
            let file = write_node(dir, &name, snap);
            agents.push(FileAgent::start(
                &file,
                token_file,
                &dir.join(format!("{name}.log")),
            ));
        }
        let mut urls: Vec<String> = agents.iter().map(|a| a.url.clone()).collect();
        let frozen = frozen.then(Frozen::start);
        if let Some(f) = &frozen {
            urls.push(f.url.clone());
        }
        let data = dir.join(format!("data-{tag}"));
        std::fs::create_dir_all(&data).expect("a data directory");
        let server = Server::start(
            &urls.join(","),
            token_file,
            &data,
            &dir.join(format!("serve-{tag}.log")),
        );
        let base = server.base.clone();
        Run {
            _agents: agents,
            _frozen: frozen,
            server,
            base,
        }
    }

    /// Wait for the first gather, then load the server for `length`.
    async fn load(&self, snaps: &[NodeSnapshot], clients: usize, length: Duration) -> Report {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(clients)
            .timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client");
        self.wait_ready(&http).await;
        let routes = Arc::new(routes(snaps));
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = {
            let (http, base, stop) = (http.clone(), self.base.clone(), stop.clone());
            tokio::spawn(async move {
                let mut refreshes = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = http.post(format!("{base}/api/refresh")).send().await {
                        refreshes += usize::from(r.status() == 202);
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                refreshes
            })
        };
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (http, base, routes, stop) = (
                    http.clone(),
                    self.base.clone(),
                    routes.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let mut seen: Vec<Vec<Duration>> = vec![Vec::new(); routes.len()];
                    let mut errors: Vec<String> = Vec::new();
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        let k = i % routes.len();
                        i += 1;
                        let t = Instant::now();
                        match http.get(format!("{base}{}", routes[k].1)).send().await {
                            Ok(r) if r.status() == 200 => match r.bytes().await {
                                Ok(_) => seen[k].push(t.elapsed()),
                                Err(e) => errors.push(format!("{}: body: {e}", routes[k].0)),
                            },
                            Ok(r) => errors.push(format!("{}: HTTP {}", routes[k].0, r.status())),
                            Err(e) => errors.push(format!("{}: {e}", routes[k].0)),
                        }
                    }
                    (seen, errors)
                })
            })
            .collect();
        tokio::time::sleep(length).await;
        stop.store(true, Ordering::Relaxed);
        let mut report = Report {
            routes: routes.iter().map(|r| (r.0, Vec::new())).collect(),
            errors: Vec::new(),
            elapsed: Duration::ZERO,
            refreshes: 0,
            generation: 0,
        };
        for t in tasks {
            let (seen, errors) = t.await.expect("a client task");
            for (k, s) in seen.into_iter().enumerate() {
                report.routes[k].1.extend(s);
            }
            report.errors.extend(errors);
        }
        report.elapsed = started.elapsed();
        report.refreshes = refresher.await.unwrap_or(0);
        report.generation = self.status(&http).await["generation"].as_u64().unwrap_or(0);
        report
    }

    async fn status(&self, http: &reqwest::Client) -> serde_json::Value {
        match http.get(format!("{}/api/status", self.base)).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.status(http).await;
            if s["state"] == "ready" && s["elements"].as_u64().unwrap_or(0) > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server never became ready: {s}\n{}",
                self.server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The six routes, each with a question that has an answer in these snapshots.
fn routes(snaps: &[NodeSnapshot]) -> Vec<(&'static str, String)> {
    let containers = || {
        snaps
            .iter()
            .flat_map(|s| s.engine.iter().flat_map(|e| &e.containers))
    };
    let name = containers()
        .next()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let port = containers()
        .find_map(|c| c.ports.iter().find_map(|p| p.host_port))
        .unwrap_or(80);
    let q: String = url_encode(&name[..name.len().min(6)]);
    vec![
        ("/", "/".to_owned()),
        ("/scene.svg", "/scene.svg".to_owned()),
        ("/api/graph", "/api/graph".to_owned()),
        ("/api/search", format!("/api/search?q={q}")),
        ("/api/path", format!("/api/path?port={port}&protocol=tcp")),
        ("/export.html", "/export.html".to_owned()),
    ]
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What one run measured.
struct Report {
    routes: Vec<(&'static str, Vec<Duration>)>,
    errors: Vec<String>,
    elapsed: Duration,
    refreshes: usize,
    generation: u64,
}

impl Report {
    fn print(&self, title: &str, peak_kb: u64) {
        let all: Vec<Duration> = self
            .routes
            .iter()
            .flat_map(|r| r.1.iter().copied())
            .collect();
        let secs = self.elapsed.as_secs_f64();
        println!(
            "\n{title}: {} requests in {secs:.1} s = {:.0} req/s; p50 {:.1} ms, p99 {:.1} ms; \
             {} errors; server peak RSS {} MB; {} refreshes started, generation {} at the end",
            all.len(),
            all.len() as f64 / secs,
            ms(pct(&all, 50.0)),
            ms(pct(&all, 99.0)),
            self.errors.len(),
            peak_kb / 1024,
            self.refreshes,
            self.generation
        );
        println!(
            "{:>14} {:>9} {:>9} {:>9}",
            "route", "requests", "p50 ms", "p99 ms"
        );
        for (route, d) in &self.routes {
            println!(
                "{route:>14} {:>9} {:>9.1} {:>9.1}",
                d.len(),
                ms(pct(d, 50.0)),
                ms(pct(d, 99.0))
            );
        }
        let mut kinds: Vec<&String> = self.errors.iter().collect();
        kinds.sort();
        kinds.dedup();
        for e in kinds.iter().take(10) {
            println!("  error: {e}");
        }
    }
}

fn pct(d: &[Duration], p: f64) -> Duration {
    if d.is_empty() {
        return Duration::ZERO;
    }
    let mut v = d.to_vec();
    v.sort();
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `dockmap serve --agents` on a free loopback port; killed on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(agents: &str, token_file: &Path, data: &Path, log: &Path) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let out = std::fs::File::create(log).expect("create the server's log");
        let child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &listen,
                "--agents",
                agents,
                "--token-file",
            ])
            .arg(token_file)
            .args(["--deadline", "5", "--snapshot-every", "10s", "--data-dir"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log's handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {BIN} serve: {e}"));
        Server {
            child,
            base: format!("http://{listen}"),
            log: log.to_owned(),
        }
    }

    /// The server's peak resident memory so far, in KiB (VmHWM).
    fn peak_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent that accepts connections and never answers; its sockets close on drop.
struct Frozen {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Frozen {
    fn start() -> Frozen {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => held.push(sock),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Frozen {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("dockmap-bench-load-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("a temporary directory");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
