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
pub mod diff;
pub mod error;
pub mod headers;
pub mod origin;
pub mod pages;
pub mod paths;
pub mod schedule;
pub mod search;
pub mod share;
pub mod state;
pub mod store;
pub mod watch;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{ClusterOptions, Gatherer};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::collect::node::NodeOptions;
use crate::store::Store;

pub use error::WebError;
pub use origin::AllowedHosts;
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
    /// Where the snapshot store lives (`None`: [`crate::store::default_data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// Take a scheduled snapshot this often.
    pub snapshot_every: Option<Duration>,
    /// How many scheduled snapshots to keep.
    pub keep: usize,
    /// The largest upload accepted, in bytes.
    pub upload_limit: usize,
    /// Host names answered besides IP literals and `localhost` (`--allow-host`).
    pub allow_hosts: Vec<String>,
}

/// How many scheduled snapshots `--snapshot-every` keeps unless told (a day at 10 minutes).
pub const DEFAULT_KEEP: usize = 144;

/// All routes, with compression and the security headers (no store: saving is refused).
pub fn router(state: AppState) -> Router {
    app(state, None, AllowedHosts::default())
}

/// All routes, the store's too; the store also opens permalinks.
pub fn router_with_store(state: AppState, store: store::StoreState) -> Router {
    router_allowing(state, Some(store), AllowedHosts::default())
}

/// [`router`] or [`router_with_store`], answering these host names besides IP literals and `localhost`.
pub fn router_allowing(
    state: AppState,
    store: Option<store::StoreState>,
    allowed: AllowedHosts,
) -> Router {
    if let Some(s) = &store {
        state.set_saved(s.store.clone());
    }
    app(state, store, allowed)
}

fn app(state: AppState, store: Option<store::StoreState>, allowed: AllowedHosts) -> Router {
    let mut r = Router::new()
        .route("/", get(pages::index))
        .route("/scene.svg", get(api::scene_svg))
        .route("/api/status", get(api::status))
        .route("/api/refresh", post(api::refresh))
        .route("/api/live", get(api::live))
        .route("/api/snapshot", get(api::snapshot))
        .route("/api/graph", get(api::graph))
        .route("/api/element", get(api::element))
        .route("/api/search", get(api::search_handler))
        .route("/api/ports", get(paths::ports))
        .route("/api/path", get(paths::path_handler))
        .route("/api/path/ends", get(paths::ends_handler))
        .route("/api/path/watch", get(watch::watch_handler))
        .route("/s/{id}", get(pages::permalink))
        .route("/api/diff", get(diff::api_diff))
        .route("/diff/{a}/{b}", get(diff::page))
        .route("/diff/{a}/{b}/scene.svg", get(diff::scene))
        .route("/compare", get(compare::page))
        .route("/api/compare", get(compare::api))
        .route("/export.html", get(share::export_html))
        .route("/export.json", get(share::export_json))
        .route("/static/{*file}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found").into_response() })
        .with_state(state);
    if let Some(s) = store {
        r = r.merge(store::routes(s));
    }
    // Inside the header layers, so a refusal carries the security headers too.
    let r = r.layer(axum::middleware::from_fn_with_state(
        Arc::new(allowed),
        origin::guard,
    ));
    let mut r = r.layer(CompressionLayer::new());
    for (name, value) in headers::security_headers() {
        r = r.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    r
}

/// Open the store where asked, or in the default place.
fn open_store(opts: &ServeOptions) -> Result<Arc<Store>, WebError> {
    let dir = opts
        .data_dir
        .clone()
        .or_else(crate::store::default_data_dir)
        .ok_or(WebError::NoDataDir)?;
    let store = Store::open(&dir)?;
    eprintln!("dockmap: snapshots are kept in {}", store.path().display());
    // Pseudonymized downloads use the key kept beside the snapshots, so they stay stable
    // across restarts of this server.
    match crate::share::PseudonymKey::load_or_create(&dir) {
        Ok(k) => crate::share::key::install(k),
        Err(e) => eprintln!("dockmap: {e}; pseudonyms are stable only until this server stops"),
    }
    Ok(Arc::new(store))
}

/// Serve until Ctrl-C: collect (or read the saved file) in the background and answer meanwhile.
pub async fn serve(opts: ServeOptions) -> Result<(), WebError> {
    let state = match &opts.open {
        Some(path) => AppState::from_file(path)?,
        None => match opts.cluster.clone().map(Gatherer::new).transpose()? {
            // Every agent's change stream is followed: each node is drawn as it changes.
            Some(g) if g.uses_agents() => AppState::gathering_live(g),
            // The local node is followed live: each change is drawn as it happens.
            _ => AppState::live(opts.node.clone()),
        },
    };
    let store = match open_store(&opts) {
        Ok(s) => Some(s),
        // Asked for (a directory given, or a schedule): the user must hear it failed.
        Err(e) if opts.data_dir.is_some() || opts.snapshot_every.is_some() => return Err(e),
        // Only the default place failed: the picture is still worth serving.
        Err(e) => {
            eprintln!("dockmap: saving snapshots is off: {e}");
            None
        }
    };
    let store = store.map(|store| {
        if let Some(every) = opts.snapshot_every {
            schedule::start(state.clone(), store.clone(), every, opts.keep);
        }
        store::StoreState {
            app: state.clone(),
            store,
            upload_limit: opts.upload_limit,
        }
    });
    let routes = router_allowing(state, store, AllowedHosts::new(&opts.allow_hosts));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| WebError::Bind {
            addr: opts.listen,
            source: e,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    eprintln!("dockmap: serving on http://{addr}/");
    axum::serve(listener, routes)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(WebError::Serve)
}
