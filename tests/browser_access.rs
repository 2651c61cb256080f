//! A team server in the browser: a page asked for without a login shows the login page, the
//! token logs in and the page asked for comes up; a saved snapshot's page hands out its link;
//! in a fresh browser that link draws the snapshot and opens nothing else; a writer deletes a
//! snapshot from the list page.

use crate::support::browser;
use crate::support::store as support;

use std::sync::Arc;

use browser::{serve, Browser};
use dockmap::snapshot::ClusterSnapshot;
use dockmap::store::{Kind, Store};
use dockmap::web::access::{Access, LinkKey, TokenSet};
use dockmap::web::store::StoreState;
use dockmap::web::{secured, AllowedHosts, AppState};
use support::synthetic;

const READ: &str = "browser-read-token-0123456789";
const WRITE: &str = "browser-write-token-0123456789";

const DRAWN: &str = "return document.querySelectorAll('#map [data-id]').length";

/// Type a token into the login page and wait for the page it leads to.
async fn log_in(b: &Browser, token: &str) {
    b.until(
        "return !!document.getElementById('token')",
        20,
        "the login page",
    )
    .await;
    let field = b
        .client
        .find(fantoccini::Locator::Id("token"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    b.click_id("login-go").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_share_a_snapshot_and_delete_one_in_the_browser() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-baccess-")
        .tempdir()
        .unwrap();
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let keep = |n: usize, t: &str| {
        store
            .save(
                ClusterSnapshot::of_nodes(synthetic(1, n, t), "file"),
                Kind::Manual,
                "",
            )
            .unwrap()
            .meta
            .id
    };
    let this = keep(8, "2026-08-01T00:00:00Z");
    let doomed = keep(9, "2026-08-02T00:00:00Z");
    let tokens = TokenSet::parse(&format!("read {READ}\nwrite {WRITE}\n")).unwrap();
    let access = Arc::new(Access::with_tokens(tokens, LinkKey::from_bytes([3; 32])));
    let app = AppState::fixed(synthetic(1, 4, "2026-08-03T00:00:00Z"));
    let (router, _) = secured(
        app.clone(),
        Some(
            StoreState {
                app,
                store: store.clone(),
                upload_limit: 1 << 20,
            }
            .into(),
        ),
        AllowedHosts::default(),
        access.clone(),
    );
    let url = serve(router).await;
    let Some(b) = Browser::start().await else {
        return;
    };

    // The snapshot's page, asked for without a login: the login page, then that page.
    b.client.goto(&format!("{url}/s/{this}")).await.unwrap();
    log_in(&b, READ).await;
    b.until(
        "return typeof window.dockmapReady === 'number' && document.querySelectorAll('#map [data-id]').length > 10",
        30,
        "the snapshot drawn after the login",
    )
    .await;
    assert!(b
        .js("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .ends_with(&this));
    // The cookie is out of the page's reach (HttpOnly).
    assert_eq!(b.js("return document.cookie").await, "");
    b.until(
        "return !!document.getElementById('share-link')",
        20,
        "the Share link button",
    )
    .await;
    b.click_id("share-link").await;
    b.until(
        "return (document.getElementById('share-link-url') || {}).value?.includes('?key=') === true",
        20,
        "the link shown",
    )
    .await;
    let link = b
        .js("return document.getElementById('share-link-url').value")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(link, format!("{url}{}", access.link(&this)));
    // The only error: the page's first answer was the login page, with its 401 (by design).
    let errors: Vec<String> = b
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !(e.contains(&format!("/s/{this} ")) && e.contains("status of 401")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;

    // A stranger with the link: the snapshot, drawn; no link to hand on; nothing else.
    let Some(s) = Browser::start().await else {
        return;
    };
    s.open(&link).await;
    s.until(
        "return document.querySelectorAll('#map [data-id]').length > 10",
        30,
        "the shared snapshot drawn",
    )
    .await;
    let drawn = s.js(DRAWN).await.as_u64().unwrap();
    // Its details come over the API with the share session.
    let status = s
        .js("return fetch('/api/snapshots/' + document.body.dataset.snap + '/meta').then(r => r.status)")
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.js("return document.body.dataset.share").await, "");
    let other = s
        .js_with(
            "return fetch('/api/snapshots/' + arguments[0] + '/meta').then(r => r.status)",
            vec![doomed.clone().into()],
        )
        .await;
    assert_eq!(other, 403, "another snapshot stays closed");
    s.client.goto(&format!("{url}/")).await.unwrap();
    s.until(
        "return !!document.getElementById('token')",
        20,
        "the login page for the live view",
    )
    .await;
    assert!(drawn > 10);
    s.close().await;

    // A writer deletes one from the list page.
    let Some(w) = Browser::start().await else {
        return;
    };
    w.client.goto(&format!("{url}/snapshots")).await.unwrap();
    log_in(&w, WRITE).await;
    w.until_with(
        "return !!document.querySelector(`tr[data-id='${arguments[0]}'] button.delete`)",
        vec![doomed.clone().into()],
        20,
        "the delete button",
    )
    .await;
    w.js_with(
        "window.confirm = () => true; document.querySelector(`tr[data-id='${arguments[0]}'] button.delete`).click(); return true;",
        vec![doomed.clone().into()],
    )
    .await;
    w.until_with(
        "return !document.querySelector(`tr[data-id='${arguments[0]}']`)",
        vec![doomed.clone().into()],
        20,
        "the row to go",
    )
    .await;
    assert!(
        store.meta(&doomed).unwrap().is_none(),
        "deleted in the store"
    );
    assert!(store.meta(&this).unwrap().is_some());
    let errors: Vec<String> = w
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !(e.contains("/snapshots ") && e.contains("status of 401")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    w.close().await;
}
