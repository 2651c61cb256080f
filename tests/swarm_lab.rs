//! The swarm lab really is a multi-node swarm: engines in their own namespaces, tasks spread over
//! them, overlays carried by VXLAN between the nodes' underlay addresses; and teardown leaves
//! nothing behind, also after the engines and containerd were killed. Needs root and docker.io.

use crate::support::swarm;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;

use swarm::{LabNode, SwarmLab};

/// The name of an overlay's namespace on a node: `1-` and the first 10 characters of its id.
fn overlay_netns(node: &LabNode, network: &str) -> String {
    let id = node.docker(&["network", "inspect", "--format", "{{.Id}}", network]);
    format!("1-{}", &id.trim()[..10])
}

/// Link names in a sandbox, without the `@ifN` suffix.
fn links(node: &LabNode, sandbox: &str) -> BTreeSet<String> {
    node.in_sandbox(sandbox, &["ip", "-br", "link"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// The `dst` of every FDB entry of `vxlan0` in a sandbox.
fn vxlan_fdb_dsts(node: &LabNode, sandbox: &str) -> BTreeSet<String> {
    let fdb = node.in_sandbox(sandbox, &["bridge", "fdb", "show", "dev", "vxlan0"]);
    fdb.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "dst")?;
            words.next().map(str::to_string)
        })
        .collect()
}

