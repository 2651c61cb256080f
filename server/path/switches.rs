//! The kernel's own switches on a path: forwarding, bridge netfilter, rp_filter, route_localnet,
//! and who listens on a port. Where a namespace's switches were not recorded (older snapshots)
//! nothing is said: the rules and routes decide as before.

use std::net::IpAddr;

use crate::snapshot::{Listener, Namespace};

use super::lookup::NodeView;
use super::model::{Evidence, Verdict};
use super::rules::Packet;

/// A sysctl as `sysctl` prints it: `net.ipv4.ip_forward = 0`.
pub fn sysctl_evidence(ns: &str, name: &str, value: &str) -> Evidence {
    Evidence {
        kind: "sysctl".into(),
        namespace: ns.into(),
        text: format!("{name} = {value}"),
    }
}

/// A listening socket as `ss -lnp` shows it: `tcp LISTEN 127.0.0.1:8080 users:(("docker-proxy"))`.
pub fn listener_evidence(ns: &str, l: &Listener) -> Evidence {
    let state = if l.protocol == "tcp" {
        "LISTEN"
    } else {
        "UNCONN"
    };
    let addr = if l.family == 6 {
        format!("[{}]:{}", l.address, l.port)
    } else {
        format!("{}:{}", l.address, l.port)
    };
    let who = l
        .process
        .as_deref()
        .map(|p| format!(" users:((\"{p}\"))"))
        .unwrap_or_default();
    Evidence {
        kind: "socket".into(),
        namespace: ns.into(),
        text: format!("{} {state} {addr}{who}", l.protocol),
    }
}

/// What the kernel does with a packet at filter FORWARD before any rule is asked.
pub enum Gate {
    /// The rules decide.
    Rules,
    /// The kernel stops it here: the words, the switch, the verdict.
    Stop(String, Vec<Evidence>, Verdict),
    /// Bridged without meeting iptables (bridge netfilter off or absent): the words and switch.
    Bridged(String, Vec<Evidence>),
}

/// Whether the packet reaches filter FORWARD in `ns` at all: routed packets need forwarding on and
/// must pass reverse-path filtering on the way in; bridged ones (in = out = a bridge) meet iptables
/// only with bridge netfilter on.
pub fn forward_gate(nv: &NodeView<'_>, ns: &Namespace, pkt: &Packet) -> Gate {
    let Some(sc) = ns.sysctls.as_ref() else {
        return Gate::Rules;
    };
    let label = nv.ns_name(ns);
    let bridged = pkt.in_if.is_some() && pkt.in_if == pkt.out_if;
    if bridged {
        let name = if pkt.v6 {
            "net.bridge.bridge-nf-call-ip6tables"
        } else {
            "net.bridge.bridge-nf-call-iptables"
        };
        let br = pkt.in_if.as_deref().unwrap_or_default();
        return match sc.get(name) {
            Some("0") => Gate::Bridged(
                format!("{br} bridges it without iptables: {name} = 0 in {label}, so filter FORWARD never sees traffic between ports of one bridge"),
                vec![sysctl_evidence(&label, name, "0")],
            ),
            None if sc.is_absent(name) => Gate::Bridged(
                format!("{br} bridges it without iptables: br_netfilter is not loaded in {label} (no {name}), so filter FORWARD never sees traffic between ports of one bridge"),
                vec![],
            ),
            _ => Gate::Rules,
        };
    }
    let fwd = if pkt.v6 {
        "net.ipv6.conf.all.forwarding"
    } else {
        "net.ipv4.ip_forward"
    };
    if sc.get(fwd) == Some("0") {
        let why = format!("{fwd} = 0 in {label}: the kernel forwards nothing between interfaces");
        return Gate::Stop(
            why.clone(),
            vec![sysctl_evidence(&label, fwd, "0")],
            Verdict::Blocked(why),
        );
    }
    // rp_filter is IPv4's; IPv6 has no such switch.
    if pkt.v6 {
        return Gate::Rules;
    }
    if let Some((why, ev)) = rp_filter_drop(nv, ns, pkt) {
        return Gate::Stop(why.clone(), ev, Verdict::Blocked(why));
    }
    Gate::Rules
}

