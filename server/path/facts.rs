//! Kernel facts quoted the way the usual tools print them (`ip route`, `bridge fdb`, `ipvsadm -Ln`, iptables).

use crate::snapshot::{Address, FdbEntry, IpvsDestination, IpvsService, Namespace, Route, Rule};

use super::model::Evidence;
use crate::snapshot::LinkKind;

/// An iptables rule with its table: `-t nat -A DOCKER ...` (the rule part exactly as iptables-save printed it).
pub fn rule(ns: &str, table: &str, r: &Rule) -> Evidence {
    family_rule(ns, table, r, false)
}

/// An iptables rule, or an ip6tables one if `v6` (the evidence kind says which tool printed it).
pub fn family_rule(ns: &str, table: &str, r: &Rule, v6: bool) -> Evidence {
    Evidence {
        kind: tool(v6).into(),
        namespace: ns.into(),
        text: format!("-t {table} {}", r.text),
    }
}

/// A built-in chain's policy, as `iptables -S` (`ip6tables -S` if `v6`) prints it:
/// `-t filter -P FORWARD DROP`.
pub fn policy(ns: &str, table: &str, chain: &str, policy: &str, v6: bool) -> Evidence {
    Evidence {
        kind: tool(v6).into(),
        namespace: ns.into(),
        text: format!("-t {table} -P {chain} {policy}"),
    }
}

fn tool(v6: bool) -> &'static str {
    if v6 {
        "ip6tables"
    } else {
        "iptables"
    }
}

fn link_name(ns: &Namespace, ifindex: u32) -> String {
    ns.link(ifindex)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| format!("if{ifindex}"))
}

