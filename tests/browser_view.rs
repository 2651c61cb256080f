//! What a user does with the view, in a real browser (Debian's chromium via chromedriver), on
//! synthetic snapshots: filters, search by MAC / interface / service, wheel and drag, the status
//! bar's failed sources, folded services, the legend, filtered search hits, a saved snapshot's
//! URL and the whole label of a cut name.

use crate::support::browser;

use std::sync::Arc;

use browser::{get, serve, Browser};
use dockmap::graph::derive;
use dockmap::graph::{EdgeKind, ElementKind, Graph};
use dockmap::snapshot::{NodeSnapshot, SourceKind, SourceStatus};
use dockmap::store::Store;
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::store::StoreState;
use dockmap::web::{router, router_with_store, AppState};
use fantoccini::actions::{
    InputSource, MouseActions, PointerAction, WheelAction, WheelActions, MOUSE_BUTTON_LEFT,
};
use fantoccini::Locator;
use serde_json::{json, Value};

fn synthetic(hosts: usize, containers: usize) -> Vec<NodeSnapshot> {
    snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    })
}

fn graph_of(snaps: &[NodeSnapshot]) -> Graph {
    derive(&mut snaps.to_vec())
}

/// Serve these snapshots and start a browser on them; `None` when chromium is missing.
async fn page(snaps: Vec<NodeSnapshot>) -> Option<(Browser, String)> {
    let url = serve(router(AppState::fixed(snaps))).await;
    let b = Browser::start().await?;
    Some((b, url))
}

/// The first veth of node-00's host namespace, set down; its element id.
fn put_a_veth_down(snaps: &mut [NodeSnapshot]) -> String {
    let key = dockmap::graph::ids::host_key(&snaps[0]);
    let ns = snaps[0]
        .namespaces
        .iter_mut()
        .find(|n| n.name == "host")
        .expect("a host namespace");
    let link = ns
        .links
        .iter_mut()
        .filter(|l| l.kind == dockmap::snapshot::LinkKind::Veth)
        .min_by(|a, b| a.name.cmp(&b.name))
        .expect("a veth on the host");
    link.oper_state = "down".into();
    format!("if:{key}/host/{}", link.name)
}

const DRAWN: &str =
    "return !!document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)";

async fn is_drawn(b: &Browser, id: &str) -> bool {
    b.js_with(DRAWN, vec![json!(id)]).await == json!(true)
}

/// The filter tokens the page's URL holds.
const URL_HIDE: &str =
    "(new URLSearchParams(location.search).get('hide') ?? '').split(',').filter(Boolean)";

