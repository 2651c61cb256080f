//! Cross-node joins: VXLAN tunnels between nodes, node states, and findings only a whole swarm shows.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::names;
use crate::snapshot::{
    node_address, url_host, ClusterSnapshot, LinkKind, Namespace, NamespaceRole, NodeId,
    NodeSnapshot, NodeState, DISCOVERY,
};

use super::builder::Builder;
use super::ids;
use super::ids::namespace_names;
use super::model::{ElementKind, Graph, Severity};
use super::nodes::NodeNames;
use super::tunnels::{self, NodeIndex, Resolved, TunnelContext};

/// VXLAN encapsulation overhead on IPv4: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14.
pub const VXLAN_OVERHEAD: u32 = 50;

/// Derive the graph of a whole cluster snapshot.
pub fn build_cluster(cluster: &ClusterSnapshot) -> Graph {
    let snaps = cluster.snapshots();
    let mut b = Builder::new(NodeNames::of_cluster(cluster));
    b.add_nodes(&snaps);
    join_cluster(b, cluster, &snaps)
}

/// The cross-node joins of a cluster whose nodes are all added: node states, tunnels,
/// encryption, missing MACs, MTUs; then the finished graph.
pub(super) fn join_cluster(
    mut b: Builder,
    cluster: &ClusterSnapshot,
    snaps: &[&NodeSnapshot],
) -> Graph {
    let addrs = prepare_joins(&mut b, cluster, snaps);
    let owned: Vec<NodeIndex> = snaps.iter().map(|s| NodeIndex::new(s)).collect();
    let index: HashMap<String, &NodeIndex> = snaps
        .iter()
        .zip(&owned)
        .map(|(s, i)| (b.names.key(s).to_owned(), i))
        .collect();
    let fdb = tunnels::take_fdb(&mut b.edges);
    let context = TunnelContext::new(&b, snaps, &addrs, &index);
    let resolved: Vec<Resolved> = fdb.into_values().map(|e| context.resolve(e)).collect();
    finish_joins(b, snaps, &addrs, &index, resolved.iter())
}

/// The joins before the tunnels: each node's state, and the underlay address → node key map.
pub(super) fn prepare_joins(
    b: &mut Builder,
    cluster: &ClusterSnapshot,
    snaps: &[&NodeSnapshot],
) -> HashMap<String, String> {
    node_states(b, cluster);
    node_addresses(&b.names, cluster, snaps)
}

/// The joins from the tunnels on (resolved already, by vxlan interface): encryption, missing
/// MACs, MTUs; then the finished graph.
pub(super) fn finish_joins<'r>(
    mut b: Builder,
    snaps: &[&NodeSnapshot],
    addrs: &HashMap<String, String>,
    index: &HashMap<String, &NodeIndex>,
    resolved: impl Iterator<Item = &'r Resolved>,
) -> Graph {
    tunnels::put(&mut b, resolved);
    super::encryption::encryption(&mut b, snaps);
    missing_macs(&mut b, snaps, addrs, index);
    mtu(&mut b, snaps);
    b.finish()
}

