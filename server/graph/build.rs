//! Build the graph from node snapshots: one element per object, one edge per relation.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::snapshot::{
    Container, EngineFacts, FdbEntry, IpvsState, Link, Namespace, NamespaceRole, Network,
    NodeSnapshot, NsIdentity, SourceState,
};

use super::index::{NsIndex, Sandboxes};
use super::model::*;
use super::nodes::NodeNames;
use super::{findings, ids, kernel_findings, veth};

/// Derive the graph of one or more node snapshots (one per host).
pub fn build(snapshots: &[NodeSnapshot]) -> Graph {
    let refs: Vec<&NodeSnapshot> = snapshots.iter().collect();
    let mut b = Builder::new(NodeNames::new(&refs));
    b.add_nodes(&refs);
    super::encryption::encryption(&mut b, &refs);
    b.finish()
}

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
        let mut n = 0;
        loop {
            let id = ids::edge(kind.as_str(), source, target, n);
            if !self.edges.contains_key(&id) {
                self.edges.insert(
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

    pub(super) fn finding(
        &mut self,
        code: &str,
        severity: Severity,
        message: String,
        elements: Vec<String>,
    ) {
        let first = elements.first().cloned().unwrap_or_default();
        self.findings.push(Finding {
            id: format!("{code}:{first}"),
            code: code.to_owned(),
            severity,
            message,
            elements,
        });
    }

    /// Add every node, then what joins them (tasks to containers on any node).
    pub(super) fn add_nodes(&mut self, snapshots: &[&NodeSnapshot]) {
        let mut order: Vec<&NodeSnapshot> = snapshots.to_vec();
        order.sort_by(|a, b| self.names.key(a).cmp(self.names.key(b)));
        for snap in &order {
            self.add_node(snap);
        }
        self.link_tasks(&order);
        findings::shared_names(self);
    }

    fn add_node(&mut self, snap: &NodeSnapshot) {
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
        findings::per_node(self, snap, host, &label, &ns_names, &sandboxes);
        kernel_findings::per_node(self, snap, host, &label, &ns_names);
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
                if master.kind == "bridge" {
                    let target = ids::interface(host, ns_name, &master.name);
                    self.edge(EdgeKind::BridgePort, &id, &target, BTreeMap::new());
                }
            }
            if link.kind == "vxlan" {
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
            "bridge" => {
                let short: String = net.id.chars().take(12).collect();
                let name = net
                    .options
                    .get("com.docker.network.bridge.name")
                    .cloned()
                    .unwrap_or_else(|| format!("br-{short}"));
                host_ns
                    .filter(|ns| ns.links.iter().any(|l| l.name == name))
                    .map(|ns| ids::interface(host, &ns_names[&ns.id], &name))
            }
            "overlay" => sandbox_for_network(namespaces, "1-", &net.id)
                .filter(|ns| ns.links.iter().any(|l| l.name == "br0"))
                .map(|ns| ids::interface(host, &ns_names[&ns.id], "br0")),
            _ => None,
        };
        if let Some(carrier) = carrier {
            self.edge(EdgeKind::Carries, net_id, &carrier, BTreeMap::new());
        }
        // Sandboxes that are not containers: the routing mesh's and the load balancer's.
        for ep in &net.endpoints {
            let ns = if ep.key == "ingress-sbox" {
                namespaces
                    .iter()
                    .find(|n| n.role == NamespaceRole::IngressSandbox)
            } else if ep.key.starts_with("lb-") {
                sandbox_for_network(namespaces, "lb_", &net.id)
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

    pub(super) fn finish(mut self) -> Graph {
        findings::sort(&mut self.findings);
        Graph {
            schema: GRAPH_SCHEMA.to_owned(),
            elements: self.elements.into_values().collect(),
            edges: self.edges.into_values().collect(),
            findings: self.findings,
        }
    }
}

/// A display name per namespace, unique within the host (a clash gets the inode appended).
pub fn namespace_names(namespaces: &[Namespace]) -> HashMap<NsIdentity, String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for ns in namespaces {
        *count.entry(ns.name.as_str()).or_default() += 1;
    }
    namespaces
        .iter()
        .map(|ns| {
            let name = if count[ns.name.as_str()] > 1 {
                format!("{}@{}", ns.name, ns.id.ino)
            } else {
                ns.name.clone()
            };
            (ns.id, name)
        })
        .collect()
}

/// Network element ids, keyed by network ID (names may clash: then the short ID is appended).
fn network_ids(host: &str, networks: &[Network]) -> HashMap<String, String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for n in networks {
        *count.entry(n.name.as_str()).or_default() += 1;
    }
    networks
        .iter()
        .map(|n| {
            let name = if count[n.name.as_str()] > 1 {
                format!("{}#{}", n.name, n.id.chars().take(12).collect::<String>())
            } else {
                n.name.clone()
            };
            (n.id.clone(), ids::network(host, &n.scope, &name))
        })
        .collect()
}

/// The namespace Docker made for a network: its file is the prefix plus the start of the network ID.
fn sandbox_for_network<'a>(
    namespaces: &'a [Namespace],
    prefix: &str,
    net_id: &str,
) -> Option<&'a Namespace> {
    namespaces.iter().find(|ns| {
        ns.name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() >= 5 && net_id.starts_with(rest))
    })
}

