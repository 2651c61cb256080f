//! A service VIP inside an overlay: the client's mangle OUTPUT MARK, the fwmark IPVS service in
//! the client's own namespace, and each backend over the overlay.

use std::net::{IpAddr, Ipv4Addr};

use crate::snapshot::{
    IpvsService, IpvsState, Link, Namespace, Network, Service, SourceKind, VirtualIp,
};

use super::eastwest::east_west;
use super::facts;
use super::lookup::{Ctx, Found};
use super::model::{PacketPath, Verdict};
use super::rules::{walk, Decision, Packet};
use super::segments::{across_overlay, ipvs_missing, namespace_of, At};
use super::trail::{Ended, Stage, Trail};

/// Paths from container `a` to service `svc` (only over network `only_net`, if given).
pub fn trace<'a>(
    ctx: &Ctx<'a>,
    a: Found<'a>,
    svc: &'a Service,
    only_net: Option<&str>,
) -> (Vec<PacketPath>, Vec<String>) {
    let mut paths = Vec::new();
    let mut notes = Vec::new();
    if svc.endpoint_mode == "dnsrr" {
        notes.push(format!(
            "service {} uses DNS round-robin: it has no VIP, clients reach its tasks directly",
            svc.name
        ));
        for b in ctx
            .containers()
            .filter(|f| f.container.labels.get("com.docker.swarm.service.id") == Some(&svc.id))
        {
            let (p, n) = east_west(ctx, a, b, None, Some(false));
            paths.extend(p);
            notes.extend(n);
        }
        return (paths, notes);
    }
    let c = a.container;
    for v in &svc.virtual_ips {
        if only_net.is_some_and(|n| n != v.network_id) {
            continue;
        }
        let Some(ep) = c.endpoints.iter().find(|e| e.network_id == v.network_id) else {
            continue;
        };
        let Some(net) = ctx.network(&v.network_id) else {
            continue;
        };
        let Ok(vip) = v
            .addr
            .split('/')
            .next()
            .unwrap_or("")
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
        else {
            continue;
        };
        let Ok(aip) = ep.ipv4.parse::<Ipv4Addr>().map(IpAddr::V4) else {
            continue;
        };
        let path = Vip {
            ctx,
            from: a,
            svc,
            v,
            net,
            vip,
            aip,
        };
        paths.extend(path.paths());
    }
    if paths.is_empty() && notes.is_empty() {
        notes.push(format!(
            "{} shares no network with the VIPs of service {}",
            c.name, svc.name
        ));
    }
    (paths, notes)
}

/// The client's IPVS service for the VIP, as the packet reached it.
struct Balancer<'a> {
    cns: &'a Namespace,
    ipvs: &'a IpvsService,
    out: &'a Link,
}

/// A container's packets to one VIP of a service on one network, stage by stage.
struct Vip<'c, 'a> {
    ctx: &'c Ctx<'a>,
    from: Found<'a>,
    svc: &'a Service,
    v: &'a VirtualIp,
    net: &'a Network,
    vip: IpAddr,
    aip: IpAddr,
}

