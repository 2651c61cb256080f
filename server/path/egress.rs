//! Egress: a container's route out, its bridge, filter FORWARD, the MASQUERADE rule, the host's
//! default route and uplink.

use std::net::IpAddr;

use crate::snapshot::{Link, Namespace, Network, Route, SourceKind};

use super::direct::gateway_mode;
use super::facts;
use super::lookup::{endpoint_ip, Ctx, Found, NodeView};
use super::model::{Evidence, PacketPath, Verdict};
use super::native::{self, Native};
use super::rules::{walk, Decision, Packet};
use super::segments::{cross_veth_to_bridge, namespace_of, At};
use super::trail::{rule_evidence, Stage, Trail};
use super::v6::{manages_v6, unmanaged};
use crate::names;

/// The path from container `a` to `dst` (`None`: the internet, over IPv6 when the container
/// has IPv6 addresses only: an IPv6-only network).
pub fn trace<'a>(ctx: &Ctx<'a>, a: Found<'a>, dst: Option<IpAddr>) -> PacketPath {
    let eps = &a.container.endpoints;
    let v6 = match dst {
        Some(d) => d.is_ipv6(),
        None => {
            eps.iter().all(|e| endpoint_ip(e, false).is_none())
                && eps.iter().any(|e| endpoint_ip(e, true).is_some())
        }
    };
    let e = Egress {
        ctx,
        from: a,
        nv: &ctx.nodes[a.node],
        dst,
        v6,
        dst_text: match (dst, v6) {
            (Some(d), _) => d.to_string(),
            (None, false) => "the internet".into(),
            (None, true) => "the internet over IPv6".into(),
        },
    };
    let c = a.container;
    let mut t = Trail::new(ctx);
    t.name(
        format!(
            "egress:{}/{}->{}",
            e.nv.host,
            c.name,
            match (dst, v6) {
                (Some(d), _) => d.to_string(),
                (None, false) => "internet".into(),
                (None, true) => "internet/ipv6".into(),
            }
        ),
        format!("{} → {} from {}", c.name, e.dst_text, e.nv.host),
    );
    let _ended = e.stages(&mut t);
    t.finish("egress")
}

/// A container's packet to an address outside its networks (or the internet), stage by stage.
struct Egress<'c, 'a> {
    ctx: &'c Ctx<'a>,
    from: Found<'a>,
    nv: &'c NodeView<'a>,
    dst: Option<IpAddr>,
    /// Whether the packet is IPv6's (to an IPv6 address, or out of an IPv6-only network).
    v6: bool,
    dst_text: String,
}

