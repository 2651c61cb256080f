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
                node_id: format!("id-{host}"),
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
    let mut tunnels: Vec<(&str, &str)> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Fdb)
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    tunnels.sort();
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
    c.nodes.push(ClusterNode {
        name: "c".into(),
        source: "http://198.19.0.13:7879".into(),
        state: NodeState::Unreachable,
        error: "unreachable: connection refused".into(),
        snapshot_taken_at: None,
        age_s: None,
        snapshot: None,
    });
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
