//! The web server: the page, its assets and the JSON API (see [`api`]).
//!
//! `dockmap serve` collects the local node in the background and serves an
//! interactive picture of it. Layout and SVG are made here; the browser only
//! draws and interacts (web/app.js, no third-party code).

pub mod api;
pub mod assets;
pub mod cache;
pub mod compare;
pub mod details;
pub mod error;
pub mod headers;
pub mod pages;
pub mod search;
pub mod share;
pub mod state;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::cluster::{ClusterOptions, Gatherer};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::collect::node::NodeOptions;

pub use error::WebError;
pub use state::AppState;

/// The address `dockmap serve` binds by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// What `dockmap serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// How to collect the local node.
    pub node: NodeOptions,
    /// Serve this saved snapshot file instead of collecting.
    pub open: Option<PathBuf>,
    /// Gather these agents instead of collecting the local node (`None` or an empty list: local only).
    pub cluster: Option<ClusterOptions>,
}

/// All routes, with compression and the security headers.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/", get(pages::index))
        .route("/scene.svg", get(api::scene_svg))
        .route("/api/status", get(api::status))
        .route("/api/refresh", post(api::refresh))
        .route("/api/snapshot", get(api::snapshot))
        .route("/api/graph", get(api::graph))
        .route("/api/element", get(api::element))
        .route("/api/search", get(api::search_handler))
        .route("/s/{id}", get(pages::permalink))
        .route("/compare", get(compare::page))
        .route("/api/compare", get(compare::api))
        .route("/export.html", get(share::export_html))
        .route("/export.json", get(share::export_json))
        .route("/static/{*file}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found").into_response() })
        .with_state(state)
        .layer(CompressionLayer::new());
    for (name, value) in headers::security_headers() {
        r = r.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    r
}

/// Serve until Ctrl-C: collect (or read the saved file) in the background and answer meanwhile.
pub async fn serve(opts: ServeOptions) -> Result<(), WebError> {
    let state = match &opts.open {
        Some(path) => AppState::from_file(path)?,
        None => {
            let s = match opts.cluster.clone().map(Gatherer::new).transpose()? {
                Some(g) if g.uses_agents() => AppState::gathering(g),
                _ => AppState::collecting(opts.node.clone()),
            };
            s.refresh();
            s
        }
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| WebError::Bind {
            addr: opts.listen,
            source: e,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    eprintln!("dockmap: serving on http://{addr}/");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(WebError::Serve)
}
