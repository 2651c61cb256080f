//! Inbound to a swarm published port over the routing mesh: DOCKER-INGRESS DNAT to ingress_sbox,
//! the mangle MARK, the IPVS fwmark service, its real servers over the ingress overlay.

use std::net::{IpAddr, Ipv4Addr};

use crate::snapshot::{
    IpvsDestination, IpvsService, IpvsState, Link, Namespace, NamespaceRole, Network, Service,
    ServicePort, SourceKind,
};

use super::facts;
use super::inbound::{arrival, first_hop, inbound_packet, parse_to};
use super::lookup::{Ctx, NodeView};
use super::model::{PacketPath, Verdict};
use super::rules::{walk, Decision, Packet};
use super::segments::{across_overlay, ipvs_missing, At};
use super::trail::{rule_evidence, Ended, Stage, Trail};
use crate::names::GWBRIDGE;

/// Why Docker may have programmed none of the mesh on this node, to add to a missing-rule verdict.
fn ipvs_suffix(nv: &NodeView<'_>) -> String {
    let unavailable = nv.snap.namespaces.iter().find_map(|n| match &n.ipvs {
        IpvsState::Unavailable { reason } => Some(reason.clone()),
        _ => None,
    });
    match unavailable {
        Some(r) => format!(
            "; IPVS not available in this kernel ({r}): the routing mesh cannot forward, and Docker programs none of it"
        ),
        None => String::new(),
    }
}

/// One path per (this node, backend); one stopped path when the mesh breaks before IPVS.
pub fn trace<'a>(ctx: &Ctx<'a>, node: usize, svc: &Service, sp: &ServicePort) -> Vec<PacketPath> {
    let m = Mesh {
        ctx,
        node,
        nv: &ctx.nodes[node],
        port: sp.published_port,
        proto: sp.protocol.to_lowercase(),
        sp,
    };
    let mut t = Trail::new(ctx);
    t.name(m.id(&svc.name), m.title(&format!("service {}", svc.name)));
    match m.to_ipvs(&mut t) {
        Ok(lb) => lb
            .ipvs
            .destinations
            .iter()
            .filter_map(|d| Some((d, d.address.parse::<Ipv4Addr>().ok().map(IpAddr::V4)?)))
            .map(|(d, ip)| {
                let mut b = t.clone();
                let _ended = m.backend(&mut b, &lb, d, ip);
                b.finish("mesh")
            })
            .collect(),
        Err(Ended) => vec![t.finish("mesh")],
    }
}

/// ingress_sbox's IPVS service for the port, as the routing mesh reached it.
struct Balancer<'a> {
    sbox: &'a Namespace,
    ipvs: &'a IpvsService,
    ingress: &'a Network,
}

/// One ingress-published port of a service on one node, traced stage by stage.
struct Mesh<'c, 'a> {
    ctx: &'c Ctx<'a>,
    node: usize,
    nv: &'c NodeView<'a>,
    port: u16,
    proto: String,
    sp: &'c ServicePort,
}

