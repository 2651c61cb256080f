//! Graphviz output: hosts and namespaces as clusters, elements as nodes, edges as edges.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::{EdgeKind, ElementKind, Graph, InterfaceType};

/// Quote a string for DOT (engine strings are hostile: escape quotes and backslashes).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shape(kind: ElementKind, attrs: &BTreeMap<String, serde_json::Value>) -> &'static str {
    match kind {
        ElementKind::Container => "box3d",
        ElementKind::Network => "hexagon",
        ElementKind::Service => "component",
        ElementKind::Task => "note",
        ElementKind::Remote => "doublecircle",
        ElementKind::Interface => {
            let t = attrs.get("type").and_then(|t| t.as_str()).unwrap_or("");
            match InterfaceType::from_attr(t) {
                InterfaceType::Bridge => "box",
                InterfaceType::Vxlan => "cds",
                InterfaceType::Veth => "ellipse",
                _ => "oval",
            }
        }
        ElementKind::Host | ElementKind::Netns => "folder",
    }
}

/// Render the graph as a DOT digraph.
pub fn to_dot(g: &Graph) -> String {
    let mut children: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (i, e) in g.elements.iter().enumerate() {
        children.entry(e.parent.as_deref()).or_default().push(i);
    }
    let mut out = String::from("digraph dockmap {\n  compound=true;\n  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=10];\n");
    emit(g, &children, None, 1, &mut out);
    for e in &g.edges {
        let style = match e.kind {
            EdgeKind::VethPair => "color=\"#d97706\", dir=none, penwidth=2",
            EdgeKind::BridgePort => "color=\"#2563eb\"",
            EdgeKind::Sandbox => "style=dashed, dir=none",
            EdgeKind::Endpoint => "color=\"#059669\", style=dotted",
            EdgeKind::Fdb => "color=\"#7c3aed\", penwidth=2",
            _ => "color=\"#6b7280\"",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [{style}];",
            quote(&e.source),
            quote(&e.target)
        );
    }
    out.push_str("}\n");
    out
}

fn emit(
    g: &Graph,
    children: &BTreeMap<Option<&str>, Vec<usize>>,
    parent: Option<&str>,
    depth: usize,
    out: &mut String,
) {
    let pad = "  ".repeat(depth);
    for &i in children.get(&parent).map(Vec::as_slice).unwrap_or(&[]) {
        let e = &g.elements[i];
        let is_cluster = matches!(e.kind, ElementKind::Host | ElementKind::Netns)
            && children.contains_key(&Some(e.id.as_str()));
        if is_cluster {
            let _ = writeln!(
                out,
                "{pad}subgraph {} {{",
                quote(&format!("cluster_{}", e.id))
            );
            let _ = writeln!(out, "{pad}  label={};", quote(&e.label));
            // An anchor node so edges to the namespace itself (sandbox) have somewhere to land.
            let _ = writeln!(
                out,
                "{pad}  {} [label={}, shape=point];",
                quote(&e.id),
                quote("")
            );
            emit(g, children, Some(e.id.as_str()), depth + 1, out);
            let _ = writeln!(out, "{pad}}}");
        } else {
            let _ = writeln!(
                out,
                "{pad}{} [label={}, shape={}];",
                quote(&e.id),
                quote(&e.label),
                shape(e.kind, &e.attrs)
            );
            emit(g, children, Some(e.id.as_str()), depth, out);
        }
    }
}
