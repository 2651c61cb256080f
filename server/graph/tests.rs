//! Graph derivation on hand-made snapshots: the joins, the findings, determinism.

use std::collections::BTreeMap;

use crate::snapshot::*;

use super::model::*;
use super::{build, dot};

fn ns(ino: u64, name: &str, role: NamespaceRole) -> Namespace {
    Namespace {
        id: NsIdentity { dev: 4, ino },
        name: name.into(),
        role,
        ipvs: IpvsState::Services { services: vec![] },
        ..Default::default()
    }
}

fn link(ifindex: u32, name: &str, kind: &str) -> Link {
    Link {
        ifindex,
        name: name.into(),
        kind: kind.into(),
        link_type: 1,
        mtu: 1500,
        oper_state: "up".into(),
        admin_up: true,
        ..Default::default()
    }
}

fn veth(ifindex: u32, name: &str, peer: u32, nsid: Option<i32>) -> Link {
    Link {
        link: Some(peer),
        link_netnsid: nsid,
        ..link(ifindex, name, "veth")
    }
}

fn map(nsid: i32, ino: u64) -> NsIdMapping {
    NsIdMapping {
        nsid,
        target: NsIdentity { dev: 4, ino },
    }
}

fn snapshot(namespaces: Vec<Namespace>) -> NodeSnapshot {
    NodeSnapshot {
        schema: NODE_SCHEMA.into(),
        node: NodeIdentity {
            hostname: "n1".into(),
            ..Default::default()
        },
        namespaces,
        ..Default::default()
    }
}

fn edges_of(g: &Graph, kind: EdgeKind) -> Vec<(String, String)> {
    g.edges
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect()
}

fn codes(g: &Graph) -> Vec<&str> {
    g.findings.iter().map(|f| f.code.as_str()).collect()
}

/// Host with veth pairs to two namespaces whose ends have the same name and ifindex: only the nsid tells them apart.
fn twin_namespaces() -> NodeSnapshot {
    let mut host = ns(1, "host", NamespaceRole::Host);
    host.links = vec![
        link(1, "lo", ""),
        link(3, "docker0", "bridge"),
        veth(7, "vethA", 2, Some(5)),
        veth(8, "vethB", 2, Some(0)),
    ];
    host.links[2].master = Some(3);
    host.links[3].master = Some(3);
    host.nsids = vec![map(0, 30), map(5, 20)];
    let mut a = ns(20, "aaaa", NamespaceRole::Other);
    a.links = vec![veth(2, "eth0", 7, Some(0))];
    a.nsids = vec![map(0, 1)];
    let mut b = ns(30, "bbbb", NamespaceRole::Other);
    b.links = vec![veth(2, "eth0", 8, Some(3))];
    b.nsids = vec![map(3, 1)];
    snapshot(vec![host, a, b])
}

#[test]
fn veth_pairs_follow_the_nsid_map_not_names() {
    let g = build(&[twin_namespaces()]);
    let mut pairs = edges_of(&g, EdgeKind::VethPair);
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            (
                "if:n1/aaaa/eth0".to_string(),
                "if:n1/host/vethA".to_string()
            ),
            (
                "if:n1/bbbb/eth0".to_string(),
                "if:n1/host/vethB".to_string()
            ),
        ]
    );
    let a = g
        .elements
        .iter()
        .find(|e| e.id == "if:n1/host/vethA")
        .unwrap();
    assert_eq!(a.attrs["peer"], "if:n1/aaaa/eth0");
    assert!(
        !codes(&g).contains(&"veth-peer-missing"),
        "{:?}",
        g.findings
    );
}

#[test]
fn unresolved_nsid_is_unseen_not_guessed() {
    let mut s = twin_namespaces();
    s.namespaces[0].nsids.retain(|m| m.nsid != 5);
    s.namespaces[1].nsids.clear();
    let g = build(&[s]);
    let pairs = edges_of(&g, EdgeKind::VethPair);
    assert!(
        !pairs
            .iter()
            .any(|(a, b)| a.contains("vethA") || b.contains("vethA")),
        "{pairs:?}"
    );
    let unseen: Vec<&Finding> = g
        .findings
        .iter()
        .filter(|f| f.code == "veth-peer-unseen")
        .collect();
    let mut ids: Vec<&str> = unseen.iter().map(|f| f.elements[0].as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["if:n1/aaaa/eth0", "if:n1/host/vethA"]);
    let host_side = unseen
        .iter()
        .find(|f| f.elements[0] == "if:n1/host/vethA")
        .unwrap();
    assert!(
        host_side.message.contains("nsid 5"),
        "{}",
        host_side.message
    );
}

