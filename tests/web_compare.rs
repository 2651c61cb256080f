//! `/api/compare`, `/compare`, `/export.html` and `/export.json` over the live state and saved
//! snapshots (an in-test store over a HashMap), and `dockmap export` on a saved file. Synthetic
//! snapshots: no root, no engine.

use crate::support;
use crate::support::browser;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use browser::{request, serve};
use dockmap::share::export::cluster_of;
use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot};
use dockmap::store::SavedSnapshots;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

/// Saved snapshots kept in memory.
struct Store(HashMap<String, ClusterSnapshot>);

impl SavedSnapshots for Store {
    fn load(&self, id: &str) -> Result<Option<ClusterSnapshot>, String> {
        Ok(self.0.get(id).cloned())
    }
}

fn swarm() -> Vec<NodeSnapshot> {
    snapshots(&SyntheticOptions {
        hosts: 2,
        containers: 24,
        hostile_names: true,
    })
}

/// The live state is the swarm with one container of node-00 gone; "before" is the swarm as it was.
async fn server() -> (String, String) {
    let before = swarm();
    let mut now = before.clone();
    let e = now[0].engine.as_mut().unwrap();
    let i = e
        .containers
        .iter()
        .position(|c| c.labels.is_empty())
        .unwrap();
    let gone = e.containers.remove(i);
    let state = AppState::fixed(now);
    state.set_saved(Arc::new(Store(HashMap::from([(
        "before".to_owned(),
        cluster_of(before, "saved"),
    )]))));
    (serve(router(state)).await, gone.name)
}

fn get(base: &str, path: &str) -> browser::Resp {
    request(base, "GET", path, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_node_before_and_now_shows_what_went() {
    let (url, gone) = server().await;
    let r = tokio::task::spawn_blocking(move || {
        let api = get(&url, "/api/compare?left=before:node-00&right=node-00");
        let page = get(&url, "/compare?left=before%3Anode-00&right=node-00");
        let same = get(&url, "/api/compare?left=node-01&right=before:node-01");
        let two = get(&url, "/api/compare?left=node-00&right=node-01");
        let errors = [
            get(&url, "/api/compare?left=node-00"),
            get(&url, "/api/compare?left=nope:node-00&right=node-00"),
            get(&url, "/api/compare?left=node-09&right=node-00"),
        ];
        (api, page, same, two, errors)
    })
    .await
    .unwrap();
    let (api, page, same, two, errors) = r;
    assert_eq!(api.status, 200, "{}", api.text());
    let j = api.json();
    let key = format!("ctr:*/{gone}");
    let d = j["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key.as_str())
        .unwrap_or_else(|| panic!("{key} not listed: {j}"));
    assert_eq!(d["presence"], "left");
    assert_eq!(d["what"], "only on before:node-00");
    assert_eq!(j["left"]["spec"], "before:node-00");
    // The page draws both panes and lists it; the hostile network's name is text.
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(r#"id="map-left""#) && html.contains(r#"id="map-right""#));
    assert!(html.contains(&format!(r#"data-key="{key}""#)));
    assert!(!html.contains("<img"), "engine markup in the page");
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("script-src 'self'")));
    // A node that did not change has no differences.
    assert_eq!(same.status, 200);
    assert_eq!(same.json()["differences"], serde_json::json!([]));
    // Two nodes of one snapshot: the swarm networks are on both sides.
    let t = two.json();
    assert!(t["counts"]["both"].as_u64().unwrap() > 10, "{t}");
    // Bad sides get their reason.
    assert_eq!(errors[0].status, 400);
    assert!(errors[0].text().contains("both sides"));
    assert_eq!(errors[1].status, 404);
    assert!(errors[1].text().contains("nope"));
    assert_eq!(errors[2].status, 404);
    assert!(
        errors[2].text().contains("node-00, node-01"),
        "{}",
        errors[2].text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_of_a_saved_snapshot_are_downloads() {
    let (url, gone) = server().await;
    let data = support::temp_dir("webcmp-data");
    // What `serve` does with its data directory; the environment is not touched: every test
    // module shares this process. The first key installed is the process's.
    dockmap::share::key::install(
        dockmap::share::PseudonymKey::load_or_create(data.path()).unwrap(),
    );
    let (saved, live, anon, json) = tokio::task::spawn_blocking(move || {
        (
            get(&url, "/export.html?snap=before&open=*"),
            get(&url, "/export.html"),
            get(&url, "/export.json?snap=before&pseudonymize=1"),
            get(&url, "/export.json?snap=before"),
        )
    })
    .await
    .unwrap();
    for r in [&saved, &live, &anon, &json] {
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment; filename=\"dockmap-")));
    }
    // The saved snapshot still has the container the live state lost.
    assert!(saved.text().contains(&gone));
    assert!(!live.text().contains(&format!(">{gone}<")));
    let plain: ClusterSnapshot = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(plain.nodes.len(), 2);
    let a = anon.text();
    assert!(
        !a.contains(&gone) && !a.contains("node-00"),
        "pseudonymized JSON names originals"
    );
}

#[test]
fn dockmap_export_writes_a_file_from_a_saved_snapshot() {
    let dir = support::temp_dir("cli-export");
    let snaps = swarm();
    let input = dir.path().join("in.json");
    std::fs::write(&input, serde_json::to_vec(&snaps).unwrap()).unwrap();
    let out = dir.path().join("out.html");
    let key = "ab".repeat(32);
    let run = |out: &PathBuf| {
        let s = std::process::Command::new(BIN)
            .args(["export", "--snapshot"])
            .arg(&input)
            .arg("--html")
            .arg(out)
            .args([
                "--pseudonymize",
                "--pseudonym-key",
                &key,
                "--view",
                "open=*",
            ])
            .output()
            .unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let html = run(&out);
    assert!(html.starts_with("<!doctype html>"));
    for s in &snaps {
        assert!(!html.contains(&s.node.hostname));
        for c in &s.engine.as_ref().unwrap().containers {
            assert!(!html.contains(&c.name), "{} in the export", c.name);
        }
    }
    // The same key: the same file.
    assert_eq!(run(&dir.path().join("again.html")), html);
    // Nothing asked: a clear refusal.
    let s = std::process::Command::new(BIN)
        .args(["export", "--snapshot"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(!s.status.success());
    assert!(String::from_utf8_lossy(&s.stderr).contains("--html"));
}
