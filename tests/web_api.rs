//! The HTTP side of `dockmap serve`, without a browser: routes, JSON shapes, headers, escaping.

use crate::support::browser;

use std::io::Read;

use browser::{get, request, serve};
use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions, HOSTILE_NETWORK};
use dockmap::web::{router, AppState};

fn synthetic(hosts: usize, containers: usize) -> Vec<NodeSnapshot> {
    snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: true,
    })
}

#[tokio::test]
async fn every_response_carries_a_strict_csp_and_no_third_party_origin() {
    let base = serve(router(AppState::fixed(synthetic(1, 3)))).await;
    for path in [
        "/",
        "/api/graph",
        "/api/status",
        "/static/app.js",
        "/scene.svg",
        "/nope",
    ] {
        let r = get(&base, path, &[]).await;
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(!csp.contains("http:") && !csp.contains("https:"), "{csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    // The page loads nothing from elsewhere and runs no inline script.
    let page = get(&base, "/", &[]).await.text();
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "url(http",
    ] {
        assert!(
            !page.contains(attr),
            "the page loads something from elsewhere: {attr}"
        );
    }
    let inline_scripts = page.matches("<script>").count()
        + page.matches("<script type=\"text/javascript\">").count();
    assert_eq!(inline_scripts, 0);
    assert!(page.contains("<script src=\"/static/app.js?v="));
}

#[tokio::test]
async fn hostile_names_are_escaped_in_the_page_and_the_svg() {
    let base = serve(router(AppState::fixed(synthetic(1, 3)))).await;
    for path in ["/", "/scene.svg", "/?open=*"] {
        let body = get(&base, path, &[]).await.text();
        assert!(!body.contains("<img"), "{path}: raw markup from the engine");
        assert!(
            body.contains("x&lt;img src=x"),
            "{path}: the name should be there, escaped"
        );
    }
    // JSON carries it as a string (the browser puts it in with textContent).
    let g = get(&base, "/api/graph", &[]).await.json();
    assert!(g["elements"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["label"] == HOSTILE_NETWORK));
}

#[tokio::test]
async fn api_graph_has_elements_edges_positions_and_findings() {
    let base = serve(router(AppState::fixed(synthetic(2, 30)))).await;
    let r = get(&base, "/api/graph?open=*", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let g = r.json();
    assert_eq!(g["schema"], "dockmap.graph/1");
    for key in ["elements", "edges", "findings"] {
        assert!(!g[key].as_array().unwrap().is_empty(), "{key} empty");
    }
    let nodes = g["layout"]["nodes"].as_array().unwrap();
    let n = &nodes[0];
    for key in ["id", "kind", "x", "y", "w", "h"] {
        assert!(!n[key].is_null(), "node lacks {key}: {n}");
    }
    let e = &g["layout"]["edges"].as_array().unwrap()[0];
    assert_eq!(e["path"].as_array().unwrap().len(), 8);
    assert!(g["layout"]["width"].as_i64().unwrap() > 0);
    // The same view twice: byte-identical.
    let again = get(&base, "/api/graph?open=*", &[]).await;
    assert_eq!(r.body, again.body);
}

#[tokio::test]
async fn api_snapshot_answers_in_the_shape_it_was_given() {
    let one = synthetic(1, 2);
    let base = serve(router(AppState::fixed(one.clone()))).await;
    let s = get(&base, "/api/snapshot", &[]).await.json();
    assert_eq!(s["schema"], "dockmap.node-snapshot/1");
    assert_eq!(s["node"]["hostname"], one[0].node.hostname);
    let many = synthetic(3, 6);
    let base = serve(router(AppState::fixed(many))).await;
    let s = get(&base, "/api/snapshot", &[]).await.json();
    assert_eq!(s.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn etags_revalidate_and_compression_applies() {
    let base = serve(router(AppState::fixed(synthetic(2, 30)))).await;
    let r = get(&base, "/api/graph", &[]).await;
    let tag = r.header("etag").expect("an etag").to_owned();
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let again = get(&base, "/api/graph", &[("If-None-Match", &tag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let gz = get(&base, "/api/graph", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(
        gz.body.len() * 3 < r.body.len(),
        "gzip should shrink JSON well"
    );
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, r.body);
    // A versioned asset is cacheable, an unversioned one revalidated.
    let page = get(&base, "/", &[]).await.text();
    let v = page
        .split("/static/app.js?v=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let js = get(&base, &format!("/static/app.js?v={v}"), &[]).await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    let js_tag = js.header("etag").unwrap().to_owned();
    assert_eq!(
        get(&base, "/static/app.js", &[("If-None-Match", &js_tag)])
            .await
            .status,
        304
    );
    assert_eq!(get(&base, "/static/../Cargo.toml", &[]).await.status, 404);
}

#[tokio::test]
async fn element_details_search_and_status() {
    let base = serve(router(AppState::fixed(synthetic(1, 8)))).await;
    let g = get(&base, "/api/graph", &[]).await.json();
    let ctr = g["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "container" && e["label"].as_str().unwrap().starts_with("web-"))
        .unwrap()
        .clone();
    let id = ctr["id"].as_str().unwrap();
    let ip = ctr["attrs"]["ips"][0].as_str().unwrap();
    let d = get(&base, &format!("/api/element?id={}", urlenc(id)), &[])
        .await
        .json();
    assert_eq!(d["element"]["id"], id);
    let eth0 = &d["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .unwrap()
        .clone();
    assert!(eth0["peer"]["name"].as_str().unwrap().starts_with("veth"));
    assert_eq!(eth0["peer"]["bridge"]["label"], "docker0");
    // The published port's DNAT rule names the container's address.
    assert!(d["firewall_rules"].as_array().unwrap().iter().any(|r| r
        .as_str()
        .unwrap()
        .contains("DNAT")
        && r.as_str().unwrap().contains(ip)));
    assert_eq!(get(&base, "/api/element?id=nope", &[]).await.status, 404);
    assert_eq!(get(&base, "/api/element", &[]).await.status, 400);

    let hits = get(&base, &format!("/api/search?q={ip}"), &[]).await.json();
    assert_eq!(hits["hits"][0]["id"], id);
    let s = get(&base, "/api/status", &[]).await.json();
    assert_eq!(s["state"], "ready");
    assert_eq!(s["generation"], 1);
    assert_eq!(s["sources"][0]["source"], "ipvs");
}

#[tokio::test]
async fn refresh_makes_a_new_generation_and_a_collecting_server_answers_503_until_then() {
    let base = serve(router(AppState::fixed(synthetic(1, 2)))).await;
    let b = base.clone();
    let r = tokio::task::spawn_blocking(move || request(&b, "POST", "/api/refresh", &[]))
        .await
        .unwrap();
    assert_eq!(r.status, 202);
    let mut gen = 0;
    for _ in 0..100 {
        let s = get(&base, "/api/status", &[]).await.json();
        gen = s["generation"].as_u64().unwrap();
        if gen == 2 && s["state"] == "ready" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(gen, 2);

    // A server that collects and has nothing yet: the page says so, the API answers 503.
    let idle = serve(router(AppState::collecting(Default::default()))).await;
    assert_eq!(get(&idle, "/api/graph", &[]).await.status, 503);
    let page = get(&idle, "/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Collecting"));
}

#[tokio::test]
async fn a_saved_snapshot_file_is_served_and_a_bad_one_is_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("dmt{}-web-file", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _c = Cleanup(dir.clone());
    let good = dir.join("one.json");
    std::fs::write(&good, serde_json::to_vec(&synthetic(1, 2)[0]).unwrap()).unwrap();
    let state = AppState::from_file(&good).expect("a node snapshot file");
    let base = serve(router(state)).await;
    assert_eq!(
        get(&base, "/api/status", &[]).await.json()["state"],
        "ready"
    );
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"schema\": \"something/else\"}").unwrap();
    let err = AppState::from_file(&bad)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("bad.json"), "{err}");
    let missing = AppState::from_file(&dir.join("missing.json"))
        .err()
        .unwrap()
        .to_string();
    assert!(missing.contains("missing.json"), "{missing}");
}

#[tokio::test]
async fn a_query_that_cannot_be_read_or_names_no_snapshot_is_refused_with_the_reason() {
    let base = serve(router(AppState::fixed(synthetic(1, 2)))).await;
    for (path, status, says) in [
        // Given twice: neither value is picked silently.
        ("/api/graph?snap=a&snap=b", 400, "`snap`"),
        ("/api/element?id=a&id=b", 400, "`id`"),
        ("/api/search?q=a&q=b", 400, "`q`"),
        ("/api/path?from=a&from=b&to=c", 400, "`from`"),
        // A value of the wrong form says which parameter and what it must be.
        ("/api/path?port=http", 400, "port= must be a number"),
        // No store: a saved snapshot cannot be opened, and the answer says so.
        ("/api/graph?snap=abc", 404, "keeps no saved snapshots"),
        ("/export.json?snap=abc", 404, "keeps no saved snapshots"),
    ] {
        let r = get(&base, path, &[]).await;
        assert_eq!(r.status, status, "{path}");
        let e = r.json();
        let msg = e["error"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{path}: {msg}");
    }
    // The view's own repeated keys are its form, not a fault.
    assert_eq!(
        get(&base, "/api/graph?open=a&open=b&hide=x&hide=y", &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_gzipped_snapshot_file_is_served_as_the_plain_one() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.json.gz");
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&serde_json::to_vec(&synthetic(2, 4)).unwrap())
        .unwrap();
    std::fs::write(&file, z.finish().unwrap()).unwrap();
    let base = serve(router(AppState::from_file(&file).expect("a gzipped array"))).await;
    let s = get(&base, "/api/status", &[]).await.json();
    assert_eq!(s["state"], "ready");
    let snaps = get(&base, "/api/snapshot", &[]).await.json();
    assert_eq!(snaps.as_array().map(Vec::len), Some(2));
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// XML 1.0 forbids these even as character references.
fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0B' | '\x0C' | '\x0E'..='\x1F' | '\u{FFFE}' | '\u{FFFF}')
}

#[tokio::test]
async fn names_with_control_characters_leave_the_svg_valid_xml() {
    let snaps = dockmap::synthetic::with_control_characters();
    let base = serve(router(AppState::fixed(snaps))).await;
    for path in ["/scene.svg", "/scene.svg?open=*&hide=", "/?open=*"] {
        let body = get(&base, path, &[]).await.text();
        let bad: Vec<char> = body.chars().filter(|&c| forbidden_in_xml(c)).collect();
        assert!(bad.is_empty(), "{path}: {bad:?}");
        assert!(body.contains("ctl\u{FFFD}net\u{FFFD}[31m"), "{path}");
    }
    // The drawn id (U+FFFD in place of the controls) still opens the element's panel.
    let svg = get(&base, "/scene.svg?open=*&hide=", &[]).await.text();
    let at = svg.find("data-id=\"net:node-00/ctl").unwrap() + "data-id=\"".len();
    let drawn = &svg[at..at + svg[at..].find('"').unwrap()];
    let d = get(&base, &format!("/api/element?id={}", urlenc(drawn)), &[]).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.json()["element"]["label"], "ctl\x01net\x1b[31m\u{FFFF}");
}

/// One request with the Host header given (the shared helper always sends the address).
fn raw(
    base: &str,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use std::io::Write;
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, buf)
}

#[tokio::test]
async fn foreign_hosts_and_cross_origin_posts_are_refused() {
    use dockmap::store::Store;
    use dockmap::web::store::StoreState;
    use dockmap::web::{router_allowing, AllowedHosts};
    use std::sync::Arc;

    let dir = tempfile::Builder::new()
        .prefix("dmt-origin-")
        .tempdir()
        .unwrap();
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let app = AppState::fixed(synthetic(1, 2));
    let base = serve(router_allowing(
        app.clone(),
        Some(
            StoreState {
                app,
                store: store.clone(),
                upload_limit: 1 << 20,
            }
            .into(),
        ),
        AllowedHosts::new(["dockmap.example"]),
    ))
    .await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let b = base.clone();
    let checks = tokio::task::spawn_blocking(move || {
        let me = format!("127.0.0.1:{port}");
        let mut out = Vec::new();
        // DNS rebinding: a page under its own name reads nothing.
        for path in ["/api/snapshot", "/", "/api/graph"] {
            out.push((
                path,
                raw(&b, "GET", path, &format!("evil.example:{port}"), &[]),
            ));
        }
        // Names that are this server's are answered.
        out.push((
            "localhost",
            raw(&b, "GET", "/api/status", &format!("localhost:{port}"), &[]),
        ));
        out.push((
            "allowed",
            raw(
                &b,
                "GET",
                "/api/status",
                &format!("dockmap.example:{port}"),
                &[],
            ),
        ));
        out.push((
            "v6",
            raw(&b, "GET", "/api/status", &format!("[::1]:{port}"), &[]),
        ));
        // CSRF: a POST from another origin changes nothing.
        for path in ["/api/snapshots", "/api/snapshots/upload", "/api/refresh"] {
            out.push((
                path,
                raw(&b, "POST", path, &me, &[("Origin", "https://evil.example")]),
            ));
        }
        out
    })
    .await
    .unwrap();
    for (what, (status, text)) in &checks[..3] {
        assert_eq!(*status, 403, "{what}: {text}");
        assert!(text.contains("--allow-host"), "{what}: {text}");
        assert!(!text.contains("\"nodes\""), "{what}: leaked data");
    }
    for (what, (status, text)) in &checks[3..6] {
        assert_eq!(*status, 200, "{what}: {text}");
    }
    for (what, (status, text)) in &checks[6..] {
        assert_eq!(*status, 403, "{what}: {text}");
        assert!(text.contains("another origin"), "{what}: {text}");
        assert!(
            text.contains("content-security-policy"),
            "{what}: headers missing"
        );
    }
    assert!(
        store.list().unwrap().is_empty(),
        "a cross-origin POST saved a snapshot"
    );
    assert_eq!(get(&base, "/api/status", &[]).await.json()["generation"], 1);

    // The page's own POST (same Origin) and a POST without Origin (curl) work.
    let b = base.clone();
    let (same, none) = tokio::task::spawn_blocking(move || {
        let me = b.trim_start_matches("http://").to_owned();
        let origin = b.clone();
        (
            raw(&b, "POST", "/api/snapshots", &me, &[("Origin", &origin)]),
            raw(&b, "POST", "/api/refresh", &me, &[]),
        )
    })
    .await
    .unwrap();
    assert_eq!(same.0, 201, "{}", same.1);
    assert_eq!(none.0, 202, "{}", none.1);
    assert_eq!(store.list().unwrap().len(), 1);
}
