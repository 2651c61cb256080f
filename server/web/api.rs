#![doc = include_str!("API.md")]

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::graph::{Edge, Element, Finding, GRAPH_SCHEMA};
use crate::layout::{Scene, View};
use crate::query::{details, search};

use super::cache::Rendered;
use super::headers::{etag, fresh, not_modified};
use super::state::{AppState, Current};

/// 503 while there is nothing to show yet.
pub fn no_snapshot(state: &AppState) -> Response {
    let s = state.status();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "error": "no snapshot yet",
            "state": s.state,
            "detail": s.error,
        })),
    )
        .into_response()
}

/// 400 with the reason in words.
pub fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

/// A 500 answer saying `msg`.
pub fn internal(msg: String) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": msg })),
    )
        .into_response()
}

/// One named parameter of a query string.
pub fn param(q: &str, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The state a request is about: the live one, or the saved snapshot its `snap` parameter names;
/// or the answer to give at once (nothing to show yet, no such snapshot).
#[allow(clippy::result_large_err)]
pub async fn pick(state: &AppState, query: Option<&str>) -> Result<Arc<Current>, Response> {
    let snap = query.and_then(|q| param(q, "snap"));
    open(state, snap.as_deref()).await
}

/// The live state (`None`) or the saved snapshot `id`; or the answer to give at once.
#[allow(clippy::result_large_err)]
pub async fn open(state: &AppState, id: Option<&str>) -> Result<Arc<Current>, Response> {
    match state.current_for(id).await {
        Ok(Some(cur)) => Ok(cur),
        Ok(None) => Err(no_snapshot(state)),
        Err(e) => Err((e.status(), Json(json!({ "error": e.to_string() }))).into_response()),
    }
}

/// An ETag for `what` of this state: saved snapshots and live generations never share one.
pub fn tag_of(cur: &Current, what: &str) -> String {
    etag(cur.generation, &format!("{}:{what}", cur.key))
}

/// Answer a JSON question about `cur` on its query worker (the graph index lives there), with
/// the ETag `tag` and a 304 when the client already holds that answer.
pub async fn json_query<F>(cur: Arc<Current>, req: &HeaderMap, tag: String, f: F) -> Response
where
    F: for<'a> FnOnce(
            &'a super::worker::Data,
            &crate::layout::GraphIndex<'a>,
        ) -> serde_json::Result<Vec<u8>>
        + Send
        + 'static,
{
    if let Some(r) = not_modified(req, &tag) {
        return r;
    }
    match cur.queries.run("query", f).await {
        Ok(Ok(b)) => fresh("application/json", &tag, b),
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
}

/// Lay out and render a view on the layout worker (big graphs take tens of milliseconds).
pub async fn rendered(
    state: &AppState,
    cur: Arc<Current>,
    view: View,
) -> Result<Arc<Rendered>, Response> {
    state
        .cache()
        .get_or_render(&cur, &view)
        .await
        .map_err(|e| internal(e.to_string()))
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
pub async fn snapshot(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    req: HeaderMap,
) -> Response {
    let cur = match pick(&state, q.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let tag = tag_of(&cur, "snapshot");
    if let Some(r) = not_modified(&req, &tag) {
        return r;
    }
    let c = cur.clone();
    let body = tokio::task::spawn_blocking(move || match (c.single, c.data.snapshots.first()) {
        (true, Some(only)) => serde_json::to_vec(only),
        _ => serde_json::to_vec(&c.data.snapshots),
    })
    .await;
    match body {
        Ok(Ok(b)) => fresh("application/json", &tag, b),
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
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

/// The current snapshot, the view the query asks for, and its ETag; or the answer to give
/// at once (no snapshot yet, or the client's copy is still good).
#[allow(clippy::result_large_err)]
async fn viewed(
    state: &AppState,
    query: Option<&str>,
    req: &HeaderMap,
    what: &str,
) -> Result<(Arc<Current>, View, String), Response> {
    let cur = pick(state, query).await?;
    let view = View::from_query(query.unwrap_or(""));
    let tag = tag_of(&cur, &format!("{what}?{}", view.to_query()));
    match not_modified(req, &tag) {
        Some(r) => Err(r),
        None => Ok((cur, view, tag)),
    }
}

/// `GET /api/graph`.
pub async fn graph(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    req: HeaderMap,
) -> Response {
    let (cur, view, tag) = match viewed(&state, q.as_deref(), &req, "graph").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = match rendered(&state, cur.clone(), view).await {
        Ok(r) => r,
        Err(e) => return e,
    };
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
    .await;
    match body {
        Ok(Ok(b)) => fresh("application/json", &tag, b),
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
}

/// `GET /scene.svg`.
pub async fn scene_svg(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    req: HeaderMap,
) -> Response {
    let (cur, view, tag) = match viewed(&state, q.as_deref(), &req, "svg").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match rendered(&state, cur.clone(), view).await {
        Ok(r) => {
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
            resp
        }
        Err(e) => e,
    }
}

/// `GET /api/element?id=`.
pub async fn element(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    req: HeaderMap,
) -> Response {
    let cur = match pick(&state, q.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = param(q.as_deref().unwrap_or(""), "id") else {
        return bad("missing id");
    };
    let tag = tag_of(&cur, &format!("element?{id}"));
    if let Some(r) = not_modified(&req, &tag) {
        return r;
    }
    let out = cur
        .queries
        .run("query", move |d, ix| {
            details(&d.graph, ix, &d.snapshots, &id).map(|x| serde_json::to_vec(&x))
        })
        .await;
    match out {
        Ok(Some(Ok(b))) => fresh("application/json", &tag, b),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such element" })),
        )
            .into_response(),
        Ok(Some(Err(e))) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
}

/// `GET /api/search?q=` (plus the view's parameters, to say what to unfold).
pub async fn search_handler(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let cur = match pick(&state, q.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let qs = q.unwrap_or_default();
    let needle = param(&qs, "q").unwrap_or_default();
    let view = View::from_query(&qs);
    let out = cur
        .queries
        .run("query", move |d, ix| {
            serde_json::to_vec(
                &json!({ "q": needle, "hits": search(&d.graph, ix, &view, &needle) }),
            )
        })
        .await;
    match out {
        Ok(Ok(b)) => {
            let mut r = Response::new(axum::body::Body::from(b));
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
}
