//! Two nodes of the real swarm lab side by side: a plain container started on node1 only is
//! listed and marked as present on the left only (with its sandbox and its veth), a gap at
//! the same place on the right; the overlay network both nodes carry sits at the same place in
//! both panes; one pan or zoom moves both. Needs root, docker.io, chromium + chromedriver.

use crate::support::swarm;

use crate::support::browser;

use std::time::Instant;

use dockmap::snapshot::NodeSnapshot;
use dockmap::web::{router, AppState};
use serde_json::{json, Value};

use swarm::SwarmLab;

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
/// The image the lab imported into every engine.
const LAB_IMAGE: &str = "dockmap-lab/busybox:latest";

fn q(id: &str) -> String {
    // For `[data-id="…"]` selectors in the page's own CSS.escape.
    id.to_owned()
}

#[test]
fn a_container_only_node1_runs_shows_as_left_only_beside_node2() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let started = Instant::now();
    let lab = SwarmLab::up(3);
    lab.deploy();
    let name = format!("dmt{}-only1", std::process::id());
    lab.node(1).docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        swarm::ATTACHABLE,
        "--stop-timeout",
        "1",
        LAB_IMAGE,
        "sleep",
        "3600",
    ]);
    // Node2's tunnel learns the new container's MAC by gossip, a moment after `docker run`
    // returns: the comparison below is about what it knows, so wait for it (up to 30 s).
    let attach_id = lab
        .node(1)
        .docker(&[
            "network",
            "inspect",
            "--format",
            "{{.Id}}",
            swarm::ATTACHABLE,
        ])
        .trim()
        .to_owned();
    let run_mac = lab
        .node(1)
        .docker(&[
            "inspect",
            "--format",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").MacAddress}}}}",
                swarm::ATTACHABLE
            ),
            &name,
        ])
        .trim()
        .to_owned();
    let overlay_sandbox = format!("1-{}", &attach_id[..10]);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while !lab
        .node(2)
        .in_sandbox(
            &overlay_sandbox,
            &["bridge", "fdb", "show", "dev", "vxlan0"],
        )
        .contains(&run_mac)
    {
        assert!(
            Instant::now() < deadline,
            "node2's vxlan0 never learned {run_mac}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let snaps: Vec<NodeSnapshot> = lab.nodes().iter().map(|n| n.snapshot(BIN)).collect();
    // The container's MAC on the overlay, as node1's engine reports it.
    let mac = snaps[0]
        .engine
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.endpoints.first())
        .map(|e| e.mac.clone())
        .expect("the container's endpoint in node1's snapshot");
    let node1_addr = lab.node(1).underlay_addr().to_string();
    println!("lab up and snapshotted in {:?}", started.elapsed());

    let ctr = format!("ctr:*/{name}");
    let sandbox = format!("netns:*/@{name}");
    let net = format!("net:{}", swarm::ATTACHABLE);
    let overlay_ns = format!("netns:*/1-{}", &attach_id[..10]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = browser::serve(router(AppState::fixed(snaps))).await;

        // The API lists the container, its sandbox and its veth as node1's only.
        let base = url.clone();
        let api = tokio::task::spawn_blocking(move || {
            browser::request(&base, "GET", "/api/compare?left=node1&right=node2", &[])
        })
        .await
        .unwrap();
        assert_eq!(api.status, 200, "{}", api.text());
        let report = api.json();
        let diffs = report["differences"].as_array().unwrap();
        let listed = |key: &str| diffs.iter().find(|d| d["key"] == key).cloned();
        let d = listed(&ctr).unwrap_or_else(|| panic!("{ctr} not listed: {report}"));
        assert_eq!(d["presence"], "left");
        assert_eq!(d["left_id"], json!(format!("ctr:{}/{name}", lab.node(1).key())));
        assert_eq!(listed(&sandbox).expect("its sandbox listed")["presence"], "left");
        assert!(
            diffs.iter().any(|d| d["presence"] == "left"
                && d["key"].as_str().unwrap_or("").starts_with(&format!("if:*/@{name}/"))),
            "its interfaces listed: {report}"
        );
        assert!(
            diffs
                .iter()
                .any(|d| d["presence"] == "left" && d["key"].as_str().unwrap_or("").contains(&format!("veth>*/@{name}/"))),
            "its veth's other end listed: {report}"
        );
        assert!(listed(&net).is_none_or(|d| d["presence"] == "both"), "the overlay is on both: {report}");
        // node2's tunnel knows the container's MAC behind node1; node1's own FDB does not list it.
        let vxlan = format!("if:*/1-{}/vxlan0", &attach_id[..10]);
        let fdb = diffs
            .iter()
            .find(|d| d["key"] == vxlan.as_str() && d["what"].as_str().unwrap_or("").starts_with("FDB entries differ"))
            .unwrap_or_else(|| panic!("no FDB difference on {vxlan}: {report}"));
        let want = format!("> {mac} dst {node1_addr}");
        assert!(
            fdb["details"].as_array().unwrap().iter().any(|x| x == want.as_str()),
            "{want:?} not among {}",
            fdb["details"]
        );

        let Some(b) = browser::Browser::start().await else { return };
        b.open(&format!("{url}/compare?left=node1&right=node2")).await;
        // Listed on the page, as node1's only.
        let li = b
            .js_with(
                "const li = [...document.querySelectorAll('#diff-list li')].find(l => l.dataset.key === arguments[0]); return li ? [li.dataset.presence, li.textContent] : null",
                vec![json!(ctr)],
            )
            .await;
        assert_eq!(li[0], json!("left"), "{li}");
        assert!(li[1].as_str().unwrap().contains("only on node1"), "{li}");
        // Marked on the left, a gap at the same place on the right.
        let marks = b
            .js_with(
                "const f = (p) => { const g = document.querySelector(`#map-${p} [data-id=\"${CSS.escape(arguments[0])}\"]`); if (!g) return null; const b = g.querySelector('.sh').getBBox(); return [g.getAttribute('class'), b.x, b.y, b.width, b.height, g.textContent]; }; return [f('left'), f('right')]",
                vec![json!(q(&ctr))],
            )
            .await;
        let (l, r) = (&marks[0], &marks[1]);
        assert!(l[0].as_str().unwrap().contains("cmp-only"), "{marks}");
        assert!(l[5].as_str().unwrap().contains(&name), "{marks}");
        assert!(r[0].as_str().unwrap().contains("cmp-gap"), "{marks}");
        assert_eq!(r[5], json!(""), "a gap says nothing: {marks}");
        assert_eq!(l.as_array().unwrap()[1..5], r.as_array().unwrap()[1..5], "the gap is where the container is");
        // The overlay both nodes carry, and its namespace, at the same place in both panes.
        for key in [&net, &overlay_ns] {
            let at = b
                .js_with(
                    "const f = (p) => { const g = document.querySelector(`#map-${p} [data-id=\"${CSS.escape(arguments[0])}\"]`); if (!g) return null; const b = g.querySelector('.sh').getBBox(); return [g.getAttribute('class').includes('cmp-gap'), b.x, b.y, b.width, b.height]; }; return [f('left'), f('right')]",
                    vec![json!(key)],
                )
                .await;
            assert!(at[0].is_array() && at[1].is_array(), "{key} drawn in both panes: {at}");
            assert_eq!(at[0], at[1], "{key} at the same place in both panes");
            assert_eq!(at[0][0], json!(false), "{key} is no gap");
        }
        // One zoom moves both panes.
        let before = b.js("return [document.getElementById('world-left').style.transform, document.getElementById('world-right').style.transform]").await;
        b.js("const s = document.getElementById('stage-left'); const r = s.getBoundingClientRect(); s.dispatchEvent(new WheelEvent('wheel', { deltaY: -300, clientX: r.left + 100, clientY: r.top + 100, bubbles: true, cancelable: true })); return true").await;
        let after = b.js("return [document.getElementById('world-left').style.transform, document.getElementById('world-right').style.transform]").await;
        assert_ne!(before[0], after[0], "the wheel zoomed the left pane");
        assert_eq!(after[0], after[1], "both panes moved together");
        // A click on a listed difference marks it in both panes.
        b.js_with(
            "[...document.querySelectorAll('#diff-list li')].find(l => l.dataset.key === arguments[0]).click(); return true",
            vec![json!(ctr)],
        )
        .await;
        let focused: Value = b
            .js("return [...document.querySelectorAll('.cmp-focus')].map(g => g.closest('svg').id)")
            .await;
        assert_eq!(focused, json!(["map-left", "map-right"]));
        let shot = std::env::temp_dir().join("dockmap-swarm-compare.png");
        b.screenshot(&shot).await;
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.close().await;
    });
    lab.down().unwrap();
    let left = swarm::leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    println!("swarm_compare took {:?}", started.elapsed());
}
