//! Kernel facts of one network namespace, as rtnetlink reports them.

use serde::{Deserialize, Serialize};

use super::{normalize_listeners, Firewall, IpvsState, Listener, Sysctls, Xfrm};

/// A network namespace's identity: the (device, inode) of its nsfs file.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct NsIdentity {
    /// st_dev of the namespace file.
    pub dev: u64,
    /// st_ino of the namespace file (what `ip netns identify` compares).
    pub ino: u64,
}

/// What a namespace is for, from where it was found and its file name.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum NamespaceRole {
    /// The namespace dockmap ran in.
    Host,
    /// A container's sandbox.
    Container,
    /// An overlay network's namespace (`1-<netid prefix>`): br0, vxlan0, vethN.
    Overlay,
    /// The routing mesh's sandbox (`ingress_sbox`).
    IngressSandbox,
    /// A network's load-balancer sandbox (`lb_<netid prefix>`).
    LoadBalancer,
    /// Anything else.
    #[default]
    Other,
}

/// One network namespace and what the kernel holds in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// (dev, inode) identity.
    pub id: NsIdentity,
    /// Short name: `host`, the netns file's name, or `pid:<pid>`.
    pub name: String,
    /// Every path this namespace was found at (netns files, /proc/<pid>/ns/net).
    pub paths: Vec<String>,
    /// Classification by origin and file name.
    pub role: NamespaceRole,
    /// Links (interfaces).
    pub links: Vec<Link>,
    /// IPv4 and IPv6 addresses.
    pub addresses: Vec<Address>,
    /// IPv4 and IPv6 routes of every table.
    pub routes: Vec<Route>,
    /// Neighbour (ARP / NDP) entries.
    pub neighbours: Vec<Neighbour>,
    /// Bridge forwarding database entries (AF_BRIDGE neighbours), VXLAN ones included.
    pub fdb: Vec<FdbEntry>,
    /// How this namespace numbers the other namespaces dockmap knows (link-netnsid map).
    pub nsids: Vec<NsIdMapping>,
    /// Packet filter rules, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<Firewall>,
    /// IPVS services, or why there are none to read.
    pub ipvs: IpvsState,
    /// IPsec SAs and policies, when read (never their keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xfrm: Option<Xfrm>,
    /// The sysctls that decide paths (forwarding, bridge netfilter, rp_filter, route_localnet), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<Sysctls>,
    /// Listening sockets (sock_diag), when read: the host namespace's only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<Listener>>,
}

impl Namespace {
    /// Sort every list into its canonical order.
    pub fn normalize(&mut self) {
        self.paths.sort();
        self.paths.dedup();
        self.links.sort_by_key(|l| l.ifindex);
        self.addresses.sort_by(|a, b| {
            (a.ifindex, &a.address, a.prefix_len).cmp(&(b.ifindex, &b.address, b.prefix_len))
        });
        self.routes.sort_by(|a, b| {
            (
                a.table,
                a.family,
                &a.destination,
                a.prefix_len,
                a.oif,
                &a.gateway,
                a.metric,
            )
                .cmp(&(
                    b.table,
                    b.family,
                    &b.destination,
                    b.prefix_len,
                    b.oif,
                    &b.gateway,
                    b.metric,
                ))
        });
        self.neighbours
            .sort_by(|a, b| (a.ifindex, &a.address).cmp(&(b.ifindex, &b.address)));
        self.fdb.sort_by(|a, b| {
            (a.ifindex, &a.mac, a.vlan, &a.dst, a.vni)
                .cmp(&(b.ifindex, &b.mac, b.vlan, &b.dst, b.vni))
        });
        self.nsids.sort_by_key(|m| (m.nsid, m.target));
        if let Some(fw) = self.firewall.as_mut() {
            fw.normalize();
        }
        self.ipvs.normalize();
        if let Some(x) = self.xfrm.as_mut() {
            x.normalize();
        }
        if let Some(s) = self.sysctls.as_mut() {
            s.normalize();
        }
        if let Some(l) = self.listeners.as_mut() {
            normalize_listeners(l);
        }
    }

    /// The link with this ifindex.
    pub fn link(&self, ifindex: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.ifindex == ifindex)
    }

    /// The namespace this one calls `nsid`, if known.
    pub fn resolve_nsid(&self, nsid: i32) -> Option<NsIdentity> {
        self.nsids.iter().find(|m| m.nsid == nsid).map(|m| m.target)
    }
}

