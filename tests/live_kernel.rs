//! Live with the engine down: the status says the engine's events are not followed, and the
//! kernel still is. In namespaces this test makes, a veth pair, an MTU, a new namespace and a
//! deleted one each reach the live picture by themselves, which then equals a fresh collection.

use crate::support::netlab;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockmap::collect::node::{self, NodeOptions};
use dockmap::graph::{self, Graph};
use dockmap::web::AppState;

const WAIT: Duration = Duration::from_secs(30);

async fn until(state: &AppState, what: &str, ready: impl Fn(&Graph) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        if state.current().is_some_and(|c| ready(&c.data.graph)) {
            return;
        }
        assert!(Instant::now() < deadline, "never live: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn equals_fresh(state: &AppState, opts: &NodeOptions, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let fresh = graph::build(&[node::collect(opts).await]);
        let live = state.current().expect("live").data.graph.clone();
        if !dockmap::live::differ(&live, &fresh) {
            return;
        }
        let (changes, _) = dockmap::live::changes::list(&live, &fresh, 10);
        assert!(
            Instant::now() < deadline,
            "{what}: live differs from fresh: {changes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn has(g: &Graph, id: &str) -> bool {
    g.elements.iter().any(|e| e.id == id)
}

#[test]
fn with_the_engine_down_the_kernel_is_still_followed_and_the_status_says_why() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = netlab::Lab::new();
    let a = lab.netns("a");
    let b = lab.netns("b");
    let cache = tempfile::tempdir().expect("temp dir");
    let opts = NodeOptions {
        docker: Some("unix:///nonexistent/dockmap-test-engine.sock".into()),
        netns_dirs: vec![PathBuf::from("/run/netns")],
        rule_cache: Some(cache.path().join("rules.json")),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let state = AppState::live(opts.clone());
        until(&state, "a first picture", |_| true).await;
        let key = graph::ids::host_key(&state.current().expect("first").data.snapshots[0]);
        let deadline = Instant::now() + WAIT;
        while !state.status().live.contains("engine events unavailable") {
            assert!(Instant::now() < deadline, "status: {}", state.status().live);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        lab.veth(Some(&a), "va", Some(&b), "vb");
        let va = format!("if:{key}/{a}/va");
        let vb = format!("if:{key}/{b}/vb");
        until(&state, "the veth pair, joined", |g| {
            g.edges.iter().any(|e| {
                e.kind == graph::EdgeKind::VethPair
                    && ((e.source == va && e.target == vb) || (e.source == vb && e.target == va))
            })
        })
        .await;
        equals_fresh(&state, &opts, "after a veth pair").await;

        lab.ip(Some(&a), &["link", "set", "va", "mtu", "1400"]);
        until(&state, "va's MTU", |g| {
            g.elements
                .iter()
                .any(|e| e.id == va && e.attrs.get("mtu") == Some(&serde_json::json!(1400)))
        })
        .await;
        equals_fresh(&state, &opts, "after an MTU change").await;

        let c = lab.netns("c");
        let c_id = format!("netns:{key}/{c}");
        until(&state, "a new namespace", |g| has(g, &c_id)).await;
        lab.delete_netns(&c);
        until(&state, "the namespace gone", |g| !has(g, &c_id)).await;
        equals_fresh(&state, &opts, "after a namespace came and went").await;

        // A flood: 300 veth pairs (over 1,200 netlink notifications) in one batch, and a
        // namespace deleted while its notifications are still being read. The feed coalesces
        // them into a few collections, not hundreds, and ends equal to a fresh collection.
        let d = lab.netns("d");
        let g0 = state.status().generation;
        let script: String = (0..300)
            .map(|i| format!("link add fa{i} type veth peer name fb{i}\nlink set fa{i} up\n"))
            .collect();
        netlab::run_batch("ip", Some(&a), &script);
        lab.delete_netns(&d);
        until(&state, "the flood's last veth", |g| {
            has(g, &format!("if:{key}/{a}/fb299")) && !has(g, &format!("netns:{key}/{d}"))
        })
        .await;
        equals_fresh(&state, &opts, "after a flood").await;
        let generations = state.status().generation - g0;
        assert!(
            (1..=12).contains(&generations),
            "a flood of notifications made {generations} collections"
        );
        println!("flood of 600 links: {generations} new generations");
    });
}
