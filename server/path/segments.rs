//! Path pieces every kind of path shares: out of a container to its bridge, from a bridge into a
//! container, and across an overlay network (br0, vxlan0, the FDB entry, the remote node).

use std::net::{IpAddr, Ipv4Addr};

use crate::graph::encryption::{esp_sas, outbound_sa, spi_text, ENCRYPTED_OPTION};
use crate::snapshot::{Container, ContainerEndpoint, Link, Namespace, Network, SourceKind};

use super::facts;
use super::lookup::{Ctx, Found, NodeView};
use super::model::Verdict;
use super::trail::{Stage, Trail};
use crate::names;
use crate::snapshot::LinkKind;

/// Where a packet sits: a link in a namespace of a node.
#[derive(Clone, Copy)]
pub struct At<'a> {
    /// Index into the context's nodes.
    pub node: usize,
    /// The namespace.
    pub ns: &'a Namespace,
    /// The link.
    pub link: &'a Link,
}

/// The network namespace of container `c`; when it was not read, an *unknown* hop that says so.
pub fn namespace_of<'a>(
    t: &mut Trail<'_, 'a>,
    nv: &NodeView<'a>,
    c: &Container,
) -> Stage<&'a Namespace> {
    match nv.container_ns(c) {
        Some(ns) => Ok(ns),
        None => {
            let why = format!("{}'s network namespace is not in the snapshot", c.name);
            t.unknown(nv.host, None, why, vec![])
        }
    }
}

/// Start at a container and leave it by the interface holding `ip`; returns that interface.
pub fn leave_container<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    f: Found<'a>,
    ip: IpAddr,
) -> Stage<At<'a>> {
    let nv = &ctx.nodes[f.node];
    let c = f.container;
    t.pass(
        nv.host,
        ctx.element(nv.container_id(c)),
        format!("{} sends from {ip}", c.name),
        vec![],
    );
    let ns = namespace_of(t, nv, c)?;
    let Some(link) = nv.link_with_ip(ns, ip) else {
        let why = format!("no interface in {}'s namespace holds {ip}", c.name);
        return t.broken(nv.host, ctx.element(nv.netns_id(ns)), why, vec![]);
    };
    let ev = nv
        .addr_of(ns, link, ip.is_ipv6())
        .map(|a| vec![facts::address(&nv.ns_name(ns), ns, a)])
        .unwrap_or_default();
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(ns, link)),
        format!("out of {} in {}'s namespace", link.name, c.name),
        ev,
    );
    Ok(At {
        node: f.node,
        ns,
        link,
    })
}

/// From a container interface over its veth to the other end, which must be a port of a bridge.
/// Returns (the other end, the bridge).
pub fn cross_veth_to_bridge<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    at: At<'a>,
) -> Stage<(At<'a>, &'a Link)> {
    let nv = &ctx.nodes[at.node];
    let Some((pns, peer)) = nv.peer(at.ns, at.link) else {
        let why = format!(
            "the other end of veth {} in {} is not in the snapshot",
            at.link.name,
            nv.ns_name(at.ns)
        );
        return t.unknown(nv.host, None, why, vec![]);
    };
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(pns, peer)),
        format!("over the veth pair to {} in {}", peer.name, nv.ns_name(pns)),
        vec![],
    );
    let Some(br) = nv.master(pns, peer) else {
        let why = format!(
            "{} in {} is no port of a bridge",
            peer.name,
            nv.ns_name(pns)
        );
        return t.broken(nv.host, None, why, vec![]);
    };
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(pns, br)),
        format!("into bridge {}", br.name),
        vec![],
    );
    Ok((
        At {
            node: at.node,
            ns: pns,
            link: peer,
        },
        br,
    ))
}

