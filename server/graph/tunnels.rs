//! VXLAN tunnels between nodes: each vxlan interface's FDB edges re-pointed from the remote
//! address to the remote node's vxlan interface of the same VNI. Resolved per vxlan interface
//! against a [`TunnelContext`] (what every node offers the others), so that a node whose
//! snapshot and context did not change keeps its resolution between builds ([`super::parts`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use crate::snapshot::{NodeId, NodeSnapshot};

use super::builder::{insert_edge, new_finding, Builder};
use super::ids;
use super::ids::namespace_names;
use super::model::{Edge, EdgeKind, ElementKind, Finding, Severity};

/// What the cross-node joins look up in one node, indexed once so each lookup is O(1) however
/// many nodes, namespaces and FDB entries the cluster has; owned, so a node's index can be kept
/// with its part.
pub(super) struct NodeIndex {
    /// VNI → the first vxlan link with it (namespaces in order, then links in order): its
    /// namespace's display name and its name.
    vxlans: HashMap<u64, (String, String)>,
    /// VNI → lowercased MAC → the destinations of that vxlan link's FDB entries for it.
    fdb: HashMap<u64, HashMap<String, Vec<String>>>,
}

impl NodeIndex {
    /// Index one node's snapshot.
    pub(super) fn new(snap: &NodeSnapshot) -> Self {
        let names = namespace_names(&snap.namespaces);
        let mut vxlans = HashMap::new();
        let mut fdb = HashMap::new();
        for ns in &snap.namespaces {
            for vx in &ns.links {
                let Some(v) = &vx.vxlan else { continue };
                let vni = u64::from(v.vni);
                if vxlans.contains_key(&vni) {
                    continue;
                }
                let ns_name = names
                    .get(&ns.id)
                    .cloned()
                    .unwrap_or_else(|| ns.name.clone());
                vxlans.insert(vni, (ns_name, vx.name.clone()));
                let mut by_mac: HashMap<String, Vec<String>> = HashMap::new();
                for f in ns.fdb.iter().filter(|f| f.ifindex == vx.ifindex) {
                    if let Some(dst) = f.dst.as_deref() {
                        by_mac
                            .entry(f.mac.to_ascii_lowercase())
                            .or_default()
                            .push(dst.to_owned());
                    }
                }
                fdb.insert(vni, by_mac);
            }
        }
        NodeIndex { vxlans, fdb }
    }

    /// The vxlan link with this VNI: its namespace's display name and its name.
    pub(super) fn vxlan_with_vni(&self, vni: u64) -> Option<(&str, &str)> {
        self.vxlans
            .get(&vni)
            .map(|(ns, l)| (ns.as_str(), l.as_str()))
    }

    /// That vxlan link's FDB destinations by lowercased MAC.
    pub(super) fn fdb(&self, vni: u64) -> Option<&HashMap<String, Vec<String>>> {
        self.fdb.get(&vni)
    }
}

/// One vxlan interface's FDB edges as resolved: the edges (re-keyed where a tunnel now ends at
/// a node), the findings, and the label each remote address element gets.
#[derive(Clone)]
pub(super) struct Resolved {
    edges: Vec<Edge>,
    findings: Vec<Finding>,
    remotes: Vec<(String, String)>,
}

/// What resolving a tunnel looks up in the rest of the cluster.
pub(super) struct TunnelContext<'a> {
    addrs: &'a HashMap<String, String>,
    index: &'a HashMap<String, &'a NodeIndex>,
    labels: HashMap<String, String>,
    /// Node keys drawn as a host element.
    hosts: HashSet<String>,
}

impl<'a> TunnelContext<'a> {
    /// The context of a builder whose nodes and node states are added: underlay address → node
    /// key, and each node's index by key.
    pub(super) fn new(
        b: &Builder,
        snaps: &[&NodeSnapshot],
        addrs: &'a HashMap<String, String>,
        index: &'a HashMap<String, &'a NodeIndex>,
    ) -> Self {
        let mut labels: HashMap<String, String> = b
            .names
            .all()
            .iter()
            .map(|n| (n.key.clone(), n.label.clone()))
            .collect();
        // Nodes only a manager's list knows are called by the hostname it gives.
        for e in snaps.iter().filter_map(|s| s.engine.as_ref()) {
            for n in &e.nodes {
                if let Some(id) = NodeId::swarm(&n.id) {
                    labels
                        .entry(id.short())
                        .or_insert_with(|| n.hostname.clone());
                }
            }
        }
        let hosts = addrs
            .values()
            .filter(|h| b.elements.contains_key(&ids::host(h)))
            .cloned()
            .collect();
        TunnelContext {
            addrs,
            index,
            labels,
            hosts,
        }
    }

