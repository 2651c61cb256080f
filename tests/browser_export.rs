//! The shareable export of a real engine's snapshot: `GET /export.html` gives one HTML file that,
//! opened from disk (file://) in chromium with networking off, draws the view, shows an
//! element's attributes on click, finds it by IP, and makes no request at all. The
//! pseudonymized export and JSON hold none of the real names, addresses and MACs, and the
//! pseudonymized snapshot's graph has the real one's shape. Needs root, a Docker engine
//! (tests/engine-up.sh) and chromium + chromedriver.

use crate::support;
use crate::support::browser;
use crate::support::engine;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use browser::{request, serve, Browser};
use dockmap::graph::{build_cluster, EdgeKind, ElementKind, Graph};
use dockmap::share::{pseudonymize_cluster, PseudonymKey, Pseudonymizer};
use dockmap::snapshot::ClusterSnapshot;
use dockmap::web::router;
use engine::{TestContainer, TestNetwork};
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::json;

/// chromedriver's `POST /session/{id}/chromium/network_conditions`: the browser goes offline.
#[derive(Debug)]
struct Offline;

impl WebDriverCompatibleCommand for Offline {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(
                json!({ "network_conditions": { "offline": true, "latency": 0,
                    "download_throughput": 0, "upload_throughput": 0 } })
                .to_string(),
            ),
        )
    }
}

/// A file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every host name, container name, IP and MAC a snapshot holds (loopback and "any" left out).
fn secrets(c: &ClusterSnapshot) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in c.snapshots() {
        out.insert(s.node.hostname.clone());
        if let Some(e) = &s.engine {
            out.insert(e.name.clone());
            for ctr in &e.containers {
                out.insert(ctr.name.clone());
                for ep in &ctr.endpoints {
                    out.insert(ep.ipv4.clone());
                    out.insert(ep.mac.clone());
                    out.insert(ep.gateway.clone());
                }
            }
        }
        for ns in &s.namespaces {
            for l in &ns.links {
                out.insert(l.mac.clone());
            }
            for a in &ns.addresses {
                out.insert(a.address.clone());
            }
        }
    }
    out.retain(|x| {
        !x.is_empty()
            && !x.starts_with("127.")
            && x != "::1"
            && x != "0.0.0.0"
            && x != "00:00:00:00:00:00"
            && x != "ff:ff:ff:ff:ff:ff"
    });
    out
}

/// Whether `needle` occurs in `hay` as a whole token (not inside a longer address or word).
fn occurs(hay: &str, needle: &str) -> bool {
    let tokenish = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == ':' || c == '_';
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(tokenish) && !after.is_some_and(tokenish)
    })
}

fn shape(g: &Graph) -> (BTreeMap<ElementKind, usize>, BTreeMap<EdgeKind, usize>) {
    let mut el = BTreeMap::new();
    for e in &g.elements {
        *el.entry(e.kind).or_default() += 1;
    }
    let mut ed = BTreeMap::new();
    for e in &g.edges {
        *ed.entry(e.kind).or_default() += 1;
    }
    (el, ed)
}

