//! Between two containers: same bridge (icc), different bridges (isolation), the same overlay on
//! one node or across nodes.

use std::net::IpAddr;

use crate::snapshot::{ContainerEndpoint, Link, Namespace, Route};

use super::facts;
use super::lookup::{endpoint_ip, Ctx, Found, NodeView};
use super::model::PacketPath;
use super::rules::Packet;
use super::segments::{
    across_overlay, cross_veth_to_bridge, enter_container, leave_container, namespace_of, At,
};
use super::trail::{Stage, Trail};
use crate::names;
use crate::snapshot::LinkKind;

/// One path per network the two share and address family both have there (IPv4, then IPv6;
/// only IPv6 if `only_v6` is `Some(true)`, only IPv4 if `Some(false)`); through the host's
/// routing when they share none.
pub fn east_west<'a>(
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    only_net: Option<&str>,
    only_v6: Option<bool>,
) -> (Vec<PacketPath>, Vec<String>) {
    let mut paths = Vec::new();
    let mut notes = Vec::new();
    let shared: Vec<_> = a
        .container
        .endpoints
        .iter()
        .filter_map(|ea| {
            b.container
                .endpoints
                .iter()
                .find(|eb| eb.network_id == ea.network_id)
                .map(|eb| (ea, eb))
        })
        .filter(|(ea, _)| only_net.is_none_or(|n| n == ea.network_id))
        .collect();
    for (ea, eb) in &shared {
        let found: Vec<PacketPath> = [false, true]
            .into_iter()
            .filter(|v6| only_v6.is_none_or(|o| o == *v6))
            .filter_map(|v6| shared_network(ctx, a, b, ea, eb, v6))
            .collect();
        if found.is_empty() {
            notes.push(format!(
                "no addresses of one family on both ends on {}",
                ea.network_name
            ));
        }
        paths.extend(found);
    }
    if shared.is_empty() {
        let target = b
            .container
            .endpoints
            .iter()
            .find(|e| only_net.is_none_or(|n| n == e.network_id))
            .and_then(|e| {
                let v6 = only_v6.unwrap_or(false);
                endpoint_ip(e, v6).map(|ip| (ip, e.network_name.clone()))
            });
        match target {
            Some((bip, bnet)) => paths.push(routed(ctx, a, b, bip, &bnet)),
            None => notes.push(format!(
                "{} has no {} address to reach",
                b.container.name,
                if only_v6 == Some(true) {
                    "IPv6"
                } else {
                    "IPv4"
                }
            )),
        }
    }
    (paths, notes)
}

/// The path over one network both containers are on (`ea`, `eb`: their endpoints) in one
/// address family; `None` when they have no addresses of it there.
fn shared_network<'a>(
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    ea: &ContainerEndpoint,
    eb: &ContainerEndpoint,
    v6: bool,
) -> Option<PacketPath> {
    let (aip, bip) = (endpoint_ip(ea, v6)?, endpoint_ip(eb, v6)?);
    let mut t = Trail::new(ctx);
    t.name(
        format!(
            "between:{}->{}@{}{}",
            a.container.name,
            b.container.name,
            ea.network_name,
            if v6 { "/ipv6" } else { "" }
        ),
        format!(
            "{} ({aip}) → {} ({bip}) on {}",
            a.container.name, b.container.name, ea.network_name
        ),
    );
    let driver = ctx
        .network(&ea.network_id)
        .map(|n| n.driver.as_str())
        .unwrap_or("");
    let _ended = match (driver, ctx.network(&ea.network_id)) {
        (names::DRIVER_BRIDGE, _) => same_bridge(&mut t, ctx, a, b, aip, bip),
        (names::DRIVER_OVERLAY, Some(_)) if v6 => {
            let why = format!(
                "IPv6 over overlay network {} is not traced",
                ea.network_name
            );
            t.unknown(ctx.nodes[a.node].host, None, why, vec![])
        }
        (names::DRIVER_OVERLAY, Some(net)) => leave_container(&mut t, ctx, a, aip)
            .and_then(|at| across_overlay(&mut t, ctx, at, net, b, eb, &format!("on {bip}"))),
        _ => {
            let why = format!(
                "network {} uses driver {driver:?}, whose paths dockmap does not trace",
                ea.network_name
            );
            t.unknown(ctx.nodes[a.node].host, None, why, vec![])
        }
    };
    Some(t.finish("east-west"))
}