impl<'a> Mesh<'_, 'a> {
    fn id(&self, to: &str) -> String {
        format!("port:{}/{}@{}->{to}", self.port, self.proto, self.nv.host)
    }

    fn title(&self, to: &str) -> String {
        format!(
            "{}:{}/{} → {to} via the routing mesh",
            self.nv.host, self.port, self.proto
        )
    }

    /// From the client to ingress_sbox's IPVS service: the host's DNAT, the route and filter
    /// FORWARD to docker_gwbridge, into ingress_sbox, its MARK and the fwmark service.
    fn to_ipvs(&self, t: &mut Trail<'_, 'a>) -> Stage<Balancer<'a>> {
        let (ctx, nv) = (self.ctx, self.nv);
        let hns = t.host_ns(nv)?;
        let a = arrival(nv, hns, None, false);
        first_hop(t, ctx, nv, hns, &a, self.port, &self.proto);
        let pkt = inbound_packet(nv.local_v4(hns), &a, self.port, &self.proto);
        let sbox = nv.ns_by_role(NamespaceRole::IngressSandbox);
        let gw = hns.links.iter().find(|l| l.name == GWBRIDGE);
        let sbox_link = match (sbox, gw.and_then(|g| nv.v4_of(hns, g))) {
            (Some(s), Some(ga)) => {
                nv.link_in_subnet(s, &format!("{}/{}", ga.address, ga.prefix_len))
            }
            _ => None,
        };
        let sbox_addr: Option<IpAddr> = match (sbox, sbox_link) {
            (Some(s), Some(l)) => nv.v4_of(s, l).and_then(|x| x.address.parse().ok()),
            _ => None,
        };
        let (x, y) = self.dnat(t, hns, &pkt, sbox_addr)?;
        let ns_el = ctx.element(nv.netns_id(hns));
        let (br, br_el) = t.route_out(nv, hns, ns_el, x)?;
        let fwd = Packet {
            dst: Some(x),
            dport: Some(y),
            out_if: Some(br.name.clone()),
            ..pkt.clone()
        };
        t.filter(nv, hns, "FORWARD", &fwd, br_el)?;
        let (Some(sbox), Some(sbox_link)) = (sbox, sbox_link) else {
            let why = format!(
                "ingress_sbox (or its interface on {GWBRIDGE}) is not in the snapshot of {}",
                nv.host
            );
            return t.unknown(nv.host, None, why, vec![]);
        };
        into_sbox(t, ctx, nv, hns, br, sbox, sbox_link)?;
        let mark = self.mark(t, sbox, sbox_link, (x, y))?;
        let ipvs = self.ipvs(t, sbox, mark)?;
        let Some(ingress) = ctx.ingress_network() else {
            let why = "the ingress network is not in any engine's facts".to_owned();
            return t.unknown(nv.host, None, why, vec![]);
        };
        Ok(Balancer {
            sbox,
            ipvs,
            ingress,
        })
    }

    /// nat PREROUTING's DOCKER-INGRESS DNAT to ingress_sbox's address on docker_gwbridge.
    fn dnat(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        pkt: &Packet,
        sbox_addr: Option<IpAddr>,
    ) -> Stage<(IpAddr, u16)> {
        let (ctx, nv, port, proto) = (self.ctx, self.nv, self.port, &self.proto);
        let label = nv.ns_name(hns);
        let ns_el = ctx.element(nv.netns_id(hns));
        let w = walk(hns.firewall.as_ref(), "nat", "PREROUTING", pkt, &ctx.budget);
        let mut ev = rule_evidence(&label, &w);
        let Some(dnat) = w.dnat() else {
            let v = match &w.decision {
                Decision::NotRead => Verdict::Unknown(format!(
                    "the host's iptables rules were not read ({})",
                    nv.why_not_read(hns, SourceKind::Iptables)
                )),
                Decision::Unknown(why) => Verdict::Unknown(format!("nat PREROUTING on {}: {why}", nv.host)),
                _ => Verdict::Broken(format!(
                    "no DNAT for {port}/{proto} in nat PREROUTING (DOCKER-INGRESS): the routing mesh is not programmed on {}{}",
                    nv.host,
                    ipvs_suffix(nv)
                )),
            };
            return t.stop(nv.host, ns_el, ev, v);
        };
        let to = t.dnat_reached(nv.host, ns_el.clone(), "PREROUTING", dnat, &mut ev);
        let Some((x, y)) = parse_to(to, port) else {
            let why = format!("cannot read the DNAT destination {to:?} of `{}`", dnat.text);
            return t.unknown(nv.host, ns_el, why, ev);
        };
        if let Some(sa) = sbox_addr.filter(|sa| *sa != x) {
            let why = format!(
                "DNAT sends it to {x}, which is not ingress_sbox's address on {GWBRIDGE} ({sa})"
            );
            return t.broken(nv.host, ns_el, why, ev);
        }
        t.pass(
            nv.host,
            ns_el,
            format!(
                "DNAT to {x}:{y}, ingress_sbox's address on {GWBRIDGE} (nat {})",
                dnat.chain
            ),
            ev,
        );
        Ok((x, y))
    }

    /// ingress_sbox's mangle PREROUTING: the MARK that tells IPVS which service the port is.
    fn mark(
        &self,
        t: &mut Trail<'_, 'a>,
        sbox: &'a Namespace,
        sbox_link: &'a Link,
        (x, y): (IpAddr, u16),
    ) -> Stage<u32> {
        let (ctx, nv, port, proto) = (self.ctx, self.nv, self.port, &self.proto);
        let sb_el = ctx.element(nv.netns_id(sbox));
        let mpkt = Packet {
            dst: Some(x),
            dport: Some(y),
            proto: Some(proto.clone()),
            in_if: Some(sbox_link.name.clone()),
            local: nv.local_v4(sbox),
            ..Packet::default()
        };
        let mw = walk(
            sbox.firewall.as_ref(),
            "mangle",
            "PREROUTING",
            &mpkt,
            &ctx.budget,
        );
        match (mw.mark, mw.mark_rule) {
            _ if matches!(mw.decision, Decision::Unknown(_)) => {
                let why = format!(
                    "ingress_sbox's mangle PREROUTING: {}",
                    mw.gave_up().unwrap_or_default()
                );
                t.unknown(nv.host, sb_el, why, vec![])
            }
            (m, Some(r)) if m != 0 => {
                t.pass(
                    nv.host,
                    sb_el,
                    format!("mangle PREROUTING marks it 0x{m:x} (fwmark {m})"),
                    vec![facts::rule(&nv.ns_name(sbox), "mangle", r)],
                );
                Ok(m)
            }
            _ => {
                let v = match mw.decision {
                    Decision::NotRead => Verdict::Unknown(format!(
                        "the iptables rules of ingress_sbox were not read ({})",
                        nv.why_not_read(sbox, SourceKind::Iptables)
                    )),
                    _ => Verdict::Broken(format!(
                        "no MARK rule for {port}/{proto} in ingress_sbox's mangle PREROUTING: IPVS cannot tell which service this port is{}",
                        ipvs_suffix(nv)
                    )),
                };
                t.stop(nv.host, sb_el, vec![], v)
            }
        }
    }

    /// ingress_sbox's IPVS service for fwmark `mark`, with real servers to send to.
    fn ipvs(
        &self,
        t: &mut Trail<'_, 'a>,
        sbox: &'a Namespace,
        mark: u32,
    ) -> Stage<&'a IpvsService> {
        let nv = self.nv;
        let sb_label = nv.ns_name(sbox);
        let sb_el = self.ctx.element(nv.netns_id(sbox));
        if let Some(v) = ipvs_missing(nv, sbox, "the routing mesh") {
            return t.stop(nv.host, sb_el, vec![], v);
        }
        let services = match &sbox.ipvs {
            IpvsState::Services { services } => services.as_slice(),
            _ => &[],
        };
        let Some(ipvs) = services.iter().find(|s| s.fwmark == Some(mark)) else {
            let why = format!("no IPVS service for fwmark {mark} in ingress_sbox");
            return t.broken(nv.host, sb_el, why, vec![]);
        };
        if ipvs.destinations.is_empty() {
            let why =
                format!("IPVS service fwmark {mark} has no real servers: no task to send it to");
            return t.broken(nv.host, sb_el, why, facts::ipvs(&sb_label, ipvs));
        }
        t.pass(
            nv.host,
            sb_el,
            format!(
                "IPVS fwmark {mark} ({}) balances over {} real server(s)",
                ipvs.scheduler,
                ipvs.destinations.len()
            ),
            facts::ipvs(&sb_label, ipvs),
        );
        Ok(ipvs)
    }

    /// From IPVS to the real server `d` (at `ip`): over the ingress overlay into the task, where
    /// the published port is redirected to the target port.
    fn backend(
        &self,
        b: &mut Trail<'_, 'a>,
        lb: &Balancer<'a>,
        d: &IpvsDestination,
        ip: IpAddr,
    ) -> Stage {
        let (ctx, nv) = (self.ctx, self.nv);
        let (sbox, ingress) = (lb.sbox, lb.ingress);
        let out_link = ingress
            .ipam
            .iter()
            .find_map(|c| nv.link_in_subnet(sbox, &c.subnet));
        let found = ctx.container_with_ip(ip, Some(&ingress.id));
        let name = found
            .map(|(f, _)| f.container.name.clone())
            .unwrap_or_else(|| ip.to_string());
        b.name(self.id(&name), self.title(&name));
        let (Some((f, ep)), Some(ol)) = (found, out_link) else {
            let why = if found.is_none() {
                format!("real server {ip} is no container on the ingress network in these snapshots (is a node's snapshot missing?)")
            } else {
                "ingress_sbox has no interface on the ingress network".to_owned()
            };
            return b.unknown(nv.host, None, why, vec![]);
        };
        let target = self.sp.target_port;
        b.name(
            self.id(&name),
            self.title(&format!("{name} ({ip}:{target})")),
        );
        b.pass(
            nv.host,
            ctx.element(nv.iface_id(sbox, ol)),
            format!(
                "IPVS sends it to {name} at {ip} ({}), out of {} on ingress",
                d.forward, ol.name
            ),
            vec![],
        );
        let at = At {
            node: self.node,
            ns: sbox,
            link: ol,
        };
        let arrives = format!("on {ip}:{}", self.port);
        across_overlay(b, ctx, at, ingress, f, ep, &arrives)?;
        redirect(
            b,
            ctx,
            f.node,
            f.container,
            ip,
            (self.port, target),
            &self.proto,
        )
    }
}

