//! The diff page in a real browser (Debian's chromium via chromedriver): two saved snapshots
//! (an in-memory store installed with `AppState::set_saved`) between which one container went,
//! one came and an MTU changed; and `/api/diff` over HTTP.

use crate::support::browser;
use crate::support::diffcase;

use browser::{request, serve, Browser};
use dockmap::diff::cluster_of;
use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::{json, Value};

/// A: every container but `gone`'s twin `came`; B: `came` without `gone`, and eth0's MTU raised.
/// Returns (A, B, the removed container's name, the added one's).
fn case() -> (NodeSnapshot, NodeSnapshot, String, String) {
    let base = snapshots(&SyntheticOptions {
        hosts: 1,
        containers: 8,
        hostile_names: true,
    })
    .remove(0);
    let mut names: Vec<String> = base
        .engine
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .filter(|c| !c.labels.keys().any(|k| k.starts_with("com.docker.swarm")))
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    let (gone, came) = (names[0].clone(), names[1].clone());
    let a = diffcase::without_container(&base, &came);
    let mut b = diffcase::without_container(&base, &gone);
    let host = b
        .namespaces
        .iter_mut()
        .find(|n| n.name == "host")
        .expect("host namespace");
    let eth0 = host
        .links
        .iter_mut()
        .find(|l| l.name == "eth0")
        .expect("host eth0");
    eth0.mtu = 9000;
    (a, b, gone, came)
}

/// The router over `live` = B, with A and B saved as `snap-a` and `snap-b`.
fn app() -> (axum::Router, String, String, String) {
    let (a, b, gone, came) = case();
    let host = dockmap::graph::ids::host_key(&b);
    let state = AppState::fixed(vec![b.clone()]);
    state.set_saved(diffcase::store(vec![
        ("snap-a", cluster_of(vec![a])),
        ("snap-b", cluster_of(vec![b])),
    ]));
    (
        router(state),
        format!("ctr:{host}/{gone}"),
        format!("ctr:{host}/{came}"),
        format!("if:{host}/host/eth0"),
    )
}

