use super::*;
use crate::graph::build::build;
use crate::layout::{layout, View};
use crate::snapshot::NodeSnapshot;
use crate::synthetic::{snapshots, SyntheticOptions};

fn swarm(hosts: usize, containers: usize, hostile_names: bool) -> Vec<NodeSnapshot> {
    snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names,
    })
}

fn draw(snaps: &[NodeSnapshot], view: &str) -> String {
    crate::render::svg(&layout(&build(snaps), &View::from_query(view)).scene)
}

/// The patch from `old` to `new` applied to `old` gives `new`, byte for byte; returns its size.
fn round_trip(old: &str, new: &str, what: &str) -> usize {
    let p = diff(old, new).unwrap_or_else(|| panic!("{what}: no patch between two drawings"));
    let got = apply(old, &p).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        got == new,
        "{what}: the patched drawing differs from the new one"
    );
    serde_json::to_vec(&p).unwrap().len()
}

/// Generations a live swarm goes through: containers come and go (at the end and in the
/// middle), a host joins, a namespace disappears, names turn hostile.
fn generations() -> Vec<(String, Vec<NodeSnapshot>)> {
    let mut out = Vec::new();
    for (h, n) in [(1, 8), (1, 9), (1, 30), (2, 30), (2, 31), (3, 60), (3, 45)] {
        out.push((format!("{h} hosts {n} containers"), swarm(h, n, false)));
    }
    out.push(("hostile names".into(), swarm(2, 30, true)));
    let mut forgot = swarm(2, 30, false);
    if let Some(e) = forgot[0].engine.as_mut() {
        let mid = e.containers.len() / 2;
        e.containers.remove(mid);
    }
    out.push(("a container forgotten in the middle".into(), forgot));
    let mut lost = swarm(2, 30, false);
    let mid = lost[1].namespaces.len() / 2;
    lost[1].namespaces.remove(mid);
    out.push(("a namespace gone".into(), lost));
    out
}

#[test]
fn a_patch_applied_to_the_old_drawing_gives_the_new_one_for_every_pair_of_generations() {
    let gens = generations();
    for view in ["", "open=*", "hide=", "open=*&aspect=1.0"] {
        let drawn: Vec<(String, String)> = gens
            .iter()
            .map(|(what, s)| (what.clone(), draw(s, view)))
            .collect();
        for (a, old) in &drawn {
            for (b, new) in &drawn {
                round_trip(old, new, &format!("{a} → {b}, view {view:?}"));
            }
        }
    }
}

#[test]
fn an_unchanged_drawing_gives_an_empty_patch() {
    let d = draw(&swarm(2, 20, false), "open=*");
    let p = diff(&d, &d).unwrap();
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(apply(&d, &p).unwrap(), d);
}

#[test]
fn one_container_more_costs_a_small_part_of_the_whole_drawing() {
    let old = draw(&swarm(1, 200, false), "open=*");
    let new = draw(&swarm(1, 201, false), "open=*");
    let bytes = round_trip(&old, &new, "200 → 201 containers");
    assert!(
        bytes * 10 < new.len(),
        "a patch of {bytes} bytes for a drawing of {} bytes",
        new.len()
    );
}

