//! Everything the side panel shows about one element: attributes, relations,
//! interfaces with their veth peers, firewall rules that name it, findings.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::graph::{Element, ElementKind, Finding, Graph, InterfaceType};
use crate::layout::fold::foldable;
use crate::layout::GraphIndex;
use crate::render::escape::as_drawn;
use crate::snapshot::NodeSnapshot;

/// At most this many relations are listed (a bridge may have hundreds of ports).
const MAX_RELATIONS: usize = 300;

/// The side panel's content.
#[derive(Debug, Serialize)]
pub struct Details<'a> {
    /// The element itself, with every attribute.
    pub element: &'a Element,
    /// The host it is on.
    pub host: Option<&'a str>,
    /// Whether it can be folded and unfolded.
    pub foldable: bool,
    /// Its relations (edges), at most 300.
    pub relations: Vec<Relation<'a>>,
    /// How many relations were left out.
    pub relations_left_out: usize,
    /// For a container or namespace: its interfaces, each with its veth peer and bridge.
    pub interfaces: Vec<IfaceSummary<'a>>,
    /// Firewall rules that name it (its interface, its addresses, its subnet).
    pub firewall_rules: Vec<String>,
    /// Findings that concern it.
    pub findings: Vec<&'a Finding>,
}

/// One edge seen from the element.
#[derive(Debug, Serialize)]
pub struct Relation<'a> {
    /// The edge id.
    pub edge: &'a str,
    /// The edge kind (`veth-pair`, ...).
    pub kind: &'static str,
    /// `out` when the element is the source, `in` when the target.
    pub dir: &'static str,
    /// The other end.
    pub other: &'a str,
    /// The other end's label.
    pub other_label: &'a str,
    /// The other end's kind.
    pub other_kind: Option<ElementKind>,
    /// The edge's facts.
    pub attrs: &'a std::collections::BTreeMap<String, Value>,
}

/// An interface as the panel lists it.
#[derive(Debug, Serialize)]
pub struct IfaceSummary<'a> {
    /// Element id.
    pub id: &'a str,
    /// Name.
    pub name: &'a str,
    /// Type.
    pub r#type: &'a str,
    /// Addresses.
    pub addresses: Vec<&'a str>,
    /// MAC.
    pub mac: &'a str,
    /// MTU.
    pub mtu: Option<u64>,
    /// Operational state.
    pub state: &'a str,
    /// The bridge it is a port of.
    pub master: Option<Ref<'a>>,
    /// Its veth peer.
    pub peer: Option<Peer<'a>>,
}

/// A reference to an element.
#[derive(Debug, Serialize)]
pub struct Ref<'a> {
    /// Element id.
    pub id: &'a str,
    /// Label.
    pub label: &'a str,
}

/// A veth's other end: where it is and what it hangs on.
#[derive(Debug, Serialize)]
pub struct Peer<'a> {
    /// Element id.
    pub id: &'a str,
    /// Interface name.
    pub name: &'a str,
    /// The namespace it is in.
    pub netns: Option<Ref<'a>>,
    /// The bridge it is a port of.
    pub bridge: Option<Ref<'a>>,
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

fn reference<'a>(ix: &GraphIndex<'a>, id: &str) -> Option<Ref<'a>> {
    let e = ix.get(id)?;
    Some(Ref {
        id: e.id.as_str(),
        label: e.label.as_str(),
    })
}

fn summary<'a>(ix: &GraphIndex<'a>, id: &'a str) -> Option<IfaceSummary<'a>> {
    let e = ix.get(id)?;
    let a = &e.attrs;
    let peer = ix.peer.get(id).and_then(|p| {
        let pe = ix.get(p)?;
        Some(Peer {
            id: pe.id.as_str(),
            name: pe.label.as_str(),
            netns: pe.parent.as_deref().and_then(|n| reference(ix, n)),
            bridge: ix.master.get(p).and_then(|b| reference(ix, b)),
        })
    });
    Some(IfaceSummary {
        id: e.id.as_str(),
        name: e.label.as_str(),
        r#type: ix.if_type(id).as_str(),
        addresses: strs(a.get("addresses")),
        mac: a.get("mac").and_then(Value::as_str).unwrap_or(""),
        mtu: a.get("mtu").and_then(Value::as_u64),
        state: a.get("state").and_then(Value::as_str).unwrap_or(""),
        master: ix.master.get(id).and_then(|b| reference(ix, b)),
        peer,
    })
}

