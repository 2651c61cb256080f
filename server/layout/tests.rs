//! Determinism: the same snapshot gives the same bytes, whatever order its lists come in.

use crate::graph::derive;
use crate::graph::{self, Graph};
use crate::layout::{layout, View};
use crate::render;
use crate::snapshot::NodeSnapshot;
use crate::synthetic::{snapshots, SyntheticOptions};

/// A fixed-seed shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = (*seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn shuffle_snapshot(s: &mut NodeSnapshot, seed: &mut u64) {
    shuffle(&mut s.sources, seed);
    shuffle(&mut s.namespaces, seed);
    for ns in &mut s.namespaces {
        shuffle(&mut ns.links, seed);
        shuffle(&mut ns.addresses, seed);
        shuffle(&mut ns.routes, seed);
        shuffle(&mut ns.fdb, seed);
        shuffle(&mut ns.nsids, seed);
        shuffle(&mut ns.paths, seed);
    }
    if let Some(e) = s.engine.as_mut() {
        shuffle(&mut e.containers, seed);
        for c in &mut e.containers {
            shuffle(&mut c.endpoints, seed);
        }
        shuffle(&mut e.networks, seed);
        for n in &mut e.networks {
            shuffle(&mut n.endpoints, seed);
            shuffle(&mut n.peers, seed);
        }
        shuffle(&mut e.services, seed);
        shuffle(&mut e.tasks, seed);
        shuffle(&mut e.nodes, seed);
    }
}

/// Equal strings, or a panic that shows where they first differ (not megabytes of SVG).
fn same(a: &str, b: &str, what: &str) {
    if a == b {
        return;
    }
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(300);
    panic!(
        "{what}: differ at byte {at}\n left: …{}\nright: …{}",
        &a[from..(at + 200).min(a.len())],
        &b[from..(at + 200).min(b.len())]
    );
}

fn svg_of(g: &Graph, q: &str) -> String {
    render::svg(&layout(g, &View::from_query(q)).scene)
}

const VIEWS: &[&str] = &[
    "",
    "open=*",
    "hide=",
    "open=host%3Anode-01&sel=ctr%3Anode-02%2Fweb-0018",
];

#[test]
fn same_snapshot_same_bytes() {
    let o = SyntheticOptions {
        hosts: 3,
        containers: 60,
        hostile_names: true,
    };
    for q in VIEWS {
        let a = svg_of(&graph::build(&snapshots(&o)), q);
        let b = svg_of(&graph::build(&snapshots(&o)), q);
        same(&a, &b, &format!("view {q:?}"));
        assert!(a.len() > 1000);
    }
}

#[test]
fn shuffled_snapshot_lists_change_nothing() {
    let o = SyntheticOptions {
        hosts: 3,
        containers: 60,
        hostile_names: true,
    };
    let reference = derive(&mut snapshots(&o));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..3 {
        let mut snaps = snapshots(&o);
        shuffle(&mut snaps, &mut seed);
        for s in &mut snaps {
            shuffle_snapshot(s, &mut seed);
        }
        // The server's own pipeline: normalize, then build.
        let g = derive(&mut snaps);
        for q in VIEWS {
            same(
                &svg_of(&reference, q),
                &svg_of(&g, q),
                &format!("round {round}, view {q:?}"),
            );
        }
    }
}

#[test]
fn shuffled_graph_lists_change_nothing() {
    let o = SyntheticOptions {
        hosts: 2,
        containers: 30,
        hostile_names: false,
    };
    let g = graph::build(&snapshots(&o));
    let mut h = g.clone();
    let mut seed = 7u64;
    shuffle(&mut h.elements, &mut seed);
    shuffle(&mut h.edges, &mut seed);
    for q in VIEWS {
        same(&svg_of(&g, q), &svg_of(&h, q), q);
        assert_eq!(
            layout(&g, &View::from_query(q)).scene,
            layout(&h, &View::from_query(q)).scene
        );
    }
}

