//! veth pairs: joined across namespaces through each namespace's nsid map, never by names.
//!
//! A veth reports its peer as (IFLA_LINK ifindex, IFLA_LINK_NETNSID). The nsid
//! only means something inside the namespace that reported it, so it is looked
//! up in that namespace's own map, and the pair is drawn only when the peer
//! points back: a wrong pairing is worse than none.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::snapshot::{Link, LinkKind, Namespace, NsIdentity};

use super::builder::Builder;
use super::ids;
use super::model::{EdgeKind, Severity};

/// Where a veth's peer is, as far as the snapshot can tell.
#[derive(Debug, PartialEq)]
pub enum PeerLookup<'a> {
    /// Found, and it points back.
    Found(&'a Namespace, &'a Link),
    /// The peer's namespace is not in the snapshot or its nsid is not in the map.
    Unseen(String),
    /// The peer's namespace was read and holds no such veth, or it points elsewhere.
    Missing(String),
}

/// Resolve the peer of veth `link` in namespace `ns`.
pub fn peer<'a>(
    ns: &Namespace,
    link: &Link,
    all: &HashMap<NsIdentity, &'a Namespace>,
) -> PeerLookup<'a> {
    let Some(peer_ifindex) = link.link else {
        return PeerLookup::Missing("the kernel reported no peer (IFLA_LINK)".into());
    };
    let target = match link.link_netnsid {
        None => Some(ns.id),
        Some(nsid) => ns.resolve_nsid(nsid),
    };
    let Some(target) = target else {
        let nsid = link.link_netnsid.unwrap_or(-1);
        return PeerLookup::Unseen(format!("peer is ifindex {peer_ifindex} in the namespace this one calls nsid {nsid}, which dockmap did not see"));
    };
    let Some(peer_ns) = all.get(&target) else {
        return PeerLookup::Unseen(format!(
            "peer is ifindex {peer_ifindex} in namespace inode {}, which was not read",
            target.ino
        ));
    };
    let Some(peer) = peer_ns.link(peer_ifindex) else {
        return PeerLookup::Missing(format!(
            "namespace {} has no interface with ifindex {peer_ifindex}",
            peer_ns.name
        ));
    };
    if peer.kind != LinkKind::Veth {
        return PeerLookup::Missing(format!(
            "ifindex {peer_ifindex} in {} is {} ({}), not a veth",
            peer_ns.name, peer.name, peer.kind
        ));
    }
    // The peer must point back at us; when its own nsid cannot be resolved the forward answer stands alone.
    let back_ns = match peer.link_netnsid {
        None => Some(peer_ns.id),
        Some(n) => peer_ns.resolve_nsid(n),
    };
    let points_back = peer.link == Some(link.ifindex) && back_ns.is_none_or(|b| b == ns.id);
    if !points_back {
        return PeerLookup::Missing(format!(
            "{} in {} does not point back at this veth",
            peer.name, peer_ns.name
        ));
    }
    PeerLookup::Found(peer_ns, peer)
}

/// Add one `veth-pair` edge per resolved pair and a finding per veth left unpaired.
///
/// Pairing is symmetric, so one kernel-confirmed direction is enough: a veth whose
/// own nsid is unmapped is still paired when its peer's side resolves to it.
pub(super) fn pair_up(
    b: &mut Builder,
    host: &str,
    namespaces: &[Namespace],
    names: &HashMap<NsIdentity, String>,
) {
    let all: HashMap<NsIdentity, &Namespace> = namespaces.iter().map(|n| (n.id, n)).collect();
    let mut pairs: BTreeMap<(String, String), (u32, u32, String, String)> = BTreeMap::new();
    let mut problems: Vec<(String, &'static str, Severity, String)> = Vec::new();
    for ns in namespaces {
        for link in ns.links.iter().filter(|l| l.kind == LinkKind::Veth) {
            let me = ids::interface(host, &names[&ns.id], &link.name);
            match peer(ns, link, &all) {
                PeerLookup::Found(peer_ns, peer) => {
                    let other = ids::interface(host, &names[&peer_ns.id], &peer.name);
                    let facts = (
                        link.ifindex,
                        peer.ifindex,
                        names[&ns.id].clone(),
                        names[&peer_ns.id].clone(),
                    );
                    let (key, facts) = if me < other {
                        ((me, other), facts)
                    } else {
                        ((other, me), (facts.1, facts.0, facts.3, facts.2))
                    };
                    pairs.insert(key, facts);
                }
                PeerLookup::Unseen(why) => problems.push((
                    me,
                    "veth-peer-unseen",
                    Severity::Warning,
                    format!("veth {} in {}: {why}", link.name, names[&ns.id]),
                )),
                PeerLookup::Missing(why) => problems.push((
                    me,
                    "veth-peer-missing",
                    Severity::Error,
                    format!("veth {} in {}: {why}", link.name, names[&ns.id]),
                )),
            }
        }
    }
    let mut paired: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for ((a, z), (a_ifindex, z_ifindex, a_ns, z_ns)) in &pairs {
        for (me, other, other_ifindex, other_ns) in
            [(a, z, z_ifindex, z_ns), (z, a, a_ifindex, a_ns)]
        {
            if let Some(e) = b.elements.get_mut(me) {
                e.attrs.insert("peer".into(), json!(other));
                e.attrs.insert("peer_netns".into(), json!(other_ns));
                e.attrs.insert("peer_ifindex".into(), json!(other_ifindex));
            }
        }
        paired.insert(a);
        paired.insert(z);
    }
    for (me, code, severity, message) in problems {
        if !paired.contains(me.as_str()) {
            b.finding(code, severity, message, vec![me]);
        }
    }
    for (a, z) in pairs.into_keys() {
        b.edge(EdgeKind::VethPair, &a, &z, BTreeMap::new());
    }
}
