//! The two panes: one layout of the union of keys, drawn twice. Each pane shows its own
//! side's labels; what the side lacks is a dashed gap at the same place, what only it has
//! and what differs are marked.

use std::collections::{BTreeSet, HashMap};

use crate::graph::ElementKind;
use crate::layout::{self, text, GraphIndex, Scene, View};
use crate::render;

use super::{Comparison, Presence, Side};

/// One pane, ready to draw.
#[derive(Debug, Clone)]
pub struct Pane {
    /// Its scene (the union's positions, this side's texts and marks).
    pub scene: Scene,
    /// Its SVG (`id="map-left"` or `id="map-right"`).
    pub svg: String,
}

/// Both panes and the view they were drawn for.
#[derive(Debug, Clone)]
pub struct Panes {
    /// The left pane.
    pub left: Pane,
    /// The right pane.
    pub right: Pane,
    /// The view as resolved (the query string to keep).
    pub view: String,
    /// The hide tokens in force.
    pub hide: Vec<String>,
}

/// Style token: this side lacks the element (drawn as a gap).
pub const GAP: &str = "cmp-gap";
/// Style token: only this side has it.
pub const ONLY: &str = "cmp-only";
/// Style token: both have it, differently.
pub const CHANGED: &str = "cmp-changed";

/// Lay out the union once and draw it for each side.
pub fn panes(c: &Comparison, view: &View) -> Panes {
    let lay = layout::layout(&c.union, view);
    let changed: BTreeSet<&str> = c
        .differences
        .iter()
        .filter(|d| d.presence == Presence::Both)
        .map(|d| d.key.as_str())
        .collect();
    let left = pane(&lay.scene, &c.left, &c.right, &changed, "left");
    let right = pane(&lay.scene, &c.right, &c.left, &changed, "right");
    Panes {
        left,
        right,
        view: lay.view.to_query(),
        hide: lay.hide,
    }
}

fn pane(scene: &Scene, side: &Side, other: &Side, changed: &BTreeSet<&str>, which: &str) -> Pane {
    let g = &side.keyed.graph;
    let ix = GraphIndex::new(g);
    let edge_ids: BTreeSet<&str> = g.edges.iter().map(|e| e.id.as_str()).collect();
    let mut s = scene.clone();
    for n in &mut s.nodes {
        let mark = match ix.get(&n.id) {
            None => {
                n.label.clear();
                n.sub.clear();
                n.foldable = false;
                GAP
            }
            Some(e) => {
                // A folded host's summary counts the union: keep it; everything else says this side's facts.
                if n.kind != ElementKind::Host || n.compound {
                    let (label, sub) = texts(&ix, &n.id, e.kind, n.compound, n.rect.w);
                    n.label = label;
                    n.sub = sub;
                }
                if other.keyed.get(&n.id).is_none() {
                    ONLY
                } else if changed.contains(n.id.as_str()) {
                    CHANGED
                } else {
                    ""
                }
            }
        };
        if !mark.is_empty() {
            n.style = format!("{} {mark}", n.style).trim().to_owned();
        }
    }
    // Scene ends may be folded representatives: an edge stays when this side has it, or when
    // it stands for several and both ends are here.
    let present: HashMap<&str, bool> = s
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), ix.get(&n.id).is_some()))
        .collect();
    s.edges.retain(|e| {
        edge_ids.contains(e.id.as_str())
            || (e.count > 1
                && present.get(e.source.as_str()) == Some(&true)
                && present.get(e.target.as_str()) == Some(&true))
    });
    let svg = render::svg(&s)
        .replacen(r#"id="map""#, &format!(r#"id="map-{which}""#), 1)
        .replacen(r#"id="vp""#, &format!(r#"id="vp-{which}""#), 1);
    Pane { scene: s, svg }
}

/// A node's two lines from this side's own facts (as the layout writes them).
fn texts(ix: &GraphIndex, id: &str, kind: ElementKind, compound: bool, w: i32) -> (String, String) {
    let label = ix.get(id).map(|e| e.label.as_str()).unwrap_or("");
    match kind {
        ElementKind::Netns if compound => {
            (text::fit(&text::netns_header(ix, id), w), String::new())
        }
        _ => (
            text::fit(label, w),
            text::fit_sub(&text::sub_label(ix, id), w),
        ),
    }
}
