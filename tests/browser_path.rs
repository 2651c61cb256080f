//! Packet paths on the real engine, through the JSON API and in a real browser: a container
//! with a published port (`-p 127.0.0.1::80`) and a second container on the same user bridge
//! (named with HTML). `/api/ports` lists the port, `/api/path` answers with the DNAT rule the
//! kernel holds, bad questions get 400 with a message; in the page the Paths menu lights the
//! path up on the drawing and lists its hops with the rule verbatim, a hop click centres it,
//! the URL reopens it, and two containers give the east-west path.
//! Needs root, a Docker engine (tests/engine-up.sh) and, for the page, chromium + chromedriver.

use crate::support::browser;
use crate::support::engine;

use std::collections::BTreeSet;

use browser::{get, serve, Browser};
use dockmap::collect::node::{collect, NodeOptions};
use dockmap::layout::GraphIndex;
use dockmap::snapshot::NodeSnapshot;
use dockmap::web::{router, AppState};
use engine::{TestContainer, TestNetwork};
use fantoccini::Locator;
use serde_json::{json, Value};

/// Drawn edges that join two hops (`links` of an answer, the argument) but are not lit.
const EDGES_UNLIT: &str = "const want = new Set(arguments[0].flat(2).map(([s, t]) => `${s}\n${t}`)); \
return [...document.querySelectorAll('#map .e')].filter(e => (want.has(`${e.dataset.s}\n${e.dataset.t}`) || want.has(`${e.dataset.t}\n${e.dataset.s}`)) && !e.classList.contains('p-on')).map(e => `${e.dataset.s} -> ${e.dataset.t}`)";

/// The test engine's swarm advertise address (tests/engine-up.sh), a host address in 198.18.0.0/15.
const SWARM_ADDR: &str = "198.18.192.1";

/// With `DOCKMAP_TEST_SHOTS=<dir>`, a screenshot for a human to look at.
async fn shot(br: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("DOCKMAP_TEST_SHOTS") {
        br.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")))
            .await;
    }
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The `iptables-save` line of the host's DNAT rule to `to` (e.g. `198.18.64.2:80`).
fn dnat_rule(s: &NodeSnapshot, to: &str) -> String {
    let nat = s
        .host_namespace()
        .and_then(|h| h.firewall.as_ref())
        .and_then(|f| f.ipv4.iter().find(|t| t.name == "nat"))
        .expect("the host's nat table");
    nat.rules
        .iter()
        .find(|r| r.target.as_ref().and_then(|t| t.to_destination.as_deref()) == Some(to))
        .unwrap_or_else(|| panic!("no DNAT to {to} on the host"))
        .text
        .clone()
}

/// Every hop element of every path of an answer.
fn hop_elements(answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in answer["paths"].as_array().unwrap() {
        for h in p["hops"].as_array().unwrap() {
            if let Some(e) = h["element"].as_str() {
                if !out.iter().any(|x| x == e) {
                    out.push(e.to_owned());
                }
            }
        }
    }
    out
}

/// The hops' evidence texts of one path.
fn evidence(path: &Value) -> Vec<String> {
    path["hops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["evidence"].as_array().cloned().unwrap_or_default())
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The first path of this kind.
fn path_of_kind<'a>(answer: &'a Value, kind: &str) -> &'a Value {
    answer["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} path in {answer:#}"))
}

/// What a container is in the drawing: the container, its namespace and what is in it.
struct Ctr {
    id: String,
    ns: String,
    ifs: String,
}

impl Ctr {
    fn owns(&self, element: &str) -> bool {
        element == self.id || element == self.ns || element.starts_with(&self.ifs)
    }
}

