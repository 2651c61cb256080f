//! Elements, edges and findings of two graphs, matched by their stable ids.

use std::collections::{BTreeMap, HashMap};

use crate::graph::{Edge, EdgeKind, Element, Finding, Graph};

use super::attrs::{compare, whole};
use super::model::{Change, EdgeChange, ElementChange, FindingChange};
use super::noise::{clean, clean_edge};

/// Elements only in A, only in B, or in both with other attributes; by change, then id.
pub fn elements(a: &Graph, b: &Graph) -> Vec<ElementChange> {
    let old = by_id(&a.elements, |e| &e.id);
    let new = by_id(&b.elements, |e| &e.id);
    let (owner_a, owner_b) = (sandbox_owners(a), sandbox_owners(b));
    let mut out = Vec::new();
    for (id, e) in &new {
        match old.get(id) {
            None => out.push(element_change(
                e,
                Change::Added,
                whole(&clean(e.kind, &e.attrs), true),
                &owner_b,
            )),
            // Most elements are the same on both sides: equal as they are, nothing to clean.
            Some(o) if o == e => {}
            Some(o) => {
                let mut attrs = compare(&clean(o.kind, &o.attrs), &clean(e.kind, &e.attrs));
                identity(o, e, &mut attrs);
                if !attrs.is_empty() {
                    out.push(element_change(e, Change::Changed, attrs, &owner_b));
                }
            }
        }
    }
    for (id, e) in &old {
        if !new.contains_key(id) {
            out.push(element_change(
                e,
                Change::Removed,
                whole(&clean(e.kind, &e.attrs), false),
                &owner_a,
            ));
        }
    }
    out.sort_by(|x, y| (x.change, &x.id).cmp(&(y.change, &y.id)));
    out
}

/// Label, parent and kind are not attributes, but a change in them is a change.
fn identity(o: &Element, e: &Element, attrs: &mut Vec<super::model::AttrChange>) {
    let mut extra = BTreeMap::new();
    let mut extra_old = BTreeMap::new();
    if o.label != e.label {
        extra_old.insert("label".to_owned(), o.label.clone().into());
        extra.insert("label".to_owned(), e.label.clone().into());
    }
    if o.parent != e.parent {
        if let Some(p) = &o.parent {
            extra_old.insert("parent".to_owned(), p.clone().into());
        }
        if let Some(p) = &e.parent {
            extra.insert("parent".to_owned(), p.clone().into());
        }
    }
    if o.kind != e.kind {
        extra_old.insert("kind".to_owned(), serde_json::json!(o.kind));
        extra.insert("kind".to_owned(), serde_json::json!(e.kind));
    }
    if !extra.is_empty() || !extra_old.is_empty() {
        attrs.extend(compare(&extra_old, &extra));
        attrs.sort_by(|x, y| x.name.cmp(&y.name));
    }
}

fn element_change(
    e: &Element,
    change: Change,
    attrs: Vec<super::model::AttrChange>,
    owners: &HashMap<&str, &str>,
) -> ElementChange {
    let under = owners
        .get(e.id.as_str())
        .map(|c| (*c).to_owned())
        .or_else(|| e.parent.clone());
    ElementChange {
        id: e.id.clone(),
        kind: e.kind,
        label: e.label.clone(),
        change,
        parent: e.parent.clone(),
        under,
        attrs,
    }
}

