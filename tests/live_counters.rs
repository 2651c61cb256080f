//! Watching a path on the real engine and kernel: `GET /api/path/watch` streams the counters of a
//! published port's hops while a client (a namespace this test creates, on 198.18.0.0/15) sends
//! connections to it. The DNAT rule and the container's interface count them; with a DROP rule
//! in DOCKER-USER, that rule counts them, the container's interface does not, and the stream says
//! that packets stop there.

use crate::support::browser;
use crate::support::engine;
use crate::support::netlab;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use dockmap::collect::netns;
use dockmap::collect::node::NodeOptions;
use dockmap::web::{router, AppState};
use engine::TestContainer;
use netlab::Lab;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// An iptables rule inserted for the test and deleted on drop (also when the test fails).
struct Inserted(Vec<String>);

impl Inserted {
    fn new(table: &str, chain: &str, spec: &[&str]) -> Self {
        let mut args: Vec<String> = vec![
            "-w".into(),
            "-t".into(),
            table.into(),
            "-I".into(),
            chain.into(),
        ];
        args.extend(spec.iter().map(|s| s.to_string()));
        let out = Command::new("iptables")
            .args(&args)
            .output()
            .expect("iptables");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        args[3] = "-D".into();
        Inserted(args)
    }
}

impl Drop for Inserted {
    fn drop(&mut self) {
        let _ = Command::new("iptables").args(&self.0).output();
    }
}

/// Server-sent events read off a streaming response.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(url: &str) -> Self {
        let resp = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .expect("watch request");
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        Events {
            resp,
            buf: String::new(),
        }
    }

    /// The next event's (name, data).
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = n.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if !name.is_empty() {
                    return (name, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.resp.chunk())
                .await
                .expect("an event within the wait")
                .expect("stream readable")
                .expect("stream still open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The first `counters` update that satisfies `ok`.
    async fn until(&mut self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (name, data) = self.next().await;
            assert_eq!(name, "counters", "{data}");
            let u: Value = serde_json::from_str(&data).expect("an update");
            if ok(&u) {
                return u;
            }
            assert!(
                Instant::now() < deadline,
                "never saw: {what}; last update {u:#}"
            );
        }
    }
}

