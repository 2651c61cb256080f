//! The list of published ports: container bindings (bridge, swarm host mode) and routing-mesh ports.

use crate::graph::ids;
use crate::snapshot::PortBinding;

use super::lookup::Ctx;
use super::model::PublishedPort;

/// An IPv6 binding duplicates its IPv4 twin (Docker binds both for `-p 8080:80`).
pub fn is_v6(b: &PortBinding) -> bool {
    b.host_ip.as_deref().is_some_and(|ip| ip.contains(':'))
}

/// Every published port of every node, sorted by (node, port, protocol).
pub fn list(ctx: &Ctx<'_>) -> Vec<PublishedPort> {
    let mut out = Vec::new();
    for f in ctx.containers() {
        let nv = &ctx.nodes[f.node];
        let c = f.container;
        let swarm = c.labels.contains_key("com.docker.swarm.service.name");
        for b in &c.ports {
            let Some(port) = b.host_port else { continue };
            if is_v6(b)
                && c.ports.iter().any(|o| {
                    !is_v6(o)
                        && o.host_port == b.host_port
                        && o.protocol == b.protocol
                        && o.private_port == b.private_port
                })
            {
                continue;
            }
            out.push(PublishedPort {
                node: nv.host.to_owned(),
                port,
                protocol: b.protocol.clone(),
                mode: if swarm { "host" } else { "bridge" }.to_owned(),
                target: c.name.clone(),
                target_port: b.private_port,
                element: ctx.element(nv.container_id(c)),
            });
        }
    }
    let services = ctx.services();
    for nv in &ctx.nodes {
        let in_swarm = nv
            .snap
            .engine
            .as_ref()
            .is_some_and(|e| e.swarm.local_state == "active");
        if !in_swarm {
            continue;
        }
        for s in &services {
            for p in s.ports.iter().filter(|p| p.publish_mode == "ingress") {
                out.push(PublishedPort {
                    node: nv.host.to_owned(),
                    port: p.published_port,
                    protocol: p.protocol.clone(),
                    mode: "ingress".to_owned(),
                    target: s.name.clone(),
                    target_port: p.target_port,
                    element: ctx.element(ids::service(&s.name)),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
