//! A swarm of 100 nodes streaming changes to one server: does the live picture keep up?
//!
//!     cargo bench --bench live_scale
//!
//! No root needed. 100 fake agents on 127.0.0.1 speak the agent protocol (`/v1/events` change
//! stream with heartbeats, `/v1/snapshot` with its generation), each serving one node of a
//! synthetic swarm (`dockmap::synthetic`, 20 containers per node). One server follows them
//! (`AppState::gathering_live`, as `dockmap serve --agents URL,...`). A churner changes one
//! node at a time (an interface's MTU, which the picture shows), at two rates side by side:
//! for each it reports how many changes the picture showed, the delay from the agent's change
//! event to the page update naming it (p50, p99), updates installed per second, CPU seconds per
//! second of the whole process (server and fakes; the fakes only copy prepared bytes), and
//! resident memory.
//!
//! Last it times the parts of one install with one node changed, on the same swarm: the whole
//! graph built, the graph built keeping the unchanged nodes' parts (`graph::NodeParts`, as the
//! server does), the list of what changed, and freeing the replaced graph (after the rates, so
//! their resident memory is the server's alone).
//!
//! Settings: DOCKMAP_BENCH_NODES (100), DOCKMAP_BENCH_PER_NODE (20), DOCKMAP_BENCH_SECONDS (30 per
//! rate), DOCKMAP_BENCH_RATES (changes per second, default "5,20").

#[path = "../support/agents.rs"]
mod agents;
#[path = "measure.rs"]
mod measure;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::graph::{build_cluster, NodeParts};
use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use dockmap::web::AppState;
use measure::{cpu_seconds, ms, pct, rss_mib};
use tokio::sync::watch;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One fake agent: the node's snapshot as bytes, and its generation.
struct Fake {
    snap: Mutex<NodeSnapshot>,
    body: Mutex<Arc<Vec<u8>>>,
    generation: watch::Sender<u64>,
    /// The interface whose MTU the churner flips: (namespace as the graph names it, ifname).
    flipped: (String, String),
    /// That interface's element ID.
    id: String,
}

impl Fake {
    fn new(snap: NodeSnapshot, key: &str) -> Arc<Fake> {
        let names = dockmap::graph::namespace_names(&snap.namespaces);
        let flipped = snap
            .namespaces
            .iter()
            .find_map(|ns| {
                let link = ns.links.iter().find(|l| l.name == "eth0")?;
                Some((names.get(&ns.id)?.clone(), link.name.clone()))
            })
            .expect("a namespace with an eth0");
        let body = serde_json::to_vec(&snap).expect("serialize");
        let id = format!("if:{key}/{}/{}", flipped.0, flipped.1);
        Arc::new(Fake {
            id,
            snap: Mutex::new(snap),
            body: Mutex::new(Arc::new(body)),
            generation: watch::channel(1).0,
            flipped,
        })
    }

    /// Flip the MTU; the changed interface's element ID.
    fn change(&self) -> String {
        let mut snap = self.snap.lock().unwrap();
        let names = dockmap::graph::namespace_names(&snap.namespaces);
        for ns in &mut snap.namespaces {
            if names.get(&ns.id) == Some(&self.flipped.0) {
                for l in &mut ns.links {
                    if l.name == self.flipped.1 {
                        l.mtu = if l.mtu == 1450 { 1400 } else { 1450 };
                    }
                }
            }
        }
        *self.body.lock().unwrap() = Arc::new(serde_json::to_vec(&*snap).expect("serialize"));
        self.generation.send_modify(|g| *g += 1);
        self.id.clone()
    }

    fn router(self: &Arc<Self>) -> Router {
        let me = self.clone();
        let snapshot = get(move || {
            let me = me.clone();
            async move {
                let body = me.body.lock().unwrap().clone();
                let generation = *me.generation.borrow();
                (
                    [
                        (header::CONTENT_TYPE, "application/json".to_owned()),
                        (
                            header::HeaderName::from_static(dockmap::agent::GENERATION_HEADER),
                            generation.to_string(),
                        ),
                    ],
                    body.as_ref().clone(),
                )
                    .into_response()
            }
        });
        let me = self.clone();
        let events = get(move || {
            let rx = me.generation.subscribe();
            async move { agents::generation_events(rx) }
        });
        Router::new()
            .route(dockmap::agent::SNAPSHOT_PATH, snapshot)
            .route(dockmap::agent::EVENTS_PATH, events)
    }
}

/// Median time of `f` over `runs` runs.
fn median<T>(runs: usize, mut f: impl FnMut(usize) -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for i in 0..runs {
        let t = Instant::now();
        last = Some(f(i));
        times.push(t.elapsed());
    }
    (pct(&mut times, 0.5), last.expect("runs > 0"))
}

