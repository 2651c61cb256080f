//! Errors of the collectors.

use std::io;

/// Why a collector could not read a source.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A namespace file could not be opened or entered.
    #[error("namespace {name}: {source}")]
    Namespace {
        /// Which namespace.
        name: String,
        /// The OS error.
        source: io::Error,
    },
    /// The namespace disappeared while being read.
    #[error("namespace {0} vanished while being read")]
    Vanished(String),
    /// A netlink request failed.
    #[error("netlink: {0}")]
    Netlink(String),
    /// An external tool is not installed.
    #[error("{0} not found")]
    ToolMissing(String),
    /// An external tool ran and failed.
    #[error("{tool} failed: {message}")]
    Tool {
        /// Which tool.
        tool: String,
        /// What it said.
        message: String,
    },
    /// The Docker engine could not be reached or answered with an error.
    #[error("docker engine: {0}")]
    Engine(String),
    /// Not enough privilege.
    #[error("permission denied: {0}")]
    Permission(String),
    /// Any other I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}

impl CollectError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        CollectError::Io {
            context: context.into(),
            source,
        }
    }
}
