//! Packet paths in the JSON API: `/api/ports`, `/api/path` and `/api/path/ends`.
//!
//! The derivation is [`crate::path`]; this module reads the question from the query string,
//! traces it on a blocking thread (a big cluster's paths take milliseconds, never on an async
//! thread; a rule set that takes long to walk never holds up the snapshot's other questions), and
//! adds what the page needs to draw the answer: the folded elements to open so
//! every hop is drawn, and the two ends of every hop's edge.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::graph::{Edge, ElementKind, Graph};
use crate::layout::fold::{filtered, reveal};
use crate::layout::fx::{FxMap, FxSet};
use crate::layout::{GraphIndex, Policy, View};
use crate::path::{self, PathAnswer, PublishedPort, Question, PATH_SCHEMA};

use super::api::{json_query, tag_of};
use super::error::ApiError;
use super::extract::{Query, Snap};
use super::headers::not_modified;
use super::worker::Data;

/// Longest `from`/`to`/`node` value accepted (names and IDs are far shorter).
const MAX_NAME: usize = 256;

/// Protocols a port can be published with.
const PROTOCOLS: &[&str] = &["tcp", "udp", "sctp"];

/// The parameters of a path question as the query string gives them, checked into a
/// [`Question`] by [`PathParams::question`] (each refusal names the parameter).
#[derive(Debug, Default, Deserialize)]
pub struct PathParams {
    port: Option<String>,
    protocol: Option<String>,
    node: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A parameter that must not be blank when present.
fn named(value: Option<String>, name: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = v.trim().to_owned();
            if v.is_empty() {
                Err(format!("{name}= is empty"))
            } else if v.len() > MAX_NAME {
                Err(format!("{name}= is longer than {MAX_NAME} bytes"))
            } else {
                Ok(Some(v))
            }
        }
    }
}

impl PathParams {
    /// The question they ask: `port=&protocol=[&node=]` or `from=&to=`.
    pub fn question(self) -> Result<Question, String> {
        let from = named(self.from, "from")?;
        let to = named(self.to, "to")?;
        match (self.port, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(
                "ask either port= (a published port) or from= and to= (two ends), not both".into(),
            ),
            (Some(p), None, None) => {
                let port = match p.trim().parse::<u16>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("port= must be a number from 1 to 65535, not {p:?}")),
                };
                let protocol = self
                    .protocol
                    .map(|p| p.trim().to_ascii_lowercase())
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "tcp".into());
                if !PROTOCOLS.contains(&protocol.as_str()) {
                    return Err(format!(
                        "protocol= must be one of {}, not {protocol:?}",
                        PROTOCOLS.join(", ")
                    ));
                }
                let node = named(self.node, "node")?;
                Ok(Question::Port {
                    port,
                    protocol,
                    node,
                })
            }
            (None, Some(from), Some(to)) => Ok(Question::Between { from, to }),
            (None, Some(_), None) => Err(
                "from= needs to= (a container, a service, an IP address or internet)".into(),
            ),
            (None, None, Some(_)) => Err(
                "to= needs from= (the container the packet leaves, or an address or host interface outside)".into(),
            ),
            (None, None, None) => Err(
                "missing port= (a published port, with protocol= and node=) or from= and to= (two ends)"
                    .into(),
            ),
        }
    }
}

/// The path question a request asks, or a 400 saying why it asks none.
pub struct Asked(pub Question);

impl<S: Send + Sync> FromRequestParts<S> for Asked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(p) = Query::<PathParams>::from_request_parts(parts, state).await?;
        p.question().map(Asked).map_err(ApiError::bad)
    }
}

/// A path answer with what the page needs to draw it under the view the query names.
#[derive(Debug, Serialize)]
pub struct Drawn {
    /// The answer as the derivation gives it.
    #[serde(flatten)]
    pub answer: PathAnswer,
    /// Generation of the snapshot it was derived from (the page asks again after a refresh).
    pub generation: u64,
    /// Folded elements to open (outermost first) so that every hop's element is drawn.
    pub reveal: Vec<String>,
    /// Hop elements that a filter in force hides (drawn only with that filter off).
    pub filtered: Vec<String>,
    /// Every hop edge's two ends (`[source, target]`), by edge id.
    pub edge_ends: BTreeMap<String, [String; 2]>,
    /// `links[p][h]`: the ends of the graph edges to light when hop `h` of path `p` lights up:
    /// its own edge, and the edges that join its element to the previous hop's (either one's
    /// namespace counts: a container joins its namespace's `eth0` through its sandbox edge).
    pub links: Vec<Vec<Vec<[String; 2]>>>,
}

