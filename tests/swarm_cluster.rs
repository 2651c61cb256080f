//! The real multi-node path: one `dockmap agent` inside each node of the swarm lab, the cluster
//! gatherer fetching them over the lab's underlay, and the cross-node graph checked against what
//! the engines and the kernels say. Then a stopped agent (stale), a wrong token (unauthorized), and
//! figures for gather + build at 3 live agents (printed; how it grows to 10 agents is measured by
//! `cargo bench --bench cluster`). Needs root and docker.io.
//!
//! The "server" side runs in the underlay namespace (`dmlab-ul`), on a fresh thread with a
//! current-thread runtime: the nodes' underlay addresses are reachable only from there, and so the
//! test changes nothing in the root namespace (no veth or route that a killed run could leave).

use crate::support;
use crate::support::swarm;

use crate::support::browser;

use crate::support::agents;

use agents::{write_node, FileAgent};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockmap::agent::{HEALTH_PATH, SNAPSHOT_PATH};
use dockmap::cluster::{AgentList, ClusterOptions, Gatherer};
use dockmap::collect::node::NodeOptions;
use dockmap::graph::{build_cluster, EdgeKind, ElementKind, Graph};
use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot, NodeState};

use swarm::{LabNode, SwarmLab};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
const AGENT_PORT: u16 = 7879;
/// Deadline of the gatherer that meets the stopped agent.
const SHORT_DEADLINE: Duration = Duration::from_secs(2);
/// Far above any real gather here, far below "hangs on the stopped agent".
const SLACK: Duration = Duration::from_secs(10);
/// Deadline when every agent is expected to answer.
const DEADLINE: Duration = Duration::from_secs(10);
/// The agents' cache lives 2 s; waiting longer makes the next request collect anew.
const AGENT_CACHE_EXPIRED: Duration = Duration::from_millis(2100);
const RUNS: usize = 5;

/// A running `dockmap agent`; dropping it kills it, also when it is stopped.
struct Agent {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Agent {
        let out = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start the agent for {name}: {e}"));
        Agent {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too; SIGCONT first so nothing waits on it half-stopped.
        // SAFETY: kill with the pid of our unreaped child; an error (already gone) does not matter.
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether every thread of `pid` is in the stopped state (`T` in /proc/PID/task/TID/stat).
fn all_threads_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(|t| t.ok()).all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The state follows the parenthesised command name, which may itself hold spaces.
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|s| s == 'T' || s == 't')
    })
}

/// Every agent's log, for failure messages.
fn read_logs(files: &[(String, PathBuf)]) -> String {
    files
        .iter()
        .map(|(name, log)| {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            format!("--- agent {name} ---\n{text}")
        })
        .collect()
}

/// Starts the agent of a lab node inside the node (its namespaces, its engine, its sandboxes).
fn start_node_agent(node: &LabNode, token_file: &Path, dir: &Path) -> Agent {
    let mut cmd = node.exec_command(BIN);
    cmd.arg("agent")
        .arg("--docker")
        .arg(node.docker_host())
        .arg("--netns-dir")
        .arg(node.exec_netns_dir())
        .arg("--node-name")
        .arg(node.name())
        .arg("--token-file")
        .arg(token_file)
        .arg("--listen")
        .arg(format!("{}:{AGENT_PORT}", node.underlay_addr()));
    let agent = Agent::spawn(node.name(), cmd, dir.join(format!("{}.log", node.name())));
    // The script and nsenter exec in place: the child becomes the agent itself, so that the
    // SIGSTOP below stops the agent and not a wrapper around it.
    let bin = std::fs::canonicalize(BIN).unwrap();
    swarm::eventually(
        &format!("the agent of {} to replace its launcher", node.name()),
        10,
        || {
            let exe = std::fs::read_link(format!("/proc/{}/exe", agent.pid())).ok()?;
            (exe == bin).then_some(())
        },
    );
    agent
}

