//! Who may do what on `dockmap serve`: tokens from a file (`--tokens FILE`, read or write), a
//! login that starts a server-side session (HttpOnly, SameSite=Strict cookie), `Authorization:
//! Bearer` for scripts, and capability links that open one saved snapshot read-only.
//!
//! Every route is added through [`routes::Routes`] with the [`Need`] it has, and [`guard`] runs
//! in front of all of them: a route the table does not name is refused, so none slips by. With
//! no tokens (loopback, or `--no-auth`) everything is open, as before.

pub mod links;
pub mod login;
pub mod routes;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub use links::LinkKey;
pub use routes::Routes;
pub use sessions::Sessions;
pub use throttle::Throttle;
pub use tokens::{Level, TokenSet};

/// The login session's cookie.
pub const SESSION_COOKIE: &str = "dockmap_session";
/// The cookie of a session opened by a snapshot's link (it opens only those snapshots).
pub const SHARE_COOKIE: &str = "dockmap_share";

/// Why access could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The token file is unreadable, malformed or too open.
    #[error("token file {path}: {why}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the token itself).
        why: String,
    },
    /// A non-loopback address without any access setting.
    #[error(
        "refusing to listen on {addr} with no access control: anyone who reaches it could see \
         every node's wiring, save and upload. Give `--tokens FILE` (lines `read <token>` or \
         `write <token>`, the file mode 600; see \"Running a team server safely\" in the README), \
         or `--no-auth` if a proxy in front of this server already checks who comes in"
    )]
    Open {
        /// The address asked for.
        addr: SocketAddr,
    },
}

/// Whether serving on `addr` is allowed with these settings: loopback always is; any other
/// address only with tokens or the explicit `--no-auth`.
pub fn check_listen(addr: SocketAddr, tokens: bool, no_auth: bool) -> Result<(), AccessError> {
    if addr.ip().is_loopback() || tokens || no_auth {
        Ok(())
    } else {
        Err(AccessError::Open { addr })
    }
}

/// Which snapshot a route is about, for a snapshot's link to open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole server (the live state, lists, comparisons): never opened by a link.
    Server,
    /// The saved snapshot its `snap=` parameter names (the live one without it).
    SnapQuery,
    /// The saved snapshot its `{id}` path segment names.
    SnapPath,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (the login page, static assets).
    Public,
    /// A read or write token; a snapshot's link where the scope names that snapshot.
    Read(Scope),
    /// A write token.
    Write,
}

/// One route of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its method (GET also answers HEAD).
    pub method: Method,
    /// Its path as the router writes it (`/s/{id}`).
    pub path: &'static str,
    /// What it needs.
    pub need: Need,
    /// An HTML page: a refusal for want of a login shows the login page.
    pub page: bool,
}

impl Rule {
    /// The saved snapshot a request to this route is about, if its scope names one.
    fn snapshot(&self, uri_path: &str, query: &str) -> Option<String> {
        match self.need {
            Need::Read(Scope::SnapQuery) => LinkParams::of(query).snap,
            Need::Read(Scope::SnapPath) => {
                let at = self.path.split('/').position(|s| s == "{id}")?;
                uri_path.split('/').nth(at).map(str::to_owned)
            }
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }
}

/// The parameters that name a snapshot and open it by link.
#[derive(Debug, Default, serde::Deserialize)]
struct LinkParams {
    snap: Option<String>,
    key: Option<String>,
}

impl LinkParams {
    /// Read as the handlers' [`crate::web::extract::Query`] reads them. A query they refuse (a
    /// parameter given twice) names no snapshot and no key here, so it opens nothing by a link;
    /// a token holder hears the reason from the handler.
    fn of(query: &str) -> Self {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }
}

/// Every route's rule.
#[derive(Debug, Default)]
pub struct Table {
    rules: Vec<Rule>,
}

enum Lookup<'a> {
    Found(&'a Rule),
    /// The path is routed, not with this method: the router answers 405.
    OtherMethod,
    /// A route the table does not know (added around [`Routes`]): refused.
    Unknown,
}

impl Table {
    /// The table of these rules.
    pub fn new(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    /// Every rule, in the order the routes were added.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn find(&self, method: &Method, path: &str) -> Lookup<'_> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        match self
            .rules
            .iter()
            .find(|r| r.path == path && r.method == method)
        {
            Some(r) => Lookup::Found(r),
            None if self.rules.iter().any(|r| r.path == path) => Lookup::OtherMethod,
            None => Lookup::Unknown,
        }
    }
}

/// What a request may do, as the handlers see it (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// No tokens configured: everything.
    Open,
    /// A write token.
    Write,
    /// A read token.
    Read,
    /// Snapshots' links: these saved snapshots, read-only.
    Snapshots(BTreeSet<String>),
    /// Nothing presented (public routes only).
    None,
}

