//! The cross-node east-west path on a real 3-node swarm: each node's snapshot taken inside the
//! node by the real binary, the cluster built, and the path between two tasks of the sample
//! service on different nodes checked against the kernel's own `bridge fdb show`.

use crate::support::swarm;

use std::time::Instant;

use dockmap::graph::build_cluster;
use dockmap::path::{trace, Outcome, PathAnswer, Question, Verdict};
use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot};
use swarm::SwarmLab;

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

fn task_on(snap: &NodeSnapshot) -> &str {
    let prefix = format!("{}.", swarm::SERVICE);
    snap.engine
        .as_ref()
        .and_then(|e| {
            e.containers
                .iter()
                .find(|c| c.name.starts_with(&prefix) && c.state == "running")
        })
        .map(|c| c.name.as_str())
        .unwrap_or_else(|| panic!("no task of {} on {}", swarm::SERVICE, snap.node.hostname))
}

#[test]
fn cross_node_path_follows_the_real_fdb_entry() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let started = Instant::now();
    let lab = SwarmLab::up(3);
    lab.deploy();
    let snaps: Vec<NodeSnapshot> = lab.nodes().iter().map(|n| n.snapshot(BIN)).collect();
    let mut cluster = ClusterSnapshot::of_nodes(snaps.clone(), "test");
    cluster.normalize();
    let g = build_cluster(&cluster);
    let t0 = Instant::now();
    let keys: Vec<String> = lab.nodes().iter().map(|n| n.key()).collect();

    let (a, b) = (task_on(&snaps[0]), task_on(&snaps[1]));
    let answer = trace(
        &Question::Between {
            from: a.into(),
            to: b.into(),
        },
        &snaps,
        &g,
    );
    let traced = t0.elapsed();
    let p = answer
        .paths
        .iter()
        .find(|p| p.id.ends_with(&format!("@{}", swarm::OVERLAY)))
        .unwrap_or_else(|| panic!("no path over {}: {answer:#?}", swarm::OVERLAY));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    assert!(
        p.hops.first().unwrap().element.as_deref() == Some(&format!("ctr:{}/{a}", keys[0])[..])
    );
    assert!(p.hops.last().unwrap().element.as_deref() == Some(&format!("ctr:{}/{b}", keys[1])[..]));

    // The FDB hop: on node1's vxlan0, the entry for b's MAC, sending to node2's underlay address.
    let at = p
        .hops
        .iter()
        .position(|h| h.evidence.iter().any(|e| e.kind == "fdb"))
        .unwrap_or_else(|| panic!("no FDB hop: {p:#?}"));
    let hop = &p.hops[at];
    let ev = hop.evidence.iter().find(|e| e.kind == "fdb").unwrap();
    let dst = lab.node(2).underlay_addr().to_string();
    let words: Vec<&str> = ev.text.split_whitespace().collect();
    let dst_at = words.iter().position(|w| *w == "dst").expect("a dst");
    assert_eq!(words[dst_at + 1], dst, "{}", ev.text);
    assert_eq!(hop.node, "node1");
    assert!(ev.namespace.starts_with("1-"), "{}", ev.namespace);
    let real = lab
        .node(1)
        .in_sandbox(&ev.namespace, &["bridge", "fdb", "show"]);
    assert!(
        real.lines().any(|l| l.trim_end() == ev.text),
        "{:?} is not a line of `bridge fdb show` in {}:\n{real}",
        ev.text,
        ev.namespace
    );
    let next = &p.hops[at + 1];
    assert_eq!(next.node, "node2");
    assert_eq!(
        next.element.as_deref(),
        Some(format!("if:{}/{}/vxlan0", keys[1], ev.namespace).as_str())
    );
    let edge = g
        .edges
        .iter()
        .find(|e| Some(&e.id) == next.edge.as_ref())
        .expect("the tunnel's edge is drawn");
    assert_eq!(edge.attrs["dst"], dst);

    // `dockmap path` on the cluster snapshot file prints the same FDB line under its hop.
    let file = std::env::temp_dir().join(format!("dmt-swarm-path-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&cluster).unwrap()).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["path", "--from", a, "--to", b, "--snapshot"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = format!("        fdb {}: {}", ev.namespace, ev.text);
    assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    assert!(text.contains(&format!("@{}: ", swarm::OVERLAY)), "{text}");

    // The routing mesh on this kernel: no IPVS, so Docker programmed no DNAT for the ingress port.
    let mesh: PathAnswer = trace(
        &Question::Port {
            port: swarm::INGRESS_PORT,
            protocol: "tcp".into(),
            node: Some("node1".into()),
        },
        &snaps,
        &g,
    );
    let m = mesh
        .paths
        .iter()
        .find(|p| p.kind == "mesh")
        .unwrap_or_else(|| panic!("no mesh path: {mesh:#?}"));
    assert_ne!(m.outcome, Outcome::Delivered, "{m:#?}");
    assert!(
        matches!(&m.hops.last().unwrap().verdict, Verdict::Broken(w) if w.contains("IPVS not available")),
        "{m:#?}"
    );
    // Host mode (8081): a plain DNAT on each node to the local task's docker_gwbridge address.
    let host_mode = trace(
        &Question::Port {
            port: swarm::HOST_PORT,
            protocol: "tcp".into(),
            node: Some("node2".into()),
        },
        &snaps,
        &g,
    );
    let h = host_mode
        .paths
        .first()
        .unwrap_or_else(|| panic!("no host-mode path: {host_mode:#?}"));
    assert_eq!(
        (h.kind.as_str(), h.outcome),
        ("bridge-port", Outcome::Delivered),
        "{h:#?}"
    );
    assert!(h
        .hops
        .iter()
        .any(|x| x.element.as_deref()
            == Some(format!("if:{}/host/docker_gwbridge", keys[1]).as_str())));
    assert_eq!(
        h.hops.last().unwrap().element.as_deref(),
        Some(&format!("ctr:{}/{b}", keys[1])[..])
    );
    println!(
        "swarm_path figures: trace between tasks over {} nodes: {traced:?} ({} hops); whole test {:?}",
        snaps.len(),
        p.hops.len(),
        started.elapsed()
    );
    lab.down().unwrap();
}