fn url_of(node: &LabNode) -> String {
    format!("http://{}:{AGENT_PORT}", node.underlay_addr())
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Waits until every URL answers its health check; `logs` says why not if one never does.
async fn wait_healthy(urls: &[String], logs: impl Fn() -> String) {
    let client = http_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    for url in urls {
        loop {
            let r = client.get(format!("{url}{HEALTH_PATH}")).send().await;
            if r.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "agent at {url} never became healthy\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn options(agents: AgentList, token: &str, deadline: Duration) -> ClusterOptions {
    ClusterOptions {
        agents,
        deadline,
        token: Some(token.to_string()),
        ..Default::default()
    }
}

fn names_states(c: &ClusterSnapshot) -> Vec<(String, NodeState, String)> {
    c.nodes
        .iter()
        .map(|n| (n.name.clone(), n.state, n.error.clone()))
        .collect()
}

fn assert_all_fresh(c: &ClusterSnapshot, names: &[&str], what: &str) {
    let got: Vec<(String, NodeState)> = c.nodes.iter().map(|n| (n.name.clone(), n.state)).collect();
    let want: Vec<(String, NodeState)> = names
        .iter()
        .map(|n| (n.to_string(), NodeState::Fresh))
        .collect();
    assert_eq!(got, want, "{what}: {:?}", names_states(c));
    for n in &c.nodes {
        let snap = n.snapshot.as_ref().expect("a fresh node has its snapshot");
        assert_eq!(
            snap.node.hostname, n.name,
            "{what}: the snapshot is the node's own"
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// What the server saw, gathered in the underlay namespace.
struct Seen {
    first: ClusterSnapshot,
    auto: ClusterSnapshot,
    /// How long the gather that met the stopped agent took.
    stopped_took: Duration,
    timings: Timings,
}

struct Timings {
    live_total: Duration,
    live_build: Duration,
    cached_total: Duration,
    elements: usize,
    edges: usize,
}

/// Runs the server's side in the underlay namespace: gathers, the stopped agent, the wrong token.
fn serve_from_underlay(lab: &SwarmLab, agents: &[Agent], token: &str) -> Seen {
    let urls: Vec<String> = lab.nodes().iter().map(url_of).collect();
    let names: Vec<String> = lab.nodes().iter().map(|n| n.name().to_string()).collect();
    let manager = lab.node(1).docker_host().to_string();
    let stopped_pid = agents[1].pid();
    let stopped_name = agents[1].name.clone();
    let log_files: Vec<(String, PathBuf)> = agents
        .iter()
        .map(|a| (a.name.clone(), a.log.clone()))
        .collect();
    let token = token.to_string();
    swarm::run_in_netns(lab.underlay_netns(), move || {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let rt = current_thread_runtime();
        rt.block_on(wait_healthy(&urls, || read_logs(&log_files)));

        // The agents by URL: every node answers, each with its own snapshot.
        let g = Gatherer::new(options(AgentList::Urls(urls.clone()), &token, DEADLINE)).unwrap();
        let first = rt.block_on(g.gather());
        assert_all_fresh(&first, &names, "agents by URL");

        // Found from the manager's node list: the same nodes, at their underlay addresses.
        let mut auto_opts = options(
            AgentList::Auto {
                port: AGENT_PORT,
                scheme: "http".into(),
            },
            &token,
            DEADLINE,
        );
        auto_opts.local = NodeOptions {
            docker: Some(manager),
            ..Default::default()
        };
        let auto = rt.block_on(Gatherer::new(auto_opts).unwrap().gather());
        assert_all_fresh(&auto, &names, "agents found from node1's node list");
        let sources: Vec<&str> = auto.nodes.iter().map(|n| n.source.as_str()).collect();
        assert_eq!(
            sources, urls,
            "auto discovery asks each node at its underlay address"
        );

        // A stopped agent: the gather still ends at its deadline; that node keeps its last
        // snapshot, marked stale, and the others stay fresh.
        let short = Gatherer::new(options(
            AgentList::Urls(urls.clone()),
            &token,
            SHORT_DEADLINE,
        ))
        .unwrap();
        let before = rt.block_on(short.gather());
        assert_all_fresh(&before, &names, "before stopping an agent");
        // SAFETY: kill with the pid of a child the caller holds unreaped.
        assert_eq!(unsafe { libc::kill(stopped_pid, libc::SIGSTOP) }, 0);
        // kill() only queues the stop: on a loaded machine a thread of the agent can still
        // answer before it reaches the stop, so wait until every thread is seen stopped.
        swarm::eventually("the agent's threads to stop", 10, || {
            all_threads_stopped(stopped_pid).then_some(())
        });
        let started = Instant::now();
        let during = rt.block_on(short.gather());
        let took = started.elapsed();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::kill(stopped_pid, libc::SIGCONT) }, 0);
        assert!(
            took < SHORT_DEADLINE + SLACK,
            "a gather with a {SHORT_DEADLINE:?} deadline took {took:?}"
        );
        let mut stale_key = String::new();
        for n in &during.nodes {
            if n.name == stopped_name {
                assert_eq!(n.state, NodeState::Stale, "{:?}", names_states(&during));
                assert!(n.error.contains("no answer within"), "{}", n.error);
                let kept = n
                    .snapshot
                    .as_ref()
                    .expect("a stale node keeps its snapshot");
                assert_eq!(kept.node.hostname, stopped_name);
                stale_key = dockmap::graph::ids::host_key(kept);
            } else {
                assert_eq!(n.state, NodeState::Fresh, "{:?}", names_states(&during));
            }
        }
        let graph = build_cluster(&during);
        let stale_host = format!("host:{stale_key}");
        let host = element(&graph, &stale_host);
        assert_eq!(host.attrs["node_state"], "stale");
        assert!(
            graph
                .findings
                .iter()
                .any(|f| f.code == "agent-not-answering" && f.elements == [stale_host.clone()]),
            "the stale node is a finding: {:?}",
            codes(&graph)
        );
        let resumed = rt.block_on(short.gather());
        assert_all_fresh(&resumed, &names, "after the agent continued");

        // A wrong token: 401 and nothing of the snapshot; the gatherer says unauthorized.
        let client = http_client();
        for bearer in [Some("wrong-token"), None] {
            let mut req = client.get(format!("{}{SNAPSHOT_PATH}", urls[0]));
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            let resp = rt.block_on(req.send()).unwrap();
            assert_eq!(resp.status(), 401, "token {bearer:?}");
            let body = rt.block_on(resp.text()).unwrap();
            for secret in ["node1", "namespaces", "schema", "198.19."] {
                assert!(
                    !body.contains(secret),
                    "401 body reveals {secret:?}: {body}"
                );
            }
        }
        let wrong = Gatherer::new(options(
            AgentList::Urls(urls.clone()),
            "wrong-token",
            DEADLINE,
        ))
        .unwrap();
        let refused = rt.block_on(wrong.gather());
        assert_eq!(refused.nodes.len(), 3);
        for n in &refused.nodes {
            assert_eq!(
                n.state,
                NodeState::Unauthorized,
                "{:?}",
                names_states(&refused)
            );
            assert!(n.snapshot.is_none(), "no snapshot for {}", n.source);
        }

        // Figures: a gather that makes every agent collect anew, then one the agents answer
        // from their cache; each with the graph built.
        let (mut live, mut build, mut cached) = (Vec::new(), Vec::new(), Vec::new());
        let (mut elements, mut edges) = (0, 0);
        for _ in 0..RUNS {
            std::thread::sleep(AGENT_CACHE_EXPIRED);
            let t0 = Instant::now();
            let c = rt.block_on(g.gather());
            let t1 = Instant::now();
            let graph = build_cluster(&c);
            let t2 = Instant::now();
            assert_all_fresh(&c, &names, "timed gather");
            (elements, edges) = (graph.elements.len(), graph.edges.len());
            live.push(t2 - t0);
            build.push(t2 - t1);
            let t0 = Instant::now();
            let c = rt.block_on(g.gather());
            let graph = build_cluster(&c);
            cached.push(t0.elapsed());
            assert_eq!(graph.elements.len(), elements);
        }
        Seen {
            first,
            auto,
            stopped_took: took,
            timings: Timings {
                live_total: median(live),
                live_build: median(build),
                cached_total: median(cached),
                elements,
                edges,
            },
        }
    })
}

fn element<'a>(g: &'a Graph, id: &str) -> &'a dockmap::graph::Element {
    g.elements
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no element {id}"))
}

fn codes(g: &Graph) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for f in &g.findings {
        *m.entry(f.code.as_str()).or_default() += 1;
    }
    m
}

/// The engine's placement of the service's running tasks: task ID → node hostname, and the
/// node hostname of every swarm node ID.
fn placement(manager: &LabNode) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let ps = manager.docker(&[
        "service",
        "ps",
        swarm::SERVICE,
        "--no-trunc",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.ID}} {{.Node}}",
    ]);
    let tasks = ps
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, node)| (id.to_string(), node.to_string()))
        .collect();
    let ls = manager.docker(&["node", "ls", "--format", "{{.ID}} {{.Hostname}}"]);
    let nodes = ls
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, host)| (id.to_string(), host.to_string()))
        .collect();
    (tasks, nodes)
}