/// One entry of a namespace's nsid map: "I call namespace `target` by `nsid`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsIdMapping {
    /// The id as this namespace reports it (IFLA_LINK_NETNSID).
    pub nsid: i32,
    /// The namespace it stands for.
    pub target: NsIdentity,
}

/// A network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Interface index, unique within its namespace only.
    pub ifindex: u32,
    /// Interface name, unique within its namespace only.
    pub name: String,
    /// IFLA_INFO_KIND (`veth`, `bridge`, `vxlan`, ...); none for physical and loopback.
    #[serde(default, skip_serializing_if = "LinkKind::is_plain")]
    pub kind: LinkKind,
    /// ARPHRD type (1 = ether, 772 = loopback).
    pub link_type: u16,
    /// MTU in bytes.
    pub mtu: u32,
    /// Hardware address, lower-case colon-separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Operational state as the kernel names it (up, down, unknown, lowerlayerdown, ...).
    pub oper_state: String,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// Master device (bridge) ifindex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<u32>,
    /// IFLA_LINK: for a veth, its peer's ifindex (in the namespace named by `link_netnsid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<u32>,
    /// IFLA_LINK_NETNSID: the namespace `link` lives in, as this namespace numbers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_netnsid: Option<i32>,
    /// Interface alias, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Traffic counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<LinkStats>,
    /// VXLAN parameters, for kind `vxlan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<VxlanInfo>,
    /// Bridge parameters, for kind `bridge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeInfo>,
}

/// A link's kind as the kernel names it (IFLA_INFO_KIND): the kinds dockmap tells apart get a
/// variant, any other keeps its name. On the wire it is that name, as it always was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum LinkKind {
    /// No IFLA_INFO_KIND: a physical device or loopback (written as no `kind` at all).
    #[default]
    Plain,
    /// One end of a veth pair.
    Veth,
    /// A Linux bridge.
    Bridge,
    /// A VXLAN tunnel device.
    Vxlan,
    /// Any other kind, by the kernel's name (`dummy`, `ifb`, `macvlan`, ...).
    Other(String),
}

impl LinkKind {
    /// The kernel's name of the kind (empty for [`LinkKind::Plain`]).
    pub fn as_str(&self) -> &str {
        match self {
            LinkKind::Plain => "",
            LinkKind::Veth => "veth",
            LinkKind::Bridge => "bridge",
            LinkKind::Vxlan => "vxlan",
            LinkKind::Other(name) => name,
        }
    }

    /// Whether the kernel gave no kind (physical devices, loopback).
    pub fn is_plain(&self) -> bool {
        *self == LinkKind::Plain
    }
}

impl From<&str> for LinkKind {
    fn from(name: &str) -> Self {
        match name {
            "" => LinkKind::Plain,
            "veth" => LinkKind::Veth,
            "bridge" => LinkKind::Bridge,
            "vxlan" => LinkKind::Vxlan,
            other => LinkKind::Other(other.to_owned()),
        }
    }
}

impl From<String> for LinkKind {
    fn from(name: String) -> Self {
        match LinkKind::from(name.as_str()) {
            LinkKind::Other(_) => LinkKind::Other(name),
            known => known,
        }
    }
}

impl From<LinkKind> for String {
    fn from(kind: LinkKind) -> Self {
        match kind {
            LinkKind::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for LinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Interface counters (IFLA_STATS64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Send errors.
    pub tx_errors: u64,
}

/// VXLAN device parameters (IFLA_VXLAN_*).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanInfo {
    /// VXLAN network identifier.
    pub vni: u32,
    /// Local underlay address, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Multicast group or single remote, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// UDP destination port.
    pub port: u16,
    /// Underlay device ifindex, if bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_ifindex: Option<u32>,
    /// Learns remote MACs from traffic.
    pub learning: bool,
    /// Answers ARP from its neighbour table (ARP proxy).
    pub proxy: bool,
    /// Reports L2 misses to user space.
    pub l2miss: bool,
    /// Reports L3 misses to user space.
    pub l3miss: bool,
    /// TTL of outer packets (0 = inherit).
    pub ttl: u8,
}

/// Linux bridge parameters (IFLA_BR_*).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeInfo {
    /// Spanning tree state (0 = off).
    pub stp_state: u32,
    /// VLAN filtering on.
    pub vlan_filtering: bool,
    /// Forwarding-database ageing time, in centiseconds.
    pub ageing_time: u32,
}

/// An interface address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The interface it is on.
    pub ifindex: u32,
    /// 4 or 6.
    pub family: u8,
    /// The address, without prefix.
    pub address: String,
    /// The prefix length.
    pub prefix_len: u8,
    /// Scope as the kernel names it (universe, link, host).
    pub scope: String,
}

