//! Each node's own part of a cluster's picture, kept between builds of a followed cluster: a
//! change on one node of a hundred rebuilds that node's elements, and the others' are copied as
//! they were. Each node's VXLAN tunnels are kept too while what they resolve against (every
//! node's address and vxlan interfaces, labels) is unchanged; the other cross-node joins (tasks,
//! encryption, missing MACs, MTUs, node states) are redone whole. The result is the graph
//! [`super::build_cluster`] gives for the same cluster, byte for byte; where that could not be
//! sure (two nodes claiming one ID), the whole cluster is built as usual.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::snapshot::{ClusterNode, ClusterSnapshot, NodeSnapshot};

use super::attrs::merge_network_attrs;
use super::builder::Builder;
use super::cluster::{build_cluster, finish_joins, prepare_joins};
use super::model::{Edge, Element, ElementKind, Finding, Graph};
use super::nodes::NodeNames;
use super::tunnels::{take_fdb, NodeIndex, Resolved, TunnelContext};

/// What one node adds to the picture by itself (before any cross-node join).
struct NodePart {
    elements: Vec<Element>,
    /// Every edge but the FDB edges.
    edges: Vec<Edge>,
    /// The FDB edges, unresolved, by the vxlan interface they start at; taken when resolved (a
    /// kept part keeps its tunnels resolved, not a second copy of them).
    fdb: Option<BTreeMap<String, Vec<Edge>>>,
    findings: Vec<Finding>,
    /// What the joins look up in this node.
    index: NodeIndex,
}

impl NodePart {
    fn build(names: &NodeNames, snap: &NodeSnapshot) -> NodePart {
        let mut b = Builder::new(names.clone());
        b.add_node(snap);
        let fdb = Some(take_fdb(&mut b.edges));
        NodePart {
            elements: b.elements.into_values().collect(),
            edges: b.edges.into_values().collect(),
            fdb,
            findings: b.findings,
            index: NodeIndex::new(snap),
        }
    }
}

/// A node's part with what it was built from: the caller's stamp of the snapshot's content, and
/// the names the node had (a label changes when another node with its hostname joins); its
/// tunnels as resolved in the last build's context.
struct Kept {
    stamp: u64,
    label: String,
    part: NodePart,
    tunnels: Vec<Resolved>,
}

/// The parts of the last build, by node key; what a build reused or rebuilt.
#[derive(Default)]
pub struct NodeParts {
    kept: HashMap<String, Kept>,
    /// What the kept tunnels were resolved against ([`TunnelContext::canonical`]).
    context: String,
    /// Keys of the nodes whose part the last build made anew (every node after a full build).
    rebuilt: Vec<String>,
    /// Whether the last build resolved every node's tunnels anew.
    tunnels_resolved: bool,
}

/// A node of the build under way.
struct Node {
    key: String,
    stamp: Option<u64>,
    label: String,
    part: NodePart,
    /// Its kept tunnels, when its part was kept.
    tunnels: Option<Vec<Resolved>>,
}

