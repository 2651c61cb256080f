//! Between two containers: same bridge (icc), different bridges (isolation), the same overlay on
//! one node or across nodes; and the dispatch of `--from X --to Y` questions.

use std::net::Ipv4Addr;

use super::egress;
use super::facts;
use super::lookup::{Ctx, Found};
use super::model::{PacketPath, Verdict};
use super::rules::Packet;
use super::segments::{
    across_overlay, cross_veth_to_bridge, enter_container, leave_container, namespace_of, At,
};
use super::trail::Trail;
use super::vip;

/// Answer `--from from --to to`: a container, a service (VIP), an address, or `internet`.
pub fn between(ctx: &Ctx<'_>, from: &str, to: &str) -> (Vec<PacketPath>, Vec<String>) {
    let a = match ctx.find_container(from) {
        Ok(a) => a,
        Err(why) => return (Vec::new(), vec![why]),
    };
    match a.container.network_mode.as_str() {
        "host" => {
            return (
                Vec::new(),
                vec![format!(
                    "{} uses the host's network namespace: its packets are the host's own, Docker puts nothing in their way",
                    a.container.name
                )],
            )
        }
        "none" => {
            return (
                Vec::new(),
                vec![format!("{} has no network (--network none): nothing leaves it", a.container.name)],
            )
        }
        _ => {}
    }
    let to = to.trim();
    if to.eq_ignore_ascii_case("internet") {
        return (vec![egress::trace(ctx, a, None)], Vec::new());
    }
    if let Ok(ip) = to.parse::<Ipv4Addr>() {
        if let Some((b, ep)) = ctx.container_with_ip(ip, None) {
            return east_west(ctx, a, b, Some(&ep.network_id));
        }
        for s in ctx.services() {
            if let Some(v) = s
                .virtual_ips
                .iter()
                .find(|v| v.addr.split('/').next() == Some(to))
            {
                return vip::trace(ctx, a, s, Some(&v.network_id));
            }
        }
        return (vec![egress::trace(ctx, a, Some(ip))], Vec::new());
    }
    let exact = ctx
        .containers()
        .find(|f| f.container.name == to || f.container.id == to);
    if let Some(b) = exact {
        return east_west(ctx, a, b, None);
    }
    if let Some(s) = ctx
        .services()
        .into_iter()
        .find(|s| s.name == to || s.id == to)
    {
        return vip::trace(ctx, a, s, None);
    }
    match ctx.find_container(to) {
        Ok(b) => east_west(ctx, a, b, None),
        Err(why) => (
            Vec::new(),
            vec![format!(
                "{why}; nor is it a service, an IPv4 address or `internet`"
            )],
        ),
    }
}

/// One path per network the two share; through the host's routing when they share none.
pub fn east_west<'a>(
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    only_net: Option<&str>,
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
        let (Ok(aip), Ok(bip)) = (ea.ipv4.parse::<Ipv4Addr>(), eb.ipv4.parse::<Ipv4Addr>()) else {
            notes.push(format!(
                "no IPv4 addresses on {} (IPv6 is not traced)",
                ea.network_name
            ));
            continue;
        };
        let id = format!(
            "between:{}->{}@{}",
            a.container.name, b.container.name, ea.network_name
        );
        let title = format!(
            "{} ({aip}) → {} ({bip}) on {}",
            a.container.name, b.container.name, ea.network_name
        );
        let mut t = Trail::new(ctx);
        let driver = ctx
            .network(&ea.network_id)
            .map(|n| n.driver.as_str())
            .unwrap_or("");
        match (driver, ctx.network(&ea.network_id)) {
            ("bridge", _) => same_bridge(&mut t, ctx, a, b, aip, bip),
            ("overlay", Some(net)) => {
                if let Some(at) = leave_container(&mut t, ctx, a, aip) {
                    across_overlay(&mut t, ctx, at, net, b, eb, &format!("on {bip}"));
                }
            }
            _ => {
                let why = format!(
                    "network {} uses driver {driver:?}, whose paths dockmap does not trace",
                    ea.network_name
                );
                t.hop(
                    ctx.nodes[a.node].host,
                    None,
                    why.clone(),
                    vec![],
                    Verdict::Unknown(why),
                );
            }
        }
        paths.push(t.finish(id, "east-west", title));
    }
    if shared.is_empty() {
        let target = b
            .container
            .endpoints
            .iter()
            .find(|e| only_net.is_none_or(|n| n == e.network_id))
            .and_then(|e| {
                e.ipv4
                    .parse::<Ipv4Addr>()
                    .ok()
                    .map(|ip| (ip, e.network_name.clone()))
            });
        match target {
            Some((bip, bnet)) => paths.push(routed(ctx, a, b, bip, &bnet)),
            None => notes.push(format!("{} has no IPv4 address to reach", b.container.name)),
        }
    }
    (paths, notes)
}

