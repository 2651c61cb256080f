//! Packet paths derived from snapshots: published ports, the routing mesh, VIPs, egress, east-west.

pub mod model;

pub use model::*;
