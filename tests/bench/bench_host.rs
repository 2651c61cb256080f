//! The bench host: N running busybox containers, most of them on one user-defined network.
//!
//! Shared by the benches that time collection on a real engine (`snapshot_vs_script`,
//! `agent_cpu`). Containers on a user-defined network each hold Docker's embedded-DNS NAT rules,
//! so the firewall reader has a namespace with rules per container, as on the hosts of issue 10.
//! Use with `#[path = "bench_host.rs"] mod bench_host;` next to `mod engine;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::engine;

/// The label on every container and network a bench makes.
pub const LABEL: &str = "dockmap-bench";
/// The user bridges: most containers on the first.
pub const NETWORKS: [&str; 2] = ["dmbench-a", "dmbench-b"];
/// More than this does not fit the default bridge's and the networks' /24s.
pub const MAX_CONTAINERS: usize = 350;

/// Creates what is missing of `n` running bench containers and the two user bridges.
pub fn ensure_containers(n: usize) {
    assert!(
        n <= MAX_CONTAINERS,
        "at most {MAX_CONTAINERS} containers (each network is a /24)"
    );
    for name in NETWORKS {
        if engine::try_docker(&["network", "inspect", "--format", "{{.Id}}", name]).is_err() {
            engine::docker(&["network", "create", "--label", LABEL, name]);
        }
    }
    let filter = format!("label={LABEL}");
    let listed = engine::docker(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.State}}",
    ]);
    let state: BTreeMap<String, String> = listed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| (n.to_owned(), s.to_owned()))
        .collect();
    let todo: Vec<usize> = (0..n)
        .filter(|i| state.get(&name(*i)).map(String::as_str) != Some("running"))
        .collect();
    if todo.is_empty() {
        return;
    }
    println!("starting {} bench containers...", todo.len());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { return };
                start(i);
            });
        }
    });
}

fn name(i: usize) -> String {
    format!("dmbench-{i}")
}

/// Container `i`: 80 % on the first user bridge, 10 % on the second, 10 % on the default
/// bridge (no rules in their namespaces), every 25th with a published port.
fn start(i: usize) {
    let name = name(i);
    let _ = engine::try_docker(&["rm", "-f", &name]);
    let mut args = vec!["run", "-d", "--name", &name, "--label", LABEL];
    match i % 10 {
        8 => args.extend(["--network", NETWORKS[1]]),
        9 => {}
        _ => args.extend(["--network", NETWORKS[0]]),
    }
    if i % 25 == 2 {
        args.extend(["-p", "127.0.0.1::80/tcp"]);
    }
    args.extend([engine::IMAGE, "sleep", "86400"]);
    engine::docker(&args);
}

/// Removes every bench container and network.
pub fn remove_all() {
    let filter = format!("label={LABEL}");
    let ids = engine::docker(&["ps", "-aq", "--filter", &filter]);
    let ids: Vec<&str> = ids.lines().collect();
    for chunk in ids.chunks(50) {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend_from_slice(chunk);
        let _ = engine::try_docker(&args);
    }
    for name in NETWORKS {
        let _ = engine::try_docker(&["network", "rm", name]);
    }
    println!("removed {} bench containers", ids.len());
}

/// A number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not '{v}'")),
        Err(_) => default,
    }
}

/// The numbers of a snapshot's node-wide firewall line ("firewall: read N namespaces: A read
/// with tools (B tool runs), C unchanged since read (cached rules), D without tables"):
/// [namespaces, read with tools, tool runs, cached, empty].
pub fn firewall_counts(snapshot: &serde_json::Value) -> Option<[usize; 5]> {
    let line = snapshot["sources"]
        .as_array()?
        .iter()
        .find(|s| s["source"] == "iptables" && s.get("namespace").is_none_or(|n| n.is_null()))?;
    let (_, read) = line["message"].as_str()?.split_once("firewall: read ")?;
    let numbers: Vec<usize> = read
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers.try_into().ok()
}

/// Stop unless run as a bench (`--bench`), as root, with the test engine up and its image built.
/// False: only say how to run it (under `cargo test --all-targets`).
pub fn ready(name: &str) -> bool {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "{name}: run it with `cargo bench --bench {name}` (needs root and the test engine)"
        );
        return false;
    }
    assert!(
        unsafe { libc::geteuid() } == 0,
        "{name} needs root (it enters namespaces)"
    );
    assert!(
        engine::try_docker(&["version"]).is_ok(),
        "no Docker engine at {}: start it with tests/engine-up.sh",
        engine::docker_host()
    );
    engine::ensure_image();
    true
}
