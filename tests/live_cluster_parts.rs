//! The followed cluster keeps each node's part of the graph between installs (`graph::NodeParts`):
//! a change on one node rebuilds that node's part only. Here four fake agents on loopback serve
//! synthetic nodes through the real agent protocol (`/v1/events`, `/v1/snapshot`) to a server
//! following them (`AppState::gathering_live`); after each of a sequence of single-node changes
//! (an MTU, a container gone, a namespace gone, a hostname another node has) the installed graph
//! equals a fresh full build of the same snapshots, byte for byte as JSON. No root needed.

use crate::support::agents;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use dockmap::agent;
use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::graph::build_cluster;
use dockmap::snapshot::NodeSnapshot;
use dockmap::web::AppState;
use tokio::sync::watch;

/// One fake agent: its node's snapshot and generation.
struct Fake {
    snap: Mutex<NodeSnapshot>,
    generation: watch::Sender<u64>,
}

impl Fake {
    fn change(&self, f: impl FnOnce(&mut NodeSnapshot)) {
        f(&mut self.snap.lock().unwrap());
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn serve(fake: Arc<Fake>) -> String {
    let me = fake.clone();
    let snapshot = get(move || {
        let me = me.clone();
        async move {
            let body = serde_json::to_vec(&*me.snap.lock().unwrap()).unwrap();
            let generation = me.generation.borrow().to_string();
            (
                [
                    ("content-type".to_owned(), "application/json".to_owned()),
                    (agent::GENERATION_HEADER.to_owned(), generation),
                ],
                body,
            )
                .into_response()
        }
    });
    let me = fake.clone();
    let events = get(move || {
        let rx = me.generation.subscribe();
        async move { agents::generation_events(rx) }
    });
    let router = Router::new()
        .route(agent::SNAPSHOT_PATH, snapshot)
        .route(agent::EVENTS_PATH, events);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// The installed graph and a full build of the installed snapshots, as JSON.
fn installed_and_full(state: &AppState) -> (String, String) {
    let cur = state.current().unwrap();
    let mut cluster = cur.cluster();
    cluster.normalize();
    (
        serde_json::to_string(&cur.data.graph).unwrap(),
        serde_json::to_string(&build_cluster(&cluster)).unwrap(),
    )
}

/// Wait until the installed picture passes `shown`.
async fn until(state: &AppState, what: &str, shown: impl Fn(&dockmap::graph::Graph) -> bool) {
    let t0 = Instant::now();
    loop {
        if state.current().is_some_and(|c| shown(&c.data.graph)) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never shown: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_changes_installed_equal_a_full_build() {
    let snaps = dockmap::synthetic::snapshots(&dockmap::synthetic::SyntheticOptions {
        hosts: 4,
        containers: 24,
        hostile_names: false,
    });
    let mut fakes = Vec::new();
    let mut urls = Vec::new();
    for s in snaps {
        let f = Arc::new(Fake {
            snap: Mutex::new(s),
            generation: watch::channel(1).0,
        });
        urls.push(serve(f.clone()).await);
        fakes.push(f);
    }
    let gatherer = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(urls),
        deadline: Duration::from_secs(10),
        ..Default::default()
    })
    .unwrap();
    let state = AppState::gathering_live(gatherer);
    until(&state, "every node", |g| {
        g.elements
            .iter()
            .filter(|e| e.kind == dockmap::graph::ElementKind::Host)
            .count()
            == 4
    })
    .await;
    let (installed, full) = installed_and_full(&state);
    assert_eq!(installed, full, "the first install");

    for step in 0..8usize {
        let fake = &fakes[(step * 3) % fakes.len()];
        let before = state.current().unwrap().generation;
        let mark = format!("step-{step}");
        fake.change(|s| {
            match step % 4 {
                0 => s.namespaces[0].links[0].mtu = 1300 + step as u32,
                1 => {
                    if let Some(e) = s.engine.as_mut() {
                        if !e.containers.is_empty() {
                            e.containers.remove(0);
                        }
                    }
                }
                2 => {
                    if s.namespaces.len() > 2 {
                        s.namespaces.pop();
                    }
                }
                // Another node's hostname: both get new labels, so both parts are rebuilt.
                _ => s.node.hostname = "shared-name".into(),
            }
            // What the test waits for: the host element shows the new snapshot.
            s.node.kernel = mark.clone();
        });
        until(&state, &mark, |g| {
            g.elements
                .iter()
                .any(|e| e.attrs.get("kernel").and_then(|k| k.as_str()) == Some(mark.as_str()))
        })
        .await;
        assert!(state.current().unwrap().generation > before);
        let (installed, full) = installed_and_full(&state);
        assert_eq!(installed, full, "step {step}");
    }
}