#[test]
fn published_port_and_east_west_paths_in_the_api_and_the_page() {
    if !engine::available() {
        return;
    }
    let hostile = format!("dmt{}p<img src=x onerror=alert(1)>", std::process::id());
    let net = TestNetwork::bridge(&hostile, &[]);
    // Published on the test engine's swarm address (a port-less bridge of its own, made by
    // tests/engine-up.sh): a client arrives there from outside the container's bridge, meets
    // nat PREROUTING and the DNAT rule. (A 127.0.0.1 binding would meet nat OUTPUT, which
    // Docker leaves to the userland proxy.)
    let web = TestContainer::run(
        &engine::unique("web"),
        &["--network", &net.id, "-p", &format!("{SWARM_ADDR}::80")],
    );
    let db = TestContainer::run(&engine::unique("db"), &["--network", &net.id]);
    let port: u16 = web
        .inspect(r#"{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}"#)
        .parse()
        .unwrap();
    let ip_web = web.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");

    engine::runtime().block_on(async {
        let snap = collect(&NodeOptions {
            docker: Some(engine::docker_host()),
            ..Default::default()
        })
        .await;
        // `h` keys the element IDs; the node is named by its label (its hostname, alone here).
        let h = dockmap::graph::ids::host_key(&snap);
        let label = snap.node.hostname.clone();
        let rule = dnat_rule(&snap, &format!("{ip_web}:80"));
        let state = AppState::fixed(vec![snap]);
        let cur = state.current().unwrap();
        let g = &cur.data.graph;
        let ix = GraphIndex::new(g);
        let ctr = |name: &str| {
            let id = format!("ctr:{h}/{name}");
            let ns = ix
                .ctr_netns
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{id}'s namespace"))
                .to_string();
            let ifs = format!("{}/", ns.replacen("netns:", "if:", 1));
            Ctr { id, ns, ifs }
        };
        let (c_web, c_db) = (ctr(&web.name), ctr(&db.name));
        let short: String = net.id.chars().take(12).collect();
        let bridge = format!("if:{h}/host/br-{short}");
        assert!(ix.get(&bridge).is_some(), "{bridge} not in the graph");
        let base = serve(router(state.clone())).await;

        // ---- the JSON API ----
        let r = get(&base, "/api/ports", &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ports = r.json();
        let listed = ports["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["port"] == port && p["node"] == label.as_str())
            .unwrap_or_else(|| panic!("port {port} not listed: {ports:#}"));
        assert_eq!(listed["protocol"], "tcp");
        assert_eq!(listed["mode"], "bridge");
        assert_eq!(listed["target"], web.name.as_str());
        assert_eq!(listed["target_port"], 80);

        let ask = format!("/api/path?port={port}&protocol=tcp&node={}", enc(&h));
        let r = get(&base, &ask, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let tag = r.header("etag").expect("an ETag").to_owned();
        let inbound = r.json();
        assert_eq!(inbound["schema"], "dockmap.paths/1");
        assert_eq!(inbound["question"]["kind"], "port");
        let p = path_of_kind(&inbound, "bridge-port");
        assert_eq!(p["outcome"], "delivered", "{p:#}");
        assert!(
            evidence(p).iter().any(|t| t.contains(&rule)),
            "the DNAT rule {rule:?} is not quoted: {:#?}",
            evidence(p)
        );
        let els = hop_elements(&inbound);
        assert!(els.contains(&bridge), "{bridge} not a hop: {els:?}");
        let last = p["hops"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find_map(|x| x["element"].as_str())
            .unwrap();
        assert!(
            c_web.owns(last),
            "the path ends at {last}, not at {}",
            c_web.id
        );
        for e in &els {
            assert!(ix.get(e).is_some(), "hop element {e} is not in the graph");
        }
        for hop in p["hops"].as_array().unwrap() {
            if let Some(edge) = hop["edge"].as_str() {
                assert!(
                    inbound["edge_ends"][edge].is_array(),
                    "no ends for the hop edge {edge}"
                );
            }
        }
        let r = get(&base, &ask, &[("If-None-Match", &tag)]).await;
        assert_eq!(r.status, 304, "the same question on the same snapshot");

        let ew_ask = format!("/api/path?from={}&to={}", enc(&web.name), enc(&db.name));
        let r = get(&base, &ew_ask, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ew = r.json();
        let p = path_of_kind(&ew, "east-west");
        assert_eq!(p["outcome"], "delivered", "{p:#}");
        let hops: Vec<&str> = p["hops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["element"].as_str())
            .collect();
        assert!(hops.contains(&bridge.as_str()), "{hops:?}");
        assert!(c_web.owns(hops[0]), "starts at {}: {hops:?}", hops[0]);
        assert!(
            c_db.owns(hops[hops.len() - 1]),
            "ends at {}: {hops:?}",
            c_db.id
        );

        let r = get(&base, "/api/path/ends", &[]).await;
        assert_eq!(r.status, 200);
        let ends = r.json();
        assert!(
            ends["ends"].as_array().unwrap().iter().any(|e| e["name"]
                == web.name.as_str()
                && e["node"] == label.as_str()
                && e["ips"].as_array().unwrap().contains(&json!(ip_web))),
            "{ends:#}"
        );

        for (q, status, says) in [
            ("/api/path", 400, "missing port="),
            ("/api/path?port=http", 400, "port="),
            ("/api/path?port=80&protocol=icmp", 400, "protocol="),
            ("/api/path?from=x", 400, "to="),
            ("/api/path?port=80&snap=nope", 404, "saved"),
            ("/api/ports?snap=nope", 404, "saved"),
        ] {
            let r = get(&base, q, &[]).await;
            assert_eq!(r.status, status, "{q}: {}", r.text());
            let msg = r.json()["error"].as_str().unwrap_or("").to_owned();
            assert!(msg.contains(says), "{q}: {msg}");
        }

        // ---- the page ----
        let Some(br) = Browser::start().await else {
            return;
        };
        // The host starts folded: lighting the path up must unfold what hides its hops.
        br.open(&format!("{base}/?shut={}", enc(&format!("host:{h}"))))
            .await;
        let drawn = "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)";
        assert_eq!(
            br.js_with(drawn, vec![json!(bridge)]).await,
            json!(false),
            "the host should start folded"
        );
        br.client
            .find(Locator::Css("#paths summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let button = format!(
            "#path-ports button.pp-port[data-port=\"{port}\"][data-node=\"{}\"]",
            label.replace('"', "\\\"")
        );
        br.until_with(
            "return !!document.querySelector(arguments[0])",
            vec![json!(button)],
            20,
            "the published port in the Paths menu",
        )
        .await;
        shot(&br, "path-menu").await;
        br.client
            .find(Locator::Css(&button))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let n_hops: usize = inbound["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["hops"].as_array().unwrap().len())
            .sum();
        let lit = |answer: &Value| -> Value {
            let hidden: BTreeSet<&str> = answer["filtered"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x.as_str())
                .collect();
            json!(hop_elements(answer)
                .into_iter()
                .filter(|e| !hidden.contains(e.as_str()))
                .collect::<Vec<_>>())
        };
        let all_lit = "return arguments[0].every(id => document.querySelector(`#map [data-id=\"${CSS.escape(id)}\"]`)?.classList.contains('p-hop'))";
        br.until_with(
            all_lit,
            vec![lit(&inbound)],
            20,
            "every hop of the inbound path lit up on the drawing",
        )
        .await;
        br.until_with(
            "return document.querySelectorAll('#panel-body li.hop').length === arguments[0]",
            vec![json!(n_hops)],
            10,
            "the side panel to list every hop",
        )
        .await;
        assert_eq!(
            br.js("return document.getElementById('map').classList.contains('p-dim') && document.querySelectorAll('#map .e.p-on').length > 0").await,
            json!(true),
            "the path's edges lit and the rest dimmed"
        );
        assert_eq!(
            br.js_with(EDGES_UNLIT, vec![inbound["links"].clone()]).await,
            json!([]),
            "edges between hops not lit"
        );
        let not_lit = br
            .js_with(
                "return [...document.querySelectorAll('#map .leaves .n.p-hop')].map(g => g.dataset.id).filter(id => !arguments[0].includes(id))",
                vec![lit(&inbound)],
            )
            .await;
        assert_eq!(not_lit, json!([]), "elements lit that are not on the path");
        shot(&br, "path-inbound").await;
        let text = br.panel_text().await;
        assert!(text.contains(&rule), "the panel lacks the DNAT rule {rule:?}: {text}");
        let mono = br
            .js_with(
                "return [...document.querySelectorAll('#panel-body pre.ev-text')].some(p => p.textContent === arguments[0] || p.textContent.includes(arguments[0])) && getComputedStyle(document.querySelector('#panel-body pre.ev-text')).fontFamily.includes('mono')",
                vec![json!(rule)],
            )
            .await;
        assert_eq!(mono, json!(true), "the rule is shown verbatim in monospace");
        let want = format!("port:{port}/tcp@{label}");
        br.until_with(
            "return new URLSearchParams(location.search).get('path') === arguments[0]",
            vec![json!(want)],
            10,
            "the URL to keep the path",
        )
        .await;

        // A hop click centres its element.
        br.js_with(
            "document.querySelector(`#panel-body li.hop[data-el=\"${CSS.escape(arguments[0])}\"]`).click()",
            vec![json!(bridge)],
        )
        .await;
        br.until_with(
            "return document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)?.classList.contains('hit')",
            vec![json!(bridge)],
            10,
            "the clicked hop to be marked",
        )
        .await;
        let centred = br
            .js_with(
                "const r = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"] .sh`).getBoundingClientRect(); const s = document.getElementById('stage').getBoundingClientRect(); return r.left >= s.left && r.right <= s.right && r.top >= s.top && r.bottom <= s.bottom",
                vec![json!(bridge)],
            )
            .await;
        assert_eq!(centred, json!(true), "the clicked hop is on screen");

        // The link reopens the path.
        let link = br.client.current_url().await.unwrap().to_string();
        br.client.goto("about:blank").await.unwrap();
        br.open(&link).await;
        br.until_with(
            all_lit,
            vec![lit(&inbound)],
            20,
            "the reopened link to light the path up",
        )
        .await;
        br.until_panel_shows(&rule, 10, "the reopened link to list the hops")
            .await;

        // A refresh (a new snapshot generation): the path is asked again and stays lit.
        let gen = br
            .js("return window.dockmapPaths.shown().generation")
            .await;
        br.click_id("refresh").await;
        br.until_with(
            "return (window.dockmapPaths.shown()?.generation ?? 0) > arguments[0]",
            vec![gen],
            20,
            "the path to be asked again on the new snapshot",
        )
        .await;
        br.until_with(
            all_lit,
            vec![lit(&inbound)],
            10,
            "the path lit up on the new snapshot",
        )
        .await;

        // Two containers: the east-west path.
        br.client
            .find(Locator::Css("#paths summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for (input, value) in [("path-from", &web.name), ("path-to", &db.name)] {
            let f = br.client.find(Locator::Id(input)).await.unwrap();
            f.clear().await.unwrap();
            f.send_keys(value).await.unwrap();
        }
        br.click_id("path-go").await;
        br.until_with(
            all_lit,
            vec![lit(&ew)],
            20,
            "every hop of the east-west path lit up",
        )
        .await;
        br.until_with(
            "const p = new URLSearchParams(location.search); return p.get('from') === arguments[0] && p.get('to') === arguments[1] && !p.has('path')",
            vec![json!(web.name), json!(db.name)],
            10,
            "the URL to keep the two ends",
        )
        .await;
        assert_eq!(
            br.js_with(EDGES_UNLIT, vec![ew["links"].clone()]).await,
            json!([]),
            "edges between hops not lit"
        );
        let sandbox_lit = br
            .js_with(
                "return [...document.querySelectorAll('#map .e.p-on')].some(e => e.dataset.s === arguments[0] || e.dataset.t === arguments[0])",
                vec![json!(c_web.id)],
            )
            .await;
        assert_eq!(sandbox_lit, json!(true), "the edge from {} into its namespace is not lit", c_web.id);
        shot(&br, "path-east-west").await;
        let text = br.panel_text().await;
        assert!(text.contains("east-west"), "{text}");

        // Clear: nothing lit, nothing dimmed, the URL without the question.
        br.js("document.querySelector('#panel-body [data-path-act=clear]').click()")
            .await;
        br.until(
            "const p = new URLSearchParams(location.search); return !document.querySelector('#map .p-hop, #map .p-on, #map.p-dim') && !p.has('from') && !p.has('to') && !p.has('path')",
            10,
            "Clear path to put the drawing and the URL back",
        )
        .await;

        assert_eq!(br.js("return document.querySelectorAll('img').length").await, json!(0));
        assert!(br.client.get_alert_text().await.is_err(), "a script ran");
        let errors = br.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        br.close().await;
    });
    drop((web, db, net));
}
