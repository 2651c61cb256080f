//! The snapshot store on the web: save, list, download, upload, and the list page.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Extension, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::snapshot::file::FileError;
use crate::store::{Kind, Saved, SnapshotMeta, Store, UploadFailure};

use super::access::{Access, Grant, Need, Routes, Rule, Scope};

use super::assets::version;
use super::error::ApiError;
use super::extract::Query;
use super::pages::nodes_text;
use super::state::AppState;

/// The largest body `POST /api/snapshots` reads (a label, not a snapshot).
const SAVE_BODY_LIMIT: usize = 64 * 1024;

/// What the store's handlers need.
#[derive(Clone)]
pub struct StoreState {
    /// The server's state (what a save stores).
    pub app: AppState,
    /// The store.
    pub store: Arc<Store>,
    /// The largest upload accepted, in bytes.
    pub upload_limit: usize,
}

/// The snapshot store as this server has it: open, or off with the reason (a damaged file, a
/// directory that could not be made). Off, its routes answer 503 saying why, where a missing
/// route's 404 left the page's Save saying only "not found".
#[derive(Clone)]
pub enum Shelf {
    /// Saving and saved snapshots work.
    Open(StoreState),
    /// Saving is off, for this reason (in words).
    Off(Arc<str>),
}

impl From<StoreState> for Shelf {
    fn from(s: StoreState) -> Self {
        Shelf::Open(s)
    }
}

/// A handler's open store; when saving is off, a 503 that says why.
pub struct Open(pub StoreState);

impl FromRequestParts<Shelf> for Open {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, shelf: &Shelf) -> Result<Self, ApiError> {
        match shelf {
            Shelf::Open(s) => Ok(Open(s.clone())),
            Shelf::Off(why) => Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-off",
                format!("saving is off: {why}"),
            )),
        }
    }
}

/// The store's routes, with their state applied (merged into the main router), and their rules.
pub fn routes(shelf: Shelf) -> (Router, Vec<Rule>) {
    let this = Need::Read(Scope::SnapPath);
    let all = Need::Read(Scope::Server);
    Routes::new()
        .post("/api/snapshots", Need::Write, save)
        .get("/api/snapshots", all, list)
        .post("/api/snapshots/upload", Need::Write, upload)
        .get("/api/snapshots/{id}", this, download)
        .delete("/api/snapshots/{id}", Need::Write, remove)
        .get("/api/snapshots/{id}/meta", this, meta)
        .get("/api/snapshots/{id}/link", all, link)
        .page("/snapshots", all, list_page)
        .finish(shelf)
}

fn error(status: StatusCode, reason: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(status, msg).with_reason(reason)
}

/// The store's thread failed (a panic, a closed queue): 500.
fn store_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e).with_reason("store")
}

fn no_such(id: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no saved snapshot {id:?}"),
    )
}

/// The answer to a save or an upload: 201 when new, 200 when the content was stored already.
fn saved(s: Saved) -> Response {
    let status = if s.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let permalink = format!("/s/{}", s.meta.id);
    let mut body = serde_json::to_value(&s).unwrap_or_default();
    body["permalink"] = json!(permalink);
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&permalink) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[derive(Deserialize, Default)]
struct SaveBody {
    #[serde(default)]
    label: String,
}

/// How many uploads are read and checked at once. Each may take several times its size in
/// memory while it is parsed and stored; the others wait before their bodies are read, held
/// back by TCP (their bytes stay in the sender's and the kernel's buffers, not here), so twenty
/// uploads at once cost about what two do.
const UPLOADS_AT_ONCE: usize = 2;

static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(UPLOADS_AT_ONCE);

/// How long a body may pause before the upload is dropped (a stalled sender holds a slot).
const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// Read a whole body, refusing it as soon as it passes `limit` bytes; with `json`, also as
/// soon as its first byte shows it is no JSON object or array.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    json: bool,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            FileError::TooLarge { limit }.to_string(),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    // Sized once from the declared length: growing by doubling would hold two copies at the end.
    let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut looked = false;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE, stream.next()).await {
            Ok(n) => n,
            Err(_) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "body",
                    format!("the upload stalled for {} s", BODY_IDLE.as_secs()),
                ))
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "body",
                format!("the upload broke off: {e}"),
            )
        })?;
        // Counted as it arrives: an oversized body is refused without being held whole.
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
        if json && !looked {
            if let Some(b) = out.iter().find(|b| !b.is_ascii_whitespace()) {
                looked = true;
                if !matches!(b, b'{' | b'[') {
                    let e = if b"-0123456789\"tfn".contains(b) {
                        FileError::NotSnapshot("a JSON scalar, not an object or an array".into())
                    } else {
                        FileError::NotJson(format!("it starts with {:?}", char::from(*b)))
                    };
                    return Err(e.into());
                }
            }
        }
    }
    Ok(out)
}

/// `POST /api/snapshots`: save the live state (`{"label": "…"}`, optional).
pub async fn save(Open(s): Open, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, SAVE_BODY_LIMIT, false).await?;
    let req: SaveBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        SaveBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "body",
                format!("expected {{\"label\": \"…\"}}: {e}"),
            )
        })?
    };
    let cur = s.app.current().ok_or_else(|| {
        let st = s.app.status();
        ApiError::no_snapshot(st.state, st.error)
    })?;
    let store = s.store.clone();
    let x =
        tokio::task::spawn_blocking(move || store.save(cur.cluster(), Kind::Manual, &req.label))
            .await
            .map_err(store_failed)??;
    Ok(saved(x))
}

