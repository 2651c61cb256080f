//! What gathering a cluster costs, and how it grows from 3 to 10 nodes.
//!
//!     cargo bench --bench cluster
//!
//! No root needed. For each cluster size N (3 and 10, side by side in one run) it writes N node
//! snapshots of the same size (a synthetic swarm from `dockmap::synthetic`, ~50 containers per
//! node), starts N real `dockmap agent --serve-file` processes on 127.0.0.1 with a bearer token,
//! and times, median of several runs, interleaved so both sizes meet the same machine noise:
//! - gather: `Gatherer::gather`, which fetches every agent in parallel over HTTP, parses each
//!   node's JSON and merges them into one `ClusterSnapshot`;
//! - build: `build_cluster`, the cross-node graph (tunnels, tasks, findings) of that snapshot;
//!
//! and prints both, their sum and the 10/3 ratio of each.
//!
//! When the swarm lab's demo is up (`sudo tests/swarm-lab.sh demo`; the bench then needs root to
//! read its token), it also times the live cluster from this namespace: the lab's real agents,
//! each collecting its node anew (the bench waits out their 2 s cache between runs).
//!
//! Settings, from the environment:
//! - DOCKMAP_BENCH_RUNS: timed runs of each size (default 9; the median is reported);
//! - DOCKMAP_BENCH_PER_NODE: containers per node (default 50).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it only says how to run it.

#[path = "../support/agents.rs"]
mod agents;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agents::{write_node, FileAgent};

use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::graph::{build_cluster, ElementKind};
use dockmap::snapshot::NodeState;
use dockmap::synthetic::{snapshots, SyntheticOptions};

const SIZES: [usize; 2] = [3, 10];
const TOKEN: &str = "dockmap-bench-cluster-token";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cluster: run it with `cargo bench --bench cluster` (no root needed)");
        return;
    }
    let runs = env_usize("DOCKMAP_BENCH_RUNS", 9).max(1);
    let per_node = env_usize("DOCKMAP_BENCH_PER_NODE", 50).max(1);
    let dir = TempDir::new();
    let token_file = dir.0.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write the token file");

    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    // Every port held at once while choosing, so no two agents are given the same one.
    let mut ports = free_ports(SIZES.iter().sum()).into_iter();
    let mut clusters: Vec<Cluster> = SIZES
        .iter()
        .map(|&n| {
            let ports = ports.by_ref().take(n).collect();
            Cluster::start(n, per_node, ports, &dir.0, &token_file)
        })
        .collect();
    for c in &clusters {
        rt.block_on(c.wait_healthy());
    }
    // One untimed round: connections, page cache and allocator warm for both sizes alike.
    for c in &mut clusters {
        c.round(&rt, false);
    }
    for _ in 0..runs {
        for c in &mut clusters {
            c.round(&rt, true);
        }
    }

    println!(
        "cluster: N loopback agents (`dockmap agent --serve-file`, bearer token) serving synthetic \
         nodes of {per_node} containers each; median of {runs} runs"
    );
    println!(
        "{:>3} {:>10} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "N", "KB/node", "elements", "gather ms", "build ms", "total ms", "ms/node"
    );
    let mut rows = Vec::new();
    for c in &clusters {
        let (g, b) = (median(&c.gather), median(&c.build));
        let total = g + b;
        println!(
            "{:>3} {:>10} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.2}",
            c.n,
            c.bytes_per_node / 1024,
            c.elements,
            ms(g),
            ms(b),
            ms(total),
            ms(total) / c.n as f64
        );
        rows.push((g, b, total));
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let (small, large) = (rows[0], rows[1]);
    println!(
        "ratio {}/{}: gather {:.2}x, build {:.2}x, total {:.2}x (nodes {:.2}x)",
        SIZES[1],
        SIZES[0],
        ratio(large.0, small.0),
        ratio(large.1, small.1),
        ratio(large.2, small.2),
        SIZES[1] as f64 / SIZES[0] as f64
    );
    drop(clusters);
    if let Some(live) = LiveLab::find() {
        live.measure(&rt, runs.min(5));
    } else {
        println!(
            "(no swarm lab demo up: `sudo tests/swarm-lab.sh demo` adds the live 3-node figures)"
        );
    }
}

/// N agents serving one synthetic swarm, and what was measured against them.
struct Cluster {
    n: usize,
    agents: Vec<FileAgent>,
    gatherer: Gatherer,
    bytes_per_node: usize,
    elements: usize,
    gather: Vec<Duration>,
    build: Vec<Duration>,
}

