//! The web server: the page, its assets and the JSON API (see [`api`]).
//!
//! `dockmap serve` collects the local node in the background and serves an
//! interactive picture of it. Layout and SVG are made here; the browser only
//! draws and interacts (web/app.js, no third-party code).

pub mod access;
pub mod api;
pub mod assets;
pub mod cache;
pub mod compare;
pub mod diff;
pub mod error;
pub mod extract;
pub mod headers;
pub mod origin;
pub mod pages;
pub mod patch;
pub mod paths;
pub mod schedule;
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
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::collect::node::NodeOptions;
use crate::store::Store;

use access::{Access, Guard, LinkKey, Need, Routes, Scope, Table, TokenSet};

pub use error::{ApiError, WebError};
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
    /// The token file (`--tokens`): read and write tokens; `None`: every route open.
    pub tokens: Option<PathBuf>,
    /// Serve a non-loopback address without tokens (`--no-auth`: a proxy checks who comes in).
    pub no_auth: bool,
    /// The most bytes the store may hold (`--store-max-bytes`).
    pub store_max_bytes: u64,
}

/// How many scheduled snapshots `--snapshot-every` keeps unless told (a day at 10 minutes).
pub const DEFAULT_KEEP: usize = 144;

/// All routes, with compression and the security headers (no store: saving is refused).
pub fn router(state: AppState) -> Router {
    app(state, None, AllowedHosts::default(), open_access()).0
}

/// All routes, the store's too; the store also opens permalinks.
pub fn router_with_store(state: AppState, store: store::StoreState) -> Router {
    router_allowing(state, Some(store.into()), AllowedHosts::default())
}

/// [`router`] or [`router_with_store`], answering these host names besides IP literals and `localhost`.
pub fn router_allowing(
    state: AppState,
    store: Option<store::Shelf>,
    allowed: AllowedHosts,
) -> Router {
    secured(state, store, allowed, open_access()).0
}

/// Every route open (no tokens), links under a secret of this run.
fn open_access() -> Arc<Access> {
    Arc::new(Access::open(LinkKey::ephemeral()))
}

/// The whole server under these access settings, and the table of every route's rule (the
/// access check's, and what tests enumerate).
pub fn secured(
    state: AppState,
    store: Option<store::Shelf>,
    allowed: AllowedHosts,
    access: Arc<Access>,
) -> (Router, Arc<Guard>) {
    if let Some(store::Shelf::Open(s)) = &store {
        state.set_saved(s.store.clone());
    }
    app(state, store, allowed, access)
}

fn app(
    state: AppState,
    store: Option<store::Shelf>,
    allowed: AllowedHosts,
    access: Arc<Access>,
) -> (Router, Arc<Guard>) {
    use Scope::{Server, SnapPath, SnapQuery};
    let snap = Need::Read(SnapQuery);
    let all = Need::Read(Server);
    let (r, mut rules) = Routes::new()
        .page("/", snap, pages::index)
        .get("/scene.svg", snap, api::scene_svg)
        .get("/scene.patch", snap, api::scene_patch)
        .get("/api/status", all, api::status)
        .post("/api/refresh", Need::Write, api::refresh)
        .get("/api/live", all, api::live)
        .get("/api/snapshot", snap, api::snapshot)
        .get("/api/graph", snap, api::graph)
        .get("/api/element", snap, api::element)
        .get("/api/search", snap, api::search_handler)
        .get("/api/ports", snap, paths::ports)
        .get("/api/path", snap, paths::path_handler)
        .get("/api/path/ends", snap, paths::ends_handler)
        .get("/api/path/watch", all, watch::watch_handler)
        .page("/s/{id}", Need::Read(SnapPath), pages::permalink)
        .get("/api/diff", all, diff::api_diff)
        .page("/diff/{a}/{b}", all, diff::page)
        .get("/diff/{a}/{b}/scene.svg", all, diff::scene)
        .page("/compare", all, compare::page)
        .get("/api/compare", all, compare::api)
        .get("/export.html", snap, share::export_html)
        .get("/export.json", snap, share::export_json)
        .get("/static/{*file}", Need::Public, assets::asset)
        .get("/favicon.ico", Need::Public, assets::favicon)
        .page("/login", Need::Public, access::login::page)
        .post("/login", Need::Public, access::login::login)
        .post("/logout", Need::Public, access::login::logout)
        .finish(state);
    let mut r = r.fallback(|| async { (StatusCode::NOT_FOUND, "not found").into_response() });
    if let Some(s) = store {
        let (sr, srules) = store::routes(s);
        r = r.merge(sr);
        rules.extend(srules);
    }
    let guard = Arc::new(Guard {
        access,
        table: Table::new(rules),
    });
    // Routing first (the access check needs the matched route), then Host/Origin, then access.
    let r = r.layer(axum::middleware::from_fn_with_state(
        guard.clone(),
        access::guard,
    ));
    // Inside the header layers, so a refusal carries the security headers too.
    let r = r.layer(axum::middleware::from_fn_with_state(
        Arc::new(allowed),
        origin::guard,
    ));
    let mut r = r.layer(CompressionLayer::new());
    for (name, value) in headers::security_headers() {
        r = r.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    (r, guard)
}

/// The access settings `serve` was given: tokens from their file, links from the data
/// directory's secret (or one for this run); refused on a non-loopback address without either
/// tokens or `--no-auth`.
pub fn access_for(
    opts: &ServeOptions,
    data_dir: Option<&std::path::Path>,
) -> Result<Access, WebError> {
    access::check_listen(opts.listen, opts.tokens.is_some(), opts.no_auth)?;
    let links = match data_dir.map(LinkKey::load_or_create) {
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            eprintln!("dockmap: {e}; snapshot links work only until this server stops");
            LinkKey::ephemeral()
        }
        None => LinkKey::ephemeral(),
    };
    Ok(match &opts.tokens {
        Some(path) => Access::with_tokens(TokenSet::from_file(path)?, links),
        None => Access::open(links),
    })
}

