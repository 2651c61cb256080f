//! How fast the live picture follows the node, and what following costs at rest.
//!
//!     sudo -E cargo bench --bench live
//!
//! Needs root and the test engine (tests/engine-up.sh). On the bench host (bench_host.rs: N
//! containers, most on one user-defined network) it runs the server's live state in this process
//! (`AppState::live`, as `dockmap serve` does) and, RUNS times, starts a container and removes it
//! again with the docker CLI, timing from the CLI's return to the moment the live picture holds
//! (then no longer holds) the container: p50 and p99. It also reports the size of each update as
//! `/api/live` sends it, how many collections the feed ran and published, and this process's
//! CPU time over a quiet minute (the cost of following an unchanged host: the slow resync only).
//! Then churn: one container started and one removed every second for DOCKMAP_BENCH_CHURN
//! seconds (default 60): CPU per second of churn, updates and their sizes, and this process's
//! resident memory before and after (flat means no growth).
//! Settings: DOCKMAP_BENCH_CONTAINERS (default 200), DOCKMAP_BENCH_RUNS (default 20),
//! DOCKMAP_BENCH_SECONDS (the quiet time, default 60), DOCKMAP_BENCH_CHURN, DOCKMAP_BENCH_KEEP=1.
//! Under `cargo test --all-targets` (no `--bench`) it only says how to run it.

#[path = "bench_host.rs"]
mod bench_host;
#[path = "../support/browser.rs"]
mod browser;
#[path = "../support/engine.rs"]
mod engine;
#[path = "measure.rs"]
mod measure;

use std::time::{Duration, Instant};

use bench_host::{ensure_containers, env_usize, remove_all};
use dockmap::collect::node::NodeOptions;
use dockmap::web::AppState;
use measure::{cpu_seconds, ms, pct, rss_mib};

/// Records in the page when each live update arrives (its own stream of `/api/live`) and when the
/// page has drawn it (`dockmap:live`).
const PAGE_RECORDER: &str = r#"
window.__live = { updates: [], drawn: [] };
const es = new EventSource('/api/live');
es.addEventListener('update', (e) => window.__live.updates.push([JSON.parse(e.data).generation, performance.now()]));
document.addEventListener('dockmap:live', (e) => window.__live.drawn.push([e.detail.generation, performance.now()]));
return true;
"#;

/// Clicks a drawn container and resolves with the milliseconds until its panel is filled and
/// painted (null when none is drawn or it takes over 5 s).
const SELECT_ONE: &str = r#"
const ids = [...document.querySelectorAll('#map .n[data-id^="ctr:"]')].map((g) => g.dataset.id);
if (!ids.length) return null;
const id = ids[Math.floor(Math.random() * ids.length)];
return new Promise((resolve) => {
  const t0 = performance.now();
  const on = (e) => {
    if (e.detail.id !== id) return;
    document.removeEventListener('dockmap:panel', on);
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  };
  document.addEventListener('dockmap:panel', on);
  setTimeout(() => resolve(null), 5000);
  const g = document.querySelector(`#map .n[data-id="${CSS.escape(id)}"]`);
  g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
});
"#;

