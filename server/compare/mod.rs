//! Two nodes side by side: each node's graph keyed without its host, the union of both
//! (which both panes are laid out over, so equal things sit at equal places), and the
//! differences in words.
//!
//! Pure functions of snapshots: the web layer only picks the two nodes and draws.

pub mod diff;
pub mod keys;
pub mod panes;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::graph::{self, Edge, Element, Graph, GRAPH_SCHEMA};
use crate::snapshot::NodeSnapshot;

pub use diff::{Difference, Presence};
pub use keys::{key_graph, Keyed};

/// One side of a comparison: a node of some snapshot.
#[derive(Debug, Clone)]
pub struct Side {
    /// What the user asked for (`node1`, `ID:node1`).
    pub spec: String,
    /// The node's name (its label: the hostname, told apart where nodes share one).
    pub node: String,
    /// The host part of the element IDs of its graph (its identity's short form).
    pub key: String,
    /// The node's snapshot, with the swarm's services and this node's tasks added from a
    /// manager of the same snapshot (a worker lists none).
    pub snapshot: NodeSnapshot,
    /// The node's graph, keyed.
    pub keyed: Keyed,
}

/// A side given as `NODE` (the live state) or `ID:NODE` (a saved snapshot's node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideSpec {
    /// The saved snapshot's ID; `None` for the live state.
    pub snapshot: Option<String>,
    /// The node's name.
    pub node: String,
}

impl SideSpec {
    /// Parse `NODE` or `ID:NODE`; `None` when the node part is empty.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (snap, node) = match s.split_once(':') {
            Some((id, node)) => (Some(id.to_owned()).filter(|i| !i.is_empty()), node),
            None => (None, s),
        };
        (!node.is_empty()).then(|| Self {
            snapshot: snap,
            node: node.to_owned(),
        })
    }
}

/// Why a side cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompareError {
    /// The snapshot holds no such node, or several go by that name.
    #[error("{0}")]
    NoSuchNode(#[from] graph::NodeLookupError),
}

/// The node's snapshot as a side: its own facts, plus the swarm's services and the tasks the
/// swarm placed on it, from any manager's snapshot among `all`.
///
/// `node` is a node ID (or a unique prefix of it), a hostname no other node has, or a label as
/// the picture shows it (`ubuntu@s4czfr`).
pub fn side(all: &[NodeSnapshot], node: &str, spec: &str) -> Result<Side, CompareError> {
    let refs: Vec<&NodeSnapshot> = all.iter().collect();
    let names = graph::NodeNames::new(&refs);
    let picked = names.resolve(node)?;
    let Some(own) = all.iter().find(|s| names.key(s) == picked.key) else {
        return Err(graph::NodeLookupError::Unknown {
            query: node.to_owned(),
            known: names.all().iter().map(|n| n.label.clone()).collect(),
        }
        .into());
    };
    let label = picked.label.clone();
    let mut snap = own.clone();
    let manager = all
        .iter()
        .filter_map(|s| s.engine.as_ref())
        .find(|e| !e.services.is_empty() || !e.tasks.is_empty());
    if let (Some(e), Some(m)) = (snap.engine.as_mut(), manager) {
        let me = e.swarm.node_id.clone();
        if !me.is_empty() {
            e.services = m.services.clone();
            e.tasks = m
                .tasks
                .iter()
                .filter(|t| t.node_id == me)
                .cloned()
                .collect();
        }
    }
    snap.normalize();
    let g = graph::build(std::slice::from_ref(&snap));
    let key = graph::NodeNames::new(&[&snap]).key(&snap).to_owned();
    let keyed = key_graph(&g, &key);
    Ok(Side {
        spec: spec.to_owned(),
        node: label,
        key,
        snapshot: snap,
        keyed,
    })
}

/// Two sides, their union and their differences.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The left side.
    pub left: Side,
    /// The right side.
    pub right: Side,
    /// Every key of either side (left's facts where both have it): what both panes are laid out over.
    pub union: Graph,
    /// What differs, most telling first.
    pub differences: Vec<Difference>,
}

/// Compare two sides.
pub fn compare(left: Side, right: Side) -> Comparison {
    let union = union(&left.keyed.graph, &right.keyed.graph);
    let differences = diff::differences(&left, &right);
    Comparison {
        left,
        right,
        union,
        differences,
    }
}

/// The union of two keyed graphs. Addresses are dropped from it: the layout would otherwise
/// take one side's underlay address for the other side's remote tunnel end.
pub fn union(a: &Graph, b: &Graph) -> Graph {
    let mut elements: BTreeMap<String, Element> = BTreeMap::new();
    for e in b.elements.iter().chain(&a.elements) {
        let mut e = e.clone();
        e.attrs.remove("addresses");
        e.attrs.remove("swarm_node_addr");
        // Left (a) comes last and so wins where both have the key.
        elements.insert(e.id.clone(), e);
    }
    let mut edges: BTreeMap<String, Edge> = BTreeMap::new();
    for e in b.edges.iter().chain(&a.edges) {
        edges.insert(e.id.clone(), e.clone());
    }
    Graph {
        schema: GRAPH_SCHEMA.to_owned(),
        elements: elements.into_values().collect(),
        edges: edges.into_values().collect(),
        findings: Vec::new(),
    }
}

/// Which keys each side has.
pub fn presence(c: &Comparison) -> BTreeMap<String, Presence> {
    let l: BTreeSet<&str> = c
        .left
        .keyed
        .graph
        .elements
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let r: BTreeSet<&str> = c
        .right
        .keyed
        .graph
        .elements
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    l.union(&r)
        .map(|k| {
            let p = match (l.contains(k), r.contains(k)) {
                (true, true) => Presence::Both,
                (true, false) => Presence::Left,
                _ => Presence::Right,
            };
            ((*k).to_owned(), p)
        })
        .collect()
}

/// The comparison as `/api/compare` answers it.
#[derive(Debug, Serialize)]
pub struct CompareReport<'a> {
    /// The left side's spec and node.
    pub left: SideReport<'a>,
    /// The right side's.
    pub right: SideReport<'a>,
    /// Element counts: on both sides, left only, right only.
    pub counts: BTreeMap<&'static str, usize>,
    /// The differences.
    pub differences: &'a [Difference],
}

/// One side in the report.
#[derive(Debug, Serialize)]
pub struct SideReport<'a> {
    /// As asked (`node1`, `ID:node1`).
    pub spec: &'a str,
    /// The node.
    pub node: &'a str,
    /// When its snapshot was taken.
    pub taken_at: &'a str,
    /// How many elements it has.
    pub elements: usize,
}

impl Comparison {
    /// The JSON report.
    pub fn report(&self) -> CompareReport<'_> {
        let mut counts = BTreeMap::new();
        for p in presence(self).values() {
            *counts
                .entry(match p {
                    Presence::Both => "both",
                    Presence::Left => "left_only",
                    Presence::Right => "right_only",
                })
                .or_default() += 1;
        }
        fn side(s: &Side) -> SideReport<'_> {
            SideReport {
                spec: &s.spec,
                node: &s.node,
                taken_at: &s.snapshot.taken_at,
                elements: s.keyed.graph.elements.len(),
            }
        }
        CompareReport {
            left: side(&self.left),
            right: side(&self.right),
            counts,
            differences: &self.differences,
        }
    }
}
