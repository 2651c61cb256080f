//! Packet paths derived from snapshots: published ports, the routing mesh, VIPs, egress, east-west.
//!
//! Pure functions of the snapshots and their graph: every hop names the graph element it is at
//! and quotes the fact (rule, route, FDB entry, IPVS service) that makes it.

pub mod model;

pub use model::*;

use crate::graph::Graph;
use crate::snapshot::NodeSnapshot;

/// Every published port of every node, sorted by (node, port, protocol).
pub fn published_ports(_snapshots: &[NodeSnapshot], _graph: &Graph) -> Vec<PublishedPort> {
    Vec::new()
}

/// Every path that answers `question` in these snapshots.
pub fn trace(question: &Question, _snapshots: &[NodeSnapshot], _graph: &Graph) -> PathAnswer {
    PathAnswer {
        schema: PATH_SCHEMA.into(),
        question: question.clone(),
        paths: Vec::new(),
        notes: vec!["paths are not derived yet".into()],
    }
}
