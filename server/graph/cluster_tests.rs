//! Cross-node joins on hand-made two-node clusters.

use std::collections::BTreeMap;

use crate::snapshot::*;

use super::build_cluster;
use super::model::*;

const NET: &str = "ov0000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A swarm node at `addr` with an overlay (VNI 4097) holding container `ctr` (mac) and FDB entries `fdb` (mac, dst).
fn node(
    host: &str,
    addr: &str,
    ctr: &str,
    mac: &str,
    fdb: &[(&str, &str)],
    vx_mtu: u32,
) -> NodeSnapshot {
    let mut hns = Namespace {
        id: NsIdentity { dev: 4, ino: 1 },
        name: "host".into(),
        role: NamespaceRole::Host,
        ..Default::default()
    };
    hns.links = vec![Link {
        ifindex: 2,
        name: "eth0".into(),
        link_type: 1,
        mtu: 1500,
        ..Default::default()
    }];
    hns.addresses = vec![Address {
        ifindex: 2,
        family: 4,
        address: addr.into(),
        prefix_len: 24,
        scope: "universe".into(),
    }];
    let mut ov = Namespace {
        id: NsIdentity { dev: 4, ino: 2 },
        name: "1-ov00000000".into(),
        role: NamespaceRole::Overlay,
        ..Default::default()
    };
    ov.links = vec![
        Link {
            ifindex: 2,
            name: "br0".into(),
            kind: "bridge".into(),
            link_type: 1,
            mtu: 1450,
            ..Default::default()
        },
        Link {
            ifindex: 3,
            name: "vxlan0".into(),
            kind: "vxlan".into(),
            link_type: 1,
            mtu: vx_mtu,
            master: Some(2),
            vxlan: Some(VxlanInfo {
                vni: 4097,
                port: 4789,
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    ov.fdb = fdb
        .iter()
        .map(|(m, d)| FdbEntry {
            ifindex: 3,
            mac: (*m).into(),
            dst: Some((*d).into()),
            ..Default::default()
        })
        .collect();
    let mut options = BTreeMap::new();
    options.insert(
        "com.docker.network.driver.overlay.vxlanid_list".to_string(),
        "4097".to_string(),
    );
    NodeSnapshot {
        schema: NODE_SCHEMA.into(),
        node: NodeIdentity {
            hostname: host.into(),
            ..Default::default()
        },
        namespaces: vec![hns, ov],
        engine: Some(EngineFacts {
            swarm: SwarmFacts {
                local_state: "active".into(),
                node_id: host.to_owned(),
                node_addr: addr.into(),
                ..Default::default()
            },
            networks: vec![Network {
                id: NET.into(),
                name: "appnet".into(),
                driver: "overlay".into(),
                scope: "swarm".into(),
                options,
                ..Default::default()
            }],
            containers: vec![Container {
                id: format!("{ctr}-id"),
                name: ctr.into(),
                state: "running".into(),
                endpoints: vec![ContainerEndpoint {
                    network_id: NET.into(),
                    network_name: "appnet".into(),
                    mac: mac.into(),
                    ipv4: "198.19.128.5".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn fresh(s: NodeSnapshot) -> ClusterNode {
    ClusterNode {
        name: s.node.hostname.clone(),
        source: "x".into(),
        identity: String::new(),
        state: NodeState::Fresh,
        error: String::new(),
        snapshot_taken_at: None,
        age_s: None,
        snapshot: Some(s),
    }
}

fn cluster(nodes: Vec<ClusterNode>) -> ClusterSnapshot {
    ClusterSnapshot {
        schema: CLUSTER_SCHEMA.into(),
        nodes,
        ..Default::default()
    }
}

/// Every fdb edge as (from, to), sorted.
fn fdb_edges(g: &Graph) -> Vec<(&str, &str)> {
    let mut t: Vec<(&str, &str)> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Fdb)
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    t.sort();
    t
}

fn pair(fdb_a: &[(&str, &str)], fdb_b: &[(&str, &str)]) -> ClusterSnapshot {
    cluster(vec![
        fresh(node(
            "a",
            "198.19.0.11",
            "web.1",
            "02:42:0a:00:00:03",
            fdb_a,
            1450,
        )),
        fresh(node(
            "b",
            "198.19.0.12",
            "web.2",
            "02:42:0a:00:00:04",
            fdb_b,
            1450,
        )),
    ])
}

#[test]
fn fdb_entries_become_tunnels_between_the_nodes_vxlan_interfaces() {
    let g = build_cluster(&pair(
        &[("02:42:0a:00:00:04", "198.19.0.12")],
        &[("02:42:0a:00:00:03", "198.19.0.11")],
    ));
    let tunnels = fdb_edges(&g);
    assert_eq!(
        tunnels,
        vec![
            ("if:a/1-ov00000000/vxlan0", "if:b/1-ov00000000/vxlan0"),
            ("if:b/1-ov00000000/vxlan0", "if:a/1-ov00000000/vxlan0")
        ]
    );
    assert!(
        !g.elements.iter().any(|e| e.kind == ElementKind::Remote),
        "resolved remotes are not drawn alone"
    );
    assert!(
        g.findings.iter().all(|f| !f.code.starts_with("fdb-")),
        "{:?}",
        g.findings
    );
}

#[test]
fn an_fdb_destination_that_is_no_node_is_an_error() {
    let g = build_cluster(&pair(
        &[
            ("02:42:0a:00:00:04", "198.19.0.12"),
            ("02:42:0a:00:00:99", "198.19.0.99"),
        ],
        &[("02:42:0a:00:00:03", "198.19.0.11")],
    ));
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "fdb-unknown-destination")
        .expect("finding");
    assert_eq!(
        f.elements,
        vec![
            "if:a/1-ov00000000/vxlan0".to_string(),
            "remote:198.19.0.99".to_string()
        ]
    );
    assert!(g.elements.iter().any(|e| e.id == "remote:198.19.0.99"));
}

#[test]
fn a_remote_mac_missing_from_the_fdb_is_an_error() {
    let g = build_cluster(&pair(&[], &[("02:42:0a:00:00:03", "198.19.0.11")]));
    let f: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "fdb-mac-missing")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", g.findings);
    assert_eq!(
        f[0].elements,
        vec![
            "if:a/1-ov00000000/vxlan0".to_string(),
            "ctr:b/web.2".to_string()
        ]
    );
}

#[test]
fn an_overlay_mtu_that_does_not_fit_the_underlay_is_an_error() {
    let mut c = pair(
        &[("02:42:0a:00:00:04", "198.19.0.12")],
        &[("02:42:0a:00:00:03", "198.19.0.11")],
    );
    let ns = &mut c.nodes[1].snapshot.as_mut().unwrap().namespaces[1];
    ns.links[1].mtu = 1500;
    let g = build_cluster(&c);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "overlay-mtu-too-big")
        .expect("finding");
    assert_eq!(
        f.elements,
        vec![
            "if:b/1-ov00000000/vxlan0".to_string(),
            "if:b/host/eth0".to_string()
        ]
    );
}

#[test]
fn nodes_that_did_not_answer_are_shown_and_flagged() {
    let mut c = pair(&[("02:42:0a:00:00:04", "198.19.0.12")], &[]);
    c.nodes[1].state = NodeState::Stale;
    c.nodes[1].age_s = Some(42);
    c.nodes[1].error = "no answer within 3 s".into();
    c.nodes.push(never_answered("c", "http://198.19.0.13:7879"));
    let g = build_cluster(&c);
    let c_host = g
        .elements
        .iter()
        .find(|e| e.id == "host:c")
        .expect("unreachable node still drawn");
    assert_eq!(c_host.attrs["node_state"], "unreachable");
    let b_host = g.elements.iter().find(|e| e.id == "host:b").unwrap();
    assert_eq!(b_host.attrs["node_state"], "stale");
    let flagged: Vec<(&str, Severity)> = g
        .findings
        .iter()
        .filter(|f| f.code == "agent-not-answering")
        .map(|f| (f.elements[0].as_str(), f.severity))
        .collect();
    assert_eq!(
        flagged,
        vec![("host:c", Severity::Error), ("host:b", Severity::Warning)]
    );
    assert!(
        g.elements
            .iter()
            .any(|e| e.id == "if:b/1-ov00000000/vxlan0"),
        "stale node keeps its picture"
    );
}

/// Every edge ends at an element that exists (the layout drops the others silently).
fn assert_no_dangling_edge(g: &Graph) {
    let ids: std::collections::HashSet<&str> = g.elements.iter().map(|e| e.id.as_str()).collect();
    for e in &g.edges {
        assert!(
            ids.contains(e.source.as_str()) && ids.contains(e.target.as_str()),
            "dangling edge {e:?}"
        );
    }
}

/// Nodes a and b answered; c (198.19.0.13) never did. `manager_list`: a manages and lists c.
fn third_node_silent(silent_name: &str, manager_list: bool) -> ClusterSnapshot {
    let fdb_to_c = ("02:42:0a:00:00:05", "198.19.0.13");
    let mut a = node(
        "a",
        "198.19.0.11",
        "web.1",
        "02:42:0a:00:00:03",
        &[("02:42:0a:00:00:04", "198.19.0.12"), fdb_to_c],
        1450,
    );
    if manager_list {
        a.engine.as_mut().unwrap().nodes = vec![SwarmNode {
            id: "id-c".into(),
            hostname: "c".into(),
            role: "worker".into(),
            addr: "198.19.0.13".into(),
            state: "down".into(),
            ..Default::default()
        }];
    }
    let b = node(
        "b",
        "198.19.0.12",
        "web.2",
        "02:42:0a:00:00:04",
        &[("02:42:0a:00:00:03", "198.19.0.11"), fdb_to_c],
        1450,
    );
    cluster(vec![
        fresh(a),
        fresh(b),
        never_answered(silent_name, "http://198.19.0.13:7879"),
    ])
}

#[test]
fn tunnels_to_a_node_that_never_answered_end_at_its_one_host_element() {
    // Named by the manager's node list (as the gatherer names it), and by its URL when no
    // manager answered: either way one host element, and the tunnels end there.
    for (name, manager_list) in [
        ("c", true),
        ("198.19.0.13:7879", false),
        ("198.19.0.13:7879", true),
    ] {
        let g = build_cluster(&third_node_silent(name, manager_list));
        let host = format!("host:{name}");
        let mut hosts: Vec<&str> = g
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Host)
            .map(|e| e.id.as_str())
            .collect();
        hosts.sort();
        let mut expected = vec!["host:a", "host:b", host.as_str()];
        expected.sort();
        assert_eq!(hosts, expected);
        let mut to_c: Vec<&str> = g
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Fdb && e.target == host)
            .map(|e| e.source.as_str())
            .collect();
        to_c.sort();
        assert_eq!(
            to_c,
            vec!["if:a/1-ov00000000/vxlan0", "if:b/1-ov00000000/vxlan0"],
            "{name}"
        );
        assert_no_dangling_edge(&g);
        assert!(
            !g.findings
                .iter()
                .any(|f| f.code == "fdb-unknown-destination"),
            "{:?}",
            g.findings
        );
    }
}

#[test]
fn a_node_only_a_manager_knows_keeps_its_tunnel_at_the_remote_address() {
    // The manager lists d, but no agent was asked for it: no host element, so the edge stays
    // on the remote address (named for the node), never on a host that is not drawn.
    let mut c = pair(
        &[
            ("02:42:0a:00:00:04", "198.19.0.12"),
            ("02:42:0a:00:00:06", "198.19.0.14"),
        ],
        &[("02:42:0a:00:00:03", "198.19.0.11")],
    );
    c.nodes[0]
        .snapshot
        .as_mut()
        .unwrap()
        .engine
        .as_mut()
        .unwrap()
        .nodes = vec![SwarmNode {
        id: "id-d".into(),
        hostname: "d".into(),
        addr: "0.0.0.0".into(),
        manager_addr: "198.19.0.14:2377".into(),
        ..Default::default()
    }];
    let g = build_cluster(&c);
    assert_no_dangling_edge(&g);
    let e = g
        .edges
        .iter()
        .find(|e| e.kind == EdgeKind::Fdb && e.target == "remote:198.19.0.14")
        .expect("tunnel to d");
    assert_eq!(e.attrs["remote_node"], "d");
    assert!(!g
        .findings
        .iter()
        .any(|f| f.code == "fdb-unknown-destination"));
}

#[test]
fn a_swarm_network_lists_the_endpoints_of_every_host() {
    let mut c = pair(&[], &[]);
    for (n, ep) in [
        (0, "web.1 198.19.128.5 02:42:0a:00:00:03"),
        (1, "web.2 198.19.128.6 02:42:0a:00:00:04"),
    ] {
        let net = &mut c.nodes[n]
            .snapshot
            .as_mut()
            .unwrap()
            .engine
            .as_mut()
            .unwrap()
            .networks[0];
        let parts: Vec<&str> = ep.split(' ').collect();
        net.endpoints = vec![NetworkEndpoint {
            name: parts[0].into(),
            ipv4: parts[1].into(),
            mac: parts[2].into(),
            ..Default::default()
        }];
    }
    let expected = serde_json::json!([
        "a: web.1 198.19.128.5 02:42:0a:00:00:03",
        "b: web.2 198.19.128.6 02:42:0a:00:00:04"
    ]);
    let g = build_cluster(&c);
    let net = g.elements.iter().find(|e| e.id == "net:appnet").unwrap();
    assert_eq!(net.attrs["endpoints"], expected);
    assert_eq!(net.attrs["vni"], "4097");
    // The same whichever node is listed first.
    c.nodes.reverse();
    let g = build_cluster(&c);
    let net = g.elements.iter().find(|e| e.id == "net:appnet").unwrap();
    assert_eq!(net.attrs["endpoints"], expected);
}

/// A node whose agent at `source` never answered.
fn never_answered(name: &str, source: &str) -> ClusterNode {
    ClusterNode {
        name: name.into(),
        source: source.into(),
        identity: String::new(),
        state: NodeState::Unreachable,
        error: "unreachable: connection refused".into(),
        snapshot_taken_at: None,
        age_s: None,
        snapshot: None,
    }
}

/// The entry `--agents auto` adds when it could not list the swarm's nodes.
fn discovery_failure() -> ClusterNode {
    ClusterNode {
        error: "cannot list the swarm's nodes: engine gone".into(),
        ..never_answered(crate::snapshot::DISCOVERY, "auto")
    }
}

#[test]
fn a_failed_discovery_is_its_own_finding() {
    let mut c = pair(&[], &[]);
    c.nodes.push(discovery_failure());
    let g = build_cluster(&c);
    let codes: Vec<&str> = g.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"swarm-discovery-failed"), "{codes:?}");
    assert!(!codes.contains(&"agent-not-answering"), "{codes:?}");
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "swarm-discovery-failed")
        .unwrap();
    assert!(f.message.contains("engine gone"));
    // No fake host: the finding concerns the real hosts, whose panels show it.
    let hosts: Vec<&str> = g
        .elements
        .iter()
        .filter(|e| e.kind == ElementKind::Host)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(hosts, vec!["host:a", "host:b"]);
    assert!(!g.elements.iter().any(|e| e.id == "host:(discovery)"));
    assert!(!g.elements.iter().any(|e| e.label.contains("(discovery)")));
    assert_eq!(f.elements, vec!["host:a".to_string(), "host:b".to_string()]);
}

#[test]
fn a_failed_discovery_with_no_node_at_all_draws_nothing_but_keeps_its_finding() {
    let c = cluster(vec![discovery_failure()]);
    let g = build_cluster(&c);
    assert!(g.elements.is_empty(), "{:?}", g.elements);
    let f: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "swarm-discovery-failed")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", g.findings);
    assert!(f[0].elements.is_empty());
    assert!(f[0].message.contains("engine gone"));
}

#[test]
fn the_synthetic_swarm_is_healthy_its_fdbs_list_every_remote_task() {
    use crate::synthetic::{snapshots, SyntheticOptions};
    let snaps = snapshots(&SyntheticOptions {
        hosts: 3,
        containers: 60,
        hostile_names: false,
    });
    let g = build_cluster(&ClusterSnapshot::of_nodes(snaps, "file"));
    let tunnels = g.edges.iter().filter(|e| e.kind == EdgeKind::Fdb).count();
    assert!(tunnels > 0, "the synthetic swarm has tunnels to check");
    let missing: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "fdb-mac-missing")
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

/// Three swarm nodes that all report the hostname `vm` (cloned VMs; engines in network
/// namespaces of one machine), each FDB listing the other two.
fn three_named_vm() -> ClusterSnapshot {
    let ids = [
        "s4czfr4551slwd73q7qt0941k",
        "x8j5y8w6k2bn0c7d1e9f3g4h5",
        "q1w2e3r4t5y6u7i8o9p0a1s2d",
    ];
    let addr = |i: usize| format!("198.19.0.{}", 11 + i);
    let mac = |i: usize| format!("02:42:0a:00:00:{:02x}", 3 + i);
    let nodes = (0..3)
        .map(|i| {
            let fdb: Vec<(String, String)> = (0..3)
                .filter(|&j| j != i)
                .map(|j| (mac(j), addr(j)))
                .collect();
            let fdb: Vec<(&str, &str)> =
                fdb.iter().map(|(m, a)| (m.as_str(), a.as_str())).collect();
            let mut s = node(
                "vm",
                &addr(i),
                &format!("web.{}", i + 1),
                &mac(i),
                &fdb,
                1450,
            );
            if let Some(e) = s.engine.as_mut() {
                e.swarm.node_id = ids[i].into();
            }
            let mut n = fresh(s);
            n.source = format!("http://{}:7879", addr(i));
            n
        })
        .collect();
    cluster(nodes)
}

#[test]
fn nodes_sharing_a_hostname_are_three_hosts_with_tunnels_between_them() {
    let mut c = three_named_vm();
    c.normalize();
    let g = build_cluster(&c);
    let hosts: Vec<(&str, &str)> = g
        .elements
        .iter()
        .filter(|e| e.kind == ElementKind::Host)
        .map(|e| (e.id.as_str(), e.label.as_str()))
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("host:q1w2e3r4t5y6", "vm@q1w2e3"),
            ("host:s4czfr4551sl", "vm@s4czfr"),
            ("host:x8j5y8w6k2bn", "vm@x8j5y8"),
        ]
    );
    let tunnels = fdb_edges(&g);
    assert_eq!(
        tunnels.len(),
        6,
        "every node to each of the other two: {tunnels:?}"
    );
    assert!(tunnels.contains(&(
        "if:s4czfr4551sl/1-ov00000000/vxlan0",
        "if:x8j5y8w6k2bn/1-ov00000000/vxlan0"
    )));
    assert!(
        tunnels.iter().all(|(a, b)| a != b),
        "no node tunnels to itself"
    );
    let dup: Vec<&Finding> = g
        .findings
        .iter()
        .filter(|f| f.code == "duplicate-hostname")
        .collect();
    assert_eq!(dup.len(), 1, "{:#?}", g.findings);
    assert_eq!(dup[0].elements.len(), 3);
    assert!(dup[0].message.contains("3 nodes report the hostname vm"));
    assert!(dup[0]
        .message
        .contains("vm@s4czfr (swarm node ID s4czfr4551slwd73q7qt0941k)"));
    let wrong: Vec<&str> = g
        .findings
        .iter()
        .map(|f| f.code.as_str())
        .filter(|c| c.starts_with("fdb-") || c.starts_with("veth-") || c.starts_with("netns-"))
        .collect();
    assert!(
        wrong.is_empty(),
        "the tunnels and namespaces join up: {wrong:?}"
    );
}

