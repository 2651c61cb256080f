//! Who may do what on a team server: every route of the router × {no credential, a read token,
//! a write token, the link of another snapshot, the link of this snapshot}, over real HTTP.
//!
//! The expectations are this file's own table, written by hand; the test first checks that the
//! table names exactly the routes the router has (its access table is built with the router),
//! so a new route cannot slip by untested.

use crate::support::browser;
use crate::support::store as support;

use std::collections::BTreeSet;
use std::sync::Arc;

use dockmap::snapshot::ClusterSnapshot;
use dockmap::store::{Kind, Store};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::access::{Access, LinkKey, TokenSet};
use dockmap::web::store::StoreState;
use dockmap::web::{secured, AllowedHosts, AppState};

const READ: &str = "read-token-0123456789abcdef";
const WRITE: &str = "write-token-0123456789abcdef";

fn cluster(hosts: usize, containers: usize, taken_at: &str) -> ClusterSnapshot {
    ClusterSnapshot::of_nodes(support::synthetic(hosts, containers, taken_at), "file")
}

/// A server with tokens, a store holding THIS and OTHER, and its route table.
struct Fixture {
    base: String,
    this: String,
    other: String,
    access: Arc<Access>,
    routes: BTreeSet<(String, String)>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("dmt-access-")
        .tempdir()
        .unwrap();
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let this = store
        .save(cluster(1, 3, "2026-01-01T00:00:00Z"), Kind::Manual, "this")
        .unwrap()
        .meta
        .id;
    let other = store
        .save(cluster(1, 4, "2026-01-02T00:00:00Z"), Kind::Manual, "other")
        .unwrap()
        .meta
        .id;
    let tokens = TokenSet::parse(&format!("read {READ}\nwrite {WRITE}\n")).unwrap();
    let access = Arc::new(Access::with_tokens(tokens, LinkKey::from_bytes([9; 32])));
    let app = AppState::fixed(snapshots(&SyntheticOptions {
        hosts: 1,
        containers: 2,
        hostile_names: false,
    }));
    let (router, guard) = secured(
        app.clone(),
        Some(
            StoreState {
                app,
                store,
                upload_limit: 1 << 20,
            }
            .into(),
        ),
        AllowedHosts::default(),
        access.clone(),
    );
    let routes = guard
        .table
        .rules()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let base = browser::serve(router).await;
    Fixture {
        base,
        this,
        other,
        access,
        routes,
        _dir: dir,
    }
}

/// How a request shows who it is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    Read,
    Write,
    /// The share session opened by another snapshot's link.
    OtherKey,
    /// The share session opened by this snapshot's link.
    ThisKey,
}

const WHO: [Who; 5] = [
    Who::Nobody,
    Who::Read,
    Who::OtherKey,
    Who::ThisKey,
    Who::Write,
];

/// One route: method, pattern, the request made (`THIS`/`OTHER` replaced by IDs), a body,
/// whether it names this snapshot (then a `key=` in its query is tried too), and the status
/// expected for each of [`Who`] in the order nobody, read, write, other key, this key.
struct Case {
    method: &'static str,
    pattern: &'static str,
    request: &'static str,
    body: Option<(&'static str, &'static str)>,
    names_this: bool,
    expect: [u16; 5],
}

const fn case(
    method: &'static str,
    pattern: &'static str,
    request: &'static str,
    names_this: bool,
    expect: [u16; 5],
) -> Case {
    Case {
        method,
        pattern,
        request,
        body: None,
        names_this,
        expect,
    }
}

// nobody, read, write, other key, this key
const OPEN: [u16; 5] = [200, 200, 200, 200, 200];
const SNAP: [u16; 5] = [401, 200, 200, 403, 200];
const ALL: [u16; 5] = [401, 200, 200, 403, 403];