async fn classes_of(b: &Browser, id: &str) -> Value {
    b.js_with(
        "const g = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`); \
         if (!g) return null; const r = g.querySelector('.sh').getBBox(); \
         return { cls: [...g.classList], w: r.width, h: r.height };",
        vec![json!(id)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diff_page_marks_lists_and_explains_each_change() {
    let (router, gone, came, eth0) = app();
    let url = serve(router).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    b.open(&format!("{url}/diff/snap-a/snap-b")).await;
    if let Some(p) = std::env::var_os("DOCKMAP_DIFF_SCREENSHOT") {
        b.screenshot(&std::path::Path::new(&p).with_extension("fit.png"))
            .await;
    }

    let added = classes_of(&b, &came).await;
    assert!(
        added["cls"].as_array().unwrap().contains(&json!("added")),
        "the added container is not marked added: {added}"
    );
    let removed = classes_of(&b, &gone).await;
    assert!(
        removed["cls"]
            .as_array()
            .unwrap()
            .contains(&json!("removed")),
        "the removed container is not drawn as removed: {removed}"
    );
    assert!(removed["w"].as_f64().unwrap() > 10.0 && removed["h"].as_f64().unwrap() > 10.0);
    let changed = classes_of(&b, &eth0).await;
    assert!(
        changed["cls"]
            .as_array()
            .unwrap()
            .contains(&json!("changed")),
        "{changed}"
    );
    // An element that did not change carries no mark.
    let untouched = b
        .js("return document.querySelectorAll('#map .n.k-container:not(.added):not(.removed):not(.changed)').length")
        .await;
    assert!(untouched.as_u64().unwrap() >= 3, "{untouched}");

    // The list: the added container in "Added", the removed one in "Removed".
    let listed = b
        .js_with(
            "const q = (id) => document.querySelector(`#list li.entry[data-id=\"${CSS.escape(id)}\"]`); \
             return [q(arguments[0])?.className, q(arguments[1])?.className, q(arguments[2])?.className];",
            vec![json!(came), json!(gone), json!(eth0)],
        )
        .await;
    assert_eq!(
        listed,
        json!(["entry added", "entry removed", "entry changed"]),
        "list entries"
    );

    // Click the changed interface in the list: it is selected, brought to the middle, and its
    // change shown old → new.
    let row = b
        .client
        .find(fantoccini::Locator::Css(&format!(
            "#list li.entry[data-id=\"{eth0}\"] > .row"
        )))
        .await
        .expect("the list entry");
    row.click().await.expect("click the entry");
    b.until(
        "const t = document.getElementById('detail-body').textContent; return t.includes('mtu') && t.includes('1500') && t.includes('9000')",
        10,
        "the detail to show mtu 1500 → 9000",
    )
    .await;
    let centred = b
        .js_with(
            "const g = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`); \
             const r = g.getBoundingClientRect(); const s = document.getElementById('stage').getBoundingClientRect(); \
             const cx = r.left + r.width / 2, cy = r.top + r.height / 2; \
             return g.classList.contains('sel') && cx > s.left && cx < s.right && cy > s.top && cy < s.bottom;",
            vec![json!(eth0)],
        )
        .await;
    assert_eq!(
        centred,
        json!(true),
        "the clicked change is not selected in view"
    );
    let text = b
        .js("return document.getElementById('detail-body').textContent")
        .await;
    assert!(
        text.as_str().unwrap().contains("What changed (A → B)"),
        "{text}"
    );
    // For a human to look at: DOCKMAP_DIFF_SCREENSHOT=/tmp/diff.png.
    if let Some(p) = std::env::var_os("DOCKMAP_DIFF_SCREENSHOT") {
        b.screenshot(std::path::Path::new(&p)).await;
    }

    // Click the removed container's entry: what it had, its address among it.
    let ip = b
        .js_with(
            "return window.dockmap.diff().elements.find(e => e.id === arguments[0]).attrs.find(a => a.name === 'ips').removed[0]",
            vec![json!(gone)],
        )
        .await;
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "#list li.entry[data-id=\"{gone}\"] > .row"
        )))
        .await
        .expect("the removed entry")
        .click()
        .await
        .expect("click");
    b.until_with(
        "const t = document.getElementById('detail-body').textContent; return t.includes('What it had (in A)') && t.includes(arguments[0])",
        vec![ip.clone()],
        10,
        "the removed container's detail",
    )
    .await;

    // A change the default drawing hides (a loopback, filtered out by default): clicking it in
    // the list redraws with it in view, still marked.
    let lo = b
        .js("return window.dockmap.diff().elements.find(e => e.kind === 'interface' && e.label === 'lo' && e.change === 'added').id")
        .await;
    let lo = lo
        .as_str()
        .expect("the added container's loopback")
        .to_owned();
    let drawn_before = b
        .js_with(
            "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
            vec![json!(lo)],
        )
        .await;
    assert_eq!(drawn_before, json!(false), "loopbacks start hidden");
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "#list li.entry[data-id=\"{lo}\"] > .row"
        )))
        .await
        .expect("the loopback's entry")
        .click()
        .await
        .expect("click");
    b.until_with(
        "const g = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`); return !!g && g.classList.contains('added') && g.classList.contains('sel')",
        vec![json!(lo)],
        10,
        "the loopback to be drawn, marked and selected",
    )
    .await;

    // Hostile names stay text: no console error, no injected element.
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let injected = b.js("return document.querySelectorAll('img').length").await;
    assert_eq!(injected, json!(0));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_diff_compares_saved_and_live_and_refuses_unknown_ids() {
    let (router, gone, came, _) = app();
    let url = serve(router).await;
    let u = url.clone();
    let (ab, a_live, same, unknown, missing) = tokio::task::spawn_blocking(move || {
        (
            request(&u, "GET", "/api/diff?a=snap-a&b=snap-b", &[]),
            request(&u, "GET", "/api/diff?a=snap-a&b=live", &[]),
            request(&u, "GET", "/api/diff?a=snap-b&b=live", &[]),
            request(&u, "GET", "/api/diff?a=snap-a&b=nope", &[]),
            request(&u, "GET", "/api/diff?a=snap-a", &[]),
        )
    })
    .await
    .unwrap();
    assert_eq!(ab.status, 200);
    let d = ab.json();
    assert_eq!(d["schema"], "dockmap.diff/1");
    assert_eq!(d["equal"], false);
    let of = |change: &str| -> Vec<String> {
        d["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["change"] == change && e["kind"] == "container")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of("added"), vec![came]);
    assert_eq!(of("removed"), vec![gone]);
    // Live is B: the same diff; B against live: nothing.
    assert_eq!(a_live.status, 200);
    assert_eq!(a_live.json()["elements"], d["elements"]);
    assert_eq!(same.json()["equal"], true, "{}", same.text());
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"].as_str().unwrap().contains("nope"));
    assert_eq!(missing.status, 400);
    // The ETag names the two states: asking again with it gets 304.
    let tag = ab.header("etag").expect("an etag").to_owned();
    let again = tokio::task::spawn_blocking(move || {
        request(
            &url,
            "GET",
            "/api/diff?a=snap-a&b=snap-b",
            &[("If-None-Match", &tag)],
        )
    })
    .await
    .unwrap();
    assert_eq!(again.status, 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compare_page_moves_both_panes_as_one_and_marks_a_difference() {
    let snaps = snapshots(&SyntheticOptions {
        hosts: 2,
        containers: 12,
        hostile_names: false,
    });
    let url = serve(router(AppState::fixed(snaps))).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    b.open(&format!("{url}/compare?left=node-00&right=node-01"))
        .await;
    let transforms = "return ['left', 'right'].map((s) => document.getElementById('world-' + s).style.transform)";
    let fitted = b.js(transforms).await;
    assert_ne!(fitted[0], json!(""), "fitted: {fitted}");
    assert_eq!(fitted[0], fitted[1], "both panes fitted alike");
    // The zoom button moves both panes.
    b.click_id("zoom-in").await;
    let zoomed = b.js(transforms).await;
    assert_ne!(zoomed[0], fitted[0], "the zoom moved the left pane");
    assert_eq!(zoomed[0], zoomed[1], "and the right one with it");
    // A listed difference is marked in the panes that draw it, and explained.
    let key = b
        .js("return document.querySelector('#diff-list li[data-key]').dataset.key")
        .await;
    b.js("document.querySelector('#diff-list li[data-key]').click(); return true")
        .await;
    let marked = b
        .js_with(
            "return [...document.querySelectorAll('.cmp-focus')].map((g) => g.dataset.id)",
            vec![],
        )
        .await;
    assert!(
        marked
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| *x == key)),
        "{key}: {marked}"
    );
    let info = b
        .js("return document.getElementById('info').textContent")
        .await;
    assert!(
        info.as_str().unwrap_or("").contains(key.as_str().unwrap()),
        "{info}"
    );
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}
