//! Findings: problems the snapshot shows, each naming the elements it concerns.

use std::collections::{HashMap, HashSet};

use crate::snapshot::{IpvsState, LinkKind, NamespaceRole, NodeSnapshot, NsIdentity, SourceState};

use super::builder::Builder;
use super::ids;
use super::index::Sandboxes;
use super::model::Severity;

/// One node as its findings see it: the snapshot, its key and label, its namespaces' names.
#[derive(Clone, Copy)]
pub(super) struct NodeView<'a> {
    pub(super) snap: &'a NodeSnapshot,
    /// The node's key (the host part of IDs).
    pub(super) host: &'a str,
    pub(super) label: &'a str,
    pub(super) ns_names: &'a HashMap<NsIdentity, String>,
}

impl NodeView<'_> {
    fn ns_id(&self, id: NsIdentity) -> String {
        ids::netns(self.host, &self.ns_names[&id])
    }
}

/// Findings of one node that need only its own snapshot (veth findings come from the pairing).
pub(super) fn per_node(b: &mut Builder, node: &NodeView, sandboxes: &Sandboxes) {
    source_errors(b, node);
    unexplained_namespaces(b, node, sandboxes);
    bridges_without_ports(b, node);
    ipvs_missing(b, node);
}

/// A source that failed, on the namespace it concerns or else the host.
fn source_errors(b: &mut Builder, node: &NodeView) {
    let snap = node.snap;
    for s in snap
        .sources
        .iter()
        .filter(|s| s.state == SourceState::Error)
    {
        let what = s.source.as_str();
        let (element, place) = match s
            .namespace
            .as_deref()
            .and_then(|n| snap.namespaces.iter().find(|ns| ns.name == n))
        {
            Some(ns) => (node.ns_id(ns.id), format!(" in {}", node.ns_names[&ns.id])),
            None => (ids::host(node.host), String::new()),
        };
        b.finding(
            "source-error",
            Severity::Warning,
            format!("could not read {what}{place}: {}", s.message),
            vec![element],
        );
    }
}

/// Running containers whose namespace was not seen, and namespaces that no container explains
/// and whose name gives no Docker role.
fn unexplained_namespaces(b: &mut Builder, node: &NodeView, sandboxes: &Sandboxes) {
    let snap = node.snap;
    let mut explained: HashSet<NsIdentity> = HashSet::new();
    if let Some(engine) = &snap.engine {
        for c in &engine.containers {
            match sandboxes.of(c) {
                Some(ns) => {
                    explained.insert(ns.id);
                }
                None if c.state == "running" => b.finding(
                    "container-sandbox-missing",
                    Severity::Warning,
                    format!(
                        "running container {} has no namespace dockmap could see (sandbox {:?})",
                        c.name, c.sandbox_key
                    ),
                    vec![ids::container(node.host, &c.name)],
                ),
                None => {}
            }
        }
    }
    for ns in &snap.namespaces {
        let unexplained = match ns.role {
            NamespaceRole::Other => true,
            NamespaceRole::Container => !explained.contains(&ns.id),
            _ => false,
        };
        if unexplained && !explained.contains(&ns.id) {
            b.finding(
                "netns-unexplained",
                Severity::Warning,
                format!(
                    "namespace {} belongs to no container and has no known Docker role",
                    node.ns_names[&ns.id]
                ),
                vec![node.ns_id(ns.id)],
            );
        }
    }
}

/// Bridges nothing is attached to.
fn bridges_without_ports(b: &mut Builder, node: &NodeView) {
    for ns in &node.snap.namespaces {
        let name = &node.ns_names[&ns.id];
        for br in ns.links.iter().filter(|l| l.kind == LinkKind::Bridge) {
            if !ns.links.iter().any(|l| l.master == Some(br.ifindex)) {
                b.finding(
                    "bridge-no-ports",
                    Severity::Info,
                    format!(
                        "bridge {} in {name} has no ports: nothing is attached to it",
                        br.name
                    ),
                    vec![ids::interface(node.host, name, &br.name)],
                );
            }
        }
    }
}

/// A swarm node whose kernel has no IPVS, where the routing mesh needs it.
fn ipvs_missing(b: &mut Builder, node: &NodeView) {
    let snap = node.snap;
    let in_swarm = snap
        .engine
        .as_ref()
        .is_some_and(|e| e.swarm.local_state == "active");
    if !in_swarm {
        return;
    }
    let missing: Vec<String> = snap
        .namespaces
        .iter()
        .filter(|ns| matches!(ns.ipvs, IpvsState::Unavailable { .. }))
        .filter(|ns| {
            matches!(
                ns.role,
                NamespaceRole::Host | NamespaceRole::IngressSandbox | NamespaceRole::LoadBalancer
            )
        })
        .map(|ns| node.ns_id(ns.id))
        .collect();
    if !missing.is_empty() {
        let mut elements = vec![ids::host(node.host)];
        elements.extend(missing);
        b.finding(
            "ipvs-unavailable",
            Severity::Error,
            format!("{} is in a swarm but its kernel has no IPVS: the routing mesh and service VIPs cannot work here", node.label),
            elements,
        );
    }
}

/// Nodes that share a hostname (drawn apart by their identity: say so, so nobody takes the
/// labels' suffixes for a fault), and snapshots that claim one identity (cloned machines: drawn
/// apart too, but their facts cannot be told apart by ID).
pub(super) fn shared_names(b: &mut Builder) {
    for shared in b.names.shared_hostnames() {
        let labels: Vec<String> = shared
            .nodes
            .iter()
            .map(|n| format!("{} ({} {})", n.label, n.id.kind.as_str(), n.id.value))
            .collect();
        b.finding(
            "duplicate-hostname",
            Severity::Warning,
            format!(
                "{} nodes report the hostname {}: {}; they are told apart by their identity, and labelled with its start",
                shared.nodes.len(),
                if shared.value.is_empty() { "(none)" } else { &shared.value },
                labels.join(", ")
            ),
            shared.nodes.iter().map(|n| ids::host(&n.key)).collect(),
        );
    }
    for shared in b.names.shared_identities() {
        let labels: Vec<&str> = shared.nodes.iter().map(|n| n.label.as_str()).collect();
        b.finding(
            "duplicate-node-identity",
            Severity::Error,
            format!(
                "{} snapshots claim the same identity {} (cloned machines, or one node given twice): drawn apart as {}, but which facts belong to which node cannot be checked",
                shared.nodes.len(),
                shared.value,
                labels.join(", ")
            ),
            shared.nodes.iter().map(|n| ids::host(&n.key)).collect(),
        );
    }
}
