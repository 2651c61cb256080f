//! Agents that misbehave on the wire, on loopback: one that sends its headers and then a byte a
//! second, a real `dockmap agent` SIGKILLed in the middle of its body, a connection that dies
//! mid-body with a FIN or a reset, one answering a snapshot of another schema, one answering a
//! gzip bomb (inflated only up to the snapshot size cap), one whose change stream never ends a line. Each is bounded by the deadline and
//! costs only its own node (stale when it answered before); the good agent stays fresh.

use crate::support::agents;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dockmap::agent::{self, SnapshotSource};
use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::snapshot::{ClusterSnapshot, NodeState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(2);

/// The deadline of a lab: a bomb gets time to be inflated to the cap (a slow machine must not
/// turn the cap's refusal into a timeout).
fn deadline_for(fault: Fault) -> Duration {
    if fault == Fault::GzipBomb {
        Duration::from_secs(30)
    } else {
        DEADLINE
    }
}

/// How the fake agent answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// Headers promising 100 kB, then one byte a second.
    Trickle,
    /// Headers and half the body, then the connection closed (FIN).
    DiesMidBody,
    /// The same, closed with a reset (SO_LINGER 0).
    ResetMidBody,
    /// A well-formed snapshot of a schema this build does not read.
    WrongSchema,
    /// `Content-Encoding: gzip` over 1 GiB of zeros (about 1 MB on the wire).
    GzipBomb,
}

/// A peer that answers well (a real snapshot) until `fail` is set, then with its fault; the
/// request heads it saw are kept.
struct Fake {
    addr: SocketAddr,
    fail: Arc<AtomicBool>,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn fake(fault: Fault, good: Vec<u8>) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let bomb = Arc::new(if fault == Fault::GzipBomb {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap()
    } else {
        Vec::new()
    });
    let (f, h) = (fail.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (failing, good, bomb, heads) = (
                f.load(Ordering::SeqCst),
                good.clone(),
                bomb.clone(),
                h.clone(),
            );
            tokio::spawn(async move {
                let mut req = vec![0u8; 8192];
                let n = sock.read(&mut req).await.unwrap_or(0);
                heads
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&req[..n]).to_lowercase());
                if !failing {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        good.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&good).await;
                    return;
                }
                match fault {
                    Fault::Trickle => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                            .await;
                        for _ in 0..100_000 {
                            if sock.write_all(b" ").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    Fault::DiesMidBody | Fault::ResetMidBody => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            good.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&good[..good.len() / 2]).await;
                        let _ = sock.flush().await;
                        if fault == Fault::ResetMidBody {
                            // A zero linger resets at once: the drop never blocks.
                            #[allow(deprecated)]
                            let _ = sock.set_linger(Some(Duration::ZERO));
                        }
                        drop(sock);
                    }
                    Fault::WrongSchema => {
                        let text = String::from_utf8(good)
                            .unwrap()
                            .replace("dockmap.node-snapshot/1", "dockmap.node-snapshot/99");
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            text.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(text.as_bytes()).await;
                    }
                    Fault::GzipBomb => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            bomb.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&bomb).await;
                    }
                }
            });
        }
    });
    Fake { addr, fail, heads }
}

/// A real agent serving a file, and a gatherer of it and the fake; one gather per call.
struct Lab {
    gatherer: Gatherer,
    good: SocketAddr,
    fake: Fake,
    _dir: tempfile::TempDir,
}

async fn lab(fault: Fault) -> Lab {
    let dir = tempfile::Builder::new()
        .prefix("dmt-agentfault-")
        .tempdir()
        .unwrap();
    let file = agents::write_node(dir.path(), "node-good", &agents::empty_node("node-good"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let good = listener.local_addr().unwrap();
    let app = agent::router(None, SnapshotSource::File(file));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let bad_snap = serde_json::to_vec(&agents::empty_node("node-bad")).unwrap();
    let fake = fake(fault, bad_snap).await;
    let gatherer = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![
            format!("http://{good}"),
            format!("http://{}", fake.addr),
        ]),
        deadline: deadline_for(fault),
        ..Default::default()
    })
    .unwrap();
    Lab {
        gatherer,
        good,
        fake,
        _dir: dir,
    }
}

fn node<'a>(c: &'a ClusterSnapshot, addr: &SocketAddr) -> &'a dockmap::snapshot::ClusterNode {
    c.nodes
        .iter()
        .find(|n| n.source.contains(&addr.to_string()))
        .unwrap_or_else(|| panic!("no node from {addr}: {:?}", c.nodes))
}

