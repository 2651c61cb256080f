//! The two sides of a diff as files: a node snapshot, a JSON array of them, or a cluster snapshot.

use std::path::{Path, PathBuf};

use crate::snapshot::{ClusterSnapshot, NodeSnapshot};

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

/// Parse one side: a node snapshot, a JSON array of them, or a cluster snapshot (the store's checks).
pub fn parse_side(bytes: &[u8]) -> Result<ClusterSnapshot, String> {
    crate::store::upload::parse(bytes, usize::MAX)
        .map(|f| f.into_cluster("file"))
        .map_err(|e| e.to_string())
}

/// Node snapshots as a cluster snapshot whose every node answered.
pub fn cluster_of(nodes: Vec<NodeSnapshot>) -> ClusterSnapshot {
    ClusterSnapshot::of_nodes(nodes, "file")
}