/// From docker_gwbridge over its veth port into ingress_sbox's interface.
fn into_sbox<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    br: &'a Link,
    sbox: &'a Namespace,
    sbox_link: &'a Link,
) -> Stage {
    let Some((pns, port)) = nv.peer(sbox, sbox_link) else {
        let why = format!(
            "the other end of ingress_sbox's {} is not in the snapshot",
            sbox_link.name
        );
        return t.unknown(nv.host, None, why, vec![]);
    };
    if pns.id != hns.id || port.master != Some(br.ifindex) {
        let why = format!(
            "ingress_sbox's {} is paired with {}, which is no port of {}",
            sbox_link.name, port.name, br.name
        );
        return t.broken(nv.host, None, why, vec![]);
    }
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(hns, port)),
        format!("out of {} by its port {}", br.name, port.name),
        vec![],
    );
    let ev = nv
        .v4_of(sbox, sbox_link)
        .map(|a| vec![facts::address(&nv.ns_name(sbox), sbox, a)])
        .unwrap_or_default();
    t.pass(
        nv.host,
        ctx.element(nv.iface_id(sbox, sbox_link)),
        format!("into ingress_sbox by {}", sbox_link.name),
        ev,
    );
    Ok(())
}

/// Inside the task: Docker REDIRECTs the published port to the target port.
fn redirect<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    node: usize,
    c: &'a crate::snapshot::Container,
    ip: IpAddr,
    (published, target): (u16, u16),
    proto: &str,
) -> Stage {
    let nv = &ctx.nodes[node];
    let Some(cns) = nv.container_ns(c) else {
        return Ok(());
    };
    let pkt = Packet {
        dst: Some(ip),
        dport: Some(published),
        proto: Some(proto.to_owned()),
        in_if: nv.link_with_ip(cns, ip).map(|l| l.name.clone()),
        local: nv.local_v4(cns),
        ..Packet::default()
    };
    let w = walk(
        cns.firewall.as_ref(),
        "nat",
        "PREROUTING",
        &pkt,
        &ctx.budget,
    );
    let label = nv.ns_name(cns);
    let el = ctx.element(nv.container_id(c));
    match (&w.decision, w.target()) {
        (Decision::Rule(r), Some("REDIRECT")) => {
            let to = r
                .target
                .as_ref()
                .and_then(|x| x.to_ports.clone())
                .unwrap_or_default();
            t.pass(
                nv.host,
                el,
                format!(
                    "nat PREROUTING in {} redirects port {published} to {to}",
                    c.name
                ),
                rule_evidence(&label, &w),
            );
            Ok(())
        }
        (Decision::Unknown(why), _) => {
            let why = format!("{}'s nat PREROUTING: {why}", c.name);
            t.unknown(nv.host, el, why, rule_evidence(&label, &w))
        }
        (Decision::NotRead, _) if published != target => {
            let why = format!("the iptables rules of {} were not read: cannot tell whether port {published} is redirected to {target}", c.name);
            t.unknown(nv.host, el, why, vec![])
        }
        _ if published != target => {
            let why = format!(
                "no REDIRECT from {published} to {target} in {}'s nat PREROUTING: the task listens on {target}, the packet arrives on {published}",
                c.name
            );
            t.broken(nv.host, el, why, rule_evidence(&label, &w))
        }
        _ => Ok(()),
    }
}
