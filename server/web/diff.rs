//! What changed between two snapshots, on the web: `GET /api/diff?a=&b=` (the diff as JSON),
//! the page `/diff/{a}/{b}` and its drawing `/diff/{a}/{b}/scene.svg`.
//!
//! Either side is a saved snapshot's ID or `live`. Both are opened through
//! [`AppState::current_for`], rebuilt the same way and compared by [`crate::diff`]; the result
//! (and the union graph the drawing is laid out over) is kept for the few pairs asked last, so
//! the page, its list and its redraws cost one diff.

use std::sync::{Arc, Mutex, OnceLock};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::diff::{self, draw, text, Diff, Side};
use crate::graph::Graph;
use crate::layout::{GraphIndex, View};

use super::assets::version;
use super::error::ApiError;
use super::extract::{Query, Snap};
use super::headers::{etag, fresh, not_modified};
use super::state::{AppState, LIVE};
use super::worker::Data;

/// A diff and the graph it is drawn over.
pub struct Compared {
    /// The diff.
    pub diff: Diff,
    /// B's graph plus what A had and B lacks.
    pub union: Graph,
}

/// How many compared pairs are kept.
const KEEP: usize = 4;

type Entry = (Arc<Data>, Arc<Data>, Arc<Compared>);

/// Pairs compared lately, keyed by the identity of the two sides' data (immutable while held).
fn cache() -> &'static Mutex<Vec<Entry>> {
    static CACHE: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Both sides (each `live` or a saved snapshot's ID), their diff, and an ETag naming exactly
/// these two states.
async fn compared(state: &AppState, a: &str, b: &str) -> Result<(Arc<Compared>, String), ApiError> {
    let ca = Snap::open(state, Some(a)).await?;
    let cb = Snap::open(state, Some(b)).await?;
    let tag = etag(
        0,
        &format!(
            "diff:{}:{}:{}:{}",
            ca.key, ca.generation, cb.key, cb.generation
        ),
    );
    if let Ok(c) = cache().lock() {
        if let Some((_, _, hit)) = c
            .iter()
            .find(|(x, y, _)| Arc::ptr_eq(x, &ca.data) && Arc::ptr_eq(y, &cb.data))
        {
            return Ok((hit.clone(), tag));
        }
    }
    let (da, db) = (ca.data.clone(), cb.data.clone());
    let built = tokio::task::spawn_blocking(move || {
        let sa = Side::of(ca.cluster());
        let sb = Side::of(cb.cluster());
        let d = diff::diff(&sa, &sb);
        let union = draw::union(&sa.graph, &sb.graph);
        Arc::new(Compared { diff: d, union })
    })
    .await?;
    if let Ok(mut c) = cache().lock() {
        if c.len() >= KEEP {
            c.remove(0);
        }
        c.push((da, db, built.clone()));
    }
    Ok((built, tag))
}

/// The two sides of `/api/diff`.
#[derive(Deserialize)]
pub struct DiffParams {
    /// Side A: a saved snapshot's ID or `live`.
    a: Option<String>,
    /// Side B.
    b: Option<String>,
}

/// `GET /api/diff?a=<id>&b=<id>`: the diff of two snapshots (`live` allowed for either side).
pub async fn api_diff(
    State(state): State<AppState>,
    Query(p): Query<DiffParams>,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let (Some(a), Some(b)) = (p.a, p.b) else {
        return Err(ApiError::bad(
            "give both sides: /api/diff?a=<id>&b=<id> (an ID or live)",
        ));
    };
    let (c, tag) = compared(&state, &a, &b).await?;
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let body = tokio::task::spawn_blocking(move || serde_json::to_vec(&c.diff)).await??;
    Ok(fresh("application/json", &tag, body))
}

/// Draw the union under a view (on a blocking thread: big graphs take tens of milliseconds).
async fn drawn(c: Arc<Compared>, view: View) -> Result<draw::Drawn, ApiError> {
    Ok(tokio::task::spawn_blocking(move || {
        let ix = GraphIndex::new(&c.union);
        draw::draw(&c.diff, &c.union, &ix, &view)
    })
    .await?)
}

/// `GET /diff/{a}/{b}/scene.svg?<view>`: the drawing alone, for the page to redraw.
pub async fn scene(
    State(state): State<AppState>,
    Path((a, b)): Path<(String, String)>,
    view: View,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let (c, tag) = compared(&state, &a, &b).await?;
    let tag = etag(0, &format!("{tag}:svg?{}", view.to_query()));
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let d = drawn(c, view).await?;
    Ok(fresh("image/svg+xml; charset=utf-8", &tag, d.svg))
}

/// The diff page.
#[derive(Template, WebTemplate)]
#[template(path = "diff.html")]
pub struct DiffPage {
    /// The drawing (escaped by the SVG writer, so inserted as is).
    pub svg: String,
    /// Side A's ID (`live` or a saved snapshot's).
    pub a: String,
    /// Side B's ID.
    pub b: String,
    /// Where side A is shown on its own.
    pub a_href: String,
    /// Where side B is shown on its own.
    pub b_href: String,
    /// When A was taken, and its nodes.
    pub a_text: String,
    /// When B was taken, and its nodes.
    pub b_text: String,
    /// The counts in one line.
    pub headline: String,
    /// Nothing differs.
    pub equal: bool,
    /// What is never compared.
    pub ignored: String,
    /// Nodes a side has no snapshot of, one line each.
    pub unseen: Vec<String>,
    /// The view the page shows, as a query string.
    pub view: String,
    /// Asset versions.
    pub app_css_v: String,
    /// Asset versions.
    pub map_css_v: String,
    /// Asset versions.
    pub diff_css_v: String,
    /// Asset versions.
    pub diff_js_v: String,
    /// Asset versions.
    pub panzoom_js_v: String,
    /// Asset versions.
    pub favicon_v: String,
}

fn href(id: &str) -> String {
    if id == LIVE {
        "/".into()
    } else {
        format!(
            "/s/{}",
            serde_urlencoded::to_string([("", id)])
                .map(|s| s.trim_start_matches('=').to_owned())
                .unwrap_or_default()
        )
    }
}

fn side_text(id: &str, s: &diff::SideSummary) -> String {
    let name = if id == LIVE { "live" } else { id };
    format!(
        "{name} · {} · {}",
        s.taken_at,
        super::pages::nodes_text(&s.nodes)
    )
}

/// `GET /diff/{a}/{b}`: B drawn with what A had put back as ghosts, the changes marked and listed.
pub async fn page(
    State(state): State<AppState>,
    Path((a, b)): Path<(String, String)>,
    view: View,
) -> Result<Response, ApiError> {
    let (c, _) = compared(&state, &a, &b).await?;
    let d = drawn(c.clone(), view.clone()).await?;
    let page = DiffPage {
        svg: d.svg,
        a_href: href(&a),
        b_href: href(&b),
        a_text: side_text(&a, &c.diff.a),
        b_text: side_text(&b, &c.diff.b),
        headline: if c.diff.equal {
            "No differences.".into()
        } else {
            text::headline(&c.diff.counts)
        },
        equal: c.diff.equal,
        ignored: c.diff.ignored.join("; "),
        unseen: c
            .diff
            .unseen
            .iter()
            .map(|u| {
                format!(
                    "{}: no snapshot in {} ({}), so what is on it is not compared",
                    u.node,
                    u.side.to_uppercase(),
                    u.why
                )
            })
            .collect(),
        view: view.to_query(),
        a,
        b,
        app_css_v: version("app.css"),
        map_css_v: version("map.css"),
        diff_css_v: version("diff.css"),
        diff_js_v: version("diff.js"),
        panzoom_js_v: version("panzoom.js"),
        favicon_v: version("favicon.svg"),
    };
    let mut r = page.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}