impl Grant {
    /// May save, upload, delete, refresh.
    pub fn can_write(&self) -> bool {
        matches!(self, Grant::Open | Grant::Write)
    }

    /// May read everything (not only some snapshots).
    pub fn reads_all(&self) -> bool {
        matches!(self, Grant::Open | Grant::Write | Grant::Read)
    }
}

impl From<Level> for Grant {
    fn from(l: Level) -> Grant {
        match l {
            Level::Read => Grant::Read,
            Level::Write => Grant::Write,
        }
    }
}

/// The server's access settings and sessions.
#[derive(Debug)]
pub struct Access {
    tokens: Option<TokenSet>,
    logins: Sessions,
    shares: Sessions,
    links: LinkKey,
    guesses: Throttle,
}

impl Access {
    /// No tokens: every route open (loopback, or `--no-auth`); links still work.
    pub fn open(links: LinkKey) -> Self {
        Self {
            tokens: None,
            logins: Sessions::default(),
            shares: Sessions::default(),
            links,
            guesses: Throttle::default(),
        }
    }

    /// Only holders of these tokens (and of a snapshot's link, for that snapshot).
    pub fn with_tokens(tokens: TokenSet, links: LinkKey) -> Self {
        Self {
            tokens: Some(tokens),
            ..Self::open(links)
        }
    }

    /// Whether tokens are asked for.
    pub fn enforced(&self) -> bool {
        self.tokens.is_some()
    }

    /// The capability link that opens saved snapshot `id` read-only.
    pub fn link(&self, id: &str) -> String {
        format!("/s/{id}?key={}", self.links.key_for(id))
    }

