//! The page in a real browser (Debian's chromium via chromedriver), on synthetic snapshots
//! served through `dockmap::web::router`: drawing, selection, search, hostile names, URLs, folding.

use crate::support::browser;

use browser::{serve, Browser};
use dockmap::graph::derive;
use dockmap::graph::{ElementKind, Graph};
use dockmap::layout::GraphIndex;
use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions, HOSTILE_NETWORK};
use dockmap::web::{router, AppState};
use serde_json::json;

fn synthetic(hosts: usize, containers: usize) -> (Vec<NodeSnapshot>, Graph) {
    let mut snaps = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: true,
    });
    let g = derive(&mut snaps);
    (snaps, g)
}

async fn page(hosts: usize, containers: usize) -> Option<(Browser, String, Graph)> {
    let (snaps, g) = synthetic(hosts, containers);
    let url = serve(router(AppState::fixed(snaps))).await;
    let b = Browser::start().await?;
    Some((b, url, g))
}

/// The docker0 container `web-…` with its IP and the name of its host-side veth.
fn a_web_container(g: &Graph) -> (String, String, String) {
    let ix = GraphIndex::new(g);
    let c = g
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Container && e.label.starts_with("web-"))
        .expect("a web container");
    let ip = c.attrs["ips"][0].as_str().unwrap().to_owned();
    let ns = ix.ctr_netns[c.id.as_str()];
    let eth0 = format!("{}/eth0", ns.replacen("netns:", "if:", 1));
    let peer = ix.peer[eth0.as_str()];
    let peer_name = ix.get(peer).unwrap().label.clone();
    (c.id.clone(), ip, peer_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_draws_every_container_bridge_and_veth_without_console_errors() {
    let Some((b, url, g)) = page(1, 8).await else {
        return;
    };
    b.open(&url).await;
    let expected = browser::containers_bridges_veths(&g);
    assert!(
        expected.len() > 20,
        "the fixture should hold a real picture"
    );
    let missing = b.not_drawn(expected).await;
    assert_eq!(missing, json!([]), "elements not drawn");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicking_a_container_shows_its_ip_and_its_veth_peer() {
    let Some((b, url, g)) = page(1, 8).await else {
        return;
    };
    b.open(&url).await;
    let (id, ip, peer) = a_web_container(&g);
    // Hover lights up the container's edges and neighbours and dims the rest.
    b.js_with(
        "window.dockmap.center(arguments[0]); document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"] .sh`).dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));",
        vec![json!(id)],
    )
    .await;
    b.until(
        "return document.getElementById('map').classList.contains('dim') && document.querySelectorAll('#map .e.hl').length > 0 && document.querySelectorAll('#map .n.hl').length > 1",
        10,
        "hover to highlight the neighbours",
    )
    .await;
    b.click_element(&id).await;
    let text = b
        .until_panel_shows(&peer, 10, "the panel to show the veth peer")
        .await;
    assert!(text.contains(&ip), "panel lacks the IP {ip}: {text}");
    assert!(
        text.contains("veth peer"),
        "panel lacks the peer line: {text}"
    );
    assert!(
        text.contains("docker0"),
        "panel lacks the peer's bridge: {text}"
    );
    let sel = b
        .js("return document.querySelector('#map .n.sel')?.dataset.id ?? null")
        .await;
    assert_eq!(sel, json!(id));
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_ip_unfolds_and_selects_the_right_container() {
    // Big enough that hosts start folded: the container is not drawn until search unfolds its host.
    let Some((b, url, g)) = page(3, 300).await else {
        return;
    };
    b.open(&url).await;
    let (id, ip, _) = a_web_container(&g);
    let drawn = b
        .js_with(
            "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
            vec![json!(id)],
        )
        .await;
    assert_eq!(drawn, json!(false), "the host should start folded");
    b.search_enter(&ip).await;
    b.until_selected(&id, 20, "the searched container to be selected")
        .await;
    b.until_panel_shows(&ip, 10, "the panel to show the IP")
        .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_named_with_html_is_text_and_runs_nothing() {
    let Some((b, url, g)) = page(1, 4).await else {
        return;
    };
    b.open(&url).await;
    let net = g
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Network && e.label == HOSTILE_NETWORK)
        .expect("the hostile network in the graph");
    // In the drawing: text, no element made from it.
    let imgs = b.js("return document.querySelectorAll('img').length").await;
    assert_eq!(imgs, json!(0));
    let as_text = b
        .js("return [...document.querySelectorAll('#map text')].some(t => t.textContent.startsWith('x<img'))")
        .await;
    assert_eq!(as_text, json!(true), "the name should be drawn as text");
    // In the side panel: the whole name, as text.
    b.click_element(&net.id).await;
    b.until_with(
        "return document.querySelector('#panel-body h2')?.textContent === arguments[0]",
        vec![json!(HOSTILE_NETWORK)],
        10,
        "the panel title to be the network's name",
    )
    .await;
    // In the search list too.
    let q = b.client.find(fantoccini::Locator::Id("q")).await.unwrap();
    q.send_keys("onerror").await.unwrap();
    b.until(
        "return [...document.querySelectorAll('#hits li b')].some(x => x.textContent === 'x<img src=x onerror=alert(1)>')",
        10,
        "the hit list to show the name",
    )
    .await;
    let imgs = b.js("return document.querySelectorAll('img').length").await;
    assert_eq!(imgs, json!(0), "markup from the engine became an element");
    assert!(
        b.client.get_alert_text().await.is_err(),
        "a script ran (an alert is open)"
    );
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_of_a_selection_reopens_it() {
    let Some((b, url, g)) = page(1, 8).await else {
        return;
    };
    b.open(&url).await;
    let (id, ip, _) = a_web_container(&g);
    b.click_element(&id).await;
    b.until(
        "return new URLSearchParams(location.search).has('sel') && new URLSearchParams(location.search).has('v')",
        10,
        "the URL to hold the selection and the view",
    )
    .await;
    let link = b.client.current_url().await.unwrap().to_string();
    assert!(link.contains("sel=ctr%3A"), "{link}");
    b.client.goto("about:blank").await.unwrap();
    b.open(&link).await;
    b.until_with(
        "return document.querySelector('#map .n.sel')?.dataset.id === arguments[0] && document.getElementById('panel-body').textContent.includes(arguments[1])",
        vec![json!(id), json!(ip)],
        10,
        "the reopened page to show the selection",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folded_host_unfolds_on_click_and_filters_show_loopbacks() {
    let Some((b, url, g)) = page(3, 300).await else {
        return;
    };
    b.open(&url).await;
    let host = "host:node-01";
    let ctr = g
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Container && e.parent.as_deref() == Some(host))
        .unwrap()
        .id
        .clone();
    b.click_element(host).await;
    b.until_with(
        "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
        vec![json!(ctr)],
        20,
        "the host's containers to be drawn",
    )
    .await;
    b.until(
        "return new URLSearchParams(location.search).getAll('open').includes('host:node-01')",
        10,
        "the URL to keep the unfolded host",
    )
    .await;
    // Loopbacks are hidden by default; the filter shows them.
    let lo = "if:node-01/host/lo";
    let has_lo = format!("return !!document.querySelector('#map [data-id=\"{lo}\"]')");
    assert_eq!(b.js(&has_lo).await, json!(false));
    b.js("document.querySelector('#filters').open = true").await;
    b.client
        .find(fantoccini::Locator::Css("#hide input[name=loopback]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(&has_lo, 20, "the host's loopback to be drawn")
        .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}
