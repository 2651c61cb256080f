//! The kernel's own switches in one namespace: the sysctls that decide whether a path works, and
//! the sockets that listen there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Sysctls of one namespace, named as `sysctl` names them (`net.ipv4.ip_forward`), values as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctls {
    /// Every switch read: forwarding, bridge netfilter, and per interface (`all`, `default` and
    /// each link) `rp_filter` and `route_localnet`.
    pub values: BTreeMap<String, String>,
    /// Switches looked for that this kernel does not offer here, e.g. `net.bridge.bridge-nf-call-iptables`
    /// while br_netfilter is not loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
}

impl Sysctls {
    /// The value of a switch, if read.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether the kernel offers no such switch here (as opposed to not having read it).
    pub fn is_absent(&self, name: &str) -> bool {
        self.absent.iter().any(|a| a == name)
    }

    /// Sort the absent list (values are already ordered).
    pub fn normalize(&mut self) {
        self.absent.sort();
        self.absent.dedup();
    }
}

/// A socket waiting for connections (TCP LISTEN) or datagrams (unconnected UDP).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// 4 or 6.
    pub family: u8,
    /// Local address (`0.0.0.0`, `::` for any).
    pub address: String,
    /// Local port.
    pub port: u16,
    /// The owning process's name (`comm`), when it could be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// Sort listeners into their canonical order.
pub fn normalize_listeners(l: &mut [Listener]) {
    l.sort_by(|a, b| {
        (&a.protocol, a.port, a.family, &a.address, &a.process).cmp(&(
            &b.protocol,
            b.port,
            b.family,
            &b.address,
            &b.process,
        ))
    });
}
