//! A service VIP inside an overlay: the client's mangle OUTPUT MARK, the fwmark IPVS service in
//! the client's own namespace, and each backend over the overlay.

use std::net::Ipv4Addr;

use crate::snapshot::{IpvsState, Service, SourceKind};

use super::eastwest::east_west;
use super::facts;
use super::lookup::{Ctx, Found};
use super::model::{PacketPath, Verdict};
use super::rules::{walk, Decision, Packet};
use super::segments::{across_overlay, ipvs_missing, namespace_of, At};
use super::trail::Trail;

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
            let (p, n) = east_west(ctx, a, b, None);
            paths.extend(p);
            notes.extend(n);
        }
        return (paths, notes);
    }
    let nv = &ctx.nodes[a.node];
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
        let Ok(vip) = v.addr.split('/').next().unwrap_or("").parse::<Ipv4Addr>() else {
            continue;
        };
        let Ok(aip) = ep.ipv4.parse::<Ipv4Addr>() else {
            continue;
        };
        let id = |to: &str| format!("vip:{}->{}@{}->{to}", c.name, svc.name, net.name);
        let title = |to: &str| {
            format!(
                "{} → service {} (VIP {vip} on {}) → {to}",
                c.name, svc.name, net.name
            )
        };
        let mut t = Trail::new(ctx);
        t.pass(
            nv.host,
            ctx.element(nv.container_id(c)),
            format!(
                "{} connects to {vip}, the VIP of service {} on {}",
                c.name, svc.name, net.name
            ),
            vec![facts::engine(format!(
                "service {}: VirtualIPs {} {}",
                svc.name, net.name, v.addr
            ))],
        );
        let Some(cns) = namespace_of(&mut t, nv, c) else {
            paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
            continue;
        };
        let label = nv.ns_name(cns);
        let ns_el = ctx.element(nv.netns_id(cns));
        let pkt = Packet {
            src: Some(aip),
            dst: Some(vip),
            local: nv.local_v4(cns),
            ..Packet::default()
        };
        let w = walk(cns.firewall.as_ref(), "mangle", "OUTPUT", &pkt, &ctx.budget);
        let mark = match (w.mark, w.mark_rule) {
            _ if w.gave_up().is_some() => {
                let why = format!(
                    "{}'s mangle OUTPUT: {}",
                    c.name,
                    w.gave_up().unwrap_or_default()
                );
                t.hop(nv.host, ns_el, why.clone(), vec![], Verdict::Unknown(why));
                paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
                continue;
            }
            (m, Some(r)) if m != 0 => {
                t.pass(
                    nv.host,
                    ns_el.clone(),
                    format!("mangle OUTPUT in {} marks it 0x{m:x} (fwmark {m})", c.name),
                    vec![facts::rule(&label, "mangle", r)],
                );
                m
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
                t.hop(nv.host, ns_el, v.reason().to_owned(), vec![], v);
                paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
                continue;
            }
        };
        if let Some(v) = ipvs_missing(nv, cns, "the service VIP") {
            t.hop(nv.host, ns_el, v.reason().to_owned(), vec![], v);
            paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
            continue;
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
            t.hop(nv.host, ns_el, why.clone(), vec![], Verdict::Broken(why));
            paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
            continue;
        };
        if ipvs.destinations.is_empty() {
            let why = format!("IPVS service fwmark {mark} has no real servers");
            t.hop(
                nv.host,
                ns_el,
                why.clone(),
                facts::ipvs(&label, ipvs),
                Verdict::Broken(why),
            );
            paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
            continue;
        }
        t.pass(
            nv.host,
            ns_el.clone(),
            format!(
                "IPVS fwmark {mark} ({}) in {} balances over {} real server(s)",
                ipvs.scheduler,
                c.name,
                ipvs.destinations.len()
            ),
            facts::ipvs(&label, ipvs),
        );
        let Some(out) = nv.link_with_ip(cns, aip) else {
            let why = format!("no interface in {} holds {aip}", c.name);
            t.hop(nv.host, None, why.clone(), vec![], Verdict::Broken(why));
            paths.push(t.finish(id(&svc.name), "vip", title(&svc.name)));
            continue;
        };
        for d in &ipvs.destinations {
            let Ok(ip) = d.address.parse::<Ipv4Addr>() else {
                continue;
            };
            let mut b = t.clone();
            let Some((f, bep)) = ctx.container_with_ip(ip, Some(&net.id)) else {
                let why = format!(
                    "real server {ip} is no container on {} in these snapshots",
                    net.name
                );
                b.hop(nv.host, None, why.clone(), vec![], Verdict::Unknown(why));
                paths.push(b.finish(id(&d.address), "vip", title(&d.address)));
                continue;
            };
            b.pass(
                nv.host,
                ctx.element(nv.iface_id(cns, out)),
                format!(
                    "IPVS sends it to {} at {ip}, out of {}",
                    f.container.name, out.name
                ),
                vec![],
            );
            across_overlay(
                &mut b,
                ctx,
                At {
                    node: a.node,
                    ns: cns,
                    link: out,
                },
                net,
                f,
                bep,
                &format!("on {ip}"),
            );
            paths.push(b.finish(id(&f.container.name), "vip", title(&f.container.name)));
        }
    }
    if paths.is_empty() && notes.is_empty() {
        notes.push(format!(
            "{} shares no network with the VIPs of service {}",
            c.name, svc.name
        ));
    }
    (paths, notes)
}