/// Counters of hops whose label starts with `label`: their `since_start`.
fn moved(u: &Value, label: &str) -> Vec<i64> {
    u["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["label"].as_str().unwrap().starts_with(label))
        .filter_map(|h| h["since_start"].as_i64())
        .collect()
}

/// Connect `n` times from the client namespace (SYNs: a refused or dropped one counts the same).
fn knock(ns: &str, to: SocketAddr, n: usize) {
    let h = netns::NsHandle::open(&std::path::Path::new("/run/netns").join(ns), ns)
        .expect("client namespace");
    netns::run_in(&h, move || {
        for _ in 0..n {
            let _ = TcpStream::connect_timeout(&to, Duration::from_millis(300));
        }
    })
    .expect("enter the client namespace");
}

#[test]
fn a_watched_path_shows_where_packets_go_and_where_they_stop() {
    if !engine::available() || !netlab::require_root() {
        return;
    }
    let port = 21_000 + (std::process::id() % 20_000) as u16;
    let web = TestContainer::run(&engine::unique("ctrweb"), &["-p", &format!("{port}:80")]);
    let web_ip = web.inspect("{{.NetworkSettings.IPAddress}}");

    // A client on its own /30 (198.18.40-47.x: outside the engine's pools) behind a veth.
    let mut lab = Lab::new();
    let client = lab.netns("client");
    let k = (std::process::id() % 2048) as u8 as u32;
    let base = (198u32 << 24) | (18 << 16) | ((40 + (k / 64)) << 8) | ((k % 64) * 4);
    let ip = |n: u32| std::net::Ipv4Addr::from(base + n).to_string();
    let (host_end, client_end) = (ip(1), ip(2));
    let outside = lab.host_link_name("c");
    lab.veth(None, &outside, Some(&client), "eth0");
    lab.ip(
        None,
        &["addr", "add", &format!("{host_end}/30"), "dev", &outside],
    );
    lab.ip(None, &["link", "set", &outside, "up"]);
    lab.ip(
        Some(&client),
        &["addr", "add", &format!("{client_end}/30"), "dev", "eth0"],
    );
    lab.ip(Some(&client), &["link", "set", "eth0", "up"]);
    let target: SocketAddr = format!("{host_end}:{port}").parse().unwrap();

    let rt = engine::runtime();
    rt.block_on(async {
        let state = AppState::live(NodeOptions {
            docker: Some(engine::docker_host()),
            ..Default::default()
        });
        let base_url = browser::serve(router(state.clone())).await;
        let deadline = Instant::now() + WAIT;
        while state.current().is_none_or(|c| {
            !c.data
                .graph
                .elements
                .iter()
                .any(|e| e.id.ends_with(&format!("/{}", web.name)))
        }) {
            assert!(
                Instant::now() < deadline,
                "the live picture never showed the container"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = format!("{base_url}/api/path/watch?port={port}&protocol=tcp");

        // Delivered: the DNAT rule and the container's interface count the connections.
        let mut ev = Events::open(&url).await;
        let first = ev.until("the baseline", |_| true).await;
        assert!(
            !moved(&first, "nat DOCKER -j DNAT").is_empty(),
            "no DNAT counter: {first:#}"
        );
        assert_eq!(
            moved(&first, "nat DOCKER -j DNAT"),
            vec![0],
            "the baseline moves nothing"
        );
        let ns = client.clone();
        let knocks = tokio::task::spawn_blocking(move || knock(&ns, target, 5));
        let u = ev
            .until(
                "5 connections through the DNAT rule and into the container",
                |u| {
                    moved(u, "nat DOCKER -j DNAT").iter().any(|&n| n >= 5)
                        && moved(u, "eth0").iter().any(|&n| n > 0)
                },
            )
            .await;
        knocks.await.unwrap();
        assert!(
            u["stops"].as_array().unwrap().is_empty(),
            "delivered, yet a stop: {u:#}"
        );
        assert!(
            moved(&u, "conntrack tcp dport").iter().all(|&n| n >= 0),
            "conntrack entries are counted: {u:#}"
        );
        drop(ev);

        // Through an agent: a server following this host's agent reads the counters from it
        // (POST /v1/counters), as `serve --agents` does on a swarm.
        let agent_url = browser::serve(dockmap::agent::router(
            None,
            dockmap::agent::SnapshotSource::Live(NodeOptions {
                docker: Some(engine::docker_host()),
                ..Default::default()
            }),
        ))
        .await;
        let gatherer = dockmap::cluster::Gatherer::new(dockmap::cluster::ClusterOptions {
            agents: dockmap::cluster::AgentList::Urls(vec![agent_url]),
            ..Default::default()
        })
        .expect("gatherer");
        let followed = AppState::gathering_live(gatherer);
        let deadline = Instant::now() + WAIT;
        while followed.current().is_none_or(|c| {
            !c.data.graph.elements.iter().any(|e| e.id.ends_with(&format!("/{}", web.name)))
        }) {
            assert!(Instant::now() < deadline, "the agent's picture never showed the container");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let server_url = browser::serve(router(followed)).await;
        let mut ev = Events::open(&format!("{server_url}/api/path/watch?port={port}&protocol=tcp")).await;
        ev.until("the baseline, through the agent", |_| true).await;
        let ns = client.clone();
        let knocks = tokio::task::spawn_blocking(move || knock(&ns, target, 5));
        ev.until("the DNAT rule's counter, read by the agent", |u| {
            moved(u, "nat DOCKER -j DNAT").iter().any(|&n| n >= 5)
        })
        .await;
        knocks.await.unwrap();
        drop(ev);

        // The page: the path's panel watches the same counters and shows them at their hops.
        if let Some(b) = browser::Browser::start().await {
            b.open(&format!("{base_url}/?path=port:{port}/tcp")).await;
            b.until("return !!document.querySelector('#panel-body .paths [data-path-act=watch]')", 20, "the path panel").await;
            b.js("document.querySelector('#panel-body [data-path-act=watch]').click(); return true").await;
            b.until("return !!document.querySelector('#panel-body .hop-counters .ctr')", 20, "the first counters").await;
            let ns = client.clone();
            let knocks = tokio::task::spawn_blocking(move || knock(&ns, target, 5));
            b.until(
                "return [...document.querySelectorAll('#panel-body .hop-counters .ctr')].some(c => /^nat DOCKER -j DNAT: \\+[1-9]/.test(c.textContent))",
                20,
                "the DNAT hop's counter moving on the page",
            )
            .await;
            knocks.await.unwrap();
            assert_eq!(
                b.js("return document.querySelector('#panel-body [data-path-act=watch]').textContent").await,
                Value::String("Stop watching".into())
            );
            assert!(b.console_errors().await.is_empty(), "{:?}", b.console_errors().await);
            b.close().await;
        }

        // Blocked: a DROP in DOCKER-USER counts them, the container's interface no longer does.
        let _drop = Inserted::new(
            "filter",
            "DOCKER-USER",
            &[
                "-d",
                &format!("{web_ip}/32"),
                "-p",
                "tcp",
                "--dport",
                "80",
                "-j",
                "DROP",
            ],
        );
        let deadline = Instant::now() + WAIT;
        loop {
            let path: Value = reqwest::get(format!("{base_url}/api/path?port={port}&protocol=tcp"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if path["paths"][0]["outcome"] == "blocked" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the live path never saw the DROP rule: {path:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut ev = Events::open(&url).await;
        ev.until("the baseline", |_| true).await;
        let ns = client.clone();
        let knocks = tokio::task::spawn_blocking(move || knock(&ns, target, 5));
        let u = ev
            .until("the DROP rule counting the connections", |u| {
                moved(u, "filter DOCKER-USER -j DROP")
                    .iter()
                    .any(|&n| n >= 5)
            })
            .await;
        knocks.await.unwrap();
        // The blocked path ends at the DROP: the kernel confirms that is where packets stop.
        let stops = u["stops"].as_array().unwrap();
        assert_eq!(stops.len(), 1, "{u:#}");
        let text = stops[0]["text"].as_str().unwrap();
        assert!(text.starts_with("packets stop at hop"), "{text}");
        assert!(text.contains("filter DOCKER-USER -j DROP: +"), "{text}");

        // A saved snapshot has no live counters; a question that is not one is refused.
        let saved = reqwest::get(format!("{base_url}/api/path/watch?port={port}&snap=abc"))
            .await
            .unwrap();
        assert_eq!(saved.status().as_u16(), 409);
        let bad = reqwest::get(format!("{base_url}/api/path/watch?port=0"))
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 400);
    });
    drop(lab);
}
