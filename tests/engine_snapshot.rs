//! The whole node snapshot and its graph on the real engine: every join checked against the kernel.

use crate::support::engine;

use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dockmap::collect::node::{collect, NodeOptions};
use dockmap::graph::{build, EdgeKind, Element, Graph};
use dockmap::snapshot::{NamespaceRole, NodeSnapshot, SourceKind, SourceState};
use engine::{TestContainer, TestNetwork};

fn snapshot() -> NodeSnapshot {
    engine::runtime().block_on(collect(&NodeOptions::default()))
}

fn element<'a>(g: &'a Graph, id: &str) -> &'a Element {
    g.elements
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no element {id}"))
}

/// The other ends of `id`'s edges of one kind (either direction).
fn linked(g: &Graph, id: &str, kind: EdgeKind) -> Vec<String> {
    g.edges
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| {
            if e.source == id {
                Some(e.target.clone())
            } else if e.target == id {
                Some(e.source.clone())
            } else {
                None
            }
        })
        .collect()
}

/// The host part of the snapshot's element IDs.
fn host(s: &NodeSnapshot) -> String {
    dockmap::graph::ids::host_key(s)
}

/// The netns element a container's sandbox edge leads to.
fn sandbox_of(g: &Graph, ctr_id: &str) -> String {
    let to = linked(g, ctr_id, EdgeKind::Sandbox);
    assert_eq!(to.len(), 1, "{ctr_id} sandbox edges: {to:?}");
    to[0].clone()
}

/// Follow container → netns → its eth0 → veth peer → bridge: the bridge's element id.
fn bridge_of(g: &Graph, netns: &str) -> String {
    let eth0 = format!("if:{}/eth0", netns.trim_start_matches("netns:"));
    let peer = linked(g, &eth0, EdgeKind::VethPair);
    assert_eq!(peer.len(), 1, "{eth0} veth peers: {peer:?}");
    let bridge = linked(g, &peer[0], EdgeKind::BridgePort);
    assert_eq!(bridge.len(), 1, "{} bridge: {bridge:?}", peer[0]);
    bridge[0].clone()
}

fn netns_inode(pid: &str) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .unwrap()
        .ino()
}