/// A route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// 4 or 6.
    pub family: u8,
    /// Routing table id (254 = main, 255 = local).
    pub table: u32,
    /// Destination network (empty for default).
    pub destination: String,
    /// Destination prefix length.
    pub prefix_len: u8,
    /// Next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Output interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<u32>,
    /// Preferred source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<String>,
    /// Route type (unicast, local, broadcast, ...).
    pub route_type: String,
    /// Who installed it (kernel, boot, static, ...).
    pub protocol: String,
    /// Scope (universe, link, host).
    pub scope: String,
    /// Metric / priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

/// A neighbour (ARP / NDP) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The interface it is on.
    pub ifindex: u32,
    /// 4 or 6.
    pub family: u8,
    /// The IP address.
    pub address: String,
    /// The link-layer address, if resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// NUD state names (reachable, stale, permanent, ...).
    pub state: Vec<String>,
}

/// A bridge forwarding-database entry (what `bridge fdb show` lists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbEntry {
    /// The port (or vxlan device) the entry is on.
    pub ifindex: u32,
    /// The bridge it belongs to, if reported (NDA_MASTER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<u32>,
    /// The MAC address.
    pub mac: String,
    /// VLAN id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// For VXLAN: the remote underlay address (NDA_DST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    /// For VXLAN: the VNI, if given per entry (NDA_VNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// For VXLAN: the UDP port, if given per entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// NUD state names (permanent, noarp, reachable, ...).
    pub state: Vec<String>,
    /// NTF_* flag names (self, master, extern_learn, ...).
    pub flags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Links as snapshots on disk hold them (written before the kind was typed): each reads
    /// into its variant and writes back to the same bytes.
    #[test]
    fn link_kinds_read_and_write_the_kernel_names() {
        let cases = [
            (
                r#"{"ifindex":1,"name":"lo","link_type":772,"mtu":65536,"oper_state":"unknown","admin_up":true}"#,
                LinkKind::Plain,
            ),
            (
                r#"{"ifindex":5,"name":"veth1","kind":"veth","link_type":1,"mtu":1500,"oper_state":"up","admin_up":true}"#,
                LinkKind::Veth,
            ),
            (
                r#"{"ifindex":3,"name":"docker0","kind":"bridge","link_type":1,"mtu":1500,"oper_state":"down","admin_up":true}"#,
                LinkKind::Bridge,
            ),
            (
                r#"{"ifindex":9,"name":"vxlan0","kind":"vxlan","link_type":1,"mtu":1450,"oper_state":"up","admin_up":true}"#,
                LinkKind::Vxlan,
            ),
            (
                r#"{"ifindex":7,"name":"ifb0","kind":"ifb","link_type":1,"mtu":1500,"oper_state":"down","admin_up":false}"#,
                LinkKind::Other("ifb".into()),
            ),
        ];
        for (json, kind) in cases {
            let link: Link = serde_json::from_str(json).unwrap();
            assert_eq!(link.kind, kind, "{json}");
            assert_eq!(serde_json::to_string(&link).unwrap(), json);
        }
        // An explicit empty kind (never written, but harmless) is no kind.
        let link: Link = serde_json::from_str(
            r#"{"ifindex":2,"name":"eth0","kind":"","link_type":1,"mtu":1500,"oper_state":"up","admin_up":true}"#,
        )
        .unwrap();
        assert!(link.kind.is_plain());
    }

    #[test]
    fn link_kind_names_round_trip() {
        for name in ["", "veth", "bridge", "vxlan", "dummy", "wireguard"] {
            let kind = LinkKind::from(name);
            assert_eq!(kind.as_str(), name);
            assert_eq!(String::from(kind.clone()), name);
            assert_eq!(LinkKind::from(name.to_owned()), kind);
        }
        assert_eq!(LinkKind::from("veth"), LinkKind::Veth);
        assert_eq!(LinkKind::from("vethx"), LinkKind::Other("vethx".into()));
    }
}
