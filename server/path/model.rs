//! The answer to "how does a packet get there": hops, each with the kernel fact that makes it.
//!
//! Plain data, serialised as is by `/api/path` and `dockmap path --format json`.

use serde::{Deserialize, Serialize};

/// Schema identifier of path answers.
pub const PATH_SCHEMA: &str = "dockmap.paths/1";

/// What was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Question {
    /// Inbound to a published port (bridge-mode or routing mesh), on one node or all.
    Port {
        /// The published (host) port.
        port: u16,
        /// `tcp` or `udp`.
        protocol: String,
        /// Only this node; `None`: every node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// From a container to another container, a service VIP or an address.
    Between {
        /// Container name or ID (as the user typed it).
        from: String,
        /// Container name, service name, IP address, or `internet`.
        to: String,
    },
}

/// Every path that answers a question (a published port on 3 nodes with 2 backends: 6 paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathAnswer {
    /// Always [`PATH_SCHEMA`].
    pub schema: String,
    /// The question.
    pub question: Question,
    /// The paths, in a stable order.
    pub paths: Vec<PacketPath>,
    /// Why there is no path at all, or what could not be looked at (in words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How a path ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every hop is backed by a fact: the packet gets there.
    Delivered,
    /// A rule drops or rejects it (the blocking hop says which).
    Blocked,
    /// A fact needed for the next hop is missing (no DNAT, no MARK, no IPVS, no FDB entry...).
    Broken,
    /// The snapshot cannot tell (a source was not read): the last hop says what is unknown.
    Unknown,
}

/// One way a packet goes, hop by hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketPath {
    /// Stable within the answer, e.g. `port:8080/tcp@node1->web.1`.
    pub id: String,
    /// `bridge-port`, `mesh`, `vip`, `egress`, `east-west`.
    pub kind: String,
    /// One line: "node1:8080/tcp → web.1 (198.18.64.3:80) via the routing mesh".
    pub title: String,
    /// How it ends.
    pub outcome: Outcome,
    /// The hops, first to last. A `Blocked`/`Broken`/`Unknown` path ends at the hop that says why.
    pub hops: Vec<Hop>,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// The graph element the packet is at (interface, namespace, container, host...); `None` when
    /// the step is not an element of the drawing (e.g. "the internet").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// The graph edge taken to get here from the previous hop, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    /// Node (host name) the hop is on.
    pub node: String,
    /// What happens here, in words: "DNAT to 198.18.64.3:80 (nat DOCKER)".
    pub text: String,
    /// The facts that make this hop, verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Pass, or why the packet stops here.
    pub verdict: Verdict,
}

/// Whether the packet goes on past a hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "why", rename_all = "kebab-case")]
pub enum Verdict {
    /// Goes on.
    Pass,
    /// Dropped or rejected by the rule in the evidence.
    Blocked(String),
    /// Cannot go on: the fact needed is missing.
    Broken(String),
    /// The snapshot cannot tell.
    Unknown(String),
}

impl Verdict {
    /// Why it does not pass, in words; empty when it passes.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Broken(w) | Verdict::Unknown(w) | Verdict::Blocked(w) => w,
            Verdict::Pass => "",
        }
    }
}

/// A kernel or engine fact, quoted as the tools print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `iptables`, `route`, `fdb`, `ipvs`, `address`, `neighbour`, `link`, `engine`, `proxy`.
    pub kind: String,
    /// Namespace name the fact was read in (`host`, `ingress_sbox`, `1-abc...`, a container).
    pub namespace: String,
    /// The fact verbatim, e.g. `-t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.64.3:80`,
    /// `default via 198.18.0.254 dev eth0`, `02:42:c6:12:80:05 dst 198.19.0.12 self permanent`,
    /// `FWM 257 rr -> 198.18.128.5:0 Masq 1`.
    pub text: String,
}

/// A port published on a node, as the list the UI offers and `/api/ports` returns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublishedPort {
    /// Node (host name) it is published on.
    pub node: String,
    /// The published (host) port.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// `bridge` (docker run -p), `ingress` (swarm routing mesh) or `host` (swarm mode=host).
    pub mode: String,
    /// Container (bridge, host) or service (ingress) it leads to.
    pub target: String,
    /// The port inside the container.
    pub target_port: u16,
    /// The graph element of the target, when it is drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
}
