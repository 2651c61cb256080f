//! Who may talk to the server: a Host allow-list (against DNS rebinding) and a same-origin
//! check on requests that change something (against cross-site request forgery).
//!
//! `dockmap serve` listens on loopback, but any page the user visits can make the browser send
//! requests there. A rebinding page reaches it under its own name (`Host: evil.example`), so only
//! IP literals, `localhost` and names given with `serve --allow-host` are answered. A forged form
//! or `fetch` carries its page's `Origin`, so a POST whose `Origin` is not this server is refused.
//! A request without `Origin` (curl, scripts) is not from a web page and passes.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The host names answered besides IP literals and `localhost`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// IP literals, `localhost`, and these names (case-insensitive, without port).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        Self {
            names: names
                .into_iter()
                .map(|n| normal(n.as_ref()))
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) names this server.
    pub fn allows(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = normal(name);
        name == "localhost" || self.names.contains(&name)
    }
}

/// Lower case, without the trailing dot of a fully qualified name.
fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The name part of a `Host` value: without its port, an IPv6 literal without its brackets.
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return (after.is_empty() || port(after.strip_prefix(':')?)).then_some(v6);
    }
    match host.rsplit_once(':') {
        Some((name, p)) if port(p) && !name.contains(':') => Some(name),
        Some(_) => None,
        None => Some(host),
    }
    .filter(|n| !n.is_empty())
}

fn port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a request with this method can change something (GET, HEAD and OPTIONS cannot).
fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a request is refused, if it is.
pub fn refusal(allowed: &AllowedHosts, method: &Method, headers: &HeaderMap) -> Option<String> {
    let host = match headers.get(header::HOST).map(HeaderValue::to_str) {
        // HTTP/1.0 without Host: not a browser (browsers always send one).
        None => None,
        Some(Ok(h)) => Some(h),
        Some(Err(_)) => return Some("the Host header is not text".into()),
    };
    if let Some(h) = host {
        if !allowed.allows(h) {
            return Some(format!(
                "Host {h:?} is not a name of this server: use its IP address or localhost, \
                 or start it with `dockmap serve --allow-host NAME`"
            ));
        }
    }
    if !changes(method) {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let same = match (origin.to_str(), host) {
        (Ok(o), Some(h)) => o
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(h)),
        _ => false,
    };
    (!same).then(|| {
        format!(
            "a {method} from another origin ({}) is refused: only this server's own pages may change it",
            origin.to_str().unwrap_or("not text")
        )
    })
}

/// The middleware: 403 with the reason as text, or on to the routes.
pub async fn guard(State(allowed): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    match refusal(&allowed, req.method(), req.headers()) {
        Some(why) => (StatusCode::FORBIDDEN, format!("dockmap: {why}\n")).into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn ip_literals_localhost_and_given_names_only() {
        let a = AllowedHosts::new(["Dockmap.Example."]);
        for ok in [
            "127.0.0.1:7878",
            "127.0.0.1",
            "[::1]:7878",
            "[::1]",
            "198.18.0.5:80",
            "localhost:7878",
            "LOCALHOST",
            "localhost.",
            "dockmap.example:7878",
            "dockmap.EXAMPLE",
        ] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:7878",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "[::1",
            "::1:7878",
            "",
            ":7878",
            "dockmap.example:x",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(!AllowedHosts::default().allows("dockmap.example"));
    }

    #[test]
    fn a_post_from_another_origin_is_refused_same_origin_and_none_pass() {
        let a = AllowedHosts::default();
        let host = ("host", "127.0.0.1:7878");
        assert!(refusal(&a, &Method::POST, &headers(&[host])).is_none());
        assert!(refusal(
            &a,
            &Method::POST,
            &headers(&[host, ("origin", "http://127.0.0.1:7878")])
        )
        .is_none());
        for bad in ["https://evil.example", "null", "http://127.0.0.1:9999"] {
            let why = refusal(&a, &Method::POST, &headers(&[host, ("origin", bad)])).unwrap();
            assert!(why.contains("another origin"), "{why}");
        }
        // Reads are not refused for their Origin (the browser keeps their answers from the page).
        assert!(refusal(
            &a,
            &Method::GET,
            &headers(&[host, ("origin", "https://evil.example")])
        )
        .is_none());
        let why = refusal(&a, &Method::GET, &headers(&[("host", "evil.example")])).unwrap();
        assert!(why.contains("--allow-host"), "{why}");
    }
}
