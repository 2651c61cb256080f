//! The live page in a real browser, on the real engine: a container started after the page
//! opened is drawn without a reload, the selection, the zoom and the open panel stay, the Changes
//! list names it and selects it; paused, the picture holds still (and the URL says so) while
//! changes are still listed; resumed, it catches up. Needs root, the engine and chromium.

use crate::support::browser;
use crate::support::engine;

use std::time::{Duration, Instant};

use browser::{serve, Browser};
use dockmap::collect::node::NodeOptions;
use dockmap::web::{router, AppState};
use engine::TestContainer;
use serde_json::Value;

const DRAWN: &str =
    "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)";

#[test]
fn a_new_container_is_drawn_in_place_and_pause_holds_the_picture() {
    if !engine::available() {
        return;
    }
    engine::ensure_image();
    let first = TestContainer::run(&engine::unique("livepage-a"), &[]);
    let rt = engine::runtime();
    rt.block_on(async {
        let state = AppState::live(NodeOptions {
            docker: Some(engine::docker_host()),
            ..Default::default()
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let key = loop {
            if let Some(cur) = state.current() {
                break dockmap::graph::ids::host_key(&cur.data.snapshots[0]);
            }
            assert!(Instant::now() < deadline, "no first picture");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
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
