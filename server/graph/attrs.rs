//! The facts each element carries (`attrs`): what the side panel, search and diffs read.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::names;
use crate::snapshot::{
    Container, FdbEntry, IpvsState, Link, LinkKind, Namespace, Network, NodeSnapshot, SourceState,
};

use super::index::NsIndex;
use super::model::InterfaceType;

pub(super) fn host_attrs(snap: &NodeSnapshot) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("hostname".into(), json!(snap.node.hostname));
    let id = crate::snapshot::NodeId::of(snap);
    a.insert("identity".into(), json!(id.recorded()));
    a.insert("identity_kind".into(), json!(id.kind.as_str()));
    a.insert("kernel".into(), json!(snap.node.kernel));
    a.insert("taken_at".into(), json!(snap.taken_at));
    a.insert("schema".into(), json!(snap.schema));
    if let Some(e) = &snap.engine {
        a.insert("engine_version".into(), json!(e.version));
        a.insert("engine_api".into(), json!(e.api_version));
        if !e.firewall_backend.is_empty() {
            a.insert("engine_firewall_backend".into(), json!(e.firewall_backend));
        }
        a.insert("swarm_state".into(), json!(e.swarm.local_state));
        if !e.swarm.node_id.is_empty() {
            a.insert("swarm_node_id".into(), json!(e.swarm.node_id));
            a.insert("swarm_node_addr".into(), json!(e.swarm.node_addr));
            a.insert("swarm_manager".into(), json!(e.swarm.is_manager));
        }
    }
    let failed: Vec<String> = snap
        .sources
        .iter()
        .filter(|s| s.state != SourceState::Ok)
        .map(|s| {
            let what = s.source.as_str();
            match &s.namespace {
                Some(ns) => format!("{what} ({ns}): {}", s.message),
                None => format!("{what}: {}", s.message),
            }
        })
        .collect();
    a.insert("sources_not_ok".into(), json!(failed));
    a
}

pub(super) fn netns_attrs(ns: &Namespace) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("role".into(), json!(ns.role));
    a.insert("paths".into(), json!(ns.paths));
    a.insert("inode".into(), json!(ns.id.ino));
    a.insert("dev".into(), json!(ns.id.dev));
    let names: HashMap<u32, &str> = ns
        .links
        .iter()
        .map(|l| (l.ifindex, l.name.as_str()))
        .collect();
    let routes: Vec<String> = ns
        .routes
        .iter()
        .filter(|r| r.table != 255)
        .map(|r| describe_route(r, &names))
        .collect();
    a.insert("routes".into(), json!(routes));
    let neigh: Vec<String> = ns
        .neighbours
        .iter()
        .map(|n| {
            format!(
                "{} lladdr {} dev {} {}",
                n.address,
                n.mac.as_deref().unwrap_or("-"),
                names.get(&n.ifindex).unwrap_or(&"?"),
                n.state.join(",")
            )
        })
        .collect();
    a.insert("neighbours".into(), json!(neigh));
    let ipvs = match &ns.ipvs {
        IpvsState::NotRead => json!("not read"),
        IpvsState::Unavailable { reason } => json!(format!("unavailable: {reason}")),
        IpvsState::Services { services } => json!(services),
    };
    a.insert("ipvs".into(), ipvs);
    if let Some(fw) = &ns.firewall {
        let count: usize = fw.ipv4.iter().chain(&fw.ipv6).map(|t| t.rules.len()).sum();
        a.insert("firewall_rules".into(), json!(count));
        a.insert("firewall_backend".into(), json!(fw.backend));
    }
    a
}

fn describe_route(r: &crate::snapshot::Route, names: &HashMap<u32, &str>) -> String {
    let dst = if r.destination.is_empty() {
        "default".to_owned()
    } else {
        format!("{}/{}", r.destination, r.prefix_len)
    };
    let mut s = dst;
    if let Some(gw) = &r.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = r.oif {
        s.push_str(&format!(" dev {}", names.get(&oif).unwrap_or(&"?")));
    }
    if let Some(src) = &r.prefsrc {
        s.push_str(&format!(" src {src}"));
    }
    if r.table != 254 {
        s.push_str(&format!(" table {}", r.table));
    }
    s
}