fn host_attrs(snap: &NodeSnapshot) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("hostname".into(), json!(snap.node.hostname));
    let id = crate::snapshot::NodeId::of(snap);
    a.insert("identity".into(), json!(id.recorded()));
    a.insert("identity_kind".into(), json!(id.kind.as_str()));
    a.insert("kernel".into(), json!(snap.node.kernel));
    a.insert("taken_at".into(), json!(snap.taken_at));
    a.insert("schema".into(), json!(snap.schema));
    if let Some(e) = &snap.engine {
        a.insert("engine_version".into(), json!(e.version));
        a.insert("engine_api".into(), json!(e.api_version));
        if !e.firewall_backend.is_empty() {
            a.insert("engine_firewall_backend".into(), json!(e.firewall_backend));
        }
        a.insert("swarm_state".into(), json!(e.swarm.local_state));
        if !e.swarm.node_id.is_empty() {
            a.insert("swarm_node_id".into(), json!(e.swarm.node_id));
            a.insert("swarm_node_addr".into(), json!(e.swarm.node_addr));
            a.insert("swarm_manager".into(), json!(e.swarm.is_manager));
        }
    }
    let failed: Vec<String> = snap
        .sources
        .iter()
        .filter(|s| s.state != SourceState::Ok)
        .map(|s| {
            let what = s.source.as_str();
            match &s.namespace {
                Some(ns) => format!("{what} ({ns}): {}", s.message),
                None => format!("{what}: {}", s.message),
            }
        })
        .collect();
    a.insert("sources_not_ok".into(), json!(failed));
    a
}

fn netns_attrs(ns: &Namespace) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("role".into(), json!(ns.role));
    a.insert("paths".into(), json!(ns.paths));
    a.insert("inode".into(), json!(ns.id.ino));
    a.insert("dev".into(), json!(ns.id.dev));
    let names: HashMap<u32, &str> = ns
        .links
        .iter()
        .map(|l| (l.ifindex, l.name.as_str()))
        .collect();
    let routes: Vec<String> = ns
        .routes
        .iter()
        .filter(|r| r.table != 255)
        .map(|r| describe_route(r, &names))
        .collect();
    a.insert("routes".into(), json!(routes));
    let neigh: Vec<String> = ns
        .neighbours
        .iter()
        .map(|n| {
            format!(
                "{} lladdr {} dev {} {}",
                n.address,
                n.mac.as_deref().unwrap_or("-"),
                names.get(&n.ifindex).unwrap_or(&"?"),
                n.state.join(",")
            )
        })
        .collect();
    a.insert("neighbours".into(), json!(neigh));
    let ipvs = match &ns.ipvs {
        IpvsState::NotRead => json!("not read"),
        IpvsState::Unavailable { reason } => json!(format!("unavailable: {reason}")),
        IpvsState::Services { services } => json!(services),
    };
    a.insert("ipvs".into(), ipvs);
    if let Some(fw) = &ns.firewall {
        let count: usize = fw.ipv4.iter().chain(&fw.ipv6).map(|t| t.rules.len()).sum();
        a.insert("firewall_rules".into(), json!(count));
        a.insert("firewall_backend".into(), json!(fw.backend));
    }
    a
}

