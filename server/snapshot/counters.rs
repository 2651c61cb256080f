//! Packet counters read on request for a watched path: what to read, and what was read.
//!
//! Not part of a snapshot (counters change every packet); the same plain data travels from an
//! agent to the server and from the server to the page.

use serde::{Deserialize, Serialize};

/// One counter to read in one namespace, named as the graph names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Probe {
    /// The namespace's name as the graph uses it (`host`, `ingress_sbox`, a container's name...).
    pub namespace: String,
    /// What to read there.
    pub what: ProbeKind,
}

/// The kinds of counter a path hop can show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProbeKind {
    /// An interface's packet and drop counters.
    Link {
        /// Interface name.
        ifname: String,
    },
    /// An iptables rule's counters; `rule` as `iptables-save` prints it (`-A CHAIN ...`).
    Rule {
        /// 4 or 6.
        family: u8,
        /// Table name.
        table: String,
        /// The rule's text.
        rule: String,
    },
    /// A built-in chain's policy counters (packets that fell off its end).
    Policy {
        /// 4 or 6.
        family: u8,
        /// Table name.
        table: String,
        /// Chain name.
        chain: String,
    },
    /// Conntrack entries of the flows a path carries, matched on their original direction.
    Conntrack {
        /// `tcp`, `udp`...
        protocol: String,
        /// Original destination port, when the path has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dport: Option<u16>,
        /// Original source address, when the path has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        src: Option<String>,
    },
}

/// What one probe read: the counters its kind has, or why nothing could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// Packets (rules, policies; a link's received plus sent; conntrack's accounted packets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// Bytes, alongside `packets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// A link's dropped packets (received and sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// Conntrack entries that match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Why the probe read nothing (namespace gone, rule no longer there, tool missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reading {
    /// A reading that says why there is none.
    pub fn failed(why: impl Into<String>) -> Self {
        Reading {
            error: Some(why.into()),
            ..Default::default()
        }
    }
}

/// Most probes one request may ask for (a path has a few dozen hops at most).
pub const MAX_PROBES: usize = 256;
