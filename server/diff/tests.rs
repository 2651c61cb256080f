//! The diff on hand-made snapshots: one host, docker0 with two containers, an overlay namespace
//! with a VXLAN device and its FDB, and NAT rules.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::snapshot::*;

const HOST: NsIdentity = NsIdentity { dev: 4, ino: 1 };

fn ns_id(ino: u64) -> NsIdentity {
    NsIdentity { dev: 4, ino }
}

fn link(ifindex: u32, name: &str, kind: &str, mtu: u32, mac: &str) -> Link {
    Link {
        ifindex,
        name: name.into(),
        kind: kind.into(),
        link_type: if name == "lo" { 772 } else { 1 },
        mtu,
        mac: mac.into(),
        oper_state: "up".into(),
        admin_up: true,
        stats: Some(LinkStats {
            rx_bytes: 1000,
            tx_bytes: 2000,
            rx_packets: 10,
            tx_packets: 20,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn veth(ifindex: u32, name: &str, mac: &str, peer: u32, nsid: i32) -> Link {
    Link {
        link: Some(peer),
        link_netnsid: Some(nsid),
        ..link(ifindex, name, "veth", 1500, mac)
    }
}

fn addr(ifindex: u32, a: &str, len: u8) -> Address {
    Address {
        ifindex,
        family: 4,
        address: a.into(),
        prefix_len: len,
        scope: "universe".into(),
    }
}

fn fdb(ifindex: u32, mac: &str, dst: Option<&str>, state: &str) -> FdbEntry {
    FdbEntry {
        ifindex,
        mac: mac.into(),
        dst: dst.map(Into::into),
        state: vec![state.into()],
        flags: vec!["self".into()],
        ..Default::default()
    }
}

fn rule(chain: &str, text: &str, inif: Option<&str>) -> Rule {
    Rule {
        chain: chain.into(),
        text: text.into(),
        in_interface: inif.map(Into::into),
        ..Default::default()
    }
}

const DNAT: &str =
    "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.1.2:80";

/// A container: its sandbox (ino), the host-side veth, and the engine's record.
struct Ctr {
    name: &'static str,
    sandbox: &'static str,
    ino: u64,
    host_if: u32,
    veth: &'static str,
    ip: &'static str,
    nsid: i32,
}

const WEB: Ctr = Ctr {
    name: "web",
    sandbox: "aaaaaaaaaaaa",
    ino: 2,
    host_if: 10,
    veth: "vethaaa",
    ip: "198.18.1.2",
    nsid: 0,
};
const DB: Ctr = Ctr {
    name: "db",
    sandbox: "bbbbbbbbbbbb",
    ino: 3,
    host_if: 11,
    veth: "vethbbb",
    ip: "198.18.1.3",
    nsid: 1,
};
const CACHE: Ctr = Ctr {
    name: "cache",
    sandbox: "cccccccccccc",
    ino: 5,
    host_if: 12,
    veth: "vethccc",
    ip: "198.18.1.4",
    nsid: 2,
};

fn sandbox(c: &Ctr) -> Namespace {
    Namespace {
        id: ns_id(c.ino),
        name: c.sandbox.into(),
        paths: vec![format!("/run/docker/netns/{}", c.sandbox)],
        role: NamespaceRole::Container,
        links: vec![
            link(1, "lo", "", 65536, "00:00:00:00:00:00"),
            veth(
                2,
                "eth0",
                &format!("02:42:c6:12:01:{:02x}", c.ino),
                c.host_if,
                0,
            ),
        ],
        addresses: vec![addr(2, c.ip, 24)],
        nsids: vec![NsIdMapping {
            nsid: 0,
            target: HOST,
        }],
        neighbours: vec![Neighbour {
            ifindex: 2,
            family: 4,
            address: "198.18.1.1".into(),
            mac: Some("02:42:aa:bb:cc:dd".into()),
            state: vec!["reachable".into()],
        }],
        ipvs: IpvsState::Unavailable {
            reason: "no IPVS".into(),
        },
        ..Default::default()
    }
}

fn container(c: &Ctr) -> Container {
    Container {
        id: format!("{}{}", c.sandbox, "0".repeat(52)),
        name: c.name.into(),
        image: "busybox".into(),
        state: "running".into(),
        pid: 1000 + c.ino as i64,
        network_mode: "default".into(),
        sandbox_key: format!("/var/run/docker/netns/{}", c.sandbox),
        sandbox_id: c.sandbox.into(),
        endpoints: vec![ContainerEndpoint {
            network_name: "bridge".into(),
            network_id: "netbridge".into(),
            endpoint_id: format!("ep-{}", c.name),
            ipv4: c.ip.into(),
            ipv4_prefix_len: 24,
            mac: format!("02:42:c6:12:01:{:02x}", c.ino),
            gateway: "198.18.1.1".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The node with the given containers.
fn node(ctrs: &[&Ctr]) -> NodeSnapshot {
    let mut host_links = vec![
        link(1, "lo", "", 65536, "00:00:00:00:00:00"),
        link(2, "eth0", "", 1500, "52:54:00:00:00:01"),
        Link {
            bridge: Some(BridgeInfo::default()),
            ..link(3, "docker0", "bridge", 1500, "02:42:aa:bb:cc:dd")
        },
    ];
    let mut nsids = Vec::new();
    let mut host_fdb = Vec::new();
    for c in ctrs {
        host_links.push(Link {
            master: Some(3),
            ..veth(
                c.host_if,
                c.veth,
                &format!("ae:00:00:00:00:{:02x}", c.ino),
                2,
                c.nsid,
            )
        });
        nsids.push(NsIdMapping {
            nsid: c.nsid,
            target: ns_id(c.ino),
        });
        host_fdb.push(FdbEntry {
            master: Some(3),
            flags: vec![],
            ..fdb(
                c.host_if,
                &format!("ae:00:00:00:00:{:02x}", c.ino),
                None,
                "permanent",
            )
        });
        // Learned from traffic: comes and goes, never a difference.
        host_fdb.push(FdbEntry {
            master: Some(3),
            flags: vec!["master".into()],
            ..fdb(
                c.host_if,
                &format!("02:42:c6:12:01:{:02x}", c.ino),
                None,
                "reachable",
            )
        });
        host_fdb.push(fdb(c.host_if, "33:33:00:00:00:01", None, "permanent"));
    }
    let host = Namespace {
        id: HOST,
        name: "host".into(),
        paths: vec!["/run/docker/netns/default".into()],
        role: NamespaceRole::Host,
        links: host_links,
        addresses: vec![addr(2, "198.18.0.10", 24), addr(3, "198.18.1.1", 24)],
        routes: vec![Route {
            family: 4,
            table: 254,
            destination: "198.18.1.0".into(),
            prefix_len: 24,
            oif: Some(3),
            route_type: "unicast".into(),
            protocol: "kernel".into(),
            scope: "link".into(),
            ..Default::default()
        }],
        neighbours: vec![Neighbour {
            ifindex: 2,
            family: 4,
            address: "198.18.0.1".into(),
            mac: Some("52:54:00:00:00:fe".into()),
            state: vec!["reachable".into()],
        }],
        fdb: host_fdb,
        nsids,
        firewall: Some(Firewall {
            backend: "nf_tables".into(),
            ipv4: vec![Table {
                name: "nat".into(),
                chains: vec![
                    Chain {
                        name: "PREROUTING".into(),
                        policy: Some("ACCEPT".into()),
                    },
                    Chain {
                        name: "DOCKER".into(),
                        policy: None,
                    },
                ],
                rules: vec![
                    rule(
                        "PREROUTING",
                        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
                        None,
                    ),
                    rule("DOCKER", "-A DOCKER -i docker0 -j RETURN", Some("docker0")),
                    rule("DOCKER", DNAT, Some("!docker0")),
                ],
            }],
            ipv6: vec![],
            nftables: None,
        }),
        ipvs: IpvsState::Unavailable {
            reason: "no IPVS".into(),
        },
        xfrm: None,
        sysctls: None,
        listeners: None,
    };
    let overlay = Namespace {
        id: ns_id(4),
        name: "1-abcdef1234".into(),
        paths: vec!["/run/docker/netns/1-abcdef1234".into()],
        role: NamespaceRole::Overlay,
        links: vec![
            link(1, "lo", "", 65536, "00:00:00:00:00:00"),
            Link {
                vxlan: Some(VxlanInfo {
                    vni: 4097,
                    port: 4789,
                    ..Default::default()
                }),
                ..link(2, "vxlan0", "vxlan", 1450, "ea:00:00:00:00:01")
            },
        ],
        fdb: vec![
            fdb(2, "02:42:0a:00:00:05", Some("198.18.0.11"), "permanent"),
            fdb(2, "02:42:0a:00:00:06", Some("198.18.0.11"), "permanent"),
        ],
        ipvs: IpvsState::NotRead,
        ..Default::default()
    };
    let mut namespaces = vec![host, overlay];
    namespaces.extend(ctrs.iter().map(|c| sandbox(c)));
    NodeSnapshot {
        schema: NODE_SCHEMA.into(),
        taken_at: "2026-11-26T01:00:00.000Z".into(),
        duration_ms: 120,
        node: NodeIdentity {
            hostname: "n1".into(),
            kernel: "6.1.0".into(),
            dockmap_version: "0.1.0".into(),
            ..Default::default()
        },
        sources: vec![SourceStatus::ok(SourceKind::Engine, None)],
        engine: Some(EngineFacts {
            // The engine ID is the hostname here, so element IDs read `if:n1/…`.
            id: "n1".into(),
            name: "n1".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            root_dir: "/var/lib/docker".into(),
            swarm: SwarmFacts {
                local_state: "inactive".into(),
                ..Default::default()
            },
            containers: ctrs.iter().map(|c| container(c)).collect(),
            networks: vec![Network {
                id: "netbridge".into(),
                name: "bridge".into(),
                driver: "bridge".into(),
                scope: "local".into(),
                ipam: vec![IpamConfig {
                    subnet: "198.18.1.0/24".into(),
                    gateway: "198.18.1.1".into(),
                    ..Default::default()
                }],
                options: BTreeMap::from([(
                    "com.docker.network.bridge.name".to_string(),
                    "docker0".to_string(),
                )]),
                endpoints: ctrs
                    .iter()
                    .map(|c| NetworkEndpoint {
                        key: container(c).id,
                        name: c.name.into(),
                        endpoint_id: format!("ep-{}", c.name),
                        mac: format!("02:42:c6:12:01:{:02x}", c.ino),
                        ipv4: format!("{}/24", c.ip),
                        ipv6: String::new(),
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        namespaces,
    }
}

fn two() -> NodeSnapshot {
    node(&[&WEB, &DB])
}

fn run(a: NodeSnapshot, b: NodeSnapshot) -> Diff {
    diff_clusters(cluster_of(vec![a]), cluster_of(vec![b]))
}

fn ns_mut<'a>(s: &'a mut NodeSnapshot, name: &str) -> &'a mut Namespace {
    s.namespaces.iter_mut().find(|n| n.name == name).unwrap()
}

fn ids(d: &Diff, change: Change) -> Vec<&str> {
    d.elements
        .iter()
        .filter(|e| e.change == change)
        .map(|e| e.id.as_str())
        .collect()
}

fn element<'a>(d: &'a Diff, id: &str) -> &'a ElementChange {
    d.elements
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("{id} not in the diff: {:#?}", d.elements))
}

fn attr<'a>(e: &'a ElementChange, name: &str) -> &'a AttrChange {
    e.attrs
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{} has no change of {name}: {:#?}", e.id, e.attrs))
}

#[test]
fn the_fixture_is_a_real_picture() {
    // Guards the other tests: a fixture the graph could not join would make every diff trivial.
    let s = Side::of(cluster_of(vec![two()]));
    let has = |id: &str| s.graph.elements.iter().any(|e| e.id == id);
    assert!(has("ctr:n1/web") && has("netns:n1/aaaaaaaaaaaa") && has("if:n1/host/vethaaa"));
    let kinds: Vec<_> = s.graph.edges.iter().map(|e| e.kind).collect();
    for k in [
        crate::graph::EdgeKind::VethPair,
        crate::graph::EdgeKind::Sandbox,
        crate::graph::EdgeKind::Endpoint,
        crate::graph::EdgeKind::Fdb,
        crate::graph::EdgeKind::BridgePort,
    ] {
        assert!(kinds.contains(&k), "no {k:?} edge in the fixture");
    }
}

#[test]
fn the_same_state_is_equal_and_counters_alone_are_no_difference() {
    let a = two();
    let mut b = two();
    assert!(run(a.clone(), b.clone()).equal);
    b.taken_at = "2026-11-26T02:00:00.000Z".into();
    b.duration_ms = 999;
    for ns in &mut b.namespaces {
        for l in &mut ns.links {
            if let Some(s) = l.stats.as_mut() {
                s.rx_bytes += 123_456;
                s.tx_packets += 77;
                s.rx_dropped += 1;
            }
        }
        // Learned state changes with traffic.
        for n in &mut ns.neighbours {
            n.state = vec!["stale".into()];
        }
    }
    ns_mut(&mut b, "host").fdb.push(FdbEntry {
        master: Some(3),
        flags: vec!["master".into()],
        ..fdb(10, "02:42:c6:12:01:99", None, "reachable")
    });
    let d = run(a, b);
    assert!(d.equal, "noise made a difference: {:#?}", d.elements);
    assert_eq!(d.counts, Counts::default());
}

#[test]
fn an_mtu_change_is_the_one_attribute_that_changed() {
    let a = two();
    let mut b = two();
    ns_mut(&mut b, "host").links[1].mtu = 9000;
    let d = run(a, b);
    assert!(!d.equal);
    assert_eq!(ids(&d, Change::Changed), vec!["if:n1/host/eth0"]);
    assert!(ids(&d, Change::Added).is_empty() && ids(&d, Change::Removed).is_empty());
    let e = element(&d, "if:n1/host/eth0");
    assert_eq!(e.attrs.len(), 1, "{:#?}", e.attrs);
    assert_eq!(attr(e, "mtu").old, Some(json!(1500)));
    assert_eq!(attr(e, "mtu").new, Some(json!(9000)));
}

#[test]
fn an_address_added_is_listed_as_an_added_item() {
    let a = two();
    let mut b = two();
    ns_mut(&mut b, "host")
        .addresses
        .push(addr(2, "198.18.0.20", 24));
    let d = run(a, b);
    let e = element(&d, "if:n1/host/eth0");
    let c = attr(e, "addresses");
    assert_eq!(c.added, vec![json!("198.18.0.20/24")]);
    assert!(c.removed.is_empty());
    assert_eq!(d.counts.elements_changed, 1);
}

#[test]
fn an_fdb_entry_removed_shows_on_the_vxlan_device_and_its_tunnel() {
    let a = two();
    let mut b = two();
    ns_mut(&mut b, "1-abcdef1234")
        .fdb
        .retain(|f| f.mac != "02:42:0a:00:00:06");
    let d = run(a, b);
    let e = element(&d, "if:n1/1-abcdef1234/vxlan0");
    let c = attr(e, "fdb");
    assert_eq!(c.removed.len(), 1);
    assert!(
        c.removed[0]
            .as_str()
            .unwrap()
            .starts_with("02:42:0a:00:00:06 dst 198.18.0.11"),
        "{c:?}"
    );
    assert!(c.added.is_empty());
    let edge = d
        .edges
        .iter()
        .find(|x| x.kind == crate::graph::EdgeKind::Fdb)
        .expect("the tunnel edge changed");
    assert_eq!(edge.change, Change::Changed);
    let macs = edge.attrs.iter().find(|x| x.name == "macs").unwrap();
    assert_eq!(macs.removed, vec![json!("02:42:0a:00:00:06")]);
}

#[test]
fn a_rule_changed_is_a_rule_removed_and_one_added_in_its_chain() {
    let a = two();
    let mut b = two();
    let new_rule =
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 198.18.1.2:80";
    ns_mut(&mut b, "host").firewall.as_mut().unwrap().ipv4[0].rules[2] =
        rule("DOCKER", new_rule, Some("!docker0"));
    let d = run(a, b);
    assert_eq!(d.firewall.len(), 1, "{:#?}", d.firewall);
    let c = &d.firewall[0];
    assert_eq!(
        (
            c.node.as_str(),
            c.namespace.as_str(),
            c.family.as_str(),
            c.table.as_str(),
            c.chain.as_str()
        ),
        ("n1", "host", "ipv4", "nat", "DOCKER")
    );
    assert_eq!(c.change, Change::Changed);
    assert_eq!(c.added, vec![new_rule.to_string()]);
    assert_eq!(c.removed, vec![DNAT.to_string()]);
    assert!(!c.reordered);
    assert_eq!((d.counts.rules_added, d.counts.rules_removed), (1, 1));
    // The namespace is listed (and highlighted) as changed, with the chain's rules.
    let ns = element(&d, "netns:n1/host");
    assert_eq!(ns.change, Change::Changed);
    assert_eq!(
        attr(ns, "firewall ipv4 nat DOCKER").added,
        vec![json!(new_rule)]
    );
}

#[test]
fn rules_in_another_order_are_reported_as_reordered() {
    let a = two();
    let mut b = two();
    ns_mut(&mut b, "host").firewall.as_mut().unwrap().ipv4[0]
        .rules
        .swap(1, 2);
    let d = run(a, b);
    assert_eq!(d.firewall.len(), 1);
    assert!(d.firewall[0].reordered);
    assert!(d.firewall[0].added.is_empty() && d.firewall[0].removed.is_empty());
}

#[test]
fn a_policy_change_is_reported() {
    let a = two();
    let mut b = two();
    ns_mut(&mut b, "host").firewall.as_mut().unwrap().ipv4[0].chains[0].policy =
        Some("DROP".into());
    let d = run(a, b);
    assert_eq!(d.firewall.len(), 1);
    assert_eq!(d.firewall[0].chain, "PREROUTING");
    assert_eq!(d.firewall[0].old_policy.as_deref(), Some("ACCEPT"));
    assert_eq!(d.firewall[0].new_policy.as_deref(), Some("DROP"));
}

#[test]
fn a_container_added_and_one_removed_with_their_wiring() {
    let a = node(&[&WEB, &DB]);
    let b = node(&[&WEB, &CACHE]);
    let d = run(a, b);
    assert_eq!(
        ids(&d, Change::Added),
        vec![
            "ctr:n1/cache",
            "if:n1/cccccccccccc/eth0",
            "if:n1/cccccccccccc/lo",
            "if:n1/host/vethccc",
            "netns:n1/cccccccccccc",
        ]
    );
    assert_eq!(
        ids(&d, Change::Removed),
        vec![
            "ctr:n1/db",
            "if:n1/bbbbbbbbbbbb/eth0",
            "if:n1/bbbbbbbbbbbb/lo",
            "if:n1/host/vethbbb",
            "netns:n1/bbbbbbbbbbbb",
        ]
    );
    // The web container, untouched, is not in the diff at all.
    assert!(!d
        .elements
        .iter()
        .any(|e| e.id.contains("web") || e.id.contains("aaaa")));
    // Its endpoint, sandbox, veth pair and bridge port came with it.
    let added_edges: Vec<_> = d
        .edges
        .iter()
        .filter(|x| x.change == Change::Added)
        .map(|x| x.kind)
        .collect();
    use crate::graph::EdgeKind::*;
    for k in [Endpoint, Sandbox, VethPair, BridgePort] {
        assert!(added_edges.contains(&k), "no {k:?} added: {added_edges:?}");
    }
    let ep = d
        .edges
        .iter()
        .find(|x| x.kind == Endpoint && x.change == Change::Added)
        .unwrap();
    assert_eq!(ep.source, "ctr:n1/cache");
    assert!(ep
        .attrs
        .iter()
        .any(|x| x.name == "ip" && x.new == Some(json!("198.18.1.4"))));
    // An added container carries what it has as new values, a removed one what it had as old.
    let cache = element(&d, "ctr:n1/cache");
    assert_eq!(attr(cache, "ips").added, vec![json!("198.18.1.4")]);
    let db = element(&d, "ctr:n1/db");
    assert_eq!(attr(db, "ips").removed, vec![json!("198.18.1.3")]);
    // The sandbox is listed under its container.
    assert_eq!(
        element(&d, "netns:n1/cccccccccccc").under.as_deref(),
        Some("ctr:n1/cache")
    );
    // So is the host end of its veth, under the container's end.
    assert_eq!(
        element(&d, "if:n1/host/vethccc").under.as_deref(),
        Some("if:n1/cccccccccccc/eth0")
    );
    // The network's endpoint list changed with them.
    assert!(ids(&d, Change::Changed).contains(&"net:n1/bridge"));
}

#[test]
fn the_order_of_lists_makes_no_difference() {
    let a = two();
    let mut b = two();
    b.namespaces.reverse();
    b.sources.reverse();
    for ns in &mut b.namespaces {
        ns.links.reverse();
        ns.addresses.reverse();
        ns.fdb.reverse();
        ns.nsids.reverse();
        ns.paths.reverse();
        ns.routes.reverse();
    }
    let e = b.engine.as_mut().unwrap();
    e.containers.reverse();
    e.networks.reverse();
    let d = run(a.clone(), b.clone());
    assert!(d.equal, "{:#?} {:#?}", d.elements, d.edges);
    // Also when the lists come in unsorted, with no normalization by the caller, on both sides.
    let d = run(b, a);
    assert!(d.equal);
}

#[test]
fn findings_added_and_removed_by_id() {
    let mut a = Side::of(cluster_of(vec![two()])).graph;
    let mut b = a.clone();
    let f = |id: &str, sev| crate::graph::Finding {
        id: id.into(),
        code: "mtu-mismatch".into(),
        severity: sev,
        message: "x".into(),
        elements: vec![],
    };
    a.findings = vec![f("gone:1", Severity::Warning), f("kept:1", Severity::Info)];
    b.findings = vec![f("new:1", Severity::Error), f("kept:1", Severity::Warning)];
    let fc = graph::findings(&a, &b);
    let got: Vec<_> = fc.iter().map(|x| (x.id.as_str(), x.change)).collect();
    assert_eq!(
        got,
        vec![
            ("new:1", Change::Added),
            ("gone:1", Change::Removed),
            ("kept:1", Change::Changed)
        ]
    );
    assert_eq!(fc[2].old_severity, Some(Severity::Info));
}

use crate::graph::Severity;

#[test]
fn json_is_versioned_and_deterministic() {
    let d1 = run(node(&[&WEB, &DB]), node(&[&WEB, &CACHE]));
    let d2 = run(node(&[&WEB, &DB]), node(&[&WEB, &CACHE]));
    let j1 = serde_json::to_string(&d1).unwrap();
    assert_eq!(j1, serde_json::to_string(&d2).unwrap());
    let v: serde_json::Value = serde_json::from_str(&j1).unwrap();
    assert_eq!(v["schema"], "dockmap.diff/1");
    assert_eq!(v["elements"][0]["change"], "added");
    let back: Diff = serde_json::from_str(&j1).unwrap();
    assert_eq!(back, d1);
}

#[test]
fn text_lists_what_came_went_and_changed() {
    let a = node(&[&WEB, &DB]);
    let mut b = node(&[&WEB, &CACHE]);
    ns_mut(&mut b, "host").links[1].mtu = 9000;
    let t = text::render(&run(a.clone(), b));
    assert!(t.contains("\nAdded\n"), "{t}");
    assert!(
        t.contains("+ container cache  ctr:n1/cache  (198.18.1.4)"),
        "{t}"
    );
    // The sandbox nests under its container.
    assert!(t.contains("\n    + netns cccccccccccc"), "{t}");
    assert!(t.contains("- container db  ctr:n1/db"), "{t}");
    assert!(t.contains("~ interface eth0  if:n1/host/eth0"), "{t}");
    assert!(t.contains("mtu: 1500 → 9000"), "{t}");
    let same = text::render(&run(a.clone(), a));
    assert!(same.contains("No differences."), "{same}");
}

#[test]
fn text_escapes_control_characters() {
    let a = node(&[&WEB]);
    let mut b = node(&[&WEB]);
    b.engine.as_mut().unwrap().containers[0].image = "evil\u{1b}[2J".into();
    let t = text::render(&run(a, b));
    assert!(!t.contains('\u{1b}'), "{t:?}");
    assert!(t.contains("evil\\u{1b}[2J"), "{t}");
}

#[test]
fn sides_are_read_as_node_array_or_cluster_and_bad_ones_refused() {
    let n = two();
    let one = serde_json::to_vec(&n).unwrap();
    assert_eq!(parse_side(&one).unwrap().nodes.len(), 1);
    let arr = serde_json::to_vec(&vec![n.clone(), n.clone()]).unwrap();
    assert_eq!(parse_side(&arr).unwrap().nodes.len(), 2);
    let cl = serde_json::to_vec(&cluster_of(vec![n.clone()])).unwrap();
    assert_eq!(parse_side(&cl).unwrap().nodes[0].name, "n1");
    let mut wrong = n.clone();
    wrong.schema = "dockmap.node-snapshot/99".into();
    let e = parse_side(&serde_json::to_vec(&wrong).unwrap()).unwrap_err();
    assert!(e.contains("dockmap.node-snapshot/99"), "{e}");
    assert!(parse_side(b"{not json").unwrap_err().contains("not JSON"));
    assert!(parse_side(b"[]").unwrap_err().contains("empty"));
    assert!(parse_side(&one[..one.len() / 2]).is_err());
}

#[test]
fn the_drawing_shows_the_removed_as_ghosts_and_marks_every_change() {
    let a = Side::of(cluster_of(vec![node(&[&WEB, &DB])]));
    let mut bn = node(&[&WEB, &CACHE]);
    ns_mut(&mut bn, "host").links[1].mtu = 9000;
    let b = Side::of(cluster_of(vec![bn]));
    let d = diff(&a, &b);
    let u = draw::union(&a.graph, &b.graph);
    assert!(u.elements.iter().any(|e| e.id == "ctr:n1/db"));
    assert!(u.elements.iter().any(|e| e.id == "ctr:n1/cache"));
    assert!(u.edges.iter().any(|e| e.source == "ctr:n1/db"));
    let ix = crate::layout::GraphIndex::new(&u);
    let drawn = draw::draw(&d, &u, &ix, &crate::layout::View::default());
    let class_of = |id: &str| -> String {
        let needle = format!("\" data-id=\"{id}\">");
        let end = drawn
            .svg
            .find(&needle)
            .unwrap_or_else(|| panic!("{id} not drawn"));
        let start = drawn.svg[..end].rfind("class=\"").unwrap() + 7;
        drawn.svg[start..end].to_owned()
    };
    assert!(class_of("ctr:n1/cache").split(' ').any(|c| c == "added"));
    assert!(class_of("ctr:n1/db").split(' ').any(|c| c == "removed"));
    assert!(class_of("if:n1/host/eth0")
        .split(' ')
        .any(|c| c == "changed"));
    assert!(!class_of("ctr:n1/web").contains("added"));
    assert!(
        drawn.svg.contains("<path class=\"e added k-"),
        "no edge marked added"
    );
    assert!(
        drawn.svg.contains("<path class=\"e removed k-"),
        "no edge marked removed"
    );
}

#[test]
fn marking_keeps_the_svg_intact() {
    let nodes = [("a&amp;b".to_string(), Change::Added)].into();
    let svg = r#"<svg><g class="n k-x" data-id="a&amp;b"><text>x</text></g><path class="e k-y" d="M0 0"/><g class="n k-x" data-id="c"></g><path class="e k-z"/></svg>"#;
    let out = draw::mark(svg, &nodes, &[None, Some(Change::Removed)]);
    assert_eq!(
        out,
        r#"<svg><g class="n k-x added" data-id="a&amp;b"><text>x</text></g><path class="e k-y" d="M0 0"/><g class="n k-x" data-id="c"></g><path class="e removed k-z"/></svg>"#
    );
}

#[test]
fn a_node_without_snapshot_on_one_side_is_not_everything_removed() {
    let mut other = node(&[&WEB]);
    other.node.hostname = "n2".into();
    if let Some(e) = other.engine.as_mut() {
        e.id = "n2".into();
    }
    let a = cluster_of(vec![two(), other]);
    let mut b = a.clone();
    let n2 = b.nodes.iter_mut().find(|n| n.name == "n2").unwrap();
    n2.snapshot = None;
    n2.state = NodeState::Unreachable;
    n2.error = "timed out".into();
    let d = diff_clusters(a, b);
    assert!(
        !d.elements.iter().any(|e| e.change == Change::Removed),
        "{:#?}",
        ids(&d, Change::Removed)
    );
    assert!(!d.edges.iter().any(|x| x.change == Change::Removed));
    assert_eq!(d.unseen.len(), 1);
    assert_eq!(
        (d.unseen[0].node.as_str(), d.unseen[0].side.as_str()),
        ("n2", "b")
    );
    assert!(d.unseen[0].why.contains("unreachable") && d.unseen[0].why.contains("timed out"));
    // The node's state is the change there is to see.
    let host = element(&d, "host:n2");
    assert_eq!(attr(host, "node_state").new, Some(json!("unreachable")));
    assert!(
        text::render(&d).contains("not compared: n2 (no snapshot in B: unreachable: timed out)")
    );
}

#[test]
fn host_of_names_the_host_of_per_host_ids_only() {
    assert_eq!(host_of("host:n1"), Some("n1"));
    assert_eq!(host_of("if:n1/host/eth0"), Some("n1"));
    assert_eq!(host_of("net:n1/bridge"), Some("n1"));
    assert_eq!(host_of("net:overlay-a"), None);
    assert_eq!(host_of("svc:web"), None);
    assert_eq!(host_of("remote:198.18.0.11"), None);
}
