//! Selecting an element the default view does not draw makes it drawn and selected, in a real
//! browser: at scale a container's namespace is folded into it and the host end of its veth is
//! drawn as the container, so a search for that veth, or the panel's "veth peer" link, must
//! unfold the container for the veth itself to be drawn and highlighted.

use crate::support::browser;

use browser::{serve, Browser};
use dockmap::graph::derive;
use dockmap::graph::{ElementKind, Graph, InterfaceType};
use dockmap::layout::index::NsPlace;
use dockmap::layout::GraphIndex;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::json;

async fn page(hosts: usize, containers: usize) -> Option<(Browser, String, Graph)> {
    let mut snaps = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    let g = derive(&mut snaps);
    let url = serve(router(AppState::fixed(snaps))).await;
    let b = Browser::start().await?;
    Some((b, url, g))
}

/// A host-side veth on `host` whose peer is in a container's namespace: (veth id, veth name, container id).
fn host_veth(g: &Graph, host: &str) -> (String, String, String) {
    let ix = GraphIndex::new(g);
    for e in &g.elements {
        let Some(ns) = e.parent.as_deref() else {
            continue;
        };
        if e.kind != ElementKind::Interface
            || ix.if_type(&e.id) != InterfaceType::Veth
            || ix.ns_place(ns) != NsPlace::Host
            || ix.host_of(&e.id) != Some(host)
        {
            continue;
        }
        let Some(peer) = ix.peer.get(e.id.as_str()) else {
            continue;
        };
        let Some(ctr) = ix.fold_parent(peer).and_then(|n| ix.fold_parent(n)) else {
            continue;
        };
        if ix.get(ctr).map(|c| c.kind) == Some(ElementKind::Container) {
            return (e.id.clone(), e.label.clone(), ctr.to_owned());
        }
    }
    panic!("no host-side veth of a container on {host}");
}

fn drawn(id: &str) -> (String, Vec<serde_json::Value>) {
    (
        "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)".into(),
        vec![json!(id)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_a_host_side_veth_draws_and_selects_it() {
    // 300 containers on three hosts: hosts start folded, containers' namespaces folded into them.
    let Some((b, url, g)) = page(3, 300).await else {
        return;
    };
    b.open(&url).await;
    let (veth, name, _) = host_veth(&g, "host:node-01");
    let (script, args) = drawn(&veth);
    assert_eq!(b.js_with(&script, args).await, json!(false));
    b.search_enter(&name).await;
    b.until_selected(&veth, 20, "the searched veth to be drawn and selected")
        .await;
    b.until_panel_shows(&name, 10, "the panel to show the veth")
        .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_veth_peer_from_a_containers_panel_draws_and_selects_the_veth() {
    // One host of 300 containers: the host is open, each container's namespace folded into it.
    let Some((b, url, g)) = page(1, 300).await else {
        return;
    };
    b.open(&url).await;
    let (veth, _, ctr) = host_veth(&g, "host:node-00");
    let (script, args) = drawn(&veth);
    assert_eq!(b.js_with(&script, args).await, json!(false));
    b.click_element(&ctr).await;
    let link = format!(
        "#panel-body [data-goto=\"{}\"]",
        veth.replace('\\', "\\\\").replace('"', "\\\"")
    );
    b.until_with(
        "return !!document.querySelector(arguments[0])",
        vec![json!(link)],
        10,
        "the container's panel to link its veth peer",
    )
    .await;
    b.client
        .find(fantoccini::Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until_selected(&veth, 20, "the veth peer to be drawn and selected")
        .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.close().await;
}