#[test]
fn what_only_moved_is_sent_as_a_move() {
    let item = r#"<g class="n k-container" data-id="ctr:a/b"><rect class="sh" x="10" y="20" width="5" height="6" rx="8"/><text x="19" y="35">b</text><polygon class="sh" points="18,20 25,20 17,26 10,26"/><g class="tog" data-act="open"><rect x="1" y="2" width="18" height="18" rx="4"/><path d="M3 4h8m-4 -4v8"/></g></g>"#;
    let moved = shifted(item, 7, -3).unwrap();
    assert!(
        moved.contains(r#"x="17" y="17" width="5" height="6" rx="8""#),
        "{moved}"
    );
    assert!(
        moved.contains(r#"points="25,17 32,17 24,23 17,23""#),
        "{moved}"
    );
    assert!(moved.contains(r#"d="M10 1h8m-4 -4v8""#), "{moved}");
    let old = format!(
        r#"<svg viewBox="0 0 9 9" width="9"><g id="vp"><g class="leaves">{item}</g></g></svg>"#
    );
    let new = format!(
        r#"<svg viewBox="0 0 9 9" width="9"><g id="vp"><g class="leaves">{moved}</g></g></svg>"#
    );
    let p = diff(&old, &new).unwrap();
    assert_eq!(p.layers, vec![vec![Edit::Shift(7, -3)]]);
    assert!(p.markup.is_empty());
    assert_eq!(apply(&old, &p).unwrap(), new);
    // An edge's absolute curve moves whole.
    assert_eq!(
        shifted(r#"<path class="e" d="M1 2C3 4 5 6 7 8"/>"#, 1, 10).unwrap(),
        r#"<path class="e" d="M2 12C4 14 6 16 8 18"/>"#
    );
    // What the page cannot move (a fraction) is not moved: it is sent anew.
    assert_eq!(shifted(r#"<text x="1.5" y="2">a</text>"#, 1, 1), None);
}

#[test]
fn the_root_attributes_that_changed_are_sent_unescaped_and_the_rest_kept() {
    let old = r#"<svg id="map" viewBox="0 0 10 20" width="10" data-w="10"><g id="vp"><g class="boxes"></g></g></svg>"#;
    let new = r#"<svg id="map" viewBox="0 0 12 20" width="12" data-w="12"><g id="vp"><g class="boxes"></g></g></svg>"#;
    let p = diff(old, new).unwrap();
    assert_eq!(
        p.root,
        vec![
            ("viewBox".to_owned(), "0 0 12 20".to_owned()),
            ("width".to_owned(), "12".to_owned()),
            ("data-w".to_owned(), "12".to_owned())
        ]
    );
    assert_eq!(apply(old, &p).unwrap(), new);
}

#[test]
fn drawings_of_another_shape_get_no_patch_and_a_patch_that_does_not_fit_is_refused() {
    let a = draw(&swarm(1, 8, false), "");
    assert_eq!(diff(&a, "<svg><g id=\"vp\"></g></svg>"), None);
    assert_eq!(diff(&a, "not a drawing"), None);
    let b = draw(&swarm(1, 30, false), "open=*");
    let p = diff(&a, &b).unwrap();
    let tiny = r#"<svg id="map"><g id="vp"><g class="boxes"></g><g class="edges"></g><g class="leaves"></g></g></svg>"#;
    assert!(apply(tiny, &p).is_err());
}

#[test]
fn items_move_as_a_whole_also_out_of_order() {
    let layer = |items: &[&str]| {
        format!(
            r#"<svg id="map"><g id="vp"><g class="leaves">{}</g></g></svg>"#,
            items.concat()
        )
    };
    let g = |id: &str, x: i32| format!(r#"<g class="n" data-id="{id}"><rect x="{x}" y="0"/></g>"#);
    let (a, b, c, d) = (g("a", 1), g("b", 2), g("c", 3), g("d", 4));
    let old = layer(&[&a, &b, &c, &d]);
    // c before a, b gone, a new e, d changed in more than its place.
    let new = layer(&[
        &c,
        &a,
        &g("e", 5),
        r#"<g class="n" data-id="d"><rect x="9" y="9" rx="1"/></g>"#,
    ]);
    round_trip(&old, &new, "reordered");
    // Two edges between the same ends, of one kind, one gone.
    let e = |n: i32| {
        format!(
            r#"<path class="e k-fdb" data-s="x" data-t="y" data-n="{n}" d="M0 0C1 1 1 1 2 2"/>"#
        )
    };
    round_trip(&layer(&[&e(1), &e(2)]), &layer(&[&e(2)]), "repeated edges");
}

#[test]
fn an_edge_whose_ends_moved_apart_is_sent_as_its_new_attributes() {
    let layer = |d: &str| {
        format!(
            r#"<svg id="map"><g id="vp"><g class="edges"><path class="e k-veth" data-s="a&amp;b" data-t="c" data-n="1" d="{d}"/></g></g></svg>"#
        )
    };
    let (old, new) = (layer("M1 2C3 4 5 6 7 8"), layer("M1 2C3 4 5 6 70 80"));
    let p = diff(&old, &new).unwrap();
    assert_eq!(
        p.layers,
        vec![vec![Edit::Set(vec![(
            "d".into(),
            "M1 2C3 4 5 6 70 80".into()
        )])]]
    );
    assert_eq!(apply(&old, &p).unwrap(), new);
    // A node (an element with children) changed in place is sent whole.
    let g = |label: &str| {
        format!(
            r#"<svg id="map"><g id="vp"><g class="leaves"><g class="n" data-id="x"><text x="1" y="2">{label}</text></g></g></g></svg>"#
        )
    };
    let p = diff(&g("a"), &g("b")).unwrap();
    assert_eq!(p.layers, vec![vec![Edit::Remove(1), Edit::Insert(1)]]);
}