/// Two containers on one bridge: the bridge forwards, filter FORWARD sees `-i br -o br` (icc).
fn same_bridge<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    aip: IpAddr,
    bip: IpAddr,
) -> Stage {
    let at = leave_container(t, ctx, a, aip)?;
    let (port, br) = cross_veth_to_bridge(t, ctx, at)?;
    let nv = &ctx.nodes[a.node];
    let pkt = Packet {
        v6: bip.is_ipv6(),
        src: Some(aip),
        dst: Some(bip),
        in_if: Some(br.name.clone()),
        out_if: Some(br.name.clone()),
        local: nv.local(port.ns, bip.is_ipv6()),
        ..Packet::default()
    };
    let br_el = ctx.element(nv.iface_id(port.ns, br));
    t.filter(nv, port.ns, "FORWARD", &pkt, br_el)?;
    enter_container(t, ctx, a.node, port.ns, br, b, bip, &format!("on {bip}"))
}

/// Containers that share no network: A's route, its bridge, the host's route, filter FORWARD
/// (where Docker's isolation chains drop it), the other bridge.
fn routed<'a>(ctx: &Ctx<'a>, a: Found<'a>, b: Found<'a>, bip: IpAddr, bnet: &str) -> PacketPath {
    let mut t = Trail::new(ctx);
    t.name(
        format!("between:{}->{}@routed", a.container.name, b.container.name),
        format!(
            "{} → {} ({bip} on {bnet}): no shared network, through the host",
            a.container.name, b.container.name
        ),
    );
    let _ended = routed_stages(&mut t, ctx, a, b, bip);
    t.finish("east-west")
}

fn routed_stages<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    bip: IpAddr,
) -> Stage {
    let nv = &ctx.nodes[a.node];
    let c = a.container;
    t.pass(
        nv.host,
        ctx.element(nv.container_id(c)),
        format!("{} sends to {bip}", c.name),
        vec![],
    );
    let cns = namespace_of(t, nv, c)?;
    let Some((r, link)) = route_by(nv, cns, bip) else {
        let why = format!("{} has no route to {bip}", c.name);
        return t.broken(nv.host, ctx.element(nv.netns_id(cns)), why, vec![]);
    };
    let src: Option<IpAddr> = nv
        .addr_of(cns, link, bip.is_ipv6())
        .and_then(|x| x.address.parse().ok());
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(cns, link)),
        format!("out of {} (its route to {bip})", link.name),
        vec![facts::route(&nv.ns_name(cns), cns, r)],
    );
    let at = At {
        node: a.node,
        ns: cns,
        link,
    };
    let (port, br) = cross_veth_to_bridge(t, ctx, at)?;
    let hns = t.host_side(nv, port.ns, br, "it does not route to other networks")?;
    let br_el = ctx.element(nv.iface_id(hns, br));
    let Some((hr, out)) = route_by(nv, hns, bip) else {
        return t.broken(
            nv.host,
            br_el,
            format!("{} has no route to {bip}", nv.host),
            vec![],
        );
    };
    let out_el = ctx.element(nv.iface_id(hns, out));
    t.pass(
        nv.host,
        br_el,
        format!("the host routes {bip} by {}", out.name),
        vec![facts::route(&nv.ns_name(hns), hns, hr)],
    );
    let pkt = Packet {
        v6: bip.is_ipv6(),
        src,
        dst: Some(bip),
        in_if: Some(br.name.clone()),
        out_if: Some(out.name.clone()),
        local: nv.local(hns, bip.is_ipv6()),
        ..Packet::default()
    };
    t.filter(nv, hns, "FORWARD", &pkt, out_el.clone())?;
    if b.node != a.node || out.kind != LinkKind::Bridge {
        let why = format!(
            "{} runs on {} and shares no network with {}: {bip} leaves {} by {}, where no container of that network is",
            b.container.name, ctx.nodes[b.node].host, c.name, nv.host, out.name
        );
        return t.broken(nv.host, out_el, why, vec![]);
    }
    enter_container(t, ctx, a.node, hns, out, b, bip, &format!("on {bip}"))
}

/// The route in `ns` to `x` and the interface it names.
fn route_by<'a>(nv: &NodeView<'a>, ns: &'a Namespace, x: IpAddr) -> Option<(&'a Route, &'a Link)> {
    nv.route(ns, Some(x))
        .and_then(|r| r.oif.and_then(|i| ns.link(i)).map(|l| (r, l)))
}