/// Gather once with the fake answering well, once failing: the second gather, its time, and
/// the fake's node in it.
async fn fails_after_a_good_answer(fault: Fault) -> (ClusterSnapshot, Duration, Lab) {
    let l = lab(fault).await;
    let first = l.gatherer.gather().await;
    assert_eq!(
        node(&first, &l.fake.addr).state,
        NodeState::Fresh,
        "{fault:?}: the fake's good answer"
    );
    l.fake.fail.store(true, Ordering::SeqCst);
    let t = Instant::now();
    let second = l.gatherer.gather().await;
    let took = t.elapsed();
    // The good agent never waits for the bad one's fault.
    assert_eq!(node(&second, &l.good).state, NodeState::Fresh, "{fault:?}");
    assert!(
        took < deadline_for(fault) + Duration::from_secs(5),
        "{fault:?}: the gather took {took:?}"
    );
    let bad = node(&second, &l.fake.addr);
    assert_eq!(bad.state, NodeState::Stale, "{fault:?}: {}", bad.error);
    assert_eq!(
        bad.snapshot.as_ref().map(|s| s.node.hostname.as_str()),
        Some("node-bad"),
        "{fault:?}: the last good snapshot is kept"
    );
    (second, took, l)
}

#[tokio::test]
async fn an_agent_that_trickles_its_body_is_cut_off_at_the_deadline() {
    let (c, took, l) = fails_after_a_good_answer(Fault::Trickle).await;
    let bad = node(&c, &l.fake.addr);
    assert!(bad.error.contains("no answer within 2 s"), "{}", bad.error);
    assert!(took >= DEADLINE, "it waited the deadline out: {took:?}");
}

#[tokio::test]
async fn an_agent_whose_connection_dies_mid_body_is_stale_with_the_reason() {
    for fault in [Fault::DiesMidBody, Fault::ResetMidBody] {
        let (c, took, l) = fails_after_a_good_answer(fault).await;
        let bad = node(&c, &l.fake.addr);
        assert!(
            bad.error.contains("unreachable"),
            "{fault:?}: {}",
            bad.error
        );
        // Not a wait for the deadline: the broken connection is seen at once.
        assert!(took < DEADLINE, "{fault:?}: {took:?}");
    }
}

#[tokio::test]
async fn an_agent_answering_another_schema_is_refused_by_name() {
    let (c, _, l) = fails_after_a_good_answer(Fault::WrongSchema).await;
    let bad = node(&c, &l.fake.addr);
    assert!(
        bad.error.contains("invalid snapshot") && bad.error.contains("dockmap.node-snapshot/99"),
        "{}",
        bad.error
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_inflated_only_up_to_the_size_cap() {
    let (c, took, l) = fails_after_a_good_answer(Fault::GzipBomb).await;
    // The gatherer asks for gzip (agents send snapshots compressed), so it inflates what comes:
    // the 1 GiB of zeros is cut off at the snapshot size cap as it is inflated, not held whole.
    assert!(
        l.fake
            .heads
            .lock()
            .unwrap()
            .iter()
            .all(|h| h.contains("accept-encoding: gzip")),
        "the gatherer asks for gzip"
    );
    let bad = node(&c, &l.fake.addr);
    assert!(
        bad.error.contains("invalid snapshot") && bad.error.contains("268435456-byte limit"),
        "{}",
        bad.error
    );
    assert!(took < deadline_for(Fault::GzipBomb), "{took:?}");
}

/// Between the gatherer and a real agent, both ways: the first answer (`first` bytes) passes
/// whole; 1 MiB into the next one the agent is SIGKILLed, and what the kernel still delivers of
/// its socket is passed on, then the end. Counted over all connections (the gatherer may keep
/// one open between gathers).
async fn killing_relay(
    upstream: String,
    first: usize,
    agent: Arc<Mutex<agents::FileAgent>>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let passed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((down, _)) = listener.accept().await {
            let Ok(up) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (mut down_r, mut down_w) = down.into_split();
            let (mut up_r, mut up_w) = up.into_split();
            // Asked uncompressed: the answer is as big as the file, so the agent is still
            // writing it when it dies.
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let got = match down_r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(g) => g,
                    };
                    let req = String::from_utf8_lossy(&buf[..got])
                        .replace("accept-encoding: gzip\r\n", "");
                    if up_w.write_all(req.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
            let (passed, agent) = (passed.clone(), agent.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let got = match up_r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(g) => g,
                    };
                    if down_w.write_all(&buf[..got]).await.is_err() {
                        break;
                    }
                    let now = passed.fetch_add(got, Ordering::SeqCst) + got;
                    if now > first && now - got <= first + (1 << 20) {
                        if now > first + (1 << 20) {
                            agent.lock().unwrap().kill();
                        } else {
                            // Slowly, so the agent is still writing when it dies.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_body_costs_only_its_node() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-agentkill-")
        .tempdir()
        .unwrap();
    // Big enough (tens of MB) that the kernel's buffers hold only a part of it when it dies.
    let mut big = dockmap::synthetic::snapshots(&dockmap::synthetic::SyntheticOptions {
        hosts: 1,
        containers: 8000,
        hostile_names: false,
    })
    .remove(0);
    big.node.hostname = "node-killed".into();
    let file = agents::write_node(dir.path(), "big", &big);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 16 << 20, "the answer is {size} bytes");
    let token = dir.path().join("token");
    std::fs::write(&token, "agent-kill-token\n").unwrap();
    let agent = agents::FileAgent::start(&file, &token, &dir.path().join("agent.log"));
    let upstream = agent.url.trim_start_matches("http://").to_owned();
    let agent = Arc::new(Mutex::new(agent));
    let good_file = agents::write_node(dir.path(), "node-good", &agents::empty_node("node-good"));
    let good = agents::FileAgent::start(&good_file, &token, &dir.path().join("good.log"));
    // The first answer: the file's bytes and a header.
    let relay = killing_relay(upstream.clone(), size as usize + 200, agent.clone()).await;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&upstream).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Duration::from_secs(30);
    let g = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![good.url.clone(), format!("http://{relay}")]),
        deadline,
        token: Some("agent-kill-token".into()),
        ..Default::default()
    })
    .unwrap();
    let first = g.gather().await;
    assert_eq!(
        node(&first, &relay).state,
        NodeState::Fresh,
        "{:?}",
        node(&first, &relay).error
    );
    let t = Instant::now();
    let second = g.gather().await;
    let took = t.elapsed();
    let bad = node(&second, &relay);
    assert_eq!(bad.state, NodeState::Stale, "{}", bad.error);
    assert!(bad.error.contains("unreachable"), "{}", bad.error);
    assert!(
        took < deadline,
        "seen when the connection ended, not at the deadline: {took:?}"
    );
    assert_eq!(
        bad.snapshot.as_ref().map(|s| s.node.hostname.as_str()),
        Some("node-killed")
    );
    let fresh = second
        .nodes
        .iter()
        .find(|n| n.source.contains(good.url.trim_start_matches("http://")))
        .unwrap();
    assert_eq!(fresh.state, NodeState::Fresh);
}

