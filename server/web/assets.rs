//! Static assets under web/: embedded in release builds, read from disk in debug builds (rust-embed).

use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::headers::not_modified;

/// The files under web/.
#[derive(RustEmbed)]
#[folder = "web/"]
pub struct Assets;

/// A short content hash of an asset, for cache-busting URLs (`?v=`); empty if absent.
pub fn version(file: &str) -> String {
    Assets::get(file)
        .map(|f| {
            f.metadata.sha256_hash()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// The address a page names an asset by: `/static/FILE?v=VERSION`, so a new build is fetched
/// anew while an unchanged file stays cached. Templates call it for every asset they load.
pub fn url(file: &str) -> String {
    format!("/static/{file}?v={}", version(file))
}

/// The text of an asset (for tests and the exporter).
pub fn text(file: &str) -> Option<String> {
    Assets::get(file).map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_loads_its_assets_through_the_versioned_url() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // A literal `/static/` address would skip the version and stay cached after an upgrade.
            assert!(
                !text.contains("/static/"),
                "{} names an asset without url()",
                path.display()
            );
            for name in text.split("assets::url(\"").skip(1) {
                let file = name.split('"').next().unwrap();
                assert!(
                    Assets::get(file).is_some(),
                    "{}: no asset {file}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 20, "only {seen} asset references found");
        let u = url("store.js");
        assert!(u.starts_with("/static/store.js?v=") && u.len() > "/static/store.js?v=".len());
    }
}
