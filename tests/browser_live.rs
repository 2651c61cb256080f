//! The live page in a real browser, on the real engine: a container started after the page
//! opened is drawn without a reload, the selection, the zoom and the open panel stay, the Changes
//! list names it and selects it; paused, the picture holds still (and the URL says so) while
//! changes are still listed; resumed, it catches up. A live update is fetched as a patch
//! (`/scene.patch`), not as the whole drawing, and the patched drawing is, byte for byte, what
//! `/scene.svg` draws of that generation. Needs root, the engine and chromium.

use crate::support::browser;
use crate::support::engine;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use browser::{serve, Browser};
use dockmap::collect::node::NodeOptions;
use dockmap::web::{router, AppState};
use engine::TestContainer;
use serde_json::Value;

const DRAWN: &str =
    "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)";

/// The live state of the test engine's node, once it has its first picture, and the node's key.
async fn live_state() -> (AppState, String) {
    let state = AppState::live(NodeOptions {
        docker: Some(engine::docker_host()),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(cur) = state.current() {
            let key = dockmap::graph::ids::host_key(&cur.data.snapshots[0]);
            return (state, key);
        }
        assert!(Instant::now() < deadline, "no first picture");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_new_container_is_drawn_in_place_and_pause_holds_the_picture() {
    if !engine::available() {
        return;
    }
    engine::ensure_image();
    let first = TestContainer::run(&engine::unique("livepage-a"), &[]);
    let rt = engine::runtime();
    rt.block_on(async {
        let (state, key) = live_state().await;
        let url = serve(router(state)).await;
        let Some(b) = Browser::start().await else { return };
        let a = format!("ctr:{key}/{}", first.name);
        let q = |s: &str| s.replace('/', "%2F").replace(':', "%3A");
        b.open(&format!("{url}/?open=*&sel={}&v=-40,-30,1.5", q(&a)))
            .await;
        b.until_with(DRAWN, vec![Value::String(a.clone())], 20, "the first container")
            .await;
        b.until("return document.getElementById('live-state').textContent === 'live'", 20, "the page to say it is live").await;
        // A mark that only survives if the page is never reloaded.
        b.js("window.__notReloaded = true; return true").await;
        // Where the selected container's shape sits on the screen, and the zoom: a redraw may move
        // the drawing under it (a new container changes the layout), and the page keeps the
        // selected element where the user had it, so that is what must stay.
        let placed_js = "const b = window.dockmapPanZoom.box(document.querySelector('#map .n.sel')); \
             const m = document.getElementById('world').style.transform \
               .match(/translate\\(([-\\d.]+)px, ([-\\d.]+)px\\) scale\\(([\\d.]+)\\)/); \
             return [Math.round(+m[1] + b.x * m[3]), Math.round(+m[2] + b.y * m[3]), m[3]]";
        let placed = b.js(placed_js).await;
        let second = TestContainer::run(&engine::unique("livepage-b"), &[]);
        let c = format!("ctr:{key}/{}", second.name);
        b.until_with(DRAWN, vec![Value::String(c.clone())], 30, "the new container, without a reload")
            .await;
        assert_eq!(b.js("return window.__notReloaded === true").await, Value::Bool(true), "the page was not reloaded");
        assert_eq!(
            b.js("return document.querySelector('#map .n.sel')?.dataset.id").await,
            Value::String(a.clone()),
            "the selection stays"
        );
        assert_eq!(
            b.js(placed_js).await,
            placed,
            "the selected container stays where it was on the screen, at the same zoom"
        );
        let listed = b
            .js("return [...document.querySelectorAll('#changes-list li')].map(li => li.textContent).join('\\n')")
            .await;
        assert!(
            listed.as_str().unwrap_or("").contains(&format!("added container {}", second.name)),
            "the Changes list names it: {listed}"
        );
        // Its entry selects it.
        b.js_with(
            "document.getElementById('changes').open = true; document.querySelector(`#changes-list li[data-id=\"${CSS.escape(arguments[0])}\"] a`).click(); return true",
            vec![Value::String(c.clone())],
        )
        .await;
        b.until_selected(&c, 20, "the container picked in the Changes list").await;

        // Paused: the picture holds, the URL says so, the list keeps growing.
        b.click_id("pause").await;
        b.until("return location.search.includes('live=paused')", 10, "the URL to say paused").await;
        drop(second);
        b.until_with(
            "return [...document.querySelectorAll('#changes-list li')].some(li => li.textContent.includes('removed container ' + arguments[0]))",
            vec![Value::String(c.trim_start_matches(&format!("ctr:{key}/")).to_owned())],
            30,
            "the removal to be listed while paused",
        )
        .await;
        assert_eq!(
            b.js_with(DRAWN, vec![Value::String(c.clone())]).await,
            Value::Bool(true),
            "paused: the removed container is still drawn"
        );
        b.click_id("pause").await;
        b.until_with(
            "return !document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
            vec![Value::String(c.clone())],
            20,
            "resumed: the picture catches up",
        )
        .await;
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.close().await;
    });
    drop(first);
}

/// Answers with the whole drawing and with patches, counted on the server.
#[derive(Default)]
struct Drawings {
    whole: AtomicUsize,
    patches: AtomicUsize,
}

fn counting(router: axum::Router) -> (axum::Router, Arc<Drawings>) {
    let seen = Arc::new(Drawings::default());
    let counts = seen.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counts = counts.clone();
            async move {
                let path = req.uri().path().to_owned();
                let r = next.run(req).await;
                // A patch request answered with the whole drawing counts as a whole drawing.
                let whole = path == "/scene.svg"
                    || (path == "/scene.patch" && r.headers().contains_key("x-dockmap-patch"));
                if whole {
                    counts.whole.fetch_add(1, Ordering::SeqCst);
                } else if path == "/scene.patch" {
                    counts.patches.fetch_add(1, Ordering::SeqCst);
                }
                r
            }
        },
    ));
    (router, seen)
}

