//! `GET /static/{file}` and `/favicon.ico`: the embedded front-end files ([`crate::assets`]) over HTTP.

use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::headers::not_modified;

// Templates name assets as `crate::web::assets::url`.
pub use crate::assets::{text, url, version, Assets};

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// `GET /static/{file}`: immutable when asked with the current `?v=`, else revalidated by ETag.
pub async fn asset(Path(file): Path<String>, RawQuery(q): RawQuery, req: HeaderMap) -> Response {
    let Some(f) = Assets::get(&file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let v = version(&file);
    let tag = format!("\"{v}\"");
    if let Some(r) = not_modified(&req, &tag) {
        return r;
    }
    let versioned = q.as_deref() == Some(&format!("v={v}"));
    let mut r = Response::new(axum::body::Body::from(f.data.into_owned()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if versioned && !cfg!(debug_assertions) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(t) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, t);
    }
    r
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says; answer with the SVG icon.
pub async fn favicon(req: HeaderMap) -> Response {
    asset(Path("favicon.svg".to_owned()), RawQuery(None), req).await
}