fn cases() -> Vec<Case> {
    vec![
        case("GET", "/", "/?snap=THIS", true, SNAP),
        case("GET", "/scene.svg", "/scene.svg?snap=THIS", true, SNAP),
        case(
            "GET",
            "/scene.patch",
            "/scene.patch?snap=THIS&since=1",
            true,
            SNAP,
        ),
        case("GET", "/api/status", "/api/status", false, ALL),
        case(
            "POST",
            "/api/refresh",
            "/api/refresh",
            false,
            [401, 403, 202, 403, 403],
        ),
        case("GET", "/api/live", "/api/live", false, ALL),
        case(
            "GET",
            "/api/snapshot",
            "/api/snapshot?snap=THIS",
            true,
            SNAP,
        ),
        case("GET", "/api/graph", "/api/graph?snap=THIS", true, SNAP),
        case(
            "GET",
            "/api/element",
            "/api/element?snap=THIS&id=host%3Anode-00",
            true,
            SNAP,
        ),
        case(
            "GET",
            "/api/search",
            "/api/search?snap=THIS&q=web",
            true,
            SNAP,
        ),
        case("GET", "/api/ports", "/api/ports?snap=THIS", true, SNAP),
        case(
            "GET",
            "/api/path",
            "/api/path?snap=THIS&port=80",
            true,
            SNAP,
        ),
        case(
            "GET",
            "/api/path/ends",
            "/api/path/ends?snap=THIS",
            true,
            SNAP,
        ),
        // Live counters only: never opened by a snapshot's link (409: a fixed state has none).
        case(
            "GET",
            "/api/path/watch",
            "/api/path/watch?port=80",
            false,
            [401, 409, 409, 403, 403],
        ),
        case("GET", "/s/{id}", "/s/THIS", true, SNAP),
        case("GET", "/api/diff", "/api/diff?a=THIS&b=OTHER", false, ALL),
        case("GET", "/diff/{a}/{b}", "/diff/THIS/OTHER", false, ALL),
        case(
            "GET",
            "/diff/{a}/{b}/scene.svg",
            "/diff/THIS/OTHER/scene.svg",
            false,
            ALL,
        ),
        case("GET", "/compare", "/compare", false, ALL),
        case(
            "GET",
            "/api/compare",
            "/api/compare",
            false,
            [401, 400, 400, 403, 403],
        ),
        case("GET", "/export.html", "/export.html?snap=THIS", true, SNAP),
        case("GET", "/export.json", "/export.json?snap=THIS", true, SNAP),
        case("GET", "/static/{*file}", "/static/app.js", false, OPEN),
        case("GET", "/favicon.ico", "/favicon.ico", false, OPEN),
        case("GET", "/login", "/login", false, OPEN),
        Case {
            body: Some((
                "application/x-www-form-urlencoded",
                "token=read-token-0123456789abcdef",
            )),
            ..case("POST", "/login", "/login", false, OPEN)
        },
        case("POST", "/logout", "/logout", false, [204; 5]),
        case(
            "POST",
            "/api/snapshots",
            "/api/snapshots",
            false,
            [401, 403, 201, 403, 403],
        ),
        case("GET", "/api/snapshots", "/api/snapshots", false, ALL),
        case(
            "POST",
            "/api/snapshots/upload",
            "/api/snapshots/upload",
            false,
            [401, 403, 400, 403, 403],
        ),
        case(
            "GET",
            "/api/snapshots/{id}",
            "/api/snapshots/THIS",
            true,
            SNAP,
        ),
        case(
            "GET",
            "/api/snapshots/{id}/meta",
            "/api/snapshots/THIS/meta",
            true,
            SNAP,
        ),
        case(
            "GET",
            "/api/snapshots/{id}/link",
            "/api/snapshots/THIS/link",
            false,
            ALL,
        ),
        case("GET", "/snapshots", "/snapshots", false, ALL),
        // Last: the write token deletes THIS for real.
        case(
            "DELETE",
            "/api/snapshots/{id}",
            "/api/snapshots/THIS",
            false,
            [401, 403, 200, 403, 403],
        ),
    ]
}

fn index(w: Who) -> usize {
    match w {
        Who::Nobody => 0,
        Who::Read => 1,
        Who::Write => 2,
        Who::OtherKey => 3,
        Who::ThisKey => 4,
    }
}