impl Cluster {
    fn start(n: usize, per_node: usize, ports: Vec<u16>, dir: &Path, token_file: &Path) -> Cluster {
        let snaps = snapshots(&SyntheticOptions {
            hosts: n,
            containers: n * per_node,
            hostile_names: false,
        });
        let mut agents = Vec::new();
        let mut bytes = 0;
        for (snap, port) in snaps.iter().zip(ports) {
            let name = format!("n{n}-{}", snap.node.hostname);
            let file = write_node(dir, &name, snap);
            bytes += std::fs::metadata(&file).map_or(0, |m| m.len() as usize);
            let log = dir.join(format!("{name}.log"));
            agents.push(FileAgent::start_on(port, &file, token_file, &log));
        }
        let urls = agents.iter().map(|a| a.url.clone()).collect();
        let gatherer = Gatherer::new(ClusterOptions {
            agents: AgentList::Urls(urls),
            deadline: Duration::from_secs(30),
            token: Some(TOKEN.into()),
            ..Default::default()
        })
        .expect("a gatherer");
        Cluster {
            n,
            agents,
            gatherer,
            bytes_per_node: bytes / n,
            elements: 0,
            gather: Vec::new(),
            build: Vec::new(),
        }
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = self.gatherer.gather().await;
            if c.nodes.iter().all(|n| n.state == NodeState::Fresh) {
                return;
            }
            let logs: Vec<String> = self.agents.iter().map(FileAgent::log_text).collect();
            assert!(
                Instant::now() < deadline,
                "the {} agents never all answered: {:?}\n{}",
                self.n,
                c.nodes
                    .iter()
                    .map(|n| (&n.name, n.state, &n.error))
                    .collect::<Vec<_>>(),
                logs.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One gather and graph build; checks that every node came and was drawn.
    fn round(&mut self, rt: &tokio::runtime::Runtime, record: bool) {
        let t0 = Instant::now();
        let cluster = rt.block_on(self.gatherer.gather());
        let t1 = Instant::now();
        let graph = build_cluster(&cluster);
        let t2 = Instant::now();
        let fresh = cluster
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Fresh)
            .count();
        assert_eq!(fresh, self.n, "every agent answered");
        let hosts = graph
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Host)
            .count();
        assert_eq!(hosts, self.n, "every node is in the graph");
        self.elements = graph.elements.len();
        if record {
            self.gather.push(t1 - t0);
            self.build.push(t2 - t1);
        }
    }
}

/// The swarm lab's demo agents, when a demo is up.
struct LiveLab {
    urls: Vec<String>,
    token: String,
}

impl LiveLab {
    const TOKEN_FILE: &str = "/run/dockmap-lab/agent-token";
    const NODES_FILE: &str = "/run/dockmap-lab/nodes";
    /// The agents' snapshot cache lives 2 s; waiting longer makes each answer a fresh collection.
    const CACHE_EXPIRED: Duration = Duration::from_millis(2100);

    fn find() -> Option<LiveLab> {
        let token = std::fs::read_to_string(Self::TOKEN_FILE).ok()?;
        let n: usize = std::fs::read_to_string(Self::NODES_FILE)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // The lab's addressing (tests/swarm-lab.sh node_addr): node I at 198.19.0.(10+I).
        let urls = (1..=n)
            .map(|i| format!("http://198.19.0.{}:7879", 10 + i))
            .collect();
        Some(LiveLab {
            urls,
            token: token.trim().to_string(),
        })
    }

    fn measure(&self, rt: &tokio::runtime::Runtime, runs: usize) {
        let n = self.urls.len();
        let gatherer = Gatherer::new(ClusterOptions {
            agents: AgentList::Urls(self.urls.clone()),
            deadline: Duration::from_secs(30),
            token: Some(self.token.clone()),
            ..Default::default()
        })
        .expect("a gatherer");
        let (mut fresh, mut cached, mut build) = (Vec::new(), Vec::new(), Vec::new());
        let mut elements = 0;
        for _ in 0..runs {
            std::thread::sleep(Self::CACHE_EXPIRED);
            let t0 = Instant::now();
            let cluster = rt.block_on(gatherer.gather());
            let t1 = Instant::now();
            let graph = build_cluster(&cluster);
            build.push(t1.elapsed());
            fresh.push(t1 - t0);
            let states: Vec<NodeState> = cluster.nodes.iter().map(|c| c.state).collect();
            assert!(
                states.iter().all(|s| *s == NodeState::Fresh) && states.len() == n,
                "the lab's agents did not all answer: {:?}",
                cluster
                    .nodes
                    .iter()
                    .map(|c| (&c.name, c.state, &c.error))
                    .collect::<Vec<_>>()
            );
            elements = graph.elements.len();
            let t0 = Instant::now();
            rt.block_on(gatherer.gather());
            cached.push(t0.elapsed());
        }
        println!(
            "live swarm lab, {n} agents in the nodes' namespaces, median of {runs}: gather {:.1} ms \
             with every agent collecting anew, {:.1} ms answered from their 2 s cache; build {:.1} ms; \
             {elements} elements",
            ms(median(&fresh)),
            ms(median(&cached)),
            ms(median(&build))
        );
    }
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("dmbench-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create the bench's temporary directory");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` distinct ports free on 127.0.0.1 right now (the agents bind them a moment later).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("a bound address").port())
        .collect()
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
