//! Per-source status: what could be seen and, where not, why in words.

use serde::{Deserialize, Serialize};

/// Which kind of source a status is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// The Docker engine API.
    Engine,
    /// Finding the network namespaces.
    Namespaces,
    /// rtnetlink dumps inside one namespace.
    Netlink,
    /// iptables-save / ip6tables-save inside one namespace.
    Iptables,
    /// nft -j list ruleset (native nftables hosts).
    Nftables,
    /// IPVS over generic netlink inside one namespace.
    Ipvs,
    /// Which node this is (swarm node ID, engine ID, machine ID).
    Identity,
    /// IPsec SAs and policies over NETLINK_XFRM inside one namespace.
    Xfrm,
    /// Sysctls under /proc/sys/net read inside one namespace.
    Sysctl,
    /// Listening sockets over NETLINK_SOCK_DIAG (the host namespace).
    Sockets,
}

wire_names!(SourceKind {
    Engine => "engine",
    Namespaces => "namespaces",
    Netlink => "netlink",
    Iptables => "iptables",
    Nftables => "nftables",
    Ipvs => "ipvs",
    Identity => "identity",
    Xfrm => "xfrm",
    Sysctl => "sysctl",
    Sockets => "sockets",
});

/// The outcome of reading one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceState {
    /// Read in full.
    Ok,
    /// Not present here, as a fact about the node (e.g. the kernel has no IPVS).
    Unavailable,
    /// Read in part or not at all because something failed.
    Error,
}

wire_names!(SourceState {
    Ok => "ok",
    Unavailable => "unavailable",
    Error => "error",
});

/// One source's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Which source.
    pub source: SourceKind,
    /// The namespace it concerns (its name), for per-namespace sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Ok, unavailable or error.
    pub state: SourceState,
    /// What happened, in words; empty when ok, except node-wide lines that sum up a reading.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl SourceStatus {
    /// A source read in full.
    pub fn ok(source: SourceKind, namespace: Option<&str>) -> Self {
        Self::new(source, namespace, SourceState::Ok, String::new())
    }

    /// A source absent on this node, as a fact.
    pub fn unavailable(
        source: SourceKind,
        namespace: Option<&str>,
        why: impl Into<String>,
    ) -> Self {
        Self::new(source, namespace, SourceState::Unavailable, why.into())
    }

    /// A source that failed.
    pub fn error(source: SourceKind, namespace: Option<&str>, why: impl Into<String>) -> Self {
        Self::new(source, namespace, SourceState::Error, why.into())
    }

    fn new(
        source: SourceKind,
        namespace: Option<&str>,
        state: SourceState,
        message: String,
    ) -> Self {
        Self {
            source,
            namespace: namespace.map(str::to_owned),
            state,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::assert_wire_names;

    #[test]
    fn source_names_are_the_serde_names() {
        assert_wire_names(SourceKind::ALL, |k| k.as_str());
        assert_wire_names(SourceState::ALL, |k| k.as_str());
    }
}
