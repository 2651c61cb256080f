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
use super::patch::{self, Patch};
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
    Ok(whole(&cur, &r, &tag))
}

/// The whole drawing `r` of `cur`, with what the page keeps of it in headers.
fn whole(cur: &Current, r: &Rendered, tag: &str) -> Response {
    let mut resp = fresh("image/svg+xml; charset=utf-8", tag, r.svg.clone());
    drawing_headers(&mut resp, cur, r);
    resp
}

/// What a drawing's answer says besides its body: the view the server resolved (with the
/// selection's ancestors opened), the filters in force and the generation drawn.
fn drawing_headers(resp: &mut Response, cur: &Current, r: &Rendered) {
    let h = resp.headers_mut();
    if let Ok(v) = axum::http::HeaderValue::from_str(&r.layout.view.to_query()) {
        h.insert("x-dockmap-view", v);
    }
    if let Ok(v) = axum::http::HeaderValue::from_str(&r.layout.hide.join(",")) {
        h.insert("x-dockmap-hide", v);
    }
    if let Ok(v) = axum::http::HeaderValue::from_str(&cur.generation.to_string()) {
        h.insert("x-dockmap-generation", v);
    }
}

/// The parameters of `/scene.patch` (besides the view's).
#[derive(Deserialize)]
pub struct PatchParams {
    /// The generation of the drawing the page holds.
    since: u64,
    /// The view that drawing was asked with, when not the one asked for now.
    base: Option<String>,
}

/// The body of a `/scene.patch` answer that is a patch.
#[derive(Serialize)]
struct PatchAnswer {
    /// The generation the patch starts from.
    since: u64,
    /// The generation it leads to.
    generation: u64,
    #[serde(flatten)]
    patch: Patch,
}

/// `GET /scene.patch?since=GEN[&base=VIEW]` (plus the view's parameters): the change from the
/// drawing of generation `since` (of view `base`, or of the view asked) to the newest drawing of
/// the view asked, as JSON ([`Patch`]); the whole drawing, as `/scene.svg` answers it and with
/// `x-dockmap-patch: whole`, when that older drawing is no longer held.
pub async fn scene_patch(
    State(state): State<AppState>,
    Snap(cur): Snap,
    view: View,
    Query(p): Query<PatchParams>,
    req: HeaderMap,
) -> Result<Response, ApiError> {
    let base = p
        .base
        .map_or_else(|| view.to_query(), |b| View::from_query(&b).to_query());
    let tag = view_tag(&cur, &view, &format!("patch?since={}&base={base}", p.since));
    if let Some(r) = not_modified(&req, &tag) {
        return Ok(r);
    }
    let new = rendered(&state, cur.clone(), view).await?;
    let patch = match state.cache().held(&cur.key, p.since, &base) {
        Some(old) => {
            let (new, generation) = (new.clone(), cur.generation);
            tokio::task::spawn_blocking(move || {
                let patch = patch::diff(&old.svg, &new.svg)?;
                Some(serde_json::to_vec(&PatchAnswer {
                    since: p.since,
                    generation,
                    patch,
                }))
            })
            .await?
            .transpose()?
        }
        None => None,
    };
    let Some(body) = patch else {
        let mut resp = whole(&cur, &new, &tag);
        resp.headers_mut().insert(
            "x-dockmap-patch",
            axum::http::HeaderValue::from_static("whole"),
        );
        return Ok(resp);
    };
    let mut resp = fresh("application/json", &tag, body);
    drawing_headers(&mut resp, &cur, &new);
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

#[cfg(test)]
mod tests;
