//! The kernel's own switches in one namespace: the sysctls that decide whether a path works, and
//! the sockets that listen there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Sysctls of one namespace, named as `sysctl` names them (`net.ipv4.ip_forward`), values as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctls {
    /// The namespace-wide switches read (forwarding, bridge netfilter), by name.
    pub values: BTreeMap<String, String>,
    /// Per interface (`all`, `default` and each link): `rp_filter`, `route_localnet`. The
    /// interface name is a value, not a key, so that pseudonymization reaches it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceSysctls>,
    /// Switches looked for that this kernel does not offer here, e.g. `net.bridge.bridge-nf-call-iptables`
    /// while br_netfilter is not loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
}

/// The `net.ipv4.conf.<interface>.*` switches of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceSysctls {
    /// `all`, `default` or the interface's name.
    pub interface: String,
    /// By the switch's last name part (`rp_filter`).
    pub values: BTreeMap<String, String>,
}

const CONF: &str = "net.ipv4.conf.";

impl Sysctls {
    /// The value of a switch by its full name (`net.ipv4.conf.eth0.rp_filter` too), if read.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name.strip_prefix(CONF).and_then(|r| r.rsplit_once('.')) {
            Some((iface, key)) => self
                .interfaces
                .iter()
                .find(|i| i.interface == iface)
                .and_then(|i| i.values.get(key))
                .map(String::as_str),
            None => self.values.get(name).map(String::as_str),
        }
    }

    /// Record a switch by its full name.
    pub fn set(&mut self, name: &str, value: &str) {
        match name.strip_prefix(CONF).and_then(|r| r.rsplit_once('.')) {
            Some((iface, key)) => {
                let at = match self.interfaces.iter().position(|i| i.interface == iface) {
                    Some(at) => at,
                    None => {
                        self.interfaces.push(InterfaceSysctls {
                            interface: iface.to_owned(),
                            values: BTreeMap::new(),
                        });
                        self.interfaces.len() - 1
                    }
                };
                self.interfaces[at]
                    .values
                    .insert(key.to_owned(), value.to_owned());
            }
            None => {
                self.values.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Whether the kernel offers no such switch here (as opposed to not having read it).
    pub fn is_absent(&self, name: &str) -> bool {
        self.absent.iter().any(|a| a == name)
    }

    /// Sort the interfaces and the absent list (values are already ordered).
    pub fn normalize(&mut self) {
        self.interfaces
            .sort_by(|a, b| a.interface.cmp(&b.interface));
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