/// Each node's state as the server saw it; a node that did not answer is a finding.
///
/// A failed `--agents auto` discovery is no host: it gets no host element, and its finding
/// concerns every host drawn (the nodes asked again from the last list), so each host's panel
/// shows it; the status bar lists it as well, as the node list's own report.
fn node_states(b: &mut Builder, cluster: &ClusterSnapshot) {
    let mut discovery_failures = Vec::new();
    for n in &cluster.nodes {
        if n.name == DISCOVERY && n.snapshot.is_none() {
            discovery_failures.push(n);
            continue;
        }
        let (key, host) = match b.names.entry(n) {
            Some(name) => (name.key.clone(), name.label.clone()),
            None => (n.name.clone(), n.name.clone()),
        };
        let id = ids::host(&key);
        if !b.elements.contains_key(&id) {
            b.element(
                id.clone(),
                ElementKind::Host,
                host.clone(),
                None,
                BTreeMap::new(),
            );
        }
        if let Some(e) = b.elements.get_mut(&id) {
            e.attrs.insert("node_state".into(), json!(n.state));
            e.attrs.insert("node_source".into(), json!(n.source));
            if !n.error.is_empty() {
                e.attrs.insert("node_error".into(), json!(n.error));
            }
            if let Some(age) = n.age_s {
                e.attrs.insert("age_s".into(), json!(age));
            }
        }
        let (severity, what) = match n.state {
            NodeState::Fresh => continue,
            NodeState::Stale => (
                Severity::Warning,
                format!(
                    "showing its last good snapshot, {} s old",
                    n.age_s.unwrap_or(0)
                ),
            ),
            NodeState::Unreachable => (Severity::Error, "nothing is shown for it".to_owned()),
            NodeState::Unauthorized => (
                Severity::Error,
                "it refused the token; nothing is shown for it".to_owned(),
            ),
        };
        b.finding(
            "agent-not-answering",
            severity,
            format!("node {host} did not answer ({}): {what}", n.error),
            vec![id],
        );
    }
    // After the loop: hosts of nodes that never answered are elements only now.
    let hosts: Vec<String> = b
        .elements
        .values()
        .filter(|e| e.kind == ElementKind::Host)
        .map(|e| e.id.clone())
        .collect();
    for n in discovery_failures {
        b.finding(
            "swarm-discovery-failed",
            Severity::Error,
            format!(
                "the swarm's node list could not be read ({}): the nodes found before are asked again, new ones are missed",
                n.error
            ),
            hosts.clone(),
        );
    }
}

/// Underlay address → node key: each node's own swarm address, then the address of the agent
/// URL of each node that never answered (keyed as its host element is), then managers' node lists
/// (a node no agent was asked for is keyed by its swarm node ID, as it would be if it answered).
fn node_addresses(
    names: &NodeNames,
    cluster: &ClusterSnapshot,
    snaps: &[&NodeSnapshot],
) -> HashMap<String, String> {
    let mut addrs = HashMap::new();
    let mut by_node_id: HashMap<&str, &str> = HashMap::new();
    for s in snaps {
        if let Some(e) = &s.engine {
            if !e.swarm.node_addr.is_empty() {
                addrs.insert(e.swarm.node_addr.clone(), names.key(s).to_owned());
            }
            if !e.swarm.node_id.is_empty() {
                by_node_id.insert(e.swarm.node_id.as_str(), names.key(s));
            }
        }
    }
    for n in cluster.nodes.iter().filter(|n| n.snapshot.is_none()) {
        if let (Some(host), Some(name)) = (url_host(&n.source), names.entry(n)) {
            addrs.entry(host).or_insert_with(|| name.key.clone());
        }
    }
    for s in snaps {
        if let Some(e) = &s.engine {
            for n in &e.nodes {
                let Some(addr) = node_address(&n.addr, &n.manager_addr) else {
                    continue;
                };
                addrs.entry(addr).or_insert_with(|| {
                    by_node_id
                        .get(n.id.as_str())
                        .map(|h| (*h).to_owned())
                        .or_else(|| NodeId::swarm(&n.id).map(|id| id.short()))
                        .unwrap_or_else(|| NodeId::hostname(&n.hostname).short())
                });
            }
        }
    }
    addrs
}

