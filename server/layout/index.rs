//! Lookups over a graph that the layout needs: parents, peers, masters, sandboxes.
//!
//! Every list is kept sorted by id so that nothing downstream depends on the
//! order elements or edges came in.

use std::collections::{BTreeMap, BTreeSet};

use super::fx::{FxMap, FxSet};

use crate::graph::{EdgeKind, Element, ElementKind, Graph, InterfaceType, Severity};
use crate::names;

/// What a namespace is for, as far as placement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NsPlace {
    /// Carries bridges and uplinks: the host's own namespace.
    Host,
    /// An overlay's namespace (br0, vxlan0).
    Overlay,
    /// A sandbox: a container's, ingress_sbox, lb_*, or anything else.
    Sandbox,
}

/// The relations the layout follows, read from the edges once.
#[derive(Default)]
struct Joins<'g> {
    peer: FxMap<&'g str, &'g str>,
    master: FxMap<&'g str, &'g str>,
    sandbox: FxMap<&'g str, Vec<&'g str>>,
    ctr_netns: FxMap<&'g str, &'g str>,
    carriers: FxMap<&'g str, Vec<&'g str>>,
    carried: FxMap<&'g str, Vec<&'g str>>,
    endpoints: FxMap<&'g str, usize>,
}

impl<'g> Joins<'g> {
    fn of(g: &'g Graph, el: &FxMap<&'g str, &'g Element>) -> Self {
        let mut j = Joins::default();
        for e in &g.edges {
            let (Some((&s, _)), Some((&t, _))) = (
                el.get_key_value(e.source.as_str()),
                el.get_key_value(e.target.as_str()),
            ) else {
                continue;
            };
            match e.kind {
                EdgeKind::VethPair => {
                    keep_min(&mut j.peer, s, t);
                    keep_min(&mut j.peer, t, s);
                }
                EdgeKind::BridgePort => keep_min(&mut j.master, s, t),
                EdgeKind::Sandbox => {
                    j.sandbox.entry(t).or_default().push(s);
                    keep_min(&mut j.ctr_netns, s, t);
                }
                EdgeKind::Carries => {
                    j.carriers.entry(s).or_default().push(t);
                    j.carried.entry(t).or_default().push(s);
                }
                EdgeKind::Endpoint => *j.endpoints.entry(t).or_default() += 1,
                _ => {}
            }
        }
        j
    }
}

/// Where bad data gives one end two partners, the smallest id wins: the outcome never depends
/// on edge order.
fn keep_min<'a>(m: &mut FxMap<&'a str, &'a str>, k: &'a str, v: &'a str) {
    let slot = m.entry(k).or_insert(v);
    if v < *slot {
        *slot = v;
    }
}

/// Each list sorted and without repeats.
fn sorted<'g>(mut m: FxMap<&'g str, Vec<&'g str>>) -> FxMap<&'g str, Vec<&'g str>> {
    for v in m.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    m
}

/// Indexed view of a graph.
pub struct GraphIndex<'g> {
    /// Elements by id.
    el: FxMap<&'g str, &'g Element>,
    /// Every element id, sorted.
    pub ids: Vec<&'g str>,
    /// Element ids of each kind, sorted.
    by_kind: FxMap<ElementKind, Vec<&'g str>>,
    /// Children by parent id, sorted.
    pub children: FxMap<&'g str, Vec<&'g str>>,
    /// veth peer of an interface.
    pub peer: FxMap<&'g str, &'g str>,
    /// Bridge of a port.
    pub master: FxMap<&'g str, &'g str>,
    /// Containers whose sandbox a namespace is, sorted.
    pub sandbox_ctrs: FxMap<&'g str, Vec<&'g str>>,
    /// A container's namespace.
    pub ctr_netns: FxMap<&'g str, &'g str>,
    /// Interfaces that carry a network, sorted.
    pub carriers: FxMap<&'g str, Vec<&'g str>>,
    /// Networks an interface carries, sorted.
    pub carried: FxMap<&'g str, Vec<&'g str>>,
    /// Host ids, sorted.
    pub hosts: Vec<&'g str>,
    /// A remote address that belongs to a known node: the interface (or host) that holds it.
    pub owner: FxMap<&'g str, &'g str>,
    /// How many endpoints (containers, load-balancer sandboxes) each network has.
    pub endpoints: FxMap<&'g str, usize>,
    /// Interface types, precomputed (asked for on every element of every view).
    if_types: FxMap<&'g str, InterfaceType>,
    /// Interfaces whose operational state is down.
    down: FxSet<&'g str>,
    /// Namespace placement, precomputed.
    places: FxMap<&'g str, NsPlace>,
    /// Fold parents, precomputed.
    fold_parents: FxMap<&'g str, &'g str>,
    /// Per host: how many findings concern it, as (errors, warnings).
    host_findings: FxMap<&'g str, (usize, usize)>,
}

