//! The snapshot model: the raw facts of one node, as plain serde data.
//!
//! Nothing here interprets: the graph layer does that. Every list is kept in
//! a canonical order by [`NodeSnapshot::normalize`] so that two snapshots of
//! the same state serialize to the same bytes.

pub mod cluster;
pub mod counters;
pub mod engine;
pub mod file;
pub mod firewall;
pub mod identity;
pub mod ipvs;
pub mod kernel;
pub mod source;
pub mod switches;
pub mod time;
pub mod xfrm;

use serde::{Deserialize, Serialize};

pub use cluster::*;
pub use engine::*;
pub use firewall::*;
pub use identity::{IdentityKind, NodeId};
pub use ipvs::*;
pub use kernel::*;
pub use source::*;
pub use switches::*;
pub use xfrm::*;

/// Schema identifier written into every node snapshot; bump on incompatible change.
pub const NODE_SCHEMA: &str = "dockmap.node-snapshot/1";

/// Everything dockmap saw on one node at one time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeSnapshot {
    /// Always [`NODE_SCHEMA`] for snapshots this build writes.
    pub schema: String,
    /// When collection started, RFC 3339 UTC.
    pub taken_at: String,
    /// How long collection took, in milliseconds.
    pub duration_ms: u64,
    /// Which machine this is.
    pub node: NodeIdentity,
    /// One status per source (engine, each namespace's links, firewall, IPVS, ...).
    pub sources: Vec<SourceStatus>,
    /// What the Docker engine reported; `None` when it could not be reached.
    pub engine: Option<EngineFacts>,
    /// Every network namespace seen, the host's first.
    pub namespaces: Vec<Namespace>,
}

/// The identity of the node a snapshot was taken on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeIdentity {
    /// The kernel's hostname (uname nodename).
    pub hostname: String,
    /// The kernel release (uname release).
    pub kernel: String,
    /// The dockmap version that collected.
    pub dockmap_version: String,
    /// The node's identity as decided at collection (`swarm:<node ID>`, `engine:<engine ID>`,
    /// `machine:<hash>`): what keys the node, never the hostname. Empty in snapshots from before
    /// it was recorded; [`NodeId::of`] then derives it from the facts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    /// An application-specific hash of `/etc/machine-id` (the raw ID is confidential); empty
    /// where the machine has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub machine_id: String,
}

impl NodeSnapshot {
    /// Sort every list into its canonical order (stable output for equal states).
    pub fn normalize(&mut self) {
        self.sources
            .sort_by(|a, b| (&a.source, &a.namespace).cmp(&(&b.source, &b.namespace)));
        if let Some(e) = self.engine.as_mut() {
            e.normalize();
        }
        for ns in &mut self.namespaces {
            ns.normalize();
        }
        // The host namespace first, then by name, then by identity.
        self.namespaces.sort_by(|a, b| {
            (a.role != NamespaceRole::Host, &a.name, a.id).cmp(&(
                b.role != NamespaceRole::Host,
                &b.name,
                b.id,
            ))
        });
    }

    /// The namespace with this identity, if seen.
    pub fn namespace(&self, id: NsIdentity) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.id == id)
    }

    /// The host namespace (the one dockmap ran in), if recorded.
    pub fn host_namespace(&self) -> Option<&Namespace> {
        self.namespaces
            .iter()
            .find(|n| n.role == NamespaceRole::Host)
    }
}
