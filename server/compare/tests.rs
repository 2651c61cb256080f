use super::*;
use crate::graph::ElementKind;
use crate::layout::View;
use crate::snapshot::{NamespaceRole, NodeSnapshot, Rule};
use crate::synthetic::{snapshots, SyntheticOptions};

fn swarm(hosts: usize, containers: usize) -> Vec<NodeSnapshot> {
    let mut s = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    for x in &mut s {
        x.normalize();
    }
    s
}

/// The same node twice, the right one changed by `f`.
fn before_after(f: impl FnOnce(&mut NodeSnapshot)) -> Comparison {
    let all = swarm(2, 24);
    let mut changed = all.clone();
    f(&mut changed[0]);
    let node = all[0].node.hostname.clone();
    let l = side(&all, &node, "before:node-00").unwrap();
    let r = side(&changed, &node, "after:node-00").unwrap();
    compare(l, r)
}

#[test]
fn side_specs_name_a_node_live_or_saved() {
    assert_eq!(
        SideSpec::parse("node1"),
        Some(SideSpec {
            snapshot: None,
            node: "node1".into()
        })
    );
    assert_eq!(
        SideSpec::parse("ab12:node2"),
        Some(SideSpec {
            snapshot: Some("ab12".into()),
            node: "node2".into()
        })
    );
    assert_eq!(SideSpec::parse("ab12:"), None);
    assert!(matches!(
        side(&swarm(1, 2), "nope", "nope"),
        Err(CompareError::NoSuchNode { .. })
    ));
}

#[test]
fn keys_drop_the_host_so_two_nodes_line_up() {
    let all = swarm(2, 40);
    let l = side(&all, "node-00", "node-00").unwrap();
    let r = side(&all, "node-01", "node-01").unwrap();
    for k in [
        "host:*",
        "netns:*/host",
        "if:*/host/docker0",
        "if:*/host/docker_gwbridge",
        "netns:*/ingress_sbox",
    ] {
        assert!(l.keyed.get(k).is_some(), "left lacks {k}");
        assert!(r.keyed.get(k).is_some(), "right lacks {k}");
    }
    // Local networks lose the host, swarm ones never had it.
    assert!(l.keyed.get("net:*/bridge").is_some());
    let swarm_net = l
        .keyed
        .graph
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Network && e.attrs["scope"] == "swarm")
        .unwrap();
    assert!(!swarm_net.id.contains('*'));
    // No key names a host, and every key maps back to one original ID of that node.
    for e in &l.keyed.graph.elements {
        assert!(!e.id.contains("node-00"), "{} still names its host", e.id);
        assert!(
            l.keyed.original[&e.id].contains("node-00")
                || !l.keyed.original[&e.id].contains("node-0")
        );
    }
    assert_eq!(l.keyed.graph.elements.len(), l.keyed.original.len());
    // A host-side veth is keyed by the container interface at its other end.
    assert!(l
        .keyed
        .graph
        .elements
        .iter()
        .any(|e| e.id.starts_with("if:*/host/veth>*/@")));
}

