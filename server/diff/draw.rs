//! The drawing of a diff: B, with what A had and B lacks put back where it was, every element
//! and edge that differs marked with a class (`added`, `removed`, `changed`).
//!
//! Both sides share stable ids, so the union of the two graphs lays out like either: a removed
//! container sits among its old neighbours as a ghost, an added one where it now is. The
//! elements that differ are unfolded into view (up to [`REVEAL_UP_TO`] of them), so nothing
//! that changed hides inside a folded host.

use std::collections::HashMap;

use crate::graph::Graph;
use crate::layout::{self, fold, GraphIndex, Policy, View};
use crate::render::{self, escape};

use super::model::{Change, Diff};

/// How many differing elements are unfolded into view; the rest are a click in the list away.
pub const REVEAL_UP_TO: usize = 300;

/// B's graph plus A's elements and edges that B lacks (ghosts of what was removed).
pub fn union(a: &Graph, b: &Graph) -> Graph {
    let mut g = b.clone();
    let have: std::collections::HashSet<&str> = b.elements.iter().map(|e| e.id.as_str()).collect();
    let gone: Vec<_> = a
        .elements
        .iter()
        .filter(|e| !have.contains(e.id.as_str()))
        .cloned()
        .collect();
    g.elements.extend(gone);
    g.elements.sort_by(|x, y| x.id.cmp(&y.id));
    let ids: std::collections::HashSet<&str> = g.elements.iter().map(|e| e.id.as_str()).collect();
    let edge_ids: std::collections::HashSet<&str> = b.edges.iter().map(|e| e.id.as_str()).collect();
    let extra: Vec<_> = a
        .edges
        .iter()
        .filter(|e| {
            !edge_ids.contains(e.id.as_str())
                && ids.contains(e.source.as_str())
                && ids.contains(e.target.as_str())
        })
        .cloned()
        .collect();
    g.edges.extend(extra);
    g.edges.sort_by(|x, y| x.id.cmp(&y.id));
    g
}

/// A drawn diff.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The SVG, with `added` / `removed` / `changed` classes on the elements and edges that differ.
    pub svg: String,
    /// The hide tokens in force.
    pub hide: Vec<String>,
}

/// The view actually drawn: the asked one, with the elements that differ unfolded into view.
pub fn revealing(d: &Diff, ix: &GraphIndex, view: &View) -> View {
    let mut v = view.clone();
    if v.open_all {
        return v;
    }
    let policy = Policy::for_graph(ix);
    for e in d.elements.iter().take(REVEAL_UP_TO) {
        for p in fold::reveal(ix, &v, &policy, &e.id) {
            if !view.shut.contains(&p) {
                v.open.insert(p);
            }
        }
    }
    v
}

/// Lay out and draw the union graph (with its index) under the view, marking what differs.
pub fn draw(d: &Diff, union: &Graph, ix: &GraphIndex, view: &View) -> Drawn {
    let v = revealing(d, ix, view);
    let lay = layout::layout_indexed(union, ix, &v);
    let svg = render::svg(&lay.scene);
    let nodes: HashMap<String, Change> = d
        .elements
        .iter()
        .map(|e| (escape(&e.id).into_owned(), e.change))
        .collect();
    let edges: HashMap<&str, Change> = d.edges.iter().map(|e| (e.id.as_str(), e.change)).collect();
    let edge_marks: Vec<Option<Change>> = lay
        .scene
        .edges
        .iter()
        .map(|e| edges.get(e.id.as_str()).copied())
        .collect();
    Drawn {
        svg: mark(&svg, &nodes, &edge_marks),
        hide: lay.hide,
    }
}

/// Add the change classes to the SVG the writer made: nodes by their (escaped) `data-id`, edges
/// by position (the writer puts them in scene order, and has no id on them).
pub fn mark(svg: &str, nodes: &HashMap<String, Change>, edges: &[Option<Change>]) -> String {
    const NODE: &str = "<g class=\"n ";
    const EDGE: &str = "<path class=\"e ";
    const ID: &str = "\" data-id=\"";
    let mut out = String::with_capacity(svg.len() + 16 * (nodes.len() + edges.len()));
    let mut rest = svg;
    let mut edge_no = 0;
    loop {
        let n = rest.find(NODE);
        let e = rest.find(EDGE);
        let at = match (n, e) {
            (Some(n), Some(e)) => n.min(e),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => break,
        };
        if Some(at) == e {
            let cut = at + EDGE.len() - 1;
            out.push_str(&rest[..cut]);
            if let Some(Some(c)) = edges.get(edge_no) {
                out.push(' ');
                out.push_str(c.word());
            }
            edge_no += 1;
            rest = &rest[cut..];
            continue;
        }
        let head = &rest[at..];
        let change = head.find(ID).and_then(|i| {
            let id_start = i + ID.len();
            let id_end = head[id_start..].find('"')? + id_start;
            nodes.get(&head[id_start..id_end]).map(|c| (i, *c))
        });
        match change {
            Some((i, c)) => {
                out.push_str(&rest[..at + i]);
                out.push(' ');
                out.push_str(c.word());
                rest = &rest[at + i..];
            }
            None => {
                out.push_str(&rest[..at + NODE.len()]);
                rest = &rest[at + NODE.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}
