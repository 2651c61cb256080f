//! Downloads to share: the view as one self-contained HTML file, the snapshot as JSON; either
//! pseudonymized on request (`pseudonymize=1`).

use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::Deserialize;

use crate::layout::View;
use crate::share::{export, key, pseudonymize_cluster};

use super::error::ApiError;
use super::extract::{Query, Snap};

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

/// The parameter of both downloads (besides `snap=` and the view's).
#[derive(Deserialize)]
pub struct ShareParams {
    /// `1`, `true` or `yes`: pseudonymized.
    pseudonymize: Option<String>,
}

impl ShareParams {
    fn pseudonyms(&self) -> bool {
        matches!(self.pseudonymize.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// `GET /export.html?<view>[&snap=ID][&pseudonymize=1]`: the view as one HTML file (a download).
pub async fn export_html(
    Snap(cur): Snap,
    view: View,
    Query(p): Query<ShareParams>,
) -> Result<Response, ApiError> {
    let anon = p.pseudonyms();
    let cluster = cur.cluster();
    let e = tokio::task::spawn_blocking(move || {
        let k = anon.then(key::shared);
        export::export_html(&cluster, &view, k)
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok(download(
        e.html.into_bytes(),
        "text/html; charset=utf-8",
        &file_name(&e.taken_at, anon, "html"),
    ))
}

/// `GET /export.json[?snap=ID][&pseudonymize=1]`: the cluster snapshot shown, as a download.
pub async fn export_json(
    Snap(cur): Snap,
    Query(p): Query<ShareParams>,
) -> Result<Response, ApiError> {
    let anon = p.pseudonyms();
    let cluster = cur.cluster();
    let taken_at = cluster.taken_at.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let c = if anon {
            pseudonymize_cluster(&cluster, key::shared()).map_err(ApiError::internal)?
        } else {
            cluster
        };
        Ok(serde_json::to_vec(&c)?)
    })
    .await??;
    Ok(download(
        body,
        "application/json",
        &file_name(&taken_at, anon, "json"),
    ))
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