/// An element and, for an interface, the namespace it is in.
fn with_namespace<'g>(ix: &GraphIndex<'g>, id: &str) -> Vec<&'g str> {
    let Some(e) = ix.get(id) else {
        return Vec::new();
    };
    let mut out = vec![e.id.as_str()];
    if e.kind == ElementKind::Interface {
        out.extend(e.parent.as_deref().and_then(|p| ix.key(p)));
    }
    out
}

/// The unordered pairs of ends whose edges join two elements (or their namespaces).
fn joining_keys<'g>(ix: &GraphIndex<'g>, a: &str, b: &str) -> Vec<(&'g str, &'g str)> {
    let mut out = Vec::new();
    for x in with_namespace(ix, a) {
        for y in with_namespace(ix, b) {
            out.push(if x <= y { (x, y) } else { (y, x) });
        }
    }
    out
}

/// Attach to `answer` the elements to open, the filtered hops and the edges' ends.
pub fn drawn(
    answer: PathAnswer,
    generation: u64,
    g: &Graph,
    ix: &GraphIndex,
    view: &View,
) -> Drawn {
    let marked = Marked::of(&answer, g, ix, view);
    // The pairs of ends each hop needs, then one pass over the edges for just those pairs
    // (a map of every edge by its ends would cost more than the whole rest on a big graph).
    let keys = joining_keys_per_hop(&answer, ix);
    let wanted: FxSet<(&str, &str)> = keys.iter().flatten().flatten().copied().collect();
    let by_ends = edges_by_ends(g, &wanted);
    let links = hop_links(&answer, &keys, &marked.edge_ends, &by_ends);
    Drawn {
        answer,
        generation,
        reveal: marked.reveal,
        filtered: marked.filtered.into_iter().collect(),
        edge_ends: marked.edge_ends,
        links,
    }
}

/// What the hops' own elements and edges ask of the drawing.
struct Marked {
    /// Folded elements to open, outermost first, each once.
    reveal: Vec<String>,
    /// Hop elements a filter in force hides.
    filtered: BTreeSet<String>,
    /// Every hop edge's two ends, by edge id.
    edge_ends: BTreeMap<String, [String; 2]>,
}

impl Marked {
    /// Walk every hop of every path once, in order (the reveal order is the page's open order).
    fn of(answer: &PathAnswer, g: &Graph, ix: &GraphIndex, view: &View) -> Self {
        let policy = Policy::for_graph(ix);
        let hide = view
            .hide
            .clone()
            .unwrap_or_else(|| policy.default_hide.clone());
        let mut open: Vec<String> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut hidden: BTreeSet<String> = BTreeSet::new();
        let mut edge_ends = BTreeMap::new();
        for hop in answer.paths.iter().flat_map(|p| &p.hops) {
            if let Some(id) = hop.element.as_deref().filter(|id| ix.get(id).is_some()) {
                for up in reveal(ix, view, &policy, id) {
                    if seen.insert(up.clone()) {
                        open.push(up);
                    }
                }
                if filtered(ix, &hide, id) {
                    hidden.insert(id.to_owned());
                }
            }
            if let Some(eid) = hop.edge.as_deref() {
                if let Ok(i) = g.edges.binary_search_by(|e| e.id.as_str().cmp(eid)) {
                    let e = &g.edges[i];
                    edge_ends.insert(eid.to_owned(), [e.source.clone(), e.target.clone()]);
                }
            }
        }
        Self {
            reveal: open,
            filtered: hidden,
            edge_ends,
        }
    }
}

/// `keys[p][h]`: the pairs of ends whose edges join hop `h` of path `p` to the hop before it
/// that has an element (hops without one are skipped over, not a break in the chain).
fn joining_keys_per_hop<'g>(
    answer: &PathAnswer,
    ix: &GraphIndex<'g>,
) -> Vec<Vec<Vec<(&'g str, &'g str)>>> {
    answer
        .paths
        .iter()
        .map(|p| {
            let mut prev: Option<&str> = None;
            p.hops
                .iter()
                .map(|h| {
                    let k = match (prev, h.element.as_deref()) {
                        (Some(a), Some(b)) if a != b => joining_keys(ix, a, b),
                        _ => Vec::new(),
                    };
                    if h.element.is_some() {
                        prev = h.element.as_deref();
                    }
                    k
                })
                .collect()
        })
        .collect()
}