impl<'g> GraphIndex<'g> {
    /// Index a graph.
    pub fn new(g: &'g Graph) -> Self {
        let el: FxMap<&str, &Element> = g.elements.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut ids: Vec<&str> = el.keys().copied().collect();
        ids.sort_unstable();
        let mut children: FxMap<&str, Vec<&str>> = FxMap::default();
        let mut hosts = Vec::new();
        let mut by_kind: FxMap<ElementKind, Vec<&str>> = FxMap::default();
        // Walking the sorted ids makes every list below come out sorted.
        for &id in &ids {
            let e = el[id];
            by_kind.entry(e.kind).or_default().push(id);
            if let Some(p) = e.parent.as_deref() {
                if let Some((&p, _)) = el.get_key_value(p) {
                    children.entry(p).or_default().push(id);
                }
            }
            if e.kind == ElementKind::Host {
                hosts.push(id);
            }
        }
        let j = Joins::of(g, &el);
        let mut ix = Self {
            el,
            ids,
            by_kind,
            children,
            peer: j.peer,
            master: j.master,
            sandbox_ctrs: sorted(j.sandbox),
            ctr_netns: j.ctr_netns,
            carriers: sorted(j.carriers),
            carried: sorted(j.carried),
            hosts,
            owner: FxMap::default(),
            endpoints: j.endpoints,
            if_types: FxMap::default(),
            down: FxSet::default(),
            places: FxMap::default(),
            fold_parents: FxMap::default(),
            host_findings: FxMap::default(),
        };
        ix.precompute();
        ix.count_findings(g);
        ix
    }

    /// Count each finding once for every host one of its elements is on (a folded host's card
    /// says how many concern it).
    fn count_findings(&mut self, g: &'g Graph) {
        for f in &g.findings {
            let mut hosts: Vec<&'g str> =
                f.elements.iter().filter_map(|e| self.host_of(e)).collect();
            hosts.sort_unstable();
            hosts.dedup();
            for h in hosts {
                let n = self.host_findings.entry(h).or_default();
                match f.severity {
                    Severity::Error => n.0 += 1,
                    Severity::Warning => n.1 += 1,
                    Severity::Info => {}
                }
            }
        }
    }

    /// How many findings concern a host: (errors, warnings).
    pub fn findings_of_host(&self, host: &str) -> (usize, usize) {
        self.host_findings.get(host).copied().unwrap_or_default()
    }

    /// Interface types and states, namespace places, fold parents and owners, asked for on
    /// every element of every view.
    fn precompute(&mut self) {
        for id in self.of_kind(ElementKind::Interface).to_vec() {
            let t = InterfaceType::from_attr(self.attr(id, "type").unwrap_or(""));
            self.if_types.insert(id, t);
            if matches!(
                self.attr(id, "state"),
                Some("down") | Some("lowerlayerdown") | Some("notpresent")
            ) {
                self.down.insert(id);
            }
        }
        for id in self.of_kind(ElementKind::Netns).to_vec() {
            let p = self.compute_ns_place(id);
            self.places.insert(id, p);
        }
        let parents: Vec<(&str, &str)> = self
            .ids
            .iter()
            .filter_map(|&id| self.compute_fold_parent(id).map(|p| (id, p)))
            .collect();
        self.fold_parents.extend(parents);
        self.owner = self.find_owners();
    }