    /// Log in with a token from `peer`: its level and a new session's ID; refused (401, or 429
    /// while `peer` is held back for guessing).
    pub fn login(&self, token: &str, peer: Option<IpAddr>) -> Result<(Level, String), Refusal> {
        let now = Instant::now();
        self.guesses.check(peer, now).map_err(Refusal::throttled)?;
        let wrong = || Refusal::unauthenticated("not a token of this server");
        let level = match self.tokens.as_ref().and_then(|t| t.check(token.as_bytes())) {
            Some(level) => level,
            None => {
                self.guesses.wrong(peer, now);
                return Err(wrong());
            }
        };
        let id = self.logins.start(level.into()).ok_or_else(|| Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            why: "no session could be started (no randomness to be had)".into(),
            retry_after: None,
        })?;
        Ok((level, id))
    }

    /// End a login session.
    pub fn logout(&self, session: &str) {
        self.logins.end(session);
    }

    /// Who is asking: a bearer token, else a login session; `None` when neither.
    fn identify(&self, headers: &HeaderMap) -> Result<Option<Grant>, Refusal> {
        let Some(tokens) = &self.tokens else {
            return Ok(Some(Grant::Open));
        };
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let given = v.as_bytes().strip_prefix(b"Bearer ").ok_or_else(|| {
                Refusal::unauthenticated("the Authorization header must be `Bearer <token>`")
            })?;
            return match tokens.check(given) {
                Some(level) => Ok(Some(level.into())),
                None => Err(Refusal::unauthenticated(
                    "the bearer token is not one this server accepts",
                )),
            };
        }
        Ok(cookie(headers, SESSION_COOKIE).and_then(|id| self.logins.grant(id)))
    }

    /// Decide a request to `rule`.
    pub fn decide(
        &self,
        rule: &Rule,
        headers: &HeaderMap,
        uri_path: &str,
        query: &str,
    ) -> Result<Admitted, Refusal> {
        let mut grant = self.identify(headers)?;
        let mut share_cookie = None;
        let snap = rule.snapshot(uri_path, query);
        if !grant.as_ref().is_some_and(Grant::reads_all) {
            if let (Some(key), Some(id)) = (LinkParams::of(query).key, &snap) {
                if !self.links.opens(id, &key) {
                    return Err(Refusal::forbidden(&format!(
                        "this link's key does not open snapshot {id}"
                    )));
                }
                grant = Some(Grant::Snapshots([id.clone()].into_iter().collect()));
                if rule.page {
                    share_cookie = self.remember_share(headers, id);
                }
            } else if let Some(g) = cookie(headers, SHARE_COOKIE).and_then(|s| self.shares.grant(s))
            {
                grant = Some(g);
            }
        }
        let admitted = |grant| {
            Ok(Admitted {
                grant,
                share_cookie: share_cookie.clone(),
            })
        };
        match (rule.need, grant) {
            (Need::Public, g) => admitted(g.unwrap_or(Grant::None)),
            (_, None) => Err(Refusal::unauthenticated(
                "log in with a token (the login page, or `Authorization: Bearer <token>`)",
            )),
            (Need::Read(_), Some(g)) if g.reads_all() => admitted(g),
            (Need::Write, Some(g)) if g.can_write() => admitted(g),
            (Need::Write, Some(Grant::Read)) => Err(Refusal::forbidden(
                "a read token may look, not change: this needs a write token",
            )),
            (Need::Read(_), Some(Grant::Snapshots(set)))
                if snap.as_ref().is_some_and(|s| set.contains(s)) =>
            {
                admitted(Grant::Snapshots(set))
            }
            (_, Some(_)) => Err(Refusal::forbidden(
                "a snapshot's link opens only that snapshot, read-only",
            )),
        }
    }

    /// Add `snap` to the share session the request carries, or start one: the value of the
    /// cookie to set, if a new one is needed.
    fn remember_share(&self, headers: &HeaderMap, snap: &str) -> Option<String> {
        if let Some(s) = cookie(headers, SHARE_COOKIE) {
            if self.shares.add_snapshot(s, snap) {
                return None;
            }
        }
        let id = self
            .shares
            .start(Grant::Snapshots([snap.to_owned()].into_iter().collect()))?;
        Some(session_cookie(SHARE_COOKIE, &id, headers))
    }
}

/// `NAME=ID; Path=/; HttpOnly; SameSite=Strict; Max-Age=…` (the session's life), and `Secure`
/// when the request reached the server over HTTPS through a proxy (`serve` itself speaks plain
/// HTTP, where a browser would not send a Secure cookie back).
pub fn session_cookie(name: &str, id: &str, request: &HeaderMap) -> String {
    let secure = if over_https(request) { "; Secure" } else { "" };
    format!(
        "{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        sessions::SESSION_TTL.as_secs()
    )
}

/// Whether a reverse proxy says the client spoke HTTPS (`X-Forwarded-Proto: https`, or
/// `Forwarded: proto=https`). A forged header only makes the cookie stricter.
fn over_https(headers: &HeaderMap) -> bool {
    let said = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    said("x-forwarded-proto")
        .iter()
        .any(|v| v.split(',').next().is_some_and(|p| p.trim() == "https"))
        || said("forwarded").iter().any(|v| {
            v.split([';', ','])
                .any(|kv| kv.trim().replace(' ', "") == "proto=https")
        })
}

/// The value of a cookie the request carries.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A request let through.
#[derive(Debug)]
pub struct Admitted {
    /// What it may do.
    pub grant: Grant,
    /// A share session's cookie to set (a snapshot's link opened as a page).
    pub share_cookie: Option<String>,
}