/// The edges whose unordered pair of ends is one of `wanted`, by that pair.
fn edges_by_ends<'a>(
    g: &'a Graph,
    wanted: &FxSet<(&'a str, &'a str)>,
) -> FxMap<(&'a str, &'a str), Vec<&'a Edge>> {
    let mut by_ends: FxMap<(&str, &str), Vec<&Edge>> = FxMap::default();
    // No joins asked (single-hop answers): skip the pass over every edge.
    if !wanted.is_empty() {
        for e in &g.edges {
            let (s, t) = (e.source.as_str(), e.target.as_str());
            let k = if s <= t { (s, t) } else { (t, s) };
            if wanted.contains(&k) {
                by_ends.entry(k).or_default().push(e);
            }
        }
    }
    by_ends
}

/// [`Drawn::links`]: per hop, its own edge's ends and those of the edges its keys name,
/// sorted and each once.
fn hop_links(
    answer: &PathAnswer,
    keys: &[Vec<Vec<(&str, &str)>>],
    edge_ends: &BTreeMap<String, [String; 2]>,
    by_ends: &FxMap<(&str, &str), Vec<&Edge>>,
) -> Vec<Vec<Vec<[String; 2]>>> {
    answer
        .paths
        .iter()
        .zip(keys)
        .map(|(p, pk)| {
            p.hops
                .iter()
                .zip(pk)
                .map(|(h, hk)| {
                    let mut ends: Vec<[String; 2]> = Vec::new();
                    if let Some(e) = h.edge.as_deref().and_then(|e| edge_ends.get(e)) {
                        ends.push(e.clone());
                    }
                    for k in hk {
                        for e in by_ends.get(k).into_iter().flatten() {
                            ends.push([e.source.clone(), e.target.clone()]);
                        }
                    }
                    ends.sort();
                    ends.dedup();
                    ends
                })
                .collect()
        })
        .collect()
}

/// One end a path can start from or go to, as the pickers list it.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct End {
    /// `container` or `service`.
    pub kind: &'static str,
    /// What to type: the container's or service's name.
    pub name: String,
    /// Node it runs on (containers).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Its graph element.
    pub id: String,
    /// Its addresses (containers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
}

/// Every container and service of the graph, by kind, name and node.
pub fn ends(g: &Graph, ix: &GraphIndex) -> Vec<End> {
    let mut out: Vec<End> = g
        .elements
        .iter()
        .filter_map(|e| {
            let kind = match e.kind {
                ElementKind::Container => "container",
                ElementKind::Service => "service",
                _ => return None,
            };
            let node = if e.kind == ElementKind::Container {
                ix.host_of(&e.id)
                    .and_then(|h| ix.get(h))
                    .map(|h| h.label.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let ips = e
                .attrs
                .get("ips")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Some(End {
                kind,
                name: e.label.clone(),
                node,
                id: e.id.clone(),
                ips,
            })
        })
        .collect();
    out.extend(host_interfaces(g, ix));
    out.sort();
    out
}

/// The host namespaces' own addressed interfaces (uplinks, VPNs: not bridges, veths, tunnels or
/// loopback): where a client outside reaches containers from (`path --from IFACE`).
fn host_interfaces(g: &Graph, ix: &GraphIndex) -> Vec<End> {
    let is_host_ns = |id: &str| {
        ix.get(id)
            .and_then(|ns| ns.attrs.get("role"))
            .and_then(|r| r.as_str())
            == Some("host")
    };
    g.elements
        .iter()
        .filter(|e| e.kind == ElementKind::Interface)
        .filter(|e| e.parent.as_deref().is_some_and(is_host_ns))
        .filter(|e| {
            let t = e.attrs.get("type").and_then(|t| t.as_str());
            matches!(t, Some("physical" | "other")) && !e.attrs.contains_key("master")
        })
        .filter_map(|e| {
            let ips: Vec<String> = e
                .attrs
                .get("addresses")?
                .as_array()?
                .iter()
                .filter_map(|a| a.as_str()?.split('/').next().map(str::to_owned))
                .collect();
            (!ips.is_empty()).then(|| End {
                kind: "interface",
                name: e.label.clone(),
                node: ix
                    .host_of(&e.id)
                    .and_then(|h| ix.get(h))
                    .map(|h| h.label.clone())
                    .unwrap_or_default(),
                id: e.id.clone(),
                ips,
            })
        })
        .collect()
}

/// `GET /api/ports`: every published port of every node.
pub async fn ports(Snap(cur): Snap, req: HeaderMap) -> Result<Response, ApiError> {
    let tag = tag_of(&cur, "ports");
    json_query(cur, &req, tag, |d, _| {
        let ports: Vec<PublishedPort> = path::published_ports(&d.snapshots, &d.graph);
        serde_json::to_vec(&json!({ "schema": PATH_SCHEMA, "ports": ports }))
    })
    .await
}

/// `GET /api/path?port=&protocol=[&node=]` or `?from=&to=` (plus the view's parameters).
pub async fn path_handler(
    // The question first: a wrong one is refused before any snapshot is opened.
    Asked(question): Asked,
    Snap(cur): Snap,
    view: View,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let key = serde_json::to_string(&question).unwrap_or_default();
    let tag = tag_of(&cur, &format!("path?{key}&{}", view.to_query()));
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let generation = cur.generation;
    let answer = traced(cur.data.clone(), question).await?;
    json_query(cur, &req, tag, move |d, ix| {
        serde_json::to_vec(&drawn(answer, generation, &d.graph, ix, &view))
    })
    .await
}

/// Path questions traced at once (each is bounded by its rule budget, [`path::rules::Budget`]).
const PARALLEL_TRACES: usize = 8;

static TRACES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARALLEL_TRACES);

/// Trace `question` on a blocking thread of its own, not on the snapshot's query worker: a
/// question whose rules take long to walk never holds up the next one.
async fn traced(data: Arc<Data>, question: Question) -> Result<PathAnswer, ApiError> {
    let _permit = TRACES.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || path::trace(&question, &data.snapshots, &data.graph))
        .await
        .map_err(|e| ApiError::internal(format!("the path question failed: {e}")))
}