fn describe_route(r: &crate::snapshot::Route, names: &HashMap<u32, &str>) -> String {
    let dst = if r.destination.is_empty() {
        "default".to_owned()
    } else {
        format!("{}/{}", r.destination, r.prefix_len)
    };
    let mut s = dst;
    if let Some(gw) = &r.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = r.oif {
        s.push_str(&format!(" dev {}", names.get(&oif).unwrap_or(&"?")));
    }
    if let Some(src) = &r.prefsrc {
        s.push_str(&format!(" src {src}"));
    }
    if r.table != 254 {
        s.push_str(&format!(" table {}", r.table));
    }
    s
}

/// The interface's type as the picture shows it.
pub fn interface_type(link: &Link) -> &'static str {
    match link.kind.as_str() {
        "veth" => "veth",
        "bridge" => "bridge",
        "vxlan" => "vxlan",
        "" if link.link_type == 772 => "loopback",
        "" if link.link_type == 1 => "physical",
        _ => "other",
    }
}

fn interface_attrs(ns: &NsIndex, link: &Link) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("type".into(), json!(interface_type(link)));
    a.insert("name".into(), json!(link.name));
    a.insert("ifindex".into(), json!(link.ifindex));
    if !link.kind.is_empty() {
        a.insert("kind".into(), json!(link.kind));
    }
    a.insert("mtu".into(), json!(link.mtu));
    a.insert("mac".into(), json!(link.mac));
    a.insert("state".into(), json!(link.oper_state));
    a.insert("admin_up".into(), json!(link.admin_up));
    let addrs: Vec<String> = ns
        .addresses(link.ifindex)
        .iter()
        .map(|x| format!("{}/{}", x.address, x.prefix_len))
        .collect();
    a.insert("addresses".into(), json!(addrs));
    if let Some(m) = link.master.and_then(|m| ns.link(m)) {
        a.insert("master".into(), json!(m.name));
    }
    if let Some(alias) = &link.alias {
        a.insert("alias".into(), json!(alias));
    }
    if let Some(s) = &link.stats {
        a.insert("stats".into(), json!(s));
    }
    if let Some(v) = &link.vxlan {
        a.insert("vni".into(), json!(v.vni));
        a.insert("vxlan".into(), json!(v));
    }
    if let Some(b) = &link.bridge {
        a.insert("bridge".into(), json!(b));
    }
    let fdb: Vec<String> = ns
        .fdb(link.ifindex)
        .iter()
        .map(|e| describe_fdb(e))
        .collect();
    if !fdb.is_empty() {
        a.insert("fdb".into(), json!(fdb));
    }
    let rules = ns.rules_naming(&link.name);
    if !rules.is_empty() {
        a.insert("firewall_rules".into(), json!(rules));
    }
    a
}

fn describe_fdb(e: &FdbEntry) -> String {
    let mut s = e.mac.clone();
    if let Some(v) = e.vlan {
        s.push_str(&format!(" vlan {v}"));
    }
    if let Some(d) = &e.dst {
        s.push_str(&format!(" dst {d}"));
    }
    if let Some(v) = e.vni {
        s.push_str(&format!(" vni {v}"));
    }
    for f in e.flags.iter().chain(&e.state) {
        s.push(' ');
        s.push_str(f);
    }
    s
}

