//! Browser benchmark: `cargo bench --bench browser` (optionally `-- 2000 500 10000/50` for the
//! sizes: containers, or containers/hosts; 10 hosts unless said).
//!
//! Serves a synthetic swarm (N containers over H hosts) through `dockmap::web::router` and
//! measures, in headless Chromium driven through chromedriver:
//! - time to first drawing: navigation start to the frame after the page's script has set up
//!   the inline SVG (`window.dockmapDrawn`), and first contentful paint for reference;
//! - time to select an element and show its panel: a click on a drawn container to the frame
//!   after the side panel holds its details (fetched from `/api/element`);
//!
//! for three views: the default (hosts folded at this size), every host unfolded (containers
//! drawn, their namespaces folded into them) and everything unfolded. It also measures
//! `GET /api/graph`: server time (cold: layout + JSON; warm: cached layout) and size (raw and gzip).
//! Figures are printed; nothing is asserted (machines are noisy).
//!
//! `DOCKMAP_BENCH_VIEWS=3` measures only the third view (comma-separated, 1-based);
//! `DOCKMAP_BENCH_SERVE=1` only serves the first size's swarm until killed, to trace a page by hand
//! (e.g. `chromium --trace-startup=... --trace-startup-format=json URL/?open=*`).

#[path = "../support/browser.rs"]
mod browser;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use browser::{serve, Browser};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::{router, AppState};
use serde_json::{json, Value};

/// Hosts of a size that names none.
const HOSTS: usize = 10;
const SELECTIONS: usize = 7;

/// One GET over a fresh connection: (seconds, status line, body bytes as sent on the wire).
fn get(base: &str, path: &str, gzip: bool) -> (f64, String, usize) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let enc = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    let t = Instant::now();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{enc}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let secs = t.elapsed().as_secs_f64();
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = &buf[head_end..];
    let mut size = body.len();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // Count payload bytes only.
        size = 0;
        while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16)
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            size += n;
            body = &body[(eol + 2 + n + 2).min(body.len())..];
        }
    }
    (secs, head.lines().next().unwrap_or("").to_owned(), size)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn page_metrics(b: &Browser, url: &str) -> (f64, f64, usize) {
    b.client.goto("about:blank").await.expect("blank");
    b.open(url).await;
    b.until(
        "return typeof window.dockmapDrawn === 'number'",
        120,
        "the first drawing",
    )
    .await;
    let m = b
        .js(
            "const p = performance.getEntriesByName('first-contentful-paint')[0];\n\
             return [window.dockmapDrawn, p ? p.startTime : -1, document.querySelectorAll('#map .n').length];",
        )
        .await;
    (
        m[0].as_f64().unwrap_or(-1.0),
        m[1].as_f64().unwrap_or(-1.0),
        m[2].as_u64().unwrap_or(0) as usize,
    )
}

/// Median ms from a click on a drawn element to the frame after its panel is filled.
async fn selection_ms(b: &Browser, kind_selector: &str) -> Option<f64> {
    let ids = b
        .js_with(
            "return [...document.querySelectorAll(arguments[0])].map(g => g.dataset.id);",
            vec![json!(kind_selector)],
        )
        .await;
    let ids: Vec<String> = ids
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if ids.is_empty() {
        return None;
    }
    let step = (ids.len() / SELECTIONS).max(1);
    let mut times = Vec::new();
    for id in ids.iter().step_by(step).take(SELECTIONS) {
        let answer = b
            .client
            .execute_async(
                "const [id, done] = arguments;\n\
                 const g = document.querySelector(`#map [data-id=\"${CSS.escape(id)}\"]`);\n\
                 const t0 = performance.now();\n\
                 document.addEventListener('dockmap:panel', () =>\n\
                   requestAnimationFrame(() => done(performance.now() - t0)), { once: true });\n\
                 g.querySelector('.sh').dispatchEvent(new MouseEvent('click', { bubbles: true }));",
                vec![json!(id)],
            )
            .await;
        // A selection that never shows its panel is a figure too, not the end of the run.
        match answer {
            Ok(v) => times.push(v.as_f64().unwrap_or(-1.0)),
            Err(e) => {
                println!("  selecting {id}: no panel ({e})");
                return None;
            }
        }
    }
    if std::env::var_os("DOCKMAP_BENCH_DETAIL").is_some() {
        let fetches = b
            .js("return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/element')).slice(-5).map(e => [Math.round(e.duration), Math.round(e.responseStart - e.requestStart)])")
            .await;
        println!("  selections {times:?}; /api/element [total, server] ms: {fetches}");
    }
    Some(median(times))
}

