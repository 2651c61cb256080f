//! The two sides of a diff as files: a node snapshot, a JSON array of them, or a cluster snapshot.

use std::path::{Path, PathBuf};

use crate::snapshot::{
    ClusterNode, ClusterSnapshot, NodeSnapshot, NodeState, CLUSTER_SCHEMA, NODE_SCHEMA,
};

/// Why a side could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a snapshot this build reads.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Read one side from a file.
pub fn read_side(path: &Path) -> Result<ClusterSnapshot, DiffError> {
    let bytes = std::fs::read(path).map_err(|e| DiffError::Read {
        path: path.to_owned(),
        source: e,
    })?;
    parse_side(&bytes).map_err(|message| DiffError::Format {
        path: path.to_owned(),
        message,
    })
}

/// Parse one side: a node snapshot, a JSON array of them, or a cluster snapshot.
pub fn parse_side(bytes: &[u8]) -> Result<ClusterSnapshot, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if value.is_array() {
        let nodes: Vec<NodeSnapshot> = serde_json::from_value(value)
            .map_err(|e| format!("not an array of dockmap node snapshots: {e}"))?;
        if nodes.is_empty() {
            return Err("an empty array: no node snapshot to compare".into());
        }
        for n in &nodes {
            schema(&n.schema, NODE_SCHEMA)?;
        }
        return Ok(cluster_of(nodes));
    }
    let found = value
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_owned();
    match found.as_str() {
        CLUSTER_SCHEMA => serde_json::from_value(value)
            .map_err(|e| format!("not a well-formed cluster snapshot: {e}")),
        NODE_SCHEMA => {
            let n: NodeSnapshot = serde_json::from_value(value)
                .map_err(|e| format!("not a well-formed node snapshot: {e}"))?;
            Ok(cluster_of(vec![n]))
        }
        other => Err(format!(
            "schema {other:?}: this dockmap reads {NODE_SCHEMA:?} (or an array of them) and {CLUSTER_SCHEMA:?}"
        )),
    }
}

fn schema(found: &str, want: &str) -> Result<(), String> {
    if found == want {
        Ok(())
    } else {
        Err(format!("schema {found:?}: this dockmap reads {want:?}"))
    }
}

/// Node snapshots as a cluster snapshot whose every node answered.
pub fn cluster_of(nodes: Vec<NodeSnapshot>) -> ClusterSnapshot {
    let taken_at = nodes
        .iter()
        .map(|n| n.taken_at.clone())
        .max()
        .unwrap_or_default();
    ClusterSnapshot {
        schema: CLUSTER_SCHEMA.into(),
        taken_at,
        duration_ms: 0,
        nodes: nodes
            .into_iter()
            .map(|s| ClusterNode {
                name: s.node.hostname.clone(),
                source: "file".into(),
                state: NodeState::Fresh,
                error: String::new(),
                snapshot_taken_at: Some(s.taken_at.clone()),
                age_s: None,
                snapshot: Some(s),
            })
            .collect(),
    }
}
