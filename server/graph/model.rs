//! The graph's vocabulary: elements, edges and findings with stable IDs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Schema identifier of the graph JSON.
pub const GRAPH_SCHEMA: &str = "dockmap.graph/1";

/// The derived graph of one or more node snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Always [`GRAPH_SCHEMA`].
    pub schema: String,
    /// Elements, sorted by id.
    pub elements: Vec<Element>,
    /// Edges, sorted by id.
    pub edges: Vec<Edge>,
    /// Problems found, most severe first.
    pub findings: Vec<Finding>,
}

/// What an element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElementKind {
    /// A node (machine).
    Host,
    /// A network namespace.
    Netns,
    /// A Docker container.
    Container,
    /// A network interface (attrs.type: veth, bridge, vxlan, physical, loopback, other).
    Interface,
    /// A Docker network.
    Network,
    /// A swarm service.
    Service,
    /// A swarm task.
    Task,
    /// A remote underlay address an FDB entry points at, not (yet) known as a node.
    Remote,
}

wire_names!(ElementKind {
    Host => "host",
    Netns => "netns",
    Container => "container",
    Interface => "interface",
    Network => "network",
    Service => "service",
    Task => "task",
    Remote => "remote",
});

/// What an interface is, as the picture shows it: its `type` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceType {
    /// One end of a veth pair.
    Veth,
    /// A Linux bridge.
    Bridge,
    /// A VXLAN tunnel device.
    Vxlan,
    /// An Ethernet device with no kernel kind: a physical NIC (or a VM's).
    Physical,
    /// The loopback device.
    Loopback,
    /// Anything else.
    Other,
}

wire_names!(InterfaceType {
    Veth => "veth",
    Bridge => "bridge",
    Vxlan => "vxlan",
    Physical => "physical",
    Loopback => "loopback",
    Other => "other",
});

impl InterfaceType {
    /// The type a `type` attribute names; a name this build does not know is `Other`.
    pub fn from_attr(name: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == name)
            .unwrap_or(InterfaceType::Other)
    }
}

/// One thing in the picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// Stable ID: the same object gets the same ID in two snapshots.
    pub id: String,
    /// What it is.
    pub kind: ElementKind,
    /// Short text to show (hostile input: render as text only).
    pub label: String,
    /// The element it sits in (interface in netns, netns in host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Every fact about it, for the side panel and search.
    pub attrs: BTreeMap<String, Value>,
}

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// The two ends of a veth pair (resolved through the nsid map).
    VethPair,
    /// An interface enslaved to a bridge (source: port, target: bridge).
    BridgePort,
    /// A container and its network namespace.
    Sandbox,
    /// A container attached to a Docker network (attrs: ip, mac).
    Endpoint,
    /// A vxlan interface's FDB entry to a remote underlay address (attrs: vni, mac).
    Fdb,
    /// A Docker network and the interface that carries it on the host (its bridge).
    Carries,
    /// A task and the container it runs.
    Runs,
    /// A service and its task.
    HasTask,
}

wire_names!(EdgeKind {
    VethPair => "veth-pair",
    BridgePort => "bridge-port",
    Sandbox => "sandbox",
    Endpoint => "endpoint",
    Fdb => "fdb",
    Carries => "carries",
    Runs => "runs",
    HasTask => "has-task",
});

/// A relation between two elements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Stable ID: `<kind>:<source>-><target>` (with a suffix when several exist).
    pub id: String,
    /// What it means.
    pub kind: EdgeKind,
    /// One end's element id.
    pub source: String,
    /// Other end's element id.
    pub target: String,
    /// Facts about the relation.
    pub attrs: BTreeMap<String, Value>,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Traffic is or will be broken.
    Error,
    /// Likely wrong or incomplete.
    Warning,
    /// Worth knowing.
    Info,
}

wire_names!(Severity {
    Error => "error",
    Warning => "warning",
    Info => "info",
});

/// A problem found in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable ID: `<code>:<first element>`.
    pub id: String,
    /// Machine-readable kind, e.g. `veth-peer-missing`.
    pub code: String,
    /// How bad.
    pub severity: Severity,
    /// In words.
    pub message: String,
    /// The element IDs it concerns.
    pub elements: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::assert_wire_names;

    #[test]
    fn kind_names_are_the_serde_names() {
        assert_wire_names(ElementKind::ALL, |k| k.as_str());
        assert_wire_names(EdgeKind::ALL, |k| k.as_str());
        assert_wire_names(Severity::ALL, |k| k.as_str());
        assert_wire_names(InterfaceType::ALL, |k| k.as_str());
        assert_eq!(InterfaceType::from_attr("bridge"), InterfaceType::Bridge);
        assert_eq!(InterfaceType::from_attr("wireguard"), InterfaceType::Other);
    }
}