async fn until(state: &AppState, id: &str, present: bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(cur) = state.current() {
            if cur.data.graph.elements.iter().any(|e| e.id == id) == present {
                return Instant::now();
            }
        }
        assert!(Instant::now() < deadline, "{id} never {present}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn main() {
    if !bench_host::ready("live") {
        return;
    }
    let n = env_usize("DOCKMAP_BENCH_CONTAINERS", 200);
    let runs = env_usize("DOCKMAP_BENCH_RUNS", 20).max(2);
    let quiet = env_usize("DOCKMAP_BENCH_SECONDS", 60);
    let churn = env_usize("DOCKMAP_BENCH_CHURN", 60);
    ensure_containers(n);
    let rt = engine::runtime();
    rt.block_on(async {
        let state = AppState::live(NodeOptions {
            docker: Some(engine::docker_host()),
            ..Default::default()
        });
        let mut updates = state.updates();
        let deadline = Instant::now() + Duration::from_secs(120);
        while state.current().is_none() {
            assert!(Instant::now() < deadline, "no first picture");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let key = dockmap::graph::ids::host_key(&state.current().unwrap().data.snapshots[0]);
        let elements = state.current().unwrap().data.graph.elements.len();
        println!("live: {n} bench containers, {elements} elements in the picture");

        let (mut shown, mut gone) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let name = format!("dmbench-live-{}-{i}", std::process::id());
            engine::docker(&[
                "run", "-d", "--name", &name, "--label", "dockmap-bench",
                "dockmap-test/busybox:latest", "sleep", "600",
            ]);
            let t0 = Instant::now();
            let id = format!("ctr:{key}/{name}");
            shown.push(until(&state, &id, true).await - t0);
            engine::docker(&["rm", "-f", &name]);
            let t1 = Instant::now();
            gone.push(until(&state, &id, false).await - t1);
        }
        let mut sizes = Vec::new();
        while let Ok(u) = updates.try_recv() {
            sizes.push(serde_json::to_vec(&*u).map(|b| b.len()).unwrap_or(0));
        }
        sizes.sort_unstable();
        println!(
            "live: docker run returned → container in the live picture: p50 {}, p99 {} ({runs} runs); \
             docker rm returned → gone: p50 {}, p99 {}",
            ms(pct(&mut shown, 0.5)),
            ms(pct(&mut shown, 0.99)),
            ms(pct(&mut gone, 0.5)),
            ms(pct(&mut gone, 0.99)),
        );
        if !sizes.is_empty() {
            println!(
                "live: {} updates to the page, /api/live event JSON median {} bytes, max {} bytes",
                sizes.len(),
                sizes[sizes.len() / 2],
                sizes[sizes.len() - 1]
            );
        }
        let c0 = cpu_seconds();
        let g0 = state.status().generation;
        tokio::time::sleep(Duration::from_secs(quiet as u64)).await;
        let used = cpu_seconds() - c0;
        println!(
            "live: quiet host for {quiet} s: {:.2} s CPU in all ({:.2} s per minute), generations {} → {}",
            used,
            used * 60.0 / quiet.max(1) as f64,
            g0,
            state.status().generation
        );

        // The page during churn (when chromium is here): it records when each update arrives
        // and when it is drawn, and is asked to select a container every few seconds.
        let url = browser::serve(dockmap::web::router(state.clone())).await;
        let page = browser::Browser::start().await;
        if let Some(b) = &page {
            b.open(&url).await;
            b.js(PAGE_RECORDER).await;
        }
        let mut selections: Vec<Duration> = Vec::new();
        // Resident memory at the end of each minute of churn: flat, or growing?
        let mut minutes: Vec<f64> = Vec::new();

        // Churn: one in, one out, every second; the oldest churned container goes first.
        let mut updates = state.updates();
        let (rss0, c0, g0) = (rss_mib(), cpu_seconds(), state.status().generation);
        let started = Instant::now();
        let mut alive: std::collections::VecDeque<String> = Default::default();
        for i in 0..churn {
            let name = format!("dmbench-churn-{}-{i}", std::process::id());
            engine::docker(&[
                "run", "-d", "--name", &name, "--label", "dockmap-bench",
                "dockmap-test/busybox:latest", "sleep", "600",
            ]);
            alive.push_back(name);
            if alive.len() > 1 {
                if let Some(old) = alive.pop_front() {
                    engine::docker(&["rm", "-f", &old]);
                }
            }
            if i % 60 == 59 {
                minutes.push(rss_mib());
            }
            if let (Some(b), 1) = (&page, i % 3) {
                if let Some(ms) = b.js(SELECT_ONE).await.as_f64() {
                    selections.push(Duration::from_secs_f64(ms / 1000.0));
                }
            }
            let next = started + Duration::from_secs(i as u64 + 1);
            tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
        }
        let took = started.elapsed().as_secs_f64();
        let used = cpu_seconds() - c0;
        let mut sizes = Vec::new();
        while let Ok(u) = updates.try_recv() {
            sizes.push(serde_json::to_vec(&*u).map(|b| b.len()).unwrap_or(0));
        }
        sizes.sort_unstable();
        println!(
            "live: churn of {churn} s (one container in, one out, per second): {:.2} s CPU per second of churn              (the server's state: collections, graphs, layouts' caches), {} generations, {} page updates              (median {} bytes), resident memory {:.1} → {:.1} MiB",
            used / took,
            state.status().generation - g0,
            sizes.len(),
            sizes.get(sizes.len() / 2).copied().unwrap_or(0),
            rss0,
            rss_mib()
        );
        if !minutes.is_empty() {
            let list: Vec<String> = minutes.iter().map(|m| format!("{m:.0}")).collect();
            println!("live: resident memory (MiB) at the end of each minute of churn: {}", list.join(", "));
        }
        if let Some(b) = page {
            let rec = b.js("return window.__live").await;
            let drawn: std::collections::HashMap<u64, f64> = rec["drawn"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| Some((d[0].as_u64()?, d[1].as_f64()?)))
                .collect();
            let arrived: Vec<(u64, f64)> = rec["updates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| Some((d[0].as_u64()?, d[1].as_f64()?)))
                .collect();
            let mut redraw: Vec<Duration> = arrived
                .iter()
                .filter_map(|(g, t)| drawn.get(g).map(|d| Duration::from_secs_f64((d - t).max(0.0) / 1000.0)))
                .collect();
            println!(
                "live: the page during churn: {} updates arrived, {} drawn (the rest folded into a later drawing); \
                 update → redrawn in place p50 {}, p99 {}; selecting a container (click → its panel filled) \
                 p50 {}, p99 {}, max {} ({} selections)",
                arrived.len(),
                redraw.len(),
                ms(pct(&mut redraw, 0.5)),
                ms(pct(&mut redraw, 0.99)),
                ms(pct(&mut selections, 0.5)),
                ms(pct(&mut selections, 0.99)),
                ms(selections.last().copied().unwrap_or_default()),
                selections.len()
            );
            b.close().await;
        }
        for name in alive {
            engine::docker(&["rm", "-f", &name]);
        }
    });
    if !std::env::var("DOCKMAP_BENCH_KEEP").is_ok_and(|v| v == "1") {
        remove_all();
    }
}
