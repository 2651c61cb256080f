//! Collection: read-only I/O that turns a node's kernel and engine state into a snapshot.

pub mod counters;
pub mod docker;
pub mod error;
pub mod firewall;
pub mod identity;
pub mod ipvs;
pub mod link;
pub mod netns;
pub mod node;
pub mod runfile;
pub mod sockopt;
pub mod xfrm;

pub use error::CollectError;
