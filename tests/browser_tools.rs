//! The page's tools in a real browser: export (SVG, PNG), keyboard pan/zoom/fit, refresh, theme.

use crate::support::browser;

use browser::{serve, Browser};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::json;

async fn page() -> Option<(Browser, String)> {
    let snaps = snapshots(&SyntheticOptions {
        hosts: 1,
        containers: 6,
        hostile_names: true,
    });
    let url = serve(router(AppState::fixed(snaps))).await;
    let b = Browser::start().await?;
    b.open(&url).await;
    Some((b, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_makes_a_standalone_svg_and_a_png_of_the_view() {
    let Some((b, _)) = page().await else { return };
    let svg = b
        .client
        .execute_async(
            "const done = arguments[0]; window.dockmap.standaloneSvg().then(s => done(s.text));",
            vec![],
        )
        .await
        .unwrap();
    let text = svg.as_str().unwrap();

    assert!(text.starts_with("<svg"), "{}", &text[..80.min(text.len())]);
    assert!(
        text.contains("<style>") && text.contains(".map .k-container"),
        "styles inlined"
    );
    assert!(
        text.contains("data-id=\"ctr:node-00/"),
        "the containers are in it"
    );
    assert!(!text.contains("<img"), "hostile markup stayed text");
    // It parses as XML on its own (the style block left out: parsing it here would apply it
    // under the page's CSP, which is the test's doing, not the export's).
    let ok = b
        .js_with(
            "const t = arguments[0].replace(/<style>[\\s\\S]*?<\\/style>/, ''); return new DOMParser().parseFromString(t, 'image/svg+xml').querySelector('parsererror') === null",
            vec![json!(text)],
        )
        .await;
    assert_eq!(ok, json!(true));

    let png = b
        .client
        .execute_async(
            "const done = arguments[0]; window.dockmap.pngBlob().then(b => done([b.type, b.size]), e => done(['error', String(e)]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(png[0], "image/png", "{png}");
    assert!(png[1].as_u64().unwrap() > 5_000, "{png}");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_zooms_pans_and_fits_and_the_view_goes_in_the_url() {
    let Some((b, _)) = page().await else { return };
    let tf = "return document.getElementById('world').style.transform";
    let fitted = b.js(tf).await;
    let stage = b
        .client
        .find(fantoccini::Locator::Id("stage"))
        .await
        .unwrap();
    stage.send_keys("+").await.unwrap();
    let zoomed = b.js(tf).await;
    assert_ne!(zoomed, fitted, "+ should zoom");
    stage.send_keys("\u{E012}").await.unwrap(); // ArrowLeft
    let panned = b.js(tf).await;
    assert_ne!(panned, zoomed, "an arrow should pan");
    stage.send_keys("f").await.unwrap();
    assert_eq!(b.js(tf).await, fitted, "f fits again");
    // The toolbar's buttons do the same as the keys.
    b.click_id("zoom-in").await;
    assert_eq!(b.js(tf).await, zoomed, "+ button zooms like the + key");
    b.click_id("zoom-out").await;
    assert_ne!(b.js(tf).await, zoomed, "− button zooms out");
    b.click_id("fit").await;
    assert_eq!(b.js(tf).await, fitted, "Fit button fits again");
    b.until(
        "return new URLSearchParams(location.search).has('v')",
        10,
        "the view in the URL",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_redraws_and_the_theme_switches() {
    let Some((b, _)) = page().await else { return };
    // The page changes its drawing in place (a patch from the one it holds), so what tells the
    // new drawing is the generation drawn.
    let before = b.js("return window.dockmap.drawn().generation").await;
    b.click_id("refresh").await;
    b.until_with(
        "return window.dockmap.drawn().generation > arguments[0] && !!document.getElementById('map')",
        vec![before],
        20,
        "a new drawing after refresh",
    )
    .await;
    let dark_before = b
        .js("return document.documentElement.classList.contains('dark')")
        .await;
    b.click_id("theme").await;
    let dark_after = b
        .js("return document.documentElement.classList.contains('dark') && document.getElementById('map').classList.contains('dark')")
        .await;
    assert_ne!(dark_before, dark_after);
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

/// The map is laid out once, at its natural size, and moved by a transform: an SVG sized by CSS
/// would make the browser lay out its thousands of labels again at every fit (2.5 s instead of
/// under 2 at 2,000 containers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_keeps_its_natural_size_and_only_its_world_moves() {
    let Some((b, _)) = page().await else { return };
    b.until(
        "return document.querySelector('#stage').classList.contains('live')",
        10,
        "the page's script set the map up",
    )
    .await;
    let sizes = b
        .js(
            "const s = document.querySelector('#world > svg');
             const cs = getComputedStyle(s);
             return [parseFloat(cs.width), parseFloat(cs.height), Number(s.dataset.w), Number(s.dataset.h),
                     getComputedStyle(document.querySelector('#world')).transform];",
        )
        .await;
    let v = sizes.as_array().unwrap();
    let (w, h, dw, dh) = (
        v[0].as_f64().unwrap(),
        v[1].as_f64().unwrap(),
        v[2].as_f64().unwrap(),
        v[3].as_f64().unwrap(),
    );
    assert!(dw > 0.0 && dh > 0.0, "{sizes}");
    assert!(
        (w - dw).abs() < 0.5 && (h - dh).abs() < 0.5,
        "drawn at {w}x{h}, natural {dw}x{dh}"
    );
    assert!(
        v[4].as_str().is_some_and(|t| t.starts_with("matrix")),
        "the world is moved by a transform: {sizes}"
    );
}