#[test]
fn containers_are_joined_to_their_sandbox_veth_bridge_ips_and_dnat() {
    if !engine::available() {
        return;
    }
    let user = TestNetwork::bridge(&engine::unique("user"), &[]);
    let noicc = TestNetwork::bridge(
        &engine::unique("noicc"),
        &["-o", "com.docker.network.bridge.enable_icc=false"],
    );
    let c_def = TestContainer::run(&engine::unique("def"), &[]);
    let c_user = TestContainer::run(&engine::unique("user"), &["--network", &user.id]);
    let c_noicc = TestContainer::run(&engine::unique("noicc"), &["--network", &noicc.id]);
    let c_pub = TestContainer::run(&engine::unique("pub"), &["-p", "127.0.0.1::80"]);
    let c_none = TestContainer::run(&engine::unique("none"), &["--network", "none"]);
    let c_host = TestContainer::run(&engine::unique("host"), &["--network", "host"]);

    let s = snapshot();
    let g = build(std::slice::from_ref(&s));
    let h = host(&s);
    let engine_status = s
        .sources
        .iter()
        .find(|x| x.source == SourceKind::Engine)
        .unwrap();
    assert_eq!(engine_status.state, SourceState::Ok, "{engine_status:?}");

    // Sandbox: the graph's namespace is the container process's namespace, by inode.
    for c in [&c_def, &c_user, &c_noicc, &c_pub, &c_none] {
        let ns_id = sandbox_of(&g, &format!("ctr:{h}/{}", c.name));
        let pid = c.inspect("{{.State.Pid}}");
        assert_eq!(
            element(&g, &ns_id).attrs["inode"],
            netns_inode(&pid),
            "{} sandbox inode",
            c.name
        );
    }

    // veth pair into the right bridge.
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let def_ns = sandbox_of(&g, &format!("ctr:{h}/{}", c_def.name));
    assert_eq!(bridge_of(&g, &def_ns), format!("if:{h}/host/docker0"));
    let user_ns = sandbox_of(&g, &format!("ctr:{h}/{}", c_user.name));
    assert_eq!(
        bridge_of(&g, &user_ns),
        format!("if:{h}/host/br-{}", short(&user.id))
    );
    let noicc_ns = sandbox_of(&g, &format!("ctr:{h}/{}", c_noicc.name));
    assert_eq!(
        bridge_of(&g, &noicc_ns),
        format!("if:{h}/host/br-{}", short(&noicc.id))
    );
    let noicc_net = element(&g, &format!("net:{h}/{}", noicc.name));
    assert_eq!(
        noicc_net.attrs["options"]["com.docker.network.bridge.enable_icc"],
        "false"
    );
    assert!(linked(&g, &noicc_net.id, EdgeKind::Carries)
        .contains(&format!("if:{h}/host/br-{}", short(&noicc.id))));

    // IPs: the engine's endpoint IP is on the sandbox's eth0 as the kernel reports it.
    for (c, ns) in [(&c_def, &def_ns), (&c_user, &user_ns)] {
        let ip =
            c.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}/{{.IPPrefixLen}}{{end}}");
        let eth0 = element(&g, &format!("if:{}/eth0", ns.trim_start_matches("netns:")));
        assert!(
            eth0.attrs["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == &serde_json::json!(ip)),
            "{ip} not on {}: {:?}",
            eth0.id,
            eth0.attrs["addresses"]
        );
        let ctr = element(&g, &format!("ctr:{h}/{}", c.name));
        assert!(ctr.attrs["ips"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| ip.starts_with(a.as_str().unwrap())));
        assert!(g.edges.iter().any(|e| e.kind == EdgeKind::Endpoint
            && e.source == ctr.id
            && ip.starts_with(e.attrs["ip"].as_str().unwrap())));
    }

    // The published port's DNAT rule on the host.
    let pub_ip = c_pub.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    let host_port =
        c_pub.inspect("{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}");
    let host_ns = s.host_namespace().unwrap();
    let nat = host_ns
        .firewall
        .as_ref()
        .expect("host firewall")
        .ipv4
        .iter()
        .find(|t| t.name == "nat")
        .expect("nat table");
    let dnat = nat
        .rules
        .iter()
        .find(|r| {
            r.target.as_ref().and_then(|t| t.to_destination.as_deref())
                == Some(&format!("{pub_ip}:80"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no DNAT to {pub_ip}:80 in {:#?}",
                nat.rules.iter().map(|r| &r.text).collect::<Vec<_>>()
            )
        });
    assert_eq!(dnat.chain, "DOCKER");
    assert!(
        dnat.text.contains(&format!("--dport {host_port}")),
        "{}",
        dnat.text
    );
    assert_eq!(dnat.destination.as_deref(), Some("127.0.0.1/32"));

    // --network none: a sandbox with only lo; --network host: the host's namespace.
    let none_ns = sandbox_of(&g, &format!("ctr:{h}/{}", c_none.name));
    let none_ifaces: Vec<&str> = g
        .elements
        .iter()
        .filter(|e| e.parent.as_deref() == Some(none_ns.as_str()))
        .map(|e| e.label.as_str())
        .collect();
    assert_eq!(none_ifaces, vec!["lo"]);
    assert_eq!(
        sandbox_of(&g, &format!("ctr:{h}/{}", c_host.name)),
        format!("netns:{h}/host")
    );

    assert!(
        !g.findings.iter().any(|f| f.code == "veth-peer-missing"),
        "{:#?}",
        g.findings
    );
}

#[test]
fn overlay_namespace_holds_br0_and_vxlan0_with_the_networks_vni() {
    if !engine::available() || !engine::swarm_manager() {
        return;
    }
    let net = TestNetwork::overlay(&engine::unique("ov"), &[]);
    let c = TestContainer::run(&engine::unique("ovc"), &["--network", &net.id]);
    let s = snapshot();
    let g = build(std::slice::from_ref(&s));
    let h = host(&s);
    let vni: u32 = engine::docker(&[
        "network",
        "inspect",
        "--format",
        "{{index .Options \"com.docker.network.driver.overlay.vxlanid_list\"}}",
        &net.id,
    ])
    .parse()
    .unwrap();

    let prefix: String = net.id.chars().take(10).collect();
    let ov = s
        .namespaces
        .iter()
        .find(|n| n.name == format!("1-{prefix}"))
        .expect("overlay namespace 1-<netid>");
    assert_eq!(ov.role, NamespaceRole::Overlay);
    let br0 = ov.links.iter().find(|l| l.name == "br0").expect("br0");
    assert_eq!(br0.kind, dockmap::snapshot::LinkKind::Bridge);
    let vx = ov
        .links
        .iter()
        .find(|l| l.kind == dockmap::snapshot::LinkKind::Vxlan)
        .expect("vxlan");
    assert_eq!(vx.vxlan.as_ref().unwrap().vni, vni);
    assert_eq!(vx.master, Some(br0.ifindex));

    let ov_id = format!("netns:{h}/1-{prefix}");
    let br0_id = format!("if:{h}/1-{prefix}/br0");
    let vx_el = element(&g, &format!("if:{h}/1-{prefix}/{}", vx.name));
    assert_eq!(vx_el.attrs["vni"], vni);
    assert_eq!(vx_el.parent.as_deref(), Some(ov_id.as_str()));
    assert!(linked(&g, &vx_el.id, EdgeKind::BridgePort).contains(&br0_id));
    assert!(linked(&g, &format!("net:{}", net.name), EdgeKind::Carries).contains(&br0_id));

    // The container's overlay interface is a veth whose peer is a port of br0.
    let ctr_ns = sandbox_of(&g, &format!("ctr:{h}/{}", c.name));
    let ns_path = ctr_ns.trim_start_matches("netns:");
    let into_overlay: Vec<String> = g
        .elements
        .iter()
        .filter(|e| e.parent.as_deref() == Some(ctr_ns.as_str()))
        .flat_map(|e| linked(&g, &e.id, EdgeKind::VethPair))
        .filter(|peer| peer.starts_with(&format!("if:{h}/1-{prefix}/")))
        .collect();
    assert_eq!(
        into_overlay.len(),
        1,
        "one veth from {ns_path} into the overlay: {into_overlay:?}"
    );
    assert!(linked(&g, &into_overlay[0], EdgeKind::BridgePort).contains(&br0_id));
    assert!(
        g.findings.iter().any(|f| f.code == "ipvs-unavailable"),
        "this kernel has no IPVS: {:#?}",
        g.findings
    );
}

#[test]
fn containers_coming_and_going_during_snapshots_give_consistent_results() {
    if !engine::available() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let c = TestContainer::run(&engine::unique("churn"), &[]);
                std::thread::sleep(Duration::from_millis(50));
                drop(c);
                n += 1;
            }
            n
        })
    };
    for _ in 0..6 {
        let s = snapshot();
        let g = build(std::slice::from_ref(&s));
        assert!(
            s.host_namespace().is_some_and(|h| !h.links.is_empty()),
            "the host is always read"
        );
        for st in s.sources.iter().filter(|x| x.state == SourceState::Error) {
            let m = st.message.to_lowercase();
            assert!(
                m.contains("vanish")
                    || m.contains("stale")
                    || m.contains("no such")
                    || m.contains("not found"),
                "unexpected error while containers churn: {st:?}"
            );
        }
        // A namespace in the snapshot was really read (every network namespace has `lo`); one
        // deleted while read is left out and said to have vanished, never kept empty.
        for ns in &s.namespaces {
            let read = ns.links.iter().any(|l| l.name == "lo");
            let failed = s.sources.iter().any(|x| {
                x.namespace.as_deref() == Some(ns.name.as_str()) && x.state == SourceState::Error
            });
            assert!(
                read || failed,
                "namespace {} kept with nothing read",
                ns.name
            );
        }
        for st in s
            .sources
            .iter()
            .filter(|x| x.state == SourceState::Unavailable && x.namespace.is_some())
            .filter(|x| x.source == dockmap::snapshot::SourceKind::Netlink)
        {
            assert!(st.message.contains("vanished"), "{st:?}");
            let name = st.namespace.as_deref().unwrap_or_default();
            assert!(
                s.namespaces.iter().all(|n| n.name != name),
                "{name} vanished yet is in the snapshot"
            );
        }
        // Every drawn pair is the kernel's: both ends exist and name each other.
        for e in g.edges.iter().filter(|e| e.kind == EdgeKind::VethPair) {
            assert_eq!(
                element(&g, &e.source).attrs["peer"],
                serde_json::json!(e.target)
            );
            assert_eq!(
                element(&g, &e.target).attrs["peer"],
                serde_json::json!(e.source)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cycles = churn.join().unwrap();
    assert!(cycles > 0, "the churn thread made containers");
}
