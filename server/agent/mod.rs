//! `dockmap agent`: serves this node's snapshot over HTTP(S) to holders of the shared token.

mod auth;
mod cache;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::collect::node::NodeOptions;

pub use auth::Token;
pub use cache::SnapshotSource;

/// Path of the snapshot endpoint.
pub const SNAPSHOT_PATH: &str = "/v1/snapshot";
/// Path of the health endpoint.
pub const HEALTH_PATH: &str = "/v1/health";

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No token was configured and `--insecure-no-auth` was not given.
    #[error(
        "no token configured: give --token-file FILE, or --insecure-no-auth to serve without one"
    )]
    NoToken,
    /// The token file could not be read or is empty.
    #[error("token file {path}: {why}")]
    TokenFile {
        /// The file.
        path: String,
        /// What was wrong.
        why: String,
    },
    /// TLS needs both a certificate and a key.
    #[error("TLS needs both --tls-cert and --tls-key")]
    TlsHalf,
    /// The TLS files could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listener could not be bound or failed.
    #[error("listening on {addr}: {why}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        why: String,
    },
}

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Serve without a token (only when explicitly asked).
    pub insecure_no_auth: bool,
    /// TLS certificate (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Collect live, or serve a saved snapshot file.
    pub source: SnapshotSource,
}

impl AgentOptions {
    /// Options that collect this node live with the given collector options.
    pub fn live(listen: SocketAddr, node: NodeOptions) -> Self {
        Self {
            listen,
            token_file: None,
            insecure_no_auth: false,
            tls_cert: None,
            tls_key: None,
            source: SnapshotSource::Live(node),
        }
    }
}

#[derive(Clone)]
struct AgentState {
    token: Option<Arc<Token>>,
    cache: Arc<cache::SnapshotCache>,
}

/// The agent's routes, for serving and for tests.
pub fn router(token: Option<Token>, source: SnapshotSource) -> Router {
    let state = AgentState {
        token: token.map(Arc::new),
        cache: Arc::new(cache::SnapshotCache::new(source)),
    };
    Router::new()
        .route(SNAPSHOT_PATH, get(snapshot))
        .route(HEALTH_PATH, get(health))
        .with_state(state)
}

async fn snapshot(State(state): State<AgentState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.token {
        if !token.accepts(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response();
        }
    }
    match state.cache.get().await {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json")],
            body.as_ref().clone(),
        )
            .into_response(),
        Err(why) => (StatusCode::INTERNAL_SERVER_ERROR, why).into_response(),
    }
}

/// Health says only that the agent runs, so it needs no token and reveals nothing.
async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!(
            "{{\"status\":\"ok\",\"version\":\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        ),
    )
}

/// Load the token as the options say, refusing to run open unless asked to.
pub fn load_token(opts: &AgentOptions) -> Result<Option<Token>, AgentError> {
    match (&opts.token_file, opts.insecure_no_auth) {
        (Some(path), _) => Token::from_file(path).map(Some),
        (None, true) => Ok(None),
        (None, false) => Err(AgentError::NoToken),
    }
}

/// Run the agent until the process is stopped.
pub async fn run(opts: AgentOptions) -> Result<(), AgentError> {
    let token = load_token(&opts)?;
    let app = router(token, opts.source.clone());
    let addr = opts.listen;
    match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    AgentError::Tls(format!("{} / {}: {e}", cert.display(), key.display()))
                })?;
            axum_server::bind_rustls(addr, config)
                .serve(app.into_make_service())
                .await
                .map_err(|e| AgentError::Listen {
                    addr,
                    why: e.to_string(),
                })
        }
        (None, None) => {
            let listener =
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| AgentError::Listen {
                        addr,
                        why: e.to_string(),
                    })?;
            axum::serve(listener, app)
                .await
                .map_err(|e| AgentError::Listen {
                    addr,
                    why: e.to_string(),
                })
        }
        _ => Err(AgentError::TlsHalf),
    }
}