/// The interface's type as the picture shows it.
pub(super) fn interface_type(link: &Link) -> InterfaceType {
    match link.kind {
        LinkKind::Veth => InterfaceType::Veth,
        LinkKind::Bridge => InterfaceType::Bridge,
        LinkKind::Vxlan => InterfaceType::Vxlan,
        LinkKind::Plain if link.link_type == names::ARPHRD_LOOPBACK => InterfaceType::Loopback,
        LinkKind::Plain if link.link_type == names::ARPHRD_ETHER => InterfaceType::Physical,
        LinkKind::Plain | LinkKind::Other(_) => InterfaceType::Other,
    }
}

pub(super) fn interface_attrs(ns: &NsIndex, link: &Link) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("type".into(), json!(interface_type(link).as_str()));
    a.insert("name".into(), json!(link.name));
    a.insert("ifindex".into(), json!(link.ifindex));
    if !link.kind.is_plain() {
        a.insert("kind".into(), json!(link.kind));
    }
    a.insert("mtu".into(), json!(link.mtu));
    a.insert("mac".into(), json!(link.mac));
    a.insert("state".into(), json!(link.oper_state));
    a.insert("admin_up".into(), json!(link.admin_up));
    let addrs: Vec<String> = ns
        .addresses(link.ifindex)
        .iter()
        .map(|x| format!("{}/{}", x.address, x.prefix_len))
        .collect();
    a.insert("addresses".into(), json!(addrs));
    if let Some(m) = link.master.and_then(|m| ns.link(m)) {
        a.insert("master".into(), json!(m.name));
    }
    if let Some(alias) = &link.alias {
        a.insert("alias".into(), json!(alias));
    }
    if let Some(s) = &link.stats {
        a.insert("stats".into(), json!(s));
    }
    if let Some(v) = &link.vxlan {
        a.insert("vni".into(), json!(v.vni));
        a.insert("vxlan".into(), json!(v));
    }
    if let Some(b) = &link.bridge {
        a.insert("bridge".into(), json!(b));
    }
    let fdb: Vec<String> = ns
        .fdb(link.ifindex)
        .iter()
        .map(|e| describe_fdb(e))
        .collect();
    if !fdb.is_empty() {
        a.insert("fdb".into(), json!(fdb));
    }
    let rules = ns.rules_naming(&link.name);
    if !rules.is_empty() {
        a.insert("firewall_rules".into(), json!(rules));
    }
    a
}

fn describe_fdb(e: &FdbEntry) -> String {
    let mut s = e.mac.clone();
    if let Some(v) = e.vlan {
        s.push_str(&format!(" vlan {v}"));
    }
    if let Some(d) = &e.dst {
        s.push_str(&format!(" dst {d}"));
    }
    if let Some(v) = e.vni {
        s.push_str(&format!(" vni {v}"));
    }
    for f in e.flags.iter().chain(&e.state) {
        s.push(' ');
        s.push_str(f);
    }
    s
}

