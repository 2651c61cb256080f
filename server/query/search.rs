//! Search: a container, service, IP, MAC or interface name, to the element and what to unfold to see it.

use serde::Serialize;
use serde_json::Value;

use crate::graph::{ElementKind, Graph};
use crate::layout::fold::{drawn_as, hidden_by, reveal};
use crate::layout::{GraphIndex, Policy, View};
use crate::render::escape::as_drawn;

/// One search result.
#[derive(Debug, Serialize)]
pub struct Hit {
    /// Element id.
    pub id: String,
    /// Its kind.
    pub kind: ElementKind,
    /// Its label.
    pub label: String,
    /// What matched, e.g. `ips: 198.18.32.2`.
    pub matched: String,
    /// Folded elements to open (outermost first) for it to be drawn.
    pub reveal: Vec<String>,
    /// Hidden by the filters in force: showing it needs a filter off.
    pub filtered: bool,
    /// The `hide` token that hides it (`loopback`, `down`, `container`, ...): drop it from `hide` to draw it.
    pub hidden_by: Option<&'static str>,
    /// The `data-id` drawn for it once `reveal` is open: its own id, or what stands for it (a
    /// remote address held by a known node: that node's interface), with characters XML forbids
    /// as U+FFFD as the SVG writes them; `null` while a filter hides it.
    pub drawn_as: Option<String>,
}

/// Most results returned.
pub const LIMIT: usize = 20;

fn kind_rank(k: ElementKind) -> u8 {
    match k {
        ElementKind::Container => 0,
        ElementKind::Service => 1,
        ElementKind::Interface => 2,
        ElementKind::Network => 3,
        ElementKind::Task => 4,
        ElementKind::Netns => 5,
        ElementKind::Host => 6,
        ElementKind::Remote => 7,
    }
}

/// 0: whole value (or its address part), 1: prefix, 2: anywhere.
fn score(value: &str, q: &str) -> Option<u8> {
    let v = value.to_lowercase();
    if v == q || v.split('/').next() == Some(q) {
        Some(0)
    } else if v.starts_with(q) {
        Some(1)
    } else if v.contains(q) {
        Some(2)
    } else {
        None
    }
}