/// A request refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 (no or a wrong credential), 403 (one that does not reach this far) or 429 (too many
    /// wrong tokens from this address).
    pub status: StatusCode,
    /// Why, in words.
    pub why: String,
    /// For a 429: how long until this address may try again.
    pub retry_after: Option<Duration>,
}

impl Refusal {
    fn unauthenticated(why: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            why: why.to_owned(),
            retry_after: None,
        }
    }

    fn forbidden(why: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            why: why.to_owned(),
            retry_after: None,
        }
    }

    fn throttled(wait: Duration) -> Self {
        let secs = wait.as_secs().max(1);
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            why: format!("too many wrong tokens from this address: try again in {secs} s"),
            retry_after: Some(Duration::from_secs(secs)),
        }
    }

    /// The JSON answer of an API route: `{"error", "reason"}`, with `WWW-Authenticate` on a 401
    /// and `Retry-After` on a 429.
    pub fn api_response(&self) -> Response {
        let reason = match self.status {
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            StatusCode::FORBIDDEN => "forbidden",
            _ => "unavailable",
        };
        let mut resp = (
            self.status,
            Json(json!({ "error": self.why, "reason": reason })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dockmap\""),
            );
        }
        if let Some(v) = self
            .retry_after
            .and_then(|d| HeaderValue::from_str(&d.as_secs().to_string()).ok())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The access check's state: the settings and the route table.
#[derive(Debug)]
pub struct Guard {
    /// Settings and sessions.
    pub access: Arc<Access>,
    /// Every route's rule.
    pub table: Table,
}

/// The middleware in front of every route.
pub async fn guard(State(g): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    // No matched path: the fallback, which answers 404 and nothing else.
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let rule = match g.table.find(req.method(), &path) {
        Lookup::Found(r) => r,
        Lookup::OtherMethod => return next.run(req).await,
        Lookup::Unknown => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("dockmap: the route {path} has no access rule; it is refused\n"),
            )
                .into_response()
        }
    };
    let query = req.uri().query().unwrap_or("").to_owned();
    let (who, now) = (peer(&req), Instant::now());
    let bearer = req.headers().contains_key(header::AUTHORIZATION) && g.access.enforced();
    if bearer {
        if let Err(wait) = g.access.guesses.check(who, now) {
            return refuse(&Refusal::throttled(wait), false, req.uri());
        }
    }
    match g
        .access
        .decide(rule, req.headers(), req.uri().path(), &query)
    {
        Ok(a) => {
            req.extensions_mut().insert(a.grant);
            req.extensions_mut().insert(g.access.clone());
            let mut r = next.run(req).await;
            if let Some(c) = a.share_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(refusal) => {
            // Only a presented token can be a guess (not a missing one, nor a link's key).
            if bearer && refusal.status == StatusCode::UNAUTHORIZED {
                g.access.guesses.wrong(who, now);
            }
            refuse(&refusal, rule.page, req.uri())
        }
    }
}

fn refuse(r: &Refusal, page: bool, uri: &axum::http::Uri) -> Response {
    // A page shows the login page with the reason: who holds only a link may have a token too.
    if page {
        let next = uri.path_and_query().map_or("/", |p| p.as_str());
        return login::page_response(r.status, next, &r.why);
    }
    r.api_response()
}

