//! A live update drawn from a patch (`/scene.patch`) against the whole drawing (`/scene.svg`, as
//! the page fetched it before patches): bytes per update on the wire and the page's redraw time.
//!
//!     cargo bench --bench patch           # the synthetic swarms only
//!     sudo -E cargo bench --bench patch   # and the 200-container bench host on the test engine
//!
//! A page (headless chromium) follows the live state while updates are made one at a time, each
//! drawn before the next: one container more, then one less. Synthetic swarms (no root): the
//! 2,000-container swarm over 10 hosts and a 200-container host, served from a file that is
//! rewritten and re-read (`AppState::from_file`, `refresh`), so each update is a new generation.
//! The bench host (bench_host.rs, with root and the engine): 200 containers, the live state of
//! `dockmap serve` (`AppState::live`), updates by `docker run` / `docker rm -f`.
//! Each case runs twice: with patches (the page as it is), then with whole drawings (every
//! `/scene.patch` request answered as `/scene.svg` with `x-dockmap-patch: whole`, which the page
//! draws as it drew every update before). Per update, medians: the answer's bytes on the wire
//! (gzip, as the server sends to chromium) and decoded; the page's redraw (the answer received →
//! the frame after it is drawn); and the whole update (arrived on `/api/live` → that frame).
//! Settings: DOCKMAP_BENCH_UPDATES (default 12), DOCKMAP_BENCH_CONTAINERS (the host, default 200),
//! DOCKMAP_BENCH_DEBUG=1 (each update's requests and times, as the page saw them).

#[path = "bench_host.rs"]
mod bench_host;
#[path = "../support/browser.rs"]
mod browser;
#[path = "../support/engine.rs"]
mod engine;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_host::env_usize;
use browser::{serve, Browser};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::Value;

/// Records, for each drawn live update: its generation, when it arrived on the page's own
/// `/api/live` stream, when the drawing's answer was received, the frame after it was drawn,
/// and the answer's bytes (on the wire, decoded).
const RECORDER: &str = r#"
window.__rec = [];
const arrived = new Map();
const es = (window.__es = new EventSource('/api/live'));
es.addEventListener('update', (e) => arrived.set(JSON.parse(e.data).generation, performance.now()));
performance.clearResourceTimings();
document.addEventListener('dockmap:live', (e) => {
  const g = e.detail.generation;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const painted = performance.now();
    const all = performance.getEntriesByType('resource')
      .filter((x) => /\/scene\.(svg|patch)/.test(x.name));
    window.__names = (window.__names || []).concat([all.map((x) => x.name.replace(location.origin, '').replace(/open=host[^&]*&/g, '').slice(0, 80) + ' ' + x.decodedBodySize + ' ' + Math.round(x.startTime))]);
    const r = all.pop();
    performance.clearResourceTimings();
    window.__rec.push({ g, arrived: arrived.get(g), answered: r ? r.responseEnd : null, painted,
      wire: r ? r.encodedBodySize : null, decoded: r ? r.decodedBodySize : null });
  }));
});
return true;
"#;

/// Medians over one run's updates.
struct Figures {
    updates: usize,
    wire: f64,
    decoded: f64,
    redraw: f64,
    update: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn figures(rec: &Value) -> Figures {
    let list = rec.as_array().cloned().unwrap_or_default();
    let num = |r: &Value, k: &str| r[k].as_f64();
    let pick = |f: &dyn Fn(&Value) -> Option<f64>| median(list.iter().filter_map(f).collect());
    Figures {
        updates: list.len(),
        wire: pick(&|r| num(r, "wire")),
        decoded: pick(&|r| num(r, "decoded")),
        redraw: pick(&|r| Some(num(r, "painted")? - num(r, "answered")?)),
        update: pick(&|r| Some(num(r, "painted")? - num(r, "arrived")?)),
    }
}

/// The router, with `/scene.patch` answered as `/scene.svg` while `whole` is set.
fn switchable(router: axum::Router) -> (axum::Router, Arc<AtomicBool>) {
    let whole = Arc::new(AtomicBool::new(false));
    let w = whole.clone();
    // Around the whole router (a layer on it runs after routing, too late to reroute).
    let router = axum::Router::new()
        .fallback_service(router)
        .layer(axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                let w = w.clone();
                async move {
                    if !(w.load(Ordering::SeqCst) && req.uri().path() == "/scene.patch") {
                        return next.run(req).await;
                    }
                    let q = req.uri().query().unwrap_or("").to_owned();
                    if let Ok(u) = format!("/scene.svg?{q}").parse() {
                        *req.uri_mut() = u;
                    }
                    let mut r = next.run(req).await;
                    r.headers_mut().insert(
                        "x-dockmap-patch",
                        axum::http::HeaderValue::from_static("whole"),
                    );
                    r
                }
            },
        ));
    (router, whole)
}