/// The tunnels the kernels hold: (overlay namespace, from node, to node) for every FDB entry of
/// every node's `vxlan0` that points at another node's underlay address.
fn kernel_tunnels(lab: &SwarmLab) -> BTreeSet<(String, String, String)> {
    let by_addr: BTreeMap<String, String> = lab
        .nodes()
        .iter()
        .map(|n| (n.underlay_addr().to_string(), n.name().to_string()))
        .collect();
    let mut out = BTreeSet::new();
    for node in lab.nodes() {
        for sb in node.sandboxes().into_iter().filter(|s| s.starts_with("1-")) {
            let fdb = node.in_sandbox(&sb, &["bridge", "fdb", "show", "dev", "vxlan0"]);
            for line in fdb.lines() {
                let mut words = line.split_whitespace();
                if words.any(|w| w == "dst") {
                    let dst = words.next().unwrap_or_default();
                    let to = by_addr.get(dst).unwrap_or_else(|| {
                        panic!("{} {sb}: FDB dst {dst} is no lab node", node.name())
                    });
                    out.insert((sb.clone(), node.name().to_string(), to.clone()));
                }
            }
        }
    }
    out
}

/// The cross-node graph against the engines' placement and the kernels' FDBs.
fn check_graph(g: &Graph, lab: &SwarmLab) {
    let manager = lab.node(1);
    let hosts: BTreeSet<&str> = g
        .elements
        .iter()
        .filter(|e| e.kind == ElementKind::Host)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(hosts, ["host:node1", "host:node2", "host:node3"].into());

    // Every running task of the service runs a container on exactly the node the engine chose.
    let (tasks, node_ids) = placement(manager);
    assert_eq!(tasks.len(), 3, "three running tasks: {tasks:?}");
    let running: BTreeSet<&str> = g
        .elements
        .iter()
        .filter(|e| e.kind == ElementKind::Task && e.parent.as_deref() == Some("svc:web"))
        .filter(|e| e.attrs["desired_state"] == "running")
        .map(|e| e.id.trim_start_matches("task:"))
        .collect();
    assert_eq!(
        running,
        tasks.keys().map(String::as_str).collect(),
        "the graph's running tasks of web are the engine's"
    );
    for (task, node) in &tasks {
        let tid = format!("task:{task}");
        let el = element(g, &tid);
        assert_eq!(el.kind, ElementKind::Task);
        assert_eq!(el.parent.as_deref(), Some("svc:web"));
        let node_id = el.attrs["node_id"].as_str().unwrap_or_default();
        assert_eq!(
            node_ids.get(node_id),
            Some(node),
            "{tid}'s NodeID is {node}'s"
        );
        let runs: Vec<&str> = g
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Runs && e.source == tid)
            .map(|e| e.target.as_str())
            .collect();
        assert_eq!(runs.len(), 1, "{tid} runs one container: {runs:?}");
        let ctr = runs[0];
        // Swarm names a task's container <service>.<slot>.<task id>.
        assert!(
            ctr.starts_with(&format!("ctr:{node}/web.")) && ctr.ends_with(task.as_str()),
            "{tid} placed on {node} runs {ctr}"
        );
        assert_eq!(element(g, ctr).kind, ElementKind::Container);
    }

    // Every tunnel the kernels hold is an fdb edge between the two nodes' vxlan interfaces.
    let tunnels = kernel_tunnels(lab);
    let overlay_id = manager.docker(&["network", "inspect", "--format", "{{.Id}}", swarm::OVERLAY]);
    let overlay_ns = format!("1-{}", &overlay_id.trim()[..10]);
    for a in lab.nodes() {
        for b in lab.nodes().iter().filter(|b| b.name() != a.name()) {
            let t = (
                overlay_ns.clone(),
                a.name().to_string(),
                b.name().to_string(),
            );
            assert!(
                tunnels.contains(&t),
                "the kernels tunnel {t:?}: {tunnels:?}"
            );
        }
    }
    let fdb_edges: BTreeSet<(&str, &str)> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Fdb)
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    for (ns, from, to) in &tunnels {
        let edge = (
            format!("if:{from}/{ns}/vxlan0"),
            format!("if:{to}/{ns}/vxlan0"),
        );
        assert!(
            fdb_edges.contains(&(edge.0.as_str(), edge.1.as_str())),
            "no fdb edge {edge:?}; fdb edges: {fdb_edges:?}"
        );
    }
    let derived: BTreeSet<(String, String, String)> = fdb_edges
        .iter()
        .map(|(s, t)| {
            let parts = |id: &str| -> Vec<String> {
                id.trim_start_matches("if:")
                    .split('/')
                    .map(str::to_string)
                    .collect()
            };
            let (s, t) = (parts(s), parts(t));
            assert_eq!(s.len(), 3, "fdb edge from {s:?}");
            assert_eq!(
                t.len(),
                3,
                "fdb edge to {t:?}: every destination is a node's vxlan"
            );
            assert_eq!(s[1], t[1], "a tunnel joins one overlay's namespaces");
            (s[1].clone(), s[0].clone(), t[0].clone())
        })
        .collect();
    assert_eq!(
        derived, tunnels,
        "the graph's tunnels are the kernels' tunnels"
    );
    assert!(!g.elements.iter().any(|e| e.kind == ElementKind::Remote));

    let found = codes(g);
    for node in lab.nodes() {
        let host = format!("host:{}", node.name());
        let sbox = format!("netns:{}/ingress_sbox", node.name());
        let el = element(g, &sbox);
        assert_eq!(el.kind, ElementKind::Netns);
        assert_eq!(el.parent.as_deref(), Some(host.as_str()));
        assert_eq!(el.attrs["role"], "ingress-sandbox");
        assert!(
            g.findings.iter().any(|f| f.code == "ipvs-unavailable"
                && f.elements.first() == Some(&host)
                && f.elements.contains(&sbox)),
            "ipvs-unavailable for {host}: {found:?}"
        );
    }
    for node in lab.nodes() {
        check_node_sandboxes(g, node);
    }
    check_service_vips(g, manager);
    for code in [
        "veth-peer-missing",
        "fdb-unknown-destination",
        "fdb-mac-missing",
        "overlay-mtu-too-big",
        "agent-not-answering",
    ] {
        assert!(!found.contains_key(code), "{code}: {:?}", g.findings);
    }
}

