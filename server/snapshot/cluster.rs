//! The cluster snapshot: every node's snapshot, or why it is missing.

use serde::{Deserialize, Serialize};

use super::NodeSnapshot;

/// Schema identifier of cluster snapshots.
pub const CLUSTER_SCHEMA: &str = "dockmap.cluster-snapshot/1";

/// All nodes of a swarm (or a hand-given list) as gathered at one time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// Always [`CLUSTER_SCHEMA`].
    pub schema: String,
    /// When gathering started, RFC 3339 UTC.
    pub taken_at: String,
    /// How long gathering and merging took, in milliseconds.
    pub duration_ms: u64,
    /// One entry per node, sorted by name.
    pub nodes: Vec<ClusterNode>,
}

/// The name of the entry that says why `--agents auto` could not list the nodes.
pub const DISCOVERY: &str = "(discovery)";

/// The host of an agent URL, without brackets or port (`198.18.0.2`, `fd00::2`); None for what
/// is no URL (`local`, `auto`).
pub fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// How fresh a node's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    /// Answered this round.
    Fresh,
    /// Did not answer this round; the last good snapshot is kept.
    Stale,
    /// Never answered, or answered nothing usable.
    Unreachable,
    /// Refused our token.
    Unauthorized,
}

wire_names!(NodeState {
    Fresh => "fresh",
    Stale => "stale",
    Unreachable => "unreachable",
    Unauthorized => "unauthorized",
});

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Node name (swarm hostname, or the agent URL's host).
    pub name: String,
    /// Where it was asked (`local` for the server's own node).
    pub source: String,
    /// Its identity as recorded in snapshots (`swarm:<node ID>`, …) where known without a
    /// snapshot (a manager's node list, or an earlier answer): what keys a node that is not
    /// answering, so it keeps its element IDs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity: String,
    /// Fresh, stale, unreachable or unauthorized.
    pub state: NodeState,
    /// Why it is not fresh, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// When the kept snapshot was taken (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_taken_at: Option<String>,
    /// Seconds since the kept snapshot was fetched, for stale nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_s: Option<u64>,
    /// The node's snapshot (fresh or last good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<NodeSnapshot>,
}

impl ClusterNode {
    /// The entry of a node whose snapshot was just read or collected (`source`: where from),
    /// without the snapshot itself.
    pub fn fresh(s: &NodeSnapshot, source: &str) -> ClusterNode {
        ClusterNode {
            name: s.node.hostname.clone(),
            source: source.into(),
            identity: String::new(),
            state: NodeState::Fresh,
            error: String::new(),
            snapshot_taken_at: Some(s.taken_at.clone()),
            age_s: None,
            snapshot: None,
        }
    }
}

impl ClusterSnapshot {
    /// Node snapshots read or collected on one machine as a cluster whose every node answered
    /// (`source`: where they came from, e.g. `file`, `local`).
    pub fn of_nodes(nodes: Vec<NodeSnapshot>, source: &str) -> ClusterSnapshot {
        let taken_at = nodes
            .iter()
            .map(|s| s.taken_at.clone())
            .max()
            .unwrap_or_default();
        ClusterSnapshot {
            schema: CLUSTER_SCHEMA.into(),
            taken_at,
            duration_ms: 0,
            nodes: nodes
                .into_iter()
                .map(|s| {
                    let mut n = ClusterNode::fresh(&s, source);
                    n.snapshot = Some(s);
                    n
                })
                .collect(),
        }
    }

    /// Sort nodes by name (then by where they were asked: names can be shared) and every
    /// snapshot into canonical order.
    pub fn normalize(&mut self) {
        self.nodes
            .sort_by(|a, b| (&a.name, &a.source).cmp(&(&b.name, &b.source)));
        for n in &mut self.nodes {
            if let Some(s) = n.snapshot.as_mut() {
                s.normalize();
            }
        }
    }

    /// The snapshots present (fresh or stale), in node order.
    pub fn snapshots(&self) -> Vec<&NodeSnapshot> {
        self.nodes
            .iter()
            .filter_map(|n| n.snapshot.as_ref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::assert_wire_names;

    #[test]
    fn node_state_names_are_the_serde_names() {
        assert_wire_names(NodeState::ALL, |k| k.as_str());
    }
}
