//! Pure decoding: rtnetlink messages into snapshot facts, and the kernel's names for numbers.
//!
//! Everything here is a function of bytes already read, so it is tested without root.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{
        InfoBridge, InfoData, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
    },
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage},
    route::{RouteAddress, RouteAttribute, RouteMessage, RouteVia},
    AddressFamily,
};

use crate::snapshot::{
    Address, BridgeInfo, FdbEntry, Link, LinkKind, LinkStats, Neighbour, Route, VxlanInfo,
};

/// A link-layer address as `ip` prints it: lower-case hex bytes joined by colons.
pub fn mac_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// An IP address carried as raw bytes (AF_BRIDGE FDB `dst`): 4 bytes are IPv4, 16 are IPv6.
pub fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => {
            let a: [u8; 4] = bytes.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(a)))
        }
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// The family number the snapshot uses: 4, 6, or `None` for anything else.
pub fn ip_family(family: AddressFamily) -> Option<u8> {
    match family {
        AddressFamily::Inet => Some(4),
        AddressFamily::Inet6 => Some(6),
        _ => None,
    }
}

/// Operational state (IF_OPER_*) as the kernel's documentation names it, lower-case.
pub fn oper_state_name(state: u8) -> String {
    match state {
        0 => "unknown".into(),
        1 => "notpresent".into(),
        2 => "down".into(),
        3 => "lowerlayerdown".into(),
        4 => "testing".into(),
        5 => "dormant".into(),
        6 => "up".into(),
        n => n.to_string(),
    }
}

