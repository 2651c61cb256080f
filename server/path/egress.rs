//! Egress: a container's route out, its bridge, filter FORWARD, the MASQUERADE rule, the host's
//! default route and uplink.

use std::net::Ipv4Addr;

use crate::snapshot::SourceKind;

use super::facts;
use super::lookup::{Ctx, Found};
use super::model::{PacketPath, Verdict};
use super::native::{self, Native};
use super::rules::{walk, Decision, Packet};
use super::segments::{cross_veth_to_bridge, namespace_of};
use super::trail::{rule_evidence, Trail};

/// The path from container `a` to `dst` (`None`: the internet).
pub fn trace<'a>(ctx: &Ctx<'a>, a: Found<'a>, dst: Option<Ipv4Addr>) -> PacketPath {
    let nv = &ctx.nodes[a.node];
    let c = a.container;
    let dst_text = dst
        .map(|d| d.to_string())
        .unwrap_or_else(|| "the internet".into());
    let id = format!(
        "egress:{}/{}->{}",
        nv.host,
        c.name,
        dst.map(|d| d.to_string())
            .unwrap_or_else(|| "internet".into())
    );
    let title = format!("{} → {dst_text} from {}", c.name, nv.host);
    let mut t = Trail::new(ctx);
    t.pass(
        nv.host,
        ctx.element(nv.container_id(c)),
        format!("{} sends to {dst_text}", c.name),
        vec![],
    );
    let Some(cns) = namespace_of(&mut t, nv, c) else {
        return t.finish(id, "egress", title);
    };
    let clabel = nv.ns_name(cns);
    let Some(r) = nv.route(cns, dst) else {
        let internal = c
            .endpoints
            .iter()
            .filter_map(|e| ctx.network(&e.network_id))
            .filter(|n| n.internal)
            .map(|n| n.name.clone())
            .collect::<Vec<_>>();
        let why = if internal.is_empty() {
            format!("{} has no route to {dst_text}", c.name)
        } else {
            format!(
                "{} has no route to {dst_text}: its network {} is internal (no way out)",
                c.name,
                internal.join(", ")
            )
        };
        t.hop(
            nv.host,
            ctx.element(nv.netns_id(cns)),
            why.clone(),
            vec![],
            Verdict::Broken(why),
        );
        return t.finish(id, "egress", title);
    };
    let Some(link) = r.oif.and_then(|i| cns.link(i)) else {
        let why = format!("{}'s route to {dst_text} names no interface", c.name);
        t.hop(
            nv.host,
            None,
            why.clone(),
            vec![facts::route(&clabel, cns, r)],
            Verdict::Broken(why),
        );
        return t.finish(id, "egress", title);
    };
    let src: Option<Ipv4Addr> = r
        .prefsrc
        .as_deref()
        .or_else(|| nv.v4_of(cns, link).map(|a| a.address.as_str()))
        .and_then(|s| s.parse().ok());
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(cns, link)),
        format!(
            "out of {} from {}",
            link.name,
            src.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
        ),
        vec![facts::route(&clabel, cns, r)],
    );
    let at = super::segments::At {
        node: a.node,
        ns: cns,
        link,
    };
    let Some((port, br)) = cross_veth_to_bridge(&mut t, ctx, at) else {
        return t.finish(id, "egress", title);
    };
    let Some(hns) = t.host_side(
        nv,
        port.ns,
        br,
        "this network does not lead out of the node",
    ) else {
        return t.finish(id, "egress", title);
    };
    let hlabel = nv.ns_name(hns);
    let br_el = ctx.element(nv.iface_id(hns, br));
    // An on-link destination is bridged, not routed: only the host's own address answers there.
    if let (Some(d), None) = (dst, &r.gateway) {
        if nv.local_v4(hns).contains(&d) {
            t.pass(
                nv.host,
                br_el,
                format!("the host itself answers on {d} ({})", br.name),
                vec![],
            );
        } else {
            let why = format!(
                "{d} is on {}'s own subnet, but no container or host address there holds it",
                br.name
            );
            t.hop(nv.host, br_el, why.clone(), vec![], Verdict::Broken(why));
        }
        return t.finish(id, "egress", title);
    }
    let Some(hr) = nv.route(hns, dst) else {
        let why = match dst {
            None => format!(
                "{} has no default route: packets to the internet have nowhere to go",
                nv.host
            ),
            Some(d) => format!("{} has no route to {d}", nv.host),
        };
        t.hop(nv.host, br_el, why.clone(), vec![], Verdict::Broken(why));
        return t.finish(id, "egress", title);
    };
    let Some(out) = hr.oif.and_then(|i| hns.link(i)) else {
        let why = format!("the host's route to {dst_text} names no interface");
        t.hop(
            nv.host,
            br_el,
            why.clone(),
            vec![facts::route(&hlabel, hns, hr)],
            Verdict::Broken(why),
        );
        return t.finish(id, "egress", title);
    };
    let pkt = Packet {
        src,
        dst,
        in_if: Some(br.name.clone()),
        out_if: Some(out.name.clone()),
        local: nv.local_v4(hns),
        dst_local: dst.is_none().then_some(false),
        ..Packet::default()
    };
    t.filter(nv, hns, "FORWARD", &pkt, br_el);
    if t.stopped() {
        return t.finish(id, "egress", title);
    }
    let post = Packet {
        in_if: None,
        ..pkt.clone()
    };
    let w = walk(
        hns.firewall.as_ref(),
        "nat",
        "POSTROUTING",
        &post,
        &ctx.budget,
    );
    let ns_el = ctx.element(nv.netns_id(hns));
    match (&w.decision, w.target()) {
        (Decision::Rule(r), Some("MASQUERADE" | "SNAT")) => {
            let how = if w.target() == Some("SNAT") {
                format!(
                    "SNAT to {}",
                    r.target
                        .as_ref()
                        .and_then(|t| t.to_source.clone())
                        .unwrap_or_default()
                )
            } else {
                format!("MASQUERADE behind {}'s address", out.name)
            };
            t.pass(
                nv.host,
                ns_el,
                format!("nat POSTROUTING: {how}"),
                rule_evidence(&hlabel, &w),
            );
        }
        (Decision::Unknown(why), _) => {
            let why = format!("nat POSTROUTING on {}: {why}", nv.host);
            t.hop(
                nv.host,
                ns_el,
                why.clone(),
                rule_evidence(&hlabel, &w),
                Verdict::Unknown(why),
            );
            return t.finish(id, "egress", title);
        }
        (Decision::NotRead, _) => {
            let why = format!(
                "the host's iptables rules were not read ({})",
                nv.why_not_read(hns, SourceKind::Iptables)
            );
            t.hop(nv.host, ns_el, why.clone(), vec![], Verdict::Unknown(why));
            return t.finish(id, "egress", title);
        }
        _ => {
            // Docker 29's nftables backend masquerades in its own table; it sees the input
            // interface, which iptables' POSTROUTING may not name.
            let mut ev = rule_evidence(&hlabel, &w);
            match native::at_hook(nv, hns, "postrouting", &pkt) {
                Native::Nat(kind, to, more) if kind == "masquerade" || kind == "snat" => {
                    ev.extend(more);
                    let how = match (kind.as_str(), to) {
                        ("snat", Some(to)) => format!("SNAT to {to}"),
                        _ => format!("MASQUERADE behind {}'s address", out.name),
                    };
                    t.pass(
                        nv.host,
                        ns_el,
                        format!("nat POSTROUTING: {how} (native nftables)"),
                        ev,
                    );
                }
                _ => {
                    let off = c
                        .endpoints
                        .iter()
                        .filter_map(|e| ctx.network(&e.network_id))
                        .find(|n| {
                            n.options
                                .get("com.docker.network.bridge.enable_ip_masquerade")
                                .is_some_and(|v| v == "false")
                        })
                        .map(|n| format!(" (network {} was made with com.docker.network.bridge.enable_ip_masquerade=false)", n.name))
                        .unwrap_or_default();
                    let why = format!(
                        "no MASQUERADE or SNAT rule in nat POSTROUTING for {} leaving by {}: replies could not find their way back{off}",
                        src.map(|s| s.to_string()).unwrap_or_else(|| "its address".into()),
                        out.name
                    );
                    let verdict =
                        native::join(nv, hns, "postrouting", &pkt, Verdict::Broken(why), &mut ev);
                    t.hop(nv.host, ns_el, verdict.reason().to_owned(), ev, verdict);
                    return t.finish(id, "egress", title);
                }
            }
        }
    }
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(hns, out)),
        format!(
            "out of {} {}",
            out.name,
            hr.gateway
                .as_deref()
                .map(|g| format!("to the gateway {g}"))
                .unwrap_or_else(|| "directly".into())
        ),
        vec![facts::route(&hlabel, hns, hr)],
    );
    t.pass(nv.host, None, format!("on to {dst_text}"), vec![]);
    t.finish(id, "egress", title)
}
