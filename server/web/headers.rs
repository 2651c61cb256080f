//! Response headers: the Content-Security-Policy and friends, caching, ETags.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Only our own origin, no inline script or style, nothing from elsewhere: the page works offline
/// and a string from the engine can never run. `blob:` and `data:` images are for the PNG export.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The security headers every response carries.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

/// A weak ETag for data derived from snapshot `generation` and a request key.
pub fn etag(generation: u64, key: &str) -> String {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("W/\"g{generation}-{h:016x}\"")
}

/// 304 when the client already holds this version.
pub fn not_modified(req: &HeaderMap, tag: &str) -> Option<Response> {
    let inm = req.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    if inm.split(',').any(|t| t.trim() == tag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(tag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return Some(r);
    }
    None
}

/// A body with its type, revalidated on every use (`no-cache` + ETag): data changes with each refresh.
pub fn fresh(content_type: &'static str, tag: &str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    r
}