/// Scope (RT_SCOPE_*) of an address or route.
pub fn scope_name(scope: u8) -> String {
    match scope {
        0 => "universe".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// Route type (RTN_*).
pub fn route_type_name(kind: u8) -> String {
    const NAMES: [&str; 12] = [
        "unspec",
        "unicast",
        "local",
        "broadcast",
        "anycast",
        "multicast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
        "xresolve",
    ];
    NAMES
        .get(usize::from(kind))
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| kind.to_string())
}

/// Route protocol (RTPROT_*), with the names of /etc/iproute2/rt_protos.
pub fn route_protocol_name(proto: u8) -> String {
    match proto {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        8 => "gated".into(),
        9 => "ra".into(),
        10 => "mrt".into(),
        11 => "zebra".into(),
        12 => "bird".into(),
        13 => "dnrouted".into(),
        14 => "xorp".into(),
        15 => "ntk".into(),
        16 => "dhcp".into(),
        17 => "mrouted".into(),
        18 => "keepalived".into(),
        42 => "babel".into(),
        99 => "openr".into(),
        186 => "bgp".into(),
        187 => "isis".into(),
        188 => "ospf".into(),
        189 => "rip".into(),
        192 => "eigrp".into(),
        n => n.to_string(),
    }
}

/// NUD_* state bits as names; a state of 0 is `none`.
pub fn nud_state_names(state: u16) -> Vec<String> {
    const BITS: [(u16, &str); 8] = [
        (0x01, "incomplete"),
        (0x02, "reachable"),
        (0x04, "stale"),
        (0x08, "delay"),
        (0x10, "probe"),
        (0x20, "failed"),
        (0x40, "noarp"),
        (0x80, "permanent"),
    ];
    if state == 0 {
        return vec!["none".into()];
    }
    let mut names: Vec<String> = BITS
        .iter()
        .filter(|(bit, _)| state & bit != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect();
    let unknown = state & !0xff;
    if unknown != 0 {
        names.push(format!("0x{unknown:x}"));
    }
    names
}

/// NTF_* flag bits (and NTF_EXT_* bits) as the names `bridge fdb show` prints.
pub fn ntf_flag_names(flags: u8, ext_flags: u32) -> Vec<String> {
    const BITS: [(u8, &str); 8] = [
        (0x01, "use"),
        (0x02, "self"),
        (0x04, "master"),
        (0x08, "proxy"),
        (0x10, "extern_learn"),
        (0x20, "offload"),
        (0x40, "sticky"),
        (0x80, "router"),
    ];
    const EXT: [(u32, &str); 2] = [(0x1, "managed"), (0x2, "locked")];
    let mut names: Vec<String> = BITS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect();
    names.extend(
        EXT.iter()
            .filter(|(bit, _)| ext_flags & bit != 0)
            .map(|(_, n)| (*n).to_owned()),
    );
    let unknown_ext = ext_flags & !0x3;
    if unknown_ext != 0 {
        names.push(format!("ext:0x{unknown_ext:x}"));
    }
    names
}

fn oper_state_u8(state: &State) -> u8 {
    u8::from(*state)
}

/// One RTM_NEWLINK into a [`Link`].
pub fn link(msg: &LinkMessage) -> Link {
    let mut out = Link {
        ifindex: msg.header.index,
        link_type: u16::from(msg.header.link_layer_type),
        admin_up: msg.header.flags.contains(LinkFlags::Up),
        oper_state: oper_state_name(0),
        ..Link::default()
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => out.name = n.clone(),
            LinkAttribute::Mtu(m) => out.mtu = *m,
            LinkAttribute::Address(a) => out.mac = mac_string(a),
            LinkAttribute::OperState(s) => out.oper_state = oper_state_name(oper_state_u8(s)),
            LinkAttribute::Controller(m) => out.master = Some(*m),
            LinkAttribute::Link(l) => out.link = Some(*l),
            LinkAttribute::LinkNetNsId(n) => out.link_netnsid = Some(*n),
            LinkAttribute::IfAlias(a) => out.alias = Some(a.clone()),
            LinkAttribute::Stats64(s) => {
                out.stats = Some(LinkStats {
                    rx_bytes: s.rx_bytes,
                    tx_bytes: s.tx_bytes,
                    rx_packets: s.rx_packets,
                    tx_packets: s.tx_packets,
                    rx_dropped: s.rx_dropped,
                    tx_dropped: s.tx_dropped,
                    rx_errors: s.rx_errors,
                    tx_errors: s.tx_errors,
                })
            }
            LinkAttribute::LinkInfo(infos) => link_info(infos, &mut out),
            _ => {}
        }
    }
    out
}

fn link_info(infos: &[LinkInfo], out: &mut Link) {
    for info in infos {
        match info {
            LinkInfo::Kind(k) => out.kind = LinkKind::from(k.to_string()),
            LinkInfo::Data(InfoData::Vxlan(v)) => out.vxlan = Some(vxlan(v)),
            LinkInfo::Data(InfoData::Bridge(b)) => out.bridge = Some(bridge(b)),
            _ => {}
        }
    }
}

/// IFLA_VXLAN_* attributes into [`VxlanInfo`].
pub fn vxlan(attrs: &[InfoVxlan]) -> VxlanInfo {
    let mut out = VxlanInfo::default();
    for a in attrs {
        match a {
            InfoVxlan::Id(v) => out.vni = *v,
            InfoVxlan::Local(ip) => out.local = Some(ip.to_string()),
            InfoVxlan::Local6(ip) => out.local = Some(ip.to_string()),
            InfoVxlan::Group(ip) => out.group = Some(ip.to_string()),
            InfoVxlan::Group6(ip) => out.group = Some(ip.to_string()),
            InfoVxlan::Port(p) => out.port = *p,
            InfoVxlan::Link(l) if *l != 0 => out.underlay_ifindex = Some(*l),
            InfoVxlan::Learning(b) => out.learning = *b,
            InfoVxlan::Proxy(b) => out.proxy = *b,
            InfoVxlan::L2Miss(b) => out.l2miss = *b,
            InfoVxlan::L3Miss(b) => out.l3miss = *b,
            InfoVxlan::Ttl(t) => out.ttl = *t,
            _ => {}
        }
    }
    out
}

/// IFLA_BR_* attributes into [`BridgeInfo`].
pub fn bridge(attrs: &[InfoBridge]) -> BridgeInfo {
    let mut out = BridgeInfo::default();
    for a in attrs {
        match a {
            InfoBridge::StpState(s) => out.stp_state = u32::from(*s),
            InfoBridge::VlanFiltering(v) => out.vlan_filtering = *v,
            InfoBridge::AgeingTime(t) => out.ageing_time = *t,
            _ => {}
        }
    }
    out
}

/// One RTM_NEWADDR into an [`Address`]; `None` for families other than IPv4/IPv6.
pub fn address(msg: &AddressMessage) -> Option<Address> {
    let family = ip_family(msg.header.family)?;
    let mut local = None;
    let mut addr = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => addr = Some(*ip),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point links.
    let ip = local.or(addr)?;
    Some(Address {
        ifindex: msg.header.index,
        family,
        address: ip.to_string(),
        prefix_len: msg.header.prefix_len,
        scope: scope_name(u8::from(msg.header.scope)),
    })
}

fn route_addr(a: &RouteAddress) -> Option<String> {
    match a {
        RouteAddress::Inet(ip) => Some(ip.to_string()),
        RouteAddress::Inet6(ip) => Some(ip.to_string()),
        RouteAddress::Other(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
        _ => None,
    }
}

fn via_addr(v: &RouteVia) -> Option<String> {
    match v {
        RouteVia::Inet(ip) => Some(ip.to_string()),
        RouteVia::Inet6(ip) => Some(ip.to_string()),
        _ => None,
    }
}

/// One RTM_NEWROUTE into a [`Route`]; `None` for families other than IPv4/IPv6.
///
/// A multipath route keeps its first next hop's gateway and device.
pub fn route(msg: &RouteMessage) -> Option<Route> {
    let family = ip_family(msg.header.address_family)?;
    let mut out = Route {
        family,
        table: u32::from(msg.header.table),
        prefix_len: msg.header.destination_prefix_length,
        route_type: route_type_name(u8::from(msg.header.kind)),
        protocol: route_protocol_name(u8::from(msg.header.protocol)),
        scope: scope_name(u8::from(msg.header.scope)),
        ..Route::default()
    };
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => out.table = *t,
            RouteAttribute::Destination(d) => out.destination = route_addr(d).unwrap_or_default(),
            RouteAttribute::Gateway(g) => out.gateway = route_addr(g),
            RouteAttribute::Via(v) => out.gateway = via_addr(v),
            RouteAttribute::Oif(o) => out.oif = Some(*o),
            RouteAttribute::PrefSource(p) => out.prefsrc = route_addr(p),
            RouteAttribute::Priority(p) => out.metric = Some(*p),
            _ => {}
        }
    }
    let first_hop = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::MultiPath(hops) => hops.first(),
        _ => None,
    });
    if let Some(hop) = first_hop {
        if out.oif.is_none() && hop.interface_index != 0 {
            out.oif = Some(hop.interface_index);
        }
        if out.gateway.is_none() {
            out.gateway = hop.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(g) => route_addr(g),
                RouteAttribute::Via(v) => via_addr(v),
                _ => None,
            });
        }
    }
    Some(out)
}

