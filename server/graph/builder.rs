//! The graph under construction: elements and edges keyed by their stable IDs, findings, and the
//! names of the nodes; every part of the graph layer adds to one through these few methods.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::ids;
use super::model::*;
use super::nodes::NodeNames;

/// Accumulates elements and edges keyed by their stable ids (so output order never depends on input order).
pub(super) struct Builder {
    pub(super) elements: BTreeMap<String, Element>,
    pub(super) edges: BTreeMap<String, Edge>,
    pub(super) findings: Vec<Finding>,
    /// The key and label of every node of the picture.
    pub(super) names: NodeNames,
}

impl Builder {
    /// A builder for the nodes so named.
    pub(super) fn new(names: NodeNames) -> Self {
        Builder {
            elements: BTreeMap::new(),
            edges: BTreeMap::new(),
            findings: Vec::new(),
            names,
        }
    }

    pub(super) fn element(
        &mut self,
        id: String,
        kind: ElementKind,
        label: String,
        parent: Option<String>,
        attrs: BTreeMap<String, Value>,
    ) {
        self.elements.insert(
            id.clone(),
            Element {
                id,
                kind,
                label,
                parent,
                attrs,
            },
        );
    }

    pub(super) fn edge(
        &mut self,
        kind: EdgeKind,
        source: &str,
        target: &str,
        attrs: BTreeMap<String, Value>,
    ) {
        insert_edge(&mut self.edges, kind, source, target, attrs);
    }

    pub(super) fn finding(
        &mut self,
        code: &str,
        severity: Severity,
        message: String,
        elements: Vec<String>,
    ) {
        self.findings
            .push(new_finding(code, severity, message, elements));
    }

    pub(super) fn finish(mut self) -> Graph {
        sort_findings(&mut self.findings);
        Graph {
            schema: GRAPH_SCHEMA.to_owned(),
            elements: self.elements.into_values().collect(),
            edges: self.edges.into_values().collect(),
            findings: self.findings,
        }
    }
}

/// An edge under the first free ID of its kind and ends (`#1`, `#2`… after the first).
pub(super) fn insert_edge(
    edges: &mut BTreeMap<String, Edge>,
    kind: EdgeKind,
    source: &str,
    target: &str,
    attrs: BTreeMap<String, Value>,
) {
    let mut n = 0;
    loop {
        let id = ids::edge(kind.as_str(), source, target, n);
        if !edges.contains_key(&id) {
            edges.insert(
                id.clone(),
                Edge {
                    id,
                    kind,
                    source: source.to_owned(),
                    target: target.to_owned(),
                    attrs,
                },
            );
            return;
        }
        n += 1;
    }
}

/// A finding, its ID made of its code and first element.
pub(super) fn new_finding(
    code: &str,
    severity: Severity,
    message: String,
    elements: Vec<String>,
) -> Finding {
    let first = elements.first().cloned().unwrap_or_default();
    Finding {
        id: format!("{code}:{first}"),
        code: code.to_owned(),
        severity,
        message,
        elements,
    }
}

/// Most severe first, then by id, so the list reads the same every time.
fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| (a.severity, &a.id, &a.message).cmp(&(b.severity, &b.id, &b.message)));
    findings.dedup_by(|a, b| a.id == b.id && a.message == b.message);
    // Two findings may share a first element; keep their ids distinct.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for f in findings.iter_mut() {
        let n = seen.entry(f.id.clone()).or_default();
        if *n > 0 {
            f.id = format!("{}#{}", f.id, n);
        }
        *n += 1;
    }
}