/// `DELETE /api/snapshots/{id}`: 200 `{"deleted": id}`, 404 when there is none.
pub async fn remove(Open(s): Open, Path(id): Path<String>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let key = id.clone();
    let deleted = tokio::task::spawn_blocking(move || store.delete(&key))
        .await
        .map_err(store_failed)??;
    if !deleted {
        return Err(no_such(&id));
    }
    Ok(Json(json!({ "deleted": id })).into_response())
}

/// The metadata of saved snapshot `id`, or 404.
async fn meta_of(s: &StoreState, id: &str) -> Result<SnapshotMeta, ApiError> {
    let store = s.store.clone();
    let key = id.to_owned();
    tokio::task::spawn_blocking(move || store.meta(&key))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?
        .ok_or_else(|| no_such(id))
}

/// `GET /api/snapshots/{id}/link`: `{"link": "/s/ID?key=…"}`, the capability link that opens
/// this snapshot only, read-only (404 for an unknown ID).
pub async fn link(
    Open(s): Open,
    Extension(access): Extension<Arc<Access>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    meta_of(&s, &id).await?;
    let mut r = Json(json!({ "link": access.link(&id) })).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /api/snapshots`: every saved snapshot, newest first.
pub async fn list(Open(s): Open) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let list = tokio::task::spawn_blocking(move || store.list())
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let mut r = Json(json!({ "snapshots": list })).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /api/snapshots/{id}`: the stored JSON, as a download.
pub async fn download(Open(s): Open, Path(id): Path<String>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let key = id.clone();
    let bytes = tokio::task::spawn_blocking(move || store.bytes(&key))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?
        .ok_or_else(|| no_such(&id))?;
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The ID is the content's hash: these bytes never change.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{id}\"")) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"dockmap-{id}.json\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /api/snapshots/{id}/meta`: one snapshot's metadata (the permalink page names it).
pub async fn meta(Open(s): Open, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(meta_of(&s, &id).await?).into_response())
}

/// The parameters of an upload.
#[derive(Deserialize)]
pub struct UploadParams {
    /// The label to save it under.
    #[serde(default)]
    label: String,
}

/// `POST /api/snapshots/upload?label=…`: a node snapshot, an array of them, or a cluster
/// snapshot as the body; checked whole before anything is stored.
pub async fn upload(
    Open(s): Open,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Before the body is read: a waiting upload holds no memory here.
    let _slot = UPLOADS
        .acquire()
        .await
        .map_err(|_| store_failed("the upload queue is closed"))?;
    let bytes = read_body(&headers, body, s.upload_limit, true).await?;
    let (store, limit) = (s.store.clone(), s.upload_limit);
    let done = tokio::task::spawn_blocking(move || store.upload_owned(bytes, limit, &p.label))
        .await
        .map_err(store_failed)?;
    match done {
        Ok(x) => Ok(saved(x)),
        Err(UploadFailure::Refused(e)) => Err(e.into()),
        Err(UploadFailure::Store(e)) => Err(e.into()),
    }
}

/// One row of the list page.
pub struct Row {
    /// Content ID.
    pub id: String,
    /// When saved.
    pub saved_at: String,
    /// When taken.
    pub taken_at: String,
    /// The label.
    pub label: String,
    /// manual / scheduled / uploaded.
    pub kind: &'static str,
    /// The nodes, shortened.
    pub nodes: String,
    /// Every node name (the cell's title).
    pub all_nodes: String,
    /// The size in words.
    pub size: String,
}

impl From<SnapshotMeta> for Row {
    fn from(m: SnapshotMeta) -> Row {
        Row {
            nodes: nodes_text(&m.nodes),
            all_nodes: m.nodes.join(", "),
            size: human_size(m.size),
            kind: m.kind.as_str(),
            id: m.id,
            saved_at: m.saved_at,
            taken_at: m.taken_at,
            label: m.label,
        }
    }
}

/// The list of saved snapshots.
#[derive(Template, WebTemplate)]
#[template(path = "snapshots.html")]
pub struct ListPage {
    /// The rows, newest first.
    pub rows: Vec<Row>,
    /// Why the list could not be read, if it could not.
    pub error: String,
    /// The upload limit in words.
    pub limit: String,
    /// The upload limit in bytes (the script checks before sending).
    pub limit_bytes: usize,
    /// Asset versions.
    pub app_css_v: String,
    /// Asset versions.
    pub store_js_v: String,
    /// Asset versions.
    pub store_css_v: String,
    /// Asset versions.
    pub favicon_v: String,
    /// Whether the viewer may upload and delete (the page offers it).
    pub can_write: bool,
}

/// `GET /snapshots`: the list page, with the upload form.
pub async fn list_page(Open(s): Open, grant: Option<Extension<Grant>>) -> Response {
    let store = s.store.clone();
    let (rows, error) = match tokio::task::spawn_blocking(move || store.list()).await {
        Ok(Ok(list)) => (list.into_iter().map(Row::from).collect(), String::new()),
        Ok(Err(e)) => (Vec::new(), e.to_string()),
        Err(e) => (Vec::new(), e.to_string()),
    };
    let page = ListPage {
        rows,
        error,
        limit: human_size(s.upload_limit as u64),
        limit_bytes: s.upload_limit,
        app_css_v: version("app.css"),
        store_js_v: version("store.js"),
        store_css_v: version("store.css"),
        favicon_v: version("favicon.svg"),
        can_write: grant.is_none_or(|Extension(g)| g.can_write()),
    };
    let mut r = page.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// 532 B, 4.1 KiB, 12.0 MiB.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(532), "532 B");
        assert_eq!(human_size(4200), "4.1 KiB");
        assert_eq!(human_size(64 * 1024 * 1024), "64.0 MiB");
    }
}