/// One side of a case: the page opened on `view`, `updates` made by `step(i)`, each waited for
/// on the page. Served on a port of its own: chromium holds six connections per server, and
/// the live streams of the pages before could still hold theirs.
async fn run_side<F, Fut>(
    b: &Browser,
    router: &axum::Router,
    view: &str,
    updates: usize,
    step: &mut F,
) -> Figures
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let url = serve(router.clone()).await;
    b.open(&format!("{url}/?{view}")).await;
    b.until(
        "return !!document.querySelector('#map')",
        120,
        "the drawing",
    )
    .await;
    b.js(RECORDER).await;
    // A file re-read is not "live" in the status bar; the streams being open is what counts.
    b.until("return window.__es.readyState === 1", 60, "the live stream")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..updates {
        step(i).await;
        let want = i + 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        while b
            .js("return window.__rec.length")
            .await
            .as_u64()
            .unwrap_or(0)
            < want as u64
        {
            assert!(Instant::now() < deadline, "update {i} was never drawn");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    b.js("window.__es.close(); return true").await;
    if std::env::var_os("DOCKMAP_BENCH_DEBUG").is_some() {
        println!("{}", b.js("return window.__names").await);
        println!("{}", b.js("return window.__rec.map((r) => [r.g, Math.round(r.arrived), Math.round(r.answered), Math.round(r.painted)])").await);
    }
    figures(&b.js("return window.__rec").await)
}

fn kib(b: f64) -> String {
    format!("{:.1} KiB", b / 1024.0)
}

fn report(case: &str, view: &str, patch: &Figures, whole: &Figures) {
    println!(
        "patch: {case}, view {:?} ({} + {} updates):\n  \
         bytes on the wire per update: patch {} vs whole {} (ratio {:.4}); decoded {} vs {} ({:.4})\n  \
         page redraw (answer → drawn frame): patch {:.1} ms vs whole {:.1} ms (ratio {:.3})\n  \
         update (arrived → drawn frame): patch {:.1} ms vs whole {:.1} ms (ratio {:.3})",
        if view.is_empty() { "default" } else { view },
        patch.updates,
        whole.updates,
        kib(patch.wire),
        kib(whole.wire),
        patch.wire / whole.wire,
        kib(patch.decoded),
        kib(whole.decoded),
        patch.decoded / whole.decoded,
        patch.redraw,
        whole.redraw,
        patch.redraw / whole.redraw,
        patch.update,
        whole.update,
        patch.update / whole.update,
    );
}

/// A synthetic swarm of `containers` over `hosts`, made live by rewriting its file.
async fn synthetic(b: &Browser, hosts: usize, containers: usize, views: &[String], updates: usize) {
    let dir = std::env::temp_dir().join(format!("dockmap-bench-patch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("swarm.json");
    let write = |file: &Path, n: usize| {
        let snaps = snapshots(&SyntheticOptions {
            hosts,
            containers: n,
            hostile_names: false,
        });
        std::fs::write(file, serde_json::to_vec(&snaps).expect("json")).expect("write");
    };
    write(&file, containers);
    let state = AppState::from_file(&file).expect("the swarm's file");
    let (r, whole) = switchable(router(state.clone()));
    for view in views {
        let mut sides = Vec::new();
        for w in [false, true] {
            whole.store(w, Ordering::SeqCst);
            let mut step = |i: usize| {
                let (state, file) = (state.clone(), file.clone());
                let g = state.status().generation;
                async move {
                    write(&file, containers + (i + 1) % 2);
                    state.refresh();
                    while state.status().generation == g {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            };
            sides.push(run_side(b, &r, view, updates, &mut step).await);
        }
        report(
            &format!("synthetic, {containers} containers over {hosts} hosts"),
            view,
            &sides[0],
            &sides[1],
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bench host on the test engine, followed live.
async fn host(b: &Browser, containers: usize, views: &[String], updates: usize) {
    bench_host::ensure_containers(containers);
    let state = AppState::live(dockmap::collect::node::NodeOptions {
        docker: Some(engine::docker_host()),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while state.current().is_none() {
        assert!(Instant::now() < deadline, "no first picture");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (r, whole) = switchable(router(state.clone()));
    let name = format!("dmbench-patch-{}", std::process::id());
    for view in views {
        let mut sides = Vec::new();
        for w in [false, true] {
            whole.store(w, Ordering::SeqCst);
            let mut step = |i: usize| {
                let name = name.clone();
                async move {
                    if i.is_multiple_of(2) {
                        engine::docker(&[
                            "run",
                            "-d",
                            "--name",
                            &name,
                            "--label",
                            bench_host::LABEL,
                            "dockmap-test/busybox:latest",
                            "sleep",
                            "600",
                        ]);
                    } else {
                        engine::docker(&["rm", "-f", &name]);
                    }
                }
            };
            sides.push(run_side(b, &r, view, updates, &mut step).await);
            let _ = engine::try_docker(&["rm", "-f", &name]);
        }
        report(
            &format!("bench host, {containers} containers, live on the engine"),
            view,
            &sides[0],
            &sides[1],
        );
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("patch: run it with `cargo bench --bench patch` (the engine part needs root)");
        return;
    }
    let updates = env_usize("DOCKMAP_BENCH_UPDATES", 12).max(2);
    let on_host = env_usize("DOCKMAP_BENCH_CONTAINERS", 200);
    let rt = engine::runtime();
    rt.block_on(async {
        let Some(b) = Browser::start().await else {
            println!("patch: no chromium here");
            return;
        };
        let ten: String = (0..10)
            .map(|h| format!("open=host%3Anode-{h:02}"))
            .collect::<Vec<_>>()
            .join("&");
        synthetic(&b, 10, 2000, &[String::new(), ten], updates).await;
        synthetic(&b, 1, 200, &[String::new(), "open=*".into()], updates).await;
        let engine_here =
            unsafe { libc::geteuid() } == 0 && engine::try_docker(&["version"]).is_ok();
        if engine_here {
            engine::ensure_image();
            host(&b, on_host, &[String::new(), "open=*".into()], updates).await;
            if !std::env::var("DOCKMAP_BENCH_KEEP").is_ok_and(|v| v == "1") {
                bench_host::remove_all();
            }
        } else {
            println!("patch: the bench host part needs root and the test engine");
        }
        b.close().await;
    });
}
