//! Agents and the cluster gatherer over real HTTP on loopback (no root needed).

use crate::support;
use crate::support::agents;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockmap::agent::{self, SnapshotSource, Token};
use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::snapshot::{NodeSnapshot, NodeState};
use dockmap::web::AppState;

fn snapshot_file(dir: &tempfile::TempDir, host: &str) -> PathBuf {
    agents::write_node(dir.path(), host, &agents::empty_node(host))
}

/// Serve an agent on 127.0.0.1:0; the task ends with the runtime.
async fn start_agent(token: Option<&str>, file: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = agent::router(token.and_then(Token::new), SnapshotSource::File(file));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A peer that accepts connections and never answers: what a SIGSTOPped agent looks like from outside.
async fn start_silent() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn agent_serves_only_with_the_right_token() {
    let dir = support::temp_dir("agent-token");
    let addr = start_agent(Some("right-token"), snapshot_file(&dir, "n1")).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{}", agent::SNAPSHOT_PATH);

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = client
        .get(&url)
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.unwrap();
    assert!(!body.contains("n1"), "no data with a wrong token: {body}");

    let ok = client
        .get(&url)
        .bearer_auth("right-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let snap: NodeSnapshot = ok.json().await.unwrap();
    assert_eq!(snap.node.hostname, "n1");

    let health = client
        .get(format!("http://{addr}{}", agent::HEALTH_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn agent_refuses_to_start_without_a_token_unless_told() {
    let mut opts = agent::AgentOptions::live("127.0.0.1:0".parse().unwrap(), Default::default());
    assert!(matches!(
        agent::load_token(&opts),
        Err(agent::AgentError::NoToken)
    ));
    opts.insecure_no_auth = true;
    assert!(matches!(agent::load_token(&opts), Ok(None)));
    let dir = support::temp_dir("agent-empty-token");
    let empty = dir.path().join("token");
    std::fs::write(&empty, "  \n").unwrap();
    opts.token_file = Some(empty);
    assert!(matches!(
        agent::load_token(&opts),
        Err(agent::AgentError::TokenFile { .. })
    ));
}

#[tokio::test]
async fn a_silent_agent_is_unreachable_within_the_deadline_and_others_stay_fresh() {
    let dir = support::temp_dir("cluster-silent");
    let a = start_agent(Some("t"), snapshot_file(&dir, "node-a")).await;
    let b = start_agent(Some("t"), snapshot_file(&dir, "node-b")).await;
    let (silent, _task) = start_silent().await;
    let wrong = start_agent(Some("other"), snapshot_file(&dir, "node-x")).await;
    let opts = ClusterOptions {
        agents: AgentList::Urls(vec![
            format!("http://{a}"),
            format!("http://{b}"),
            format!("http://{silent}"),
            format!("http://{wrong}"),
        ]),
        deadline: Duration::from_millis(1500),
        token: Some("t".into()),
        ..Default::default()
    };
    let g = Gatherer::new(opts).unwrap();
    let started = Instant::now();
    let c = g.gather().await;
    let took = started.elapsed();
    // Bounded by the deadline plus slack, not by the silent peer (which would hang forever).
    assert!(took < Duration::from_secs(10), "gather took {took:?}");
    let state = |name: &str| {
        c.nodes
            .iter()
            .find(|n| n.name == name || n.source.contains(name))
            .map(|n| n.state)
    };
    assert_eq!(state("node-a"), Some(NodeState::Fresh));
    assert_eq!(state("node-b"), Some(NodeState::Fresh));
    assert_eq!(state(&silent.to_string()), Some(NodeState::Unreachable));
    assert!(
        c.nodes.iter().any(|n| n.name == silent.to_string()),
        "a node that never answered is named host:port"
    );
    assert_eq!(state(&wrong.to_string()), Some(NodeState::Unauthorized));
    let silent_node = c
        .nodes
        .iter()
        .find(|n| n.source.contains(&silent.to_string()))
        .unwrap();
    assert!(
        silent_node.error.contains("no answer"),
        "{}",
        silent_node.error
    );
    assert!(c
        .nodes
        .iter()
        .find(|n| n.source.contains(&wrong.to_string()))
        .unwrap()
        .snapshot
        .is_none());
}

#[tokio::test]
async fn a_node_that_stops_answering_keeps_its_last_snapshot_as_stale() {
    let dir = support::temp_dir("cluster-stale");
    let file = snapshot_file(&dir, "node-s");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = agent::router(None, SnapshotSource::File(file));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let g = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![format!("http://{addr}")]),
        deadline: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let first = g.gather().await;
    assert_eq!(first.nodes[0].state, NodeState::Fresh);
    server.abort();
    let _ = server.await;
    let second = g.gather().await;
    assert_eq!(
        second.nodes[0].state,
        NodeState::Stale,
        "{:?}",
        second.nodes[0].error
    );
    assert_eq!(second.nodes[0].name, "node-s");
    assert_eq!(
        second.nodes[0].snapshot.as_ref().unwrap().node.hostname,
        "node-s"
    );
}

/// The real binary serving HTTPS with a self-signed certificate; the gatherer trusts it through its CA file.
#[tokio::test]
async fn agent_serves_tls_to_a_gatherer_that_trusts_its_certificate() {
    let dir = support::temp_dir("agent-tls");
    let p = |name: &str| dir.path().join(name);
    let (ca, cert, key) = (p("ca.pem"), p("cert.pem"), p("key.pem"));
    std::fs::write(p("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    // A CA and a leaf it signs: webpki refuses a self-signed CA certificate used as the server's own.
    let steps: [Vec<String>; 3] = [
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=dockmap-test-ca -keyout ca.key -out ca.pem".split(' ').map(String::from).collect(),
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out leaf.csr".split(' ').map(String::from).collect(),
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out cert.pem".split(' ').map(String::from).collect(),
    ];
    for args in &steps {
        let made = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output();
        match made {
            Ok(o) if o.status.success() => {}
            other => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "openssl is needed for the TLS test: {other:?}"
                );
                eprintln!("skipped: openssl could not make certificates");
                return;
            }
        }
    }
    let snap = snapshot_file(&dir, "tls-node");
    let token = dir.path().join("token");
    std::fs::write(&token, "tls-token\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dockmap"))
        .args(["agent", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--serve-file")
        .arg(&snap)
        .arg("--token-file")
        .arg(&token)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(std::mem::replace(
        &mut child,
        std::process::Command::new("true").spawn().unwrap(),
    ));
    let url = format!("https://127.0.0.1:{port}");
    let trusting = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![url.clone()]),
        deadline: Duration::from_secs(3),
        token: Some("tls-token".into()),
        ca_cert: Some(ca.clone()),
        ..Default::default()
    })
    .unwrap();
    let mut state = NodeState::Unreachable;
    for _ in 0..50 {
        let c = trusting.gather().await;
        state = c.nodes[0].state;
        if state == NodeState::Fresh {
            assert_eq!(
                c.nodes[0].snapshot.as_ref().unwrap().node.hostname,
                "tls-node"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, NodeState::Fresh, "the agent answers over TLS");
    // Without the CA the certificate is not trusted: no data.
    let untrusting = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![url]),
        deadline: Duration::from_secs(3),
        token: Some("tls-token".into()),
        ..Default::default()
    })
    .unwrap();
    let c = untrusting.gather().await;
    assert_eq!(c.nodes[0].state, NodeState::Unreachable);
    assert!(c.nodes[0].snapshot.is_none());
}

/// The server gathers on a new runtime at every refresh while the gatherer's HTTP client lives on
/// (reqwest#2501: pooled connections of a dropped runtime can time out). Two refreshes in a row
/// must both be fresh; once the agent is gone the node is stale and the status bar says how old
/// its picture is.
#[test]
fn a_cluster_server_stays_fresh_across_refreshes_and_says_how_old_a_stale_node_is() {
    let dir = support::temp_dir("cluster-refresh");
    let file = snapshot_file(&dir, "node-r");
    // The agent has a runtime of its own, alive across the server's refreshes until stopped.
    let agent_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = agent_rt.block_on(start_agent(Some("t"), file));
    let g = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![format!("http://{addr}")]),
        deadline: Duration::from_secs(3),
        token: Some("t".into()),
        ..Default::default()
    })
    .unwrap();
    let state = AppState::gathering(g);
    let refresh = |state: &AppState| {
        assert!(state.refresh());
        while state.is_collecting() {
            std::thread::sleep(Duration::from_millis(20));
        }
        state.current().unwrap()
    };
    for round in 1..=3 {
        let cur = refresh(&state);
        assert_eq!(
            (cur.nodes[0].0.name.as_str(), cur.nodes[0].0.state),
            ("node-r", NodeState::Fresh),
            "refresh {round}: {}",
            cur.nodes[0].0.error
        );
    }
    agent_rt.shutdown_background();
    let cur = refresh(&state);
    assert_eq!(cur.nodes[0].0.state, NodeState::Stale);
    let status = state.status();
    let report = status
        .sources
        .iter()
        .find(|s| s.source == "agent")
        .expect("the stale node is reported");
    assert_eq!(report.nodes, vec!["node-r".to_string()]);
    assert!(
        report.message.starts_with("stale: last good snapshot ")
            && report.message.contains(" s old: "),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn snapshots_travel_gzipped_and_a_file_agent_has_no_live_counters() {
    let dir = support::temp_dir("agent-gzip");
    let big = dockmap::synthetic::snapshots(&dockmap::synthetic::SyntheticOptions {
        hosts: 1,
        containers: 200,
        hostile_names: false,
    })
    .remove(0);
    let file = agents::write_node(dir.path(), "big", &big);
    let addr = start_agent(None, file).await;
    let url = format!("http://{addr}{}", agent::SNAPSHOT_PATH);
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let plain = raw.get(&url).send().await.unwrap().bytes().await.unwrap();
    let zipped = raw
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        zipped
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    let zipped = zipped.bytes().await.unwrap();
    println!(
        "a 200-container snapshot: {} bytes, {} gzipped",
        plain.len(),
        zipped.len()
    );
    assert!(
        zipped.len() * 4 < plain.len(),
        "{} vs {}",
        zipped.len(),
        plain.len()
    );

    // The gatherer asks for gzip and reads the same snapshot.
    let g = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![format!("http://{addr}")]),
        ..Default::default()
    })
    .unwrap();
    let c = g.gather().await;
    let got = c.nodes[0].snapshot.as_ref().expect("a snapshot");
    assert_eq!(got.namespaces.len(), big.namespaces.len());
    assert_eq!(got, &big);

    // Counters are read from a live node: an agent serving a file says so.
    let counters = raw
        .post(format!("http://{addr}{}", agent::COUNTERS_PATH))
        .body(r#"{"probes":[{"namespace":"host","what":{"kind":"link","ifname":"lo"}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(counters.status(), 409);
    let bad = raw
        .post(format!("http://{addr}{}", agent::COUNTERS_PATH))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
