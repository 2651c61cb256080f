//! Level of detail: which elements are folded into which, and what is filtered out.
//!
//! The defaults depend only on the graph (counts), never on time or input
//! order, so the same snapshot gives the same picture.

use std::collections::BTreeSet;

use super::fx::{FxMap, FxSet};

use crate::graph::{EdgeKind, ElementKind, Graph, InterfaceType};

use super::index::{GraphIndex, NsPlace};
use super::view::View;

/// Above this many containers, a container's namespace starts folded into the container.
pub const SANDBOXES_OPEN_UP_TO: usize = 40;
/// Above this many containers on more than one host, hosts start folded into summaries.
pub const HOSTS_OPEN_UP_TO: usize = 200;
/// Above this many containers, edges that repeat what the wiring shows start hidden.
pub const REDUNDANT_EDGES_UP_TO: usize = 40;

/// The defaults a graph's size implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Hosts start folded.
    pub fold_hosts: bool,
    /// Containers' namespaces start folded into them.
    pub fold_sandboxes: bool,
    /// What `hide` means when the view does not say.
    pub default_hide: BTreeSet<String>,
}

impl Policy {
    /// The defaults for this graph.
    pub fn for_graph(ix: &GraphIndex) -> Self {
        let containers = ix.count(ElementKind::Container);
        let mut default_hide: BTreeSet<String> = ["loopback".to_string()].into();
        if containers > REDUNDANT_EDGES_UP_TO {
            // Endpoints repeat what veth → bridge → network already shows; runs cross the whole picture.
            default_hide.insert("endpoint".into());
            default_hide.insert("runs".into());
        }
        Self {
            fold_hosts: ix.hosts.len() > 1 && containers > HOSTS_OPEN_UP_TO,
            fold_sandboxes: containers > SANDBOXES_OPEN_UP_TO,
            default_hide,
        }
    }
}

/// The outcome of folding and filtering: which element stands for which.
pub struct Folding<'g> {
    /// The visible element each element is drawn as (itself, or the folded ancestor); absent: not drawn.
    pub rep: FxMap<&'g str, &'g str>,
    /// Elements that are folded (their fold-children are hidden in them).
    pub folded: FxSet<&'g str>,
    /// Number of elements folded into each visible one.
    pub inside: FxMap<&'g str, usize>,
    /// Tokens in force.
    pub hide: BTreeSet<String>,
}

impl<'g> Folding<'g> {
    /// Whether this element is drawn as itself.
    pub fn visible(&self, id: &str) -> bool {
        self.rep.get(id).is_some_and(|r| *r == id)
    }

    /// Whether edges of this kind are drawn.
    pub fn edge_shown(&self, kind: EdgeKind) -> bool {
        !self.hide.contains(kind.as_str())
    }
}

/// Whether an element can hold others folded (and so be folded or unfolded).
pub fn foldable(ix: &GraphIndex, id: &str) -> bool {
    match ix.get(id).map(|e| e.kind) {
        Some(ElementKind::Host) | Some(ElementKind::Netns) | Some(ElementKind::Service) => true,
        Some(ElementKind::Container) => ix
            .ctr_netns
            .get(id)
            .is_some_and(|ns| ix.fold_parent(ns) == Some(id)),
        _ => false,
    }
}

/// Whether an element is folded under this view and policy.
pub fn is_folded(ix: &GraphIndex, view: &View, policy: &Policy, id: &str) -> bool {
    if !foldable(ix, id) {
        return false;
    }
    if view.shut.contains(id) {
        return true;
    }
    if view.open_all || view.open.contains(id) {
        return false;
    }
    match ix.get(id).map(|e| e.kind) {
        Some(ElementKind::Host) => policy.fold_hosts,
        Some(ElementKind::Container) => policy.fold_sandboxes,
        Some(ElementKind::Service) => true,
        _ => false,
    }
}

/// Whether the filter hides this element (its kind, or it is a loopback or down interface).
pub fn filtered(ix: &GraphIndex, hide: &BTreeSet<String>, id: &str) -> bool {
    ix.get(id).is_none() || hidden_by(ix, hide, id).is_some()
}