/// Add a host's view of a swarm network to what earlier hosts showed: endpoints are joined
/// (sorted, each naming its host); the rest is the same on every host, so the first is kept and
/// only what it lacked is added.
fn merge_network_attrs(seen: &mut BTreeMap<String, Value>, more: BTreeMap<String, Value>) {
    for (key, value) in more {
        match (key.as_str(), seen.get_mut(&key)) {
            ("endpoints", Some(Value::Array(have))) => {
                if let Value::Array(add) = value {
                    have.extend(add);
                    have.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                    have.dedup();
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                seen.insert(key, value);
            }
        }
    }
}

fn network_attrs(host: &str, net: &Network) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("id".into(), json!(net.id));
    a.insert("name".into(), json!(net.name));
    a.insert("driver".into(), json!(net.driver));
    a.insert("scope".into(), json!(net.scope));
    a.insert("internal".into(), json!(net.internal));
    a.insert("attachable".into(), json!(net.attachable));
    a.insert("ingress".into(), json!(net.ingress));
    a.insert("ipv6".into(), json!(net.enable_ipv6));
    let subnets: Vec<&str> = net
        .ipam
        .iter()
        .map(|i| i.subnet.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let gateways: Vec<&str> = net
        .ipam
        .iter()
        .map(|i| i.gateway.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    a.insert("subnets".into(), json!(subnets));
    a.insert("gateways".into(), json!(gateways));
    a.insert("options".into(), json!(net.options));
    if net.driver == "bridge" {
        // What decides direct access from outside (Docker 28+); unset means nat.
        for (fam, on) in [("ipv4", !net.ipv4_disabled), ("ipv6", net.enable_ipv6)] {
            if on {
                let mode = net
                    .options
                    .get(&format!("com.docker.network.bridge.gateway_mode_{fam}"))
                    .map(String::as_str)
                    .unwrap_or("nat");
                a.insert(format!("gateway_mode_{fam}"), json!(mode));
            }
        }
    }
    if let Some(vni) = net
        .options
        .get("com.docker.network.driver.overlay.vxlanid_list")
    {
        a.insert("vni".into(), json!(vni));
    }
    // A swarm network's element gathers the endpoints of every host: each says where it is.
    let on_host = if net.scope == "swarm" {
        format!("{host}: ")
    } else {
        String::new()
    };
    let mut eps: Vec<String> = net
        .endpoints
        .iter()
        .map(|e| format!("{on_host}{} {} {}", e.name, e.ipv4, e.mac))
        .collect();
    eps.sort();
    a.insert("endpoints".into(), json!(eps));
    if !net.peers.is_empty() {
        a.insert("peers".into(), json!(net.peers));
    }
    a
}

fn container_attrs(c: &Container) -> BTreeMap<String, Value> {
    // Endpoints and ports in canonical order, so the graph never depends on the engine's order.
    let mut sorted = c.clone();
    sorted
        .endpoints
        .sort_by(|x, y| (&x.network_id, &x.ipv4).cmp(&(&y.network_id, &y.ipv4)));
    sorted.ports.sort_by(|x, y| {
        (x.private_port, &x.protocol, &x.host_ip, x.host_port).cmp(&(
            y.private_port,
            &y.protocol,
            &y.host_ip,
            y.host_port,
        ))
    });
    let c = &sorted;
    let mut a = BTreeMap::new();
    a.insert("id".into(), json!(c.id));
    a.insert("name".into(), json!(c.name));
    a.insert("image".into(), json!(c.image));
    a.insert("state".into(), json!(c.state));
    a.insert("pid".into(), json!(c.pid));
    a.insert("network_mode".into(), json!(c.network_mode));
    a.insert("sandbox_key".into(), json!(c.sandbox_key));
    let ips: Vec<&str> = c
        .endpoints
        .iter()
        .map(|e| e.ipv4.as_str())
        .chain(c.endpoints.iter().map(|e| e.ipv6.as_str()))
        .filter(|s| !s.is_empty())
        .collect();
    let macs: Vec<&str> = c
        .endpoints
        .iter()
        .map(|e| e.mac.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    a.insert("ips".into(), json!(ips));
    a.insert("macs".into(), json!(macs));
    let ports: Vec<String> = c
        .ports
        .iter()
        .map(|p| match (&p.host_ip, p.host_port) {
            (Some(ip), Some(hp)) => format!("{ip}:{hp}->{}/{}", p.private_port, p.protocol),
            _ => format!("{}/{}", p.private_port, p.protocol),
        })
        .collect();
    a.insert("ports".into(), json!(ports));
    a.insert("endpoints".into(), json!(c.endpoints));
    if !c.labels.is_empty() {
        a.insert("labels".into(), json!(c.labels));
    }
    a
}
