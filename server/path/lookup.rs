//! Shared lookups over the snapshots and their graph: nodes, namespaces, element and edge IDs,
//! routes, veth peers, containers.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::graph::{ids, ElementKind, Graph, NodeNames};
use crate::snapshot::{
    Container, ContainerEndpoint, Link, Namespace, NamespaceRole, Network, NodeSnapshot,
    NsIdentity, Route, Service,
};

use super::rules::{in_prefix, parse_net, Budget};
use crate::snapshot::LinkKind;

/// Everything a derivation looks things up in.
pub struct Ctx<'a> {
    /// The nodes, in the order given.
    pub nodes: Vec<NodeView<'a>>,
    names: NodeNames,
    elements: HashSet<&'a str>,
    edges: HashMap<(&'a str, &'a str), &'a str>,
    fdb_edges: HashMap<(&'a str, String), &'a str>,
    /// What the question's rule walks may still spend (one question never holds a worker long).
    pub budget: Budget,
}

/// One node's snapshot with its namespaces named as the graph names them.
pub struct NodeView<'a> {
    /// The snapshot.
    pub snap: &'a NodeSnapshot,
    /// What the node is called in words: its hostname, told apart where nodes share one.
    pub host: &'a str,
    /// The host part of its element IDs (its identity's short form).
    pub key: &'a str,
    names: HashMap<NsIdentity, String>,
}

/// A container found by a question, with the node it runs on.
#[derive(Clone, Copy)]
pub struct Found<'a> {
    /// Index into [`Ctx::nodes`].
    pub node: usize,
    /// The container.
    pub container: &'a Container,
}