fn best_in(key: &str, v: &Value, q: &str, best: &mut Option<(u8, String)>) {
    match v {
        Value::String(s) => {
            if let Some(sc) = score(s, q) {
                if best.as_ref().is_none_or(|(b, _)| sc < *b) {
                    *best = Some((sc, format!("{key}: {s}")));
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| best_in(key, x, q, best)),
        Value::Object(o) => o.iter().for_each(|(k, x)| best_in(k, x, q, best)),
        _ => {}
    }
}

/// Find elements whose label, id or any attribute text matches `q` (case-insensitive).
pub fn search(g: &Graph, ix: &GraphIndex, view: &View, q: &str) -> Vec<Hit> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let policy = Policy::for_graph(ix);
    let hide = view
        .hide
        .clone()
        .unwrap_or_else(|| policy.default_hide.clone());
    // (score, 0 when the element's own name matched, kind, id): a service named `web` comes before
    // its many tasks' containers whose labels merely mention `web`.
    let mut found: Vec<(u8, u8, u8, &str, String)> = Vec::new();
    for e in &g.elements {
        let mut best: Option<(u8, String)> = None;
        if let Some(sc) = score(&e.label, &q) {
            best = Some((sc, format!("name: {}", e.label)));
        }
        if best.as_ref().is_none_or(|(b, _)| *b > 0) {
            for (k, v) in &e.attrs {
                best_in(k, v, &q, &mut best);
            }
        }
        if best.is_none() {
            if let Some(sc) = score(&e.id, &q) {
                best = Some((sc.max(1), format!("id: {}", e.id)));
            }
        }
        if let Some((sc, matched)) = best {
            let by_name = u8::from(!matched.starts_with("name: "));
            found.push((sc, by_name, kind_rank(e.kind), e.id.as_str(), matched));
        }
    }
    found.sort();
    found
        .into_iter()
        .take(LIMIT)
        .filter_map(|(_, _, _, id, matched)| {
            let e = ix.get(id)?;
            // A remote drawn as its holder is hidden when the holder is.
            let hidden = hidden_by(ix, &hide, id)
                .or_else(|| ix.owner.get(id).and_then(|h| hidden_by(ix, &hide, h)));
            Some(Hit {
                id: id.to_owned(),
                kind: e.kind,
                label: e.label.clone(),
                matched,
                reveal: reveal(ix, view, &policy, id),
                filtered: hidden.is_some(),
                hidden_by: hidden,
                drawn_as: drawn_as(ix, &hide, id).map(|d| as_drawn(d).into_owned()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{snapshots, SyntheticOptions};

    #[test]
    fn an_ip_finds_its_container_first() {
        let g = crate::graph::build(&snapshots(&SyntheticOptions {
            hosts: 2,
            containers: 60,
            hostile_names: false,
        }));
        let ix = GraphIndex::new(&g);
        let ctr = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Container && e.label.starts_with("web-"))
            .unwrap();
        let ip = ctr.attrs["ips"][0].as_str().unwrap().to_owned();
        let hits = search(&g, &ix, &View::default(), &ip);
        assert_eq!(hits[0].id, ctr.id, "{hits:?}");
        // Folded by default at this size: the host and the container must be opened to see eth0, not the container.
        assert!(hits[0].reveal.iter().all(|r| r.starts_with("host:")));
    }

    #[test]
    fn a_service_found_by_its_name_comes_before_containers_that_only_mention_it() {
        let g = crate::graph::build(&snapshots(&SyntheticOptions {
            hosts: 2,
            containers: 200,
            hostile_names: false,
        }));
        let ix = GraphIndex::new(&g);
        let svc = ix
            .of_kind(ElementKind::Service)
            .first()
            .and_then(|id| ix.get(id))
            .unwrap();
        let mentions = g
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Container)
            .filter(|e| e.attrs.values().any(|v| v.to_string().contains(&svc.label)))
            .count();
        assert!(
            mentions > 0,
            "the fixture must have task containers naming the service"
        );
        let hits = search(&g, &ix, &View::default(), &svc.label);
        assert_eq!(hits[0].id, svc.id, "{hits:?}");
    }

    #[test]
    fn a_host_side_veth_reveals_its_container_and_a_hidden_hit_names_its_filter() {
        let g = crate::graph::build(&snapshots(&SyntheticOptions {
            hosts: 1,
            containers: 60,
            hostile_names: false,
        }));
        let ix = GraphIndex::new(&g);
        let (veth, peer) = ix
            .of_kind(ElementKind::Interface)
            .iter()
            .filter(|id| id.starts_with("if:node-00/host/veth"))
            .find_map(|&id| ix.peer.get(id).map(|&p| (id, p)))
            .unwrap();
        let name = &ix.get(veth).unwrap().label;
        let hits = search(&g, &ix, &View::default(), name);
        assert_eq!(hits[0].id, veth, "{hits:?}");
        let ctr = ix.fold_parent(ix.fold_parent(peer).unwrap()).unwrap();
        assert_eq!(hits[0].reveal, vec![ctr.to_owned()]);
        assert_eq!(hits[0].drawn_as.as_deref(), Some(veth));
        assert_eq!(hits[0].hidden_by, None);
        let lo = search(&g, &ix, &View::default(), "if:node-00/host/lo");
        assert_eq!(lo[0].id, "if:node-00/host/lo");
        assert!(lo[0].filtered);
        assert_eq!(lo[0].hidden_by, Some("loopback"));
        assert_eq!(lo[0].drawn_as, None);
    }

    #[test]
    fn nothing_for_an_empty_query() {
        let g = Graph::default();
        let ix = GraphIndex::new(&g);
        assert!(search(&g, &ix, &View::default(), "  ").is_empty());
    }
}
