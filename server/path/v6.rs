//! IPv6 on a path: whether the engine manages IPv6 filtering and NAT in a namespace at all.
//!
//! Docker before 27 (and any engine run with `--ip6tables=false`) writes no ip6tables rules:
//! IPv6 packets then meet only what else the host holds, and a missing DNAT or MASQUERADE is
//! no fault of the network. Paths say so instead of calling them broken.

use crate::snapshot::Namespace;

/// Whether `ns` holds Docker's IPv6 rules: an ip6tables chain of Docker's, or Docker 29's native
/// `ip6`/`inet` table. A namespace whose rules were not read counts as managed (the walk says
/// what was not read).
pub fn manages_v6(ns: &Namespace) -> bool {
    let Some(fw) = ns.firewall.as_ref() else {
        return true;
    };
    let ip6tables = fw
        .ipv6
        .iter()
        .flat_map(|t| t.chains.iter())
        .any(|c| c.name.starts_with("DOCKER"));
    let native = fw
        .nftables
        .as_ref()
        .and_then(|rs| rs.get("nftables"))
        .and_then(|v| v.as_array())
        .is_some_and(|items| {
            items.iter().filter_map(|i| i.get("table")).any(|t| {
                matches!(
                    t.get("family").and_then(|f| f.as_str()),
                    Some("ip6" | "inet")
                ) && t.get("name").and_then(|n| n.as_str()) == Some("docker-bridges")
            })
        });
    ip6tables || native
}

/// Why nothing of Docker's applies to IPv6 in namespace `label`, in words.
pub fn unmanaged(label: &str) -> String {
    format!("{label} has no Docker ip6tables rules: the engine does not manage IPv6 filtering or NAT here (Docker before 27 without --ip6tables, or --ip6tables=false)")
}