#[test]
fn every_visible_element_is_placed_once_without_overlap_among_leaves() {
    let o = SyntheticOptions {
        hosts: 2,
        containers: 30,
        hostile_names: true,
    };
    let g = graph::build(&snapshots(&o));
    let l = layout(&g, &View::from_query("open=*"));
    let mut ids: Vec<&str> = l.scene.nodes.iter().map(|n| n.id.as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an element placed twice");
    let leaves: Vec<_> = l.scene.nodes.iter().filter(|n| !n.compound).collect();
    for (i, a) in leaves.iter().enumerate() {
        for b in &leaves[i + 1..] {
            let (ra, rb) = (a.rect, b.rect);
            let apart = ra.right() <= rb.x
                || rb.right() <= ra.x
                || ra.bottom() <= rb.y
                || rb.bottom() <= ra.y;
            assert!(apart, "{} overlaps {}", a.id, b.id);
        }
    }
    // Leaves sit inside their drawn parent box.
    let rect = |id: &str| l.scene.nodes.iter().find(|n| n.id == id).map(|n| n.rect);
    for e in &g.elements {
        let parent_box = e
            .parent
            .as_deref()
            .and_then(|p| l.scene.nodes.iter().find(|n| n.id == p && n.compound))
            .map(|n| n.rect);
        let (Some(r), Some(p)) = (rect(&e.id), parent_box) else {
            continue;
        };
        assert!(
            r.x >= p.x && r.y >= p.y && r.right() <= p.right() && r.bottom() <= p.bottom(),
            "{} is outside {:?}",
            e.id,
            e.parent
        );
    }
}

#[test]
fn a_packet_reads_left_to_right() {
    // container eth0 → its host-side veth → the bridge: each further right than the last.
    let o = SyntheticOptions {
        hosts: 1,
        containers: 10,
        hostile_names: false,
    };
    let g = graph::build(&snapshots(&o));
    let l = layout(&g, &View::default());
    let x = |id: &str| {
        l.scene
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.rect.x)
            .unwrap_or_else(|| panic!("{id} not drawn"))
    };
    let ix = crate::layout::GraphIndex::new(&g);
    let web = g
        .elements
        .iter()
        .find(|e| e.label.starts_with("web-"))
        .expect("a docker0 container");
    let ns = ix.ctr_netns[web.id.as_str()];
    let eth0 = format!("{}/eth0", ns.replacen("netns:", "if:", 1));
    let veth = ix.peer[eth0.as_str()];
    let bridge = ix.master[veth];
    assert!(x(&web.id) < x(&eth0));
    assert!(x(&eth0) < x(veth));
    assert!(x(veth) < x(bridge));
    assert!(bridge.ends_with("/docker0"));
}

#[test]
fn hostile_names_are_text_in_the_svg() {
    let o = SyntheticOptions {
        hosts: 1,
        containers: 3,
        hostile_names: true,
    };
    let g = graph::build(&snapshots(&o));
    let svg = svg_of(&g, "open=*");
    assert!(!svg.contains("<img"), "raw markup leaked into the SVG");
    assert!(
        svg.contains("x&lt;img src=x onerror=alert(1)&gt;")
            || svg.contains("x&lt;img src=x onerror=al")
    );
}

#[test]
fn characters_xml_forbids_never_reach_the_svg() {
    let g = derive(&mut crate::synthetic::with_control_characters());
    assert!(g.elements.iter().any(|e| e.id.contains('\x01')));
    assert!(g.elements.iter().any(|e| e.id.contains('\x0b')));
    assert!(g.elements.iter().any(|e| e.id.contains('\x02')));
    let svg = svg_of(&g, "open=*&hide=");
    let bad: Vec<char> = svg
        .chars()
        .filter(|&c| render::escape::forbidden_in_xml(c))
        .collect();
    assert!(bad.is_empty(), "characters XML forbids in the SVG: {bad:?}");
    assert!(svg.contains("ctl\u{FFFD}net\u{FFFD}[31m\u{FFFD}"));
    assert!(svg.contains("data-id=\"ctr:node-00/ctr\u{FFFD}\u{FFFD}\u{FFFD}x\""));
}

#[test]
fn an_encrypted_overlay_tunnel_is_drawn_apart_from_plain_vxlan() {
    let snaps = snapshots(&SyntheticOptions {
        hosts: 2,
        containers: 6,
        hostile_names: false,
    });
    let mut g =
        crate::graph::build_cluster(&crate::snapshot::ClusterSnapshot::of_nodes(snaps, "test"));
    let fdb: Vec<usize> = g
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == graph::EdgeKind::Fdb)
        .map(|(i, _)| i)
        .collect();
    assert!(fdb.len() >= 2, "the synthetic swarm has tunnels");
    g.edges[fdb[0]]
        .attrs
        .insert("encrypted".into(), serde_json::json!(true));
    let svg = render::svg(&layout(&g, &View::from_query("open=*")).scene);
    let drawn = |class: &str| svg.matches(class).count();
    assert_eq!(
        drawn("e k-fdb enc"),
        1,
        "exactly the encrypted tunnel is marked"
    );
    // Tunnels end on vxlan interfaces: drawn close up only (`ei`).
    assert!(drawn("e k-fdb ei\"") >= 1, "plain tunnels stay plain");
}