/// Edges of `kind` from `source` to `target` (None: any).
fn edges_of<'a>(
    g: &'a Graph,
    kind: EdgeKind,
    source: Option<&str>,
    target: Option<&str>,
) -> Vec<&'a dockmap::graph::Edge> {
    g.edges
        .iter()
        .filter(|e| e.kind == kind)
        .filter(|e| source.is_none_or(|s| e.source == s))
        .filter(|e| target.is_none_or(|t| e.target == t))
        .collect()
}

/// The other end of the interface's veth-pair edge (the builder orders a pair's ends by ID).
fn veth_peer<'a>(g: &'a Graph, interface: &str) -> &'a str {
    let peers: Vec<&str> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::VethPair)
        .filter_map(|e| {
            if e.source == interface {
                Some(e.target.as_str())
            } else if e.target == interface {
                Some(e.source.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(peers.len(), 1, "{interface} has one veth peer: {peers:?}");
    peers[0]
}

/// The bridge an interface is a port of (its bridge-port edge).
fn bridge_of<'a>(g: &'a Graph, interface: &str) -> &'a str {
    let bridges = edges_of(g, EdgeKind::BridgePort, Some(interface), None);
    assert_eq!(bridges.len(), 1, "{interface} is a port of one bridge");
    bridges[0].target.as_str()
}

/// The interface that carries `network` on `node` (its `carries` edge there).
fn carrier_on<'a>(g: &'a Graph, network: &str, node: &str) -> &'a str {
    let prefix = format!("if:{node}/");
    let carriers: Vec<&str> = edges_of(g, EdgeKind::Carries, Some(network), None)
        .into_iter()
        .map(|e| e.target.as_str())
        .filter(|t| t.starts_with(&prefix))
        .collect();
    assert_eq!(
        carriers.len(),
        1,
        "{network} is carried by one interface on {node}: {carriers:?}"
    );
    carriers[0]
}

