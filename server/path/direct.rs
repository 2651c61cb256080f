//! From outside the host straight to a container's own address (`--from ADDRESS|HOST-INTERFACE
//! --to CONTAINER[:PORT]`): the raw table before nat (Docker 28's `DROP DIRECT ACCESS`), the
//! route, filter FORWARD, the container. A block names the rule and the network option that
//! would change it (the gateway mode, trusted host interfaces).

use std::net::IpAddr;

use crate::snapshot::{Link, Namespace, Network, SourceKind};

use super::lookup::{endpoint_ip, Ctx, Found, NodeView};
use super::model::{PacketPath, Verdict};
use super::native::{self, Native};
use super::rules::{walk, Decision, Packet};
use super::segments::enter_container;
use super::text::addr_port;
use super::trail::{rule_evidence, Stage, Trail};
use crate::names;

/// Where the client is: an address, or a host interface its packets arrive on.
enum Client<'a> {
    Address(IpAddr),
    Interface(&'a str),
}

/// Whether `from` names a client outside the containers (an IP address, or an interface of a
/// node's host namespace) rather than a container.
pub fn applies(ctx: &Ctx<'_>, from: &str) -> bool {
    let from = from.trim();
    if ctx.find_container(from).is_ok() {
        return false;
    }
    from.parse::<IpAddr>().is_ok()
        || ctx
            .nodes
            .iter()
            .filter_map(|nv| nv.host_ns())
            .any(|h| h.links.iter().any(|l| l.name == from))
}

/// The gateway mode of a bridge network for IPv4, or IPv6 if `v6` (`nat` when the option is not set).
pub fn gateway_mode(net: &Network, v6: bool) -> &str {
    net.options
        .get(gateway_option(v6))
        .map(String::as_str)
        .unwrap_or("nat")
}

/// The network option that sets the gateway mode of one family.
fn gateway_option(v6: bool) -> &'static str {
    if v6 {
        "com.docker.network.bridge.gateway_mode_ipv6"
    } else {
        "com.docker.network.bridge.gateway_mode_ipv4"
    }
}

/// `IPv6` or `IPv4`.
fn family(v6: bool) -> &'static str {
    if v6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// Trace `from` (an address or host interface) to `to` (`CONTAINER[:PORT]`).
pub fn trace(ctx: &Ctx<'_>, from: &str, to: &str) -> (Vec<PacketPath>, Vec<String>) {
    let from = from.trim();
    let (name, port) = match to.trim().rsplit_once(':') {
        Some((n, p)) if p.parse::<u16>().is_ok() => (n, p.parse::<u16>().ok()),
        _ => (to.trim(), None),
    };
    let f = match ctx.find_container(name) {
        Ok(f) => f,
        Err(why) => return (Vec::new(), vec![why]),
    };
    let client = match from.parse::<IpAddr>() {
        Ok(a) => Client::Address(a),
        Err(_) => Client::Interface(from),
    };
    // A client address asks for its own family; an interface for each the container has.
    let families: &[bool] = match client {
        Client::Address(a) => &[a.is_ipv6()][..],
        Client::Interface(_) => &[false, true],
    };
    let mut paths = Vec::new();
    let mut notes = Vec::new();
    let addresses = f.container.endpoints.iter().flat_map(|ep| {
        families
            .iter()
            .filter_map(move |v6| endpoint_ip(ep, *v6).map(|x| (ep, x)))
    });
    for (ep, x) in addresses {
        let Some(net) = ctx.network(&ep.network_id) else {
            continue;
        };
        if net.driver != names::DRIVER_BRIDGE {
            notes.push(format!(
                "{} on {} ({}) is not reached through the host's routing: only bridge networks are traced from outside",
                f.container.name, net.name, net.driver
            ));
            continue;
        }
        paths.push(one(ctx, f, &client, from, x, port, net));
    }
    if paths.is_empty() && notes.is_empty() {
        let fam = match client {
            Client::Address(a) => family(a.is_ipv6()),
            Client::Interface(_) => "IPv4",
        };
        notes.push(format!(
            "{} has no {fam} address on a bridge network",
            f.container.name
        ));
    }
    (paths, notes)
}

/// The option that would let outside clients in, in words.
fn remedy(net: &Network, in_if: Option<&str>, v6: bool) -> String {
    let trusted = in_if
        .map(|i| {
            format!("; or trust {i} with -o com.docker.network.bridge.trusted_host_interfaces={i}")
        })
        .unwrap_or_default();
    format!(
        "network {} has gateway mode {} for {}: create it with -o {}=nat-unprotected (or routed) to allow direct access{trusted}; or start the daemon with --allow-direct-routing",
        net.name,
        gateway_mode(net, v6),
        family(v6),
        gateway_option(v6)
    )
}

fn one(
    ctx: &Ctx<'_>,
    f: Found<'_>,
    client: &Client<'_>,
    from: &str,
    x: IpAddr,
    port: Option<u16>,
    net: &Network,
) -> PacketPath {
    let nv = &ctx.nodes[f.node];
    let target = match port {
        Some(p) => addr_port(x, p),
        None => x.to_string(),
    };
    let mut t = Trail::new(ctx);
    t.name(
        format!("direct:{from}->{}/{}:{target}", nv.host, f.container.name),
        format!("{from} → {} ({target}) on {}", f.container.name, nv.host),
    );
    let to = Target {
        f,
        x,
        port,
        net,
        text: target,
    };
    let _ended = stages(&mut t, ctx, client, from, &to);
    t.finish("direct")
}

