//! The two sides of a diff as files: a node snapshot, a JSON array of them, or a cluster snapshot.

use std::path::Path;

use crate::snapshot::file::{self, ReadError};
use crate::snapshot::{ClusterSnapshot, NodeSnapshot};

/// Why a side could not be read.
pub type DiffError = ReadError;

/// Read one side from a file.
pub fn read_side(path: &Path) -> Result<ClusterSnapshot, DiffError> {
    file::read_cluster(path)
}

/// Parse one side: a node snapshot, a JSON array of them, or a cluster snapshot (the store's checks).
pub fn parse_side(bytes: &[u8]) -> Result<ClusterSnapshot, String> {
    file::parse(bytes, file::FILE_LIMIT)
        .map(|f| f.into_cluster("file"))
        .map_err(|e| e.to_string())
}

/// Node snapshots as a cluster snapshot whose every node answered.
pub fn cluster_of(nodes: Vec<NodeSnapshot>) -> ClusterSnapshot {
    ClusterSnapshot::of_nodes(nodes, "file")
}