impl<'a> Ctx<'a> {
    /// Index the snapshots and the graph.
    pub fn new(snapshots: &'a [NodeSnapshot], graph: &'a Graph) -> Self {
        let refs: Vec<&NodeSnapshot> = snapshots.iter().collect();
        let names = NodeNames::new(&refs);
        // Key and label as the graph drew the host, borrowed from it.
        let hosts: HashMap<&str, &'a str> = graph
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Host)
            .filter_map(|e| Some((e.id.strip_prefix("host:")?, e.label.as_str())))
            .collect();
        let nodes = snapshots
            .iter()
            .map(|s| {
                let (key, host) = hosts
                    .get_key_value(names.key(s))
                    .map_or(("unknown", "unknown"), |(k, l)| (*k, *l));
                NodeView::new(s, key, host)
            })
            .collect();
        let elements = graph.elements.iter().map(|e| e.id.as_str()).collect();
        let mut edges = HashMap::new();
        let mut fdb_edges = HashMap::new();
        for e in &graph.edges {
            edges
                .entry((e.source.as_str(), e.target.as_str()))
                .or_insert(e.id.as_str());
            if let Some(dst) = e.attrs.get("dst").and_then(|d| d.as_str()) {
                fdb_edges.insert((e.source.as_str(), dst.to_owned()), e.id.as_str());
            }
        }
        Ctx {
            nodes,
            names,
            elements,
            edges,
            fdb_edges,
            budget: Budget::default(),
        }
    }

    /// `id` if the graph draws such an element.
    pub fn element(&self, id: String) -> Option<String> {
        self.elements.contains(id.as_str()).then_some(id)
    }

    /// The edge joining two elements: the one leading from `a` to `b`, else the other way round.
    pub fn edge(&self, a: &str, b: &str) -> Option<String> {
        self.edges
            .get(&(a, b))
            .or_else(|| self.edges.get(&(b, a)))
            .map(|s| (*s).to_owned())
    }

    /// The FDB edge leaving vxlan element `from` towards underlay address `dst`.
    pub fn fdb_edge(&self, from: &str, dst: &str) -> Option<String> {
        self.fdb_edges
            .get(&(from, dst.to_owned()))
            .map(|s| (*s).to_owned())
    }

    /// The node a question names (label, node ID or a unique prefix of it, unique hostname);
    /// Err says why in words.
    pub fn node_index(&self, query: &str) -> Result<usize, String> {
        let name = self.names.resolve(query).map_err(|e| e.to_string())?;
        self.nodes
            .iter()
            .position(|n| n.key == name.key)
            .ok_or_else(|| format!("no node {query:?} in these snapshots"))
    }

    /// The host name of the swarm node at underlay address `addr`, from any engine's view.
    pub fn host_at(&self, addr: &str) -> Option<String> {
        for n in &self.nodes {
            if let Some(e) = &n.snap.engine {
                if e.swarm.node_addr == addr {
                    return Some(n.host.to_owned());
                }
            }
        }
        for n in &self.nodes {
            if let Some(e) = &n.snap.engine {
                if let Some(sn) = e.nodes.iter().find(|sn| sn.addr == addr) {
                    // Prefer the name we know its snapshot by (hostnames can be shared).
                    let by_id = self.nodes.iter().find(|m| {
                        m.snap
                            .engine
                            .as_ref()
                            .is_some_and(|x| x.swarm.node_id == sn.id)
                    });
                    return Some(
                        by_id
                            .map(|m| m.host.to_owned())
                            .unwrap_or(sn.hostname.clone()),
                    );
                }
            }
        }
        None
    }

    /// Every network any engine reports, by ID (first seen wins).
    pub fn network(&self, id: &str) -> Option<&'a Network> {
        self.nodes
            .iter()
            .filter_map(|n| n.snap.engine.as_ref())
            .flat_map(|e| e.networks.iter())
            .find(|n| n.id == id)
    }

    /// The routing mesh's network.
    pub fn ingress_network(&self) -> Option<&'a Network> {
        self.nodes
            .iter()
            .filter_map(|n| n.snap.engine.as_ref())
            .flat_map(|e| e.networks.iter())
            .find(|n| n.ingress)
    }

    /// Every service, from any manager's view, once each.
    pub fn services(&self) -> Vec<&'a Service> {
        let mut seen = HashSet::new();
        self.nodes
            .iter()
            .filter_map(|n| n.snap.engine.as_ref())
            .flat_map(|e| e.services.iter())
            .filter(|s| seen.insert(s.id.as_str()))
            .collect()
    }

    /// Every container of every node.
    pub fn containers(&self) -> impl Iterator<Item = Found<'a>> + '_ {
        self.nodes.iter().enumerate().flat_map(|(i, n)| {
            n.snap
                .engine
                .iter()
                .flat_map(|e| e.containers.iter())
                .map(move |c| Found {
                    node: i,
                    container: c,
                })
        })
    }

    /// The container a user named: exact name or ID, else a unique ID prefix, else a unique
    /// task-name prefix (`web.1` for `web.1.xyz`). Err says why in words.
    pub fn find_container(&self, query: &str) -> Result<Found<'a>, String> {
        let q = query.trim().trim_start_matches('/');
        if q.is_empty() {
            return Err("no container named".into());
        }
        let all: Vec<Found> = self.containers().collect();
        let pick = |hits: Vec<Found<'a>>, how: &str| -> Option<Result<Found<'a>, String>> {
            match hits.len() {
                0 => None,
                1 => Some(Ok(hits[0])),
                _ => {
                    let names: Vec<String> = hits
                        .iter()
                        .map(|f| format!("{} on {}", f.container.name, self.nodes[f.node].host))
                        .collect();
                    Some(Err(format!(
                        "{query:?} is ambiguous ({how}): {}",
                        names.join(", ")
                    )))
                }
            }
        };
        let exact: Vec<Found> = all
            .iter()
            .copied()
            .filter(|f| f.container.name == q || f.container.id == q)
            .collect();
        if let Some(r) = pick(exact, "several containers have this name") {
            return r;
        }
        let by_id: Vec<Found> = all
            .iter()
            .copied()
            .filter(|f| q.len() >= 3 && f.container.id.starts_with(q))
            .collect();
        if let Some(r) = pick(by_id, "several container IDs start so") {
            return r;
        }
        let by_task: Vec<Found> = all
            .iter()
            .copied()
            .filter(|f| {
                f.container
                    .name
                    .strip_prefix(q)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
            .collect();
        if let Some(r) = pick(by_task, "several tasks' containers start so") {
            return r;
        }
        Err(format!(
            "no container named {query:?} (by name, ID or ID prefix) in these snapshots"
        ))
    }

    /// The container (and its endpoint) holding address `ip` on network `net` (any network if `None`).
    pub fn container_with_ip(
        &self,
        ip: IpAddr,
        net: Option<&str>,
    ) -> Option<(Found<'a>, &'a ContainerEndpoint)> {
        self.containers().find_map(|f| {
            f.container
                .endpoints
                .iter()
                .find(|ep| {
                    endpoint_ip(ep, ip.is_ipv6()) == Some(ip)
                        && net.is_none_or(|n| ep.network_id == n)
                })
                .map(|ep| (f, ep))
        })
    }
}

