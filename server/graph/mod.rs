//! The graph layer: pure functions from snapshots to elements, edges and findings.

mod attrs;
pub mod build;
mod builder;
pub mod cluster;
pub mod dot;
pub mod encryption;
mod findings;
pub mod ids;
mod index;
mod kernel_findings;
pub mod model;
pub mod nodes;
pub mod parts;
mod tunnels;
pub mod veth;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cluster_tests;

pub use build::{build, derive};
pub use cluster::build_cluster;
pub use ids::namespace_names;
pub use model::*;
pub use nodes::{NodeLookupError, NodeName, NodeNames};
pub use parts::NodeParts;