/// The drawing on the page, less what the page adds to it (the theme, the selection, hover
/// lights, live marks, hover titles), and `/scene.svg` of the same view, both serialized by the
/// browser; null while the server has drawn a newer generation than the page shows.
const PAGE_AND_SERVER: &str = r#"
return (async () => {
const d = window.dockmap.drawn();
const r = await fetch('/scene.svg?' + d.query);
if (Number(r.headers.get('x-dockmap-generation')) !== d.generation) return null;
const text = await r.text();
const ser = new XMLSerializer();
const server = ser.serializeToString(new DOMParser().parseFromString(text, 'image/svg+xml').documentElement);
const page = document.querySelector('#map').cloneNode(true);
page.classList.remove('dark', 'dim');
for (const x of page.querySelectorAll('*')) x.classList.remove('sel', 'hl', 'live-added', 'live-changed');
for (const t of page.querySelectorAll('title')) t.remove();
return [ser.serializeToString(page), server, d.generation];
})();
"#;

#[test]
fn a_live_update_is_drawn_from_a_patch_that_equals_the_whole_drawing() {
    if !engine::available() {
        return;
    }
    engine::ensure_image();
    let first = TestContainer::run(&engine::unique("livepatch-a"), &[]);
    let rt = engine::runtime();
    rt.block_on(async {
        let (state, key) = live_state().await;
        let (router, seen) = counting(router(state));
        let url = serve(router).await;
        let Some(b) = Browser::start().await else {
            return;
        };
        let a = format!("ctr:{key}/{}", first.name);
        b.open(&format!("{url}/?open=*")).await;
        b.until_with(
            DRAWN,
            vec![Value::String(a.clone())],
            20,
            "the first container",
        )
        .await;
        b.until(
            "return document.getElementById('live-state').textContent === 'live'",
            20,
            "the page to say it is live",
        )
        .await;
        // Selected after the page opened: the view asked for now (with `sel`) is not the one the
        // drawing on the page was asked with, and the patch must start from the drawing held.
        b.js_with(
            "window.dockmap.select(arguments[0]); return true",
            vec![Value::String(a.clone())],
        )
        .await;
        let wholes = seen.whole.load(Ordering::SeqCst);
        let second = TestContainer::run(&engine::unique("livepatch-b"), &[]);
        let c = format!("ctr:{key}/{}", second.name);
        b.until_with(
            DRAWN,
            vec![Value::String(c.clone())],
            30,
            "the new container",
        )
        .await;
        assert!(
            seen.patches.load(Ordering::SeqCst) > 0,
            "the page asked for a patch"
        );
        assert_eq!(
            seen.whole.load(Ordering::SeqCst),
            wholes,
            "the page did not fetch the whole drawing for one container"
        );
        // The patched drawing is the whole drawing of its generation, byte for byte.
        let deadline = Instant::now() + Duration::from_secs(30);
        let same = loop {
            let v = b.js(PAGE_AND_SERVER).await;
            if !v.is_null() {
                break v;
            }
            assert!(
                Instant::now() < deadline,
                "the page never caught up with the server"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            same[0] == same[1],
            "generation {}: the patched drawing differs from /scene.svg:\npage:   {}\nserver: {}",
            same[2],
            same[0],
            same[1]
        );
        assert_eq!(
            b.js("return document.querySelector('#map .n.sel')?.dataset.id")
                .await,
            Value::String(a.clone()),
            "the selection stays"
        );
        // A container gone: a patch again, and again the whole drawing of its generation (the
        // test's own fetches of /scene.svg above are not the page's).
        let patches = seen.patches.load(Ordering::SeqCst);
        let wholes = seen.whole.load(Ordering::SeqCst);
        drop(second);
        b.until_with(
            "return !document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
            vec![Value::String(c.clone())],
            30,
            "the removed container to go",
        )
        .await;
        assert!(
            seen.patches.load(Ordering::SeqCst) > patches,
            "a patch for the removal"
        );
        assert_eq!(
            seen.whole.load(Ordering::SeqCst),
            wholes,
            "no whole drawing for the removal"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = b.js(PAGE_AND_SERVER).await;
            if !v.is_null() {
                assert!(
                    v[0] == v[1],
                    "after the removal, generation {}: the drawings differ",
                    v[2]
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the page never caught up with the server"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.close().await;
    });
    drop(first);
}