    /// Everything a resolution reads of the context, as one text (each piece length-prefixed):
    /// equal texts resolve every tunnel alike.
    pub(super) fn canonical(&self) -> String {
        fn put(out: &mut String, piece: &str) {
            out.push_str(&piece.len().to_string());
            out.push(':');
            out.push_str(piece);
        }
        fn put_map(out: &mut String, map: &HashMap<String, String>) {
            let mut pairs: Vec<_> = map.iter().collect();
            pairs.sort();
            for (k, v) in pairs {
                put(out, k);
                put(out, v);
            }
            out.push('|');
        }
        let mut out = String::new();
        put_map(&mut out, self.addrs);
        put_map(&mut out, &self.labels);
        let mut keys: Vec<&String> = self.index.keys().collect();
        keys.sort();
        for k in keys {
            put(&mut out, k);
            let mut v: Vec<_> = self.index[k].vxlans.iter().collect();
            v.sort();
            for (vni, (ns, l)) in v {
                put(&mut out, &vni.to_string());
                put(&mut out, ns);
                put(&mut out, l);
            }
            out.push(';');
        }
        out.push('|');
        let mut hosts: Vec<_> = self.hosts.iter().collect();
        hosts.sort();
        for h in hosts {
            put(&mut out, h);
        }
        out
    }

    /// Point one vxlan interface's FDB edges (in ID order) at the remote node's vxlan interface
    /// of the same VNI; flag destinations that are no node.
    pub(super) fn resolve(&self, edges: Vec<Edge>) -> Resolved {
        let mut local: BTreeMap<String, Edge> =
            edges.into_iter().map(|e| (e.id.clone(), e)).collect();
        let mut out = Resolved {
            edges: Vec::new(),
            findings: Vec::new(),
            remotes: Vec::new(),
        };
        let ids: Vec<String> = local.keys().cloned().collect();
        for id in ids {
            let Some(e) = local.remove(&id) else {
                continue;
            };
            let Some(dst) = e.attrs.get("dst").and_then(|d| d.as_str()) else {
                local.insert(id, e);
                continue;
            };
            let Some(host) = self.addrs.get(dst) else {
                if !self.addrs.is_empty() {
                    out.findings.push(new_finding(
                        "fdb-unknown-destination",
                        Severity::Error,
                        format!("FDB entries of {} send to {dst}, which is no node of the swarm: traffic for {} goes nowhere", e.source, e.attrs.get("macs").map(|m| m.to_string()).unwrap_or_default()),
                        vec![e.source.clone(), e.target.clone()],
                    ));
                }
                local.insert(id, e);
                continue;
            };
            let vni = e.attrs.get("vni").and_then(|v| v.as_u64());
            let remote_if = vni.and_then(|vni| {
                self.index
                    .get(host.as_str())
                    .and_then(|idx| idx.vxlan_with_vni(vni))
            });
            // A node with no picture of its own (it never answered, or no agent was asked) is
            // its host element when there is one, else the remote address stays the end of the
            // tunnel.
            let target = match remote_if {
                Some((ns_name, ifname)) => ids::interface(host, ns_name, ifname),
                None if self.hosts.contains(host) => ids::host(host),
                None => e.target.clone(),
            };
            let mut attrs = e.attrs;
            let label = self
                .labels
                .get(host.as_str())
                .map_or(host.as_str(), String::as_str);
            attrs.insert("remote_node".into(), json!(label));
            insert_edge(&mut local, EdgeKind::Fdb, &e.source, &target, attrs);
            out.remotes.push((e.target, label.to_owned()));
        }
        out.edges = local.into_values().collect();
        out
    }
}

/// Take every FDB edge out of a builder, by the vxlan interface it starts at, in ID order.
pub(super) fn take_fdb(edges: &mut BTreeMap<String, Edge>) -> BTreeMap<String, Vec<Edge>> {
    let (fdb, rest): (Vec<_>, Vec<_>) = std::mem::take(edges)
        .into_iter()
        .partition(|(_, e)| e.kind == EdgeKind::Fdb);
    // In order already: collected in bulk, not inserted one by one.
    *edges = rest.into_iter().collect();
    let mut by_source: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    for (_, e) in fdb {
        by_source.entry(e.source.clone()).or_default().push(e);
    }
    by_source
}

/// Put resolved tunnels into the builder; then remotes that were all resolved to nodes need
/// not stand alone.
pub(super) fn put<'r>(b: &mut Builder, resolved: impl Iterator<Item = &'r Resolved>) {
    for r in resolved {
        for e in &r.edges {
            // IDs start with their vxlan interface's: two resolutions never share one.
            if b.edges.contains_key(&e.id) {
                b.edge(e.kind, &e.source, &e.target, e.attrs.clone());
            } else {
                b.edges.insert(e.id.clone(), e.clone());
            }
        }
        b.findings.extend(r.findings.iter().cloned());
        for (remote, label) in &r.remotes {
            if let Some(el) = b.elements.get_mut(remote) {
                el.attrs.insert("node".into(), json!(label));
            }
        }
    }
    let used: HashSet<&str> = b.edges.values().map(|e| e.target.as_str()).collect();
    let unused: Vec<String> = b
        .elements
        .values()
        .filter(|el| el.kind == ElementKind::Remote && !used.contains(el.id.as_str()))
        .map(|el| el.id.clone())
        .collect();
    for id in unused {
        b.elements.remove(&id);
    }
}
