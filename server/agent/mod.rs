//! `dockmap agent`: serves this node's snapshot over HTTP(S) to holders of the shared token.

mod auth;
mod cache;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;

use crate::collect::node::NodeOptions;

pub use auth::Token;
pub use cache::SnapshotSource;

/// Path of the snapshot endpoint.
pub const SNAPSHOT_PATH: &str = "/v1/snapshot";
/// Path of the counter endpoint (POST a list of probes, get one reading each).
pub const COUNTERS_PATH: &str = "/v1/counters";
/// Largest probe list accepted, in bytes.
const MAX_COUNTERS_BODY: usize = 256 * 1024;
/// Path of the health endpoint.
pub const HEALTH_PATH: &str = "/v1/health";
/// Path of the change stream (server-sent events: `snapshot` with the new generation, and a
/// comment line at least every [`HEARTBEAT`], so a silent stream means a stalled agent).
pub const EVENTS_PATH: &str = "/v1/events";
/// How often the change stream says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Response header carrying the snapshot's generation.
pub const GENERATION_HEADER: &str = "x-dockmap-generation";

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
    // Follow the node from the start, so the first request finds a snapshot ready.
    if tokio::runtime::Handle::try_current().is_ok() {
        let cache = state.cache.clone();
        tokio::spawn(async move {
            cache.feed().await;
        });
    }
    Router::new()
        // Snapshots are JSON that gzip shrinks about tenfold: what each change costs on the wire.
        .route(
            SNAPSHOT_PATH,
            get(snapshot).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route(EVENTS_PATH, get(events))
        .route(
            COUNTERS_PATH,
            axum::routing::post(counters)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_COUNTERS_BODY)),
        )
        .route(HEALTH_PATH, get(health))
        .with_state(state)
}

/// 401 unless the request carries the token (when one is set).
fn refused(state: &AgentState, headers: &axum::http::HeaderMap) -> Option<Response> {
    let token = state.token.as_ref()?;
    (!token.accepts(headers)).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token\n",
        )
            .into_response()
    })
}

/// The latest snapshot: served from what the feed published, never collected per request.
async fn snapshot(State(state): State<AgentState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(no) = refused(&state, &headers) {
        return no;
    }
    match state.cache.get().await {
        Ok((generation, body)) => (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::HeaderName::from_static(GENERATION_HEADER),
                    generation.to_string(),
                ),
            ],
            body.as_ref().clone(),
        )
            .into_response(),
        Err(why) => (StatusCode::INTERNAL_SERVER_ERROR, why).into_response(),
    }
}

/// The change stream: one `snapshot` event per new generation (the current one first).
async fn events(State(state): State<AgentState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(no) = refused(&state, &headers) {
        return no;
    }
    let event = |generation: u64| -> Result<Event, Infallible> {
        Ok(Event::default()
            .event("snapshot")
            .data(format!("{{\"generation\":{generation}}}")))
    };
    let keep_alive = KeepAlive::new().interval(HEARTBEAT).text("alive");
    let Some(feed) = state.cache.feed().await else {
        // A file never changes: its one generation, then heartbeats.
        let stream =
            futures::stream::once(async move { event(0) }).chain(futures::stream::pending());
        return Sse::new(stream).keep_alive(keep_alive).into_response();
    };
    let stream = futures::stream::unfold(
        (feed.subscribe(), true),
        move |(mut rx, first)| async move {
            if first {
                rx.wait_for(Option::is_some).await.ok()?;
            } else {
                rx.changed().await.ok()?;
            }
            let generation = rx.borrow_and_update().as_ref().map_or(0, |p| p.generation);
            Some((event(generation), (rx, false)))
        },
    );
    Sse::new(stream).keep_alive(keep_alive).into_response()
}

/// A probe list and the readings that answer it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CounterExchange {
    /// What to read (the request).
    #[serde(default)]
    pub probes: Vec<crate::snapshot::counters::Probe>,
    /// One reading per probe (the answer).
    #[serde(default)]
    pub readings: Vec<crate::snapshot::counters::Reading>,
}

/// Packet counters of the namespaces of the latest snapshot (a watched path's hops).
async fn counters(
    State(state): State<AgentState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(no) = refused(&state, &headers) {
        return no;
    }
    let asked: CounterExchange = match serde_json::from_slice(&body) {
        Ok(x) => x,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("not a probe list: {e}\n")).into_response()
        }
    };
    let Some(snap) = state.cache.live_snapshot().await else {
        return (
            StatusCode::CONFLICT,
            "this agent serves a saved snapshot or has none yet: no live counters\n",
        )
            .into_response();
    };
    let read = tokio::task::spawn_blocking(move || {
        let names = crate::graph::namespace_names(&snap.namespaces);
        let tools = crate::collect::firewall::Tools::from_env();
        crate::collect::counters::read_node(&snap, &names, &asked.probes, &tools)
    })
    .await;
    match read {
        Ok(readings) => axum::Json(CounterExchange {
            probes: Vec::new(),
            readings,
        })
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
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
