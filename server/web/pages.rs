//! The page: askama template with the view's SVG inlined, so the first drawing needs no script.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::layout::view::HIDE_TOKENS;
use crate::layout::View;

use super::access::Grant;
use super::api::rendered;
use super::error::ApiError;
use super::extract::{Query, Snap, SnapParam};
use super::state::{AppState, Current, SourceReport, StatusReport};

/// What the filter menu calls each token.
fn token_label(t: &str) -> &'static str {
    match t {
        "loopback" => "loopbacks",
        "down" => "down links",
        "container" => "containers",
        "network" => "networks",
        "service" => "services",
        "task" => "tasks",
        "remote" => "remote addresses",
        "veth-pair" => "veth pairs",
        "bridge-port" => "bridge ports",
        "sandbox" => "sandbox links",
        "endpoint" => "endpoints",
        "fdb" => "FDB (vxlan) edges",
        "carries" => "network ↔ bridge",
        "runs" => "task → container",
        "has-task" => "service → task",
        _ => "?",
    }
}

/// "node-00" / "node-00, node-01" / "10 nodes".
pub fn nodes_text(nodes: &[String]) -> String {
    match nodes.len() {
        0..=2 => nodes.join(", "),
        n => format!("{n} nodes"),
    }
}

/// One source not read in full, as the status bar shows it.
pub struct SourceLine {
    /// What it says.
    pub text: String,
    /// `unavailable` or `error`: its colour, as the script gives it after a refresh.
    pub state: String,
    /// The nodes it was reported on, all of them (the text shortens a long list).
    pub nodes: String,
}

/// One filter checkbox.
pub struct Toggle {
    /// The token.
    pub token: &'static str,
    /// Whether it is hidden now.
    pub hidden: bool,
    /// Its words.
    pub label: &'static str,
}

/// The main page.
#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    /// The drawing (escaped by the SVG writer, so inserted as is).
    pub svg: String,
    /// Generation of the snapshot drawn (0: none yet).
    pub generation: u64,
    /// The hide tokens in force, comma-separated.
    pub hide: String,
    /// The view the page shows, as a query string.
    pub view: String,
    /// The saved snapshot shown (empty: the live one); the page's script asks about it.
    pub snap: String,
    /// collecting / refreshing / ready / failed.
    pub state: &'static str,
    /// The status line.
    pub status_text: String,
    /// Sources not read in full, one line each.
    pub sources: Vec<SourceLine>,
    /// Filter checkboxes.
    pub toggles: Vec<Toggle>,
    /// A saved snapshot shown to someone who may hand out its link (not to a link's holder).
    pub share: bool,
    /// The zoom level the fitted drawing opens at (`render::opening_zoom`).
    pub zoom: &'static str,
}

/// `GET /` (the live state, or the saved snapshot a `snap` parameter names).
pub async fn index(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(p): Query<SnapParam>,
    view: View,
) -> Result<Response, ApiError> {
    page(state, p.snap, view, sharer(grant)).await
}

/// Whether the viewer may hand out snapshot links (anyone who reads the whole server).
fn sharer(grant: Option<Extension<Grant>>) -> bool {
    grant.is_none_or(|Extension(g)| g.reads_all())
}

/// `GET /s/{id}`: the permalink of a saved snapshot, the same page over that snapshot.
pub async fn permalink(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Path(id): Path<String>,
    view: View,
) -> Result<Response, ApiError> {
    page(state, Some(id), view, sharer(grant)).await
}

async fn page(
    state: AppState,
    snap: Option<String>,
    view: View,
    sharer: bool,
) -> Result<Response, ApiError> {
    let (status, shown) = shown(&state, snap.as_deref()).await?;
    let drawing = Drawing::of(&state, shown, view).await?;
    let page = IndexPage {
        share: sharer && snap.is_some(),
        svg: drawing.svg,
        generation: drawing.generation.unwrap_or(status.generation),
        hide: drawing.hide.join(","),
        view: drawing.view,
        snap: snap.unwrap_or_default(),
        state: status.state,
        status_text: status_text(&status),
        sources: source_lines(&status.sources),
        toggles: toggles(&drawing.hide),
        zoom: drawing.zoom,
    };
    let mut r = page.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// The status and the snapshot to draw: the saved one `snap` names (the status then speaks of
/// it, not of the live state), or the live one if there is one yet.
async fn shown(
    state: &AppState,
    snap: Option<&str>,
) -> Result<(StatusReport, Option<Arc<Current>>), ApiError> {
    let mut status = state.status();
    let shown = match snap {
        Some(id) => {
            let cur = Snap::open(state, Some(id)).await?;
            status.taken_at = cur.taken_at.clone();
            status.elements = cur.data.graph.elements.len();
            status.edges = cur.data.graph.edges.len();
            status.sources = state.sources_of(&cur);
            status.state = "ready";
            Some(cur)
        }
        None => state.current(),
    };
    Ok((status, shown))
}

/// What the page inlines of the drawing.
struct Drawing {
    /// The SVG (empty: nothing to draw yet).
    svg: String,
    /// The hide tokens in force.
    hide: Vec<String>,
    /// The view, as a query string.
    view: String,
    /// The zoom level it opens at.
    zoom: &'static str,
    /// The generation drawn (a live page asks for patches from it), if any.
    generation: Option<u64>,
}

impl Drawing {
    /// The drawing of `shown` under `view`; with nothing to show, none (the view as asked).
    async fn of(
        state: &AppState,
        shown: Option<Arc<Current>>,
        view: View,
    ) -> Result<Self, ApiError> {
        Ok(match shown {
            Some(cur) => {
                let generation = Some(cur.generation);
                let r = rendered(state, cur, view).await?;
                Self {
                    generation,
                    svg: r.svg.clone(),
                    hide: r.layout.hide.clone(),
                    view: r.layout.view.to_query(),
                    zoom: crate::render::opening_zoom(
                        r.layout.scene.width,
                        r.layout.scene.height,
                        r.layout.view.aspect(),
                    ),
                }
            }
            None => Self {
                svg: String::new(),
                hide: Vec::new(),
                view: view.to_query(),
                zoom: "close",
                generation: None,
            },
        })
    }
}

/// The status line.
fn status_text(status: &StatusReport) -> String {
    match status.state {
        "collecting" => "Collecting this node… the picture appears when it is done.".to_owned(),
        _ if status.taken_at.is_empty() => "No snapshot.".to_owned(),
        _ => format!(
            "Snapshot {} · {} elements · {} edges",
            status.taken_at, status.elements, status.edges
        ),
    }
}

/// One status-bar line per source not read in full.
fn source_lines(sources: &[SourceReport]) -> Vec<SourceLine> {
    sources
        .iter()
        .map(|s| {
            let ns = s
                .namespace
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            SourceLine {
                text: format!(
                    "{}{ns} {} on {}: {}",
                    s.source,
                    s.state,
                    nodes_text(&s.nodes),
                    s.message
                ),
                state: s.state.clone(),
                nodes: s.nodes.join(", "),
            }
        })
        .collect()
}

/// The filter menu's checkboxes, ticked where the token is hidden.
fn toggles(hide: &[String]) -> Vec<Toggle> {
    HIDE_TOKENS
        .iter()
        .map(|t| Toggle {
            token: t,
            hidden: hide.iter().any(|h| h == t),
            label: token_label(t),
        })
        .collect()
}
