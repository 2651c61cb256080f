//! Real kernel fixtures through the whole pipeline: node snapshot, then graph. The graph must
//! report exactly the veth pairs, bridge ports, VXLAN FDB entries and rules the test built.

use crate::support;

use dockmap::collect::node::{collect, NodeOptions};
use dockmap::graph::{build, EdgeKind, Graph};
use support::netlab::{self, Lab};

fn pairs(g: &Graph, kind: EdgeKind, ns: &[&str]) -> Vec<(String, String)> {
    let mine = |id: &str| ns.iter().any(|n| id.contains(&format!("/{n}/")));
    let mut v: Vec<(String, String)> = g
        .edges
        .iter()
        .filter(|e| e.kind == kind && (mine(&e.source) || mine(&e.target)))
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    v.sort();
    v
}

#[test]
fn graph_of_built_namespaces_is_exactly_what_was_built() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = Lab::new();
    let hub = lab.netns("hub");
    let a = lab.netns("a");
    let b = lab.netns("b");
    // Both far ends are called eth0, and hub numbers a and b with non-zero nsids: only the nsid map can tell them apart.
    lab.set_nsid(&hub, &a, 7);
    lab.set_nsid(&hub, &b, 3);
    lab.veth(Some(&hub), "va", Some(&a), "eth0");
    lab.veth(Some(&hub), "vb", Some(&b), "eth0");
    lab.ip(Some(&hub), &["link", "add", "br9", "type", "bridge"]);
    lab.ip(Some(&hub), &["link", "set", "br9", "up"]);
    lab.ip(Some(&hub), &["link", "set", "va", "master", "br9"]);
    lab.ip(Some(&hub), &["link", "set", "vb", "master", "br9"]);
    lab.ip(Some(&hub), &["link", "add", "brlonely", "type", "bridge"]);
    lab.ip(Some(&hub), &["addr", "add", "198.18.33.1/24", "dev", "br9"]);
    lab.ip(
        Some(&hub),
        &[
            "link",
            "add",
            "vx9",
            "type",
            "vxlan",
            "id",
            "4097",
            "local",
            "198.18.33.1",
            "dstport",
            "4789",
            "nolearning",
        ],
    );
    lab.ip(Some(&hub), &["link", "set", "vx9", "master", "br9"]);
    lab.ip(Some(&hub), &["link", "set", "vx9", "up"]);
    lab.bridge(
        Some(&hub),
        &[
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vx9",
            "dst",
            "198.19.200.2",
        ],
    );
    lab.bridge(
        Some(&hub),
        &[
            "fdb",
            "add",
            "02:42:c6:13:c8:05",
            "dev",
            "vx9",
            "dst",
            "198.19.200.3",
        ],
    );
    netlab::run(
        "ip",
        &[
            "netns", "exec", &hub, "iptables", "-A", "FORWARD", "-i", "br9", "-o", "br9", "-j",
            "DROP",
        ],
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(collect(&NodeOptions {
        no_engine: true,
        netns_dirs: vec!["/run/netns".into()],
        ..Default::default()
    }));
    let g = build(std::slice::from_ref(&s));
    let h = &dockmap::graph::ids::host_key(&s);
    let id = |ns: &str, dev: &str| format!("if:{h}/{ns}/{dev}");

    assert_eq!(pairs(&g, EdgeKind::VethPair, &[&hub, &a, &b]), {
        let mut v = vec![
            (id(&a, "eth0"), id(&hub, "va")),
            (id(&b, "eth0"), id(&hub, "vb")),
        ];
        v.sort();
        v
    });
    assert_eq!(
        pairs(&g, EdgeKind::BridgePort, &[&hub]),
        vec![
            (id(&hub, "va"), id(&hub, "br9")),
            (id(&hub, "vb"), id(&hub, "br9")),
            (id(&hub, "vx9"), id(&hub, "br9"))
        ]
    );
    let fdb: Vec<_> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Fdb && e.source == id(&hub, "vx9"))
        .collect();
    let dsts: Vec<(&str, u64)> = fdb
        .iter()
        .map(|e| (e.target.as_str(), e.attrs["vni"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        dsts,
        vec![("remote:198.19.200.2", 4097), ("remote:198.19.200.3", 4097)]
    );
    assert_eq!(
        fdb[1].attrs["macs"],
        serde_json::json!(["02:42:c6:13:c8:05"])
    );

    let br9 = g.elements.iter().find(|e| e.id == id(&hub, "br9")).unwrap();
    assert_eq!(br9.attrs["type"], "bridge");
    assert_eq!(
        br9.attrs["addresses"][0], "198.18.33.1/24",
        "IPv4 first, then the kernel's link-local"
    );
    let rules = br9.attrs["firewall_rules"]
        .as_array()
        .expect("rules naming br9");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(rules[0]
        .as_str()
        .unwrap()
        .contains("-A FORWARD -i br9 -o br9 -j DROP"));

    let lonely: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code == "bridge-no-ports" && f.elements[0] == id(&hub, "brlonely"))
        .collect();
    assert_eq!(lonely.len(), 1);
    let mine_missing: Vec<_> = g
        .findings
        .iter()
        .filter(|f| f.code.starts_with("veth-peer") && f.elements.iter().any(|e| e.contains(&hub)))
        .collect();
    assert!(mine_missing.is_empty(), "{mine_missing:?}");

    // Delete b: its veth goes with it, and hub's vb is gone too (veths die in pairs); nothing is guessed.
    lab.delete_netns(&b);
    let s2 = rt.block_on(collect(&NodeOptions {
        no_engine: true,
        netns_dirs: vec!["/run/netns".into()],
        ..Default::default()
    }));
    let g2 = build(std::slice::from_ref(&s2));
    assert_eq!(
        pairs(&g2, EdgeKind::VethPair, &[&hub, &a]),
        vec![(id(&a, "eth0"), id(&hub, "va"))]
    );
}

#[test]
fn a_namespace_deleted_while_read_is_left_out_and_said() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = Lab::new();
    let keep = lab.netns("keep");
    let gone = lab.netns("gone");
    lab.veth(Some(&keep), "k0", Some(&gone), "g0");
    // Opened, then deleted before it is read: what a container stopping mid-snapshot does.
    let handles = vec![lab.handle(&keep), lab.handle(&gone)];
    lab.delete_netns(&gone);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (namespaces, sources) = rt.block_on(dockmap::collect::node::read_namespaces(&handles));

    let names: Vec<&str> = namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec![keep.as_str()], "the deleted one is left out");
    let said = sources
        .iter()
        .find(|s| s.namespace.as_deref() == Some(gone.as_str()))
        .unwrap_or_else(|| panic!("nothing said about {gone}: {sources:#?}"));
    assert_eq!(said.state, dockmap::snapshot::SourceState::Unavailable);
    assert!(said.message.contains("vanished"), "{}", said.message);
    // What survives is whole; the deletion is no failure of the node's netlink reading.
    assert!(namespaces[0].links.iter().any(|l| l.name == "k0"));
    let netlink = sources
        .iter()
        .find(|s| s.source == dockmap::snapshot::SourceKind::Netlink && s.namespace.is_none())
        .expect("node-wide netlink line");
    assert_eq!(netlink.state, dockmap::snapshot::SourceState::Ok);
}