#[test]
fn a_container_on_one_side_only_is_listed_and_leaves_a_gap_at_the_same_place() {
    let mut gone = String::new();
    let c = before_after(|s| {
        let e = s.engine.as_mut().unwrap();
        let i = e
            .containers
            .iter()
            .position(|c| c.labels.is_empty())
            .unwrap();
        let ctr = e.containers.remove(i);
        gone = ctr.name.clone();
        let ns = ctr.sandbox_key.rsplit('/').next().unwrap().to_owned();
        s.namespaces.retain(|n| n.name != ns);
    });
    let key = format!("ctr:*/{gone}");
    let d = c
        .differences
        .iter()
        .find(|d| d.key == key)
        .unwrap_or_else(|| panic!("{key} not listed: {:?}", c.differences));
    assert_eq!(d.presence, Presence::Left);
    assert!(d.what.contains("only on before:node-00"), "{}", d.what);
    let ns_key = format!("netns:*/@{gone}");
    assert!(c
        .differences
        .iter()
        .any(|d| d.key == ns_key && d.presence == Presence::Left));
    // The container list comes first.
    assert_eq!(c.differences[0].kind, ElementKind::Container);

    let p = panes::panes(&c, &View::from_query("open=*"));
    let find = |s: &crate::layout::Scene, k: &str| s.nodes.iter().find(|n| n.id == k).cloned();
    let l = find(&p.left.scene, &key).expect("drawn on the left");
    let r = find(&p.right.scene, &key).expect("a gap on the right");
    assert_eq!(l.rect, r.rect);
    assert!(l.style.contains(panes::ONLY), "{}", l.style);
    assert!(r.style.contains(panes::GAP) && r.label.is_empty());
    // What both have sits at the same place, unmarked.
    let br = find(&p.left.scene, "if:*/host/docker0").unwrap();
    let br_r = find(&p.right.scene, "if:*/host/docker0").unwrap();
    assert_eq!(br.rect, br_r.rect);
    assert!(!br_r.style.contains("cmp-"));
    assert!(p.left.svg.contains(r#"id="map-left""#) && p.right.svg.contains(r#"id="map-right""#));
    // The right pane draws no edge to the missing container.
    assert!(!p
        .right
        .scene
        .edges
        .iter()
        .any(|e| e.source == key || e.target == key));
}

#[test]
fn mtu_fdb_and_rule_changes_are_listed() {
    let c = before_after(|s| {
        let host = s
            .namespaces
            .iter_mut()
            .find(|n| n.role == NamespaceRole::Host)
            .unwrap();
        host.links
            .iter_mut()
            .find(|l| l.name == "docker0")
            .unwrap()
            .mtu = 1400;
        let fw = host.firewall.as_mut().unwrap();
        let nat = fw.ipv4.iter_mut().find(|t| t.name == "nat").unwrap();
        nat.rules.push(Rule {
            chain: "DOCKER".into(),
            text: "-A DOCKER -i dmtest0 -j RETURN".into(),
            ..Default::default()
        });
        let ov = s
            .namespaces
            .iter_mut()
            .find(|n| n.role == NamespaceRole::Overlay && n.fdb.iter().any(|f| f.dst.is_some()))
            .unwrap();
        let i = ov.fdb.iter().position(|f| f.dst.is_some()).unwrap();
        ov.fdb.remove(i);
    });
    let mtu = c
        .differences
        .iter()
        .find(|d| d.key == "if:*/host/docker0")
        .expect("docker0 listed");
    assert_eq!(mtu.presence, Presence::Both);
    assert!(mtu.what.contains("mtu 1500 / 1400"), "{}", mtu.what);
    let fdb = c
        .differences
        .iter()
        .find(|d| d.what.starts_with("FDB entries differ"))
        .expect("the FDB difference");
    assert!(fdb.key.ends_with("/vxlan0"));
    assert!(fdb
        .details
        .iter()
        .any(|x| x.starts_with("< ") && x.contains(" dst ")));
    let rule = c
        .differences
        .iter()
        .find(|d| d.what.starts_with("ipv4 nat DOCKER"))
        .expect("the rule difference");
    assert_eq!(rule.key, "netns:*/host");
    assert_eq!(
        rule.details,
        vec!["> -A DOCKER -i dmtest0 -j RETURN".to_string()]
    );
    // Unchanged things are not listed.
    assert!(!c.differences.iter().any(|d| d.presence != Presence::Both));
}

#[test]
fn the_same_node_twice_has_no_differences() {
    let c = before_after(|_| {});
    assert!(c.differences.is_empty(), "{:?}", c.differences);
    let counts = c.report().counts;
    assert_eq!(counts.get("left_only"), None);
}

#[test]
fn nodes_sharing_a_hostname_are_compared_by_label_or_node_id() {
    let mut all = swarm(2, 24);
    for (s, id) in all
        .iter_mut()
        .zip(["s4czfr4551slwd73q7qt0941k", "x8j5y8w6k2bn0c7d1e9f3g4h5"])
    {
        s.node.hostname = "ubuntu".into();
        if let Some(e) = s.engine.as_mut() {
            e.swarm.node_id = id.into();
        }
    }
    match side(&all, "ubuntu", "ubuntu") {
        Err(CompareError::NoSuchNode(crate::graph::NodeLookupError::Ambiguous {
            candidates,
            ..
        })) => {
            assert_eq!(candidates, vec!["ubuntu@s4czfr", "ubuntu@x8j5y8"])
        }
        other => panic!(
            "a shared hostname must be refused as ambiguous: {:?}",
            other.map(|s| s.node)
        ),
    }
    let l = side(&all, "ubuntu@s4czfr", "ubuntu@s4czfr").expect("by label");
    let r = side(&all, "x8j5y8w6k2bn0c7d1e9f3g4h5", "x8j5…").expect("by node ID");
    assert_eq!(l.node, "ubuntu@s4czfr");
    assert_eq!(r.node, "ubuntu@x8j5y8");
    assert_eq!(l.key, "s4czfr4551sl");
    assert_ne!(
        l.snapshot.engine.as_ref().map(|e| &e.swarm.node_id),
        r.snapshot.engine.as_ref().map(|e| &e.swarm.node_id),
        "two different nodes, not one node twice"
    );
    let c = compare(l, r);
    assert!(
        !c.differences.is_empty(),
        "two nodes with different containers differ"
    );
}