impl NodeParts {
    /// The graph of `cluster`, equal to [`build_cluster`]'s: a node whose stamp (given by
    /// `stamp`, which changes whenever the content of a node's snapshot may have) and names are
    /// those of the last build reuses its part; `None` means always rebuild.
    pub fn build(
        &mut self,
        cluster: &ClusterSnapshot,
        stamp: impl Fn(&ClusterNode) -> Option<u64>,
    ) -> Graph {
        let names = NodeNames::of_cluster(cluster);
        let present: Vec<(&NodeSnapshot, Option<u64>)> = cluster
            .nodes
            .iter()
            .filter_map(|n| Some((n.snapshot.as_ref()?, stamp(n))))
            .collect();
        let snaps: Vec<&NodeSnapshot> = present.iter().map(|(s, _)| *s).collect();
        let mut order = present.clone();
        order.sort_by(|a, b| names.key(a.0).cmp(names.key(b.0)));
        let distinct: HashSet<&str> = order.iter().map(|(s, _)| names.key(s)).collect();
        if distinct.len() != order.len() {
            return self.full(cluster);
        }
        let mut b = Builder::new(names);
        let mut nodes = Vec::with_capacity(order.len());
        let mut rebuilt = Vec::new();
        for (snap, stamp) in &order {
            let key = b.names.key(snap).to_owned();
            let label = b.names.label(snap).to_owned();
            let reuse = self
                .kept
                .remove(&key)
                .filter(|k| Some(k.stamp) == *stamp && k.label == label);
            let (part, tunnels) = match reuse {
                Some(k) => (k.part, Some(k.tunnels)),
                None => {
                    rebuilt.push(key.clone());
                    (NodePart::build(&b.names, snap), None)
                }
            };
            if !add_part(&mut b, &part) {
                return self.full(cluster);
            }
            nodes.push(Node {
                key,
                stamp: *stamp,
                label,
                part,
                tunnels,
            });
        }
        let order: Vec<&NodeSnapshot> = order.iter().map(|(s, _)| *s).collect();
        b.join_nodes(&order);
        let addrs = prepare_joins(&mut b, cluster, &snaps);
        let kept_tunnels: Vec<Option<Vec<Resolved>>> =
            nodes.iter_mut().map(|n| n.tunnels.take()).collect();
        let unresolved: Vec<Option<BTreeMap<String, Vec<Edge>>>> =
            nodes.iter_mut().map(|n| n.part.fdb.take()).collect();
        let index: HashMap<String, &NodeIndex> = nodes
            .iter()
            .map(|n| (n.key.clone(), &n.part.index))
            .collect();
        let context = TunnelContext::new(&b, &snaps, &addrs, &index);
        let canonical = context.canonical();
        let same = canonical == self.context;
        let tunnels: Vec<Vec<Resolved>> = order
            .iter()
            .zip(kept_tunnels.into_iter().zip(unresolved))
            .map(|(snap, (kept, fdb))| match (kept.filter(|_| same), fdb) {
                (Some(t), _) => t,
                (None, Some(fdb)) => fdb.into_values().map(|e| context.resolve(e)).collect(),
                // Kept, but what its tunnels resolve against changed (rare: a node came or
                // went, a label, an address or a vxlan changed): its FDB edges made again.
                (None, None) => NodePart::build(&b.names, snap)
                    .fdb
                    .unwrap_or_default()
                    .into_values()
                    .map(|e| context.resolve(e))
                    .collect(),
            })
            .collect();
        let graph = finish_joins(b, &snaps, &addrs, &index, tunnels.iter().flatten());
        drop(index);
        self.kept = nodes
            .into_iter()
            .zip(tunnels)
            .filter_map(|(n, tunnels)| {
                let kept = Kept {
                    stamp: n.stamp?,
                    label: n.label,
                    part: n.part,
                    tunnels,
                };
                Some((n.key, kept))
            })
            .collect();
        self.context = canonical;
        self.rebuilt = rebuilt;
        self.tunnels_resolved = !same;
        graph
    }

    /// Keys of the nodes whose part the last build made anew.
    pub fn rebuilt(&self) -> &[String] {
        &self.rebuilt
    }

    /// Whether the last build resolved every node's tunnels anew (what they resolve against
    /// changed, or nothing was kept).
    pub fn tunnels_resolved(&self) -> bool {
        self.tunnels_resolved
    }

    /// Build the whole cluster as usual, and keep nothing (the next build starts afresh).
    fn full(&mut self, cluster: &ClusterSnapshot) -> Graph {
        self.kept.clear();
        self.context.clear();
        self.tunnels_resolved = true;
        let names = NodeNames::of_cluster(cluster);
        self.rebuilt = cluster
            .snapshots()
            .iter()
            .map(|s| names.key(s).to_owned())
            .collect();
        build_cluster(cluster)
    }
}

