//! Questions asked of a graph and its snapshots, answered as plain data: an element's details
//! (the side panel, and every element of an exported file) and search. No HTTP here: the web
//! server and the exporter both ask them.

pub mod details;
pub mod search;

pub use details::{details, Details};
pub use search::{search, Hit};