/// From bridge `br` in `bns` to the container holding `ip`: its veth port, its interface, itself.
#[allow(clippy::too_many_arguments)]
pub fn enter_container<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    node: usize,
    bns: &'a Namespace,
    br: &'a Link,
    f: Found<'a>,
    ip: IpAddr,
    arrives: &str,
) -> Stage {
    let nv = &ctx.nodes[node];
    let c = f.container;
    let cns = namespace_of(t, nv, c)?;
    enter_ns(t, ctx, node, bns, br, cns, &format!("{}'s", c.name), ip)?;
    t.pass(
        nv.host,
        ctx.element(nv.container_id(c)),
        format!("{} receives it {arrives}", c.name),
        vec![],
    );
    Ok(())
}

/// From bridge `br` in `bns` into namespace `cns` by the veth holding `ip`.
#[allow(clippy::too_many_arguments)]
pub fn enter_ns<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    node: usize,
    bns: &'a Namespace,
    br: &'a Link,
    cns: &'a Namespace,
    whose: &str,
    ip: IpAddr,
) -> Stage {
    let nv = &ctx.nodes[node];
    let Some(clink) = nv.link_with_ip(cns, ip) else {
        let why = format!("no interface in {whose} namespace holds {ip}");
        return t.broken(nv.host, ctx.element(nv.netns_id(cns)), why, vec![]);
    };
    let Some((pns, port)) = nv.peer(cns, clink) else {
        let why = format!(
            "the other end of {} in {whose} namespace is not in the snapshot",
            clink.name
        );
        return t.unknown(nv.host, None, why, vec![]);
    };
    if pns.id != bns.id || port.master != Some(br.ifindex) {
        let why = format!(
            "{} in {whose} namespace is paired with {} in {}, which is no port of {}",
            clink.name,
            port.name,
            nv.ns_name(pns),
            br.name
        );
        return t.broken(nv.host, ctx.element(nv.iface_id(pns, port)), why, vec![]);
    }
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(pns, port)),
        format!("out of {} by its port {}", br.name, port.name),
        vec![],
    );
    let ev = nv
        .addr_of(cns, clink, ip.is_ipv6())
        .map(|a| vec![facts::address(&nv.ns_name(cns), cns, a)])
        .unwrap_or_default();
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(cns, clink)),
        format!("over the veth pair to {} in {whose} namespace", clink.name),
        ev,
    );
    Ok(())
}

/// The VNI Docker gave an overlay network.
fn vni_of(net: &Network) -> Option<u32> {
    names::vxlan_ids(&net.options).first().copied()
}

/// From an interface of a sandbox on overlay `net` (on `from.node`) to the container `dst`
/// (its endpoint `ep` on that network), over br0 and, across nodes, vxlan0 and the FDB.
pub fn across_overlay<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    from: At<'a>,
    net: &Network,
    dst: Found<'a>,
    ep: &ContainerEndpoint,
    arrives: &str,
) -> Stage {
    let Ok(dst_ip) = ep.ipv4.parse::<Ipv4Addr>().map(IpAddr::V4) else {
        let why = format!("{} has no IPv4 address on {}", dst.container.name, net.name);
        return t.broken(ctx.nodes[from.node].host, None, why, vec![]);
    };
    let (port, br0) = cross_veth_to_bridge(t, ctx, from)?;
    if dst.node == from.node {
        return enter_container(t, ctx, from.node, port.ns, br0, dst, dst_ip, arrives);
    }
    let sent = into_tunnel(t, ctx, from.node, port.ns, br0, net, dst, ep)?;
    let (rns, rbr) = out_of_tunnel(t, ctx, net, dst, &sent)?;
    enter_container(t, ctx, dst.node, rns, rbr, dst, dst_ip, arrives)
}

/// What the sending node's tunnel put on the underlay.
struct Sent {
    vx_el: Option<String>,
    vni: Option<u32>,
    under: String,
}