#[test]
fn a_node_that_stops_answering_keeps_its_key_among_nodes_sharing_its_hostname() {
    let mut c = three_named_vm();
    c.normalize();
    let before = build_cluster(&c);
    // node x8j5… goes silent: the gatherer keeps its identity (from its kept snapshot or the
    // manager's node list) on the entry.
    let n = c
        .nodes
        .iter_mut()
        .find(|n| {
            n.snapshot
                .as_ref()
                .is_some_and(|s| s.engine.as_ref().unwrap().swarm.node_id.starts_with("x8j5"))
        })
        .unwrap();
    n.snapshot = None;
    n.state = NodeState::Unauthorized;
    n.error = "401".into();
    n.identity = "swarm:x8j5y8w6k2bn0c7d1e9f3g4h5".into();
    let after = build_cluster(&c);
    let host = after
        .elements
        .iter()
        .find(|e| e.id == "host:x8j5y8w6k2bn")
        .expect("the silent node keeps its host element's ID");
    assert_eq!(host.label, "vm@x8j5y8");
    let hosts = |g: &Graph| {
        g.elements
            .iter()
            .filter(|e| e.kind == ElementKind::Host)
            .count()
    };
    assert_eq!(hosts(&before), 3);
    assert_eq!(hosts(&after), 3);
    // Tunnels to it end at its host element, not at a bare address.
    assert!(after
        .edges
        .iter()
        .any(|e| e.kind == EdgeKind::Fdb && e.target == "host:x8j5y8w6k2bn"));
}

