//! Downloads to share: the view as one self-contained HTML file, the snapshot as JSON; either
//! pseudonymized on request (`pseudonymize=1`).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::layout::View;
use crate::share::{export, key, pseudonymize_cluster};

use super::api::{param, pick};
use super::state::AppState;

fn internal(msg: String) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": msg })),
    )
        .into_response()
}

/// `dockmap-<time>[-pseudonymized].<ext>`, with only safe characters.
fn file_name(taken_at: &str, anon: bool, ext: &str) -> String {
    let stamp: String = taken_at
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    let anon = if anon { "-pseudonymized" } else { "" };
    format!("dockmap-{stamp}{anon}.{ext}")
}

fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut r = Response::new(axum::body::Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn wants_pseudonyms(q: &str) -> bool {
    matches!(
        param(q, "pseudonymize").as_deref(),
        Some("1") | Some("true") | Some("yes")
    )
}

/// `GET /export.html?<view>[&snap=ID][&pseudonymize=1]`: the view as one HTML file (a download).
pub async fn export_html(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let cur = match pick(&state, q.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let qs = q.unwrap_or_default();
    let view = View::from_query(&qs);
    let anon = wants_pseudonyms(&qs);
    let cluster = cur.cluster();
    let made = tokio::task::spawn_blocking(move || {
        let k = anon.then(key::shared);
        export::export_html(&cluster, &view, k)
    })
    .await;
    match made {
        Ok(Ok(e)) => download(
            e.html.into_bytes(),
            "text/html; charset=utf-8",
            &file_name(&e.taken_at, anon, "html"),
        ),
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(e.to_string()),
    }
}

/// `GET /export.json[?snap=ID][&pseudonymize=1]`: the cluster snapshot shown, as a download.
pub async fn export_json(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let cur = match pick(&state, q.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let anon = wants_pseudonyms(q.as_deref().unwrap_or(""));
    let cluster = cur.cluster();
    let taken_at = cluster.taken_at.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let c = if anon {
            pseudonymize_cluster(&cluster, key::shared()).map_err(|e| e.to_string())?
        } else {
            cluster
        };
        serde_json::to_vec(&c).map_err(|e| e.to_string())
    })
    .await;
    match made {
        Ok(Ok(b)) => download(b, "application/json", &file_name(&taken_at, anon, "json")),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_hold_only_safe_characters() {
        assert_eq!(
            file_name("2026-11-26T13:34:10.5Z\"<x>", true, "html"),
            "dockmap-2026-11-26T13-34-10-5Z---pseudonymized.html"
        );
    }
}