/// An endpoint edge's `ip`, which must be there.
fn endpoint_ip(e: &dockmap::graph::Edge) -> String {
    let ip = e
        .attrs
        .get("ip")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    assert!(
        !ip.is_empty(),
        "endpoint {} carries an IP: {:?}",
        e.id,
        e.attrs
    );
    ip.split('/').next().unwrap_or_default().to_string()
}

/// One node's swarm sandboxes as the engine and the kernel wired them: ingress_sbox on the ingress
/// network (eth0, its peer in the ingress overlay's br0) and on docker_gwbridge (eth1, its peer a
/// port of the node's docker_gwbridge); the overlay's load-balancer sandbox; the containers'
/// overlay endpoints with the IPs the engine gave them.
fn check_node_sandboxes(g: &Graph, node: &LabNode) {
    let n = node.name();
    let host = format!("host:{n}");
    let sbox = format!("netns:{n}/ingress_sbox");

    let gw_net = format!("net:{n}/docker_gwbridge");
    assert_eq!(element(g, &gw_net).kind, ElementKind::Network);
    let gw_bridge = carrier_on(g, &gw_net, n);
    assert!(
        gw_bridge.ends_with("/docker_gwbridge"),
        "{gw_net} is carried by its bridge: {gw_bridge}"
    );
    let ingress_br0 = carrier_on(g, "net:ingress", n);
    assert!(ingress_br0.ends_with("/br0"), "{ingress_br0}");

    // ingress_sbox is an endpoint of both networks it sits on.
    for net in ["net:ingress", gw_net.as_str()] {
        let eps = edges_of(g, EdgeKind::Endpoint, Some(&sbox), Some(net));
        assert_eq!(eps.len(), 1, "{sbox} is an endpoint of {net}");
        endpoint_ip(eps[0]);
    }
    // eth1's peer is a port of this node's docker_gwbridge; eth0's is a port of the ingress br0.
    let eth1_peer = veth_peer(g, &format!("if:{n}/ingress_sbox/eth1"));
    assert_eq!(
        bridge_of(g, eth1_peer),
        gw_bridge,
        "{n}: ingress_sbox eth1's peer {eth1_peer}"
    );
    let eth0_peer = veth_peer(g, &format!("if:{n}/ingress_sbox/eth0"));
    assert_eq!(
        bridge_of(g, eth0_peer),
        ingress_br0,
        "{n}: ingress_sbox eth0's peer {eth0_peer}"
    );

    // The overlay's load balancer sandbox (lb_<network id prefix>) is an endpoint of the overlay.
    let overlay = format!("net:{}", swarm::OVERLAY);
    let lb: Vec<&dockmap::graph::Edge> = edges_of(g, EdgeKind::Endpoint, None, Some(&overlay))
        .into_iter()
        .filter(|e| e.source.starts_with(&format!("netns:{n}/lb_")))
        .collect();
    assert_eq!(lb.len(), 1, "{n} has one lb_ sandbox on {overlay}");
    endpoint_ip(lb[0]);
    let lb_ns = element(g, &lb[0].source);
    assert_eq!(lb_ns.parent.as_deref(), Some(host.as_str()));
    assert_eq!(lb_ns.attrs["role"], "load-balancer");

    // Every container's overlay endpoints carry the IPs the engine reports for them.
    let names = node.docker(&["ps", "--format", "{{.Names}}"]);
    let mut checked = 0;
    for name in names.lines() {
        let ctr = format!("ctr:{n}/{name}");
        for net in [swarm::OVERLAY, swarm::ATTACHABLE] {
            let want = node.docker(&[
                "inspect",
                "--format",
                &format!("{{{{with index .NetworkSettings.Networks \"{net}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}"),
                name,
            ]);
            let want = want.trim();
            if want.is_empty() {
                continue;
            }
            let eps = edges_of(
                g,
                EdgeKind::Endpoint,
                Some(&ctr),
                Some(&format!("net:{net}")),
            );
            assert_eq!(eps.len(), 1, "{ctr} is an endpoint of {net}");
            assert_eq!(endpoint_ip(eps[0]), want, "{ctr} on {net}");
            checked += 1;
        }
    }
    assert!(checked >= 1, "{n} has a container on an overlay");
}