/// The panel content for `id`, or `None` when no such element exists.
pub fn details<'a>(
    g: &'a Graph,
    ix: &GraphIndex<'a>,
    snapshots: &[NodeSnapshot],
    id: &str,
) -> Option<Details<'a>> {
    let e = ix.get(id).or_else(|| drawn_under(g, id))?;
    let id = e.id.as_str();
    let mut relations = Vec::new();
    let mut total = 0usize;
    for edge in &g.edges {
        let (dir, other) = if edge.source == id {
            ("out", edge.target.as_str())
        } else if edge.target == id {
            ("in", edge.source.as_str())
        } else {
            continue;
        };
        total += 1;
        if relations.len() >= MAX_RELATIONS {
            continue;
        }
        let oe = ix.get(other);
        relations.push(Relation {
            edge: edge.id.as_str(),
            kind: edge.kind.as_str(),
            dir,
            other,
            other_label: oe.map(|o| o.label.as_str()).unwrap_or(other),
            other_kind: oe.map(|o| o.kind),
            attrs: &edge.attrs,
        });
    }
    let interfaces: Vec<IfaceSummary> = match e.kind {
        ElementKind::Container => ix
            .ctr_netns
            .get(id)
            .map(|ns| ix.kids(ns).to_vec())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| summary(ix, i))
            .collect(),
        ElementKind::Netns => ix
            .kids(id)
            .to_vec()
            .into_iter()
            .filter_map(|i| summary(ix, i))
            .collect(),
        ElementKind::Interface => summary(ix, e.id.as_str()).into_iter().collect(),
        _ => Vec::new(),
    };
    let host = ix
        .host_of(id)
        .and_then(|h| ix.get(h))
        .map(|h| h.label.as_str());
    let firewall_rules = rules_for(ix, e, host, snapshots);
    let findings = g
        .findings
        .iter()
        .filter(|f| f.elements.iter().any(|x| x == id))
        .collect();
    Some(Details {
        element: e,
        host,
        foldable: foldable(ix, id),
        relations,
        relations_left_out: total.saturating_sub(MAX_RELATIONS),
        interfaces,
        firewall_rules,
        findings,
    })
}

/// The element a drawn `data-id` stands for when its real id held characters XML cannot
/// (the SVG writer replaced them with U+FFFD, and the page asks by what it was given).
fn drawn_under<'a>(g: &'a Graph, id: &str) -> Option<&'a Element> {
    if !id.contains(crate::render::escape::REPLACEMENT) {
        return None;
    }
    g.elements.iter().find(|e| as_drawn(&e.id) == id)
}

/// Rules naming the element: an interface's own (the graph has them) and its addresses; a
/// container's addresses and the rules naming its interfaces and their veth peers; a service's
/// virtual IPs; a task's attachment addresses; a network's subnets and bridge.
fn rules_for(
    ix: &GraphIndex,
    e: &Element,
    host: Option<&str>,
    snapshots: &[NodeSnapshot],
) -> Vec<String> {
    let mut out = own_rules(ix, e);
    let mut words = addresses(ix, e);
    words.retain(|w| !w.is_empty());
    if !words.is_empty() {
        // Addresses are matched on every host: a DNAT on one node may point at a task on another.
        let _ = host;
        out.extend(rules_naming(snapshots, &words));
    }
    out.into_iter().collect()
}

