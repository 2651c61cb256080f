//! Errors of the web server: [`WebError`] when it cannot start or go on, [`ApiError`] when a
//! request gets an error for an answer.

use std::io;

use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::worker::WorkerGone;
use crate::snapshot::file::FileError;
use crate::store::StoreError;

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

/// Why a request gets no answer but an error: its status and the JSON body `{"error": …}`
/// (with `reason`, a token for the kind of fault, where the store's routes give one; with the
/// collection's `state` and `detail` while there is no snapshot yet). Handlers return
/// `Result<_, ApiError>` and use `?`; extractors reject with it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    reason: Option<&'static str>,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// An error with this status, saying `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reason: None,
            extra: serde_json::Map::new(),
        }
    }

    /// 400: the request is wrong, and why.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: what was asked for is not there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: the server failed (a worker gone, a task that panicked, an encoder's error).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }

    /// 503 while there is nothing to show yet, with what collection is doing.
    pub fn no_snapshot(state: &str, detail: Option<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "no snapshot yet");
        e.extra.insert("state".into(), state.into());
        e.extra.insert("detail".into(), detail.into());
        e
    }

    /// The same error with a `reason` token in its body.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What it says.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.message.into());
        if let Some(r) = self.reason {
            body.insert("reason".into(), r.into());
        }
        body.extend(self.extra);
        (self.status, Json(body)).into_response()
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

impl From<WorkerGone> for ApiError {
    fn from(e: WorkerGone) -> Self {
        Self::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(e)
    }
}

impl From<StoreError> for ApiError {
    /// 507 when the store is out of room (its quota, or the disk), else 500.
    fn from(e: StoreError) -> Self {
        let (status, reason) = match &e {
            StoreError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, "store-full"),
            e if e.is_disk_full() => (StatusCode::INSUFFICIENT_STORAGE, "disk-full"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        Self::new(status, e.to_string()).with_reason(reason)
    }
}

impl From<FileError> for ApiError {
    /// A refused upload: 413 too large, 400 not JSON at all, 422 JSON that is no snapshot.
    fn from(e: FileError) -> Self {
        let status = match e {
            FileError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FileError::Empty
            | FileError::Gzip(_)
            | FileError::Truncated(_)
            | FileError::NotJson(_) => StatusCode::BAD_REQUEST,
            FileError::NotSnapshot(_) | FileError::Schema { .. } | FileError::Model { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        };
        Self::new(status, e.to_string()).with_reason(e.reason())
    }
}

impl From<QueryRejection> for ApiError {
    /// axum's text names the parameter (`snap: duplicate field`); said as this server says a 400.
    fn from(e: QueryRejection) -> Self {
        let text = e.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::bad(format!("bad query string: {detail}"))
    }
}

/// Why a saved snapshot cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// This server keeps no saved snapshots.
    #[error("this server keeps no saved snapshots")]
    NoStore,
    /// No snapshot has that ID.
    #[error("no saved snapshot {0:?}")]
    NotFound(String),
    /// The store failed to read it.
    #[error("cannot read saved snapshot {0:?}: {1}")]
    Failed(String, String),
}

impl OpenError {
    /// The HTTP status that says it: 404 for what is not there, 500 for a store that failed.
    pub fn status(&self) -> axum::http::StatusCode {
        match self {
            Self::NoStore | Self::NotFound(_) => axum::http::StatusCode::NOT_FOUND,
            Self::Failed(..) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