impl<'a> Egress<'_, 'a> {
    fn v6(&self) -> bool {
        self.v6
    }

    fn stages(&self, t: &mut Trail<'_, 'a>) -> Stage {
        let (ctx, nv, c) = (self.ctx, self.nv, self.from.container);
        t.pass(
            nv.host,
            ctx.element(nv.container_id(c)),
            format!("{} sends to {}", c.name, self.dst_text),
            vec![],
        );
        let cns = namespace_of(t, nv, c)?;
        let (r, link, src) = self.leave(t, cns)?;
        let at = At {
            node: self.from.node,
            ns: cns,
            link,
        };
        let (port, br) = cross_veth_to_bridge(t, ctx, at)?;
        let hns = t.host_side(
            nv,
            port.ns,
            br,
            "this network does not lead out of the node",
        )?;
        // An on-link destination is bridged, not routed: only the host's own address answers there.
        if let (Some(d), None) = (self.dst, &r.gateway) {
            return self.on_link(t, hns, br, d);
        }
        let (hr, out) = self.host_route(t, hns, br)?;
        let pkt = Packet {
            v6: self.v6(),
            src,
            dst: self.dst,
            in_if: Some(br.name.clone()),
            out_if: Some(out.name.clone()),
            local: nv.local(hns, self.v6()),
            dst_local: self.dst.is_none().then_some(false),
            ..Packet::default()
        };
        t.filter(nv, hns, "FORWARD", &pkt, ctx.element(nv.iface_id(hns, br)))?;
        self.source_nat(t, hns, &pkt, out, src)?;
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
            vec![facts::route(&nv.ns_name(hns), hns, hr)],
        );
        t.pass(nv.host, None, format!("on to {}", self.dst_text), vec![]);
        Ok(())
    }

    /// The container's route to the destination: the route, the interface it leaves by, and the
    /// source address it gets.
    fn leave(
        &self,
        t: &mut Trail<'_, 'a>,
        cns: &'a Namespace,
    ) -> Stage<(&'a Route, &'a Link, Option<IpAddr>)> {
        let (ctx, nv, c, dst_text) = (self.ctx, self.nv, self.from.container, &self.dst_text);
        let clabel = nv.ns_name(cns);
        let Some(r) = nv.route_of(cns, self.v6, self.dst) else {
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
            return t.broken(nv.host, ctx.element(nv.netns_id(cns)), why, vec![]);
        };
        let Some(link) = r.oif.and_then(|i| cns.link(i)) else {
            let why = format!("{}'s route to {dst_text} names no interface", c.name);
            return t.broken(nv.host, None, why, vec![facts::route(&clabel, cns, r)]);
        };
        let src: Option<IpAddr> = r
            .prefsrc
            .as_deref()
            .or_else(|| nv.addr_of(cns, link, self.v6()).map(|a| a.address.as_str()))
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
        Ok((r, link, src))
    }

    /// A destination on the bridge's own subnet: the host's address there answers, nothing else.
    fn on_link(&self, t: &mut Trail<'_, 'a>, hns: &'a Namespace, br: &Link, d: IpAddr) -> Stage {
        let nv = self.nv;
        let br_el = self.ctx.element(nv.iface_id(hns, br));
        if !nv.local(hns, d.is_ipv6()).contains(&d) {
            let why = format!(
                "{d} is on {}'s own subnet, but no container or host address there holds it",
                br.name
            );
            return t.broken(nv.host, br_el, why, vec![]);
        }
        t.pass(
            nv.host,
            br_el,
            format!("the host itself answers on {d} ({})", br.name),
            vec![],
        );
        Ok(())
    }

    /// The host's route to the destination and the interface it leaves by.
    fn host_route(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        br: &Link,
    ) -> Stage<(&'a Route, &'a Link)> {
        let nv = self.nv;
        let br_el = self.ctx.element(nv.iface_id(hns, br));
        let Some(hr) = nv.route_of(hns, self.v6, self.dst) else {
            let why = match self.dst {
                None => format!(
                    "{} has no default route: packets to the internet have nowhere to go",
                    nv.host
                ),
                Some(d) => format!("{} has no route to {d}", nv.host),
            };
            return t.broken(nv.host, br_el, why, vec![]);
        };
        let Some(out) = hr.oif.and_then(|i| hns.link(i)) else {
            let why = format!("the host's route to {} names no interface", self.dst_text);
            return t.broken(
                nv.host,
                br_el,
                why,
                vec![facts::route(&nv.ns_name(hns), hns, hr)],
            );
        };
        Ok((hr, out))
    }

    /// nat POSTROUTING (iptables, else Docker 29's native table): the MASQUERADE or SNAT that
    /// lets replies find their way back.
    fn source_nat(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        pkt: &Packet,
        out: &Link,
        src: Option<IpAddr>,
    ) -> Stage {
        let (ctx, nv) = (self.ctx, self.nv);
        let hlabel = nv.ns_name(hns);
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
                Ok(())
            }
            (Decision::Unknown(why), _) => {
                let why = format!("nat POSTROUTING on {}: {why}", nv.host);
                t.unknown(nv.host, ns_el, why, rule_evidence(&hlabel, &w))
            }
            (Decision::NotRead, _) => {
                let why = format!(
                    "the host's iptables rules were not read ({})",
                    nv.why_not_read(hns, SourceKind::Iptables)
                );
                t.unknown(nv.host, ns_el, why, vec![])
            }
            _ => self.native_nat(t, hns, pkt, out, src, rule_evidence(&hlabel, &w)),
        }
    }

    /// No iptables MASQUERADE or SNAT: Docker 29's nftables backend masquerades in its own table;
    /// it sees the input interface, which iptables' POSTROUTING may not name.
    fn native_nat(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        pkt: &Packet,
        out: &Link,
        src: Option<IpAddr>,
        mut ev: Vec<Evidence>,
    ) -> Stage {
        let nv = self.nv;
        let ns_el = self.ctx.element(nv.netns_id(hns));
        match native::at_hook(nv, hns, "postrouting", pkt) {
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
                Ok(())
            }
            _ if self.v6() => self.no_nat66(t, hns, pkt, out, src, ev),
            _ => {
                let why = format!(
                    "no MASQUERADE or SNAT rule in nat POSTROUTING for {} leaving by {}: replies could not find their way back{}",
                    source(src),
                    out.name,
                    self.masquerade_off()
                );
                let verdict =
                    native::join(nv, hns, "postrouting", pkt, Verdict::Broken(why), &mut ev);
                t.stop(nv.host, ns_el, ev, verdict)
            }
        }
    }

    /// An IPv6 packet leaving without NAT66: routed by design (gateway mode `routed`), or where
    /// the engine wrote no ip6tables rules, or where it wrote some but none for this packet.
    /// Whether replies come back depends on routes outside the host: never *broken* here.
    fn no_nat66(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        pkt: &Packet,
        out: &Link,
        src: Option<IpAddr>,
        mut ev: Vec<Evidence>,
    ) -> Stage {
        let nv = self.nv;
        let ns_el = self.ctx.element(nv.netns_id(hns));
        let from = source(src);
        let routed = self.network_where(|n| gateway_mode(n, true) == "routed");
        let verdict = if let Some(n) = routed {
            let text = format!(
                "no NAT66: network {} is routed (com.docker.network.bridge.gateway_mode_ipv6=routed), so {from} leaves by {} as it is; replies come back if the network's prefix is routed to {}",
                n.name, out.name, nv.host
            );
            let verdict = native::join(nv, hns, "postrouting", pkt, Verdict::Pass, &mut ev);
            if verdict == Verdict::Pass {
                t.pass(nv.host, ns_el, text, ev);
                return Ok(());
            }
            verdict
        } else if !manages_v6(hns) {
            Verdict::Unknown(format!(
                "no ip6tables MASQUERADE for {from} leaving by {}: {}; replies come back only if the network's prefix is routed to {}",
                out.name,
                unmanaged(&nv.ns_name(hns)),
                nv.host
            ))
        } else {
            Verdict::Unknown(format!(
                "no ip6tables MASQUERADE or SNAT in nat POSTROUTING for {from} leaving by {}: it leaves with its own address, and replies come back only if its prefix is routed to {}{}",
                out.name,
                nv.host,
                self.masquerade_off()
            ))
        };
        let verdict = native::join(nv, hns, "postrouting", pkt, verdict, &mut ev);
        t.stop(nv.host, ns_el, ev, verdict)
    }

    /// Why Docker wrote no MASQUERADE, when a network of the container was made without it.
    fn masquerade_off(&self) -> String {
        self.network_where(|n| {
            n.options
                .get(names::OPTION_IP_MASQUERADE)
                .is_some_and(|v| v == "false")
        })
        .map(|n| {
            format!(
                " (network {} was made with com.docker.network.bridge.enable_ip_masquerade=false)",
                n.name
            )
        })
        .unwrap_or_default()
    }

    /// The first of the container's networks that `is`.
    fn network_where(&self, is: impl Fn(&Network) -> bool) -> Option<&'a Network> {
        self.from
            .container
            .endpoints
            .iter()
            .filter_map(|e| self.ctx.network(&e.network_id))
            .find(|n| is(n))
    }
}

/// The packet's source in words.
fn source(src: Option<IpAddr>) -> String {
    src.map_or_else(|| "its address".into(), |s| s.to_string())
}