/// The rules the graph ties to the element itself: an interface's, those of a container's
/// interfaces and their veth peers, those of a network's bridges.
fn own_rules(ix: &GraphIndex, e: &Element) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    match e.kind {
        ElementKind::Interface => {
            out.extend(
                strs(e.attrs.get("firewall_rules"))
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        ElementKind::Container => {
            // Its interfaces and their host-side peers: a FORWARD rule on `-i vethXXXX` is about it.
            let own = ix.ctr_netns.get(e.id.as_str()).map(|ns| ix.kids(ns));
            for i in own.into_iter().flatten() {
                let peer = ix.peer.get(i).copied();
                for x in std::iter::once(*i).chain(peer) {
                    out.extend(interface_rules(ix, x));
                }
            }
        }
        ElementKind::Network => {
            for c in ix.carriers.get(e.id.as_str()).into_iter().flatten() {
                if let Some(ce) = ix.get(c) {
                    out.extend(
                        strs(ce.attrs.get("firewall_rules"))
                            .into_iter()
                            .map(str::to_owned),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// The addresses (without prefix length) and subnets a rule would name the element by; a
/// loopback's are left out (every namespace has them).
fn addresses(ix: &GraphIndex, e: &Element) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    match e.kind {
        ElementKind::Interface if ix.if_type(&e.id) != InterfaceType::Loopback => {
            words.extend(strs(e.attrs.get("addresses")).into_iter().map(address));
        }
        ElementKind::Container => {
            words.extend(strs(e.attrs.get("ips")).into_iter().map(address));
        }
        ElementKind::Service => {
            let vips = e.attrs.get("virtual_ips").and_then(Value::as_array);
            for v in vips.into_iter().flatten() {
                words.extend(strs(v.get("addr")).into_iter().map(address));
            }
        }
        ElementKind::Task => {
            let atts = e.attrs.get("attachments").and_then(Value::as_array);
            for a in atts.into_iter().flatten() {
                words.extend(strs(a.get("addresses")).into_iter().map(address));
            }
        }
        ElementKind::Network => {
            words.extend(strs(e.attrs.get("subnets")).into_iter().map(str::to_owned));
        }
        _ => {}
    }
    words
}

/// An address without its prefix length (`10.0.0.2/24` → `10.0.0.2`).
fn address(a: &str) -> String {
    a.split('/').next().unwrap_or(a).to_owned()
}

/// Every rule of every snapshot with a token that names one of `words`, said with its node,
/// namespace, family and table.
fn rules_naming(snapshots: &[NodeSnapshot], words: &[String]) -> Vec<String> {
    let refs: Vec<&NodeSnapshot> = snapshots.iter().collect();
    let nodes = crate::graph::NodeNames::new(&refs);
    let mut out = Vec::new();
    for s in snapshots {
        for ns in &s.namespaces {
            let Some(fw) = &ns.firewall else { continue };
            for (family, tables) in [("ipv4", &fw.ipv4), ("ipv6", &fw.ipv6)] {
                for t in tables {
                    for r in &t.rules {
                        if r.text.split_whitespace().any(|tok| names(tok, words)) {
                            out.push(format!(
                                "{} {} {family} {}: {}",
                                nodes.label(s),
                                ns.name,
                                t.name,
                                r.text
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// An interface's own rules (`-i`/`-o` naming it), said with its host and namespace, as the
/// address-matched rules are.
fn interface_rules<'a>(ix: &'a GraphIndex, id: &str) -> impl Iterator<Item = String> + 'a {
    let e = ix.get(id);
    let ns = e
        .and_then(|e| e.parent.as_deref())
        .and_then(|n| ix.get(n))
        .map_or("", |n| n.label.as_str());
    let host = ix
        .host_of(id)
        .and_then(|h| ix.get(h))
        .map_or("", |h| h.label.as_str());
    e.map(|e| strs(e.attrs.get("firewall_rules")))
        .unwrap_or_default()
        .into_iter()
        .map(move |r| format!("{host} {ns} {r}"))
}

/// Whether a rule token names one of the words: exactly, as `addr/len`, or as `addr:port`.
fn names(tok: &str, words: &[String]) -> bool {
    let tok = tok.trim_start_matches('!');
    words.iter().any(|w| {
        tok == w
            || tok
                .strip_prefix(w.as_str())
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::graph::derive;
    use crate::snapshot::{Rule, Table};
    use crate::synthetic::{snapshots, SyntheticOptions};

    /// A synthetic swarm manager with a mangle MARK rule for `vip` (as Docker writes for a
    /// service's VIP) and a FORWARD rule on `veth`, in its host namespace.
    fn with_rules(vip: Option<&str>, veth: Option<&str>) -> (Vec<NodeSnapshot>, Graph) {
        let mut snaps = snapshots(&SyntheticOptions {
            hosts: 1,
            containers: 40,
            hostile_names: false,
        });
        let host = snaps[0]
            .namespaces
            .iter_mut()
            .find(|n| n.name == "host")
            .unwrap();
        let fw = host.firewall.as_mut().unwrap();
        if let Some(vip) = vip {
            fw.ipv4.push(Table {
                name: "mangle".into(),
                chains: Vec::new(),
                rules: vec![Rule {
                    chain: "OUTPUT".into(),
                    text: format!("-A OUTPUT -d {vip}/32 -j MARK --set-xmark 0x102/0xffffffff"),
                    destination: Some(format!("{vip}/32")),
                    ..Default::default()
                }],
            });
        }
        if let Some(veth) = veth {
            fw.ipv4[0].rules.push(Rule {
                chain: "FORWARD".into(),
                text: format!("-A FORWARD -i {veth} -j DROP"),
                in_interface: Some(veth.to_owned()),
                ..Default::default()
            });
        }
        let g = derive(&mut snaps);
        (snaps, g)
    }

    #[test]
    fn a_services_panel_lists_the_rule_naming_its_vip() {
        let (_, g) = with_rules(None, None);
        let svc = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Service)
            .expect("the synthetic manager runs services");
        let vip = svc.attrs["virtual_ips"][0]["addr"].as_str().unwrap();
        let vip = vip.split('/').next().unwrap().to_owned();
        let id = svc.id.clone();
        let (snaps, g) = with_rules(Some(&vip), None);
        let ix = GraphIndex::new(&g);
        let d = details(&g, &ix, &snaps, &id).unwrap();
        assert!(
            d.firewall_rules
                .iter()
                .any(|r| r.contains("mangle") && r.contains(&format!("-d {vip}/32 -j MARK"))),
            "{:?}",
            d.firewall_rules
        );
        // A task's panel lists rules naming its attachment address.
        let task = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Task)
            .unwrap();
        let addr = task.attrs["attachments"][0]["addresses"][0]
            .as_str()
            .unwrap();
        let addr = addr.split('/').next().unwrap();
        let (snaps, g) = with_rules(Some(addr), None);
        let ix = GraphIndex::new(&g);
        let d = details(&g, &ix, &snaps, &task.id).unwrap();
        assert!(
            d.firewall_rules.iter().any(|r| r.contains(addr)),
            "{:?}",
            d.firewall_rules
        );
    }

    #[test]
    fn a_containers_panel_lists_the_rule_naming_its_host_side_veth() {
        let (_, g) = with_rules(None, None);
        let ix = GraphIndex::new(&g);
        let (ctr, veth) = ix
            .of_kind(ElementKind::Container)
            .iter()
            .find_map(|&c| {
                let ns = ix.ctr_netns.get(c)?;
                let peer = ix
                    .kids(ns)
                    .iter()
                    .filter_map(|i| ix.peer.get(i))
                    .find(|p| p.starts_with("if:node-00/host/"))?;
                Some((c.to_owned(), ix.get(peer)?.label.clone()))
            })
            .unwrap();
        let (snaps, g) = with_rules(None, Some(&veth));
        let ix = GraphIndex::new(&g);
        let d = details(&g, &ix, &snaps, &ctr).unwrap();
        let want = format!("node-00 host ipv4 filter: -A FORWARD -i {veth} -j DROP");
        assert!(
            d.firewall_rules.contains(&want),
            "{want} not in {:?}",
            d.firewall_rules
        );
        // Another container's panel does not list it.
        let other = ix
            .of_kind(ElementKind::Container)
            .iter()
            .find(|&&c| c != ctr)
            .unwrap();
        let d = details(&g, &ix, &snaps, other).unwrap();
        assert!(!d.firewall_rules.iter().any(|r| r.contains(&veth)));
    }

    #[test]
    fn an_id_drawn_with_replacement_characters_finds_its_element() {
        let mut snaps = snapshots(&SyntheticOptions {
            hosts: 1,
            containers: 2,
            hostile_names: false,
        });
        snaps[0].engine.as_mut().unwrap().containers[0].name = "a\x01b".into();
        let g = derive(&mut snaps);
        let ix = GraphIndex::new(&g);
        let d = details(&g, &ix, &snaps, "ctr:node-00/a\u{FFFD}b").unwrap();
        assert_eq!(d.element.id, "ctr:node-00/a\x01b");
        assert!(details(&g, &ix, &snaps, "ctr:node-00/zz\u{FFFD}").is_none());
    }

    #[test]
    fn address_tokens_match_whole_addresses_only() {
        let w = vec!["198.18.32.2".to_string()];
        assert!(names("198.18.32.2", &w));
        assert!(names("198.18.32.2/32", &w));
        assert!(names("198.18.32.2:80", &w));
        assert!(names("!198.18.32.2", &w));
        assert!(!names("198.18.32.21", &w));
        assert!(!names("198.18.32.2.5", &w));
    }
}