/// The container address a client outside wants to reach.
struct Target<'t, 'a> {
    f: Found<'a>,
    x: IpAddr,
    port: Option<u16>,
    net: &'t Network,
    /// `x` or `x:port`, as the path says it.
    text: String,
}

fn stages<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    client: &Client<'_>,
    from: &str,
    to: &Target<'_, 'a>,
) -> Stage {
    let nv = &ctx.nodes[to.f.node];
    let Some(hns) = nv.host_ns() else {
        let why = "the host namespace is not in the snapshot".to_owned();
        return t.unknown(nv.host, ctx.element(nv.host_id()), why, vec![]);
    };
    let (src, link) = arrives_on(t, ctx, nv, hns, client, from)?;
    let in_el = ctx.element(nv.iface_id(hns, link));
    t.pass(
        nv.host,
        in_el.clone(),
        format!(
            "a client at {from} sends to {}, arriving on {}",
            to.text, link.name
        ),
        vec![],
    );
    let v6 = to.x.is_ipv6();
    let pkt = Packet {
        v6,
        src,
        dst: Some(to.x),
        proto: to.port.map(|_| "tcp".to_owned()),
        dport: to.port,
        in_if: Some(link.name.clone()),
        local: nv.local(hns, v6),
        ..Packet::default()
    };
    raw_prerouting(t, &ctx.budget, nv, hns, &pkt, to.net, in_el)?;
    let ns_el = ctx.element(nv.netns_id(hns));
    let (br, br_el) = t.route_out(nv, hns, ns_el, to.x)?;
    let fwd = Packet {
        out_if: Some(br.name.clone()),
        ..pkt
    };
    let forwarded = t.filter(nv, hns, "FORWARD", &fwd, br_el);
    if let Some(h) = t.hops.last_mut() {
        if let Verdict::Blocked(why) = &h.verdict {
            let why = format!("{why} — {}", remedy(to.net, Some(link.name.as_str()), v6));
            h.text = why.clone();
            h.verdict = Verdict::Blocked(why);
        }
    }
    forwarded?;
    let arrives = format!("on {}", to.text);
    enter_container(t, ctx, to.f.node, hns, br, to.f, to.x, &arrives)
}

/// The client's address (when it is one) and the host interface its packets arrive on.
fn arrives_on<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    client: &Client<'_>,
    from: &str,
) -> Stage<(Option<IpAddr>, &'a Link)> {
    let (src, link): (Option<IpAddr>, Option<&Link>) = match client {
        Client::Address(a) => (
            Some(*a),
            nv.route(hns, Some(*a))
                .and_then(|r| r.oif)
                .and_then(|i| hns.link(i)),
        ),
        Client::Interface(name) => (None, hns.links.iter().find(|l| l.name == *name)),
    };
    match link {
        Some(link) => Ok((src, link)),
        None => {
            let why = format!(
                "{} has no interface a client at {from} would arrive on",
                nv.host
            );
            t.broken(nv.host, ctx.element(nv.host_id()), why, vec![])
        }
    }
}

/// raw PREROUTING (iptables, then the native chains of the prerouting hook).
fn raw_prerouting<'a>(
    t: &mut Trail<'_, 'a>,
    budget: &super::rules::Budget,
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    pkt: &Packet,
    net: &Network,
    el: Option<String>,
) -> Stage {
    let label = nv.ns_name(hns);
    let w = walk(hns.firewall.as_ref(), "raw", "PREROUTING", pkt, budget);
    let mut ev = rule_evidence(&label, &w);
    let in_if = pkt.in_if.as_deref();
    let verdict = match &w.decision {
        Decision::NotRead => Verdict::Unknown(format!(
            "the host's iptables rules were not read ({})",
            nv.why_not_read(hns, SourceKind::Iptables)
        )),
        Decision::Unknown(why) => Verdict::Unknown(format!("raw PREROUTING: {why}")),
        Decision::Rule(r) if r.target.as_ref().is_some_and(|t| t.name == "DROP") => {
            Verdict::Blocked(format!(
                "raw PREROUTING drops it before nat: `{}` (Docker's DROP DIRECT ACCESS) — {}",
                r.text,
                remedy(net, in_if, pkt.v6)
            ))
        }
        _ => match w.doubt() {
            Some(d) => Verdict::Unknown(d),
            None => Verdict::Pass,
        },
    };
    let verdict = match verdict {
        Verdict::Pass => match native::at_hook(nv, hns, "prerouting", pkt) {
            Native::Blocked(why, more) => {
                ev.extend(more);
                Verdict::Blocked(format!("{why} — {}", remedy(net, in_if, pkt.v6)))
            }
            Native::Unknown(why, more) => {
                ev.extend(more);
                Verdict::Unknown(why)
            }
            Native::Pass(more) | Native::Nat(_, _, more) => {
                ev.extend(more);
                Verdict::Pass
            }
            Native::Nothing => Verdict::Pass,
        },
        v => v,
    };
    let text = match &verdict {
        Verdict::Pass => format!(
            "raw PREROUTING lets it through to {} (gateway mode {} of {})",
            pkt.dst.map(|d| d.to_string()).unwrap_or_default(),
            gateway_mode(net, pkt.v6),
            net.name
        ),
        v => v.reason().to_owned(),
    };
    if verdict != Verdict::Pass {
        return t.end(nv.host, el, text, ev, verdict);
    }
    t.pass(nv.host, el, text, ev);
    Ok(())
}