/// A route as `ip route` prints it: `198.18.0.0/24 dev docker0 proto kernel scope link src 198.18.0.1`.
pub fn route_text(ns: &Namespace, r: &Route) -> String {
    let host_len = if r.family == 6 { 128 } else { 32 };
    let mut s = if r.destination.is_empty() || (r.prefix_len == 0 && r.family == 4) {
        "default".to_owned()
    } else if r.prefix_len == host_len {
        r.destination.clone()
    } else {
        format!("{}/{}", r.destination, r.prefix_len)
    };
    if r.route_type != "unicast" && !r.route_type.is_empty() {
        s = format!("{} {s}", r.route_type);
    }
    if let Some(gw) = &r.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = r.oif {
        s.push_str(&format!(" dev {}", link_name(ns, oif)));
    }
    if r.table != 254 {
        let t = match r.table {
            255 => "local".to_owned(),
            253 => "default".to_owned(),
            n => n.to_string(),
        };
        s.push_str(&format!(" table {t}"));
    }
    // iproute2 leaves out the protocol `boot` and the scope `global`.
    if !r.protocol.is_empty() && r.protocol != "boot" {
        s.push_str(&format!(" proto {}", r.protocol));
    }
    if !r.scope.is_empty() && r.scope != "universe" {
        s.push_str(&format!(" scope {}", r.scope));
    }
    if let Some(src) = &r.prefsrc {
        s.push_str(&format!(" src {src}"));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    s
}

/// A route as evidence.
pub fn route(ns_label: &str, ns: &Namespace, r: &Route) -> Evidence {
    Evidence {
        kind: "route".into(),
        namespace: ns_label.into(),
        text: route_text(ns, r),
    }
}

/// An address as `ip -4 addr` prints its line: `inet 198.18.0.2/24 scope global eth0`.
pub fn address(ns_label: &str, ns: &Namespace, a: &Address) -> Evidence {
    let inet = if a.family == 6 { "inet6" } else { "inet" };
    let scope = match a.scope.as_str() {
        "universe" | "" => "global",
        other => other,
    };
    Evidence {
        kind: "address".into(),
        namespace: ns_label.into(),
        text: format!(
            "{inet} {}/{} scope {scope} {}",
            a.address,
            a.prefix_len,
            link_name(ns, a.ifindex)
        ),
    }
}

/// An FDB entry as `bridge fdb show` prints it:
/// `02:42:0a:0a:0a:05 dev vxlan0 dst 198.19.0.12 link-netnsid 0 self permanent`.
pub fn fdb_text(ns: &Namespace, e: &FdbEntry) -> String {
    let dev = ns.link(e.ifindex);
    let mut s = format!("{} dev {}", e.mac, link_name(ns, e.ifindex));
    if let Some(v) = e.vlan {
        s.push_str(&format!(" vlan {v}"));
    }
    if let Some(d) = &e.dst {
        s.push_str(&format!(" dst {d}"));
    }
    if let Some(p) = e.port {
        s.push_str(&format!(" port {p}"));
    }
    if let Some(v) = e.vni {
        s.push_str(&format!(" vni {v}"));
    }
    // The vxlan driver reports the underlay's namespace on remote entries, as the link itself does.
    if e.dst.is_some() {
        if let Some(nsid) = dev
            .filter(|l| l.kind == LinkKind::Vxlan)
            .and_then(|l| l.link_netnsid)
        {
            s.push_str(&format!(" link-netnsid {nsid}"));
        }
    }
    // iproute2's order, whatever order the snapshot lists them in.
    const ORDER: [&str; 7] = [
        "self",
        "router",
        "extern_learn",
        "offload",
        "master",
        "sticky",
        "locked",
    ];
    for f in ORDER {
        if e.flags.iter().any(|x| x == f) {
            s.push_str(&format!(" {f}"));
        }
    }
    if let Some(m) = e.master {
        s.push_str(&format!(" master {}", link_name(ns, m)));
    }
    if e.state.iter().any(|x| x == "permanent") {
        s.push_str(" permanent");
    } else if e.state.iter().any(|x| x == "noarp") {
        s.push_str(" static");
    } else if e.state.iter().any(|x| x == "stale") {
        s.push_str(" stale");
    }
    s
}

/// An FDB entry as evidence.
pub fn fdb(ns_label: &str, ns: &Namespace, e: &FdbEntry) -> Evidence {
    Evidence {
        kind: "fdb".into(),
        namespace: ns_label.into(),
        text: fdb_text(ns, e),
    }
}

/// An IPVS service line as `ipvsadm -Ln` prints it: `FWM  258 rr`, `TCP  10.0.0.2:80 rr`.
pub fn ipvs_service_text(s: &IpvsService) -> String {
    let head = match (s.fwmark, &s.address, s.port) {
        (Some(m), _, _) => format!("FWM  {m}"),
        (None, Some(a), Some(p)) => {
            let proto = s.protocol.as_deref().unwrap_or("?").to_uppercase();
            if a.contains(':') {
                format!("{proto}  [{a}]:{p}")
            } else {
                format!("{proto}  {a}:{p}")
            }
        }
        _ => "?".to_owned(),
    };
    format!("{head} {}", s.scheduler)
}

/// A real server line as `ipvsadm -Ln` prints it: `  -> 198.18.128.5:0   Masq    1      0          0`.
pub fn ipvs_destination_text(d: &IpvsDestination) -> String {
    let forward = match d.forward.as_str() {
        "masq" => "Masq".to_owned(),
        "local" => "Local".to_owned(),
        "tunnel" => "Tunnel".to_owned(),
        "route" => "Route".to_owned(),
        other => other.to_owned(),
    };
    let addr = if d.address.contains(':') {
        format!("[{}]:{}", d.address, d.port)
    } else {
        format!("{}:{}", d.address, d.port)
    };
    format!(
        "  -> {addr:<28} {forward:<7} {:<6} {:<10} {}",
        d.weight, d.active_conns, d.inactive_conns
    )
}

/// An IPVS service with its real servers, one evidence line each.
pub fn ipvs(ns_label: &str, s: &IpvsService) -> Vec<Evidence> {
    let mut out = vec![Evidence {
        kind: "ipvs".into(),
        namespace: ns_label.into(),
        text: ipvs_service_text(s),
    }];
    for d in &s.destinations {
        out.push(Evidence {
            kind: "ipvs".into(),
            namespace: ns_label.into(),
            text: ipvs_destination_text(d),
        });
    }
    out
}

/// An engine fact in words.
pub fn engine(what: String) -> Evidence {
    Evidence {
        kind: "engine".into(),
        namespace: String::new(),
        text: what,
    }
}

/// An IPsec SA as `ip xfrm state` heads it (no keys: the snapshot never holds them).
pub fn xfrm_sa(ns_label: &str, sa: &crate::snapshot::XfrmSa) -> Evidence {
    let mut text = format!(
        "src {} dst {} proto {} spi {} reqid {} mode {}",
        sa.src,
        sa.dst,
        sa.proto,
        crate::graph::encryption::spi_text(sa.spi),
        sa.reqid,
        sa.mode
    );
    for a in &sa.algorithms {
        text.push_str(&format!(" {a}"));
    }
    Evidence {
        kind: "xfrm".into(),
        namespace: ns_label.into(),
        text,
    }
}
