//! Errors of the web server.

use std::io;

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
    /// The snapshot file to serve could not be read.
    #[error(transparent)]
    File(#[from] crate::snapshot::file::ReadError),
    /// The cluster gatherer could not be set up (bad CA certificate, HTTP client).
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
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