fn neighbour_addr(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        NeighbourAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        NeighbourAddress::Other(bytes) => ip_from_bytes(bytes),
        _ => None,
    }
}

/// One IPv4/IPv6 RTM_NEWNEIGH into a [`Neighbour`]; `None` for other families.
pub fn neighbour(msg: &NeighbourMessage) -> Option<Neighbour> {
    let family = ip_family(msg.header.family)?;
    let mut out = Neighbour {
        ifindex: msg.header.ifindex,
        family,
        state: nud_state_names(u16::from(msg.header.state)),
        ..Neighbour::default()
    };
    for attr in &msg.attributes {
        match attr {
            NeighbourAttribute::Destination(d) => {
                out.address = neighbour_addr(d)
                    .map(|ip| ip.to_string())
                    .unwrap_or_default()
            }
            NeighbourAttribute::LinkLayerAddress(l) => out.mac = Some(mac_string(l)),
            _ => {}
        }
    }
    Some(out)
}

/// One AF_BRIDGE RTM_NEWNEIGH into an [`FdbEntry`]; `None` for other families.
pub fn fdb(msg: &NeighbourMessage) -> Option<FdbEntry> {
    if msg.header.family != AddressFamily::Bridge {
        return None;
    }
    let mut out = FdbEntry {
        ifindex: msg.header.ifindex,
        state: nud_state_names(u16::from(msg.header.state)),
        ..FdbEntry::default()
    };
    let mut ext = 0u32;
    for attr in &msg.attributes {
        match attr {
            NeighbourAttribute::LinkLayerAddress(l) => out.mac = mac_string(l),
            NeighbourAttribute::Destination(d) => {
                out.dst = neighbour_addr(d).map(|ip| ip.to_string())
            }
            NeighbourAttribute::Controller(m) => out.master = Some(*m),
            NeighbourAttribute::Vlan(v) => out.vlan = Some(*v),
            NeighbourAttribute::Vni(v) => out.vni = Some(*v),
            NeighbourAttribute::Port(p) => out.port = Some(*p),
            NeighbourAttribute::ExtFlags(f) => ext = f.bits(),
            _ => {}
        }
    }
    out.flags = ntf_flag_names(msg.header.flags.bits(), ext);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::route::{RouteHeader, RouteNextHop};
    use netlink_packet_route::RouteNetlinkMessage;

    /// One netlink attribute, padded to 4 bytes as the kernel sends it.
    fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = 4 + payload.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    /// A whole netlink message of `msg_type` around `body`, parsed as the socket would.
    fn parse(msg_type: u16, body: &[u8]) -> RouteNetlinkMessage {
        let len = 16 + body.len();
        let mut buf = Vec::new();
        buf.extend_from_slice(&(len as u32).to_ne_bytes());
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        buf.extend_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(body);
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf)
            .expect("test bytes parse")
            .payload
        {
            NetlinkPayload::InnerMessage(m) => m,
            other => panic!("not an inner message: {other:?}"),
        }
    }

    const RTM_NEWLINK: u16 = 16;
    const RTM_NEWNEIGH: u16 = 28;

    #[test]
    fn formats_macs_and_raw_ips() {
        assert_eq!(
            mac_string(&[0x02, 0x42, 0xc6, 0x12, 0, 5]),
            "02:42:c6:12:00:05"
        );
        assert_eq!(mac_string(&[]), "");
        assert_eq!(
            ip_from_bytes(&[198, 19, 0, 2]),
            Some("198.19.0.2".parse().unwrap())
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_from_bytes(&v6), Some("::1".parse().unwrap()));
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn names_kernel_numbers() {
        assert_eq!(oper_state_name(6), "up");
        assert_eq!(oper_state_name(3), "lowerlayerdown");
        assert_eq!(oper_state_name(42), "42");
        assert_eq!(scope_name(0), "universe");
        assert_eq!(scope_name(253), "link");
        assert_eq!(scope_name(254), "host");
        assert_eq!(route_type_name(1), "unicast");
        assert_eq!(route_type_name(2), "local");
        assert_eq!(route_type_name(99), "99");
        assert_eq!(route_protocol_name(2), "kernel");
        assert_eq!(route_protocol_name(3), "boot");
        assert_eq!(route_protocol_name(4), "static");
        assert_eq!(route_protocol_name(200), "200");
    }

    #[test]
    fn nud_states_are_bit_names() {
        assert_eq!(nud_state_names(0), vec!["none"]);
        assert_eq!(nud_state_names(0x80), vec!["permanent"]);
        assert_eq!(nud_state_names(0x42), vec!["reachable", "noarp"]);
        assert_eq!(nud_state_names(0x104), vec!["stale", "0x100"]);
    }

    #[test]
    fn ntf_flags_are_bridge_names() {
        assert_eq!(ntf_flag_names(0x02, 0), vec!["self"]);
        assert_eq!(ntf_flag_names(0x06, 0), vec!["self", "master"]);
        assert_eq!(ntf_flag_names(0x10, 0x2), vec!["extern_learn", "locked"]);
        assert_eq!(ntf_flag_names(0, 0x10), vec!["ext:0x10"]);
        assert!(ntf_flag_names(0, 0).is_empty());
    }

    #[test]
    fn vxlan_fdb_entry_from_kernel_bytes() {
        // struct ndmsg: AF_BRIDGE, ifindex 5, NUD_PERMANENT, NTF_SELF.
        let mut body = vec![7u8, 0, 0, 0];
        body.extend_from_slice(&5u32.to_ne_bytes());
        body.extend_from_slice(&0x80u16.to_ne_bytes());
        body.push(0x02);
        body.push(0);
        body.extend(nla(2, &[0, 0, 0, 0, 0, 0])); // NDA_LLADDR
        body.extend(nla(1, &[198, 19, 0, 2])); // NDA_DST: raw bytes under AF_BRIDGE
        body.extend(nla(7, &4097u32.to_ne_bytes())); // NDA_VNI
        body.extend(nla(6, &4789u16.to_be_bytes())); // NDA_PORT, network order
        body.extend(nla(9, &3u32.to_ne_bytes())); // NDA_MASTER
        body.extend(nla(5, &10u16.to_ne_bytes())); // NDA_VLAN
        let RouteNetlinkMessage::NewNeighbour(msg) = parse(RTM_NEWNEIGH, &body) else {
            panic!("not a neighbour message");
        };
        let e = fdb(&msg).expect("an AF_BRIDGE entry");
        assert_eq!(e.ifindex, 5);
        assert_eq!(e.mac, "00:00:00:00:00:00");
        assert_eq!(e.dst.as_deref(), Some("198.19.0.2"));
        assert_eq!(e.vni, Some(4097));
        assert_eq!(e.port, Some(4789));
        assert_eq!(e.master, Some(3));
        assert_eq!(e.vlan, Some(10));
        assert_eq!(e.state, vec!["permanent"]);
        assert_eq!(e.flags, vec!["self"]);
        // The same message is not an IP neighbour.
        assert!(neighbour(&msg).is_none());
    }

    #[test]
    fn ip_neighbour_from_kernel_bytes() {
        let mut body = vec![2u8, 0, 0, 0]; // AF_INET
        body.extend_from_slice(&4u32.to_ne_bytes());
        body.extend_from_slice(&0x02u16.to_ne_bytes());
        body.extend_from_slice(&[0, 1]);
        body.extend(nla(1, &[198, 18, 0, 2]));
        body.extend(nla(2, &[2, 0, 0, 0, 0, 2]));
        let RouteNetlinkMessage::NewNeighbour(msg) = parse(RTM_NEWNEIGH, &body) else {
            panic!("not a neighbour message");
        };
        assert!(fdb(&msg).is_none());
        let n = neighbour(&msg).unwrap();
        assert_eq!(
            (n.ifindex, n.family, n.address.as_str()),
            (4, 4, "198.18.0.2")
        );
        assert_eq!(n.mac.as_deref(), Some("02:00:00:00:00:02"));
        assert_eq!(n.state, vec!["reachable"]);
    }

    fn ifinfomsg(index: u32, flags: u32, arphrd: u16) -> Vec<u8> {
        let mut b = vec![0u8, 0];
        b.extend_from_slice(&arphrd.to_ne_bytes());
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b
    }

    #[test]
    fn vxlan_link_from_kernel_bytes() {
        let mut data = Vec::new();
        data.extend(nla(1, &4097u32.to_ne_bytes())); // IFLA_VXLAN_ID
        data.extend(nla(3, &2u32.to_ne_bytes())); // IFLA_VXLAN_LINK
        data.extend(nla(4, &[198, 18, 1, 4])); // IFLA_VXLAN_LOCAL
        data.extend(nla(5, &[64])); // IFLA_VXLAN_TTL
        data.extend(nla(7, &[0])); // IFLA_VXLAN_LEARNING
        data.extend(nla(11, &[1])); // IFLA_VXLAN_PROXY
        data.extend(nla(13, &[1])); // IFLA_VXLAN_L2MISS
        data.extend(nla(14, &[0])); // IFLA_VXLAN_L3MISS
        data.extend(nla(15, &4789u16.to_be_bytes())); // IFLA_VXLAN_PORT
        let mut info = nla(1, b"vxlan\0");
        info.extend(nla(2, &data));

        let mut body = ifinfomsg(9, 0x1 | 0x40, 1);
        body.extend(nla(3, b"vxlan0\0")); // IFLA_IFNAME
        body.extend(nla(4, &1450u32.to_ne_bytes())); // IFLA_MTU
        body.extend(nla(1, &[0x02, 0x42, 0, 0, 0, 9])); // IFLA_ADDRESS
        body.extend(nla(16, &[6])); // IFLA_OPERSTATE up
        body.extend(nla(10, &4u32.to_ne_bytes())); // IFLA_MASTER
        body.extend(nla(18, &info)); // IFLA_LINKINFO
        let RouteNetlinkMessage::NewLink(msg) = parse(RTM_NEWLINK, &body) else {
            panic!("not a link message");
        };
        let l = link(&msg);
        assert_eq!(
            (l.ifindex, l.name.as_str(), l.kind.as_str()),
            (9, "vxlan0", "vxlan")
        );
        assert_eq!((l.mtu, l.link_type), (1450, 1));
        assert_eq!(l.mac, "02:42:00:00:00:09");
        assert_eq!(l.oper_state, "up");
        assert!(l.admin_up);
        assert_eq!(l.master, Some(4));
        let vx = l.vxlan.expect("vxlan info");
        assert_eq!(vx.vni, 4097);
        assert_eq!(vx.port, 4789);
        assert_eq!(vx.local.as_deref(), Some("198.18.1.4"));
        assert_eq!(vx.underlay_ifindex, Some(2));
        assert_eq!(vx.ttl, 64);
        assert!(!vx.learning && vx.proxy && vx.l2miss && !vx.l3miss);
        assert!(l.bridge.is_none());
    }

    #[test]
    fn veth_and_bridge_links_from_kernel_bytes() {
        let mut veth = ifinfomsg(3, 0, 1);
        veth.extend(nla(3, b"eth0\0"));
        veth.extend(nla(5, &12u32.to_ne_bytes())); // IFLA_LINK
        veth.extend(nla(37, &7i32.to_ne_bytes())); // IFLA_LINK_NETNSID
        veth.extend(nla(20, b"uplink\0")); // IFLA_IFALIAS
        veth.extend(nla(18, &nla(1, b"veth\0")));
        let RouteNetlinkMessage::NewLink(msg) = parse(RTM_NEWLINK, &veth) else {
            panic!("not a link message");
        };
        let l = link(&msg);
        assert_eq!(l.kind, crate::snapshot::LinkKind::Veth);
        assert_eq!((l.link, l.link_netnsid), (Some(12), Some(7)));
        assert_eq!(l.alias.as_deref(), Some("uplink"));
        assert!(!l.admin_up);

        let mut data = Vec::new();
        data.extend(nla(4, &30000u32.to_ne_bytes())); // IFLA_BR_AGEING_TIME
        data.extend(nla(5, &1u32.to_ne_bytes())); // IFLA_BR_STP_STATE
        data.extend(nla(7, &[1])); // IFLA_BR_VLAN_FILTERING
        let mut info = nla(1, b"bridge\0");
        info.extend(nla(2, &data));
        let mut br = ifinfomsg(4, 1, 1);
        br.extend(nla(3, b"br0\0"));
        br.extend(nla(18, &info));
        let RouteNetlinkMessage::NewLink(msg) = parse(RTM_NEWLINK, &br) else {
            panic!("not a link message");
        };
        let b = link(&msg).bridge.expect("bridge info");
        assert_eq!(
            (b.ageing_time, b.stp_state, b.vlan_filtering),
            (30000, 1, true)
        );
    }

    #[test]
    fn routes_keep_table_gateway_and_first_multipath_hop() {
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.destination_prefix_length = 24;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = 4u8.into();
        r.header.kind = 1u8.into();
        r.attributes = vec![
            RouteAttribute::Destination(RouteAddress::Inet("198.19.5.0".parse().unwrap())),
            RouteAttribute::Table(1000),
            RouteAttribute::Priority(7),
        ];
        let mut hop = RouteNextHop::default();
        hop.interface_index = 3;
        hop.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(
            "198.18.0.2".parse().unwrap(),
        ))];
        r.attributes.push(RouteAttribute::MultiPath(vec![hop]));
        let out = route(&r).unwrap();
        assert_eq!(
            out.table, 1000,
            "RTA_TABLE wins over the 8-bit header field"
        );
        assert_eq!(out.destination, "198.19.5.0");
        assert_eq!(out.prefix_len, 24);
        assert_eq!(out.gateway.as_deref(), Some("198.18.0.2"));
        assert_eq!(out.oif, Some(3));
        assert_eq!(out.metric, Some(7));
        assert_eq!(
            (out.protocol.as_str(), out.route_type.as_str()),
            ("static", "unicast")
        );

        let mut default = RouteMessage::default();
        default.header.address_family = AddressFamily::Inet6;
        let d = route(&default).unwrap();
        assert_eq!((d.family, d.destination.as_str()), (6, ""));

        let mut mcast = RouteMessage::default();
        mcast.header.address_family = AddressFamily::from(128u8);
        assert!(
            route(&mcast).is_none(),
            "multicast-routing families are not routes"
        );
    }

    #[test]
    fn address_prefers_local_over_peer() {
        let mut a = AddressMessage::default();
        a.header.family = AddressFamily::Inet;
        a.header.prefix_len = 32;
        a.header.index = 2;
        a.header.scope = 253u8.into();
        a.attributes = vec![
            AddressAttribute::Address("198.19.0.9".parse().unwrap()),
            AddressAttribute::Local("198.18.0.9".parse().unwrap()),
        ];
        let out = address(&a).unwrap();
        assert_eq!(out.address, "198.18.0.9");
        assert_eq!((out.family, out.prefix_len, out.ifindex), (4, 32, 2));
        assert_eq!(out.scope, "link");

        a.header.family = AddressFamily::Bridge;
        assert!(address(&a).is_none());
    }
}
