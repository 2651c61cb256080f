//! Host-independent keys: the same role on two nodes (or one node at two times) gets one key.
//!
//! An element ID names its host (`if:node1/1-abc/vxlan0`); its key does not
//! (`if:*/1-abc/vxlan0`). Where Docker names a thing at random, the key names
//! it by what it belongs to instead: a container's sandbox by its container
//! (`netns:*/@web.1`), a task's container by its service and slot, a host-side
//! veth by the interface at its other end, a `br-<id>` bridge by the network it
//! carries (a local network has another ID on every node).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::graph::{Edge, EdgeKind, Element, ElementKind, Graph};
use crate::names;

/// The wildcard that stands for the host in keys.
pub const ANY_HOST: &str = "*";

/// A graph with its IDs replaced by keys, and the way back.
#[derive(Debug, Clone, Default)]
pub struct Keyed {
    /// The graph, every element and edge ID a key (parents and edge ends too).
    pub graph: Graph,
    /// Key → the element's original ID.
    pub original: BTreeMap<String, String>,
}

impl Keyed {
    /// The element with this key.
    pub fn get(&self, key: &str) -> Option<&Element> {
        self.graph
            .elements
            .binary_search_by(|e| e.id.as_str().cmp(key))
            .ok()
            .map(|i| &self.graph.elements[i])
    }
}

/// Whether a name is one the kernel or Docker made up (veth0a1b2c3, br-0123456789ab).
fn random_name(name: &str) -> bool {
    let hexish = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    name.strip_prefix(names::VETH_PREFIX).is_some_and(hexish)
        || name
            .strip_prefix(names::USER_BRIDGE_PREFIX)
            .is_some_and(hexish)
}

fn label_of<'a>(e: &'a Element, key: &str) -> Option<&'a str> {
    e.attrs.get("labels")?.get(key)?.as_str()
}

/// A container's name without its host: a swarm task's by service and slot (its task ID
/// differs per node), a global task's by service alone.
fn container_name(e: &Element) -> String {
    if let Some(svc) = label_of(e, "com.docker.swarm.service.name") {
        let task = label_of(e, "com.docker.swarm.task.name").unwrap_or(&e.label);
        let slot = task
            .strip_prefix(svc)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.split('.').next())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        return match slot {
            Some(slot) => format!("{svc}.{slot}"),
            None => svc.to_owned(),
        };
    }
    e.label.clone()
}

/// Key every element and edge of one node's graph (`host` is the node's name in its IDs).
pub fn key_graph(g: &Graph, host: &str) -> Keyed {
    let mut k = Keyer::new(g, host);
    // Containers and tasks first: namespaces are keyed by them.
    let mut order: Vec<&Element> = g.elements.iter().collect();
    // Running things claim the plain key before leftovers of earlier tasks.
    order.sort_by_key(|e| {
        let running = e.attrs.get("state").and_then(Value::as_str) == Some("running")
            || e.attrs.get("desired_state").and_then(Value::as_str) == Some("running");
        (!running, e.id.clone())
    });
    k.workloads(&order);
    k.namespaces(&order);
    k.interfaces();
    k.the_rest();
    k.rekeyed()
}

/// The keys of one graph as they are handed out: first come, first served, a repeat numbered.
struct Keyer<'g> {
    g: &'g Graph,
    by_id: HashMap<&'g str, &'g Element>,
    /// Namespace → the container whose sandbox it is.
    sandbox_of: HashMap<&'g str, &'g str>,
    /// Interface → its veth peer.
    peer: HashMap<&'g str, &'g str>,
    /// Interface → the networks it carries.
    carried: HashMap<&'g str, Vec<&'g str>>,
    host_prefix: String,
    keys: HashMap<&'g str, String>,
    taken: HashMap<String, usize>,
}

impl<'g> Keyer<'g> {
    fn new(g: &'g Graph, host: &str) -> Self {
        let mut k = Keyer {
            g,
            by_id: g.elements.iter().map(|e| (e.id.as_str(), e)).collect(),
            sandbox_of: HashMap::new(),
            peer: HashMap::new(),
            carried: HashMap::new(),
            host_prefix: format!("{host}/"),
            keys: HashMap::new(),
            taken: HashMap::new(),
        };
        for e in &g.edges {
            match e.kind {
                EdgeKind::Sandbox => {
                    k.sandbox_of
                        .entry(e.target.as_str())
                        .or_insert(e.source.as_str());
                }
                EdgeKind::VethPair => {
                    k.peer.insert(e.source.as_str(), e.target.as_str());
                    k.peer.insert(e.target.as_str(), e.source.as_str());
                }
                EdgeKind::Carries => k
                    .carried
                    .entry(e.target.as_str())
                    .or_default()
                    .push(e.source.as_str()),
                _ => {}
            }
        }
        k
    }

    /// Give `id` the key `k`, numbered when another element has it already.
    fn claim(&mut self, id: &'g str, k: String) {
        let n = self.taken.entry(k.clone()).or_insert(0);
        *n += 1;
        let k = if *n == 1 { k } else { format!("{k}#{n}") };
        self.keys.insert(id, k);
    }