/// Across nodes: br0's vxlan port, the FDB entry that sends `dst`'s MAC to its node (and the
/// IPsec SA, when the overlay is encrypted).
#[allow(clippy::too_many_arguments)]
fn into_tunnel<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    node: usize,
    ons: &'a Namespace,
    br0: &'a Link,
    net: &Network,
    dst: Found<'a>,
    ep: &ContainerEndpoint,
) -> Stage<Sent> {
    let nv = &ctx.nodes[node];
    let Some(vx) = ons
        .links
        .iter()
        .find(|l| l.kind == LinkKind::Vxlan && l.master == Some(br0.ifindex))
    else {
        let why = format!(
            "{} has no vxlan port: {} cannot leave this node",
            br0.name, net.name
        );
        return t.broken(nv.host, None, why, vec![]);
    };
    let vx_el = ctx.element(nv.iface_id(ons, vx));
    let dst_host = ctx.nodes[dst.node].host;
    let vni = vx.vxlan.as_ref().map(|v| v.vni).or_else(|| vni_of(net));
    let entry = ons.fdb.iter().find(|e| {
        e.ifindex == vx.ifindex && e.mac.eq_ignore_ascii_case(&ep.mac) && e.dst.is_some()
    });
    let Some(entry) = entry else {
        let why = format!(
            "no FDB entry for {} ({} on {dst_host}) on {} in {}: the tunnel does not know where it is",
            ep.mac,
            dst.container.name,
            vx.name,
            nv.ns_name(ons)
        );
        return t.broken(nv.host, vx_el, why, vec![]);
    };
    let under = entry.dst.clone().unwrap_or_default();
    let ev = vec![facts::fdb(&nv.ns_name(ons), ons, entry)];
    let text = format!(
        "{} (VNI {}) sends {}'s MAC {} to {under} over the underlay",
        vx.name,
        vni.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        dst.container.name,
        ep.mac
    );
    match ctx.host_at(&under) {
        Some(h) if h == dst_host => {
            if !net.options.contains_key(ENCRYPTED_OPTION) {
                t.pass(nv.host, vx_el.clone(), text, ev);
            } else {
                let sides = (node, dst.node);
                encrypted_hop(t, ctx, sides, &under, vx_el.clone(), net, text, ev)?;
            }
        }
        Some(h) => {
            let why = format!(
                "the FDB sends {} to {under} ({h}), but {} runs on {dst_host}",
                ep.mac, dst.container.name
            );
            return t.broken(nv.host, vx_el, why, ev);
        }
        None => {
            let why = format!(
                "the FDB sends {} to {under}, which is no node of the swarm these snapshots know",
                ep.mac
            );
            return t.broken(nv.host, vx_el, why, ev);
        }
    }
    Ok(Sent { vx_el, vni, under })
}

/// On `dst`'s node: the overlay's namespace, its vxlan device for the VNI, and the bridge that
/// device is a port of.
fn out_of_tunnel<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    net: &Network,
    dst: Found<'a>,
    sent: &Sent,
) -> Stage<(&'a Namespace, &'a Link)> {
    let rv = &ctx.nodes[dst.node];
    let dst_host = rv.host;
    let Sent { vx_el, vni, under } = sent;
    let vni = *vni;
    let Some(rns) = rv.ns_for_network(names::OVERLAY_NS_PREFIX, &net.id) else {
        let why = format!("{dst_host} has no namespace for overlay {}", net.name);
        return t.broken(rv.host, None, why, vec![]);
    };
    let rvx = rns.links.iter().find(|l| {
        l.kind == LinkKind::Vxlan && (vni.is_none() || l.vxlan.as_ref().map(|v| v.vni) == vni)
    });
    let Some(rvx) = rvx else {
        let why = format!(
            "{dst_host}'s {} has no vxlan device for VNI {vni:?}",
            rv.ns_name(rns)
        );
        return t.broken(rv.host, None, why, vec![]);
    };
    let rvx_el = ctx.element(rv.iface_id(rns, rvx));
    let edge = match (vx_el, &rvx_el) {
        (Some(a), Some(b)) => ctx.edge(a, b).or_else(|| ctx.fdb_edge(a, under)),
        (Some(a), None) => ctx.fdb_edge(a, under),
        _ => None,
    };
    t.hop_via(
        rv.host,
        rvx_el,
        edge,
        format!(
            "{dst_host}'s {} decapsulates it (VNI {})",
            rvx.name,
            vni.unwrap_or(0)
        ),
        vec![],
        Verdict::Pass,
    );
    let Some(rbr) = rv.master(rns, rvx) else {
        let why = format!("{dst_host}'s {} is no port of a bridge", rvx.name);
        return t.broken(rv.host, None, why, vec![]);
    };
    t.pass(
        rv.host,
        ctx.element(rv.iface_id(rns, rbr)),
        format!("into {dst_host}'s {}", rbr.name),
        vec![],
    );
    Ok((rns, rbr))
}

