//! What changed between two snapshots: elements and edges added, removed and changed (matched by
//! their stable ids, with the attributes that changed, old and new), firewall rules that differ
//! per node, namespace, table and chain, and findings that appeared or went away.
//!
//! A pure function of two snapshots: both sides are normalized and their graphs built the same
//! way (as a cluster, [`crate::graph::build_cluster`]), so a side never differs from itself
//! because of how it was gathered or the order its lists came in.
//!
//! Not compared (it changes with every collection, or is state the kernel learns from traffic):
//! interface counters (`stats`); a host's `taken_at` and the snapshot's durations; how a node was
//! fetched (`node_source`, `age_s`); IPVS connection counters (`active_conns`,
//! `inactive_conns`); learned (dynamic) neighbour and FDB entries, and the multicast ones the
//! kernel makes from group membership (static entries, such as Docker's VXLAN FDB and ARP
//! entries, are compared); finding messages (a finding is compared by id and severity: messages
//! may hold ages); the order of lists (addresses, routes, endpoints, ...), except the order of
//! firewall rules within a chain, which decides what matches first. Native nftables rulesets
//! (`nft -j`) are not compared. See [`noise::IGNORED`].
//!
//! The result is versioned JSON ([`DIFF_SCHEMA`]); [`text`] writes it for a terminal and
//! [`draw`] draws B with what A had and B lacks (for `/diff/A/B`).

pub mod attrs;
pub mod draw;
pub mod firewall;
pub mod graph;
pub mod input;
pub mod model;
pub mod noise;
pub mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::graph::{build_cluster, Graph};
use crate::snapshot::{ClusterSnapshot, NodeSnapshot};

pub use input::{cluster_of, parse_side, read_side, DiffError};
pub use model::*;

/// One side, ready to compare: its node snapshots (normalized) and their graph.
#[derive(Debug, Clone)]
pub struct Side {
    /// The graph built from the snapshots, as a cluster.
    pub graph: Graph,
    /// The node snapshots present (fresh or stale), normalized.
    pub snapshots: Vec<NodeSnapshot>,
    /// When the cluster snapshot was taken.
    pub taken_at: String,
    /// Every node's name, also those that did not answer.
    pub nodes: Vec<String>,
    /// Nodes without a snapshot (never answered): (name, why).
    pub unseen: Vec<(String, String)>,
}

impl Side {
    /// Normalize a cluster snapshot and build its graph.
    pub fn of(mut cluster: ClusterSnapshot) -> Self {
        cluster.normalize();
        let graph = build_cluster(&cluster);
        let nodes = cluster.nodes.iter().map(|n| n.name.clone()).collect();
        let unseen = cluster
            .nodes
            .iter()
            .filter(|n| n.snapshot.is_none())
            .map(|n| {
                let state = n.state.as_str().to_owned();
                let why = if n.error.is_empty() {
                    state
                } else {
                    format!("{state}: {}", n.error)
                };
                (n.name.clone(), why)
            })
            .collect();
        let taken_at = cluster
            .snapshots()
            .iter()
            .map(|s| s.taken_at.clone())
            .max()
            .unwrap_or_else(|| cluster.taken_at.clone());
        let snapshots = cluster
            .nodes
            .into_iter()
            .filter_map(|n| n.snapshot)
            .collect();
        Self {
            graph,
            snapshots,
            taken_at,
            nodes,
            unseen,
        }
    }
}

/// The diff of two cluster snapshots (A the older, B the newer).
pub fn diff_clusters(a: ClusterSnapshot, b: ClusterSnapshot) -> Diff {
    diff(&Side::of(a), &Side::of(b))
}

/// The diff of two prepared sides.
pub fn diff(a: &Side, b: &Side) -> Diff {
    let mut elements = graph::elements(&a.graph, &b.graph);
    let mut edges = graph::edges(&a.graph, &b.graph);
    let unseen = unseen(a, b);
    if !unseen.is_empty() {
        let blind = |id: &str| host_of(id).is_some_and(|h| unseen.iter().any(|u| u.node == h));
        elements.retain(|e| e.change == Change::Changed || !blind(&e.id));
        edges.retain(|x| x.change == Change::Changed || !(blind(&x.source) || blind(&x.target)));
    }
    let findings = graph::findings(&a.graph, &b.graph);
    let firewall = firewall::chains(&a.snapshots, &b.snapshots);
    rules_on_namespaces(&mut elements, &firewall, &b.graph);
    let counts = count(&elements, &edges, &firewall, &findings);
    let equal =
        elements.is_empty() && edges.is_empty() && firewall.is_empty() && findings.is_empty();
    Diff {
        schema: DIFF_SCHEMA.into(),
        a: summary(a),
        b: summary(b),
        equal,
        counts,
        elements,
        edges,
        firewall,
        findings,
        ignored: noise::IGNORED.iter().map(|s| (*s).to_owned()).collect(),
        unseen,
    }
}

