//! Packet-filter facts: iptables rules as `iptables-save` prints them, parsed.

use serde::{Deserialize, Serialize};

/// The packet filter of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firewall {
    /// Which iptables backend printed the rules (`nf_tables`, `legacy`), if said.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backend: String,
    /// IPv4 tables (iptables-save).
    pub ipv4: Vec<Table>,
    /// IPv6 tables (ip6tables-save).
    pub ipv6: Vec<Table>,
    /// Native nftables ruleset (`nft -j list ruleset`), where the host uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nftables: Option<serde_json::Value>,
}

impl Firewall {
    /// Sort tables by name; chains and rules keep their kernel order (it matters).
    pub fn normalize(&mut self) {
        self.ipv4.sort_by(|a, b| a.name.cmp(&b.name));
        self.ipv6.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// One table (filter, nat, mangle, raw, security).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Chains in the order declared.
    pub chains: Vec<Chain>,
    /// Rules in kernel order (the order evaluated within each chain).
    pub rules: Vec<Rule>,
}

/// A chain declaration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// Chain name.
    pub name: String,
    /// Policy for built-in chains (ACCEPT, DROP); `None` for user chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// One rule (`-A CHAIN ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The chain it is appended to.
    pub chain: String,
    /// The rule exactly as iptables-save printed it, for showing verbatim.
    pub text: String,
    /// Source match (`-s`), negated with a leading `!`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Destination match (`-d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Input interface (`-i`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_interface: Option<String>,
    /// Output interface (`-o`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_interface: Option<String>,
    /// Protocol (`-p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Match modules with their options (`-m tcp --dport 80` → name `tcp`, args).
    pub matches: Vec<Match>,
    /// Jump target (`-j`) or goto (`-g`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// A match module and its options, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// Module name (tcp, udp, addrtype, conntrack, comment, ...).
    pub name: String,
    /// Its options in order, e.g. `["--dport", "80"]`.
    pub args: Vec<String>,
}

/// A rule's target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Target name: ACCEPT, DROP, RETURN, DNAT, SNAT, MASQUERADE, MARK, or a user chain.
    pub name: String,
    /// `true` for `-g` (goto) rather than `-j` (jump).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub goto: bool,
    /// DNAT `--to-destination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_destination: Option<String>,
    /// SNAT `--to-source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_source: Option<String>,
    /// MASQUERADE / REDIRECT `--to-ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<String>,
    /// MARK `--set-xmark` / `--set-mark` value as written (e.g. `0x100/0xffffffff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_mark: Option<String>,
    /// Every option of the target in order, as written.
    pub args: Vec<String>,
}