/// Open the store where asked, or in the default place.
fn open_store(opts: &ServeOptions) -> Result<Arc<Store>, WebError> {
    let dir = opts
        .data_dir
        .clone()
        .or_else(crate::store::default_data_dir)
        .ok_or(WebError::NoDataDir)?;
    let store = Store::open(&dir)?.with_max_bytes(opts.store_max_bytes);
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
    // Before anything is collected: an open server on a shared address is refused at once.
    access::check_listen(opts.listen, opts.tokens.is_some(), opts.no_auth)?;
    let state = match &opts.open {
        Some(path) => AppState::from_file(path)?,
        None => match opts.cluster.clone().map(Gatherer::new).transpose()? {
            // Every agent's change stream is followed: each node is drawn as it changes.
            Some(g) if g.uses_agents() => AppState::gathering_live(g),
            // The local node is followed live: each change is drawn as it happens.
            _ => AppState::live(opts.node.clone()),
        },
    };
    let shelf = match open_store(&opts) {
        Ok(store) => {
            if let Some(every) = opts.snapshot_every {
                schedule::start(state.clone(), store.clone(), every, opts.keep);
            }
            store::Shelf::Open(store::StoreState {
                app: state.clone(),
                store,
                upload_limit: opts.upload_limit,
            })
        }
        // A damaged file must not take the live picture down with it; it is left as it is, and
        // the store's routes say why they are off.
        Err(WebError::Store(e)) if e.is_damaged() => {
            let why = format!(
                "{e}: the snapshot store is damaged; saving and saved snapshots are off until \
                 it is moved aside (it is left untouched)"
            );
            eprintln!("dockmap: {why}; the live picture is served");
            store::Shelf::Off(why.into())
        }
        // Asked for (a directory given, or a schedule): the user must hear it failed.
        Err(e) if opts.data_dir.is_some() || opts.snapshot_every.is_some() => return Err(e),
        // Only the default place failed: the picture is still worth serving.
        Err(e) => {
            eprintln!("dockmap: saving snapshots is off: {e}");
            store::Shelf::Off(e.to_string().into())
        }
    };
    let dir = match &shelf {
        store::Shelf::Open(s) => s.store.path().parent().map(std::path::Path::to_path_buf),
        store::Shelf::Off(_) => None,
    };
    let access = Arc::new(access_for(&opts, dir.as_deref())?);
    if access.enforced() {
        eprintln!(
            "dockmap: tokens from {} are asked for",
            opts.tokens
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string())
        );
    } else if !opts.listen.ip().is_loopback() {
        eprintln!(
            "dockmap: --no-auth: every route is open to whoever reaches {}",
            opts.listen
        );
    }
    let (routes, _) = secured(
        state,
        Some(shelf),
        AllowedHosts::new(&opts.allow_hosts),
        access,
    );
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| WebError::Bind {
            addr: opts.listen,
            source: e,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    eprintln!("dockmap: serving on http://{addr}/");
    // The client's address counts its wrong tokens (access::throttle).
    axum::serve(
        listener,
        routes.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(WebError::Serve)
}