    /// Remote underlay addresses held by a node in the graph: a tunnel to them is a tunnel to that node.
    fn find_owners(&self) -> FxMap<&'g str, &'g str> {
        let mut by_addr: BTreeMap<&str, &'g str> = BTreeMap::new();
        for &id in self.of_kind(ElementKind::Interface) {
            let e = self.el[id];
            if self.if_type(id) == InterfaceType::Loopback {
                continue;
            }
            for a in e
                .attrs
                .get("addresses")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(addr) = a.as_str().and_then(|s| s.split('/').next()) {
                    // Lowest id wins when two interfaces claim one address (sorted iteration).
                    by_addr.entry(addr).or_insert(id);
                }
            }
        }
        for &h in &self.hosts {
            if let Some(addr) = self.attr(h, "swarm_node_addr") {
                by_addr.entry(addr).or_insert(h);
            }
        }
        self.of_kind(ElementKind::Remote)
            .iter()
            .map(|&id| (id, self.el[id]))
            .filter_map(|(id, e)| {
                let addr = e
                    .attrs
                    .get("address")
                    .and_then(|v| v.as_str())
                    .unwrap_or(e.label.as_str());
                by_addr.get(addr).map(|o| (id, *o))
            })
            .collect()
    }

    /// The element with this id.
    pub fn get(&self, id: &str) -> Option<&'g Element> {
        self.el.get(id).copied()
    }

    /// Children of an element, sorted by id.
    pub fn kids(&self, id: &str) -> &[&'g str] {
        self.children.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A string attribute.
    pub fn attr(&self, id: &str, key: &str) -> Option<&'g str> {
        self.get(id)?.attrs.get(key)?.as_str()
    }

    /// Interface type (veth, bridge, vxlan, physical, loopback, other).
    pub fn if_type(&self, id: &str) -> InterfaceType {
        self.if_types
            .get(id)
            .copied()
            .unwrap_or(InterfaceType::Other)
    }

    /// Whether an interface is down (its operational state says so).
    pub fn is_down(&self, id: &str) -> bool {
        self.down.contains(id)
    }

    /// Where a namespace goes in the picture.
    pub fn ns_place(&self, id: &str) -> NsPlace {
        self.places.get(id).copied().unwrap_or(NsPlace::Sandbox)
    }

    fn compute_ns_place(&self, id: &str) -> NsPlace {
        match self.attr(id, "role") {
            Some("host") => NsPlace::Host,
            Some("overlay") => NsPlace::Overlay,
            Some(_) => NsPlace::Sandbox,
            // Without a role, go by name: that is all an older snapshot tells.
            None => match self.get(id).map(|e| e.label.as_str()) {
                Some(names::HOST_NS) => NsPlace::Host,
                Some(l) if l.starts_with(names::OVERLAY_NS_PREFIX) => NsPlace::Overlay,
                _ => NsPlace::Sandbox,
            },
        }
    }

    /// The host an element belongs to, by its parent chain.
    pub fn host_of(&self, id: &str) -> Option<&'g str> {
        let mut cur = self.get(id)?;
        for _ in 0..8 {
            if cur.kind == ElementKind::Host {
                return Some(cur.id.as_str());
            }
            cur = self.get(cur.parent.as_deref()?)?;
        }
        None
    }

    /// The host a network is drawn in: the one all its carriers are in, else the one its id names.
    pub fn network_home(&self, id: &str) -> Option<&'g str> {
        let carriers = self.carriers.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let homes: BTreeSet<&str> = carriers.iter().filter_map(|c| self.host_of(c)).collect();
        match homes.len() {
            1 => homes.into_iter().next(),
            0 => {
                // Local networks are named `net:<host>/<name>`; a swarm one (`net:<name>`) has no home.
                let rest = id.strip_prefix("net:")?;
                let (host, _) = rest.split_once('/')?;
                let hid = format!("host:{host}");
                self.el.get_key_value(hid.as_str()).map(|(k, _)| *k)
            }
            _ => None,
        }
    }

    /// The element this one folds into: interface → namespace → container (sandbox) or host.
    pub fn fold_parent(&self, id: &str) -> Option<&'g str> {
        self.fold_parents.get(id).copied()
    }

    fn compute_fold_parent(&self, id: &str) -> Option<&'g str> {
        let e = self.get(id)?;
        match e.kind {
            ElementKind::Interface | ElementKind::Container | ElementKind::Task => {
                e.parent.as_deref().and_then(|p| self.key(p))
            }
            ElementKind::Netns => {
                if self.ns_place(id) == NsPlace::Sandbox {
                    if let Some(c) = self.sandbox_ctrs.get(id).and_then(|v| v.first()) {
                        return Some(c);
                    }
                }
                e.parent.as_deref().and_then(|p| self.key(p))
            }
            ElementKind::Network => self.network_home(id),
            ElementKind::Host | ElementKind::Service | ElementKind::Remote => None,
        }
    }

    /// The map's own copy of an id (for lifetimes).
    pub fn key(&self, id: &str) -> Option<&'g str> {
        self.el.get_key_value(id).map(|(k, _)| *k)
    }

    /// Count of elements of a kind.
    pub fn count(&self, kind: ElementKind) -> usize {
        self.of_kind(kind).len()
    }

    /// Ids of the elements of a kind, sorted.
    pub fn of_kind(&self, kind: ElementKind) -> &[&'g str] {
        self.by_kind.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }
}
