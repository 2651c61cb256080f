//! Where a client of a published port arrives on a node (bridge-mode or routing mesh): the
//! address it connects to, the interface it comes in by, the first hop, the packet nat sees.

use std::net::{IpAddr, Ipv6Addr};

use crate::snapshot::{Link, Namespace, PortBinding};

use super::facts;
use super::lookup::{Ctx, NodeView};
use super::rules::Packet;
use super::trail::Trail;
use crate::snapshot::LinkKind;

/// The host's way out and its address: the default route's interface and its first address of
/// the family (IPv6 if `v6`).
pub fn uplink<'a>(
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    v6: bool,
) -> (Option<&'a Link>, Option<IpAddr>) {
    let link = nv
        .route_of(hns, v6, None)
        .and_then(|r| r.oif)
        .and_then(|i| hns.link(i));
    let family = if v6 { 6 } else { 4 };
    let addr = link
        .and_then(|l| nv.addr_of(hns, l, v6))
        .or_else(|| {
            hns.addresses.iter().find(|a| {
                a.family == family
                    && a.scope == "universe"
                    && hns
                        .link(a.ifindex)
                        .is_some_and(|l| l.kind != LinkKind::Bridge)
            })
        })
        .and_then(|a| a.address.parse().ok());
    (link, addr)
}

/// `198.18.0.2:80` (or `198.18.0.2`, `198.18.0.2:80-81`, `[2001:2::2]:80`, `2001:2::2`) →
/// address and port.
pub fn parse_to(to: &str, default_port: u16) -> Option<(IpAddr, u16)> {
    let port = |p: &str| p.split('-').next()?.parse().ok();
    if let Some(rest) = to.strip_prefix('[') {
        let (a, after) = rest.split_once(']')?;
        let p = match after.strip_prefix(':') {
            Some(p) => port(p)?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((a.parse().ok()?, p));
    }
    if let Ok(a) = to.parse::<Ipv6Addr>() {
        return Some((IpAddr::V6(a), default_port));
    }
    let (a, p) = match to.split_once(':') {
        Some((a, p)) => (a, port(p)?),
        None => (to, default_port),
    };
    Some((IpAddr::V4(a.parse().ok()?), p))
}

/// What arrives at the host: who connects to which address, on which interface.
pub struct Arrival<'a> {
    /// Whether the client connects over IPv6.
    pub v6: bool,
    /// The address connected to.
    pub addr: Option<IpAddr>,
    /// The interface it arrives on (`None`: made on the host itself).
    pub link: Option<&'a Link>,
    /// Whether the client is on the host itself.
    pub local: bool,
}

/// Where a client of a published port arrives on this node (over IPv6 if `v6`).
pub fn arrival<'a>(
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    binding: Option<&PortBinding>,
    v6: bool,
) -> Arrival<'a> {
    let bound: Option<IpAddr> = binding
        .and_then(|b| b.host_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
        .filter(|ip: &IpAddr| !ip.is_unspecified() && ip.is_ipv6() == v6);
    let (up, up_addr) = uplink(nv, hns, v6);
    match bound {
        Some(ip) if ip.is_loopback() => Arrival {
            v6,
            addr: Some(ip),
            link: None,
            local: true,
        },
        Some(ip) => Arrival {
            v6,
            addr: Some(ip),
            link: nv.link_with_ip(hns, ip).or(up),
            local: false,
        },
        None => Arrival {
            v6,
            addr: up_addr,
            link: up,
            local: false,
        },
    }
}

/// The first hop: a client reaching the host's address and port.
pub fn first_hop<'a>(
    t: &mut Trail<'_, 'a>,
    ctx: &Ctx<'a>,
    nv: &NodeView<'a>,
    hns: &'a Namespace,
    a: &Arrival<'a>,
    port: u16,
    proto: &str,
) {
    // An IPv6 address before a port is written in brackets, as clients take it.
    let addr = match a.addr {
        Some(IpAddr::V6(x)) => format!("[{x}]"),
        Some(x) => x.to_string(),
        None => "an address of the host".into(),
    };
    let mut ev = Vec::new();
    if let (Some(l), Some(x)) = (a.link, a.addr) {
        if let Some(ad) = hns
            .addresses
            .iter()
            .find(|ad| ad.ifindex == l.ifindex && ad.address == x.to_string())
        {
            ev.push(facts::address(&nv.ns_name(hns), hns, ad));
        }
    }
    let (text, el) = match (a.local, a.link) {
        (true, _) => (
            format!(
                "a client on {} itself connects to {addr}:{port}/{proto}",
                nv.host
            ),
            ctx.element(nv.netns_id(hns)),
        ),
        (false, Some(l)) => (
            format!(
                "a client elsewhere connects to {addr}:{port}/{proto}, arriving on {}",
                l.name
            ),
            ctx.element(nv.iface_id(hns, l)),
        ),
        (false, None) => (
            format!("a client elsewhere connects to {addr}:{port}/{proto}"),
            ctx.element(nv.host_id()),
        ),
    };
    t.pass(nv.host, el, text, ev);
}

/// The packet as it enters nat PREROUTING (or OUTPUT, for local clients).
pub fn inbound_packet(hns_local: Vec<IpAddr>, a: &Arrival<'_>, port: u16, proto: &str) -> Packet {
    Packet {
        v6: a.v6,
        dst: a.addr,
        proto: Some(proto.to_owned()),
        dport: Some(port),
        in_if: if a.local {
            None
        } else {
            Some(
                a.link
                    .map(|l| l.name.clone())
                    .unwrap_or_else(|| "*outside*".into()),
            )
        },
        local: hns_local,
        dst_local: a.addr.is_none().then_some(true),
        ..Packet::default()
    }
}