/// The client's address, when the server was started with it ([`axum::serve`] with
/// `into_make_service_with_connect_info`).
pub fn peer(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    const R: &str = "rrrrrrrrrrrrrrrrrrrr";
    const W: &str = "wwwwwwwwwwwwwwwwwwww";

    fn access() -> Access {
        Access::with_tokens(
            TokenSet::parse(&format!("read {R}\nwrite {W}\n")).unwrap(),
            LinkKey::from_bytes([1; 32]),
        )
    }

    fn rule(need: Need) -> Rule {
        Rule {
            method: Method::GET,
            path: "/s/{id}",
            need,
            page: true,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_wrong_bearer_never_falls_back_and_a_token_outranks_a_link() {
        let a = access();
        let snap = rule(Need::Read(Scope::SnapPath));
        let key = a.links.key_for("abc");
        // A good key in the query, but a wrong bearer token: refused, not let in by the key.
        let e = a
            .decide(
                &snap,
                &headers(&[("authorization", "Bearer nope-nope-nope-nope")]),
                "/s/abc",
                &format!("key={key}"),
            )
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let e = a
            .decide(
                &snap,
                &headers(&[("authorization", &format!("Basic {R}"))]),
                "/s/abc",
                "",
            )
            .unwrap_err();
        assert!(e.why.contains("Bearer"), "{}", e.why);
        // A reader with a link in the query stays a reader (no share session is started).
        let ok = a
            .decide(
                &snap,
                &headers(&[("authorization", &format!("Bearer {R}"))]),
                "/s/abc",
                &format!("key={key}"),
            )
            .unwrap();
        assert_eq!(ok.grant, Grant::Read);
        assert!(ok.share_cookie.is_none());
        // The key alone opens it, as that snapshot only, and starts a share session.
        let ok = a
            .decide(&snap, &HeaderMap::new(), "/s/abc", &format!("key={key}"))
            .unwrap();
        assert_eq!(
            ok.grant,
            Grant::Snapshots(["abc".to_owned()].into_iter().collect())
        );
        assert!(ok
            .share_cookie
            .as_deref()
            .is_some_and(|c| c.starts_with("dockmap_share=")));
        // Not another snapshot's path, and never a write.
        let e = a
            .decide(&snap, &HeaderMap::new(), "/s/abd", &format!("key={key}"))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let e = a
            .decide(
                &rule(Need::Write),
                &headers(&[("authorization", &format!("Bearer {R}"))]),
                "/x",
                "",
            )
            .unwrap_err();
        assert!(e.why.contains("write token"), "{}", e.why);
        assert!(a
            .decide(
                &rule(Need::Write),
                &headers(&[("authorization", &format!("Bearer {W}"))]),
                "/x",
                ""
            )
            .is_ok());
        // Without tokens, everything is open.
        let open = Access::open(LinkKey::from_bytes([1; 32]));
        assert_eq!(
            open.decide(&rule(Need::Write), &HeaderMap::new(), "/x", "")
                .unwrap()
                .grant,
            Grant::Open
        );
    }

    #[test]
    fn a_link_opens_a_snap_query_only_when_it_names_one_snapshot() {
        let a = access();
        let q = Rule {
            path: "/api/graph",
            page: false,
            ..rule(Need::Read(Scope::SnapQuery))
        };
        let key = a.links.key_for("abc");
        assert!(a
            .decide(
                &q,
                &HeaderMap::new(),
                "/api/graph",
                &format!("snap=abc&key={key}")
            )
            .is_ok());
        // Given twice, the handler refuses the query: the link must not let it through to
        // whichever value a reader of it would pick.
        for query in [
            format!("snap=abc&snap=abd&key={key}"),
            format!("snap=abd&snap=abc&key={key}"),
        ] {
            let e = a
                .decide(&q, &HeaderMap::new(), "/api/graph", &query)
                .unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{query}");
        }
    }

    #[tokio::test]
    async fn a_route_the_table_does_not_name_is_refused() {
        let guard = Arc::new(Guard {
            access: Arc::new(Access::open(LinkKey::from_bytes([1; 32]))),
            table: Table::new(vec![rule(Need::Public)]),
        });
        // Added around the builder: no rule. Even an open server refuses it.
        let app = Router::new()
            .route("/s/{id}", get(|| async { "listed" }))
            .route("/sneaky", get(|| async { "unlisted" }))
            .layer(axum::middleware::from_fn_with_state(guard, super::guard));
        let ask = |p: &'static str| {
            let app = app.clone();
            async move {
                app.oneshot(axum::http::Request::get(p).body(Body::empty()).unwrap())
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(ask("/s/x").await, StatusCode::OK);
        assert_eq!(ask("/sneaky").await, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
