//! The paths API of `dockmap serve` without root or a browser, on a synthetic cluster big
//! enough that hosts start folded: every published port listed, a port's path answered with
//! what to unfold to draw it, bad questions refused with a message, ETags per view.

use crate::support::browser;

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

    // The pickers' ends: every container and service, and each node's uplink.
    let r = get(&base, "/api/path/ends", &[]).await;
    let ends = r.json()["ends"].as_array().unwrap().clone();
    let of = |kind: &str| ends.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(
        of("container") + of("service"),
        ix.count(ElementKind::Container) + ix.count(ElementKind::Service)
    );
    assert_eq!(of("interface"), ix.count(ElementKind::Host), "{ends:?}");

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

/// Host nat POSTROUTING first jumps into chains that jump, toggle one bit of the mark and jump
/// again, 24 deep: 2^24 packet states, which no walk finishes within a question's budget.
fn slow_postrouting(snaps: &mut [dockmap::snapshot::NodeSnapshot]) {
    let mut text = String::from("*nat\n:POSTROUTING ACCEPT [0:0]\n");
    for i in 0..=24 {
        text.push_str(&format!(":SLOW{i} - [0:0]\n"));
    }
    text.push_str("-A POSTROUTING -j SLOW0\n");
    for i in 0..24 {
        text.push_str(&format!(
            "-A SLOW{i} -j SLOW{n}\n-A SLOW{i} -j MARK --set-xmark 0x{b:x}/0x0\n-A SLOW{i} -j SLOW{n}\n",
            n = i + 1,
            b = 1u32 << i
        ));
    }
    text.push_str("COMMIT\n");
    let slow = dockmap::collect::firewall::parse_iptables_save(&text)
        .unwrap()
        .remove(0);
    let host = snaps[0]
        .namespaces
        .iter_mut()
        .find(|n| n.role == dockmap::snapshot::NamespaceRole::Host)
        .unwrap();
    let nat = host
        .firewall
        .as_mut()
        .unwrap()
        .ipv4
        .iter_mut()
        .find(|t| t.name == "nat")
        .unwrap();
    nat.chains
        .extend(slow.chains.into_iter().filter(|c| c.policy.is_none()));
    let mut rules = slow.rules;
    rules.append(&mut nat.rules);
    nat.rules = rules;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_question_is_answered_while_slow_ones_on_the_same_snapshot_run() {
    let mut snaps = snapshots(&SyntheticOptions {
        hosts: 1,
        containers: 30,
        hostile_names: false,
    });
    // Which containers' way out goes through nat POSTROUTING, and a published port, asked of
    // the snapshot before it gets the slow chains.
    let fast_state = AppState::fixed(snaps.clone());
    let cur = fast_state.current().unwrap();
    let (data, names): (_, Vec<String>) = (
        &cur.data,
        cur.data
            .snapshots
            .iter()
            .flat_map(|s| s.engine.iter().flat_map(|e| &e.containers))
            .map(|c| c.name.clone())
            .collect(),
    );
    let egress: Vec<&String> = names
        .iter()
        .filter(|n| {
            let q = dockmap::path::Question::Between {
                from: (*n).clone(),
                to: "internet".into(),
            };
            dockmap::path::trace(&q, &data.snapshots, &data.graph)
                .paths
                .iter()
                .any(|p| p.hops.iter().any(|h| h.text.starts_with("nat POSTROUTING")))
        })
        .take(4)
        .collect();
    assert_eq!(
        egress.len(),
        4,
        "containers that leave through nat POSTROUTING"
    );
    let port = data
        .snapshots
        .iter()
        .flat_map(|s| s.engine.iter().flat_map(|e| &e.containers))
        .find_map(|c| c.ports.iter().find_map(|p| p.host_port))
        .expect("a published port");

    slow_postrouting(&mut snaps);
    let base = serve(router(AppState::fixed(snaps))).await;
    let slow: Vec<_> = egress
        .iter()
        .map(|n| {
            let (b, q) = (
                base.clone(),
                format!("/api/path?from={}&to=internet", enc(n)),
            );
            tokio::spawn(async move { get(&b, &q, &[]).await })
        })
        .collect();
    // Let the slow questions reach the server first (sequencing only: nothing is timed).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = get(&base, &format!("/api/path?port={port}&protocol=tcp"), &[]).await;
    let running = slow.iter().filter(|h| !h.is_finished()).count();
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    assert!(
        !a["paths"].as_array().unwrap().is_empty(),
        "the quick question has its answer: {a:#}"
    );
    assert!(
        running > 0,
        "the quick answer came only after every slow question had finished"
    );
    // The slow ones end too: unknown, with the reason, never a hang.
    for h in slow {
        let r = h.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let a = r.json();
        let p = &a["paths"][0];
        assert_eq!(p["outcome"], "unknown", "{a:#}");
        let last = p["hops"].as_array().unwrap().last().unwrap();
        let why = last["text"].as_str().unwrap();
        assert!(
            why.starts_with("nat POSTROUTING on") && why.contains("rule evaluations"),
            "{why}"
        );
    }
}
