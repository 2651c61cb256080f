//! The graph layer: pure functions from snapshots to elements, edges and findings.

pub mod build;
pub mod dot;
mod findings;
pub mod ids;
pub mod model;
pub mod veth;

#[cfg(test)]
mod tests;

pub use build::build;
pub use model::*;