/// `GET /api/path/ends`: the containers, services and host uplinks the pickers offer.
pub async fn ends_handler(Snap(cur): Snap, req: HeaderMap) -> Result<Response, ApiError> {
    let tag = tag_of(&cur, "path-ends");
    json_query(cur, &req, tag, |d, ix| {
        serde_json::to_vec(&json!({ "ends": ends(&d.graph, ix) }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Evidence, Hop, Outcome, PacketPath, Verdict};
    use crate::synthetic::{snapshots, SyntheticOptions};

    /// The question a query string asks, as [`Asked`] reads it.
    fn question(q: &str) -> Result<Question, String> {
        serde_urlencoded::from_str::<PathParams>(q)
            .map_err(|e| e.to_string())?
            .question()
    }

    #[test]
    fn a_port_question_defaults_to_tcp_and_every_node() {
        assert_eq!(
            question("port=8080").unwrap(),
            Question::Port {
                port: 8080,
                protocol: "tcp".into(),
                node: None
            }
        );
        assert_eq!(
            question("port=53&protocol=UDP&node=node-01&open=host%3Ax").unwrap(),
            Question::Port {
                port: 53,
                protocol: "udp".into(),
                node: Some("node-01".into())
            }
        );
    }

    #[test]
    fn two_ends_make_a_between_question() {
        assert_eq!(
            question("from=web&to=internet").unwrap(),
            Question::Between {
                from: "web".into(),
                to: "internet".into()
            }
        );
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        for (q, says) in [
            ("", "missing port="),
            ("port=0", "from 1 to 65535"),
            ("port=65536", "from 1 to 65535"),
            ("port=http", "\"http\""),
            ("port=80&protocol=icmp", "\"icmp\""),
            ("port=80&from=a", "not both"),
            ("from=a", "needs to="),
            ("to=a", "needs from="),
            ("from=&to=b", "from= is empty"),
            ("port=80&node=", "node= is empty"),
        ] {
            let e = question(q).unwrap_err();
            assert!(e.contains(says), "{q:?}: {e}");
        }
        let long = format!("from={}&to=b", "a".repeat(MAX_NAME + 1));
        assert!(question(&long).unwrap_err().contains("longer"));
    }

    fn hop(element: Option<&str>, edge: Option<&str>) -> Hop {
        Hop {
            element: element.map(str::to_owned),
            edge: edge.map(str::to_owned),
            node: "node-01".into(),
            text: "x".into(),
            evidence: vec![Evidence {
                kind: "iptables".into(),
                namespace: "host".into(),
                text: "-A X".into(),
            }],
            verdict: Verdict::Pass,
        }
    }

    #[test]
    fn a_drawn_answer_opens_the_folded_ancestors_and_knows_its_edges_ends() {
        // Three hosts and 300 containers: hosts start folded.
        let mut snaps = snapshots(&SyntheticOptions {
            hosts: 3,
            containers: 300,
            hostile_names: false,
        });
        let g = crate::graph::derive(&mut snaps);
        let ix = GraphIndex::new(&g);
        let veth = g
            .edges
            .iter()
            .find(|e| e.kind == crate::graph::EdgeKind::VethPair)
            .unwrap();
        let answer = PathAnswer {
            schema: PATH_SCHEMA.into(),
            question: Question::Between {
                from: "a".into(),
                to: "b".into(),
            },
            paths: vec![PacketPath {
                id: "p".into(),
                kind: "east-west".into(),
                title: "t".into(),
                outcome: Outcome::Delivered,
                hops: vec![
                    hop(Some(&veth.source), None),
                    hop(Some(&veth.target), Some(&veth.id)),
                    hop(None, None),
                    hop(Some("if:nowhere/x/y"), Some("no-such-edge")),
                ],
            }],
            notes: vec![],
        };
        let d = drawn(answer, 1, &g, &ix, &View::default());
        let host = ix.host_of(&veth.source).unwrap();
        assert_eq!(d.reveal.first().map(String::as_str), Some(host));
        assert_eq!(
            d.reveal.iter().collect::<BTreeSet<_>>().len(),
            d.reveal.len(),
            "each element opened once"
        );
        assert_eq!(
            d.edge_ends[&veth.id],
            [veth.source.clone(), veth.target.clone()]
        );
        assert_eq!(d.edge_ends.len(), 1);
        // With the host opened by the view, nothing above the interfaces stays folded but the containers.
        let opened = View::from_query(&format!("open={}", host.replace(':', "%3A")));
        let d2 = drawn(d.answer.clone(), 1, &g, &ix, &opened);
        assert!(!d2.reveal.iter().any(|r| r == host), "{:?}", d2.reveal);
        assert_eq!(d.links.len(), 1);
        assert_eq!(d.links[0].len(), 4, "one list per hop");
        assert!(d.links[0][0].is_empty(), "the first hop joins nothing");
        assert!(
            d.links[0][1].contains(&[veth.source.clone(), veth.target.clone()]),
            "{:?}",
            d.links[0][1]
        );
        // A container and its namespace's eth0: joined by the sandbox edge.
        let (ctr, ns) = ix.ctr_netns.iter().next().map(|(c, n)| (*c, *n)).unwrap();
        let eth0 = format!("{}/eth0", ns.replacen("netns:", "if:", 1));
        assert!(ix.get(&eth0).is_some());
        let sandbox = g
            .edges
            .iter()
            .find(|e| e.kind == crate::graph::EdgeKind::Sandbox && e.source == ctr)
            .unwrap();
        let mut two = d.answer.clone();
        two.paths[0].hops = vec![hop(Some(ctr), None), hop(Some(&eth0), None)];
        let d3 = drawn(two, 1, &g, &ix, &View::default());
        assert_eq!(
            d3.links[0][1],
            vec![[sandbox.source.clone(), sandbox.target.clone()]]
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["schema"], PATH_SCHEMA);
        assert_eq!(v["paths"][0]["hops"][1]["edge"], json!(veth.id));
    }

    #[test]
    fn ends_list_containers_with_their_node_and_services() {
        let mut snaps = snapshots(&SyntheticOptions {
            hosts: 2,
            containers: 10,
            hostile_names: false,
        });
        let g = crate::graph::derive(&mut snaps);
        let ix = GraphIndex::new(&g);
        let e = ends(&g, &ix);
        let ctrs: Vec<_> = e.iter().filter(|x| x.kind == "container").collect();
        assert_eq!(ctrs.len(), ix.count(ElementKind::Container));
        assert!(ctrs.iter().all(|c| c.node.starts_with("node-")), "{ctrs:?}");
        assert!(ctrs.iter().any(|c| !c.ips.is_empty()));
        assert_eq!(
            e.iter().filter(|x| x.kind == "service").count(),
            ix.count(ElementKind::Service)
        );
        // Each node's uplink, with its address, is offered as where a client comes from; no
        // bridge or veth is.
        let ifs: Vec<_> = e.iter().filter(|x| x.kind == "interface").collect();
        assert_eq!(ifs.len(), 2, "{ifs:?}");
        assert!(
            ifs.iter().all(|i| i.name == "eth0" && i.ips.len() == 1),
            "{ifs:?}"
        );
    }
}
