//! Errors of the web server.

use std::io;
use std::path::PathBuf;

/// Why the server could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Serving stopped with an I/O error.
    #[error("server: {0}")]
    Serve(io::Error),
    /// A saved snapshot could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The cluster gatherer could not be set up (bad CA certificate, HTTP client).
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// A saved snapshot is not one this build understands.
    #[error("{path} is not a dockmap snapshot file (a node snapshot, a JSON array of them, or a cluster snapshot): {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The snapshot store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The access settings are unusable (a bad token file, an open non-loopback address).
    #[error(transparent)]
    Access(#[from] super::access::AccessError),
    /// No data directory was given and none can be named (no HOME).
    #[error("no data directory for saved snapshots: give one with --data-dir")]
    NoDataDir,
}
