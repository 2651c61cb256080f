//! Findings about the kernel's switches and address plan: forwarding off on a node with
//! containers, a Docker network whose subnet collides with a host route or interface prefix.

use std::net::IpAddr;

use crate::names;
use crate::snapshot::{Namespace, Network};

use super::builder::Builder;
use super::findings::NodeView;
use super::ids;
use super::model::Severity;

/// The kernel findings of one node.
pub(super) fn per_node(b: &mut Builder, node: &NodeView) {
    let NodeView {
        snap,
        host,
        label,
        ns_names: names,
    } = *node;
    let (Some(hns), Some(engine)) = (snap.host_namespace(), snap.engine.as_ref()) else {
        return;
    };
    let hname = names.get(&hns.id).map(String::as_str).unwrap_or("host");
    let running = engine
        .containers
        .iter()
        .filter(|c| c.state == "running" && !c.endpoints.is_empty())
        .count();
    if running > 0 {
        if let Some(v) = hns
            .sysctls
            .as_ref()
            .and_then(|s| s.get("net.ipv4.ip_forward"))
            .filter(|v| *v == "0")
        {
            b.finding(
                "forwarding-off",
                Severity::Error,
                format!("net.ipv4.ip_forward = {v} on {label}, which runs {running} networked containers: the kernel forwards nothing, so their published ports, egress and traffic between networks do not work"),
                vec![ids::host(host), ids::netns(host, hname)],
            );
        }
    }
    for net in &engine.networks {
        collisions(b, hns, net, host, hname);
    }
}

/// The host's own name for a bridge network's bridge.
fn own_bridge(net: &Network) -> Option<String> {
    (net.driver == names::DRIVER_BRIDGE).then(|| {
        names::network_bridge(
            &net.name,
            &net.id,
            net.options
                .get(names::OPTION_BRIDGE_NAME)
                .map(String::as_str),
        )
    })
}

/// Routes and interface prefixes of the host namespace that overlap a subnet of `net`, except
/// those of its own bridge: traffic to them from its containers goes to the wrong place.
fn collisions(b: &mut Builder, hns: &Namespace, net: &Network, host: &str, hname: &str) {
    if matches!(net.driver.as_str(), names::DRIVER_HOST | names::DRIVER_NULL) {
        return;
    }
    let own = own_bridge(net);
    let mut what = Vec::new();
    let mut elements = vec![ids::network(host, &net.scope, &net.name)];
    for subnet in net.ipam.iter().filter_map(|c| prefix(&c.subnet)) {
        let mut note = |ifindex: Option<u32>, text: String| {
            let link = ifindex.and_then(|i| hns.link(i));
            if link.is_some_and(|l| Some(&l.name) == own.as_ref()) {
                return;
            }
            if let Some(l) = link {
                let el = ids::interface(host, hname, &l.name);
                if !elements.contains(&el) {
                    elements.push(el);
                }
            }
            if !what.contains(&text) {
                what.push(text);
            }
        };
        for r in hns
            .routes
            .iter()
            .filter(|r| r.table == 254 && r.prefix_len > 0 && r.route_type == "unicast")
        {
            if let Some(p) = r.destination.parse().ok().map(|a| (a, r.prefix_len)) {
                if overlap(subnet, p) {
                    let dev = r
                        .oif
                        .and_then(|i| hns.link(i))
                        .map(|l| format!(" dev {}", l.name))
                        .unwrap_or_default();
                    note(
                        r.oif,
                        format!("route {}/{}{dev}", r.destination, r.prefix_len),
                    );
                }
            }
        }
        for a in &hns.addresses {
            if let Ok(ip) = a.address.parse::<IpAddr>() {
                if a.scope == "universe" && overlap(subnet, (ip, a.prefix_len)) {
                    let dev = hns.link(a.ifindex).map(|l| l.name.as_str()).unwrap_or("?");
                    note(
                        Some(a.ifindex),
                        format!("{dev}'s address {}/{}", a.address, a.prefix_len),
                    );
                }
            }
        }
    }
    if what.is_empty() {
        return;
    }
    let subnets: Vec<&str> = net.ipam.iter().map(|c| c.subnet.as_str()).collect();
    b.finding(
        "subnet-collision",
        Severity::Warning,
        format!(
            "network {} ({}) overlaps the host's {}: its containers cannot reach those addresses there (a VPN or LAN collision)",
            net.name,
            subnets.join(", "),
            what.join(", ")
        ),
        elements,
    );
}

fn prefix(cidr: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = cidr.split_once('/')?;
    Some((a.parse().ok()?, l.parse().ok()?))
}

/// Whether two prefixes share an address (one holds the other).
fn overlap(a: (IpAddr, u8), b: (IpAddr, u8)) -> bool {
    let bits = |ip: IpAddr| -> (u128, u8) {
        match ip {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ((x, wa), (y, wb)) = (bits(a.0), bits(b.0));
    if wa != wb {
        return false;
    }
    let len = u32::from(a.1.min(b.1).min(wa));
    let shift = u32::from(wa) - len;
    len == 0 || x.checked_shr(shift).unwrap_or(0) == y.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_holds_the_other() {
        let p = |s| prefix(s).unwrap();
        assert!(overlap(p("198.18.0.0/16"), p("198.18.5.0/24")));
        assert!(overlap(p("198.18.5.0/24"), p("198.18.0.0/15")));
        assert!(!overlap(p("198.18.0.0/24"), p("198.18.1.0/24")));
        assert!(!overlap(p("198.18.0.0/24"), p("2001:2::/48")));
        assert!(overlap(p("2001:2:0:1::/64"), p("2001:2::/48")));
        assert!(!overlap(p("2001:2:0:1::/64"), p("2001:2:0:2::/64")));
    }
}