#[test]
fn an_exported_file_works_from_disk_offline_and_pseudonyms_hide_the_real_names() {
    if !engine::available() {
        return;
    }
    let net = TestNetwork::bridge(&engine::unique("exportnet"), &[]);
    let ctr = TestContainer::run(&engine::unique("shared"), &["--network", &net.id]);
    let ip = ctr.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    assert!(!ip.is_empty());
    // The server keeps its pseudonym key in the data directory: a temporary one here.
    let data_dir = support::temp_dir("export-data");
    // What `serve` does with its data directory; the environment is not touched: every test
    // module shares this process. The first key installed is the process's.
    dockmap::share::key::install(
        dockmap::share::PseudonymKey::load_or_create(data_dir.path()).unwrap(),
    );

    engine::runtime().block_on(async {
        let state = engine::collected_state().await;
        let cur = state.current().unwrap();
        let host = dockmap::graph::ids::host_key(&cur.data.snapshots[0]);
        let hostname = cur.data.snapshots[0].node.hostname.clone();
        let ctr_id = format!("ctr:{host}/{}", ctr.name);
        let cluster = cur.cluster();
        let url = serve(router(state.clone())).await;

        // The pseudonymized JSON: none of the real names, addresses or MACs, the same shape.
        let base = url.clone();
        let anon_json = tokio::task::spawn_blocking(move || {
            request(&base, "GET", "/export.json?pseudonymize=1", &[])
        })
        .await
        .unwrap();
        assert_eq!(anon_json.status, 200);
        assert!(anon_json
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")));
        let text = anon_json.text();
        let real = secrets(&cluster);
        assert!(real.contains(&ip) && real.contains(&ctr.name) && real.contains(&hostname));
        let left: Vec<&String> = real.iter().filter(|s| occurs(&text, s)).collect();
        assert!(left.is_empty(), "the pseudonymized JSON still holds {left:?}");
        let anon: ClusterSnapshot = serde_json::from_str(&text).unwrap();
        let (g, g2) = (build_cluster(&cluster), build_cluster(&anon));
        let carries = |g: &Graph| -> Vec<String> {
            g.edges.iter().filter(|e| e.kind == EdgeKind::Carries).map(|e| e.id.clone()).collect()
        };
        assert_eq!(
            shape(&g),
            shape(&g2),
            "the pseudonymized graph has another shape: {:?} / {:?}",
            carries(&g),
            carries(&g2)
        );
        // The same veth pairs, under their pseudonyms.
        let key = PseudonymKey::from_bytes([3; 32]);
        let mut p = Pseudonymizer::new(&key);
        let mine = build_cluster(&p.cluster(&cluster).unwrap());
        let pairs = |g: &Graph| -> BTreeSet<(String, String)> {
            g.edges
                .iter()
                .filter(|e| e.kind == EdgeKind::VethPair)
                .map(|e| (e.source.clone(), e.target.clone()))
                .collect()
        };
        let mapped: BTreeSet<(String, String)> = pairs(&g)
            .into_iter()
            .map(|(a, z)| (p.text(&a), p.text(&z)))
            .collect();
        assert!(!mapped.is_empty());
        assert_eq!(pairs(&mine), mapped, "the veth pairs differ under pseudonyms");
        // The same key again gives the same pseudonyms; the server's key is stable.
        assert_eq!(
            pseudonymize_cluster(&cluster, &key).unwrap(),
            pseudonymize_cluster(&cluster, &key).unwrap()
        );
        let base = url.clone();
        let again = tokio::task::spawn_blocking(move || {
            request(&base, "GET", "/export.json?pseudonymize=1", &[])
        })
        .await
        .unwrap();
        assert_eq!(again.text(), text);

        // The pseudonymized HTML: none of them either.
        let base = url.clone();
        let anon_html = tokio::task::spawn_blocking(move || {
            request(&base, "GET", "/export.html?pseudonymize=1", &[])
        })
        .await
        .unwrap();
        assert_eq!(anon_html.status, 200);
        let h = anon_html.text();
        let left: Vec<&String> = real.iter().filter(|s| occurs(&h, s)).collect();
        assert!(left.is_empty(), "the pseudonymized HTML still holds {left:?}");

        // The plain export, as a download, saved to disk.
        let base = url.clone();
        let q = format!("/export.html?sel={}", urlencode(&ctr_id));
        let resp = tokio::task::spawn_blocking(move || request(&base, "GET", &q, &[]))
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert!(resp
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(resp
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment") && d.contains(".html")));
        let html = resp.text();
        for bad in ["<link", "<script src", " src=\"", " href=\"", "fetch("] {
            assert!(!html.contains(bad), "the export holds {bad:?}");
        }
        let file = TempFile(std::env::temp_dir().join(format!(
            "dmt{}-export.html",
            std::process::id()
        )));
        std::fs::write(&file.0, &html).unwrap();
        println!(
            "export figures: real engine, {} KB HTML, {} elements in the graph",
            html.len() / 1024,
            g.elements.len()
        );

        let Some(b) = Browser::start().await else { return };
        // The main page's button asks for this very view.
        b.open(&format!("{url}/?sel={}", urlencode(&ctr_id))).await;
        let asked = b
            .js("return document.getElementById('export-html') && window.dockmapExport.exportUrl(false)")
            .await;
        assert_eq!(asked, json!(format!("/export.html?sel={}", urlencode(&ctr_id))), "{asked}");
        b.client.issue_cmd(Offline).await.expect("go offline");
        let file_url = format!("file://{}", file.0.display());
        b.client.goto(&file_url).await.unwrap();
        b.until("return typeof window.dockmapReady === 'number'", 20, "the offline viewer to start")
            .await;
        let origin = b.js("return location.protocol").await;
        assert_eq!(origin, json!("file:"));
        // Drawn, and the container is in it.
        let drawn = b
            .js_with(
                "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
                vec![json!(ctr_id)],
            )
            .await;
        assert_eq!(drawn, json!(true), "{ctr_id} is not drawn in the export");
        // A real click on it shows its attributes (its IP) in the panel.
        b.js("document.getElementById('panel').hidden = true; document.getElementById('panel-body').textContent = ''; return true")
            .await;
        b.click_element(&ctr_id).await;
        let panel = b
            .until_panel_shows(&ip.to_string(), 10, "the panel to show the container's IP")
            .await;
        assert!(panel.contains(&ctr.name) && panel.contains("Attributes"), "{panel}");
        // Search over the embedded elements finds it by IP.
        b.js("document.querySelectorAll('.n.sel').forEach(n => n.classList.remove('sel')); return true")
            .await;
        b.search_enter(&ip).await;
        b.until_selected(&ctr_id, 10, "search to select the container").await;
        // Nothing was requested: no resource entries, and the file's CSP refuses connections.
        let requests = b
            .js("return performance.getEntriesByType('resource').map(e => e.name)")
            .await;
        assert_eq!(requests, json!([]), "the export made requests");
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.close().await;
    });
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