/// What each element is listed under besides its parent: a sandbox under its container, and the
/// host end of a container's veth under the container's end (so a container that came or went
/// is one block in the list, host-side veth included).
fn sandbox_owners(g: &Graph) -> HashMap<&str, &str> {
    fn keep_min<'a>(m: &mut HashMap<&'a str, &'a str>, k: &'a str, v: &'a str) {
        let slot = m.entry(k).or_insert(v);
        if v < *slot {
            *slot = v;
        }
    }
    let mut m: HashMap<&str, &str> = HashMap::new();
    for e in g.edges.iter().filter(|e| e.kind == EdgeKind::Sandbox) {
        keep_min(&mut m, e.target.as_str(), e.source.as_str());
    }
    let parent: HashMap<&str, &str> = g
        .elements
        .iter()
        .filter_map(|e| Some((e.id.as_str(), e.parent.as_deref()?)))
        .collect();
    let in_sandbox = |id: &str| parent.get(id).is_some_and(|ns| m.contains_key(ns));
    let mut peers = Vec::new();
    for e in g.edges.iter().filter(|e| e.kind == EdgeKind::VethPair) {
        let (s, t) = (e.source.as_str(), e.target.as_str());
        match (in_sandbox(s), in_sandbox(t)) {
            (true, false) => peers.push((t, s)),
            (false, true) => peers.push((s, t)),
            _ => {}
        }
    }
    for (host_end, ctr_end) in peers {
        keep_min(&mut m, host_end, ctr_end);
    }
    m
}

/// Edges only in A, only in B, or in both with other attributes; by change, then id.
pub fn edges(a: &Graph, b: &Graph) -> Vec<EdgeChange> {
    let old = by_id(&a.edges, |e| &e.id);
    let new = by_id(&b.edges, |e| &e.id);
    let mut out = Vec::new();
    for (id, e) in &new {
        match old.get(id) {
            None => out.push(edge_change(
                e,
                Change::Added,
                whole(&clean_edge(&e.attrs), true),
            )),
            Some(o) if o.attrs == e.attrs => {}
            Some(o) => {
                let attrs = compare(&clean_edge(&o.attrs), &clean_edge(&e.attrs));
                if !attrs.is_empty() {
                    out.push(edge_change(e, Change::Changed, attrs));
                }
            }
        }
    }
    for (id, e) in &old {
        if !new.contains_key(id) {
            out.push(edge_change(
                e,
                Change::Removed,
                whole(&clean_edge(&e.attrs), false),
            ));
        }
    }
    out.sort_by(|x, y| (x.change, &x.id).cmp(&(y.change, &y.id)));
    out
}

fn edge_change(e: &Edge, change: Change, attrs: Vec<super::model::AttrChange>) -> EdgeChange {
    EdgeChange {
        id: e.id.clone(),
        kind: e.kind,
        source: e.source.clone(),
        target: e.target.clone(),
        change,
        attrs,
    }
}

/// Findings by id: appeared, went away, or changed severity (messages may hold ages: not compared).
pub fn findings(a: &Graph, b: &Graph) -> Vec<FindingChange> {
    let old = by_id(&a.findings, |f| &f.id);
    let new = by_id(&b.findings, |f| &f.id);
    let mut out = Vec::new();
    for (id, f) in &new {
        match old.get(id) {
            None => out.push(finding_change(f, Change::Added, None)),
            Some(o) if o.severity != f.severity => {
                out.push(finding_change(f, Change::Changed, Some(o.severity)))
            }
            Some(_) => {}
        }
    }
    for (id, f) in &old {
        if !new.contains_key(id) {
            out.push(finding_change(f, Change::Removed, None));
        }
    }
    out.sort_by(|x, y| (x.change, &x.id).cmp(&(y.change, &y.id)));
    out
}

fn finding_change(
    f: &Finding,
    change: Change,
    old_severity: Option<crate::graph::Severity>,
) -> FindingChange {
    FindingChange {
        id: f.id.clone(),
        code: f.code.clone(),
        change,
        severity: f.severity,
        old_severity,
        message: f.message.clone(),
        elements: f.elements.clone(),
    }
}

/// Items by id; should an id repeat (bad data), the first one counts.
fn by_id<T>(items: &[T], id: impl Fn(&T) -> &String) -> BTreeMap<&str, &T> {
    let mut m = BTreeMap::new();
    for x in items {
        m.entry(id(x).as_str()).or_insert(x);
    }
    m
}