    /// An ID's rest after its kind, with this host's name replaced by the wildcard.
    fn strip(&self, rest: &str) -> String {
        rest.strip_prefix(&self.host_prefix)
            .map(|r| format!("{ANY_HOST}/{r}"))
            .unwrap_or_else(|| rest.to_owned())
    }

    fn workloads(&mut self, order: &[&'g Element]) {
        for e in order {
            let k = match e.kind {
                ElementKind::Container => format!("ctr:{ANY_HOST}/{}", container_name(e)),
                ElementKind::Task => {
                    let last = e.label.rsplit('.').next().unwrap_or("");
                    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
                        format!("task:{ANY_HOST}/{}", e.label)
                    } else {
                        let svc = e
                            .parent
                            .as_deref()
                            .and_then(|p| p.strip_prefix("svc:"))
                            .unwrap_or(&e.label);
                        format!("task:{ANY_HOST}/{svc}")
                    }
                }
                _ => continue,
            };
            self.claim(e.id.as_str(), k);
        }
    }

    /// A container's sandbox by its container; other namespaces by their name.
    fn namespaces(&mut self, order: &[&'g Element]) {
        let mut netns: Vec<&Element> = order
            .iter()
            .copied()
            .filter(|e| e.kind == ElementKind::Netns)
            .collect();
        netns.sort_by_key(|e| e.id.clone());
        for e in netns {
            let owner = self.sandbox_of.get(e.id.as_str());
            let k = match owner.and_then(|c| self.keys.get(c)) {
                Some(ck) => format!(
                    "netns:{ANY_HOST}/@{}",
                    ck.strip_prefix(&format!("ctr:{ANY_HOST}/")).unwrap_or(ck)
                ),
                None => format!(
                    "netns:{}",
                    self.strip(e.id.strip_prefix("netns:").unwrap_or(&e.id))
                ),
            };
            self.claim(e.id.as_str(), k);
        }
    }

    /// The key of an interface's namespace, without its kind.
    fn ns_of(&self, e: &Element) -> String {
        e.parent
            .as_deref()
            .and_then(|p| self.keys.get(p))
            .map(|k| k.trim_start_matches("netns:").to_owned())
            .unwrap_or_else(|| ANY_HOST.to_owned())
    }

    /// Interfaces: by their namespace's key and their name, or by what a random name stands for.
    fn interfaces(&mut self) {
        let mut ifaces: Vec<&'g Element> = self
            .g
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Interface)
            .collect();
        ifaces.sort_by_key(|e| e.id.clone());
        for e in ifaces {
            let ns = self.ns_of(e);
            let mut k = format!("if:{ns}/{}", e.label);
            if random_name(&e.label) {
                if let Some(p) = self.peer.get(e.id.as_str()).and_then(|p| self.by_id.get(p)) {
                    if !random_name(&p.label) {
                        k = format!("if:{ns}/veth>{}/{}", self.ns_of(p), p.label);
                    }
                } else if let Some(nets) = self.carried.get(e.id.as_str()) {
                    if let Some(n) = nets.iter().filter_map(|n| self.by_id.get(n)).next() {
                        k = format!("if:{ns}/bridge>{}", n.label);
                    }
                }
            }
            self.claim(e.id.as_str(), k);
        }
    }

    fn the_rest(&mut self) {
        for e in &self.g.elements {
            if self.keys.contains_key(e.id.as_str()) {
                continue;
            }
            let k = match e.kind {
                ElementKind::Host => format!("host:{ANY_HOST}"),
                ElementKind::Network => {
                    format!(
                        "net:{}",
                        self.strip(e.id.strip_prefix("net:").unwrap_or(&e.id))
                    )
                }
                _ => e.id.clone(),
            };
            self.claim(e.id.as_str(), k);
        }
    }

    /// The graph under its keys, and the way back.
    fn rekeyed(self) -> Keyed {
        let key = |id: &str| self.keys.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut original = BTreeMap::new();
        let mut elements: Vec<Element> = self
            .g
            .elements
            .iter()
            .map(|e| {
                let k = key(&e.id);
                original.insert(k.clone(), e.id.clone());
                Element {
                    id: k,
                    kind: e.kind,
                    label: e.label.clone(),
                    parent: e.parent.as_deref().map(key),
                    attrs: e.attrs.clone(),
                }
            })
            .collect();
        elements.sort_by(|a, b| a.id.cmp(&b.id));
        let mut edges: BTreeMap<String, Edge> = BTreeMap::new();
        for e in &self.g.edges {
            let (s, t) = (key(&e.source), key(&e.target));
            let mut n = 0;
            let id = loop {
                let id = crate::graph::ids::edge(e.kind.as_str(), &s, &t, n);
                if !edges.contains_key(&id) {
                    break id;
                }
                n += 1;
            };
            edges.insert(
                id.clone(),
                Edge {
                    id,
                    kind: e.kind,
                    source: s,
                    target: t,
                    attrs: e.attrs.clone(),
                },
            );
        }
        Keyed {
            graph: Graph {
                schema: self.g.schema.clone(),
                elements,
                edges: edges.into_values().collect(),
                findings: Vec::new(),
            },
            original,
        }
    }
}