impl<'a> Vip<'_, 'a> {
    fn id(&self, to: &str) -> String {
        let (c, svc) = (self.from.container, self.svc);
        format!("vip:{}->{}@{}->{to}", c.name, svc.name, self.net.name)
    }

    fn title(&self, to: &str) -> String {
        format!(
            "{} → service {} (VIP {} on {}) → {to}",
            self.from.container.name, self.svc.name, self.vip, self.net.name
        )
    }

    /// One path per real server; one stopped path when the VIP breaks before IPVS.
    fn paths(&self) -> Vec<PacketPath> {
        let mut t = Trail::new(self.ctx);
        t.name(self.id(&self.svc.name), self.title(&self.svc.name));
        match self.to_ipvs(&mut t) {
            Ok(lb) => lb
                .ipvs
                .destinations
                .iter()
                .filter_map(|d| {
                    d.address
                        .parse::<Ipv4Addr>()
                        .ok()
                        .map(IpAddr::V4)
                        .map(|ip| (d, ip))
                })
                .map(|(d, ip)| {
                    let mut b = t.clone();
                    let _ended = self.backend(&mut b, &lb, &d.address, ip);
                    b.finish("vip")
                })
                .collect(),
            Err(Ended) => vec![t.finish("vip")],
        }
    }

    /// From the client to its own IPVS service: the VIP, mangle OUTPUT's MARK, the fwmark
    /// service and the interface it sends from.
    fn to_ipvs(&self, t: &mut Trail<'_, 'a>) -> Stage<Balancer<'a>> {
        let (ctx, c, svc, v, net) = (self.ctx, self.from.container, self.svc, self.v, self.net);
        let nv = &ctx.nodes[self.from.node];
        t.pass(
            nv.host,
            ctx.element(nv.container_id(c)),
            format!(
                "{} connects to {}, the VIP of service {} on {}",
                c.name, self.vip, svc.name, net.name
            ),
            vec![facts::engine(format!(
                "service {}: VirtualIPs {} {}",
                svc.name, net.name, v.addr
            ))],
        );
        let cns = namespace_of(t, nv, c)?;
        let mark = self.mark(t, cns)?;
        let ipvs = self.ipvs(t, cns, mark)?;
        let Some(out) = nv.link_with_ip(cns, self.aip) else {
            let why = format!("no interface in {} holds {}", c.name, self.aip);
            return t.broken(nv.host, None, why, vec![]);
        };
        Ok(Balancer { cns, ipvs, out })
    }

    /// The client's mangle OUTPUT: the MARK that tells IPVS which service the VIP is.
    fn mark(&self, t: &mut Trail<'_, 'a>, cns: &'a Namespace) -> Stage<u32> {
        let (ctx, c, vip) = (self.ctx, self.from.container, self.vip);
        let nv = &ctx.nodes[self.from.node];
        let ns_el = ctx.element(nv.netns_id(cns));
        let pkt = Packet {
            src: Some(self.aip),
            dst: Some(vip),
            local: nv.local_v4(cns),
            ..Packet::default()
        };
        let w = walk(cns.firewall.as_ref(), "mangle", "OUTPUT", &pkt, &ctx.budget);
        match (w.mark, w.mark_rule) {
            _ if w.gave_up().is_some() => {
                let why = format!(
                    "{}'s mangle OUTPUT: {}",
                    c.name,
                    w.gave_up().unwrap_or_default()
                );
                t.unknown(nv.host, ns_el, why, vec![])
            }
            (m, Some(r)) if m != 0 => {
                t.pass(
                    nv.host,
                    ns_el,
                    format!("mangle OUTPUT in {} marks it 0x{m:x} (fwmark {m})", c.name),
                    vec![facts::rule(&nv.ns_name(cns), "mangle", r)],
                );
                Ok(m)
            }
            _ => {
                let v = match w.decision {
                    Decision::NotRead => Verdict::Unknown(format!(
                        "the iptables rules of {} were not read ({})",
                        c.name,
                        nv.why_not_read(cns, SourceKind::Iptables)
                    )),
                    _ => {
                        let ipvs = match &cns.ipvs {
                            IpvsState::Unavailable { .. } => "; IPVS not available in this kernel: the service VIP cannot forward, and Docker programs none of it",
                            _ => "",
                        };
                        Verdict::Broken(format!(
                            "no MARK rule for {vip} in {}'s mangle OUTPUT: IPVS cannot tell which service the VIP is{ipvs}",
                            c.name
                        ))
                    }
                };
                t.stop(nv.host, ns_el, vec![], v)
            }
        }
    }

    /// The IPVS service for fwmark `mark` in the client's namespace, with real servers.
    fn ipvs(&self, t: &mut Trail<'_, 'a>, cns: &'a Namespace, mark: u32) -> Stage<&'a IpvsService> {
        let (ctx, c) = (self.ctx, self.from.container);
        let nv = &ctx.nodes[self.from.node];
        let label = nv.ns_name(cns);
        let ns_el = ctx.element(nv.netns_id(cns));
        if let Some(v) = ipvs_missing(nv, cns, "the service VIP") {
            return t.stop(nv.host, ns_el, vec![], v);
        }
        let services = match &cns.ipvs {
            IpvsState::Services { services } => services.as_slice(),
            _ => &[],
        };
        let Some(ipvs) = services.iter().find(|s| s.fwmark == Some(mark)) else {
            let why = format!(
                "no IPVS service for fwmark {mark} in {}'s namespace",
                c.name
            );
            return t.broken(nv.host, ns_el, why, vec![]);
        };
        if ipvs.destinations.is_empty() {
            let why = format!("IPVS service fwmark {mark} has no real servers");
            return t.broken(nv.host, ns_el, why, facts::ipvs(&label, ipvs));
        }
        t.pass(
            nv.host,
            ns_el,
            format!(
                "IPVS fwmark {mark} ({}) in {} balances over {} real server(s)",
                ipvs.scheduler,
                c.name,
                ipvs.destinations.len()
            ),
            facts::ipvs(&label, ipvs),
        );
        Ok(ipvs)
    }

    /// From IPVS to the real server at `ip` (`address` as IPVS lists it), over the overlay.
    fn backend(
        &self,
        b: &mut Trail<'_, 'a>,
        lb: &Balancer<'a>,
        address: &str,
        ip: IpAddr,
    ) -> Stage {
        let (ctx, net) = (self.ctx, self.net);
        let nv = &ctx.nodes[self.from.node];
        b.name(self.id(address), self.title(address));
        let Some((f, bep)) = ctx.container_with_ip(ip, Some(&net.id)) else {
            let why = format!(
                "real server {ip} is no container on {} in these snapshots",
                net.name
            );
            return b.unknown(nv.host, None, why, vec![]);
        };
        b.name(self.id(&f.container.name), self.title(&f.container.name));
        b.pass(
            nv.host,
            ctx.element(nv.iface_id(lb.cns, lb.out)),
            format!(
                "IPVS sends it to {} at {ip}, out of {}",
                f.container.name, lb.out.name
            ),
            vec![],
        );
        let at = At {
            node: self.from.node,
            ns: lb.cns,
            link: lb.out,
        };
        across_overlay(b, ctx, at, net, f, bep, &format!("on {ip}"))
    }
}
