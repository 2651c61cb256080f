//! The diff on the real engine: snapshot, start one container and remove another, snapshot
//! again; the diff holds exactly the new container's wiring as added and the old one's as
//! removed, and nothing of a container left alone; `dockmap diff` on the two saved files says
//! the same and exits 1.
//!
//! Other tests may start and stop containers on the same engine meanwhile: the assertions look
//! only at this test's containers (named `dmt-<pid>-…`).

use crate::support;
use crate::support::engine;

use std::collections::BTreeSet;
use std::process::Command;

use dockmap::collect::node::{collect, NodeOptions};
use dockmap::diff::{cluster_of, diff, Change, Diff, Side};
use dockmap::graph::{EdgeKind, Graph};
use dockmap::snapshot::NodeSnapshot;
use engine::TestContainer;

fn snapshot() -> NodeSnapshot {
    engine::runtime().block_on(collect(&NodeOptions::default()))
}

/// A container's element, its sandbox namespace, everything in it, and the host end of its veth.
fn wiring(g: &Graph, ctr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([ctr.to_owned()]);
    let netns: Vec<&str> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Sandbox && e.source == ctr)
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(netns.len(), 1, "{ctr} has no sandbox in the graph");
    out.insert(netns[0].to_owned());
    let inside: Vec<String> = g
        .elements
        .iter()
        .filter(|e| e.parent.as_deref() == Some(netns[0]))
        .map(|e| e.id.clone())
        .collect();
    for i in &inside {
        for e in g.edges.iter().filter(|e| e.kind == EdgeKind::VethPair) {
            if &e.source == i {
                out.insert(e.target.clone());
            } else if &e.target == i {
                out.insert(e.source.clone());
            }
        }
    }
    out.extend(inside);
    assert!(
        out.iter()
            .any(|id| id.starts_with("if:") && id.contains("/host/")),
        "{ctr}'s veth has no host end: {out:?}"
    );
    out
}

fn ids_of(d: &Diff, change: Change) -> BTreeSet<String> {
    d.elements
        .iter()
        .filter(|e| e.change == change)
        .map(|e| e.id.clone())
        .collect()
}

#[test]
fn a_container_started_and_one_removed_are_the_difference() {
    if !engine::available() {
        return;
    }
    let kept = TestContainer::run(&engine::unique("kept"), &[]);
    let gone = TestContainer::run(&engine::unique("gone"), &[]);
    let a = snapshot();
    let host = dockmap::graph::ids::host_key(&a);
    let gone_name = gone.name.clone();
    drop(gone);
    let came = TestContainer::run(&engine::unique("came"), &[]);
    let b = snapshot();

    let sa = Side::of(cluster_of(vec![a.clone()]));
    let sb = Side::of(cluster_of(vec![b.clone()]));
    let d = diff(&sa, &sb);
    let id = |name: &str| format!("ctr:{host}/{name}");
    let (came_id, gone_id, kept_id) = (id(&came.name), id(&gone_name), id(&kept.name));

    let came_wiring = wiring(&sb.graph, &came_id);
    let gone_wiring = wiring(&sa.graph, &gone_id);
    let kept_wiring: BTreeSet<String> = wiring(&sa.graph, &kept_id)
        .union(&wiring(&sb.graph, &kept_id))
        .cloned()
        .collect();
    let ours = |g: &Graph| -> BTreeSet<String> {
        let prefix = format!("ctr:{host}/dmt-{}-", std::process::id());
        g.elements
            .iter()
            .filter(|e| e.id.starts_with(&prefix))
            .flat_map(|e| wiring(g, &e.id))
            .collect()
    };
    let ours_a = ours(&sa.graph);
    let ours_b = ours(&sb.graph);

    let added: BTreeSet<String> = ids_of(&d, Change::Added)
        .intersection(&ours_b)
        .cloned()
        .collect();
    assert_eq!(added, came_wiring, "added, of this test's containers");
    let removed: BTreeSet<String> = ids_of(&d, Change::Removed)
        .intersection(&ours_a)
        .cloned()
        .collect();
    assert_eq!(removed, gone_wiring, "removed, of this test's containers");
    let touched: Vec<&str> = d
        .elements
        .iter()
        .filter(|e| kept_wiring.contains(&e.id))
        .map(|e| e.id.as_str())
        .collect();
    assert!(
        touched.is_empty(),
        "the container left alone is in the diff: {touched:?}"
    );
    // Its endpoint on the default bridge came and went with it.
    let endpoint = |change: Change, ctr: &str| {
        d.edges
            .iter()
            .any(|x| x.change == change && x.kind == EdgeKind::Endpoint && x.source == ctr)
    };
    assert!(endpoint(Change::Added, &came_id), "no endpoint added");
    assert!(endpoint(Change::Removed, &gone_id), "no endpoint removed");
    assert!(
        !d.edges
            .iter()
            .any(|x| x.source == kept_id || x.target == kept_id),
        "an edge of the container left alone is in the diff"
    );

    // The CLI on the two files.
    let dir = support::temp_dir("diff");
    let (fa, fb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&fa, serde_json::to_vec(&a).unwrap()).unwrap();
    std::fs::write(&fb, serde_json::to_vec(&b).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dockmap"))
        .args(["diff", fa.to_str().unwrap(), fb.to_str().unwrap()])
        .output()
        .expect("run dockmap diff");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("+ container {}  {came_id}", came.name)),
        "{text}"
    );
    assert!(
        text.contains(&format!("- container {}  {gone_id}", gone_name)),
        "{text}"
    );
    assert!(!text.contains(&kept.name), "{text}");
    let json = Command::new(env!("CARGO_BIN_EXE_dockmap"))
        .args([
            "diff",
            "--format",
            "json",
            fa.to_str().unwrap(),
            fb.to_str().unwrap(),
        ])
        .output()
        .expect("run dockmap diff --format json");
    assert_eq!(json.status.code(), Some(1));
    let parsed: Diff = serde_json::from_slice(&json.stdout).expect("the diff as JSON");
    assert_eq!(parsed.elements, d.elements);
    let same = Command::new(env!("CARGO_BIN_EXE_dockmap"))
        .args(["diff", fa.to_str().unwrap(), fa.to_str().unwrap()])
        .output()
        .expect("run dockmap diff");
    assert_eq!(same.status.code(), Some(0));
}
