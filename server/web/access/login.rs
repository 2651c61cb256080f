//! The login page and its two POSTs: a token in, a session cookie out; and out again.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Extension, Form};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{cookie, session_cookie, Access, Level, SESSION_COOKIE};
use crate::web::extract::Query;

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Where to go after logging in (a path on this server).
    pub next: String,
    /// Why the page is shown (empty: asked for).
    pub message: String,
    /// Whether this server asks for tokens at all.
    pub enforced: bool,
}

/// Only a path on this server: never `//elsewhere` or a full URL (an open redirect).
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if ok {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// The login page with this status (401 when a page was refused for want of a login).
pub fn page_response(status: StatusCode, next: &str, message: &str) -> Response {
    let page = LoginPage {
        next: safe_next(next),
        message: message.to_owned(),
        enforced: true,
    };
    let mut r = page.into_response();
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The parameter of the login page.
#[derive(Deserialize)]
pub struct PageParams {
    /// Where to go after logging in.
    #[serde(default)]
    next: String,
}

/// `GET /login[?next=/path]`.
pub async fn page(
    Extension(access): Extension<Arc<Access>>,
    Query(PageParams { next }): Query<PageParams>,
) -> Response {
    let mut r = page_response(StatusCode::OK, &next, "");
    if !access.enforced() {
        let page = LoginPage {
            next: safe_next(&next),
            message: "This server asks for no token: everyone who reaches it may use it.".into(),
            enforced: false,
        };
        r = page.into_response();
    }
    r
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /login` (form: `token`, `next`): 200 `{"level", "next"}` with the session cookie, or
/// 401 with the reason. The token is never echoed, logged or put in a URL.
pub async fn login(
    Extension(access): Extension<Arc<Access>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(&f.next);
    if !access.enforced() {
        return Json(json!({ "level": "open", "next": next })).into_response();
    }
    match access.login(f.token.trim(), peer.map(|Extension(c)| c.0.ip())) {
        Ok((level, id)) => {
            let mut r = Json(json!({
                "level": match level { Level::Read => "read", Level::Write => "write" },
                "next": next,
            }))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&session_cookie(SESSION_COOKIE, &id, &headers)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(refusal) => refusal.api_response(),
    }
}

/// `POST /logout`: ends the session, clears the cookie.
pub async fn logout(Extension(access): Extension<Arc<Access>>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        access.logout(id);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("dockmap_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("/s/abc?x=1"), "/s/abc?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
