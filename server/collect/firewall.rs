//! Packet-filter rules per namespace (iptables-save, ip6tables-save, nft).

use crate::snapshot::{Firewall, SourceKind, SourceStatus};

use super::netns::NsHandle;

/// Read the namespace's packet filter.
pub fn collect(ns: &NsHandle) -> (Option<Firewall>, Vec<SourceStatus>) {
    (
        None,
        vec![SourceStatus::error(
            SourceKind::Iptables,
            Some(&ns.name),
            "not implemented yet",
        )],
    )
}