/// The parts of one install with one node changed (an MTU, as the churner does).
fn install_phases(snaps: &[NodeSnapshot], urls: &[String]) {
    let mut cluster = ClusterSnapshot::of_nodes(snaps.to_vec(), "bench");
    for (n, url) in cluster.nodes.iter_mut().zip(urls) {
        n.source = url.clone();
    }
    cluster.normalize();
    let (full, _) = median(5, |_| build_cluster(&cluster));
    let mut stamps: HashMap<String, u64> = HashMap::new();
    let mut parts = NodeParts::default();
    for (i, n) in cluster.nodes.iter().enumerate() {
        stamps.insert(n.source.clone(), i as u64);
    }
    let mut shown = parts.build(&cluster, |n| stamps.get(&n.source).copied());
    let (mut cached, mut listed, mut freed) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..7 {
        let at = (k * 13) % cluster.nodes.len();
        if let Some(s) = cluster.nodes[at].snapshot.as_mut() {
            let l = &mut s.namespaces[0].links[0];
            l.mtu = if l.mtu == 1400 { 1450 } else { 1400 };
        }
        stamps.insert(cluster.nodes[at].source.clone(), 1000 + k as u64);
        let t = Instant::now();
        let next = parts.build(&cluster, |n| stamps.get(&n.source).copied());
        cached.push(t.elapsed());
        let t = Instant::now();
        let (changes, _) = dockmap::live::changes::list(&shown, &next, 50);
        listed.push(t.elapsed());
        assert!(!changes.is_empty(), "the change is listed");
        let t = Instant::now();
        drop(std::mem::replace(&mut shown, next));
        freed.push(t.elapsed());
    }
    println!(
        "live_scale: one install, one node of {} changed: whole graph built in {}, with the other nodes' parts kept {}; \
         changes listed in {}; the replaced graph freed in {}",
        cluster.nodes.len(),
        ms(full),
        ms(pct(&mut cached, 0.5)),
        ms(pct(&mut listed, 0.5)),
        ms(pct(&mut freed, 0.5)),
    );
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("live_scale: run it with `cargo bench --bench live_scale` (no root needed)");
        return;
    }
    let nodes = env_usize("DOCKMAP_BENCH_NODES", 100).max(2);
    let per_node = env_usize("DOCKMAP_BENCH_PER_NODE", 20).max(1);
    let seconds = env_usize("DOCKMAP_BENCH_SECONDS", 30).max(5);
    let rates: Vec<usize> = std::env::var("DOCKMAP_BENCH_RATES")
        .unwrap_or_else(|_| "5,20".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let snaps = snapshots(&SyntheticOptions {
            hosts: nodes,
            containers: nodes * per_node,
            hostile_names: false,
        });
        let refs: Vec<&NodeSnapshot> = snaps.iter().collect();
        let names = dockmap::graph::nodes::NodeNames::new(&refs);
        let keys: Vec<String> = snaps.iter().map(|s| names.key(s).to_owned()).collect();
        let fakes: Vec<Arc<Fake>> = snaps.into_iter().zip(&keys).map(|(s, k)| Fake::new(s, k)).collect();
        let mut urls = Vec::new();
        for f in &fakes {
            urls.push(serve(f.router()).await);
        }
        let gatherer = Gatherer::new(ClusterOptions {
            agents: AgentList::Urls(urls.clone()),
            deadline: Duration::from_secs(10),
            ..Default::default()
        })
        .expect("gatherer");
        let t0 = Instant::now();
        let state = AppState::gathering_live(gatherer);
        let mut updates = state.updates();
        loop {
            let all = state.current().is_some_and(|c| c.data.snapshots.len() == nodes);
            if all {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "the server never showed every node");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elements = state.current().map_or(0, |c| c.data.graph.elements.len());
        println!(
            "live_scale: {nodes} agents, {} containers, {elements} elements: every node shown {} after start",
            nodes * per_node,
            ms(t0.elapsed())
        );
        // Let the first installs settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        while updates.try_recv().is_ok() {}

        for rate in rates {
            let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
            let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
            let installs = Arc::new(Mutex::new(0usize));
            let mut rx = state.updates();
            let listener = {
                let (pending, seen, installs) = (pending.clone(), seen.clone(), installs.clone());
                tokio::spawn(async move {
                    while let Ok(u) = rx.recv().await {
                        *installs.lock().unwrap() += 1;
                        let now = Instant::now();
                        let mut p = pending.lock().unwrap();
                        for c in &u.changes {
                            if let Some(t) = p.remove(&c.id) {
                                seen.lock().unwrap().push(now - t);
                            }
                        }
                    }
                })
            };
            let (cpu0, rss0) = (cpu_seconds(), rss_mib());
            let started = Instant::now();
            let mut sent = 0usize;
            let every = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            while started.elapsed() < Duration::from_secs(seconds as u64) {
                let f = &fakes[sent % nodes];
                // A node changed again before the picture showed its last change counts once.
                let key = f.change();
                pending.lock().unwrap().entry(key).or_insert_with(Instant::now);
                sent += 1;
                let next = started + every * sent as u32;
                tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
            }
            // The last changes get the time the picture needs to show them.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let took = started.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            listener.abort();
            let mut lat = seen.lock().unwrap().clone();
            let missed = pending.lock().unwrap().len();
            let installs = *installs.lock().unwrap();
            println!(
                "live_scale: {rate} changes/s for {seconds} s ({sent} sent): {} shown, {missed} never shown; \
                 change → page update p50 {}, p99 {}; {:.1} updates installed/s; {:.2} s CPU per second; \
                 resident memory {:.0} → {:.0} MiB",
                lat.len(),
                ms(pct(&mut lat, 0.5)),
                ms(pct(&mut lat, 0.99)),
                installs as f64 / took,
                cpu / took,
                rss0,
                rss_mib()
            );
        }
        let snaps: Vec<NodeSnapshot> = fakes.iter().map(|f| f.snap.lock().unwrap().clone()).collect();
        install_phases(&snaps, &urls);
    });
}
