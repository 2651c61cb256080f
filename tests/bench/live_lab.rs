//! Latency of the live picture through agents, on the 3-node swarm lab:
//!
//!     sudo tests/swarm-lab.sh demo     # the lab with a dockmap agent in every node
//!     sudo cargo bench --bench live_lab
//!     sudo tests/swarm-lab.sh down
//!
//! A server in this process follows the lab's agents (`AppState::gathering_live`, as
//! `dockmap serve --agents`); the bench starts a container on node 2 (`docker run` against that
//! node's engine) and times until the container is in the server's picture, then removes it and
//! times until it is gone: p50 and p99 over DOCKMAP_BENCH_RUNS runs (default 20). The path is the
//! whole chain: engine event → the agent's collection → its change stream → the server's fetch
//! → the cluster graph.

#[path = "measure.rs"]
mod measure;

use std::process::Command;
use std::time::{Duration, Instant};

use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::web::AppState;
use measure::{ms, pct};

const TOKEN_FILE: &str = "/run/dockmap-lab/agent-token";
const NODES_FILE: &str = "/run/dockmap-lab/nodes";
/// Node 2's engine (tests/swarm-lab.sh node_sock).
const NODE2: &str = "unix:///run/docker-node2.sock";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("-H")
        .arg(NODE2)
        .args(args)
        .output()
        .expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn until(state: &AppState, suffix: &str, present: bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(cur) = state.current() {
            if cur
                .data
                .graph
                .elements
                .iter()
                .any(|e| e.id.starts_with("ctr:") && e.id.ends_with(suffix))
                == present
            {
                return Instant::now();
            }
        }
        assert!(Instant::now() < deadline, "{suffix} never {present}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("live_lab: run it with `cargo bench --bench live_lab` while `tests/swarm-lab.sh demo` is up");
        return;
    }
    let (Ok(token), Ok(nodes)) = (
        std::fs::read_to_string(TOKEN_FILE),
        std::fs::read_to_string(NODES_FILE),
    ) else {
        println!("live_lab: no swarm lab demo up (sudo tests/swarm-lab.sh demo), nothing measured");
        return;
    };
    let n: usize = nodes.trim().parse().unwrap_or(0);
    // The lab's addressing (tests/swarm-lab.sh node_addr): node I at 198.19.0.(10+I).
    let urls: Vec<String> = (1..=n)
        .map(|i| format!("http://198.19.0.{}:7879", 10 + i))
        .collect();
    let runs: usize = std::env::var("DOCKMAP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let gatherer = Gatherer::new(ClusterOptions {
            agents: AgentList::Urls(urls),
            deadline: Duration::from_secs(10),
            token: Some(token.trim().to_owned()),
            ..Default::default()
        })
        .expect("gatherer");
        let state = AppState::gathering_live(gatherer);
        let t0 = Instant::now();
        while state.current().is_none_or(|c| c.data.snapshots.len() != n) {
            assert!(t0.elapsed() < Duration::from_secs(60), "the lab's agents never all answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (mut shown, mut gone) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let name = format!("dmbench-lablive-{}-{i}", std::process::id());
            docker(&["run", "-d", "--name", &name, "--label", "dockmap-test", "dockmap-lab/busybox:latest", "sleep", "600"]);
            let t = Instant::now();
            shown.push(until(&state, &format!("/{name}"), true).await - t);
            docker(&["rm", "-f", &name]);
            let t = Instant::now();
            gone.push(until(&state, &format!("/{name}"), false).await - t);
        }
        println!(
            "live_lab: through node2's agent ({n} agents): docker run returned → container in the server's picture \
             p50 {}, p99 {}; docker rm returned → gone p50 {}, p99 {} ({runs} runs)",
            ms(pct(&mut shown, 0.5)),
            ms(pct(&mut shown, 0.99)),
            ms(pct(&mut gone, 0.5)),
            ms(pct(&mut gone, 0.99)),
        );
    });
}