#[test]
fn a_folded_hosts_card_says_how_many_findings_concern_it_first() {
    let mut snaps = snapshots(&SyntheticOptions {
        hosts: 2,
        containers: 12,
        hostile_names: false,
    });
    let mut g = derive(&mut snaps);
    let on = |host: &str| {
        g.elements
            .iter()
            .find(|e| e.kind == graph::ElementKind::Container && e.id.contains(host))
            .map(|e| e.id.clone())
            .unwrap()
    };
    let (a, b) = (on("node-00"), on("node-01"));
    g.findings.clear();
    for (code, severity, el) in [
        ("x-1", crate::graph::Severity::Error, &a),
        ("x-2", crate::graph::Severity::Error, &a),
        ("x-3", crate::graph::Severity::Warning, &a),
        ("x-4", crate::graph::Severity::Info, &b),
    ] {
        g.findings.push(crate::graph::Finding {
            id: format!("{code}:{el}"),
            code: code.into(),
            severity,
            message: String::new(),
            elements: vec![el.clone()],
        });
    }
    let l = layout(&g, &View::from_query("shut=host:node-00&shut=host:node-01"));
    let sub = |id: &str| {
        l.scene
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.sub.clone())
            .unwrap()
    };
    assert!(
        sub("host:node-00").starts_with("2 errors · 1 warning · "),
        "{}",
        sub("host:node-00")
    );
    // Information alone puts nothing before the counts.
    assert!(sub("host:node-01").starts_with(|c: char| c.is_ascii_digit()));
    assert!(!sub("host:node-01").contains("error") && !sub("host:node-01").contains("warning"));
}

/// Whether the segment p–q passes through the inside of `r` (Liang–Barsky on `r` shrunk by a pixel).
fn crosses(p: (f64, f64), q: (f64, f64), r: &crate::layout::Rect) -> bool {
    let (x0, y0, x1, y1) = (
        f64::from(r.x + 1),
        f64::from(r.y + 1),
        f64::from(r.right() - 1),
        f64::from(r.bottom() - 1),
    );
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (den, num) in [
        (-dx, p.0 - x0),
        (dx, x1 - p.0),
        (-dy, p.1 - y0),
        (dy, y1 - p.1),
    ] {
        if den == 0.0 {
            if num < 0.0 {
                return false;
            }
        } else {
            let t = num / den;
            if den < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t0 < t1
}

#[test]
fn edges_between_rows_of_hosts_run_through_no_other_host() {
    use crate::graph::ElementKind;
    use crate::layout::{route, GraphIndex};
    let o = SyntheticOptions {
        hosts: 6,
        containers: 60,
        hostile_names: false,
    };
    let g = graph::build(&snapshots(&o));
    let ix = GraphIndex::new(&g);
    // A square stage: the six hosts wrap into rows, open or folded.
    for q in [
        "open=*&aspect=1.0",
        "aspect=1.0",
        "open=host%3Anode-02&aspect=1.0",
    ] {
        let l = layout(&g, &View::from_query(q));
        let hosts: Vec<_> = l
            .scene
            .nodes
            .iter()
            .filter(|n| n.kind == ElementKind::Host)
            .collect();
        let mut rows: Vec<i32> = hosts.iter().map(|h| h.rect.y).collect();
        rows.sort_unstable();
        rows.dedup();
        assert!(rows.len() >= 2, "{q}: one row of hosts: {rows:?}");
        let home = |id: &str| ix.host_of(id).or_else(|| ix.network_home(id));
        let mut between = 0;
        for e in &l.scene.edges {
            let ends = [home(&e.source), home(&e.target)];
            if ends[0] != ends[1] {
                between += 1;
            }
            let pts = route::sample(&e.path, 24);
            for h in hosts
                .iter()
                .filter(|h| !ends.contains(&Some(h.id.as_str())))
            {
                assert!(
                    !pts.windows(2).any(|w| crosses(w[0], w[1], &h.rect)),
                    "{q}: {} ({} → {}) runs through {} at {:?}: {:?}",
                    e.id,
                    e.source,
                    e.target,
                    h.id,
                    h.rect,
                    e.path
                );
            }
        }
        assert!(between > 5, "{q}: only {between} edges leave a host");
    }
}