async fn run(containers: usize, hosts: usize) {
    let snaps = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    let t = Instant::now();
    let state = AppState::fixed(snaps);
    let derive_ms = t.elapsed().as_secs_f64() * 1e3;
    let base = serve(router(state)).await;
    if std::env::var_os("DOCKMAP_BENCH_SERVE").is_some() {
        // For tracing by hand: serve the synthetic swarm until killed.
        println!("serving {containers} containers at {base}");
        std::future::pending::<()>().await;
    }
    let b2 = base.clone();
    let (cold, warm, gz) = tokio::task::spawn_blocking(move || {
        let cold = get(&b2, "/api/graph", false);
        let warm = get(&b2, "/api/graph", false);
        let gz = get(&b2, "/api/graph", true);
        (cold, warm, gz)
    })
    .await
    .expect("graph requests");
    assert!(cold.1.contains("200"), "{}", cold.1);
    println!("== {containers} containers over {hosts} hosts ==");
    println!("snapshot → graph (normalize + build): {derive_ms:.0} ms");
    println!(
        "GET /api/graph: cold {:.0} ms, warm {:.0} ms; {:.1} MB raw, {:.2} MB gzip ({:.0} ms)",
        cold.0 * 1e3,
        warm.0 * 1e3,
        cold.2 as f64 / 1e6,
        gz.2 as f64 / 1e6,
        gz.0 * 1e3
    );

    let Some(b) = Browser::start().await else {
        return;
    };
    let all_hosts: String = (0..hosts)
        .map(|h| format!("open=host%3Anode-{h:02}"))
        .collect::<Vec<_>>()
        .join("&");
    let views = [
        ("default (hosts folded)", String::new(), ".k-service"),
        ("all hosts unfolded", all_hosts, ".k-container"),
        ("everything unfolded", "open=*".to_owned(), ".k-container"),
    ];
    // DOCKMAP_BENCH_VIEWS=3: only the third view (comma-separated, 1-based).
    let only: Vec<usize> = std::env::var("DOCKMAP_BENCH_VIEWS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    for (i, (name, q, pick)) in views.into_iter().enumerate() {
        if !only.is_empty() && !only.contains(&(i + 1)) {
            continue;
        }
        let path = if q.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{q}")
        };
        let b3 = base.clone();
        let p3 = path.clone();
        let (_, _, html_bytes) = tokio::task::spawn_blocking(move || get(&b3, &p3, false))
            .await
            .unwrap();
        // Cold first (the layout is computed during navigation), then warm.
        let url = format!("{base}{path}");
        let mut drawn = Vec::new();
        let mut fcp = Vec::new();
        let mut nodes = 0;
        for _ in 0..3 {
            let (d, f, n) = page_metrics(&b, &url).await;
            drawn.push(d);
            fcp.push(f);
            nodes = n;
        }
        let sel = selection_ms(&b, &format!("#map .n{pick}")).await;
        println!(
            "{name:24} {nodes:6} nodes, page {:5.1} MB: first drawing cold {:6.0} ms, warm {:6.0} ms (FCP {:5.0} ms); select + panel {}",
            html_bytes as f64 / 1e6,
            drawn[0],
            median(drawn[1..].to_vec()),
            median(fcp[1..].to_vec()),
            sel.map_or("n/a".to_owned(), |s| format!("{s:.0} ms")),
        );
    }
    let errors = b.console_errors().await;
    if !errors.is_empty() {
        println!("console errors: {errors:?}");
    }
    b.close().await;
    let _: Value = json!(null);
}

fn main() {
    let sizes: Vec<(usize, usize)> = std::env::args()
        .skip(1)
        .filter_map(|a| match a.split_once('/') {
            Some((c, h)) => Some((c.parse().ok()?, h.parse().ok()?)),
            None => Some((a.parse().ok()?, HOSTS)),
        })
        .collect();
    let sizes = if sizes.is_empty() {
        vec![(2000, HOSTS), (500, HOSTS)]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for (n, h) in sizes {
            run(n, h).await;
        }
    });
}
