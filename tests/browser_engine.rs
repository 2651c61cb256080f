//! `dockmap serve` on a real engine with real containers, in a real browser: the page draws
//! every container, bridge and veth of the host; a container's panel shows its IP and veth
//! peer; search by IP selects it; a network named with HTML stays text; a selection's URL
//! reopens it. Needs root, a Docker engine (tests/engine-up.sh) and chromium + chromedriver.

use crate::support::browser;
use crate::support::engine;

use browser::{serve, Browser};
use dockmap::graph::ElementKind;
use dockmap::layout::GraphIndex;
use dockmap::web::router;
use engine::{TestContainer, TestNetwork};
use serde_json::json;

#[test]
fn real_engine_in_a_real_browser() {
    if !engine::available() {
        return;
    }
    // A bridge network whose name is markup; the engine picks its subnet from the test pool.
    let hostile = format!("dmt{}<img src=x onerror=alert(1)>", std::process::id());
    let net = TestNetwork::bridge(&hostile, &[]);
    let a = TestContainer::run(&engine::unique("web"), &["--network", &net.id]);
    let b = TestContainer::run(&engine::unique("db"), &[]);
    let ip_a = a.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    let ip_b = b.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    assert!(!ip_a.is_empty() && !ip_b.is_empty());

    engine::runtime().block_on(async {
        let state = engine::collected_state().await;
        let cur = state.current().unwrap();
        let g = &cur.data.graph;
        let ix = GraphIndex::new(g);
        let host = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Host)
            .and_then(|e| e.id.strip_prefix("host:"))
            .unwrap()
            .to_owned();
        let ctr_a = format!("ctr:{host}/{}", a.name);
        let ctr_b = format!("ctr:{host}/{}", b.name);
        assert!(
            ix.get(&ctr_a).is_some() && ix.get(&ctr_b).is_some(),
            "containers not in the graph"
        );
        // a's eth0 → its host-side veth → the hostile network's bridge.
        let ns_a = ix
            .ctr_netns
            .get(ctr_a.as_str())
            .expect("a's namespace joined");
        let eth0 = ix
            .kids(ns_a)
            .iter()
            .find(|i| ix.get(i).unwrap().label == "eth0")
            .copied()
            .expect("a has eth0");
        let veth = ix.peer.get(eth0).copied().expect("eth0's veth peer joined");
        let veth_name = ix.get(veth).unwrap().label.clone();
        let bridge = ix
            .master
            .get(veth)
            .copied()
            .expect("the veth is a bridge port");
        let net_el = g
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Network && e.label == hostile)
            .expect("the hostile network in the graph");
        assert_eq!(ix.carriers[net_el.id.as_str()], vec![bridge]);

        // Every container, bridge and veth of the host, as the graph has them.
        let expected = browser::containers_bridges_veths(g);
        drop(ix);

        let base = serve(router(state.clone())).await;
        let Some(br) = Browser::start().await else {
            return;
        };
        // Everything unfolded: a busy test engine may hold enough containers to fold them by default.
        br.open(&format!("{base}/?open=*")).await;
        let missing = br.not_drawn(expected).await;
        assert_eq!(missing, json!([]), "elements of the host not drawn");
        let errors = br.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");

        // The container's panel: its IP and its veth peer (on the hostile network's bridge).
        br.open(&format!("{base}/")).await;
        br.click_element(&ctr_a).await;
        let text = br
            .until_panel_shows(&veth_name, 15, "the panel to show the veth peer")
            .await;
        assert!(text.contains(&ip_a), "no IP {ip_a} in the panel: {text}");
        assert!(text.contains("veth peer"), "{text}");

        // The selection's URL reopens it.
        br.until(
            "return new URLSearchParams(location.search).has('sel')",
            10,
            "the URL to hold the selection",
        )
        .await;
        let link = br.client.current_url().await.unwrap().to_string();
        br.client.goto("about:blank").await.unwrap();
        br.open(&link).await;
        br.until_selected(&ctr_a, 15, "the reopened selection")
            .await;

        // Search by IP selects the right container.
        br.search_enter(&ip_b).await;
        br.until_selected(&ctr_b, 15, "search by IP to select the container")
            .await;

        // The network named with HTML: text in the drawing and the panel, nothing run.
        br.click_element(&net_el.id).await;
        br.until_with(
            "return document.querySelector('#panel-body h2')?.textContent === arguments[0]",
            vec![json!(hostile)],
            15,
            "the network's panel",
        )
        .await;
        assert_eq!(
            br.js("return document.querySelectorAll('img').length")
                .await,
            json!(0)
        );
        assert!(br.client.get_alert_text().await.is_err(), "a script ran");
        let errors = br.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        br.close().await;
    });
    drop((a, b, net));
}