#[test]
fn one_confirmed_direction_is_enough_because_pairing_is_symmetric() {
    let mut s = twin_namespaces();
    s.namespaces[0].nsids.retain(|m| m.nsid != 5);
    let g = build(&[s]);
    assert!(edges_of(&g, EdgeKind::VethPair).contains(&(
        "if:n1/aaaa/eth0".to_string(),
        "if:n1/host/vethA".to_string()
    )));
    assert!(!codes(&g).contains(&"veth-peer-unseen"), "{:?}", g.findings);
    let a = g
        .elements
        .iter()
        .find(|e| e.id == "if:n1/host/vethA")
        .unwrap();
    assert_eq!(a.attrs["peer_netns"], "aaaa");
}

#[test]
fn peer_that_does_not_point_back_is_not_paired() {
    let mut s = twin_namespaces();
    // aaaa's eth0 now claims vethB (ifindex 8) as its peer: the pair A<->vethA is inconsistent.
    s.namespaces[1].links[0].link = Some(8);
    let g = build(&[s]);
    assert!(!edges_of(&g, EdgeKind::VethPair)
        .iter()
        .any(|(a, b)| a.contains("aaaa") || b.contains("aaaa")));
    assert!(codes(&g).contains(&"veth-peer-missing"));
}

#[test]
fn vanished_peer_is_missing() {
    let mut s = twin_namespaces();
    s.namespaces[2].links.clear();
    let g = build(&[s]);
    let f: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "veth-peer-missing")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].elements, vec!["if:n1/host/vethB".to_string()]);
}

#[test]
fn bridge_ports_and_empty_bridges() {
    let mut s = twin_namespaces();
    s.namespaces[0].links.push(link(9, "br-empty", "bridge"));
    let g = build(&[s]);
    let mut ports = edges_of(&g, EdgeKind::BridgePort);
    ports.sort();
    assert_eq!(
        ports,
        vec![
            (
                "if:n1/host/vethA".to_string(),
                "if:n1/host/docker0".to_string()
            ),
            (
                "if:n1/host/vethB".to_string(),
                "if:n1/host/docker0".to_string()
            ),
        ]
    );
    let f: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "bridge-no-ports")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].elements, vec!["if:n1/host/br-empty".to_string()]);
}

