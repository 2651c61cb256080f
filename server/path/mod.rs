//! Packet paths derived from snapshots: published ports, the routing mesh, VIPs, egress, east-west.
//!
//! Pure functions of the snapshots and their graph: every hop names the graph element it is at
//! and quotes the fact (rule, route, FDB entry, IPVS service) that makes it.

mod bridge;
mod direct;
mod eastwest;
mod egress;
pub mod facts;
mod inbound;
mod lookup;
mod mesh;
pub mod model;
mod native;
mod nft;
mod ports;
pub mod rules;
mod segments;
mod switches;
pub mod text;
mod trail;
mod v6;
mod vip;
pub mod watch;

#[cfg(test)]
mod tests;

pub use model::*;

use std::net::IpAddr;

use crate::graph::Graph;
use crate::snapshot::NodeSnapshot;

use lookup::Ctx;

/// Every published port of every node, sorted by (node, port, protocol).
pub fn published_ports(snapshots: &[NodeSnapshot], graph: &Graph) -> Vec<PublishedPort> {
    ports::list(&Ctx::new(snapshots, graph))
}

/// Every path that answers `question` in these snapshots.
pub fn trace(question: &Question, snapshots: &[NodeSnapshot], graph: &Graph) -> PathAnswer {
    let ctx = Ctx::new(snapshots, graph);
    let (paths, notes) = match question {
        Question::Port {
            port,
            protocol,
            node,
        } => trace_port(&ctx, *port, &protocol.to_lowercase(), node.as_deref()),
        Question::Between { from, to } if direct::applies(&ctx, from) => {
            direct::trace(&ctx, from, to)
        }
        Question::Between { from, to } => between(&ctx, from, to),
    };
    PathAnswer {
        schema: PATH_SCHEMA.into(),
        question: question.clone(),
        paths,
        notes,
    }
}

fn trace_port(
    ctx: &Ctx<'_>,
    port: u16,
    proto: &str,
    only: Option<&str>,
) -> (Vec<PacketPath>, Vec<String>) {
    let mut paths = Vec::new();
    let mut notes = Vec::new();
    if proto != "tcp" && proto != "udp" && proto != "sctp" {
        notes.push(format!("unknown protocol {proto:?}: use tcp or udp"));
        return (paths, notes);
    }
    let nodes: Vec<usize> = match only {
        Some(name) => match ctx.node_index(name) {
            Ok(i) => vec![i],
            Err(why) => {
                notes.push(why);
                return (paths, notes);
            }
        },
        None => (0..ctx.nodes.len()).collect(),
    };
    let services = ctx.services();
    for &i in &nodes {
        let nv = &ctx.nodes[i];
        let before = paths.len();
        let mut bridge_paths = 0;
        for f in ctx.containers().filter(|f| f.node == i) {
            // An IPv6 binding is a path of its own only where the container has an IPv6
            // address; else it is the IPv4 binding's twin that docker-proxy answers.
            let has_v6 = f.container.endpoints.iter().any(|e| !e.ipv6.is_empty());
            for b in f.container.ports.iter().filter(|b| {
                b.host_port == Some(port)
                    && b.protocol.eq_ignore_ascii_case(proto)
                    && (has_v6 || !ports::is_v6(b))
            }) {
                paths.push(bridge::trace(ctx, i, port, proto, Some((f, b))));
                bridge_paths += 1;
            }
        }
        let in_swarm = nv
            .snap
            .engine
            .as_ref()
            .is_some_and(|e| e.swarm.local_state == "active");
        if in_swarm {
            for s in &services {
                for sp in s.ports.iter().filter(|p| {
                    p.publish_mode == "ingress"
                        && p.published_port == port
                        && p.protocol.eq_ignore_ascii_case(proto)
                }) {
                    paths.extend(mesh::trace(ctx, i, s, sp));
                }
            }
        }
        // Without the engine's facts the rules alone still say where the port goes.
        if nv.snap.engine.is_none() && paths.len() == before {
            let p = bridge::trace(ctx, i, port, proto, None);
            if p.hops.iter().any(|h| h.text.starts_with("DNAT to ")) {
                paths.push(p);
            }
        }
        if bridge_paths > 0 {
            notes.extend(bridge::local_note(ctx, i, port, proto));
        }
        if paths.len() == before {
            let v6_only = ctx.containers().filter(|f| f.node == i).any(|f| {
                f.container.ports.iter().any(|b| {
                    b.host_port == Some(port)
                        && b.protocol.eq_ignore_ascii_case(proto)
                        && ports::is_v6(b)
                })
            });
            notes.push(if v6_only {
                format!("port {port}/{proto} is published on {} over IPv6 only, by a container without an IPv6 address: the userland proxy relays IPv6 clients to its IPv4 address, which is not traced", nv.host)
            } else {
                format!("nothing is published on port {port}/{proto} on {}", nv.host)
            });
        }
    }
    (paths, notes)
}

/// Answer `--from from --to to` from a container: to a container, a service (VIP), an address,
/// or `internet`.
fn between(ctx: &Ctx<'_>, from: &str, to: &str) -> (Vec<PacketPath>, Vec<String>) {
    let a = match ctx.find_container(from) {
        Ok(a) => a,
        Err(why) => return (Vec::new(), vec![why]),
    };
    match a.container.network_mode.as_str() {
        "host" => {
            return (
                Vec::new(),
                vec![format!(
                    "{} uses the host's network namespace: its packets are the host's own, Docker puts nothing in their way",
                    a.container.name
                )],
            )
        }
        "none" => {
            return (
                Vec::new(),
                vec![format!("{} has no network (--network none): nothing leaves it", a.container.name)],
            )
        }
        _ => {}
    }
    let to = to.trim();
    if to.eq_ignore_ascii_case("internet") {
        return (vec![egress::trace(ctx, a, None)], Vec::new());
    }
    if let Ok(ip) = to.parse::<IpAddr>() {
        if let Some((b, ep)) = ctx.container_with_ip(ip, None) {
            return eastwest::east_west(ctx, a, b, Some(&ep.network_id), Some(ip.is_ipv6()));
        }
        for s in ctx.services() {
            if let Some(v) = s
                .virtual_ips
                .iter()
                .find(|v| v.addr.split('/').next() == Some(to))
            {
                return vip::trace(ctx, a, s, Some(&v.network_id));
            }
        }
        return (vec![egress::trace(ctx, a, Some(ip))], Vec::new());
    }
    let exact = ctx
        .containers()
        .find(|f| f.container.name == to || f.container.id == to);
    if let Some(b) = exact {
        return eastwest::east_west(ctx, a, b, None, None);
    }
    if let Some(s) = ctx
        .services()
        .into_iter()
        .find(|s| s.name == to || s.id == to)
    {
        return vip::trace(ctx, a, s, None);
    }
    match ctx.find_container(to) {
        Ok(b) => eastwest::east_west(ctx, a, b, None, None),
        Err(why) => (
            Vec::new(),
            vec![format!(
                "{why}; nor is it a service, an IP address or `internet`"
            )],
        ),
    }
}