/// The effective value of a per-interface switch the kernel takes the larger of (rp_filter) or
/// either of (route_localnet): `all` and the interface's own, each quoted.
fn per_interface(
    ns: &Namespace,
    label: &str,
    ifname: &str,
    key: &str,
) -> Option<(u8, Vec<Evidence>)> {
    let sc = ns.sysctls.as_ref()?;
    let mut best: Option<u8> = None;
    let mut ev = Vec::new();
    for scope in ["all", ifname] {
        let name = format!("net.ipv4.conf.{scope}.{key}");
        if let Some(v) = sc.get(&name) {
            let n: u8 = v.parse().ok()?;
            if n > 0 {
                ev.push(sysctl_evidence(label, &name, v));
            }
            best = Some(best.map_or(n, |b| b.max(n)));
        }
    }
    best.map(|b| (b, ev))
}

/// A routed packet from a known source entering on a known interface that reverse-path
/// filtering drops: strict mode (1) wants the route back to the source to leave by that
/// interface, loose mode (2) any route back.
fn rp_filter_drop(
    nv: &NodeView<'_>,
    ns: &Namespace,
    pkt: &Packet,
) -> Option<(String, Vec<Evidence>)> {
    let (src, in_if) = (pkt.src?, pkt.in_if.as_deref()?);
    let link = ns.links.iter().find(|l| l.name == in_if)?;
    if nv.local_v4(ns).contains(&src) {
        return None;
    }
    let label = nv.ns_name(ns);
    let (mode, ev) = per_interface(ns, &label, in_if, "rp_filter")?;
    let back = nv.route(ns, Some(src));
    let why = match (mode, back) {
        (0, _) => return None,
        (_, None) => format!("reverse-path filtering (rp_filter {mode}) on {in_if} drops it: {label} has no route back to {src}"),
        (1, Some(r)) if r.oif != Some(link.ifindex) => format!(
            "strict reverse-path filtering (rp_filter 1) on {in_if} drops it: the route back to {src} leaves by {}, not by {in_if}",
            r.oif.and_then(|i| ns.link(i)).map(|l| l.name.as_str()).unwrap_or("another interface")
        ),
        _ => return None,
    };
    let mut ev = ev;
    if let Some(r) = back {
        ev.push(super::facts::route(&label, ns, r));
    }
    Some((why, ev))
}

/// Packets from 127.0.0.1 may leave by `out` only with route_localnet on it (or on all); else
/// the kernel refuses the route (a martian source). `None` when allowed or not recorded.
pub fn localnet_stop(
    nv: &NodeView<'_>,
    ns: &Namespace,
    out: &str,
) -> Option<(String, Vec<Evidence>)> {
    let label = nv.ns_name(ns);
    let (on, _) = per_interface(ns, &label, out, "route_localnet")?;
    if on > 0 {
        return None;
    }
    let ev = ["all", out]
        .iter()
        .map(|scope| format!("net.ipv4.conf.{scope}.route_localnet"))
        .filter_map(|name| {
            let v = ns.sysctls.as_ref()?.get(&name)?;
            Some(sysctl_evidence(&label, &name, v))
        })
        .collect();
    Some((
        format!("the kernel will not route a packet from 127.0.0.1 out of {out}: route_localnet is off there and on all (Docker turns it on when it runs without the userland proxy)"),
        ev,
    ))
}

/// The sockets of `ns` that take `addr:port/proto`; `None` when its sockets were not read.
pub fn listeners_for<'a>(
    ns: &'a Namespace,
    addr: IpAddr,
    port: u16,
    proto: &str,
) -> Option<Vec<&'a Listener>> {
    let all = ns.listeners.as_ref()?;
    Some(
        all.iter()
            .filter(|l| l.port == port && l.protocol.eq_ignore_ascii_case(proto))
            .filter(|l| {
                l.address == addr.to_string()
                    || (addr.is_ipv4() && l.family == 4 && l.address == "0.0.0.0")
                    // A dual-stack socket on :: takes IPv4 too (bindv6only is off by default).
                    || (l.family == 6 && l.address == "::")
            })
            .collect(),
    )
}
