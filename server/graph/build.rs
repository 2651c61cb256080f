//! Build the graph from node snapshots: one element per object, one edge per relation.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::names;
use crate::snapshot::{
    EngineFacts, FdbEntry, Link, LinkKind, Namespace, NamespaceRole, Network, NodeSnapshot,
    NsIdentity,
};

use super::attrs::{
    container_attrs, host_attrs, interface_attrs, merge_network_attrs, netns_attrs, network_attrs,
};
use super::builder::Builder;
use super::ids::namespace_names;
use super::index::{NsIndex, Sandboxes};
use super::model::*;
use super::nodes::NodeNames;
use super::{findings, ids, kernel_findings, veth};

/// Put snapshots in canonical order and derive their graph: what the server shows depends on
/// the facts only, never on the order the collectors listed them in.
pub fn derive(snapshots: &mut [NodeSnapshot]) -> Graph {
    for s in snapshots.iter_mut() {
        s.normalize();
    }
    build(snapshots)
}

/// Derive the graph of one or more node snapshots (one per host).
pub fn build(snapshots: &[NodeSnapshot]) -> Graph {
    let refs: Vec<&NodeSnapshot> = snapshots.iter().collect();
    let mut b = Builder::new(NodeNames::new(&refs));
    b.add_nodes(&refs);
    super::encryption::encryption(&mut b, &refs);
    b.finish()
}

impl Builder {
    /// Add every node, then what joins them (tasks to containers on any node).
    pub(super) fn add_nodes(&mut self, snapshots: &[&NodeSnapshot]) {
        let mut order: Vec<&NodeSnapshot> = snapshots.to_vec();
        order.sort_by(|a, b| self.names.key(a).cmp(self.names.key(b)));
        for snap in &order {
            self.add_node(snap);
        }
        self.join_nodes(&order);
    }

    /// What joins the nodes added (in key order): tasks to containers on any node, and names
    /// several nodes share.
    pub(super) fn join_nodes(&mut self, order: &[&NodeSnapshot]) {
        self.link_tasks(order);
        findings::shared_names(self);
    }

    /// One node's own elements, edges and findings (what [`super::parts`] keeps per node).
    pub(super) fn add_node(&mut self, snap: &NodeSnapshot) {
        let host_key = self.names.key(snap).to_owned();
        let label = self.names.label(snap).to_owned();
        let host = host_key.as_str();
        let host_id = ids::host(host);
        let ns_names = namespace_names(&snap.namespaces);
        let ns_id = |id: NsIdentity| ns_names.get(&id).map(|n| ids::netns(host, n));
        let sandboxes = Sandboxes::new(&snap.namespaces);

        self.element(
            host_id.clone(),
            ElementKind::Host,
            label.clone(),
            None,
            host_attrs(snap),
        );

        for ns in &snap.namespaces {
            let Some(id) = ns_id(ns.id) else { continue };
            let name = &ns_names[&ns.id];
            self.element(
                id.clone(),
                ElementKind::Netns,
                name.clone(),
                Some(host_id.clone()),
                netns_attrs(ns),
            );
            self.add_links(host, name, &id, ns);
        }
        veth::pair_up(self, host, &snap.namespaces, &ns_names);

        if let Some(engine) = &snap.engine {
            self.add_engine(
                host,
                &host_id,
                engine,
                &snap.namespaces,
                &ns_names,
                &sandboxes,
            );
        }
        let node = findings::NodeView {
            snap,
            host,
            label: &label,
            ns_names: &ns_names,
        };
        findings::per_node(self, &node, &sandboxes);
        kernel_findings::per_node(self, &node);
    }

    fn add_links(&mut self, host: &str, ns_name: &str, ns_element: &str, ns: &Namespace) {
        let index = NsIndex::new(ns);
        for link in &ns.links {
            let id = ids::interface(host, ns_name, &link.name);
            let attrs = interface_attrs(&index, link);
            self.element(
                id.clone(),
                ElementKind::Interface,
                link.name.clone(),
                Some(ns_element.to_owned()),
                attrs,
            );
            if let Some(master) = link.master.and_then(|m| index.link(m)) {
                if master.kind == LinkKind::Bridge {
                    let target = ids::interface(host, ns_name, &master.name);
                    self.edge(EdgeKind::BridgePort, &id, &target, BTreeMap::new());
                }
            }
            if link.kind == LinkKind::Vxlan {
                self.add_fdb_edges(&id, &index, link);
            }
        }
    }