/// An agent whose change stream announces one snapshot and then sends a line that never ends:
/// the server drops the stream once the line passes 4 KiB (the unfinished line was kept whole
/// before, so such an agent grew the server's memory without bound) and shows the node stale with
/// the reason, its last good snapshot kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stream_that_never_ends_a_line_is_cut_and_its_node_goes_stale() {
    use axum::response::IntoResponse;
    let snap = dockmap::synthetic::snapshots(&dockmap::synthetic::SyntheticOptions {
        hosts: 1,
        containers: 2,
        hostile_names: false,
    })
    .remove(0);
    let body = serde_json::to_vec(&snap).unwrap();
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = sent.clone();
    let router = axum::Router::new()
        .route(
            agent::SNAPSHOT_PATH,
            axum::routing::get(move || {
                let body = body.clone();
                async move {
                    (
                        [
                            ("content-type", "application/json"),
                            (agent::GENERATION_HEADER, "1"),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            agent::EVENTS_PATH,
            axum::routing::get(move || {
                let counted = counted.clone();
                async move {
                    let first = futures::stream::once(async {
                        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(
                            b"event: snapshot\ndata: {\"generation\":1}\n\n",
                        ))
                    });
                    let endless = futures::stream::unfold(counted, |counted| async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        counted.fetch_add(1024, Ordering::SeqCst);
                        Some((Ok(axum::body::Bytes::from(vec![b'x'; 1024])), counted))
                    });
                    (
                        [("content-type", "text/event-stream")],
                        axum::body::Body::from_stream(futures::StreamExt::chain(first, endless)),
                    )
                        .into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let gatherer = Gatherer::new(ClusterOptions {
        agents: AgentList::Urls(vec![url]),
        deadline: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap();
    let state = dockmap::web::AppState::gathering_live(gatherer);
    let t0 = Instant::now();
    let stale = loop {
        let node = state.current().and_then(|c| c.nodes.first().cloned());
        if let Some(n) = node.filter(|(n, _)| n.state == NodeState::Stale) {
            break n;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the node never went stale ({} bytes sent)",
            sent.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(stale.0.error.contains("over 4096 bytes"), "{stale:?}");
    assert!(stale.1.is_some(), "the last good snapshot is still drawn");
}
