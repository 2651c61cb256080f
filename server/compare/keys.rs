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
    let by_id: HashMap<&str, &Element> = g.elements.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut sandbox_of: HashMap<&str, &str> = HashMap::new();
    let mut peer: HashMap<&str, &str> = HashMap::new();
    let mut carried: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &g.edges {
        match e.kind {
            EdgeKind::Sandbox => {
                sandbox_of
                    .entry(e.target.as_str())
                    .or_insert(e.source.as_str());
            }
            EdgeKind::VethPair => {
                peer.insert(e.source.as_str(), e.target.as_str());
                peer.insert(e.target.as_str(), e.source.as_str());
            }
            EdgeKind::Carries => carried
                .entry(e.target.as_str())
                .or_default()
                .push(e.source.as_str()),
            _ => {}
        }
    }
    let host_prefix = format!("{host}/");
    let strip = |rest: &str| -> String {
        rest.strip_prefix(&host_prefix)
            .map(|r| format!("{ANY_HOST}/{r}"))
            .unwrap_or_else(|| rest.to_owned())
    };

    // Containers and tasks first: namespaces are keyed by them.
    let mut keys: HashMap<&str, String> = HashMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut claim = |k: String| -> String {
        let n = taken.entry(k.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            k
        } else {
            format!("{k}#{n}")
        }
    };
    let mut order: Vec<&Element> = g.elements.iter().collect();
    // Running things claim the plain key before leftovers of earlier tasks.
    order.sort_by_key(|e| {
        let running = e.attrs.get("state").and_then(Value::as_str) == Some("running")
            || e.attrs.get("desired_state").and_then(Value::as_str) == Some("running");
        (!running, e.id.clone())
    });
    for e in &order {
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
        keys.insert(e.id.as_str(), claim(k));
    }
    let mut netns_order: Vec<&Element> = order
        .iter()
        .copied()
        .filter(|e| e.kind == ElementKind::Netns)
        .collect();
    netns_order.sort_by_key(|e| e.id.clone());
    for e in netns_order {
        let k = match sandbox_of.get(e.id.as_str()).and_then(|c| keys.get(c)) {
            Some(ck) => format!(
                "netns:{ANY_HOST}/@{}",
                ck.strip_prefix(&format!("ctr:{ANY_HOST}/")).unwrap_or(ck)
            ),
            None => format!(
                "netns:{}",
                strip(e.id.strip_prefix("netns:").unwrap_or(&e.id))
            ),
        };
        keys.insert(e.id.as_str(), claim(k));
    }
    // Interfaces: by their namespace's key and their name, or by what a random name stands for.
    let if_base = |e: &Element, keys: &HashMap<&str, String>| -> String {
        let ns = e
            .parent
            .as_deref()
            .and_then(|p| keys.get(p))
            .map(|k| k.trim_start_matches("netns:").to_owned())
            .unwrap_or_else(|| ANY_HOST.to_owned());
        format!("if:{ns}/{}", e.label)
    };
    let mut ifaces: Vec<&Element> = g
        .elements
        .iter()
        .filter(|e| e.kind == ElementKind::Interface)
        .collect();
    ifaces.sort_by_key(|e| e.id.clone());
    for e in &ifaces {
        let mut k = if_base(e, &keys);
        if random_name(&e.label) {
            let ns = e
                .parent
                .as_deref()
                .and_then(|p| keys.get(p))
                .map(|k| k.trim_start_matches("netns:").to_owned())
                .unwrap_or_else(|| ANY_HOST.to_owned());
            if let Some(p) = peer.get(e.id.as_str()).and_then(|p| by_id.get(p)) {
                if !random_name(&p.label) {
                    let pk = if_base(p, &keys);
                    k = format!("if:{ns}/veth>{}", pk.trim_start_matches("if:"));
                }
            } else if let Some(nets) = carried.get(e.id.as_str()) {
                if let Some(n) = nets.iter().filter_map(|n| by_id.get(n)).next() {
                    k = format!("if:{ns}/bridge>{}", n.label);
                }
            }
        }
        keys.insert(e.id.as_str(), claim(k));
    }
    for e in &g.elements {
        if keys.contains_key(e.id.as_str()) {
            continue;
        }
        let k = match e.kind {
            ElementKind::Host => format!("host:{ANY_HOST}"),
            ElementKind::Network => {
                format!("net:{}", strip(e.id.strip_prefix("net:").unwrap_or(&e.id)))
            }
            _ => e.id.clone(),
        };
        keys.insert(e.id.as_str(), claim(k));
    }

    let key = |id: &str| keys.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let mut original = BTreeMap::new();
    let mut elements: Vec<Element> = g
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
    for e in &g.edges {
        let (s, t) = (key(&e.source), key(&e.target));
        let kind = e.kind.as_str();
        let mut n = 0;
        let id = loop {
            let id = crate::graph::ids::edge(kind, &s, &t, n);
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
            schema: g.schema.clone(),
            elements,
            edges: edges.into_values().collect(),
            findings: Vec::new(),
        },
        original,
    }
}