    fn add_fdb_edges(&mut self, vxlan_id: &str, index: &NsIndex, link: &Link) {
        let mut by_dst: BTreeMap<&str, Vec<&FdbEntry>> = BTreeMap::new();
        for &e in index.fdb(link.ifindex) {
            if let Some(dst) = e.dst.as_deref() {
                by_dst.entry(dst).or_default().push(e);
            }
        }
        let link_vni = link.vxlan.as_ref().map(|v| v.vni);
        for (dst, entries) in by_dst {
            let remote = ids::remote(dst);
            if !self.elements.contains_key(&remote) {
                let mut attrs = BTreeMap::new();
                attrs.insert("address".into(), json!(dst));
                self.element(
                    remote.clone(),
                    ElementKind::Remote,
                    dst.to_owned(),
                    None,
                    attrs,
                );
            }
            let macs: Vec<&str> = entries.iter().map(|e| e.mac.as_str()).collect();
            let vni = entries.iter().find_map(|e| e.vni).or(link_vni);
            let mut attrs = BTreeMap::new();
            attrs.insert("macs".into(), json!(macs));
            attrs.insert("vni".into(), json!(vni));
            attrs.insert("dst".into(), json!(dst));
            self.edge(EdgeKind::Fdb, vxlan_id, &remote, attrs);
        }
    }

    fn add_engine(
        &mut self,
        host: &str,
        host_id: &str,
        engine: &EngineFacts,
        namespaces: &[Namespace],
        ns_names: &HashMap<NsIdentity, String>,
        sandboxes: &Sandboxes,
    ) {
        let net_ids = network_ids(host, &engine.networks);
        for net in &engine.networks {
            let id = &net_ids[&net.id];
            let attrs = network_attrs(host, net);
            match self.elements.get_mut(id) {
                // A swarm network is one element for all hosts: each host adds its endpoints.
                Some(seen) => merge_network_attrs(&mut seen.attrs, attrs),
                None => self.element(
                    id.clone(),
                    ElementKind::Network,
                    net.name.clone(),
                    None,
                    attrs,
                ),
            }
            self.add_network_carrier(host, id, net, namespaces, ns_names);
        }
        for c in &engine.containers {
            let id = ids::container(host, &c.name);
            self.element(
                id.clone(),
                ElementKind::Container,
                c.name.clone(),
                Some(host_id.to_owned()),
                container_attrs(c),
            );
            if let Some(ns) = sandboxes.of(c) {
                let target = ids::netns(host, &ns_names[&ns.id]);
                self.edge(EdgeKind::Sandbox, &id, &target, BTreeMap::new());
            }
            for ep in &c.endpoints {
                if let Some(net) = net_ids.get(&ep.network_id) {
                    let mut attrs = BTreeMap::new();
                    attrs.insert("ip".into(), json!(ep.ipv4));
                    attrs.insert("mac".into(), json!(ep.mac));
                    if !ep.ipv6.is_empty() {
                        attrs.insert("ipv6".into(), json!(ep.ipv6));
                    }
                    attrs.insert("endpoint_id".into(), json!(ep.endpoint_id));
                    self.edge(EdgeKind::Endpoint, &id, net, attrs);
                }
            }
        }
        for svc in &engine.services {
            let mut attrs = BTreeMap::new();
            attrs.insert("id".into(), json!(svc.id));
            attrs.insert("mode".into(), json!(svc.mode));
            attrs.insert("replicas".into(), json!(svc.replicas));
            attrs.insert("image".into(), json!(svc.image));
            attrs.insert("endpoint_mode".into(), json!(svc.endpoint_mode));
            attrs.insert("ports".into(), json!(svc.ports));
            attrs.insert("virtual_ips".into(), json!(svc.virtual_ips));
            self.element(
                ids::service(&svc.name),
                ElementKind::Service,
                svc.name.clone(),
                None,
                attrs,
            );
        }
    }