/// The service's virtual IPs as the manager reports them, on the graph's service element.
fn check_service_vips(g: &Graph, manager: &LabNode) {
    let svc = element(g, &format!("svc:{}", swarm::SERVICE));
    let vips = svc.attrs["virtual_ips"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!vips.is_empty(), "svc:web has virtual IPs: {:?}", svc.attrs);
    let overlay_id = manager.docker(&["network", "inspect", "--format", "{{.Id}}", swarm::OVERLAY]);
    let want = manager.docker(&[
        "service",
        "inspect",
        "--format",
        "{{range .Endpoint.VirtualIPs}}{{.NetworkID}} {{.Addr}}\n{{end}}",
        swarm::SERVICE,
    ]);
    let on_overlay = want
        .lines()
        .find_map(|l| l.strip_prefix(overlay_id.trim())?.split_whitespace().next())
        .unwrap_or_else(|| panic!("the engine gives web a VIP on the overlay: {want}"));
    assert!(
        vips.iter()
            .any(|v| v["addr"] == on_overlay && v["network_id"] == overlay_id.trim()),
        "svc:web's virtual_ips {vips:?} hold the engine's {on_overlay} on {}",
        swarm::OVERLAY
    );
}

/// The three nodes' real snapshots, served by agents on loopback to `dockmap serve`'s router in
/// cluster mode, in a real browser: three hosts and a VXLAN tunnel are drawn.
fn browser_shows_the_nodes_and_a_tunnel(
    snaps: &[&NodeSnapshot],
    dir: &Path,
    token_file: &Path,
    token: &str,
) {
    let agents: Vec<FileAgent> = snaps
        .iter()
        .map(|snap| {
            let name = format!("browser-{}", snap.node.hostname);
            let file = write_node(dir, &name, snap);
            FileAgent::start(&file, token_file, &dir.join(format!("{name}.log")))
        })
        .collect();
    let urls: Vec<String> = agents.iter().map(|a| a.url.clone()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        wait_healthy(&urls, || agents.iter().map(FileAgent::log_text).collect()).await;
        let state = dockmap::web::AppState::gathering(Gatherer::new(options(AgentList::Urls(urls.clone()), token, DEADLINE)).unwrap());
        state.refresh();
        let url = browser::serve(dockmap::web::router(state)).await;
        let Some(b) = browser::Browser::start().await else { return };
        b.open(&url).await;
        let hosts: Vec<String> = snaps
            .iter()
            .map(|s| format!("host:{}", dockmap::graph::ids::host_key(s)))
            .collect();
        b.until(
            &format!(
                "return {}.every(id => document.querySelector(`#map [data-id=\"${{CSS.escape(id)}}\"]`))",
                serde_json::to_string(&hosts).unwrap()
            ),
            30,
            "the three nodes to be drawn",
        )
        .await;
        b.until("return document.querySelectorAll('#map path.e.k-fdb').length > 0", 30, "a VXLAN tunnel to be drawn").await;
        let ends = b.js("return [...document.querySelectorAll('#map path.e.k-fdb')].map(p => [p.dataset.s, p.dataset.t])").await;
        let crosses = ends.as_array().unwrap().iter().any(|p| {
            let host = |v: &serde_json::Value| v.as_str().unwrap_or("").split('/').next().unwrap_or("").replace("if:", "host:");
            host(&p[0]) != host(&p[1])
        });
        assert!(crosses, "a tunnel joins two different nodes: {ends}");
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.close().await;
    });
    drop(agents);
}