/// The tunnel hop of an encrypted overlay: which SA encrypts it, or why it cannot be sent or
/// received encrypted.
#[allow(clippy::too_many_arguments)]
fn encrypted_hop(
    t: &mut Trail<'_, '_>,
    ctx: &Ctx<'_>,
    (node, dst_node): (usize, usize),
    under: &str,
    vx_el: Option<String>,
    net: &Network,
    text: String,
    mut ev: Vec<super::model::Evidence>,
) -> Stage {
    let nv = &ctx.nodes[node];
    let rv = &ctx.nodes[dst_node];
    let local = nv
        .snap
        .engine
        .as_ref()
        .map(|e| e.swarm.node_addr.as_str())
        .unwrap_or("");
    let Some(sas) = esp_sas(nv.snap, local, under) else {
        let why = format!(
            "{} is encrypted, but {}'s IPsec state was not read: whether this hop is encrypted cannot be told",
            net.name, nv.host
        );
        return t.end(nv.host, vx_el, text, ev, Verdict::Unknown(why));
    };
    let Some(sa) = outbound_sa(nv.snap, local, under).filter(|_| !sas.is_empty()) else {
        let why = format!(
            "{} is encrypted, but {} holds no IPsec SA to {under}: the VXLAN is not encrypted and {} drops it (no SA at all: a kernel without ESP)",
            net.name, nv.host, rv.host
        );
        return t.end(nv.host, vx_el, text, ev, Verdict::Broken(why));
    };
    ev.push(facts::xfrm_sa("host", sa));
    let which = format!("SPI {} {}→{}", spi_text(sa.spi), sa.src, sa.dst);
    if let Some(theirs) = esp_sas(rv.snap, local, under) {
        if !theirs.iter().any(|s| s.spi == sa.spi) {
            let why = format!(
                "{} encrypts with {which}, but {} holds no SA with that SPI from it: the packet is dropped on arrival",
                nv.host, rv.host
            );
            return t.end(nv.host, vx_el, text, ev, Verdict::Broken(why));
        }
    }
    t.pass(
        nv.host,
        vx_el,
        format!("{text}, encrypted by IPsec ESP ({which})"),
        ev,
    );
    Ok(())
}

/// The reason a namespace's IPVS cannot be used, if it cannot.
pub fn ipvs_missing(nv: &NodeView<'_>, ns: &Namespace, what: &str) -> Option<Verdict> {
    use crate::snapshot::IpvsState;
    match &ns.ipvs {
        IpvsState::Services { .. } => None,
        IpvsState::Unavailable { reason } => Some(Verdict::Broken(format!(
            "IPVS not available in this kernel: {what} cannot forward ({reason})"
        ))),
        IpvsState::NotRead => Some(Verdict::Unknown(format!(
            "the IPVS services of {} were not read ({})",
            nv.ns_name(ns),
            nv.why_not_read(ns, SourceKind::Ipvs)
        ))),
    }
}
