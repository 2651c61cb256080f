//! Inbound to a bridge-mode published port: host address, nat PREROUTING to DOCKER, the DNAT
//! rule, the route to the bridge, filter FORWARD, the veth, the container.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::snapshot::{Link, Namespace, PortBinding, SourceKind};

use super::facts;
use super::inbound::{arrival, first_hop, inbound_packet, parse_to, Arrival};
use super::lookup::{endpoint_ip, Ctx, Found, NodeView};
use super::model::{Evidence, PacketPath, Verdict};
use super::native::{self, Native};
use super::ports::is_v6;
use super::rules::{walk, Decision, Packet, Walk};
use super::segments::{enter_container, enter_ns};
use super::switches::{listener_evidence, listeners_for, localnet_stop};
use super::text::addr_port;
use super::trail::{rule_evidence, Stage, Trail};
use super::v6::{manages_v6, unmanaged};
use crate::snapshot::LinkKind;

/// Trace one bridge-mode binding (or, without engine facts, whatever the DNAT rules say).
pub fn trace<'a>(
    ctx: &Ctx<'a>,
    node: usize,
    port: u16,
    proto: &str,
    binding: Option<(Found<'a>, &PortBinding)>,
) -> PacketPath {
    let b = Bridge {
        ctx,
        node,
        nv: &ctx.nodes[node],
        port,
        proto,
        v6: binding.is_some_and(|(_, b)| is_v6(b)),
        binding,
    };
    let mut t = Trail::new(ctx);
    let to = b.expected();
    t.name(b.id(to), format!("{}:{port}/{proto} → {to}", b.nv.host));
    let _ended = b.stages(&mut t);
    t.finish("bridge-port")
}

/// The packet after nat: where it goes and as what it leaves for there.
struct Onward {
    /// The address and port the DNAT (or the userland proxy) chose.
    to: (IpAddr, u16),
    /// The packet as it meets the routing decision.
    pkt: Packet,
    /// Whether a client on the host sent it to a loopback address.
    from_loopback: bool,
}

impl Onward {
    /// The client's own packet, DNAT'd to `to`.
    fn after_nat(a: &Arrival<'_>, to: (IpAddr, u16), pkt: Packet) -> Self {
        Onward {
            to,
            pkt,
            from_loopback: a.local && a.addr.is_some_and(|x| x.is_loopback()),
        }
    }
}

/// One bridge-mode published port on one node, traced stage by stage.
struct Bridge<'c, 'a> {
    ctx: &'c Ctx<'a>,
    node: usize,
    nv: &'c NodeView<'a>,
    port: u16,
    proto: &'c str,
    /// Whether the client connects over IPv6 (an IPv6 binding: ip6tables, `ip6` tables).
    v6: bool,
    binding: Option<(Found<'a>, &'c PortBinding)>,
}