#[test]
fn agents_on_every_node_gather_into_one_swarm_graph() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let started = Instant::now();
    let lab = SwarmLab::up(3);
    lab.deploy();
    let dir = support::temp_dir("swarm-cluster");
    let token = format!(
        "dmt{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();

    let agents: Vec<Agent> = lab
        .nodes()
        .iter()
        .map(|n| start_node_agent(n, &token_file, dir.path()))
        .collect();
    let seen = serve_from_underlay(&lab, &agents, &token);

    let graph = swarm::by_node_names(&build_cluster(&seen.first), &lab);
    println!("cluster graph findings: {:?}", codes(&graph));
    check_graph(&graph, &lab);
    let auto_hosts: BTreeSet<String> = build_cluster(&seen.auto)
        .elements
        .into_iter()
        .filter(|e| e.kind == ElementKind::Host)
        .map(|e| e.id)
        .collect();
    assert_eq!(auto_hosts.len(), 3, "{auto_hosts:?}");
    drop(agents);

    let snaps = seen.first.snapshots();
    browser_shows_the_nodes_and_a_tunnel(&snaps, dir.path(), &token_file, &token);

    let t = &seen.timings;
    println!(
        "cluster figures: 3 live agents (swarm lab, debug build), gather + merge + build_cluster, median of {RUNS}: \
         {} with every agent collecting anew (build_cluster alone {}), {} answered from the agents' 2 s cache; \
         graph {} elements, {} edges",
        ms(t.live_total),
        ms(t.live_build),
        ms(t.cached_total),
        t.elements,
        t.edges
    );
    println!(
        "cluster figures: the gather that met the stopped agent (deadline {SHORT_DEADLINE:?}) returned after {}",
        ms(seen.stopped_took)
    );

    lab.down().unwrap();
    let left = swarm::leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    println!("swarm_cluster took {:?}", started.elapsed());
}
