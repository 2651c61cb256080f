//! The collector against engines of API 1.41, 1.44, 1.48 and 1.52, answered by a fake engine on a
//! unix socket from recorded answers (`tests/fixtures/engine-api/`, sources in its README): the
//! version negotiation runs as it does against a real engine, and every version gives the same
//! engine facts, graph and paths.

use crate::support::fake_engine;

use dockmap::collect::node::{collect, NodeOptions};
use dockmap::graph::{build, Graph};
use dockmap::path::{trace, Question};
use dockmap::snapshot::{EngineFacts, NodeSnapshot, SourceKind, SourceState};
use fake_engine::{fixture_dir, Answers, FakeEngine};

/// (API version, engine version, the oldest API version that engine accepts) as each release ships.
const ENGINES: [(&str, &str, &str); 4] = [
    ("1.41", "20.10.24", "1.12"),
    ("1.44", "25.0.5", "1.24"),
    ("1.48", "28.0.4", "1.24"),
    ("1.52", "29.0.0", "1.44"),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn engine(api: &str, min: &str, ping_version: Option<&str>) -> FakeEngine {
    fake_engine::start(Answers {
        dir: fixture_dir(api),
        max: api.to_owned(),
        min: min.to_owned(),
        ping_version: ping_version.map(str::to_owned),
    })
    .await
}

/// A snapshot against `url` that reads no namespace directory (an empty one), so only the engine
/// side differs between runs.
async fn snapshot(url: &str) -> NodeSnapshot {
    let empty = tempfile::tempdir().expect("temp dir");
    collect(&NodeOptions {
        docker: Some(url.to_owned()),
        netns_dirs: vec![empty.path().to_path_buf()],
        node_name: Some("fixture-node-a".to_owned()),
        ..NodeOptions::default()
    })
    .await
}

fn engine_status(s: &NodeSnapshot) -> (SourceState, String) {
    let st = s
        .sources
        .iter()
        .find(|st| st.source == SourceKind::Engine)
        .expect("an engine status");
    (st.state, st.message.clone())
}

/// The facts with what may differ between versions of one engine blanked out.
fn version_free(e: &EngineFacts) -> EngineFacts {
    let mut e = e.clone();
    e.version.clear();
    e.api_version.clear();
    e.firewall_backend.clear();
    e
}

/// Only the engine's part of a snapshot, with a fixed time and node, so graphs can be compared.
fn engine_only(s: &NodeSnapshot) -> NodeSnapshot {
    let mut out = s.clone();
    out.namespaces.clear();
    out.sources.clear();
    out.taken_at = "2026-12-01T12:00:00.000Z".to_owned();
    out.duration_ms = 0;
    out.engine = out.engine.as_ref().map(version_free);
    out
}

fn graph_of(s: &NodeSnapshot) -> Graph {
    build(std::slice::from_ref(s))
}

#[test]
fn every_api_version_gives_the_same_engine_facts_graph_and_paths() {
    if !fake_engine_can_run() {
        return;
    }
    let rt = runtime();
    let mut snaps = Vec::new();
    for (api, version, min) in ENGINES {
        let snap = rt.block_on(async {
            let fake = engine(api, min, None).await;
            let snap = snapshot(&fake.url).await;
            let asked = fake.requests.lock().map(|r| r.clone()).unwrap_or_default();
            // The ping is unversioned; everything after it speaks the engine's own version.
            assert_eq!(asked.first().map(String::as_str), Some("/_ping"), "{api}");
            let prefix = format!("/v{api}/");
            let versioned: Vec<&String> = asked.iter().filter(|p| *p != "/_ping").collect();
            assert!(versioned.len() >= 9, "{api}: asked only {asked:?}");
            for p in versioned {
                assert!(p.starts_with(&prefix), "{api}: {p} not under {prefix}");
            }
            snap
        });
        let (state, message) = engine_status(&snap);
        assert_eq!(state, SourceState::Ok, "{api}: {message}");
        let e = snap.engine.as_ref().expect("engine facts");
        assert_eq!(e.version, version);
        assert_eq!(e.api_version, api);
        // `FirewallBackend` is in /info from API 1.49.
        let backend = if api == "1.52" { "iptables" } else { "" };
        assert_eq!(e.firewall_backend, backend, "{api}");
        let json = serde_json::to_string(&snap).expect("snapshot serializes");
        for kept_out in ["fixture-secret", "not-kept", "httpd -f"] {
            assert!(!json.contains(kept_out), "{api}: {kept_out} leaked");
        }
        snaps.push((api, snap));
    }

    let (_, first) = &snaps[0];
    let base = first.engine.as_ref().expect("1.41 facts");
    // What API 1.52 no longer repeats at the top of NetworkSettings is read per network in every version.
    let legacy = base
        .containers
        .iter()
        .find(|c| c.name == "legacy")
        .expect("the default-bridge container");
    assert_eq!(legacy.endpoints[0].ipv4, "198.18.0.2");
    assert_eq!(legacy.endpoints[0].gateway, "198.18.0.1");
    assert_eq!(legacy.endpoints[0].mac, "02:42:c6:12:00:02");
    let web = base
        .containers
        .iter()
        .find(|c| c.name == "web")
        .expect("web");
    assert_eq!(web.endpoints[0].aliases, vec!["web"], "no short-ID alias");
    assert_eq!(base.containers.len(), 3);
    assert_eq!(base.networks.len(), 7);
    assert_eq!(
        base.tasks[0].attachments[0].addresses,
        vec!["198.18.130.5/24"]
    );
    assert!(base
        .networks
        .iter()
        .any(|n| n.options.contains_key("encrypted")));

    let base_graph = graph_of(&engine_only(first));
    let questions = [
        Question::Port {
            port: 8080,
            protocol: "tcp".into(),
            node: None,
        },
        Question::Between {
            from: "web".into(),
            to: "legacy".into(),
        },
        Question::Between {
            from: "web".into(),
            to: "api".into(),
        },
    ];
    let base_paths: Vec<_> = questions
        .iter()
        .map(|q| trace(q, &[engine_only(first)], &base_graph))
        .collect();
    for (api, snap) in &snaps[1..] {
        let e = snap.engine.as_ref().expect("engine facts");
        assert_eq!(
            version_free(e),
            version_free(base),
            "{api} facts differ from 1.41's"
        );
        let only = engine_only(snap);
        let g = graph_of(&only);
        assert_eq!(g, base_graph, "{api} graph differs from 1.41's");
        for (q, want) in questions.iter().zip(&base_paths) {
            assert_eq!(
                &trace(q, std::slice::from_ref(&only), &g),
                want,
                "{api}: {q:?}"
            );
        }
    }

    // The host's panel says which engine and API, and from 1.49 the firewall backend.
    let (_, newest) = &snaps[3];
    let g = graph_of(newest);
    let host = g
        .elements
        .iter()
        .find(|e| e.kind == dockmap::graph::ElementKind::Host)
        .expect("a host element");
    assert_eq!(host.attrs["engine_version"], "29.0.0");
    assert_eq!(host.attrs["engine_api"], "1.52");
    assert_eq!(host.attrs["engine_firewall_backend"], "iptables");
}

#[test]
fn a_1_52_engine_refuses_a_client_below_1_44_in_its_own_words() {
    if !fake_engine_can_run() {
        return;
    }
    let rt = runtime();
    // A ping that names 1.43 (as a proxy in front of the engine might) makes the collector speak
    // 1.43, which 29.x refuses: the snapshot must carry the engine's reason, not a generic failure.
    let snap = rt.block_on(async {
        let fake = engine("1.52", "1.44", Some("1.43")).await;
        snapshot(&fake.url).await
    });
    let (state, message) = engine_status(&snap);
    assert_eq!(state, SourceState::Error);
    assert!(
        message.contains(
            "client version 1.43 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"
        ),
        "{message}"
    );
    assert!(snap.engine.is_none());
    // The kernel side is still read: one failed source never loses the others.
    assert!(!snap.namespaces.is_empty());
}

/// Reading the host namespace needs root (firewall tools); the engine side itself does not.
fn fake_engine_can_run() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (the collector reads the host namespace too)");
        return false;
    }
    true
}
