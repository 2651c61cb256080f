//! `/scene.patch` on a served state that changes: a patch from a generation held, the whole
//! drawing (and saying so) from one that is not.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::synthetic::{snapshots, SyntheticOptions};
use crate::web::patch::{apply, Edit, Patch};
use crate::web::{router, AppState};

fn write(path: &std::path::Path, containers: usize) {
    let s = snapshots(&SyntheticOptions {
        hosts: 2,
        containers,
        hostile_names: false,
    });
    std::fs::write(path, serde_json::to_vec(&s).unwrap()).unwrap();
}

/// (content type, x-dockmap-patch, x-dockmap-generation, body).
async fn get(app: &axum::Router, uri: &str) -> (String, String, u64, String) {
    let r = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("host", "127.0.0.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(r.status().is_success(), "{uri}: {}", r.status());
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (ct, p, g) = (
        h("content-type"),
        h("x-dockmap-patch"),
        h("x-dockmap-generation").parse().unwrap_or(0),
    );
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (ct, p, g, String::from_utf8(body.to_vec()).unwrap())
}

/// Re-read the file and wait for the next generation.
async fn next(state: &AppState) {
    let g = state.status().generation;
    assert!(state.refresh());
    let deadline = Instant::now() + Duration::from_secs(30);
    while state.status().generation == g {
        assert!(Instant::now() < deadline, "no new generation");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The patch in a `/scene.patch` answer (the edits as the page reads them).
fn patch_of(body: &str) -> Patch {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let edit = |e: &serde_json::Value| {
        let n = |i: usize| e[i].as_i64().unwrap();
        match e[0].as_str().unwrap() {
            "k" => Edit::Keep(n(1) as usize),
            "r" => Edit::Remove(n(1) as usize),
            "i" => Edit::Insert(n(1) as usize),
            "a" => Edit::Set(serde_json::from_value(e[1].clone()).unwrap()),
            _ => Edit::Shift(n(1), n(2)),
        }
    };
    let counts = |k: &str| {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap() as usize)
            .collect()
    };
    Patch {
        root: serde_json::from_value(v["root"].clone()).unwrap(),
        layers: v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_array().unwrap().iter().map(edit).collect())
            .collect(),
        markup: v["markup"].as_str().unwrap().to_owned(),
        had: counts("had"),
        has: counts("has"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_gets_the_change_from_the_drawing_it_holds_or_the_whole_drawing_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("swarm.json");
    write(&file, 20);
    let state = AppState::from_file(&file).unwrap();
    let app = router(state.clone());
    let (_, _, g1, old) = get(&app, "/scene.svg?open=*").await;
    write(&file, 21);
    next(&state).await;

    let (ct, said, g2, body) = get(&app, &format!("/scene.patch?since={g1}&open=*")).await;
    assert_eq!(
        (ct.as_str(), said.as_str(), g2),
        ("application/json", "", g1 + 1)
    );
    let (_, _, _, new) = get(&app, "/scene.svg?open=*").await;
    let patched = apply(&old, &patch_of(&body)).unwrap();
    assert!(patched == new, "the patched drawing is the new one");
    assert!(
        body.len() * 4 < new.len(),
        "{} bytes for one container",
        body.len()
    );

    // Asked with another view (a selection made since): the base names the drawing held.
    write(&file, 20);
    next(&state).await;
    let sel = "sel=ctr%3Anode-00%2Fweb-0";
    let (ct, _, _, body) = get(
        &app,
        &format!("/scene.patch?since={g2}&base=open%3D*&open=*&{sel}"),
    )
    .await;
    assert_eq!(ct, "application/json");
    let (_, _, _, newest) = get(&app, &format!("/scene.svg?open=*&{sel}")).await;
    assert!(apply(&new, &patch_of(&body)).unwrap() == newest);

    // A generation no longer held (or never drawn): the whole drawing, and the answer says so.
    for since in [0, g2 + 5] {
        let (ct, said, _, body) = get(&app, &format!("/scene.patch?since={since}&open=*")).await;
        assert!(ct.starts_with("image/svg+xml"), "{ct}");
        assert_eq!(said, "whole");
        assert!(body == newest);
    }
    // A page that says nothing of its drawing is told what is missing.
    let r = app
        .clone()
        .oneshot(
            Request::get("/scene.patch?open=*")
                .header("host", "127.0.0.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), axum::http::StatusCode::BAD_REQUEST);
}