// Encrypted overlays: SAs per tunnel direction, the guard rules, and what is missing.

const A: &str = "198.19.0.11";
const B: &str = "198.19.0.12";

fn sa(src: &str, dst: &str, spi: u32) -> XfrmSa {
    XfrmSa {
        src: src.into(),
        dst: dst.into(),
        proto: "esp".into(),
        spi,
        reqid: 0xD0C4E3,
        mode: "transport".into(),
        algorithms: vec!["aead rfc4106(gcm(aes))".into()],
        mark: None,
    }
}

/// The rules moby writes for VNI 4097 as iptables-save prints them (parsed into matches).
fn guarded() -> Firewall {
    let m = |name: &str, args: &[&str]| Match {
        name: name.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    };
    let target = |name: &str| {
        Some(Target {
            name: name.into(),
            ..Default::default()
        })
    };
    Firewall {
        ipv4: vec![
            Table {
                name: "filter".into(),
                rules: vec![Rule {
                    chain: "INPUT".into(),
                    text: "-A INPUT -p udp -m policy --dir in --pol none -m udp --dport 4789 -m u32 --u32 \"0x0>>0x16&0x3c@0xc&0xffffff00=0x100100\" -j DROP".into(),
                    protocol: Some("udp".into()),
                    matches: vec![
                        m("policy", &["--dir", "in", "--pol", "none"]),
                        m("udp", &["--dport", "4789"]),
                        m("u32", &["--u32", "0x0>>0x16&0x3c@0xc&0xffffff00=0x100100"]),
                    ],
                    target: target("DROP"),
                    ..Default::default()
                }],
                ..Default::default()
            },
            Table {
                name: "mangle".into(),
                rules: vec![Rule {
                    chain: "OUTPUT".into(),
                    text: "-A OUTPUT -p udp -m udp --dport 4789 -m bpf --bytecode \"7,48 0 0 4294963200,7 0 0 0,32 0 0 4,116 0 0 8,21 1 0 4097,6 0 0 0,6 0 0 4294967295\" -j MARK --set-xmark 0xd0c4e3/0xffffffff".into(),
                    matches: vec![
                        m("udp", &["--dport", "4789"]),
                        m("bpf", &["--bytecode", "7,48 0 0 4294963200,7 0 0 0,32 0 0 4,116 0 0 8,21 1 0 4097,6 0 0 0,6 0 0 4294967295"]),
                    ],
                    target: target("MARK"),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// Two nodes of an encrypted overlay with FDB entries to each other, their host namespaces
/// holding `xfrm_a` / `xfrm_b` and the guard rules.
fn encrypted_pair(xfrm_a: Option<Vec<XfrmSa>>, xfrm_b: Option<Vec<XfrmSa>>) -> ClusterSnapshot {
    let mut c = pair(&[("02:42:0a:00:00:04", B)], &[("02:42:0a:00:00:03", A)]);
    for (n, states) in c.nodes.iter_mut().zip([xfrm_a, xfrm_b]) {
        let s = n.snapshot.as_mut().expect("snapshot");
        s.namespaces[0].xfrm = states.map(|states| Xfrm {
            states,
            policies: vec![],
        });
        s.namespaces[0].firewall = Some(guarded());
        if let Some(e) = s.engine.as_mut() {
            e.networks[0]
                .options
                .insert("encrypted".into(), String::new());
        }
    }
    c
}

fn tunnel<'g>(g: &'g Graph, from: &str) -> &'g Edge {
    g.edges
        .iter()
        .find(|e| e.kind == EdgeKind::Fdb && e.source.starts_with(&format!("if:{from}/")))
        .expect("a tunnel")
}

fn codes(g: &Graph) -> Vec<&str> {
    let mut c: Vec<&str> = g
        .findings
        .iter()
        .map(|f| f.code.as_str())
        .filter(|c| c.starts_with("ipsec") || c.starts_with("encrypted"))
        .collect();
    c.sort();
    c
}

#[test]
fn encrypted_tunnels_carry_each_directions_spis() {
    let g = build_cluster(&encrypted_pair(
        Some(vec![sa(A, B, 0x100), sa(B, A, 0x200)]),
        Some(vec![sa(B, A, 0x200), sa(A, B, 0x100)]),
    ));
    let ab = tunnel(&g, "a");
    assert_eq!(ab.attrs["encrypted"], true);
    assert_eq!(ab.attrs["encrypted_network"], "appnet");
    assert_eq!(ab.attrs["spi_out"], serde_json::json!(["0x00000100"]));
    assert_eq!(ab.attrs["spi_in"], serde_json::json!(["0x00000200"]));
    assert_eq!(ab.attrs["sa_out"], "0x00000100 198.19.0.11→198.19.0.12");
    assert_eq!(
        tunnel(&g, "b").attrs["spi_out"],
        serde_json::json!(["0x00000200"])
    );
    assert!(codes(&g).is_empty(), "{:?}", g.findings);

    // The same pair without the `encrypted` option: plain tunnels.
    let plain = build_cluster(&pair(
        &[("02:42:0a:00:00:04", B)],
        &[("02:42:0a:00:00:03", A)],
    ));
    assert!(!tunnel(&plain, "a").attrs.contains_key("encrypted"));
}

#[test]
fn a_direction_without_an_sa_is_an_error() {
    // a has no SA for what b sends it.
    let g = build_cluster(&encrypted_pair(
        Some(vec![sa(A, B, 0x100)]),
        Some(vec![sa(B, A, 0x200), sa(A, B, 0x100)]),
    ));
    assert_eq!(codes(&g), vec!["ipsec-sa-missing"]);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "ipsec-sa-missing")
        .unwrap();
    assert!(f.message.contains("b → a (inbound)"), "{}", f.message);
}

#[test]
fn an_spi_the_peer_does_not_hold_is_an_error() {
    // a sends with 0x100, but b only holds 0x999 from a (engines that derive SPIs differently).
    let g = build_cluster(&encrypted_pair(
        Some(vec![sa(A, B, 0x100), sa(B, A, 0x200)]),
        Some(vec![sa(B, A, 0x200), sa(A, B, 0x999)]),
    ));
    let f: Vec<&Finding> = g
        .findings
        .iter()
        .filter(|f| f.code == "ipsec-spi-mismatch")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", g.findings);
    let msgs: String = f.iter().map(|f| f.message.clone()).collect();
    assert!(msgs.contains("a sends to b with SPI 0x00000100"), "{msgs}");
    assert!(msgs.contains("0x00000999"), "{msgs}");
}

#[test]
fn no_sa_at_all_is_the_kernel_without_esp_finding() {
    let g = build_cluster(&encrypted_pair(Some(vec![]), Some(vec![])));
    assert_eq!(codes(&g), vec!["ipsec-no-sa", "ipsec-no-sa"]);
    assert!(g.findings[0].message.contains("CONFIG_INET_ESP"));
    // Not read is not "missing": no finding, and the tunnel says so.
    let g = build_cluster(&encrypted_pair(None, None));
    assert!(codes(&g).is_empty(), "{:?}", g.findings);
    assert_eq!(tunnel(&g, "a").attrs["ipsec"], "not read");
}

#[test]
fn an_encrypted_vni_without_its_rules_is_a_finding() {
    let mut c = encrypted_pair(
        Some(vec![sa(A, B, 0x100), sa(B, A, 0x200)]),
        Some(vec![sa(B, A, 0x200), sa(A, B, 0x100)]),
    );
    let s = c.nodes[0].snapshot.as_mut().unwrap();
    s.namespaces[0].firewall = Some(Firewall::default());
    let g = build_cluster(&c);
    assert_eq!(
        codes(&g),
        vec!["encrypted-vxlan-unguarded", "encrypted-vxlan-unmarked"]
    );
    assert!(g
        .findings
        .iter()
        .any(|f| f.elements.contains(&"host:a".to_owned())));

    // 29.6+ nftables: the VNI in docker-overlay's set, with its drop and mark rules.
    let s = c.nodes[0].snapshot.as_mut().unwrap();
    s.namespaces[0].firewall = Some(Firewall {
        nftables: Some(serde_json::json!({"nftables": [
            {"table": {"family": "ip", "name": "docker-overlay"}},
            {"set": {"family": "ip", "table": "docker-overlay", "name": "encrypted-vnis", "elem": [4097]}},
            {"rule": {"family": "ip", "table": "docker-overlay", "chain": "enc-in",
                      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "secpath"}}, "right": false}}, {"drop": null}]}},
            {"rule": {"family": "ip", "table": "docker-overlay", "chain": "enc-out",
                      "expr": [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": 13681891}}]}}
        ]})),
        ..Default::default()
    });
    assert!(codes(&build_cluster(&c)).is_empty());
}