/// The share cookie a snapshot's link sets when opened as a page.
async fn share_cookie(c: &reqwest::Client, f: &Fixture, id: &str) -> String {
    let link = f.access.link(id);
    assert!(link.starts_with(&format!("/s/{id}?key=")), "{link}");
    let r = c.get(format!("{}{link}", f.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the link opens its snapshot");
    let set = r
        .headers()
        .get("set-cookie")
        .expect("the link's page sets the share cookie")
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(
        !set.contains(&link[link.find("key=").unwrap() + 4..]),
        "the key is not the cookie"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn send(
    c: &reqwest::Client,
    f: &Fixture,
    case: &Case,
    headers: &[(&str, String)],
    extra_query: Option<&str>,
) -> reqwest::Response {
    let mut path = case
        .request
        .replace("THIS", &f.this)
        .replace("OTHER", &f.other);
    if let Some(q) = extra_query {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(q);
    }
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut rb = c.request(method, format!("{}{path}", f.base));
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    if let Some((ty, body)) = case.body {
        rb = rb.header("content-type", ty).body(body);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn every_route_answers_each_credential_as_its_table_says() {
    let f = fixture().await;
    let c = support::client();
    let table = cases();

    // The table and the router name the same routes, no more, no fewer.
    let ours: BTreeSet<(String, String)> = table
        .iter()
        .map(|k| (k.method.to_owned(), k.pattern.to_owned()))
        .collect();
    assert_eq!(ours.len(), table.len(), "a route is twice in the table");
    assert_eq!(
        ours, f.routes,
        "the test's table and the router's routes differ: add the new route here with what each may do"
    );

    let other_cookie = share_cookie(&c, &f, &f.other).await;
    let this_cookie = share_cookie(&c, &f, &f.this).await;
    let this_key = f
        .access
        .link(&f.this)
        .split("key=")
        .nth(1)
        .unwrap()
        .to_owned();
    let other_key = f
        .access
        .link(&f.other)
        .split("key=")
        .nth(1)
        .unwrap()
        .to_owned();

    let mut failures = Vec::new();
    for case in &table {
        for who in WHO {
            let headers: Vec<(&str, String)> = match who {
                Who::Nobody => vec![],
                Who::Read => vec![("authorization", format!("Bearer {READ}"))],
                Who::Write => vec![("authorization", format!("Bearer {WRITE}"))],
                Who::OtherKey => vec![("cookie", other_cookie.clone())],
                Who::ThisKey => vec![("cookie", this_cookie.clone())],
            };
            let want = case.expect[index(who)];
            let r = send(&c, &f, case, &headers, None).await;
            let got = r.status().as_u16();
            if got != want {
                failures.push(format!(
                    "{} {} as {who:?}: {got}, expected {want}",
                    case.method, case.request
                ));
            }
            if got == 401 {
                let page = r
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
                let body = r.text().await.unwrap();
                if case.method == "GET" && page {
                    assert!(
                        body.contains("id=\"login\""),
                        "{}: a page refused for want of a login shows the login page",
                        case.request
                    );
                } else {
                    assert!(
                        body.contains("\"reason\":\"unauthenticated\""),
                        "{}: {body}",
                        case.request
                    );
                }
            } else if got == 403 {
                let body = r.text().await.unwrap();
                if case.method == "GET" && body.contains("<html") {
                    assert!(
                        body.contains("id=\"login\""),
                        "{}: a refused page offers the login",
                        case.request
                    );
                }
                assert!(
                    body.contains("link") || body.contains("write token"),
                    "{}: 403 without a reason: {body}",
                    case.request
                );
            }
            // The key in the link's own form, `key=` in the query, on routes that name THIS.
            if case.names_this && matches!(who, Who::OtherKey | Who::ThisKey) {
                let (key, want) = if who == Who::ThisKey {
                    (&this_key, case.expect[index(who)])
                } else {
                    (&other_key, 403)
                };
                let got = send(&c, &f, case, &[], Some(&format!("key={key}")))
                    .await
                    .status()
                    .as_u16();
                if got != want {
                    failures.push(format!(
                        "{} {} with key= of {who:?}: {got}, expected {want}",
                        case.method, case.request
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_login_sets_a_private_session_cookie_that_logout_ends() {
    let f = fixture().await;
    let c = support::client();
    let status = |cookie: Option<String>| {
        let c = c.clone();
        let url = format!("{}/api/status", f.base);
        async move {
            let mut rb = c.get(url);
            if let Some(k) = cookie {
                rb = rb.header("cookie", k);
            }
            rb.send().await.unwrap().status().as_u16()
        }
    };
    // A wrong token: 401 and no cookie.
    let r = c
        .post(format!("{}/login", f.base))
        .form(&[("token", "not-a-token-of-this-server"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    // An open redirect is not offered.
    let r = c
        .post(format!("{}/login", f.base))
        .form(&[("token", WRITE), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in [
        "dockmap_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains(WRITE), "the token is not the cookie");
    assert!(
        !set.contains("Secure"),
        "plain HTTP: a Secure cookie would never come back: {set}"
    );
    // Through a TLS-terminating proxy the cookie is Secure.
    let proxied = c
        .post(format!("{}/login", f.base))
        .header("x-forwarded-proto", "https")
        .form(&[("token", READ), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 200);
    let behind_tls = proxied.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(behind_tls.ends_with("; Secure"), "{behind_tls}");
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["level"], "write");
    assert_eq!(j["next"], "/");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert_eq!(status(Some(cookie.clone())).await, 200);
    // A forged session ID is nobody.
    assert_eq!(
        status(Some(format!("dockmap_session={}", "0".repeat(64)))).await,
        401
    );
    let r = c
        .post(format!("{}/logout", f.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(Some(cookie)).await, 401);
    // A wrong bearer token is refused with the reason, and not shown back.
    let r = c
        .get(format!("{}/api/status", f.base))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let body = r.text().await.unwrap();
    assert!(
        body.contains("not one this server accepts") && !body.contains("wrong-token"),
        "{body}"
    );
}

#[tokio::test]
async fn the_host_allow_list_and_origin_check_still_hold_with_tokens() {
    let f = fixture().await;
    let c = support::client();
    // A write token does not let another origin's page change anything.
    let r = c
        .post(format!("{}/api/refresh", f.base))
        .bearer_auth(WRITE)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("another origin"));
    let port = f.base.rsplit(':').next().unwrap();
    let r = c
        .get(format!("{}/api/status", f.base))
        .bearer_auth(READ)
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_shared_page_offers_its_link_to_token_holders_only() {
    let f = fixture().await;
    let c = support::client();
    let page = |who: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/s/{}", f.base, f.this);
        async move {
            let mut rb = c.get(url);
            for (k, v) in who {
                rb = rb.header(k, v);
            }
            rb.send().await.unwrap().text().await.unwrap()
        }
    };
    let reader = page(vec![("authorization", format!("Bearer {READ}"))]).await;
    assert!(
        reader.contains("data-share=\"1\""),
        "a reader may hand out the link"
    );
    let cookie = share_cookie(&c, &f, &f.this).await;
    let holder = page(vec![("cookie", cookie)]).await;
    assert!(
        holder.contains("data-share=\"\""),
        "a link's holder is offered no link"
    );
    let j: serde_json::Value = c
        .get(format!("{}/api/snapshots/{}/link", f.base, f.this))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["link"], f.access.link(&f.this));
    // The link's key never deletes (or changes anything): it is no credential there.
    let r = c
        .delete(format!(
            "{}{}",
            f.base,
            f.access.link(&f.this).replace("/s/", "/api/snapshots/")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{}/api/snapshots/{}/meta", f.base, f.this))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "still there");
    // The list page offers upload and delete to writers only.
    let list = |tok: &'static str| {
        let c = c.clone();
        let url = format!("{}/snapshots", f.base);
        async move {
            c.get(url)
                .bearer_auth(tok)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let w = list(WRITE).await;
    assert!(w.contains("class=\"delete\"") && w.contains("id=\"upload\""));
    let r = list(READ).await;
    assert!(!r.contains("class=\"delete\"") && !r.contains("id=\"upload\""));
}

#[tokio::test]
async fn wrong_tokens_from_one_address_hold_it_back_with_the_right_token_too() {
    use dockmap::web::access::throttle::MAX_WRONG;
    let f = fixture().await;
    let c = support::client();
    let login = |token: &'static str| {
        c.post(format!("{}/login", f.base))
            .form(&[("token", token), ("next", "/")])
            .send()
    };
    let bearer = |token: &'static str| {
        c.get(format!("{}/api/status", f.base))
            .bearer_auth(token)
            .send()
    };
    // Guesses by the login form and by bearer tokens count together.
    for i in 0..MAX_WRONG {
        let r = if i % 2 == 0 {
            login("guess-0123456789abcdef").await.unwrap()
        } else {
            bearer("guess-0123456789abcdef").await.unwrap()
        };
        assert_eq!(r.status(), 401, "guess {i}");
    }
    // Over the limit the right token is refused too, saying how long to wait; no session starts.
    for (how, r) in [
        ("login", login(WRITE).await.unwrap()),
        ("bearer", bearer(READ).await.unwrap()),
    ] {
        assert_eq!(r.status(), 429, "{how}");
        assert!(r.headers().get("set-cookie").is_none(), "{how}");
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{how}: {wait}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["reason"], "throttled", "{how}");
        assert!(
            j["error"]
                .as_str()
                .unwrap()
                .contains("too many wrong tokens"),
            "{how}: {j}"
        );
    }
    // Asking without a token is no guess: still the plain 401 that sends one to the login.
    let r = c
        .get(format!("{}/api/status", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
