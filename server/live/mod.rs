//! Live: a node followed as it changes (kernel and engine notifications, debounced, each one a
//! collection of the whole node, taking over the engine facts no event concerned, published only
//! when the picture changed), and what changed between two pictures for the page.

pub mod changes;
mod engine;
pub mod feed;
pub mod reread;
pub mod watch;

pub use changes::{differ, LiveChange};
pub use feed::{LiveStatus, NodeFeed, Published};
