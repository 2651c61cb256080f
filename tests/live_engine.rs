//! Live on the real engine: `dockmap serve`'s state follows the node as containers start and go,
//! networks are connected and disconnected, an MTU and a firewall rule change, and after each
//! change the live picture equals a fresh full collection (counters and times aside). The server
//! is never asked to refresh: only the kernel's and the engine's notifications move it.

use crate::support::engine;

use std::process::Command;
use std::time::{Duration, Instant};

use dockmap::collect::node::{self, NodeOptions};
use dockmap::graph::{self, Graph};
use dockmap::live::LiveChange;
use dockmap::web::AppState;
use engine::{TestContainer, TestNetwork};

/// Far above the feed's debounce (≤ 1 s) and a collection, on a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

fn options() -> NodeOptions {
    NodeOptions {
        docker: Some(engine::docker_host()),
        ..Default::default()
    }
}

/// Waits until the live graph satisfies `ready`; returns it.
async fn until(state: &AppState, what: &str, ready: impl Fn(&Graph) -> bool) -> Graph {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(cur) = state.current() {
            if ready(&cur.data.graph) {
                return cur.data.graph.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the live picture never showed: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The live picture equals a fresh full collection of the same state. The feed may be one
/// change behind a fresh collection (a late notification): then wait for it to catch up.
async fn matches_a_fresh_collection(state: &AppState, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let fresh = graph::build(&[node::collect(&options()).await]);
        let live = state.current().expect("a live state").data.graph.clone();
        if !dockmap::live::differ(&live, &fresh) {
            return;
        }
        if Instant::now() >= deadline {
            let (changes, _) = dockmap::live::changes::list(&live, &fresh, 20);
            panic!("{what}: the live picture differs from a fresh collection: {changes:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn has(g: &Graph, id: &str) -> bool {
    g.elements.iter().any(|e| e.id == id)
}

fn in_ns(pid: &str, args: &[&str]) {
    let out = Command::new("nsenter")
        .arg("-t")
        .arg(pid)
        .arg("-n")
        .args(args)
        .output()
        .expect("nsenter");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_live_picture_follows_the_engine_and_the_kernel_and_equals_a_fresh_collection() {
    if !engine::available() {
        return;
    }
    engine::ensure_image();
    let rt = engine::runtime();
    rt.block_on(async {
        let state = AppState::live(options());
        let mut updates = state.updates();
        until(&state, "a first picture", |_| true).await;
        let key = {
            let cur = state.current().expect("first picture");
            graph::ids::host_key(&cur.data.snapshots[0])
        };

        // A container started on a user-defined network (its namespace holds Docker's DNS rules).
        let net = TestNetwork::bridge(&engine::unique("livenet"), &[]);
        let other = TestNetwork::bridge(&engine::unique("liveother"), &[]);
        let c = TestContainer::run(&engine::unique("live"), &["--network", &net.id]);
        let ctr = format!("ctr:{key}/{}", c.name);
        until(&state, "the new container", |g| has(g, &ctr)).await;
        // The update that brought it says so.
        let mut seen: Vec<LiveChange> = Vec::new();
        while let Ok(u) = updates.try_recv() {
            seen.extend(u.changes.iter().cloned());
        }
        assert!(
            seen.iter().any(|x| x.id == ctr && x.change == "added"),
            "an update listed the container as added: {seen:#?}"
        );
        matches_a_fresh_collection(&state, "after docker run").await;

        // Connected to a second network, then disconnected: its endpoints follow.
        let endpoint_to = |g: &Graph, net: &str| {
            g.edges.iter().any(|e| {
                e.source == ctr
                    && e.target == format!("net:{key}/{net}")
                    && e.kind == graph::EdgeKind::Endpoint
            })
        };
        engine::docker(&["network", "connect", &other.id, &c.id]);
        until(&state, "the second endpoint", |g| {
            endpoint_to(g, &other.name)
        })
        .await;
        matches_a_fresh_collection(&state, "after network connect").await;
        engine::docker(&["network", "disconnect", &other.id, &c.id]);
        until(&state, "the endpoint gone", |g| {
            !endpoint_to(g, &other.name)
        })
        .await;
        matches_a_fresh_collection(&state, "after network disconnect").await;

        // An MTU changed inside the container's namespace.
        let pid = c.inspect("{{.State.Pid}}");
        let ns_of = |g: &Graph| {
            g.edges
                .iter()
                .find(|e| e.source == ctr && e.kind == graph::EdgeKind::Sandbox)
                .map(|e| e.target.clone())
        };
        let g = state.current().expect("live").data.graph.clone();
        let ns = ns_of(&g).expect("the container's namespace is joined");
        let eth0 = format!("if:{}/eth0", ns.trim_start_matches("netns:"));
        in_ns(&pid, &["ip", "link", "set", "dev", "eth0", "mtu", "1400"]);
        until(&state, "eth0's new MTU", |g| {
            g.elements
                .iter()
                .any(|e| e.id == eth0 && e.attrs.get("mtu") == Some(&serde_json::json!(1400)))
        })
        .await;
        matches_a_fresh_collection(&state, "after an MTU change").await;

        // A firewall rule added in the container's namespace (nf_tables tells the feed).
        in_ns(
            &pid,
            &[
                "iptables",
                "-A",
                "INPUT",
                "-i",
                "eth0",
                "-s",
                "198.18.7.7",
                "-j",
                "DROP",
            ],
        );
        until(&state, "the rule naming eth0", |g| {
            g.elements.iter().any(|e| {
                e.id == eth0
                    && e.attrs
                        .get("firewall_rules")
                        .is_some_and(|r| r.to_string().contains("198.18.7.7"))
            })
        })
        .await;
        matches_a_fresh_collection(&state, "after a new rule").await;

        // Removed: the container and its namespace go.
        drop(c);
        until(&state, "the container gone", |g| {
            !has(g, &ctr) && !has(g, &ns)
        })
        .await;
        matches_a_fresh_collection(&state, "after docker rm").await;
        drop(net);
        drop(other);
        let status = state.status();
        assert_eq!(
            status.live, "live",
            "nothing is left unfollowed: {}",
            status.live
        );
    });
}