fn with_engine() -> NodeSnapshot {
    let mut s = twin_namespaces();
    s.namespaces[1].paths = vec!["/run/docker/netns/aaaa".into()];
    s.namespaces[1].role = NamespaceRole::Container;
    let mut options = BTreeMap::new();
    options.insert(
        "com.docker.network.bridge.name".to_string(),
        "docker0".to_string(),
    );
    s.engine = Some(EngineFacts {
        swarm: SwarmFacts {
            local_state: "inactive".into(),
            ..Default::default()
        },
        networks: vec![Network {
            id: "n0".repeat(32),
            name: "bridge".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            options,
            ..Default::default()
        }],
        containers: vec![Container {
            id: "c1".repeat(32),
            name: "web".into(),
            state: "running".into(),
            pid: 4242,
            sandbox_key: "/var/run/docker/netns/aaaa".into(),
            endpoints: vec![ContainerEndpoint {
                network_name: "bridge".into(),
                network_id: "n0".repeat(32),
                ipv4: "198.18.0.2".into(),
                mac: "02:42:c6:12:00:02".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    s
}

#[test]
fn containers_join_their_sandbox_and_networks() {
    let g = build(&[with_engine()]);
    assert_eq!(
        edges_of(&g, EdgeKind::Sandbox),
        vec![("ctr:n1/web".to_string(), "netns:n1/aaaa".to_string())]
    );
    let ep = g
        .edges
        .iter()
        .find(|e| e.kind == EdgeKind::Endpoint)
        .unwrap();
    assert_eq!(
        (ep.source.as_str(), ep.target.as_str()),
        ("ctr:n1/web", "net:n1/bridge")
    );
    assert_eq!(ep.attrs["ip"], "198.18.0.2");
    assert_eq!(
        edges_of(&g, EdgeKind::Carries),
        vec![(
            "net:n1/bridge".to_string(),
            "if:n1/host/docker0".to_string()
        )]
    );
    // bbbb is explained by nothing; aaaa is web's sandbox.
    let unexplained: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "netns-unexplained")
        .flat_map(|f| f.elements.clone())
        .collect();
    assert_eq!(unexplained, vec!["netns:n1/bbbb".to_string()]);
}

#[test]
fn running_container_without_a_namespace_is_a_finding() {
    let mut s = with_engine();
    s.namespaces.remove(1);
    let g = build(&[s]);
    assert!(codes(&g).contains(&"container-sandbox-missing"));
}

#[test]
fn vxlan_fdb_entries_become_edges_to_remotes() {
    let mut s = twin_namespaces();
    let mut o = ns(40, "1-abcdefghij", NamespaceRole::Overlay);
    let mut vx = link(5, "vxlan0", "vxlan");
    vx.vxlan = Some(VxlanInfo {
        vni: 4097,
        port: 4789,
        ..Default::default()
    });
    vx.master = Some(4);
    o.links = vec![link(4, "br0", "bridge"), vx];
    o.fdb = vec![
        FdbEntry {
            ifindex: 5,
            mac: "02:42:0a:00:00:03".into(),
            dst: Some("198.19.0.2".into()),
            ..Default::default()
        },
        FdbEntry {
            ifindex: 5,
            mac: "02:42:0a:00:00:04".into(),
            dst: Some("198.19.0.2".into()),
            ..Default::default()
        },
        FdbEntry {
            ifindex: 5,
            mac: "02:42:0a:00:00:05".into(),
            dst: Some("198.19.0.3".into()),
            vni: Some(4098),
            ..Default::default()
        },
        FdbEntry {
            ifindex: 4,
            mac: "02:42:0a:00:00:09".into(),
            ..Default::default()
        },
    ];
    s.namespaces.push(o);
    let g = build(&[s]);
    let fdb: Vec<_> = g.edges.iter().filter(|e| e.kind == EdgeKind::Fdb).collect();
    assert_eq!(fdb.len(), 2);
    assert_eq!(fdb[0].target, "remote:198.19.0.2");
    assert_eq!(fdb[0].attrs["vni"], 4097);
    assert_eq!(
        fdb[0].attrs["macs"],
        serde_json::json!(["02:42:0a:00:00:03", "02:42:0a:00:00:04"])
    );
    assert_eq!(fdb[1].attrs["vni"], 4098);
    assert!(g
        .elements
        .iter()
        .any(|e| e.id == "remote:198.19.0.3" && e.kind == ElementKind::Remote));
    assert_eq!(
        edges_of(&g, EdgeKind::BridgePort),
        {
            let mut v = edges_of(&g, EdgeKind::BridgePort);
            v.retain(|(a, _)| a.contains("vxlan0"));
            v
        }
        .into_iter()
        .chain(
            edges_of(&g, EdgeKind::BridgePort)
                .into_iter()
                .filter(|(a, _)| !a.contains("vxlan0"))
        )
        .collect::<Vec<_>>()
    );
    assert!(edges_of(&g, EdgeKind::BridgePort).contains(&(
        "if:n1/1-abcdefghij/vxlan0".into(),
        "if:n1/1-abcdefghij/br0".into()
    )));
}

#[test]
fn missing_ipvs_in_a_swarm_is_an_error_finding() {
    let mut s = with_engine();
    for n in &mut s.namespaces {
        n.ipvs = IpvsState::Unavailable {
            reason: "IPVS not available in this kernel".into(),
        };
    }
    assert!(
        !codes(&build(&[s.clone()])).contains(&"ipvs-unavailable"),
        "not in a swarm: no finding"
    );
    s.engine.as_mut().unwrap().swarm.local_state = "active".into();
    let g = build(&[s]);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "ipvs-unavailable")
        .expect("finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.elements[0], "host:n1");
    assert_eq!(g.findings[0].severity, Severity::Error, "errors come first");
}

#[test]
fn failed_sources_are_findings() {
    let mut s = with_engine();
    s.sources.push(SourceStatus::error(
        SourceKind::Iptables,
        Some("aaaa"),
        "iptables-save not found",
    ));
    let g = build(&[s]);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "source-error")
        .expect("finding");
    assert_eq!(f.elements, vec!["netns:n1/aaaa".to_string()]);
    assert!(f.message.contains("iptables-save not found"));
}

#[test]
fn firewall_rules_that_name_an_interface_are_attached_to_it() {
    let mut s = with_engine();
    let rule = |chain: &str, text: &str, i: Option<&str>, o: Option<&str>| Rule {
        chain: chain.into(),
        text: text.into(),
        in_interface: i.map(Into::into),
        out_interface: o.map(Into::into),
        ..Default::default()
    };
    s.namespaces[0].firewall = Some(Firewall {
        ipv4: vec![Table {
            name: "nat".into(),
            chains: vec![],
            rules: vec![
                rule(
                    "POSTROUTING",
                    "-A POSTROUTING -s 198.18.0.0/24 ! -o docker0 -j MASQUERADE",
                    None,
                    Some("! docker0"),
                ),
                rule(
                    "DOCKER",
                    "-A DOCKER -i docker0 -j RETURN",
                    Some("docker0"),
                    None,
                ),
                rule(
                    "FORWARD",
                    "-A FORWARD -o veth+ -j ACCEPT",
                    None,
                    Some("veth+"),
                ),
                rule(
                    "FORWARD",
                    "-A FORWARD -o eth9 -j ACCEPT",
                    None,
                    Some("eth9"),
                ),
            ],
        }],
        ..Default::default()
    });
    let g = build(&[s]);
    let docker0 = g
        .elements
        .iter()
        .find(|e| e.id == "if:n1/host/docker0")
        .unwrap();
    let rules = docker0.attrs["firewall_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    let veth_a = g
        .elements
        .iter()
        .find(|e| e.id == "if:n1/host/vethA")
        .unwrap();
    assert_eq!(
        veth_a.attrs["firewall_rules"][0],
        "ipv4 nat: -A FORWARD -o veth+ -j ACCEPT"
    );
}

#[test]
fn output_does_not_depend_on_input_order() {
    let a = with_engine();
    let mut b = a.clone();
    b.namespaces.reverse();
    for n in &mut b.namespaces {
        n.links.reverse();
        n.nsids.reverse();
    }
    b.sources.reverse();
    let ctr = &mut b.engine.as_mut().unwrap().containers[0];
    ctr.endpoints.push(ContainerEndpoint {
        network_id: "a-first".into(),
        ipv4: "198.18.9.9".into(),
        ..Default::default()
    });
    ctr.endpoints.reverse();
    let a = {
        let mut a = a;
        a.engine.as_mut().unwrap().containers[0]
            .endpoints
            .push(ContainerEndpoint {
                network_id: "a-first".into(),
                ipv4: "198.18.9.9".into(),
                ..Default::default()
            });
        a
    };
    let ga = serde_json::to_vec(&build(std::slice::from_ref(&a))).unwrap();
    let gb = serde_json::to_vec(&build(&[b])).unwrap();
    assert_eq!(ga, gb);
    assert_eq!(
        ga,
        serde_json::to_vec(&build(&[a])).unwrap(),
        "same input, same bytes"
    );
}

#[test]
fn json_has_the_documented_shape() {
    let v = serde_json::to_value(build(&[with_engine()])).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["edges", "elements", "findings", "schema"]);
    assert_eq!(v["schema"], GRAPH_SCHEMA);
    let e = &v["elements"][0];
    for k in ["id", "kind", "label", "attrs"] {
        assert!(e.get(k).is_some(), "element lacks {k}: {e}");
    }
    let iface = v["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "interface")
        .unwrap();
    assert!(iface["parent"].as_str().unwrap().starts_with("netns:"));
}

#[test]
fn dot_output_quotes_hostile_names() {
    let mut s = with_engine();
    s.engine.as_mut().unwrap().networks[0].name = "x\"<img src=x onerror=alert(1)>".into();
    let text = dot::to_dot(&build(&[s]));
    assert!(text.starts_with("digraph dockmap {"));
    assert!(text.contains("subgraph \"cluster_netns:n1/host\""));
    assert!(text.contains("x\\\"<img"), "quote escaped");
    assert!(text.contains("\"if:n1/host/vethA\" -> \"if:n1/host/docker0\""));
}
