//! Inbound to a swarm published port over the routing mesh: DOCKER-INGRESS DNAT to ingress_sbox,
//! the mangle MARK, the IPVS fwmark service, its real servers over the ingress overlay.

use std::net::Ipv4Addr;

use crate::snapshot::{IpvsState, Namespace, NamespaceRole, Service, ServicePort, SourceKind};

use super::bridge::{arrival, first_hop, inbound_packet, parse_to};
use super::facts;
use super::lookup::{Ctx, NodeView};
use super::model::{PacketPath, Verdict};
use super::rules::{walk, Decision, Packet};
use super::segments::{across_overlay, ipvs_missing, At};
use super::trail::{rule_evidence, Trail};

const GWBRIDGE: &str = "docker_gwbridge";

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
    let nv = &ctx.nodes[node];
    let port = sp.published_port;
    let proto = sp.protocol.to_lowercase();
    let id = |to: &str| format!("port:{port}/{proto}@{}->{to}", nv.host);
    let title = |to: &str| format!("{}:{port}/{proto} → {to} via the routing mesh", nv.host);
    let stop_title = title(&format!("service {}", svc.name));
    let mut t = Trail::new(ctx);
    let Some(hns) = nv.host_ns() else {
        t.hop(
            nv.host,
            ctx.element(nv.host_id()),
            "the host namespace is not in the snapshot",
            vec![],
            Verdict::Unknown("the host namespace was not read".into()),
        );
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    let a = arrival(nv, hns, None);
    first_hop(&mut t, ctx, nv, hns, &a, port, &proto);
    let label = nv.ns_name(hns);
    let ns_el = ctx.element(nv.netns_id(hns));
    let pkt = inbound_packet(nv.local_v4(hns), &a, port, &proto);
    let w = walk(
        hns.firewall.as_ref(),
        "nat",
        "PREROUTING",
        &pkt,
        &ctx.budget,
    );
    let mut ev = rule_evidence(&label, &w);
    let dnat = w.dnat();
    let Some(dnat) = dnat else {
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
        let text = v.reason().to_owned();
        t.hop(nv.host, ns_el, text, ev, v);
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    let to = t.dnat_reached(nv.host, ns_el.clone(), "PREROUTING", dnat, &mut ev);
    let sbox = nv.ns_by_role(NamespaceRole::IngressSandbox);
    let gw = hns.links.iter().find(|l| l.name == GWBRIDGE);
    let sbox_link = match (sbox, gw.and_then(|g| nv.v4_of(hns, g))) {
        (Some(s), Some(ga)) => nv.link_in_subnet(s, &format!("{}/{}", ga.address, ga.prefix_len)),
        _ => None,
    };
    let sbox_addr: Option<Ipv4Addr> = match (sbox, sbox_link) {
        (Some(s), Some(l)) => nv.v4_of(s, l).and_then(|x| x.address.parse().ok()),
        _ => None,
    };
    let Some((x, y)) = parse_to(to, port) else {
        let why = format!("cannot read the DNAT destination {to:?} of `{}`", dnat.text);
        t.hop(nv.host, ns_el, why.clone(), ev, Verdict::Unknown(why));
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    if let Some(sa) = sbox_addr.filter(|sa| *sa != x) {
        let why = format!(
            "DNAT sends it to {x}, which is not ingress_sbox's address on {GWBRIDGE} ({sa})"
        );
        t.hop(nv.host, ns_el, why.clone(), ev, Verdict::Broken(why));
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    }
    t.pass(
        nv.host,
        ns_el.clone(),
        format!(
            "DNAT to {x}:{y}, ingress_sbox's address on {GWBRIDGE} (nat {})",
            dnat.chain
        ),
        ev,
    );
    let Some((br, br_el)) = t.route_out(nv, hns, ns_el, x) else {
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    let fwd = Packet {
        dst: Some(x),
        dport: Some(y),
        out_if: Some(br.name.clone()),
        ..pkt.clone()
    };
    t.filter(nv, hns, "FORWARD", &fwd, br_el);
    if t.stopped() {
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    }
    let (Some(sbox), Some(sbox_link)) = (sbox, sbox_link) else {
        let why = format!(
            "ingress_sbox (or its interface on {GWBRIDGE}) is not in the snapshot of {}",
            nv.host
        );
        t.hop(nv.host, None, why.clone(), vec![], Verdict::Unknown(why));
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    if !into_sbox(&mut t, ctx, nv, hns, br, sbox, sbox_link) {
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    }
    let sb_label = nv.ns_name(sbox);
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
    let mark = match (mw.mark, mw.mark_rule) {
        _ if matches!(mw.decision, Decision::Unknown(_)) => {
            let why = format!(
                "ingress_sbox's mangle PREROUTING: {}",
                mw.gave_up().unwrap_or_default()
            );
            t.hop(nv.host, sb_el, why.clone(), vec![], Verdict::Unknown(why));
            return vec![t.finish(id(&svc.name), "mesh", stop_title)];
        }
        (m, Some(r)) if m != 0 => {
            t.pass(
                nv.host,
                sb_el.clone(),
                format!("mangle PREROUTING marks it 0x{m:x} (fwmark {m})"),
                vec![facts::rule(&sb_label, "mangle", r)],
            );
            m
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
            let text = v.reason().to_owned();
            t.hop(nv.host, sb_el, text, vec![], v);
            return vec![t.finish(id(&svc.name), "mesh", stop_title)];
        }
    };
    if let Some(v) = ipvs_missing(nv, sbox, "the routing mesh") {
        let text = v.reason().to_owned();
        t.hop(nv.host, sb_el, text, vec![], v);
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    }
    let services = match &sbox.ipvs {
        IpvsState::Services { services } => services.as_slice(),
        _ => &[],
    };
    let Some(ipvs) = services.iter().find(|s| s.fwmark == Some(mark)) else {
        let why = format!("no IPVS service for fwmark {mark} in ingress_sbox");
        t.hop(nv.host, sb_el, why.clone(), vec![], Verdict::Broken(why));
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    if ipvs.destinations.is_empty() {
        let why = format!("IPVS service fwmark {mark} has no real servers: no task to send it to");
        t.hop(
            nv.host,
            sb_el,
            why.clone(),
            facts::ipvs(&sb_label, ipvs),
            Verdict::Broken(why),
        );
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    }
    t.pass(
        nv.host,
        sb_el.clone(),
        format!(
            "IPVS fwmark {mark} ({}) balances over {} real server(s)",
            ipvs.scheduler,
            ipvs.destinations.len()
        ),
        facts::ipvs(&sb_label, ipvs),
    );
    let Some(ingress) = ctx.ingress_network() else {
        let why = "the ingress network is not in any engine's facts".to_owned();
        t.hop(nv.host, None, why.clone(), vec![], Verdict::Unknown(why));
        return vec![t.finish(id(&svc.name), "mesh", stop_title)];
    };
    let out_link = ingress
        .ipam
        .iter()
        .find_map(|c| nv.link_in_subnet(sbox, &c.subnet));
    let mut out = Vec::new();
    for d in &ipvs.destinations {
        let mut b = t.clone();
        let Ok(ip) = d.address.parse::<Ipv4Addr>() else {
            continue;
        };
        let found = ctx.container_with_ip(ip, Some(&ingress.id));
        let name = found
            .map(|(f, _)| f.container.name.clone())
            .unwrap_or_else(|| ip.to_string());
        let (Some((f, ep)), Some(ol)) = (found, out_link) else {
            let why = if found.is_none() {
                format!("real server {ip} is no container on the ingress network in these snapshots (is a node's snapshot missing?)")
            } else {
                "ingress_sbox has no interface on the ingress network".to_owned()
            };
            b.hop(nv.host, None, why.clone(), vec![], Verdict::Unknown(why));
            out.push(b.finish(id(&name), "mesh", title(&name)));
            continue;
        };
        b.pass(
            nv.host,
            ctx.element(nv.iface_id(sbox, ol)),
            format!(
                "IPVS sends it to {name} at {ip} ({}), out of {} on ingress",
                d.forward, ol.name
            ),
            vec![],
        );
        across_overlay(
            &mut b,
            ctx,
            At {
                node,
                ns: sbox,
                link: ol,
            },
            ingress,
            f,
            ep,
            &format!("on {ip}:{port}"),
        );
        if !b.stopped() {
            redirect(
                &mut b,
                ctx,
                f.node,
                f.container,
                ip,
                port,
                sp.target_port,
                &proto,
            );
        }
        let t_title = title(&format!("{name} ({ip}:{})", sp.target_port));
        out.push(b.finish(id(&name), "mesh", t_title));
    }
    out
}

/// From docker_gwbridge over its veth port into ingress_sbox's interface.
fn into_sbox<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    br: &'a crate::snapshot::Link,
    sbox: &'a Namespace,
    sbox_link: &'a crate::snapshot::Link,
) -> bool {
    let Some((pns, port)) = nv.peer(sbox, sbox_link) else {
        let why = format!(
            "the other end of ingress_sbox's {} is not in the snapshot",
            sbox_link.name
        );
        t.hop(nv.host, None, why.clone(), vec![], Verdict::Unknown(why));
        return false;
    };
    if pns.id != hns.id || port.master != Some(br.ifindex) {
        let why = format!(
            "ingress_sbox's {} is paired with {}, which is no port of {}",
            sbox_link.name, port.name, br.name
        );
        t.hop(nv.host, None, why.clone(), vec![], Verdict::Broken(why));
        return false;
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
    true
}

/// Inside the task: Docker REDIRECTs the published port to the target port.
#[allow(clippy::too_many_arguments)]
fn redirect<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    node: usize,
    c: &'a crate::snapshot::Container,
    ip: Ipv4Addr,
    published: u16,
    target: u16,
    proto: &str,
) {
    let nv = &ctx.nodes[node];
    let Some(cns) = nv.container_ns(c) else {
        return;
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
        }
        (Decision::Unknown(why), _) => {
            let why = format!("{}'s nat PREROUTING: {why}", c.name);
            t.hop(
                nv.host,
                el,
                why.clone(),
                rule_evidence(&label, &w),
                Verdict::Unknown(why),
            );
        }
        (Decision::NotRead, _) if published != target => {
            let why = format!("the iptables rules of {} were not read: cannot tell whether port {published} is redirected to {target}", c.name);
            t.hop(nv.host, el, why.clone(), vec![], Verdict::Unknown(why));
        }
        _ if published != target => {
            let why = format!(
                "no REDIRECT from {published} to {target} in {}'s nat PREROUTING: the task listens on {target}, the packet arrives on {published}",
                c.name
            );
            t.hop(
                nv.host,
                el,
                why.clone(),
                rule_evidence(&label, &w),
                Verdict::Broken(why),
            );
        }
        _ => {}
    }
}
