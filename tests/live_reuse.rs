//! Live rounds ask the engine only for what their wake-ups concern: on a host with over twenty
//! test containers, a `docker run` costs the feed a few inspects (the new container's), and an
//! MTU changed in a test namespace none at all. (That each such picture equals a fresh full
//! collection is `live_engine`'s and `live_kernel`'s part.)

use crate::support::engine;
use crate::support::netlab;

use std::time::{Duration, Instant};

use dockmap::collect::node::NodeOptions;
use dockmap::live::{LiveStatus, NodeFeed};
use dockmap::snapshot::NodeSnapshot;
use engine::TestContainer;

const WAIT: Duration = Duration::from_secs(30);
/// Containers this test starts before following the host.
const CONTAINERS: usize = 20;
/// Other tests share the engine: their events cost inspects too, so a measurement disturbed by
/// them (or by a full resync) is taken again, this many times at most.
const ATTEMPTS: usize = 4;

async fn until(feed: &NodeFeed, what: &str, ready: impl Fn(&NodeSnapshot) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        if feed.latest().is_some_and(|p| ready(&p.snapshot)) {
            return;
        }
        assert!(Instant::now() < deadline, "never live: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Containers inspected and full collections run between two statuses.
fn cost(before: &LiveStatus, after: &LiveStatus) -> (u64, u64) {
    (after.inspected - before.inspected, after.full - before.full)
}

#[test]
fn an_update_inspects_only_the_containers_its_events_name() {
    if !engine::available() || !netlab::require_root() {
        return;
    }
    engine::ensure_image();
    let mut lab = netlab::Lab::new();
    let a = lab.netns("reuse-a");
    let b = lab.netns("reuse-b");
    lab.veth(Some(&a), "ra", Some(&b), "rb");
    let _many: Vec<TestContainer> = (0..CONTAINERS)
        .map(|_| TestContainer::run(&engine::unique("reuse"), &[]))
        .collect();
    let rt = engine::runtime();
    rt.block_on(async {
        let feed = NodeFeed::start(NodeOptions {
            docker: Some(engine::docker_host()),
            ..Default::default()
        });
        feed.first().await.expect("a first picture");
        let total = feed
            .latest()
            .and_then(|p| p.snapshot.engine.as_ref().map(|e| e.containers.len()))
            .unwrap_or(0);
        assert!(total >= CONTAINERS, "{total} containers seen");
        let deadline = Instant::now() + WAIT;
        while !feed.status().engine.is_empty() || feed.status().full < 2 {
            // The first round, then the one the event stream's connection asks for.
            assert!(Instant::now() < deadline, "{}", feed.status().summary());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // One container started: only what its events name is inspected.
        let mut runs = Vec::new();
        let mut inspected = Vec::new();
        for _ in 0..ATTEMPTS {
            let before = feed.status();
            let c = TestContainer::run(&engine::unique("reuse-new"), &[]);
            until(&feed, "the new container, running", |s| {
                s.engine.as_ref().is_some_and(|e| {
                    e.containers
                        .iter()
                        .any(|x| x.id == c.id && x.state == "running" && !x.sandbox_key.is_empty())
                })
            })
            .await;
            // The rest of its burst (the start event may come in a round of its own).
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (n, full) = cost(&before, &feed.status());
            runs.push(c);
            if full == 0 {
                inspected.push(n);
                if n <= 6 {
                    break;
                }
            }
        }
        println!("docker run: containers inspected per attempt: {inspected:?} (of {total}+)");
        assert!(
            inspected.iter().any(|n| (1..=6).contains(n)),
            "a docker run with {total} containers inspected {inspected:?} (attempts without a resync)"
        );

        // An MTU changed in a test namespace: the engine is asked nothing.
        let mut kernel_only = Vec::new();
        for attempt in 0..ATTEMPTS {
            let before = feed.status();
            let mtu = 1400 - attempt as u32 * 10;
            lab.ip(Some(&a), &["link", "set", "ra", "mtu", &mtu.to_string()]);
            until(&feed, "ra's new MTU", |s| {
                s.namespaces.iter().any(|ns| {
                    ns.name == a && ns.links.iter().any(|l| l.name == "ra" && l.mtu == mtu)
                })
            })
            .await;
            let after = feed.status();
            assert!(after.collections > before.collections);
            let (n, full) = cost(&before, &after);
            if full == 0 {
                kernel_only.push(n);
                if n == 0 {
                    break;
                }
            }
        }
        println!("MTU change: containers inspected per attempt: {kernel_only:?}");
        assert!(
            kernel_only.contains(&0),
            "a kernel-only change inspected {kernel_only:?} containers (attempts without a resync)"
        );
        drop(runs);
    });
}