/// Two containers on one bridge: the bridge forwards, filter FORWARD sees `-i br -o br` (icc).
fn same_bridge<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    a: Found<'a>,
    b: Found<'a>,
    aip: Ipv4Addr,
    bip: Ipv4Addr,
) {
    let Some(at) = leave_container(t, ctx, a, aip) else {
        return;
    };
    let Some((port, br)) = cross_veth_to_bridge(t, ctx, at) else {
        return;
    };
    let nv = &ctx.nodes[a.node];
    let pkt = Packet {
        src: Some(aip),
        dst: Some(bip),
        in_if: Some(br.name.clone()),
        out_if: Some(br.name.clone()),
        local: nv.local_v4(port.ns),
        ..Packet::default()
    };
    t.filter(
        nv,
        port.ns,
        "FORWARD",
        &pkt,
        ctx.element(nv.iface_id(port.ns, br)),
    );
    if t.stopped() {
        return;
    }
    enter_container(t, ctx, a.node, port.ns, br, b, bip, &format!("on {bip}"));
}

/// Containers that share no network: A's route, its bridge, the host's route, filter FORWARD
/// (where Docker's isolation chains drop it), the other bridge.
fn routed<'a>(ctx: &Ctx<'a>, a: Found<'a>, b: Found<'a>, bip: Ipv4Addr, bnet: &str) -> PacketPath {
    let nv = &ctx.nodes[a.node];
    let id = format!("between:{}->{}@routed", a.container.name, b.container.name);
    let title = format!(
        "{} → {} ({bip} on {bnet}): no shared network, through the host",
        a.container.name, b.container.name
    );
    let mut t = Trail::new(ctx);
    let c = a.container;
    t.pass(
        nv.host,
        ctx.element(nv.container_id(c)),
        format!("{} sends to {bip}", c.name),
        vec![],
    );
    let Some(cns) = namespace_of(&mut t, nv, c) else {
        return t.finish(id, "east-west", title);
    };
    let clabel = nv.ns_name(cns);
    let Some((r, link)) = nv
        .route(cns, Some(bip))
        .and_then(|r| r.oif.and_then(|i| cns.link(i)).map(|l| (r, l)))
    else {
        let why = format!("{} has no route to {bip}", c.name);
        t.hop(
            nv.host,
            ctx.element(nv.netns_id(cns)),
            why.clone(),
            vec![],
            Verdict::Broken(why),
        );
        return t.finish(id, "east-west", title);
    };
    let src: Option<Ipv4Addr> = nv.v4_of(cns, link).and_then(|x| x.address.parse().ok());
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(cns, link)),
        format!("out of {} (its route to {bip})", link.name),
        vec![facts::route(&clabel, cns, r)],
    );
    let Some((port, br)) = cross_veth_to_bridge(
        &mut t,
        ctx,
        At {
            node: a.node,
            ns: cns,
            link,
        },
    ) else {
        return t.finish(id, "east-west", title);
    };
    let Some(hns) = t.host_side(nv, port.ns, br, "it does not route to other networks") else {
        return t.finish(id, "east-west", title);
    };
    let hlabel = nv.ns_name(hns);
    let br_el = ctx.element(nv.iface_id(hns, br));
    let Some((hr, out)) = nv
        .route(hns, Some(bip))
        .and_then(|r| r.oif.and_then(|i| hns.link(i)).map(|l| (r, l)))
    else {
        let why = format!("{} has no route to {bip}", nv.host);
        t.hop(nv.host, br_el, why.clone(), vec![], Verdict::Broken(why));
        return t.finish(id, "east-west", title);
    };
    let out_el = ctx.element(nv.iface_id(hns, out));
    t.pass(
        nv.host,
        br_el.clone(),
        format!("the host routes {bip} by {}", out.name),
        vec![facts::route(&hlabel, hns, hr)],
    );
    let pkt = Packet {
        src,
        dst: Some(bip),
        in_if: Some(br.name.clone()),
        out_if: Some(out.name.clone()),
        local: nv.local_v4(hns),
        ..Packet::default()
    };
    t.filter(nv, hns, "FORWARD", &pkt, out_el.clone());
    if t.stopped() {
        return t.finish(id, "east-west", title);
    }
    if b.node != a.node || out.kind != "bridge" {
        let why = format!(
            "{} runs on {} and shares no network with {}: {bip} leaves {} by {}, where no container of that network is",
            b.container.name, ctx.nodes[b.node].host, c.name, nv.host, out.name
        );
        t.hop(nv.host, out_el, why.clone(), vec![], Verdict::Broken(why));
        return t.finish(id, "east-west", title);
    }
    enter_container(&mut t, ctx, a.node, hns, out, b, bip, &format!("on {bip}"));
    t.finish(id, "east-west", title)
}