#[test]
fn three_node_swarm_runs_the_sample_and_tears_down_clean() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let lab = SwarmLab::up(3);
    lab.deploy();
    let nodes = lab.nodes();
    let manager = lab.node(1);

    // Three engines, one swarm: each node Ready, named after its namespace, at its underlay address.
    let listed = manager.docker(&["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]);
    let listed: BTreeSet<&str> = listed.lines().collect();
    let expected: BTreeSet<String> = nodes
        .iter()
        .map(|n| format!("{} Ready", n.name()))
        .collect();
    assert_eq!(listed, expected.iter().map(String::as_str).collect());
    let addrs = manager.docker(&[
        "node",
        "inspect",
        "--format",
        "{{.Status.Addr}}",
        "node1",
        "node2",
        "node3",
    ]);
    let addrs: Vec<&str> = addrs.lines().collect();
    let underlay: Vec<String> = nodes
        .iter()
        .map(|n| n.underlay_addr().to_string())
        .collect();
    assert_eq!(
        addrs, underlay,
        "swarm node addresses are the underlay addresses"
    );
    let mut engine_ids = BTreeSet::new();
    for node in nodes {
        let info = node.docker(&[
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} {{.Name}} {{.ID}}",
        ]);
        let (state, id) = info.trim().rsplit_once(' ').expect("three words");
        assert_eq!(state, format!("active {}", node.name()));
        engine_ids.insert(id.to_string());
    }
    assert_eq!(
        engine_ids.len(),
        3,
        "each engine has an ID of its own: {engine_ids:?}"
    );

    // The service's three tasks run, one on each node, as each node's own engine reports.
    let tasks = manager.docker(&[
        "service",
        "ps",
        swarm::SERVICE,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}} {{.CurrentState}}",
    ]);
    let task_nodes: BTreeSet<&str> = tasks
        .lines()
        .filter(|l| l.contains(" Running"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(
        task_nodes,
        ["node1", "node2", "node3"].into_iter().collect()
    );
    for node in nodes {
        let label = format!("label=com.docker.swarm.service.name={}", swarm::SERVICE);
        let states = node.docker(&["ps", "--filter", &label, "--format", "{{.State}}"]);
        assert_eq!(
            states.trim(),
            "running",
            "one task of the service on {}",
            node.name()
        );
    }

    // Every node holds the overlay's namespace with br0 and vxlan0, on the network's VNI.
    let overlay_ns = overlay_netns(manager, swarm::OVERLAY);
    let vni = manager.docker(&[
        "network",
        "inspect",
        "--format",
        r#"{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}"#,
        swarm::OVERLAY,
    ]);
    let vni = vni.trim();
    assert!(vni.parse::<u32>().is_ok(), "overlay has a VNI: {vni:?}");
    for node in nodes {
        assert_eq!(overlay_netns(node, swarm::OVERLAY), overlay_ns);
        let sandboxes = node.sandboxes();
        assert!(
            sandboxes.contains(&overlay_ns),
            "{} has {overlay_ns}: {sandboxes:?}",
            node.name()
        );
        assert!(
            sandboxes.iter().any(|s| s == "ingress_sbox"),
            "{sandboxes:?}"
        );
        let names = links(node, &overlay_ns);
        assert!(
            names.contains("br0") && names.contains("vxlan0"),
            "{names:?}"
        );
        let vxlan = node.in_sandbox(&overlay_ns, &["ip", "-d", "link", "show", "vxlan0"]);
        assert!(vxlan.contains(&format!("vxlan id {vni} ")), "{vxlan}");
    }

    // node1's VXLAN forwards to the other two nodes' underlay addresses (the gossip that fills the
    // FDB may trail the tasks by a moment).
    let others: BTreeSet<String> = nodes[1..]
        .iter()
        .map(|n| n.underlay_addr().to_string())
        .collect();
    swarm::eventually("node1's vxlan0 FDB to reach node2 and node3", 30, || {
        (vxlan_fdb_dsts(manager, &overlay_ns) == others).then_some(())
    });

    // The plain container on the attachable overlay runs on node2, which thus holds that overlay's
    // namespace; node3 has no endpoint on it, so no namespace either.
    let (node2, node3) = (lab.node(2), lab.node(3));
    let plain = node2.docker(&[
        "inspect",
        "--format",
        "{{.State.Running}}",
        swarm::PLAIN_CONTAINER,
    ]);
    assert_eq!(plain.trim(), "true");
    let attach_ns = overlay_netns(node2, swarm::ATTACHABLE);
    assert!(
        node2.sandboxes().contains(&attach_ns),
        "{:?}",
        node2.sandboxes()
    );
    assert!(
        !node3.sandboxes().contains(&attach_ns),
        "{:?}",
        node3.sandboxes()
    );

    // The host-mode port answers on every node, from the underlay.
    for node in nodes {
        let addr = SocketAddrV4::new(node.underlay_addr(), swarm::HOST_PORT);
        let page = swarm::eventually(&format!("{addr} to answer"), 20, || {
            swarm::http_get_in(lab.underlay_netns(), addr).ok()
        });
        assert!(page.contains(swarm::PAGE), "{addr} answered {page:?}");
    }

    demo_agents_answer_from_the_root_namespace(&lab);

    lab.down().expect("teardown succeeds");
    let left = swarm::leftovers();
    assert!(left.is_empty(), "left after teardown: {left:#?}");
}

/// `swarm-lab.sh demo` on the running lab: from this (the root) namespace, every node's agent
/// answers its health check, and its snapshot (with the demo's token only) is that node's. `down`
/// must then remove the agents, the link and its route (the caller checks the leftovers).
fn demo_agents_answer_from_the_root_namespace(lab: &SwarmLab) {
    let printed = lab.demo(env!("CARGO_BIN_EXE_dockmap"));
    assert!(
        printed.contains(&format!(
            "serve --agents auto --docker {} --token-file {}",
            lab.node(1).docker_host(),
            swarm::DEMO_TOKEN_FILE
        )),
        "demo prints the serve command to run:\n{printed}"
    );
    let token = std::fs::read_to_string(swarm::DEMO_TOKEN_FILE).expect("the demo's token file");
    let token = token.trim();
    assert!(token.len() >= 32, "a real token: {token:?}");
    let left = swarm::leftovers();
    assert!(
        left.iter().any(|l| l.contains(swarm::DEMO_LINK)),
        "the demo's link is seen as the lab's: {left:#?}"
    );
    for node in lab.nodes() {
        let addr = SocketAddrV4::new(node.underlay_addr(), swarm::DEMO_AGENT_PORT);
        let health = swarm::http_get(addr, dockmap::agent::HEALTH_PATH, None)
            .unwrap_or_else(|e| panic!("{addr} from the root namespace: {e}"));
        assert_eq!(status(&health), "200", "{addr}: {health}");
        let refused = swarm::http_get(addr, dockmap::agent::SNAPSHOT_PATH, None).unwrap();
        assert_eq!(status(&refused), "401", "{addr} without token: {refused}");
        let snap = swarm::http_get(addr, dockmap::agent::SNAPSHOT_PATH, Some(token)).unwrap();
        let (head, body) = snap.split_once("\r\n\r\n").expect("headers, then a body");
        assert_eq!(status(head), "200", "{addr}: {head}");
        let snap: dockmap::snapshot::NodeSnapshot =
            serde_json::from_str(body).expect("a node snapshot");
        assert_eq!(
            snap.node.hostname,
            node.name(),
            "{addr} serves its own node"
        );
    }
}

/// The status code of an HTTP response.
fn status(response: &str) -> &str {
    response.split_whitespace().nth(1).unwrap_or_default()
}

#[test]
fn teardown_after_killed_engines_leaves_nothing() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let lab = SwarmLab::up(1);
    lab.deploy();
    let engine = lab.engine_pid(1).expect("dockerd pidfile");
    let containerd = lab.containerd_pid().expect("containerd pidfile");
    // SAFETY: plain kill(2) of the lab's own processes, by the pids their pidfiles hold.
    unsafe {
        libc::kill(engine, libc::SIGKILL);
        libc::kill(containerd, libc::SIGKILL);
    }
    swarm::eventually("dockerd and containerd to die", 10, || {
        let alive = |p: i32| std::path::Path::new(&format!("/proc/{p}")).exists();
        (!alive(engine) && !alive(containerd)).then_some(())
    });
    // Their shims and containers live on, orphaned: exactly what teardown must find.
    let orphans: Vec<String> = swarm::leftovers()
        .into_iter()
        .filter(|l| l.starts_with("process"))
        .collect();
    assert!(
        orphans.iter().any(|l| l.contains("containerd-shim")),
        "{orphans:#?}"
    );
    assert!(
        orphans.iter().any(|l| l.contains("lab cgroup")),
        "{orphans:#?}"
    );

    lab.down().expect("teardown succeeds");
    let left = swarm::leftovers();
    assert!(left.is_empty(), "left after teardown: {left:#?}");
}
