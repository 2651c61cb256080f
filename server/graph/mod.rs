//! The graph layer: pure functions from snapshots to elements, edges and findings.

pub mod model;

pub use model::*;
