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
use measure::{cpu_seconds, ms, pct, rss_mib, rss_mib_of};

const TOKEN_FILE: &str = "/run/dockmap-lab/agent-token";
const NODES_FILE: &str = "/run/dockmap-lab/nodes";
/// Node 2's engine (tests/swarm-lab.sh node_sock).
const NODE2: &str = "unix:///run/docker-node2.sock";
/// Node 2's agent (tests/swarm-lab.sh start_agent).
const AGENT2_PID: &str = "/run/dockmap-lab/agent-node2.pid";

/// CPU seconds process `pid` used so far (utime + stime of /proc/PID/stat).
fn cpu_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15 of the line: 12th and 13th after the ')' (the
    // state letter does not parse as a number, so 11 and 12 here).
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    match (f.get(10), f.get(11)) {
        (Some(u), Some(s)) => (u + s) / ticks,
        _ => 0.0,
    }
}

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
        let churn: u64 = std::env::var("DOCKMAP_BENCH_CHURN").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
        let agent = std::fs::read_to_string(AGENT2_PID).unwrap_or_default().trim().to_owned();
        let (agent_cpu0, cpu0) = (cpu_of(&agent), cpu_seconds());
        let mut minutes: Vec<String> = vec![format!("{:.0}/{:.0}", rss_mib_of(&agent), rss_mib())];
        let started = Instant::now();
        let mut previous: Option<String> = None;
        for i in 0..churn {
            let name = format!("dmbench-labchurn-{}-{i}", std::process::id());
            docker(&["run", "-d", "--name", &name, "--label", "dockmap-test", "dockmap-lab/busybox:latest", "sleep", "600"]);
            if let Some(old) = previous.replace(name) {
                docker(&["rm", "-f", &old]);
            }
            if i % 60 == 59 {
                minutes.push(format!("{:.0}/{:.0}", rss_mib_of(&agent), rss_mib()));
            }
            let next = started + Duration::from_secs(i + 1);
            tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
        }
        if let Some(old) = previous {
            docker(&["rm", "-f", &old]);
        }
        let took = started.elapsed().as_secs_f64();
        if churn > 0 {
            println!(
                "live_lab: churn on node2 for {churn} s (one container in, one out, per second): node2's agent {:.2} s CPU \
                 per second of churn, the server {:.2}; resident memory agent/server (MiB) at the start and each minute: {}",
                (cpu_of(&agent) - agent_cpu0) / took,
                (cpu_seconds() - cpu0) / took,
                minutes.join(", ")
            );
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
