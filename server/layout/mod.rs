//! Server-side layout: a graph and a view in, a positioned scene out.
//!
//! Structured, not force-directed: bands by role (swarm networks and services
//! on top, underlay addresses, then hosts side by side), and inside a host,
//! columns by role (containers, their namespaces, overlay namespaces, the host
//! namespace with its veths, bridges and uplinks). Every position is an
//! integer and every ordering is by id or by position of what is already
//! placed, never by input order: the same graph and view give the same scene.

pub mod cluster;
pub mod fold;
pub mod fx;
pub mod host;
pub mod index;
pub mod route;
pub mod scene;
pub mod text;
pub mod view;

use std::collections::BTreeMap;

use fx::FxMap;

use crate::graph::{EdgeKind, ElementKind, Graph};

pub use fold::Policy;
pub use index::GraphIndex;
pub use scene::{Rect, Scene, SceneEdge, SceneNode};
pub use view::View;

/// A laid-out view with what the view resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The picture.
    pub scene: Scene,
    /// The `hide` tokens in force (the view's, or the defaults).
    pub hide: Vec<String>,
    /// The view actually drawn (the selection's folded ancestors added to `open`).
    pub view: View,
}

/// Lay out a graph as the view asks.
pub fn layout(g: &Graph, view: &View) -> Layout {
    layout_indexed(g, &GraphIndex::new(g), view)
}

/// [`layout`] with an index built once for the graph (the server keeps one per snapshot).
pub fn layout_indexed(g: &Graph, ix: &GraphIndex, view: &View) -> Layout {
    let policy = Policy::for_graph(ix);
    let mut view = view.clone();
    if let Some(sel) = view.select.clone() {
        let up = fold::reveal(ix, &view, &policy, &sel);
        view.open.extend(up);
    }
    let f = fold::fold(ix, g, &view, &policy);
    let mut placed = host::Placed::default();
    let (width, height, lanes) = cluster::arrange(ix, &f, view.aspect(), &mut placed);

    let mut boxes = Vec::new();
    let mut leaves = Vec::new();
    for (&id, rect) in &placed.rects {
        let Some(e) = ix.get(id) else { continue };
        let compound = placed.compound.contains(id);
        let inside = f.inside.get(id).copied().unwrap_or(0);
        let (label, sub) = texts(ix, &f, id, e.kind, compound, rect.w);
        let node = SceneNode {
            id: id.to_owned(),
            kind: e.kind,
            style: text::style(ix, id),
            label,
            sub,
            card: text::card(ix, id, compound),
            rect: *rect,
            compound,
            folded: inside,
            foldable: fold::foldable(ix, id) && !f.folded.contains(id),
        };
        if compound {
            let depth = if e.kind == ElementKind::Host { 0 } else { 1 };
            boxes.push((depth, node));
        } else {
            leaves.push(node);
        }
    }
    boxes.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    leaves.sort_by(|a, b| a.id.cmp(&b.id));
    let mut nodes: Vec<SceneNode> = boxes.into_iter().map(|(_, n)| n).collect();
    nodes.extend(leaves);

    let edges = edges(g, ix, &f, &placed.rects, &lanes);
    Layout {
        scene: Scene {
            width,
            height,
            nodes,
            edges,
        },
        hide: f.hide.iter().cloned().collect(),
        view,
    }
}

fn texts(
    ix: &GraphIndex,
    f: &fold::Folding,
    id: &str,
    kind: ElementKind,
    compound: bool,
    w: i32,
) -> (String, String) {
    let label = ix.get(id).map(|e| e.label.as_str()).unwrap_or("");
    match kind {
        ElementKind::Netns if compound => {
            (text::fit(&text::netns_header(ix, id), w), String::new())
        }
        ElementKind::Host if compound => (
            text::fit(label, w),
            text::fit_sub(&text::sub_label(ix, id), w),
        ),
        ElementKind::Host => {
            let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
            for (e, r) in &f.rep {
                if *r == id && *e != id {
                    let k = match ix.get(e).map(|x| x.kind) {
                        Some(ElementKind::Container) => "containers",
                        Some(ElementKind::Netns) => "namespaces",
                        Some(ElementKind::Interface) => "interfaces",
                        Some(ElementKind::Network) => "networks",
                        _ => "others",
                    };
                    *counts.entry(k).or_default() += 1;
                }
            }
            // What is wrong comes first: it is what a folded host's card is looked at for.
            let (errors, warnings) = ix.findings_of_host(id);
            let mut parts: Vec<String> = [(errors, "error"), (warnings, "warning")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| text::plural(n, what))
                .collect();
            parts.push(text::host_summary(&counts));
            parts.retain(|p| !p.is_empty());
            (text::fit(label, w), text::fit_sub(&parts.join(" · "), w))
        }
        _ => (
            text::fit(label, w),
            text::fit_sub(&text::sub_label(ix, id), w),
        ),
    }
}

/// Edges between visible representatives, merged when folding makes several join the same two nodes.
fn edges(
    g: &Graph,
    ix: &GraphIndex,
    f: &fold::Folding,
    rects: &FxMap<&str, Rect>,
    lanes: &route::Lanes,
) -> Vec<SceneEdge> {
    let mut merged: BTreeMap<(EdgeKind, &str, &str), (String, usize, bool)> = BTreeMap::new();
    for e in &g.edges {
        if !f.edge_shown(e.kind) {
            continue;
        }
        let (Some(&s), Some(&t)) = (f.rep.get(e.source.as_str()), f.rep.get(e.target.as_str()))
        else {
            continue;
        };
        if s == t {
            continue;
        }
        let slot = merged
            .entry((e.kind, s, t))
            .or_insert_with(|| (e.id.clone(), 0, false));
        if e.id < slot.0 {
            slot.0 = e.id.clone();
        }
        slot.1 += 1;
        slot.2 |= e.attrs.get("encrypted") == Some(&serde_json::Value::Bool(true));
    }
    let mut out: Vec<SceneEdge> = merged
        .into_iter()
        .filter_map(|((kind, s, t), (id, count, encrypted))| {
            let (a, b) = (rects.get(s)?, rects.get(t)?);
            let path = match (end_of(ix, lanes, s, a), end_of(ix, lanes, t, b)) {
                (Some(ea), Some(eb)) if ea != eb || ea == route::End::Above => match (ea, eb) {
                    (route::End::Above, route::End::Above) => route::route(a, b),
                    _ => lanes.between(a, ea, b, eb),
                },
                _ => route::route(a, b),
            };
            Some(SceneEdge {
                id,
                kind,
                source: s.to_owned(),
                target: t.to_owned(),
                count,
                encrypted,
                path,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Where an edge's end is for routing between hosts: in a host of the grid, or in the bands
/// over it; `None` for what is neither (drawn in a last row under the grid).
fn end_of(ix: &GraphIndex, lanes: &route::Lanes, id: &str, r: &Rect) -> Option<route::End> {
    let host = ix.host_of(id).or_else(|| ix.network_home(id));
    match host.and_then(|h| lanes.cells.get(h)) {
        Some(&(row, col)) => Some(route::End::Host(row, col)),
        None if lanes.rows.first().is_none_or(|(top, _)| r.bottom() <= *top) => {
            Some(route::End::Above)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests;
