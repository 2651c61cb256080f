//! IPVS facts: load-balancer services and their real servers.

use serde::{Deserialize, Serialize};

/// What IPVS looked like in one namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum IpvsState {
    /// Not read (e.g. the namespace vanished first).
    #[default]
    NotRead,
    /// The kernel has no IPVS (genetlink family absent): a fact, not a failure.
    Unavailable {
        /// Why, in words.
        reason: String,
    },
    /// Read: the services (possibly none).
    Services {
        /// The services with their destinations.
        services: Vec<IpvsService>,
    },
}

impl IpvsState {
    /// Sort into canonical order.
    pub fn normalize(&mut self) {
        if let IpvsState::Services { services } = self {
            for s in services.iter_mut() {
                s.destinations
                    .sort_by(|a, b| (&a.address, a.port).cmp(&(&b.address, b.port)));
            }
            services.sort_by(|a, b| {
                (a.fwmark, &a.protocol, &a.address, a.port).cmp(&(
                    b.fwmark,
                    &b.protocol,
                    &b.address,
                    b.port,
                ))
            });
        }
    }
}

/// One IPVS virtual service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsService {
    /// 4 or 6.
    pub family: u8,
    /// Firewall mark, for fwmark services (what Docker uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// tcp, udp or sctp, for address services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Virtual address, for address services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Virtual port, for address services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Scheduler name (rr, wrr, ...).
    pub scheduler: String,
    /// IP_VS_SVC_F_* flags.
    pub flags: u32,
    /// Persistence timeout in seconds.
    pub timeout: u32,
    /// The real servers.
    pub destinations: Vec<IpvsDestination>,
}

/// One IPVS real server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsDestination {
    /// Real server address.
    pub address: String,
    /// Real server port.
    pub port: u16,
    /// Forwarding method (masq, tunnel, route, local).
    pub forward: String,
    /// Weight.
    pub weight: i32,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
}