impl<'a> Bridge<'_, 'a> {
    /// The container the engine says the port is published by (`?` without engine facts).
    fn expected(&self) -> &'a str {
        self.binding
            .map(|(f, _)| f.container.name.as_str())
            .unwrap_or("?")
    }

    fn id(&self, to: &str) -> String {
        let v6 = if self.v6 { "/ipv6" } else { "" };
        format!(
            "port:{}/{}{v6}@{}->{to}",
            self.port, self.proto, self.nv.host
        )
    }

    /// Name the path for where it goes (`to`) and how (`x`: an address, or why not).
    fn name(&self, t: &mut Trail<'_, 'a>, to: &str, x: &str) {
        let v6 = if self.v6 { " over IPv6" } else { "" };
        let title = format!(
            "{}:{}/{}{v6} → {to} ({x})",
            self.nv.host, self.port, self.proto
        );
        t.name(self.id(to), title);
    }

    fn stages(&self, t: &mut Trail<'_, 'a>) -> Stage {
        let (ctx, nv) = (self.ctx, self.nv);
        let hns = t.host_ns(nv)?;
        let a = arrival(nv, hns, self.binding.map(|(_, b)| b), self.v6);
        first_hop(t, ctx, nv, hns, &a, self.port, self.proto);
        let pkt = inbound_packet(nv.local(hns, self.v6), &a, self.port, self.proto);
        let onward = self.nat(t, hns, &a, pkt)?;
        self.deliver(t, hns, onward)
    }

    /// nat PREROUTING (OUTPUT for local clients): the DNAT that chooses the container.
    fn nat(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        a: &Arrival<'a>,
        pkt: Packet,
    ) -> Stage<Onward> {
        let (ctx, nv, port) = (self.ctx, self.nv, self.port);
        let label = nv.ns_name(hns);
        let ns_el = ctx.element(nv.netns_id(hns));
        let chain = if a.local { "OUTPUT" } else { "PREROUTING" };
        let w = walk(hns.firewall.as_ref(), "nat", chain, &pkt, &ctx.budget);
        let mut ev = rule_evidence(&label, &w);
        let Some(dnat) = w.dnat() else {
            return self.no_dnat(t, hns, a, pkt, &w, ev);
        };
        let to = t.dnat_reached(nv.host, ns_el.clone(), chain, dnat, &mut ev);
        let Some((x, y)) = parse_to(to, port) else {
            self.name(t, "?", to);
            let why = format!("cannot read the DNAT destination {to:?} of `{}`", dnat.text);
            return t.unknown(nv.host, ns_el, why, ev);
        };
        t.pass(
            nv.host,
            ns_el,
            format!("DNAT to {} (nat {})", addr_port(x, y), dnat.chain),
            ev,
        );
        Ok(Onward::after_nat(a, (x, y), pkt))
    }

    /// No iptables DNAT: Docker 29's native one, the userland proxy for loopback clients, or the
    /// hop that says why nothing forwards the port.
    fn no_dnat(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        a: &Arrival<'a>,
        pkt: Packet,
        w: &Walk<'_>,
        mut ev: Vec<Evidence>,
    ) -> Stage<Onward> {
        let (nv, port, proto) = (self.nv, self.port, self.proto);
        let ns_el = self.ctx.element(nv.netns_id(hns));
        let chain = if a.local { "OUTPUT" } else { "PREROUTING" };
        // Docker 29's nftables backend DNATs in its own table.
        let hook = if a.local { "output" } else { "prerouting" };
        let native_dnat = match native::at_hook(nv, hns, hook, &pkt) {
            Native::Nat(kind, Some(to), more) if kind == "dnat" => Some((to, more)),
            _ => None,
        };
        if let Some((to, more)) = native_dnat {
            ev.extend(more);
            let Some((x, y)) = parse_to(&to, port) else {
                self.name(t, "?", &to);
                let why = format!("cannot read the native DNAT destination {to:?}");
                return t.unknown(nv.host, ns_el, why, ev);
            };
            t.pass(
                nv.host,
                ns_el,
                format!("DNAT to {} (native nftables, {hook} hook)", addr_port(x, y)),
                ev,
            );
            return Ok(Onward::after_nat(a, (x, y), pkt));
        }
        // Where the walk settled nothing yet, a client no DNAT is meant for is answered first.
        let settled =
            matches!(w.decision, Decision::NotRead | Decision::Unknown(_)) || w.doubt().is_some();
        let proxied = if settled || a.local {
            None
        } else {
            self.proxy_only(hns, &mut ev)
        };
        let verdict = match (proxied, &w.decision) {
            (Some(v), _) => v,
            (None, Decision::NotRead) => Verdict::Unknown(format!(
                "the host's iptables rules were not read ({})",
                nv.why_not_read(hns, SourceKind::Iptables)
            )),
            (None, Decision::Unknown(why)) => Verdict::Unknown(format!("nat {chain} on {}: {why}", nv.host)),
            (None, _) if w.doubt().is_some() => Verdict::Unknown(w.doubt().unwrap_or_default()),
            (None, _) if a.local => match self.userland_proxy(t, hns, a, &pkt, &mut ev)? {
                Ok(onward) => return Ok(onward),
                Err(verdict) => verdict,
            },
            (None, Decision::Rule(r)) => Verdict::Broken(format!(
                "nat {chain} ends at `{}`, not at a DNAT to a container",
                r.text
            )),
            _ => Verdict::Broken(format!(
                "no DNAT rule in nat {chain} matches {}/{proto}: nothing forwards this port to a container",
                a.addr.map(|x| addr_port(x, port)).unwrap_or_else(|| format!("the host:{port}"))
            )),
        };
        let verdict = native::join(nv, hns, hook, &pkt, verdict, &mut ev);
        self.name(t, self.expected(), "no DNAT");
        t.stop(nv.host, ns_el, ev, verdict)
    }

    /// A client of a family no DNAT is expected for: IPv6 where the engine wrote no ip6tables
    /// rules, or IPv4 to a container with no IPv4 address (an IPv6-only network). Whatever
    /// listens on the port (docker-proxy, relaying to the container's other address) answers;
    /// not traced further.
    fn proxy_only(&self, hns: &'a Namespace, ev: &mut Vec<Evidence>) -> Option<Verdict> {
        let (nv, port, proto) = (self.nv, self.port, self.proto);
        let label = nv.ns_name(hns);
        let (why, any, other) = if self.v6 {
            if manages_v6(hns) {
                return None;
            }
            let why = format!(
                "no ip6tables DNAT for port {port}/{proto}: {}",
                unmanaged(&label)
            );
            (why, IpAddr::V6(Ipv6Addr::UNSPECIFIED), "IPv4")
        } else {
            let (f, _) = self.binding?;
            if f.container
                .endpoints
                .iter()
                .any(|e| endpoint_ip(e, false).is_some())
            {
                return None;
            }
            let why = format!(
                "{} has no IPv4 address (an IPv6-only network), so no DNAT takes IPv4 clients of port {port}/{proto}",
                f.container.name
            );
            (why, IpAddr::V4(Ipv4Addr::UNSPECIFIED), "IPv6")
        };
        let at = addr_port(any, port);
        let who = match listeners_for(hns, any, port, proto) {
            None => "the host's listening sockets were not read".to_owned(),
            Some(ls) if ls.is_empty() => format!("nothing listens on {at}/{proto}"),
            Some(ls) => {
                ev.extend(ls.iter().map(|l| listener_evidence(&label, l)));
                format!(
                    "{} listens on {at}/{proto} and relays what it accepts (docker-proxy relays to the container's {other} address)",
                    ls.iter()
                        .find_map(|l| l.process.clone())
                        .unwrap_or_else(|| "a process dockmap could not name".into()),
                )
            }
        };
        Some(Verdict::Unknown(format!("{why}; {who}")))
    }

    /// A local client without a DNAT: Docker's OUTPUT rule leaves loopback out, so the userland
    /// proxy is what answers. The packet it sends on, or the verdict when nothing relays it.
    fn userland_proxy(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        a: &Arrival<'a>,
        pkt: &Packet,
        ev: &mut Vec<Evidence>,
    ) -> Stage<Result<Onward, Verdict>> {
        let (nv, port, proto) = (self.nv, self.port, self.proto);
        let label = nv.ns_name(hns);
        let ns_el = self.ctx.element(nv.netns_id(hns));
        let out_rule = hns.firewall.as_ref().and_then(|fw| {
            fw.ipv4
                .iter()
                .filter(|t| t.name == "nat")
                .flat_map(|t| t.rules.iter())
                .find(|r| r.chain == "OUTPUT" && r.destination.as_deref() == Some("!127.0.0.0/8"))
        });
        if let Some(r) = out_rule {
            ev.push(facts::rule(&label, "nat", r));
        }
        let bound = a.addr.unwrap_or(if self.v6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        });
        let bp = addr_port(bound, port);
        let ls = match listeners_for(hns, bound, port, proto) {
            Some(ls) if !ls.is_empty() => ls,
            Some(_) => return Ok(Err(Verdict::Broken(format!(
                "nothing listens on {bp}/{proto} and nat OUTPUT has no DNAT for it: connections are refused (no userland proxy runs for this port)"
            )))),
            None => return Ok(Err(Verdict::Unknown(format!(
                "nat OUTPUT has no DNAT for {bp}: Docker's rule leaves out 127.0.0.0/8, so only the userland proxy (docker-proxy) can answer, and the host's listening sockets were not read"
            )))),
        };
        ev.extend(ls.iter().map(|l| listener_evidence(&label, l)));
        let who = ls
            .iter()
            .find_map(|l| l.process.clone())
            .unwrap_or_else(|| "a process dockmap could not name".into());
        let relay = self.binding.and_then(|(f, b)| {
            let ip = f
                .container
                .endpoints
                .iter()
                .find_map(|e| e.ipv4.parse::<IpAddr>().ok())?;
            Some((ip, b.private_port))
        });
        let Some((x, y)) = relay else {
            self.name(t, self.expected(), "userland proxy");
            let why = format!("{who} listens on {bp}/{proto}, but which container it relays to cannot be told without the engine's facts");
            return t.unknown(nv.host, ns_el, why, std::mem::take(ev));
        };
        t.pass(
            nv.host,
            ns_el,
            format!("nat OUTPUT has no DNAT for {bp}: {who} listens there and opens its own connection to {}", addr_port(x, y)),
            std::mem::take(ev),
        );
        Ok(Ok(Onward {
            to: (x, y),
            pkt: Packet {
                in_if: None,
                ..pkt.clone()
            },
            from_loopback: false,
        }))
    }

    /// From the host namespace, after the DNAT (or the userland proxy) chose `x:y`: the route to
    /// the bridge, filter FORWARD (OUTPUT for local clients), the veth, the container holding `x`.
    fn deliver(&self, t: &mut Trail<'_, 'a>, hns: &'a Namespace, o: Onward) -> Stage {
        let (ctx, node, nv) = (self.ctx, self.node, self.nv);
        let (x, y) = o.to;
        // Swarm tasks do not list their docker_gwbridge endpoint (host-mode ports DNAT to it):
        // the sandbox's own addresses say whose it is.
        let found = ctx
            .containers()
            .filter(|f| f.node == node)
            .find(|f| {
                f.container
                    .endpoints
                    .iter()
                    .any(|e| endpoint_ip(e, x.is_ipv6()) == Some(x))
            })
            .or_else(|| {
                ctx.containers().filter(|f| f.node == node).find(|f| {
                    nv.container_ns(f.container)
                        .is_some_and(|ns| nv.link_with_ip(ns, x).is_some())
                })
            });
        let to_name = found
            .map(|f| f.container.name.clone())
            .unwrap_or_else(|| x.to_string());
        self.name(t, &to_name, &addr_port(x, y));
        let br = self.to_bridge(t, hns, &o)?;
        let Some(found) = found else {
            return self.enter_holder(t, hns, br, o.to);
        };
        enter_container(
            t,
            ctx,
            node,
            hns,
            br,
            found,
            x,
            &format!("on {}", addr_port(x, y)),
        )
    }

    /// The route to `x`, route_localnet for loopback clients, filter FORWARD (OUTPUT for locally
    /// made packets): the bridge it leaves by.
    fn to_bridge(&self, t: &mut Trail<'_, 'a>, hns: &'a Namespace, o: &Onward) -> Stage<&'a Link> {
        let nv = self.nv;
        let (x, y) = o.to;
        let ns_el = self.ctx.element(nv.netns_id(hns));
        let (br, br_el) = t.route_out(nv, hns, ns_el, x)?;
        if o.from_loopback {
            if let Some((why, ev)) = localnet_stop(nv, hns, &br.name) {
                return t.stop(nv.host, br_el, ev, Verdict::Blocked(why));
            }
        }
        let fwd = Packet {
            dst: Some(x),
            dport: Some(y),
            out_if: Some(br.name.clone()),
            in_if: o.pkt.in_if.clone(),
            ..o.pkt.clone()
        };
        // Locally made packets meet filter OUTPUT, not FORWARD.
        let local = o.pkt.in_if.is_none();
        let chain = if local { "OUTPUT" } else { "FORWARD" };
        t.filter(nv, hns, chain, &fwd, br_el)?;
        if br.kind != LinkKind::Bridge {
            let why = format!("{x} is reached by {}, which is not a bridge", br.name);
            return t.broken(nv.host, None, why, vec![]);
        }
        Ok(br)
    }

    /// Without engine facts (or for a sandbox the engine does not list), the namespace holding
    /// the address is where it goes.
    fn enter_holder(
        &self,
        t: &mut Trail<'_, 'a>,
        hns: &'a Namespace,
        br: &'a Link,
        (x, y): (IpAddr, u16),
    ) -> Stage {
        let nv = self.nv;
        let holder = nv
            .snap
            .namespaces
            .iter()
            .filter(|n| n.id != hns.id)
            .find(|n| nv.link_with_ip(n, x).is_some());
        let Some(cns) = holder else {
            let why = format!("no container or namespace on {} holds {x}", nv.host);
            return t.broken(nv.host, None, why, vec![]);
        };
        let name = nv.ns_name(cns);
        enter_ns(t, self.ctx, self.node, hns, br, cns, &name, x)?;
        t.pass(
            nv.host,
            self.ctx.element(nv.netns_id(cns)),
            format!(
                "namespace {name} receives it on {} (no container the engine names)",
                addr_port(x, y)
            ),
            vec![],
        );
        Ok(())
    }
}