/// Add a node's part as building the node there would have: a swarm network another node drew
/// gets this node's endpoints, a remote address already drawn stays, anything else is this
/// node's. False when an edge ID is taken already (a build would have numbered it otherwise).
fn add_part(b: &mut Builder, part: &NodePart) -> bool {
    for e in &part.edges {
        if b.edges.contains_key(&e.id) {
            return false;
        }
    }
    for e in &part.elements {
        match b.elements.get_mut(&e.id) {
            Some(seen) if e.kind == ElementKind::Network => {
                merge_network_attrs(&mut seen.attrs, e.attrs.clone())
            }
            Some(_) if e.kind == ElementKind::Remote => {}
            _ => {
                b.elements.insert(e.id.clone(), e.clone());
            }
        }
    }
    for e in &part.edges {
        b.edges.insert(e.id.clone(), e.clone());
    }
    b.findings.extend(part.findings.iter().cloned());
    true
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::snapshot::{ClusterSnapshot, NodeState};
    use crate::synthetic::{snapshots, SyntheticOptions};

    /// A cluster of synthetic nodes, each stamped by its position (`source` names it).
    fn cluster(hosts: usize) -> ClusterSnapshot {
        let mut c = ClusterSnapshot::of_nodes(
            snapshots(&SyntheticOptions {
                hosts,
                containers: hosts * 6,
                hostile_names: false,
            }),
            "file",
        );
        for (i, n) in c.nodes.iter_mut().enumerate() {
            n.source = format!("http://198.18.0.{i}:7000");
        }
        c.normalize();
        c
    }

    fn json(g: &Graph) -> String {
        serde_json::to_string(g).unwrap()
    }

    /// One single-node change of the kinds a live swarm sees, picked by `step`.
    fn change(c: &mut ClusterSnapshot, node: usize, step: usize) {
        let n = &mut c.nodes[node];
        let s = n.snapshot.as_mut().unwrap();
        match step % 6 {
            // An MTU (the live bench's change).
            0 => {
                let l = s.namespaces[0].links.iter_mut().next().unwrap();
                l.mtu = if l.mtu == 1400 { 1450 } else { 1400 };
            }
            // A container gone (its endpoints leave the swarm networks' lists, its task's container).
            1 => {
                let e = s.engine.as_mut().unwrap();
                if !e.containers.is_empty() {
                    e.containers.remove(0);
                }
            }
            // A learned FDB entry to an address no node has (a remote, and a finding).
            2 => {
                let ns = s
                    .namespaces
                    .iter_mut()
                    .find(|ns| ns.links.iter().any(|l| l.vxlan.is_some()))
                    .unwrap();
                let ifindex = ns.links.iter().find(|l| l.vxlan.is_some()).unwrap().ifindex;
                ns.fdb.push(crate::snapshot::FdbEntry {
                    ifindex,
                    master: None,
                    mac: format!("02:00:00:00:09:{:02x}", step % 256),
                    vlan: None,
                    dst: Some(format!("198.19.9.{step}")),
                    vni: None,
                    port: None,
                    state: vec!["permanent".into()],
                    flags: vec!["self".into()],
                });
            }
            // Another node's hostname: both are labelled anew (`host@key`).
            3 => s.node.hostname = "shared-name".into(),
            // The node goes stale: its last snapshot stays, its state changes.
            4 => {
                n.state = NodeState::Stale;
                n.age_s = Some(step as u64);
                n.error = "timed out".into();
            }
            // A namespace gone (its interfaces, veth pairs, findings).
            _ => {
                if s.namespaces.len() > 2 {
                    s.namespaces.pop();
                }
            }
        }
        n.snapshot.as_mut().unwrap().normalize();
    }

    #[test]
    fn single_node_changes_rebuild_that_node_only_and_equal_a_full_build() {
        let mut c = cluster(5);
        let mut stamps: HashMap<String, u64> = HashMap::new();
        let mut next = 0u64;
        for n in &c.nodes {
            next += 1;
            stamps.insert(n.source.clone(), next);
        }
        let mut parts = NodeParts::default();
        let first = parts.build(&c, |n| stamps.get(&n.source).copied());
        assert_eq!(json(&first), json(&build_cluster(&c)));
        assert_eq!(parts.rebuilt().len(), 5, "a first build builds every node");
        for step in 0..30 {
            let at = (step * 3) % c.nodes.len();
            change(&mut c, at, step);
            next += 1;
            stamps.insert(c.nodes[at].source.clone(), next);
            let cached = parts.build(&c, |n| stamps.get(&n.source).copied());
            let full = build_cluster(&c);
            assert_eq!(json(&cached), json(&full), "step {step}: node {at}");
            let names = NodeNames::of_cluster(&c);
            let key = names.key(c.nodes[at].snapshot.as_ref().unwrap()).to_owned();
            assert!(parts.rebuilt().contains(&key), "step {step}");
            // Only a new label (a shared hostname) rebuilds other nodes too.
            if step % 6 != 3 {
                assert_eq!(parts.rebuilt(), [key], "step {step}");
            }
            // An MTU or a container changes nothing the tunnels resolve against; a new label does.
            match step % 6 {
                0 | 1 => assert!(!parts.tunnels_resolved(), "step {step}"),
                3 => assert!(parts.tunnels_resolved(), "step {step}"),
                _ => {}
            }
        }
    }

    #[test]
    fn an_unchanged_stamp_reuses_the_part_and_no_stamp_rebuilds() {
        let c = cluster(3);
        let mut parts = NodeParts::default();
        parts.build(&c, |_| Some(1));
        let again = parts.build(&c, |_| Some(1));
        assert!(parts.rebuilt().is_empty());
        assert_eq!(json(&again), json(&build_cluster(&c)));
        parts.build(&c, |_| None);
        assert_eq!(parts.rebuilt().len(), 3);
    }

    #[test]
    fn nodes_claiming_one_key_are_built_whole() {
        let mut c = cluster(2);
        let first = c.nodes[0].snapshot.clone().unwrap();
        c.nodes[1].snapshot = Some(first);
        c.nodes[1].source = "http://198.18.0.9:7000".into();
        let mut parts = NodeParts::default();
        let g = parts.build(&c, |_| Some(1));
        assert_eq!(json(&g), json(&build_cluster(&c)));
    }
}