/// An endpoint's address of one family (IPv6 if `v6`), as the engine reports it.
pub fn endpoint_ip(ep: &ContainerEndpoint, v6: bool) -> Option<IpAddr> {
    let text = if v6 { &ep.ipv6 } else { &ep.ipv4 };
    text.split('/').next()?.parse().ok()
}

impl<'a> NodeView<'a> {
    fn new(snap: &'a NodeSnapshot, key: &'a str, host: &'a str) -> Self {
        NodeView {
            snap,
            host,
            key,
            names: crate::graph::namespace_names(&snap.namespaces),
        }
    }

    /// The namespace's name as the graph uses it.
    pub fn ns_name(&self, ns: &Namespace) -> String {
        self.names
            .get(&ns.id)
            .cloned()
            .unwrap_or_else(|| ns.name.clone())
    }

    /// The namespace's element ID.
    pub fn netns_id(&self, ns: &Namespace) -> String {
        ids::netns(self.key, &self.ns_name(ns))
    }

    /// An interface's element ID.
    pub fn iface_id(&self, ns: &Namespace, link: &Link) -> String {
        ids::interface(self.key, &self.ns_name(ns), &link.name)
    }

    /// The host element's ID.
    pub fn host_id(&self) -> String {
        ids::host(self.key)
    }

    /// A container's element ID.
    pub fn container_id(&self, c: &Container) -> String {
        ids::container(self.key, &c.name)
    }