/// Fold and filter every element of the graph.
pub fn fold<'g>(ix: &GraphIndex<'g>, g: &'g Graph, view: &View, policy: &Policy) -> Folding<'g> {
    let hide = view
        .hide
        .clone()
        .unwrap_or_else(|| policy.default_hide.clone());
    let folded: FxSet<&str> = g
        .elements
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| is_folded(ix, view, policy, id))
        .collect();
    let mut rep = FxMap::with_capacity_and_hasher(g.elements.len(), Default::default());
    let mut inside: FxMap<&str, usize> = FxMap::default();
    // The topmost folded, unfiltered ancestor of each element, memoized along the fold chains.
    let mut top: FxMap<&'g str, Option<&'g str>> =
        FxMap::with_capacity_and_hasher(g.elements.len(), Default::default());
    for &id in &ix.ids {
        if filtered(ix, &hide, id) || ix.owner.contains_key(id) {
            continue;
        }
        let r = top_folded(ix, &hide, &folded, &mut top, id).unwrap_or(id);
        if r != id {
            *inside.entry(r).or_default() += 1;
        }
        rep.insert(id, r);
    }
    // The host end of a veth whose container end is folded into its container is drawn as that
    // container too: with the sandbox folded, the container wires straight to the bridge, and the
    // host namespace does not hold one port per container (thousands, on a big host).
    for &id in ix.of_kind(ElementKind::Interface) {
        if rep.get(id) != Some(&id) || ix.if_type(id) != InterfaceType::Veth {
            continue;
        }
        let Some(ns) = ix.get(id).and_then(|e| e.parent.as_deref()) else {
            continue;
        };
        if ix.ns_place(ns) == NsPlace::Sandbox {
            continue;
        }
        let Some(&peer_rep) = ix.peer.get(id).and_then(|p| rep.get(p)) else {
            continue;
        };
        if ix
            .get(peer_rep)
            .is_some_and(|e| e.kind == ElementKind::Container)
        {
            rep.insert(id, peer_rep);
            *inside.entry(peer_rep).or_default() += 1;
        }
    }
    // A remote address a known node holds is drawn as that node's interface (or the node, folded).
    for (&remote, &owner) in &ix.owner {
        if filtered(ix, &hide, remote) {
            continue;
        }
        if let Some(&r) = rep.get(owner) {
            rep.insert(remote, r);
        }
    }
    Folding {
        rep,
        folded,
        inside,
        hide,
    }
}

fn top_folded<'g>(
    ix: &GraphIndex<'g>,
    hide: &BTreeSet<String>,
    folded: &FxSet<&'g str>,
    memo: &mut FxMap<&'g str, Option<&'g str>>,
    id: &'g str,
) -> Option<&'g str> {
    if let Some(t) = memo.get(id) {
        return *t;
    }
    // Guards against a cycle in bad data: a fold chain is host → container → netns → interface.
    memo.insert(id, None);
    let t = ix.fold_parent(id).and_then(|p| {
        top_folded(ix, hide, folded, memo, p)
            .or_else(|| (folded.contains(p) && !filtered(ix, hide, p)).then_some(p))
    });
    memo.insert(id, t);
    t
}