/// A container on node B whose overlay MAC node A's vxlan FDB lacks, while A has the network too.
fn missing_macs(
    b: &mut Builder,
    snaps: &[&NodeSnapshot],
    addrs: &HashMap<String, String>,
    index: &HashMap<String, &NodeIndex>,
) {
    // A node may be known at several addresses (its swarm address, its agent's): an FDB entry to
    // any of them reaches it, which keeps the answer independent of hash order.
    let mut own_addrs: HashMap<&str, Vec<&str>> = HashMap::new();
    for (a, h) in addrs {
        own_addrs.entry(h.as_str()).or_default().push(a.as_str());
    }
    let names = b.names.clone();
    // (network id) -> [(host key, container name, mac, mac lowercased)]
    let mut members: BTreeMap<&str, Vec<(&str, &str, &str, String)>> = BTreeMap::new();
    let mut vnis: HashMap<&str, u64> = HashMap::new();
    for s in snaps {
        let Some(e) = &s.engine else { continue };
        for n in e
            .networks
            .iter()
            .filter(|n| n.driver == names::DRIVER_OVERLAY)
        {
            if let Some(&v) = names::vxlan_ids(&n.options).first() {
                vnis.insert(n.id.as_str(), u64::from(v));
            }
        }
        for c in &e.containers {
            for ep in &c.endpoints {
                if !ep.mac.is_empty() {
                    members.entry(ep.network_id.as_str()).or_default().push((
                        names.key(s),
                        c.name.as_str(),
                        ep.mac.as_str(),
                        ep.mac.to_ascii_lowercase(),
                    ));
                }
            }
        }
    }
    if members.keys().all(|net| !vnis.contains_key(net)) {
        return;
    }
    for (net, list) in &members {
        let Some(&vni) = vnis.get(net) else { continue };
        // Each member's own addresses, looked up once, not once per node.
        let list: Vec<_> = list
            .iter()
            .filter_map(|m| Some((m, own_addrs.get(m.0)?)))
            .collect();
        for a in snaps {
            let a_host = names.key(a);
            let a_label = names.label(a);
            let Some(idx) = index.get(a_host) else {
                continue;
            };
            let Some((ns_name, vx_name)) = idx.vxlan_with_vni(vni) else {
                continue;
            };
            let fdb = idx.fdb(vni);
            let vx_id = ids::interface(a_host, ns_name, vx_name);
            for ((b_host, ctr, mac, lower), b_addrs) in
                list.iter().filter(|((h, ..), _)| *h != a_host)
            {
                let present = fdb.and_then(|f| f.get(lower)).is_some_and(|dsts| {
                    b_addrs
                        .iter()
                        .any(|a| dsts.iter().any(|d| d.as_str() == *a))
                });
                if !present {
                    let b_label = names
                        .all()
                        .iter()
                        .find(|n| n.key == *b_host)
                        .map_or(*b_host, |n| n.label.as_str());
                    b.finding(
                        "fdb-mac-missing",
                        Severity::Error,
                        format!("{ctr} on {b_label} ({mac}) is missing from {a_label}'s {vx_name} FDB (VNI {vni}): {a_label} cannot reach it over the tunnel"),
                        vec![vx_id.clone(), ids::container(b_host, ctr)],
                    );
                }
            }
        }
    }
}

/// Overlay interfaces whose MTU plus VXLAN overhead exceeds the underlay's MTU: big packets will be dropped.
fn mtu(b: &mut Builder, snaps: &[&NodeSnapshot]) {
    let names = b.names.clone();
    for s in snaps {
        let host = names.key(s);
        let Some(hns) = s.host_namespace() else {
            continue;
        };
        let addr = s
            .engine
            .as_ref()
            .map(|e| e.swarm.node_addr.as_str())
            .unwrap_or("");
        let Some(under) = hns
            .addresses
            .iter()
            .find(|a| a.address == addr)
            .and_then(|a| hns.link(a.ifindex))
        else {
            continue;
        };
        let names = namespace_names(&s.namespaces);
        let s_name = |ns: &Namespace| {
            names
                .get(&ns.id)
                .cloned()
                .unwrap_or_else(|| ns.name.clone())
        };
        for ns in s
            .namespaces
            .iter()
            .filter(|n| n.role == NamespaceRole::Overlay)
        {
            for vx in ns.links.iter().filter(|l| l.kind == LinkKind::Vxlan) {
                if vx.mtu + VXLAN_OVERHEAD > under.mtu {
                    b.finding(
                        "overlay-mtu-too-big",
                        Severity::Error,
                        format!("{} in {} has MTU {} but the underlay {} has MTU {}: {} + {VXLAN_OVERHEAD} bytes of VXLAN overhead does not fit, large packets are dropped", vx.name, s_name(ns), vx.mtu, under.name, under.mtu, vx.mtu),
                        vec![ids::interface(host, &s_name(ns), &vx.name), ids::interface(host, &s_name(hns), &under.name)],
                    );
                }
            }
        }
    }
}
