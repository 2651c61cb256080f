//! Collection: read-only I/O that turns a node's kernel and engine state into a snapshot.

pub mod counters;
pub mod docker;
pub mod error;
pub mod firewall;
pub mod identity;
pub mod ipvs;
pub mod link;
pub mod netns;
pub mod nldump;
pub mod node;
pub mod runfile;
pub mod sockdiag;
pub mod sockopt;
pub mod switches;
pub mod sysctl;
pub mod xfrm;

pub use error::CollectError;
