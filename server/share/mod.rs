//! Sharing a picture: pseudonymized snapshots, and the self-contained HTML export.

pub mod export;
pub mod key;
pub mod pseudonym;

pub use key::PseudonymKey;
pub use pseudonym::{pseudonymize_cluster, pseudonymize_nodes, PseudonymError, Pseudonymizer};