/// The folded elements that must be opened for `id` to be drawn as itself, outermost first.
///
/// Mostly its folded ancestors. But the host end of a veth is drawn as its peer's container
/// while that container's namespace is folded into it (see [`fold`]), so for such a veth the
/// peer's folded ancestors are opened too: whoever looks for the veth wants to see the veth.
/// A remote address held by a known node is drawn as that node's interface: its holder is revealed.
pub fn reveal(ix: &GraphIndex, view: &View, policy: &Policy, id: &str) -> Vec<String> {
    let mut out = folded_ancestors(ix, view, policy, id);
    let mut also = |more: Vec<String>| {
        for p in more {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    };
    if let Some(peer) = drawn_as_peer_container(ix, view, policy, id) {
        also(folded_ancestors(ix, view, policy, peer));
    }
    if let Some(&holder) = ix.owner.get(id) {
        also(folded_ancestors(ix, view, policy, holder));
        if let Some(peer) = drawn_as_peer_container(ix, view, policy, holder) {
            also(folded_ancestors(ix, view, policy, peer));
        }
    }
    out
}

/// The folded ancestors of `id`, outermost first.
fn folded_ancestors(ix: &GraphIndex, view: &View, policy: &Policy, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = id;
    for _ in 0..8 {
        let Some(p) = ix.fold_parent(cur) else { break };
        if is_folded(ix, view, policy, p) {
            out.push(p.to_owned());
        }
        cur = p;
    }
    out.reverse();
    out
}

/// For a veth outside any sandbox whose peer sits under a folded container: that peer (the veth
/// is then drawn as the container, whatever is opened above it).
fn drawn_as_peer_container<'g>(
    ix: &GraphIndex<'g>,
    view: &View,
    policy: &Policy,
    id: &str,
) -> Option<&'g str> {
    if ix.if_type(id) != InterfaceType::Veth {
        return None;
    }
    let ns = ix.get(id)?.parent.as_deref()?;
    if ix.ns_place(ns) == NsPlace::Sandbox {
        return None;
    }
    let peer = *ix.peer.get(id)?;
    let mut cur = peer;
    for _ in 0..8 {
        let p = ix.fold_parent(cur)?;
        if ix.get(p)?.kind == ElementKind::Container && is_folded(ix, view, policy, p) {
            return Some(peer);
        }
        cur = p;
    }
    None
}

/// The element drawn for `id` once [`reveal`] has been opened: itself, or what stands for it
/// (a remote address held by a node: that node's interface); `None` when a filter hides it.
pub fn drawn_as<'g>(ix: &GraphIndex<'g>, hide: &BTreeSet<String>, id: &str) -> Option<&'g str> {
    if filtered(ix, hide, id) {
        return None;
    }
    match ix.owner.get(id) {
        Some(&holder) if !filtered(ix, hide, holder) => Some(holder),
        Some(_) => None,
        None => ix.key(id),
    }
}

