//! The paths API of `dockmap serve` without root or a browser, on a synthetic cluster big
//! enough that hosts start folded: every published port listed, a port's path answered with
//! what to unfold to draw it, bad questions refused with a message, ETags per view.

#[path = "support/browser.rs"]
mod browser;

use std::collections::BTreeSet;
use std::time::Instant;

use browser::{get, serve};
use dockmap::graph::ElementKind;
use dockmap::layout::GraphIndex;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::Value;

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_and_paths_of_a_folded_cluster() {
    let snaps = snapshots(&SyntheticOptions {
        hosts: 3,
        containers: 300,
        hostile_names: true,
    });
    // Every IPv4 binding with a host port, as the engine reported it.
    let published: BTreeSet<(String, u16, String, String)> = snaps
        .iter()
        .flat_map(|s| {
            s.engine
                .iter()
                .flat_map(|e| &e.containers)
                .flat_map(move |c| {
                    c.ports.iter().filter_map(move |p| {
                        Some((
                            s.node.hostname.clone(),
                            p.host_port?,
                            p.protocol.clone(),
                            c.name.clone(),
                        ))
                    })
                })
        })
        .collect();
    assert!(published.len() > 20, "the fixture publishes ports");
    let state = AppState::fixed(snaps);
    let cur = state.current().unwrap();
    let g = &cur.data.graph;
    let ix = GraphIndex::new(g);
    let base = serve(router(state.clone())).await;

    let t = Instant::now();
    let r = get(&base, "/api/ports", &[]).await;
    let ports_ms = t.elapsed().as_millis();
    assert_eq!(r.status, 200, "{}", r.text());
    let listed: BTreeSet<(String, u16, String, String)> = r.json()["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mode"] != "ingress")
        .map(|p| {
            (
                p["node"].as_str().unwrap().to_owned(),
                p["port"].as_u64().unwrap() as u16,
                p["protocol"].as_str().unwrap().to_owned(),
                p["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, published, "/api/ports and the engine's bindings");

    // One published port on one node: hosts are folded, so the answer says to open its host.
    let (node, port, proto, target) = published.iter().next().unwrap().clone();
    let ask = format!("/api/path?port={port}&protocol={proto}&node={}", enc(&node));
    let t = Instant::now();
    let r = get(&base, &ask, &[]).await;
    let path_ms = t.elapsed().as_millis();
    assert_eq!(r.status, 200, "{}", r.text());
    let folded_tag = r.header("etag").unwrap().to_owned();
    let a = r.json();
    assert_eq!(a["question"]["port"], port);
    let paths = a["paths"].as_array().unwrap();
    assert!(
        !paths.is_empty(),
        "no path for {port}/{proto} on {node}: {a:#}"
    );
    assert!(
        paths
            .iter()
            .all(|p| p["title"].as_str().unwrap().contains(&target)),
        "the path should lead to {target}: {a:#}"
    );
    let host = format!("host:{node}");
    let reveal: Vec<&str> = a["reveal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(reveal.first(), Some(&host.as_str()), "{reveal:?}");
    for p in paths {
        for h in p["hops"].as_array().unwrap() {
            if let Some(e) = h["element"].as_str() {
                assert!(ix.get(e).is_some(), "hop element {e} is not in the graph");
            }
            if let Some(e) = h["edge"].as_str() {
                let ends = a["edge_ends"][e].as_array().expect("the edge's ends");
                assert_eq!(ends.len(), 2);
            }
        }
    }
    // Nothing on another host needs opening.
    assert!(reveal
        .iter()
        .filter(|r| r.starts_with("host:"))
        .all(|r| *r == host));

    // With the host opened by the view, it is not asked for again, and the ETag differs.
    let r = get(&base, &format!("{ask}&open={}", enc(&host)), &[]).await;
    assert_eq!(r.status, 200);
    assert_ne!(r.header("etag").unwrap(), folded_tag);
    let opened = r.json();
    assert!(
        !opened["reveal"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == host.as_str()),
        "{:?}",
        opened["reveal"]
    );
    assert_eq!(
        opened["paths"], a["paths"],
        "the view changes only what to open"
    );
    let r = get(&base, &ask, &[("If-None-Match", &folded_tag)]).await;
    assert_eq!(r.status, 304);

    // The pickers' ends: every container and service.
    let r = get(&base, "/api/path/ends", &[]).await;
    let ends = r.json()["ends"].as_array().unwrap().len();
    assert_eq!(
        ends,
        ix.count(ElementKind::Container) + ix.count(ElementKind::Service)
    );

    // Bad questions: 400 with what is wrong; an unknown saved snapshot: 404.
    for (q, status, says) in [
        ("/api/path", 400, "missing port="),
        ("/api/path?port=0", 400, "1 to 65535"),
        ("/api/path?port=99999", 400, "1 to 65535"),
        ("/api/path?port=80&from=a&to=b", 400, "not both"),
        ("/api/path?to=b", 400, "from="),
        ("/api/path?from=a&to=", 400, "to= is empty"),
        ("/api/path?port=80&snap=nope", 404, "saved"),
        ("/api/ports?snap=nope", 404, "saved"),
        ("/api/path/ends?snap=nope", 404, "saved"),
    ] {
        let r = get(&base, q, &[]).await;
        assert_eq!(r.status, status, "{q}: {}", r.text());
        let body: Value = r.json();
        let msg = body["error"].as_str().unwrap_or("");
        assert!(msg.contains(says), "{q}: {msg}");
    }
    eprintln!(
        "figures: 3 hosts, 300 containers, {} published ports: /api/ports {ports_ms} ms, /api/path {path_ms} ms (debug build, first request)",
        published.len()
    );
}