/// Add a host's view of a swarm network to what earlier hosts showed: endpoints are joined
/// (sorted, each naming its host); the rest is the same on every host, so the first is kept and
/// only what it lacked is added.
pub(super) fn merge_network_attrs(
    seen: &mut BTreeMap<String, Value>,
    more: BTreeMap<String, Value>,
) {
    for (key, value) in more {
        match (key.as_str(), seen.get_mut(&key)) {
            ("endpoints", Some(Value::Array(have))) => {
                if let Value::Array(add) = value {
                    have.extend(add);
                    have.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                    have.dedup();
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                seen.insert(key, value);
            }
        }
    }
}

pub(super) fn network_attrs(host: &str, net: &Network) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    a.insert("id".into(), json!(net.id));
    a.insert("name".into(), json!(net.name));
    a.insert("driver".into(), json!(net.driver));
    a.insert("scope".into(), json!(net.scope));
    a.insert("internal".into(), json!(net.internal));
    a.insert("attachable".into(), json!(net.attachable));
    a.insert("ingress".into(), json!(net.ingress));
    a.insert("ipv6".into(), json!(net.enable_ipv6));
    let subnets: Vec<&str> = net
        .ipam
        .iter()
        .map(|i| i.subnet.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let gateways: Vec<&str> = net
        .ipam
        .iter()
        .map(|i| i.gateway.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    a.insert("subnets".into(), json!(subnets));
    a.insert("gateways".into(), json!(gateways));
    a.insert("options".into(), json!(net.options));
    if net.driver == names::DRIVER_BRIDGE {
        // What decides direct access from outside (Docker 28+); unset means nat.
        for (fam, on) in [("ipv4", !net.ipv4_disabled), ("ipv6", net.enable_ipv6)] {
            if on {
                let mode = net
                    .options
                    .get(&format!("{}{fam}", names::OPTION_GATEWAY_MODE_PREFIX))
                    .map(String::as_str)
                    .unwrap_or("nat");
                a.insert(format!("gateway_mode_{fam}"), json!(mode));
            }
        }
    }
    if let Some(vni) = net.options.get(names::OPTION_VXLANID_LIST) {
        a.insert("vni".into(), json!(vni));
    }
    // A swarm network's element gathers the endpoints of every host: each says where it is.
    let on_host = if net.scope == "swarm" {
        format!("{host}: ")
    } else {
        String::new()
    };
    let mut eps: Vec<String> = net
        .endpoints
        .iter()
        .map(|e| format!("{on_host}{} {} {}", e.name, e.ipv4, e.mac))
        .collect();
    eps.sort();
    a.insert("endpoints".into(), json!(eps));
    if !net.peers.is_empty() {
        a.insert("peers".into(), json!(net.peers));
    }
    a
}

pub(super) fn container_attrs(c: &Container) -> BTreeMap<String, Value> {
    // Endpoints and ports in canonical order, so the graph never depends on the engine's order.
    let mut sorted = c.clone();
    sorted
        .endpoints
        .sort_by(|x, y| (&x.network_id, &x.ipv4).cmp(&(&y.network_id, &y.ipv4)));
    sorted.ports.sort_by(|x, y| {
        (x.private_port, &x.protocol, &x.host_ip, x.host_port).cmp(&(
            y.private_port,
            &y.protocol,
            &y.host_ip,
            y.host_port,
        ))
    });
    let c = &sorted;
    let mut a = BTreeMap::new();
    a.insert("id".into(), json!(c.id));
    a.insert("name".into(), json!(c.name));
    a.insert("image".into(), json!(c.image));
    a.insert("state".into(), json!(c.state));
    a.insert("pid".into(), json!(c.pid));
    a.insert("network_mode".into(), json!(c.network_mode));
    a.insert("sandbox_key".into(), json!(c.sandbox_key));
    let ips: Vec<&str> = c
        .endpoints
        .iter()
        .map(|e| e.ipv4.as_str())
        .chain(c.endpoints.iter().map(|e| e.ipv6.as_str()))
        .filter(|s| !s.is_empty())
        .collect();
    let macs: Vec<&str> = c
        .endpoints
        .iter()
        .map(|e| e.mac.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    a.insert("ips".into(), json!(ips));
    a.insert("macs".into(), json!(macs));
    let ports: Vec<String> = c
        .ports
        .iter()
        .map(|p| match (&p.host_ip, p.host_port) {
            (Some(ip), Some(hp)) => format!("{ip}:{hp}->{}/{}", p.private_port, p.protocol),
            _ => format!("{}/{}", p.private_port, p.protocol),
        })
        .collect();
    a.insert("ports".into(), json!(ports));
    a.insert("endpoints".into(), json!(c.endpoints));
    if !c.labels.is_empty() {
        a.insert("labels".into(), json!(c.labels));
    }
    a
}