/// Nodes either side has no snapshot of.
fn unseen(a: &Side, b: &Side) -> Vec<UnseenNode> {
    let mut out = Vec::new();
    for (side, s) in [("a", a), ("b", b)] {
        for (node, why) in &s.unseen {
            out.push(UnseenNode {
                node: node.clone(),
                side: side.into(),
                why: why.clone(),
            });
        }
    }
    out
}

/// The host a per-host element id names (`host:H`, `netns:H/…`, `if:H/…`, `ctr:H/…`,
/// `net:H/…`); `None` for what spans the cluster (swarm networks, services, tasks, remotes).
pub fn host_of(id: &str) -> Option<&str> {
    if let Some(h) = id.strip_prefix("host:") {
        return Some(h);
    }
    let (kind, rest) = id.split_once(':')?;
    match kind {
        "netns" | "if" | "ctr" | "net" => rest.split_once('/').map(|(h, _)| h),
        _ => None,
    }
}

fn summary(s: &Side) -> SideSummary {
    SideSummary {
        taken_at: s.taken_at.clone(),
        nodes: s.nodes.clone(),
        elements: s.graph.elements.len(),
        edges: s.graph.edges.len(),
    }
}

/// A namespace whose rules changed is a changed element too (so it is listed and highlighted),
/// with one attribute per chain: `firewall <family> <table> <chain>`.
fn rules_on_namespaces(elements: &mut Vec<ElementChange>, chains: &[ChainChange], b: &Graph) {
    let mut per_ns: BTreeMap<&str, Vec<AttrChange>> = BTreeMap::new();
    for c in chains {
        let name = format!("firewall {} {} {}", c.family, c.table, c.chain);
        let attrs = per_ns.entry(c.netns.as_str()).or_default();
        if !c.added.is_empty() || !c.removed.is_empty() {
            attrs.push(AttrChange {
                name: name.clone(),
                old: None,
                new: None,
                added: c.added.iter().map(|r| r.clone().into()).collect(),
                removed: c.removed.iter().map(|r| r.clone().into()).collect(),
            });
        }
        if c.old_policy != c.new_policy {
            attrs.push(AttrChange {
                name: format!("{name} policy"),
                old: c.old_policy.clone().map(Into::into),
                new: c.new_policy.clone().map(Into::into),
                added: Vec::new(),
                removed: Vec::new(),
            });
        }
        if c.reordered {
            attrs.push(AttrChange {
                name: format!("{name} order"),
                old: Some("A's order".into()),
                new: Some("B's order (same rules)".into()),
                added: Vec::new(),
                removed: Vec::new(),
            });
        }
        if c.change != Change::Changed && c.added.is_empty() && c.removed.is_empty() {
            attrs.push(AttrChange {
                name: format!("{name} chain"),
                old: (c.change == Change::Removed).then(|| "declared".into()),
                new: (c.change == Change::Added).then(|| "declared".into()),
                added: Vec::new(),
                removed: Vec::new(),
            });
        }
    }
    for (netns, attrs) in per_ns {
        if attrs.is_empty() {
            continue;
        }
        if let Some(e) = elements.iter_mut().find(|e| e.id == netns) {
            e.attrs.extend(attrs);
            e.attrs.sort_by(|x, y| x.name.cmp(&y.name));
            continue;
        }
        let Some(el) = b.elements.iter().find(|e| e.id == netns) else {
            continue;
        };
        elements.push(ElementChange {
            id: el.id.clone(),
            kind: el.kind,
            label: el.label.clone(),
            change: Change::Changed,
            parent: el.parent.clone(),
            under: el.parent.clone(),
            attrs,
        });
    }
    elements.sort_by(|x, y| (x.change, &x.id).cmp(&(y.change, &y.id)));
}

fn count(
    elements: &[ElementChange],
    edges: &[EdgeChange],
    chains: &[ChainChange],
    findings: &[FindingChange],
) -> Counts {
    let n = |c: Change, it: &mut dyn Iterator<Item = Change>| it.filter(|x| *x == c).count();
    Counts {
        elements_added: n(Change::Added, &mut elements.iter().map(|e| e.change)),
        elements_removed: n(Change::Removed, &mut elements.iter().map(|e| e.change)),
        elements_changed: n(Change::Changed, &mut elements.iter().map(|e| e.change)),
        edges_added: n(Change::Added, &mut edges.iter().map(|e| e.change)),
        edges_removed: n(Change::Removed, &mut edges.iter().map(|e| e.change)),
        edges_changed: n(Change::Changed, &mut edges.iter().map(|e| e.change)),
        chains_changed: chains.len(),
        rules_added: chains.iter().map(|c| c.added.len()).sum(),
        rules_removed: chains.iter().map(|c| c.removed.len()).sum(),
        findings_added: n(Change::Added, &mut findings.iter().map(|f| f.change)),
        findings_removed: n(Change::Removed, &mut findings.iter().map(|f| f.change)),
        findings_changed: n(Change::Changed, &mut findings.iter().map(|f| f.change)),
    }
}