/// What clients on the node itself meet: nat OUTPUT for the host's address and for 127.0.0.1.
pub fn local_note(ctx: &Ctx<'_>, node: usize, port: u16, proto: &str) -> Option<String> {
    let nv = &ctx.nodes[node];
    let hns = nv.host_ns()?;
    let fw = hns.firewall.as_ref()?;
    let lo = Arrival {
        v6: false,
        addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        link: None,
        local: true,
    };
    let w = walk(
        Some(fw),
        "nat",
        "OUTPUT",
        &inbound_packet(nv.local_v4(hns), &lo, port, proto),
        &ctx.budget,
    );
    // A walk that gave up says nothing about loopback clients either.
    if w.target() == Some("DNAT") || w.gave_up().is_some() {
        return None;
    }
    let rule = fw
        .ipv4
        .iter()
        .filter(|t| t.name == "nat")
        .flat_map(|t| t.rules.iter())
        .find(|r| r.chain == "OUTPUT" && r.destination.as_deref() == Some("!127.0.0.0/8"))?;
    let who = match listeners_for(hns, IpAddr::V4(Ipv4Addr::LOCALHOST), port, proto) {
        None => "the userland proxy (docker-proxy) answers there, if the engine runs it (the host's listening sockets were not read)".to_owned(),
        Some(ls) if ls.is_empty() => "nothing listens there, so connections to it are refused".to_owned(),
        Some(ls) => format!(
            "{} listens there ({}) and relays to the container",
            ls.iter()
                .find_map(|l| l.process.clone())
                .unwrap_or_else(|| "a process dockmap could not name".into()),
            ls.iter()
                .map(|l| listener_evidence("", l).text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Some(format!(
        "On {} itself, 127.0.0.1:{port}/{proto} gets no DNAT (`-t nat {}` leaves out 127.0.0.0/8): {who}. Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.",
        nv.host, rule.text
    ))
}