/// The `hide` token in force that hides this element, if one does.
pub fn hidden_by(ix: &GraphIndex, hide: &BTreeSet<String>, id: &str) -> Option<&'static str> {
    let e = ix.get(id)?;
    let token = match e.kind {
        ElementKind::Container
        | ElementKind::Network
        | ElementKind::Service
        | ElementKind::Task
        | ElementKind::Remote => e.kind.as_str(),
        ElementKind::Interface => {
            if hide.contains("loopback") && ix.if_type(id) == InterfaceType::Loopback {
                return Some("loopback");
            }
            if hide.contains("down") && ix.is_down(id) {
                return Some("down");
            }
            return None;
        }
        ElementKind::Host | ElementKind::Netns => return None,
    };
    hide.contains(token).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{snapshots, SyntheticOptions};

    fn graph(hosts: usize, containers: usize) -> Graph {
        crate::graph::build(&snapshots(&SyntheticOptions {
            hosts,
            containers,
            hostile_names: false,
        }))
    }

    #[test]
    fn small_graphs_start_unfolded_big_ones_folded() {
        let g = graph(1, 5);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        assert!(!p.fold_hosts && !p.fold_sandboxes);
        let g = graph(3, 300);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        assert!(p.fold_hosts && p.fold_sandboxes);
        assert!(p.default_hide.contains("endpoint"));
    }

    #[test]
    fn folded_host_stands_for_everything_in_it() {
        let g = graph(3, 300);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let f = fold(&ix, &g, &View::default(), &p);
        let ctr = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Container)
            .unwrap();
        let host = ix.host_of(&ctr.id).unwrap();
        assert_eq!(f.rep[ctr.id.as_str()], host);
        assert!(f.visible(host));
        assert!(f.inside[host] > 100);
    }

    #[test]
    fn reveal_lists_the_folded_ancestors_outermost_first() {
        let g = graph(3, 300);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let eth0 = g
            .elements
            .iter()
            .find(|e| {
                e.kind == ElementKind::Interface
                    && e.label == "eth0"
                    && ix.ns_place(e.parent.as_deref().unwrap()) == NsPlace::Sandbox
                    && ix
                        .fold_parent(e.parent.as_deref().unwrap())
                        .is_some_and(|c| c.starts_with("ctr:"))
            })
            .unwrap();
        let r = reveal(&ix, &View::default(), &p, &eth0.id);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("host:") && r[1].starts_with("ctr:"));
        let mut v = View::default();
        v.open.extend(r);
        let f = fold(&ix, &g, &v, &p);
        assert!(f.visible(&eth0.id));
    }

    /// A host-side veth whose container end is in a folded container's namespace.
    fn host_veth_of_a_container(g: &Graph, ix: &GraphIndex) -> (String, String) {
        let v = g
            .elements
            .iter()
            .find(|e| {
                ix.if_type(&e.id) == InterfaceType::Veth
                    && ix.ns_place(e.parent.as_deref().unwrap()) == NsPlace::Host
                    && ix.peer.get(e.id.as_str()).is_some_and(|p| {
                        ix.fold_parent(ix.fold_parent(p).unwrap())
                            .is_some_and(|c| c.starts_with("ctr:"))
                    })
            })
            .unwrap();
        let p = ix.peer[v.id.as_str()];
        let ctr = ix.fold_parent(ix.fold_parent(p).unwrap()).unwrap();
        (v.id.clone(), ctr.to_owned())
    }

    #[test]
    fn reveal_of_a_host_side_veth_opens_its_peers_container() {
        let g = graph(3, 300);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let (veth, ctr) = host_veth_of_a_container(&g, &ix);
        let host = ix.host_of(&veth).unwrap();
        // Opening only the parent chain (the host) leaves the veth drawn as its container.
        let mut v = View::default();
        v.open.insert(host.to_owned());
        assert_eq!(fold(&ix, &g, &v, &p).rep[veth.as_str()], ctr);
        let r = reveal(&ix, &View::default(), &p, &veth);
        assert_eq!(r, vec![host.to_owned(), ctr.clone()]);
        let mut v = View::default();
        v.open.extend(r);
        let f = fold(&ix, &g, &v, &p);
        assert!(
            f.visible(&veth),
            "{veth} drawn as {:?}",
            f.rep.get(veth.as_str())
        );
        // Once open, nothing more to reveal.
        assert!(reveal(&ix, &v, &p, &veth).is_empty());
        // The selection does the same through the layout.
        let v = View {
            select: Some(veth.clone()),
            ..Default::default()
        };
        let lay = crate::layout::layout_indexed(&g, &ix, &v);
        assert!(lay.scene.nodes.iter().any(|n| n.id == veth));
    }

    #[test]
    fn a_remote_held_by_a_node_reveals_and_is_drawn_as_its_holder() {
        let g = graph(3, 300);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let (&remote, &holder) = ix
            .owner
            .iter()
            .filter(|(_, h)| h.starts_with("if:"))
            .min()
            .unwrap();
        let host = ix.host_of(holder).unwrap();
        assert_eq!(reveal(&ix, &View::default(), &p, remote), vec![host]);
        assert_eq!(drawn_as(&ix, &p.default_hide, remote), Some(holder));
        let mut v = View::default();
        v.open.insert(host.to_owned());
        assert_eq!(fold(&ix, &g, &v, &p).rep[remote], holder);
    }

    #[test]
    fn hidden_by_names_the_token_that_hides() {
        let g = graph(1, 3);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let lo = "if:node-00/host/lo";
        assert_eq!(hidden_by(&ix, &p.default_hide, lo), Some("loopback"));
        assert_eq!(hidden_by(&ix, &BTreeSet::new(), lo), None);
        let ctr = ix.of_kind(ElementKind::Container)[0];
        let hide: BTreeSet<String> = ["container".to_string()].into();
        assert_eq!(hidden_by(&ix, &hide, ctr), Some("container"));
        assert_eq!(drawn_as(&ix, &hide, ctr), None);
        assert_eq!(drawn_as(&ix, &BTreeSet::new(), ctr), Some(ctr));
    }

    #[test]
    fn loopbacks_hidden_by_default_and_shown_on_request() {
        let g = graph(1, 3);
        let ix = GraphIndex::new(&g);
        let p = Policy::for_graph(&ix);
        let lo = "if:node-00/host/lo";
        assert!(!fold(&ix, &g, &View::default(), &p).rep.contains_key(lo));
        let f = fold(&ix, &g, &View::from_query("hide="), &p);
        assert!(f.visible(lo));
    }
}