    /// The host namespace.
    pub fn host_ns(&self) -> Option<&'a Namespace> {
        self.snap.host_namespace()
    }

    /// The first namespace with this role.
    pub fn ns_by_role(&self, role: NamespaceRole) -> Option<&'a Namespace> {
        self.snap.namespaces.iter().find(|n| n.role == role)
    }

    /// The namespace Docker made for a network (`1-<id prefix>` for overlays).
    pub fn ns_for_network(&self, prefix: &str, net_id: &str) -> Option<&'a Namespace> {
        self.snap.namespaces.iter().find(|ns| {
            ns.name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.len() >= 5 && net_id.starts_with(rest))
        })
    }

    /// A container's sandbox namespace: by its SandboxKey file, else by its process.
    pub fn container_ns(&self, c: &Container) -> Option<&'a Namespace> {
        let norm = |p: &str| {
            p.strip_prefix("/var")
                .filter(|r| r.starts_with("/run/"))
                .map(str::to_owned)
                .unwrap_or_else(|| p.to_owned())
        };
        if !c.sandbox_key.is_empty() {
            let key = norm(&c.sandbox_key);
            if let Some(ns) = self
                .snap
                .namespaces
                .iter()
                .find(|ns| ns.paths.iter().any(|p| norm(p) == key))
            {
                return Some(ns);
            }
        }
        if c.pid > 0 {
            let by_pid = format!("/proc/{}/ns/net", c.pid);
            return self
                .snap
                .namespaces
                .iter()
                .find(|ns| ns.paths.contains(&by_pid));
        }
        None
    }

    /// The namespace's own IPv4 addresses.
    pub fn local_v4(&self, ns: &Namespace) -> Vec<IpAddr> {
        self.local(ns, false)
    }

    /// The namespace's own addresses of one family (IPv6 if `v6`).
    pub fn local(&self, ns: &Namespace, v6: bool) -> Vec<IpAddr> {
        let family = if v6 { 6 } else { 4 };
        ns.addresses
            .iter()
            .filter(|a| a.family == family)
            .filter_map(|a| a.address.parse().ok())
            .collect()
    }

    /// The link holding address `ip` in `ns`.
    pub fn link_with_ip(&self, ns: &'a Namespace, ip: IpAddr) -> Option<&'a Link> {
        ns.addresses
            .iter()
            .find(|a| a.address.parse() == Ok(ip))
            .and_then(|a| ns.link(a.ifindex))
    }

    /// The link of `ns` with an address inside `subnet` (CIDR).
    pub fn link_in_subnet(&self, ns: &'a Namespace, subnet: &str) -> Option<&'a Link> {
        let (net, p) = parse_net(subnet)?;
        ns.addresses
            .iter()
            .find(|a| {
                a.address
                    .parse()
                    .is_ok_and(|ip: IpAddr| in_prefix(ip, net, p))
            })
            .and_then(|a| ns.link(a.ifindex))
    }

    /// The first IPv4 address of a link.
    pub fn v4_of(&self, ns: &'a Namespace, link: &Link) -> Option<&'a crate::snapshot::Address> {
        self.addr_of(ns, link, false)
    }

    /// The first address of a link of one family (IPv6: a global one, not the link-local).
    pub fn addr_of(
        &self,
        ns: &'a Namespace,
        link: &Link,
        v6: bool,
    ) -> Option<&'a crate::snapshot::Address> {
        let family = if v6 { 6 } else { 4 };
        ns.addresses.iter().find(|a| {
            a.family == family && a.ifindex == link.ifindex && (!v6 || a.scope == "universe")
        })
    }

    /// The route the main table picks for `dst` (`None`: the IPv4 default route).
    pub fn route(&self, ns: &'a Namespace, dst: Option<IpAddr>) -> Option<&'a Route> {
        self.route_of(ns, dst.is_some_and(|d| d.is_ipv6()), dst)
    }

    /// The route the main table of one family picks for `dst` (`None`: its default route).
    pub fn route_of(&self, ns: &'a Namespace, v6: bool, dst: Option<IpAddr>) -> Option<&'a Route> {
        let family = if v6 { 6 } else { 4 };
        ns.routes
            .iter()
            .filter(|r| r.family == family && r.table == 254 && r.route_type == "unicast")
            .filter(|r| match dst {
                None => r.prefix_len == 0,
                Some(d) => {
                    r.prefix_len == 0
                        || r.destination
                            .parse()
                            .is_ok_and(|net: IpAddr| in_prefix(d, net, r.prefix_len))
                }
            })
            .max_by_key(|r| (r.prefix_len, std::cmp::Reverse(r.metric.unwrap_or(0))))
    }

    /// The other end of a veth, resolved through the namespace's nsid map.
    pub fn peer(&self, ns: &Namespace, link: &Link) -> Option<(&'a Namespace, &'a Link)> {
        let peer_ifindex = link.link?;
        let target = match link.link_netnsid {
            None => ns.id,
            Some(nsid) => ns.resolve_nsid(nsid)?,
        };
        let pns = self.snap.namespace(target)?;
        let peer = pns.link(peer_ifindex)?;
        (peer.kind == LinkKind::Veth && peer.link == Some(link.ifindex)).then_some((pns, peer))
    }

    /// The bridge a link is a port of.
    pub fn master(&self, ns: &'a Namespace, link: &Link) -> Option<&'a Link> {
        link.master
            .and_then(|m| ns.link(m))
            .filter(|m| m.kind == LinkKind::Bridge)
    }

    /// Source status messages for a kind of source in a namespace (why something was not read).
    pub fn why_not_read(&self, ns: &Namespace, kind: crate::snapshot::SourceKind) -> String {
        self.snap
            .sources
            .iter()
            .find(|s| s.source == kind && s.namespace.as_deref() == Some(ns.name.as_str()))
            .map(|s| s.message.clone())
            .unwrap_or_else(|| "not read".to_owned())
    }
}