async fn click_filter(b: &Browser, token: &str) {
    b.js("document.getElementById('filters').open = true").await;
    b.client
        .find(Locator::Css(&format!("#hide input[name=\"{token}\"]")))
        .await
        .unwrap_or_else(|e| panic!("no filter {token}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn assert_no_console_errors(b: &Browser) {
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_hide_down_links_and_containers_and_the_url_keeps_them() {
    let mut snaps = synthetic(1, 8);
    let down = put_a_veth_down(&mut snaps);
    let Some((b, url)) = page(snaps).await else {
        return;
    };
    b.open(&url).await;
    // Drawn, and drawn as down, until the filter hides it.
    let class = b
        .js_with(
            "return document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)?.getAttribute('class')",
            vec![json!(down)],
        )
        .await;
    assert!(
        class.as_str().unwrap_or("").split(' ').any(|c| c == "down"),
        "{down}: {class}"
    );
    click_filter(&b, "down").await;
    b.until_with(
        "return !document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`)",
        vec![json!(down)],
        20,
        "the down link to disappear",
    )
    .await;
    b.until(
        &format!("return {URL_HIDE}.includes('down')"),
        10,
        "the URL to keep hide=down",
    )
    .await;
    let containers = "return document.querySelectorAll('#map .n.k-container').length";
    assert!(b.js(containers).await.as_u64().unwrap() >= 8);
    click_filter(&b, "container").await;
    b.until(
        &format!("{containers} === 0"),
        20,
        "the containers to disappear",
    )
    .await;
    b.until(
        &format!("const h = {URL_HIDE}; return h.includes('container') && h.includes('down')"),
        10,
        "the URL to keep both filters",
    )
    .await;
    // The link reopens the same filtered view, with its boxes ticked.
    let link = b.client.current_url().await.unwrap().to_string();
    b.client.goto("about:blank").await.unwrap();
    b.open(&link).await;
    assert_eq!(b.js(containers).await, json!(0), "reopened: {link}");
    assert!(!is_drawn(&b, &down).await, "reopened: {link}");
    let ticked = b
        .js("return [...document.querySelectorAll('#hide input:checked')].map(x => x.name).sort()")
        .await;
    assert_eq!(ticked, json!(["container", "down", "loopback"]));
    // And unticking brings them back.
    click_filter(&b, "container").await;
    b.until(
        &format!("{containers} >= 8"),
        20,
        "the containers to come back",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_selects_by_mac_by_interface_name_and_by_service_name() {
    let snaps = synthetic(1, 30);
    let g = graph_of(&snaps);
    // Two host-side veths: one found by its MAC, the other by its name.
    let mut veths: Vec<&dockmap::graph::Element> = g
        .elements
        .iter()
        .filter(|e| {
            e.kind == ElementKind::Interface
                && e.id.starts_with("if:node-00/host/")
                && e.attrs["type"] == "veth"
        })
        .collect();
    veths.sort_by(|a, b| a.id.cmp(&b.id));
    assert!(veths.len() >= 2);
    let (by_mac, by_name) = (veths[0], veths[veths.len() - 1]);
    let mac = by_mac.attrs["mac"].as_str().unwrap().to_owned();
    let svc = g
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Service && e.label == "svc-001")
        .expect("service svc-001");
    let Some((b, url)) = page(snaps.clone()).await else {
        return;
    };
    b.open(&url).await;
    let q = b.client.find(Locator::Id("q")).await.unwrap();

    b.search_enter(&mac.to_uppercase()).await;
    b.until_selected(&by_mac.id, 20, "the veth found by its MAC")
        .await;
    q.clear().await.unwrap();
    b.search_enter(&by_name.label).await;
    b.until_selected(&by_name.id, 20, "the veth found by its name")
        .await;
    q.clear().await.unwrap();
    b.search_enter("svc-001").await;
    b.until_selected(&svc.id, 20, "the service found by its name")
        .await;
    b.until(
        "return document.querySelector('#panel-body h2')?.textContent === 'svc-001'",
        10,
        "the panel to show the service",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

/// The world's transform, as `[x, y, k]`.
const TRANSFORM: &str = "const m = /translate\\(([-\\d.e]+)px, ([-\\d.e]+)px\\) scale\\(([-\\d.e]+)\\)/.exec(document.getElementById('world').style.transform); return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null";

fn xyk(v: &Value) -> (f64, f64, f64) {
    let a = v.as_array().unwrap_or_else(|| panic!("no transform: {v}"));
    (
        a[0].as_f64().unwrap(),
        a[1].as_f64().unwrap(),
        a[2].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wheel_zooms_a_drag_pans_and_the_url_keeps_the_view() {
    let Some((b, url)) = page(synthetic(1, 8)).await else {
        return;
    };
    b.open(&url).await;
    let stage = b
        .js("const r = document.getElementById('stage').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]")
        .await;
    let (cx, cy) = (stage[0].as_f64().unwrap(), stage[1].as_f64().unwrap());
    let (_, _, k0) = xyk(&b.js(TRANSFORM).await);

    let wheel = WheelActions::new("wheel".into()).then(WheelAction::Scroll {
        duration: None,
        x: cx as i64,
        y: cy as i64,
        delta_x: 0,
        delta_y: -400,
    });
    b.client.perform_actions(wheel).await.unwrap();
    b.until_with(
        &format!(
            "{}; return !!t && t[2] > arguments[0] * 1.2",
            TRANSFORM.replacen("return m ?", "const t = m ?", 1)
        ),
        vec![json!(k0)],
        10,
        "the wheel to zoom in",
    )
    .await;
    let (x1, y1, k1) = xyk(&b.js(TRANSFORM).await);

    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: cx,
            y: cy,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(std::time::Duration::from_millis(100)),
            x: 150.0,
            y: 70.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(drag).await.unwrap();
    let (x2, y2, k2) = xyk(&b.js(TRANSFORM).await);
    assert_eq!(k2, k1, "a drag does not zoom");
    assert!(
        (x2 - x1 - 150.0).abs() < 2.0 && (y2 - y1 - 70.0).abs() < 2.0,
        "the drag should move the picture with the pointer: ({x1}, {y1}) -> ({x2}, {y2})"
    );
    // A drag is not a click: nothing got selected.
    assert_eq!(
        b.js("return document.querySelector('#map .n.sel') === null")
            .await,
        json!(true)
    );
    b.until_with(
        "return new URLSearchParams(location.search).get('v') === arguments[0]",
        vec![json!(format!(
            "{},{},{}",
            x2.round(),
            y2.round(),
            (k2 * 10_000.0).round() / 10_000.0
        ))],
        10,
        "the URL to hold the view",
    )
    .await;
    let link = b.client.current_url().await.unwrap().to_string();
    b.client.goto("about:blank").await.unwrap();
    b.open(&link).await;
    let (x3, y3, k3) = xyk(&b.js(TRANSFORM).await);
    assert!(
        (x3 - x2).abs() < 1.0 && (y3 - y2).abs() < 1.0 && (k3 - k2).abs() < 1e-3,
        "reopened at ({x3}, {y3}, {k3}), left at ({x2}, {y2}, {k2})"
    );
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_bar_names_a_failed_source_and_the_snapshot_time() {
    let mut snaps = synthetic(1, 4);
    let why = "engine unreachable: connect /var/run/docker.sock: connection refused";
    snaps[0].sources.retain(|s| s.source != SourceKind::Engine);
    snaps[0]
        .sources
        .push(SourceStatus::error(SourceKind::Engine, None, why));
    let taken = snaps[0].taken_at.clone();
    let Some((b, url)) = page(snaps).await else {
        return;
    };
    b.open(&url).await;
    let check = "const t = document.getElementById('status-text').textContent; \
        const bad = [...document.querySelectorAll('#sources .src.error')].map(s => s.textContent); \
        return t.includes(arguments[0]) && bad.some(s => s.startsWith('engine error on node-00') && s.includes(arguments[1])) \
        && getComputedStyle(document.querySelector('#sources .src.error')).color !== getComputedStyle(document.getElementById('status-text')).color";
    b.until_with(
        check,
        vec![json!(taken), json!(why)],
        10,
        "the status bar to show the time and the failed engine (in the error colour)",
    )
    .await;
    // The same after the script redraws the status (a refresh).
    b.js("document.getElementById('sources').textContent = ''")
        .await;
    b.click_id("refresh").await;
    b.until_with(
        check,
        vec![json!(taken), json!(why)],
        20,
        "the status bar to say it again after a refresh",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_starts_with_its_tasks_folded_in_and_unfolds_on_its_toggle() {
    let snaps = synthetic(1, 30);
    let g = graph_of(&snaps);
    let svc = "svc:svc-000";
    let tasks: Vec<Value> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::HasTask && e.source == svc)
        .map(|e| json!(e.target))
        .collect();
    assert!(tasks.len() >= 2, "{tasks:?}");
    let Some((b, url)) = page(snaps).await else {
        return;
    };
    b.open(&url).await;
    let folded = b
        .js_with(
            "const g = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`); return !!g && g.classList.contains('folded') && !!g.querySelector('.stack') && !!g.querySelector('.tog[data-act=open]')",
            vec![json!(svc)],
        )
        .await;
    assert_eq!(folded, json!(true), "the service should start folded");
    let none_drawn = "return arguments[0].every(id => !document.querySelector(`#map [data-id=\"${CSS.escape(id)}\"]`))";
    assert_eq!(
        b.js_with(none_drawn, vec![Value::Array(tasks.clone())])
            .await,
        json!(true),
        "tasks drawn while folded"
    );
    b.js_with(
        "window.dockmap.center(arguments[0]); return true",
        vec![json!(svc)],
    )
    .await;
    b.client
        .find(Locator::Css(&format!(
            "[data-id=\"{svc}\"] .tog[data-act=open] rect"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until_with(
        "return arguments[0].every(id => !!document.querySelector(`#map [data-id=\"${CSS.escape(id)}\"]`))",
        vec![Value::Array(tasks)],
        20,
        "the service's tasks to be drawn",
    )
    .await;
    b.until(
        "return new URLSearchParams(location.search).getAll('open').includes('svc:svc-000')",
        10,
        "the URL to keep the unfolded service",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

/// Every drawn shape and edge class has a legend entry that looks the same. Modifiers (down,
/// stopped) are checked on their own: a down bridge is shown by the down veth's red dashes.
const LEGEND_GAPS: &str = r#"
const legend = document.querySelector('#legend svg');
const MODS = ['down', 'stopped'];
const base = (el) => [...el.classList].filter(c => !['n', 'box', 'sel', 'hl', 'folded', ...MODS].includes(c)).sort().join(' ');
const kind = (el) => [...el.classList].find(c => c.startsWith('k-'));
const look = (el, props) => { const cs = getComputedStyle(el); return props.map(p => cs.getPropertyValue(p)).join(' | '); };
const SHAPE = ['fill', 'stroke', 'stroke-dasharray'];
const entries = [...legend.querySelectorAll('.n')];
const gaps = [];
const seen = new Set();
for (const g of document.querySelectorAll('#map .n')) {
  const key = base(g) + ' ' + MODS.filter(m => g.classList.contains(m)).join(' ');
  if (seen.has(key)) continue;
  seen.add(key);
  const plain = entries.find(x => base(x) === base(g) && !MODS.some(m => x.classList.contains(m)));
  if (!plain) { gaps.push('no entry for ' + base(g)); continue; }
  const mods = MODS.filter(m => g.classList.contains(m));
  if (!mods.length && look(plain.querySelector('.sh'), SHAPE) !== look(g.querySelector('.sh'), SHAPE))
    gaps.push(`${base(g)} looks ${look(g.querySelector('.sh'), SHAPE)}, its entry ${look(plain.querySelector('.sh'), SHAPE)}`);
  for (const m of mods) {
    const e = entries.find(x => x.classList.contains(m) && kind(x) === kind(g));
    const props = ['stroke-dasharray', 'opacity'];
    if (!e) gaps.push(`no entry for ${kind(g)} ${m}`);
    else if (look(e.querySelector('.sh'), props) !== look(g.querySelector('.sh'), props))
      gaps.push(`${kind(g)} ${m} looks ${look(g.querySelector('.sh'), props)}, its entry ${look(e.querySelector('.sh'), props)}`);
  }
}
for (const e of document.querySelectorAll('#map .e')) {
  const k = kind(e);
  if (seen.has(k)) continue;
  seen.add(k);
  const l = legend.querySelector('.e.' + k);
  const props = ['stroke', 'stroke-dasharray'];
  if (!l) gaps.push('no entry for edge ' + k);
  else if (look(l, props) !== look(e, props)) gaps.push(`edge ${k} looks ${look(e, props)}, its entry ${look(l, props)}`);
}
if (document.querySelector('#map .stack') && !legend.querySelector('.n.folded .stack')) gaps.push('no entry for the folded marker');
return { gaps, kinds: [...seen].sort(), fill: look(legend.querySelector('.k-container .sh'), ['fill']) };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legend_holds_every_shape_and_edge_drawn_in_both_themes() {
    let mut snaps = synthetic(2, 30);
    put_a_veth_down(&mut snaps);
    let engine = snaps[0].engine.as_mut().unwrap();
    let web = engine
        .containers
        .iter_mut()
        .find(|c| c.name.contains("web-"))
        .unwrap();
    web.state = "exited".into();
    let Some((b, url)) = page(snaps).await else {
        return;
    };
    let mut kinds = std::collections::BTreeSet::new();
    let mut fills = Vec::new();
    // The default view (services folded, with their marker), then everything unfolded and shown.
    for (view, theme) in [
        ("/", "light"),
        ("/?open=*&hide=", "light"),
        ("/?open=*&hide=", "dark"),
    ] {
        b.open(&format!("{url}{view}")).await;
        let dark = b
            .js("return document.documentElement.classList.contains('dark')")
            .await
            == json!(true);
        if dark != (theme == "dark") {
            b.click_id("theme").await;
        }
        b.js("document.getElementById('legend').open = true").await;
        let r = b.js(LEGEND_GAPS).await;
        assert_eq!(r["gaps"], json!([]), "{view} in the {theme} theme: {r}");
        for k in r["kinds"].as_array().unwrap() {
            kinds.insert(k.as_str().unwrap().trim().to_owned());
        }
        fills.push(r["fill"].clone());
    }
    // The check saw what it is about: every kind, the modifiers, and a theme that changed colours.
    for want in [
        "k-task",
        "k-netns r-sandbox",
        "k-interface t-veth down",
        "k-container stopped",
        "k-sandbox",
        "k-has-task",
        "k-fdb",
        "k-runs",
    ] {
        assert!(kinds.contains(want), "{want} not drawn: {kinds:?}");
    }
    assert_ne!(
        fills[1], fills[2],
        "the dark theme should change the legend's colours"
    );
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_hit_hidden_by_a_filter_turns_the_filter_off_and_is_drawn() {
    let snaps = synthetic(1, 8);
    let g = graph_of(&snaps);
    let mut los: Vec<&str> = g
        .elements
        .iter()
        .filter(|e| {
            e.kind == ElementKind::Interface
                && e.label == "lo"
                && !e.id.starts_with("if:node-00/host/")
        })
        .map(|e| e.id.as_str())
        .collect();
    los.sort();
    let lo = los[0].to_owned();
    let Some((b, url)) = page(snaps.clone()).await else {
        return;
    };
    b.open(&url).await;
    // Loopbacks are hidden (the default filter).
    assert_eq!(
        b.js("return document.querySelector('#hide input[name=loopback]').checked")
            .await,
        json!(true)
    );
    assert!(!is_drawn(&b, &lo).await);
    b.client
        .find(Locator::Id("q"))
        .await
        .unwrap()
        .send_keys("lo")
        .await
        .unwrap();
    // The hit list says why it is not in the picture.
    b.until_with(
        "const li = [...document.querySelectorAll('#hits li')].find(x => x.title === arguments[0]); return !!li && (li.querySelector('.filtered')?.textContent ?? '').includes('hide loopbacks')",
        vec![json!(lo)],
        10,
        "the hit to say which filter hides it",
    )
    .await;
    b.client
        .find(Locator::Css(&format!("#hits li[title=\"{lo}\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until_selected(&lo, 20, "the loopback to be drawn and selected")
        .await;
    assert_eq!(
        b.js("return document.querySelector('#hide input[name=loopback]').checked")
            .await,
        json!(false),
        "the loopback filter should be off"
    );
    b.until(
        &format!("return !{URL_HIDE}.includes('loopback') && new URLSearchParams(location.search).has('hide')"),
        10,
        "the URL to drop the loopback filter",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_snapshot_opened_by_query_keeps_its_snap_in_the_url() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-bview-")
        .tempdir()
        .unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let saved_snaps = synthetic(1, 6);
    let saved = store
        .upload(
            &serde_json::to_vec(&saved_snaps[0]).unwrap(),
            1 << 24,
            "saved",
        )
        .unwrap();
    let id = saved.meta.id.clone();
    // The live state differs, so a page that lost `snap` would draw other things.
    let app = AppState::fixed(synthetic(1, 2));
    let url = serve(router_with_store(
        app.clone(),
        StoreState {
            app,
            store,
            upload_limit: 1 << 24,
        },
    ))
    .await;
    let Some(b) = Browser::start().await else {
        return;
    };
    // A container only the saved snapshot holds.
    let live = graph_of(&synthetic(1, 2));
    let g = graph_of(&saved_snaps);
    let ctr = g
        .elements
        .iter()
        .find(|e| e.kind == ElementKind::Container && !live.elements.iter().any(|l| l.id == e.id))
        .expect("a container the live state lacks")
        .id
        .clone();
    let ctr = ctr.as_str();
    b.open(&format!("{url}/?snap={id}")).await;
    b.click_element(ctr).await;
    b.until(
        "const p = new URLSearchParams(location.search); return p.has('sel') && p.has('v')",
        10,
        "the URL to hold the selection",
    )
    .await;
    let link = b.client.current_url().await.unwrap().to_string();
    assert!(link.contains(&format!("snap={id}")), "{link}");
    b.client.goto("about:blank").await.unwrap();
    b.open(&link).await;
    b.until_selected(ctr, 10, "the saved snapshot's container, selected again")
        .await;
    assert_eq!(b.js("return document.body.dataset.snap").await, json!(id));
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hovering_a_cut_label_shows_the_whole_name() {
    let snaps = synthetic(1, 30);
    let g = graph_of(&snaps);
    let Some((b, url)) = page(snaps).await else {
        return;
    };
    b.open(&url).await;
    let cut = b
        .js("return [...document.querySelectorAll('#map .leaves .n[data-id]')].find(g => g.querySelector(':scope > text')?.textContent.endsWith('…'))?.dataset.id ?? null")
        .await;
    let id = cut.as_str().expect("a label cut to fit").to_owned();
    let full = g
        .elements
        .iter()
        .find(|e| e.id == id)
        .unwrap()
        .label
        .clone();
    b.js_with(
        "window.dockmap.center(arguments[0]); document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"] > .sh`).dispatchEvent(new MouseEvent('mouseover', { bubbles: true })); return true",
        vec![json!(id)],
    )
    .await;
    b.until_with(
        "const g = document.querySelector(`#map [data-id=\"${CSS.escape(arguments[0])}\"]`); const h = document.getElementById('hover-label'); return h.textContent === arguments[1] && h.title === arguments[1] && g.querySelector(':scope > title')?.textContent === arguments[1]",
        vec![json!(id), json!(full)],
        10,
        "the whole label in the status bar and the tooltip",
    )
    .await;
    assert_no_console_errors(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_names_every_asset_with_its_current_version() {
    let url = serve(router(AppState::fixed(synthetic(1, 2)))).await;
    let html = get(&url, "/", &[]).await.text();
    let refs: Vec<&str> = html
        .split("\"/static/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(refs.len() >= 11, "{refs:?}");
    for r in refs {
        let (file, v) = r
            .split_once("?v=")
            .unwrap_or_else(|| panic!("{r} has no version"));
        assert_eq!(v, dockmap::web::assets::version(file), "{r}");
    }
}

/// Counts of the page's `/scene.svg` requests: how many arrived, how many were answered (or
/// dropped by the browser); `armed`: the next one is answered late.
#[derive(Default)]
struct SceneRequests {
    arrived: std::sync::atomic::AtomicUsize,
    ended: std::sync::atomic::AtomicUsize,
    armed: std::sync::atomic::AtomicBool,
}

/// Ends a scene request's count when its handling ends, also when the browser drops it.
struct Ended(Arc<SceneRequests>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0
            .ended
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The router, with the first `/scene.svg` request after arming answered only after `delay`: a
/// slow answer to an older view that arrives after the answer to a newer one.
fn a_scene_slow(
    router: axum::Router,
    delay: std::time::Duration,
) -> (axum::Router, Arc<SceneRequests>) {
    let seen = Arc::new(SceneRequests::default());
    let counts = seen.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counts = counts.clone();
            async move {
                if req.uri().path() != "/scene.svg" {
                    return next.run(req).await;
                }
                counts
                    .arrived
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ended = Ended(counts.clone());
                if counts
                    .armed
                    .swap(false, std::sync::atomic::Ordering::SeqCst)
                {
                    tokio::time::sleep(delay).await;
                }
                next.run(req).await
            }
        },
    ));
    (router, seen)
}

/// Records in the page when each `/scene.svg` fetch has settled (body read, or failed).
const WATCH_SCENE_FETCHES: &str = "window.sceneFetches = [];\n\
     const f = window.fetch;\n\
     window.fetch = (u, o) => {\n\
       const p = f(u, o);\n\
       if (String(u).includes('/scene.svg')) {\n\
         const rec = { settled: false };\n\
         window.sceneFetches.push(rec);\n\
         p.then((r) => r.clone().text()).catch(() => {}).finally(() => setTimeout(() => (rec.settled = true), 0));\n\
       }\n\
       return p;\n\
     };\n\
     return true;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_drawing_arriving_last_does_not_revert_the_view() {
    let snaps = synthetic(3, 90);
    let (app, seen) = a_scene_slow(
        router(AppState::fixed(snaps)),
        std::time::Duration::from_millis(2500),
    );
    let url = serve(app).await;
    // The two views differ: unfolding everything draws more than the default folding.
    let count = |svg: &str| svg.matches("class=\"n ").count();
    let all_n = count(&get(&url, "/scene.svg?open=%2A", &[]).await.text());
    let default_n = count(&get(&url, "/scene.svg", &[]).await.text());
    assert!(
        all_n != default_n && default_n > 0,
        "{all_n} vs {default_n}"
    );
    let seen_before = seen.arrived.load(std::sync::atomic::Ordering::SeqCst);
    let Some(b) = Browser::start().await else {
        return;
    };
    b.open(&url).await;
    let drawn = "return document.querySelectorAll('#map .n').length";
    let n0 = b.js(drawn).await;
    b.js(WATCH_SCENE_FETCHES).await;
    seen.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    // The slow answer is to "Unfold all"; "Default folding", asked after it, is answered first.
    b.click_id("unfold-all").await;
    let t = std::time::Instant::now();
    while seen.arrived.load(std::sync::atomic::Ordering::SeqCst) == seen_before {
        assert!(
            t.elapsed().as_secs() < 20,
            "the page never asked for the unfolded view"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    b.click_id("fold-default").await;
    b.until(
        "return window.sceneFetches.length === 2 && window.sceneFetches.every((r) => r.settled)",
        30,
        "both answers to reach the page",
    )
    .await;
    assert_eq!(
        seen.ended.load(std::sync::atomic::Ordering::SeqCst),
        seen_before + 2,
        "both requests ended"
    );
    // The page has handled both answers (their bodies were read a task ago): what it shows
    // and what its URL says must be the last view asked for.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(b.js(drawn).await, n0, "the default folding is drawn");
    b.until(
        "return new URLSearchParams(location.search).has('v')",
        10,
        "the URL to be written",
    )
    .await;
    let open = b
        .js("return new URLSearchParams(location.search).getAll('open')")
        .await;
    assert_eq!(open, json!([]), "the URL names the default folding");
    assert_no_console_errors(&b).await;
    b.close().await;
}