    /// Draw what carries a network on this host: its bridge, or its overlay namespace's br0, and the sandboxes on it.
    fn add_network_carrier(
        &mut self,
        host: &str,
        net_id: &str,
        net: &Network,
        namespaces: &[Namespace],
        ns_names: &HashMap<NsIdentity, String>,
    ) {
        let host_ns = namespaces.iter().find(|n| n.role == NamespaceRole::Host);
        let carrier = match net.driver.as_str() {
            names::DRIVER_BRIDGE => {
                let name = names::network_bridge(
                    &net.name,
                    &net.id,
                    net.options
                        .get(names::OPTION_BRIDGE_NAME)
                        .map(String::as_str),
                );
                host_ns
                    .filter(|ns| ns.links.iter().any(|l| l.name == name))
                    .map(|ns| ids::interface(host, &ns_names[&ns.id], &name))
            }
            names::DRIVER_OVERLAY => {
                sandbox_for_network(namespaces, names::OVERLAY_NS_PREFIX, &net.id)
                    .filter(|ns| ns.links.iter().any(|l| l.name == names::OVERLAY_BRIDGE))
                    .map(|ns| ids::interface(host, &ns_names[&ns.id], names::OVERLAY_BRIDGE))
            }
            _ => None,
        };
        if let Some(carrier) = carrier {
            self.edge(EdgeKind::Carries, net_id, &carrier, BTreeMap::new());
        }
        // Sandboxes that are not containers: the routing mesh's and the load balancer's.
        for ep in &net.endpoints {
            let ns = if ep.key == names::INGRESS_ENDPOINT {
                namespaces
                    .iter()
                    .find(|n| n.role == NamespaceRole::IngressSandbox)
            } else if ep.key.starts_with(names::LB_ENDPOINT_PREFIX) {
                sandbox_for_network(namespaces, names::LB_SANDBOX_PREFIX, &net.id)
            } else {
                None
            };
            if let Some(ns) = ns {
                let mut attrs = BTreeMap::new();
                attrs.insert("ip".into(), json!(ep.ipv4));
                attrs.insert("mac".into(), json!(ep.mac));
                attrs.insert("endpoint_id".into(), json!(ep.endpoint_id));
                self.edge(
                    EdgeKind::Endpoint,
                    &ids::netns(host, &ns_names[&ns.id]),
                    net_id,
                    attrs,
                );
            }
        }
    }

    /// Services own tasks; a task runs a container on whichever host the snapshot of that host shows it.
    fn link_tasks(&mut self, order: &[&NodeSnapshot]) {
        let mut containers: HashMap<&str, String> = HashMap::new();
        let mut tasks = BTreeMap::new();
        let mut services: HashMap<&str, &str> = HashMap::new();
        for snap in order {
            let host = self.names.key(snap);
            if let Some(e) = &snap.engine {
                for c in &e.containers {
                    containers.insert(c.id.as_str(), ids::container(host, &c.name));
                }
                for s in &e.services {
                    services.insert(s.id.as_str(), s.name.as_str());
                }
                for t in &e.tasks {
                    tasks.insert(t.id.as_str(), t);
                }
            }
        }
        for (id, t) in tasks {
            let tid = ids::task(id);
            let svc = services.get(t.service_id.as_str()).map(|n| ids::service(n));
            let label = match (services.get(t.service_id.as_str()), t.slot) {
                (Some(name), Some(slot)) => format!("{name}.{slot}"),
                (Some(name), None) => {
                    format!("{name}.{}", t.node_id.chars().take(12).collect::<String>())
                }
                _ => id.chars().take(12).collect(),
            };
            let mut attrs = BTreeMap::new();
            attrs.insert("id".into(), json!(t.id));
            attrs.insert("node_id".into(), json!(t.node_id));
            attrs.insert("state".into(), json!(t.state));
            attrs.insert("desired_state".into(), json!(t.desired_state));
            attrs.insert("attachments".into(), json!(t.attachments));
            self.element(tid.clone(), ElementKind::Task, label, svc.clone(), attrs);
            if let Some(svc) = svc {
                self.edge(EdgeKind::HasTask, &svc, &tid, BTreeMap::new());
            }
            if let Some(ctr) = containers.get(t.container_id.as_str()) {
                self.edge(EdgeKind::Runs, &tid, ctr, BTreeMap::new());
            }
        }
    }
}

/// Network element ids, keyed by network ID (names may clash: then the short ID is appended).
fn network_ids(host: &str, networks: &[Network]) -> HashMap<String, String> {
    ids::unique_names(
        networks,
        |n| &n.name,
        |n| format!("{}#{}", n.name, n.id.chars().take(12).collect::<String>()),
    )
    .map(|(n, name)| (n.id.clone(), ids::network(host, &n.scope, &name)))
    .collect()
}

/// The namespace Docker made for a network: its file is the prefix plus the start of the network ID.
fn sandbox_for_network<'a>(
    namespaces: &'a [Namespace],
    prefix: &str,
    net_id: &str,
) -> Option<&'a Namespace> {
    namespaces
        .iter()
        .find(|ns| names::is_sandbox_of_network(&ns.name, prefix, net_id))
}
