#![doc = include_str!("API.md")]

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::graph::{Edge, Element, Finding, GRAPH_SCHEMA};
use crate::layout::{Scene, View};
use crate::query::{details, search};

use super::cache::Rendered;
use super::error::ApiError;
use super::extract::{Query, Snap};
use super::headers::{etag, fresh, not_modified};
use super::state::{AppState, Current};

/// An ETag for `what` of this state: saved snapshots and live generations never share one.
pub fn tag_of(cur: &Current, what: &str) -> String {
    etag(cur.generation, &format!("{}:{what}", cur.key))
}

/// Answer a JSON question about `cur` on its query worker (the graph index lives there), with
/// the ETag `tag` and a 304 when the client already holds that answer.
pub async fn json_query<F>(
    cur: Arc<Current>,
    req: &HeaderMap,
    tag: String,
    f: F,
) -> Result<Response, ApiError>
where
    F: for<'a> FnOnce(
            &'a super::worker::Data,
            &crate::layout::GraphIndex<'a>,
        ) -> serde_json::Result<Vec<u8>>
        + Send
        + 'static,
{
    if let Some(r) = not_modified(req, &tag) {
        return Ok(r);
    }
    let body = cur.queries.run("query", f).await??;
    Ok(fresh("application/json", &tag, body))
}

/// Lay out and render a view on the layout worker (big graphs take tens of milliseconds).
pub async fn rendered(
    state: &AppState,
    cur: Arc<Current>,
    view: View,
) -> Result<Arc<Rendered>, ApiError> {
    state
        .cache()
        .get_or_render(&cur.key, cur.generation, &cur.layouts, &view)
        .await
        .map_err(ApiError::internal)
}

/// `GET /api/status`.
pub async fn status(State(state): State<AppState>) -> Response {
    let mut r = Json(state.status()).into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// `POST /api/refresh`.
pub async fn refresh(State(state): State<AppState>) -> Response {
    let started = state.refresh();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "started": started, "status": state.status() })),
    )
        .into_response()
}

/// `GET /api/live`: server-sent events, one `update` per new generation of the live state (what
/// changed: see [`super::state::LiveUpdate`]), with a comment line every few seconds so a page
/// can tell a stalled stream from a quiet host. A page that falls behind by more than the
/// buffer gets a `resync` event and redraws.
pub async fn live(State(state): State<AppState>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = state.updates();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(u) => Event::default()
                .event("update")
                .json_data(&*u)
                .unwrap_or_else(|_| Event::default().event("resync").data("{}")),
            Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(5)))
        .into_response()
}

/// `GET /api/snapshot`.
pub async fn snapshot(Snap(cur): Snap, req: HeaderMap) -> Result<Response, ApiError> {
    let tag = tag_of(&cur, "snapshot");
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let c = cur.clone();
    let body = tokio::task::spawn_blocking(move || match (c.single, c.data.snapshots.first()) {
        (true, Some(only)) => serde_json::to_vec(only),
        _ => serde_json::to_vec(&c.data.snapshots),
    })
    .await??;
    Ok(fresh("application/json", &tag, body))
}

#[derive(Serialize)]
struct GraphResponse<'a> {
    schema: &'static str,
    generation: u64,
    taken_at: &'a str,
    view: String,
    hide: &'a [String],
    elements: &'a [Element],
    edges: &'a [Edge],
    findings: &'a [Finding],
    layout: &'a Scene,
}

/// The ETag of `what` drawn under `view` from `cur`.
fn view_tag(cur: &Current, view: &View, what: &str) -> String {
    tag_of(cur, &format!("{what}?{}", view.to_query()))
}

/// `GET /api/graph`.
pub async fn graph(
    State(state): State<AppState>,
    Snap(cur): Snap,
    view: View,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let tag = view_tag(&cur, &view, "graph");
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let r = rendered(&state, cur.clone(), view).await?;
    let body = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&GraphResponse {
            schema: GRAPH_SCHEMA,
            generation: cur.generation,
            taken_at: &cur.taken_at,
            view: r.layout.view.to_query(),
            hide: &r.layout.hide,
            elements: &cur.data.graph.elements,
            edges: &cur.data.graph.edges,
            findings: &cur.data.graph.findings,
            layout: &r.layout.scene,
        })
    })
    .await??;
    Ok(fresh("application/json", &tag, body))
}

/// `GET /scene.svg`.
pub async fn scene_svg(
    State(state): State<AppState>,
    Snap(cur): Snap,
    view: View,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let tag = view_tag(&cur, &view, "svg");
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let r = rendered(&state, cur.clone(), view).await?;
    let mut resp = fresh("image/svg+xml; charset=utf-8", &tag, r.svg.clone());
    // The view the server resolved (with the selection's ancestors opened), for the page to keep.
    if let Ok(v) = axum::http::HeaderValue::from_str(&r.layout.view.to_query()) {
        resp.headers_mut().insert("x-dockmap-view", v);
    }
    if let Ok(v) = axum::http::HeaderValue::from_str(&r.layout.hide.join(",")) {
        resp.headers_mut().insert("x-dockmap-hide", v);
    }
    if let Ok(v) = axum::http::HeaderValue::from_str(&cur.generation.to_string()) {
        resp.headers_mut().insert("x-dockmap-generation", v);
    }
    Ok(resp)
}

/// The parameters of `/api/element`.
#[derive(Deserialize)]
pub struct ElementParams {
    /// The element's ID.
    id: Option<String>,
}

/// `GET /api/element?id=`.
pub async fn element(
    Snap(cur): Snap,
    Query(p): Query<ElementParams>,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let id = p.id.ok_or_else(|| ApiError::bad("missing id"))?;
    let tag = tag_of(&cur, &format!("element?{id}"));
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let body = cur
        .queries
        .run("query", move |d, ix| {
            details(&d.graph, ix, &d.snapshots, &id).map(|x| serde_json::to_vec(&x))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no such element"))??;
    Ok(fresh("application/json", &tag, body))
}

/// The parameters of `/api/search` (besides the view's).
#[derive(Deserialize)]
pub struct SearchParams {
    /// What to look for.
    #[serde(default)]
    q: String,
}

/// `GET /api/search?q=` (plus the view's parameters, to say what to unfold).
pub async fn search_handler(
    Snap(cur): Snap,
    view: View,
    Query(p): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let needle = p.q;
    let body = cur
        .queries
        .run("query", move |d, ix| {
            serde_json::to_vec(
                &json!({ "q": needle, "hits": search(&d.graph, ix, &view, &needle) }),
            )
        })
        .await??;
    let mut r = Response::new(axum::body::Body::from(body));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
