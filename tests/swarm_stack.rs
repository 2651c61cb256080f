//! dockmap deployed the way swarm users deploy it, on the 3-node swarm lab: the image built by
//! deploy/build-image.sh (no pull), loaded into every node's engine, and the repo's
//! deploy/dockmap-stack.yml run by `docker stack deploy` (an agent as a global service, the server
//! on the manager). Then, through the server's published port as a user's browser reaches it: all
//! three nodes fresh, their tasks, the VXLAN tunnels and sandboxes, a container started after the
//! agents (mount propagation), firewall rules read inside container namespaces; and
//! `docker stack rm` leaving nothing but the volume, which is then removed. Needs root and docker.io.
//!
//! The lab's engines use /run/docker-nodeI.sock and exec roots /run/docker-nodeI: the stack file's
//! variables take swarm templates, expanded by each node's engine (`{{.Node.Hostname}}` is nodeI in
//! the lab), so the repo file is deployed unchanged.

use crate::support;
use crate::support::swarm;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use swarm::{LabNode, SwarmLab};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/build-image.sh");
const STACK_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/dockmap-stack.yml");
/// The stack's name, as in the README.
const STACK: &str = "dockmap";
/// The image build-image.sh tags by default and the stack file runs by default.
const IMAGE: &str = concat!("dockmap:", env!("CARGO_PKG_VERSION"));
/// The server's published port (the stack file's default).
const SERVER_PORT: u16 = 7878;
/// The container started once the agents run.
const LATE: &str = "dm-stack-late";

/// The docker CLI to deploy with: Debian's docker.io package's own (20.10, the version the stack
/// file is written for) where it is installed, else the one on PATH. A newer CLI earlier on PATH
/// would hide what 20.10's `docker stack deploy` does with the file (cap_add, init, templates).
fn docker_cli() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

/// Runs the chosen docker CLI against `host` with `env`; Ok(stdout) or Err(what it said).
fn docker_at(host: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let out = Command::new(docker_cli())
        .arg("-H")
        .arg(host)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", docker_cli()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "docker {} ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn docker(node: &LabNode, args: &[&str]) -> String {
    docker_at(node.docker_host(), args, &[]).unwrap_or_else(|e| panic!("on {}: {e}", node.name()))
}

/// Lines of output, trimmed, without empty ones.
fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Removes what the test put on the lab's engines, also when it fails: the stack, the late
/// container, the stack's volume and the image. (The lab's teardown would take them too; this
/// keeps the test's own promise.)
struct StackGuard {
    hosts: Vec<String>,
}

impl StackGuard {
    /// Containers of the stack still on any node.
    fn stack_containers(&self) -> Vec<String> {
        let label = format!("label=com.docker.stack.namespace={STACK}");
        self.hosts
            .iter()
            .flat_map(|h| {
                let out = docker_at(h, &["ps", "-aq", "--filter", &label], &[]);
                lines(&out.unwrap_or_default())
            })
            .collect()
    }
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        let Some(manager) = self.hosts.first() else {
            return;
        };
        let _ = docker_at(manager, &["stack", "rm", STACK], &[]);
        for h in &self.hosts {
            let _ = docker_at(h, &["rm", "-f", LATE], &[]);
        }
        // The engines remove the tasks' containers after the services; a volume in use stays.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.stack_containers().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        for h in &self.hosts {
            let _ = docker_at(h, &["volume", "rm", "-f", &format!("{STACK}_data")], &[]);
            let _ = docker_at(h, &["image", "rm", "-f", IMAGE], &[]);
        }
    }
}

/// The server as a user reaches it: from the underlay (another machine on the nodes' network), at
/// the manager's address and the published port.
struct Server {
    underlay: PathBuf,
    addr: SocketAddrV4,
    /// (key, node name) of every lab node: graphs are read in node names.
    keys: Vec<(String, String)>,
    /// The write token of the stack's tokens secret: the test refreshes.
    token: String,
}

impl Server {
    /// One HTTP/1.0 request with the write token; (status, body). Err when nothing answers (yet).
    fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        self.request_as(method, path, Some(&self.token))
    }

    /// One HTTP/1.0 request with the given token, or none.
    fn request_as(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        swarm::http_in_as(&self.underlay, self.addr, method, path, token)
    }

    /// The graph with each node's key (its swarm node ID's short form) replaced by its name, so
    /// `host:node1` reads as the lab calls it; a host keyed otherwise stays as it is and fails
    /// the checks.
    fn named(&self, v: Value) -> Value {
        match serde_json::from_value::<dockmap::graph::Graph>(v.clone()) {
            Ok(g) => serde_json::to_value(swarm::rename_hosts(&g, &self.keys)).unwrap_or(v),
            Err(_) => v,
        }
    }

    fn get_json(&self, path: &str) -> Option<Value> {
        match self.request("GET", path) {
            Ok((200, body)) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    /// Asks for a new gathering and returns the graph once `ready` holds for it (each round: a
    /// refresh, then the graph as it then is; the agents cache their snapshot for 2 s).
    fn graph_when(&self, what: &str, secs: u64, ready: impl Fn(&Graph) -> bool) -> Graph {
        let mut last = None;
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            swarm::eventually(what, secs, || {
                let _ = self.request("POST", "/api/refresh");
                // A refresh runs in the background: wait for it to end before reading.
                swarm::eventually("the refresh to end", 30, || {
                    let s = self.get_json("/api/status")?;
                    (s["state"] == "ready").then_some(())
                });
                let g = Graph(self.named(self.get_json("/api/graph?hide=")?));
                let ok = ready(&g);
                last = Some(g);
                ok.then(|| last.clone().expect("just set"))
            })
        }));
        match found {
            Ok(g) => g,
            Err(p) => {
                let status = self.get_json("/api/status");
                let hosts = last.map(|g| g.hosts()).unwrap_or_default();
                panic!(
                    "{}\nserver status: {status:#?}\nhosts last seen: {hosts:?}",
                    p.downcast_ref::<String>().cloned().unwrap_or_default()
                )
            }
        }
    }
}

/// `/api/graph`'s answer.
#[derive(Clone)]
struct Graph(Value);

impl Graph {
    fn elements(&self, kind: &str) -> impl Iterator<Item = &Value> {
        let kind = kind.to_string();
        self.0["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |e| e["kind"] == kind.as_str())
    }

    fn has(&self, id: &str) -> bool {
        self.0["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["id"] == id)
    }

    fn edges(&self, kind: &str) -> BTreeSet<(String, String)> {
        self.0["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == kind)
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("source"), s("target"))
            })
            .collect()
    }

    /// host id → node_state.
    fn hosts(&self) -> BTreeMap<String, String> {
        self.elements("host")
            .map(|h| {
                let id = h["id"].as_str().unwrap_or_default().to_string();
                let state = h["attrs"]["node_state"].as_str().unwrap_or("?").to_string();
                (id, state)
            })
            .collect()
    }

    fn all_fresh(&self, names: &[&str]) -> bool {
        let want: BTreeMap<String, String> = names
            .iter()
            .map(|n| (format!("host:{n}"), "fresh".to_string()))
            .collect();
        self.hosts() == want
    }
}

/// `1-` and the first 10 characters of the network's id: its namespace on a node.
fn overlay_netns(node: &LabNode, network: &str) -> String {
    let id = docker(
        node,
        &["network", "inspect", "--format", "{{.Id}}", network],
    );
    format!("1-{}", &id.trim()[..10])
}

/// The file name of a container's SandboxKey: its namespace's name in the snapshot.
fn sandbox_name(node: &LabNode, container: &str) -> String {
    let key = docker(
        node,
        &[
            "inspect",
            "--format",
            "{{.NetworkSettings.SandboxKey}}",
            container,
        ],
    );
    Path::new(key.trim())
        .file_name()
        .expect("a SandboxKey path")
        .to_string_lossy()
        .into_owned()
}

/// The backend of this machine's `iptables` (what the lab's engines program): `nf_tables` or `legacy`.
fn host_iptables_backend() -> String {
    let out = Command::new("iptables")
        .arg("-V")
        .output()
        .expect("run iptables -V");
    let v = String::from_utf8_lossy(&out.stdout);
    if v.contains("legacy") {
        "legacy".into()
    } else {
        "nf_tables".into()
    }
}

/// The namespace `name` of the node snapshot of `host` in `/api/snapshot`'s array.
fn snapshot_namespace<'a>(snaps: &'a [Value], host: &str, name: &str) -> &'a Value {
    let snap = snaps
        .iter()
        .find(|s| s["node"]["hostname"] == host)
        .unwrap_or_else(|| panic!("no snapshot of {host}"));
    snap["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("{host}'s snapshot has no namespace {name}"))
}

/// Embedded-DNS rules were read in this namespace: iptables' nat table with Docker's DOCKER_OUTPUT
/// chain and its DNAT to 127.0.0.11, printed by the host's backend; and its iptables source is ok.
fn assert_dns_rules_read(snaps: &[Value], host: &str, ns_name: &str, backend: &str) {
    let ns = snapshot_namespace(snaps, host, ns_name);
    let fw = &ns["firewall"];
    assert_eq!(fw["backend"], backend, "{host}/{ns_name}: {fw}");
    let nat = fw["ipv4"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "nat")
        .unwrap_or_else(|| panic!("{host}/{ns_name} has no nat table read: {fw}"));
    let texts: Vec<&str> = nat["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("DOCKER_OUTPUT") && t.contains("127.0.0.11")),
        "{host}/{ns_name}: Docker's embedded-DNS rules: {texts:#?}"
    );
    let snap = snaps
        .iter()
        .find(|s| s["node"]["hostname"] == host)
        .expect("that node's snapshot");
    let iptables: Vec<&Value> = snap["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["source"] == "iptables" && s["namespace"] == ns_name)
        .collect();
    assert!(
        iptables.iter().all(|s| s["state"] == "ok"),
        "{host}/{ns_name}: {iptables:#?}"
    );
}

/// Inodes of a node's sandbox files (what its engine mounted in its exec root).
fn sandbox_inodes(node: &LabNode) -> BTreeSet<u64> {
    node.sandboxes()
        .iter()
        .filter_map(|s| std::fs::metadata(node.exec_netns_dir().join(s)).ok())
        .map(|m| m.ino())
        .collect()
}

#[test]
fn stack_file_deploys_agents_and_server_on_the_lab_and_removes_clean() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let started = std::time::Instant::now();
    let lab = SwarmLab::up(3);
    lab.deploy();
    let nodes = lab.nodes();
    let names: Vec<&str> = nodes.iter().map(|n| n.name()).collect();
    let manager = lab.node(1);
    // Dropped before the lab (declared after it): removes what the test deployed, on any failure.
    let guard = StackGuard {
        hosts: nodes.iter().map(|n| n.docker_host().to_string()).collect(),
    };
    let tmp = support::temp_dir("stack");
    let token_file = tmp.path().join("token");
    let tokens_file = tmp.path().join("tokens");
    let tar = tmp.path().join("dockmap.tar");

    // The image: build-image.sh from the test's binary into node1's engine, saved as a tar that
    // the other nodes load, as on a swarm without a registry. It writes the token file too.
    let out = Command::new("bash")
        .arg(BUILD_SCRIPT)
        .arg("--save")
        .arg(&tar)
        .env("DOCKMAP_BIN", BIN)
        .env("DOCKER_HOST", manager.docker_host())
        .env("DOCKMAP_TOKEN_FILE", &token_file)
        .env("DOCKMAP_TOKENS_FILE", &tokens_file)
        .output()
        .expect("run build-image.sh");
    assert!(
        out.status.success(),
        "build-image.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = std::fs::read_to_string(&token_file).expect("build-image.sh wrote the token");
    assert!(token.trim().len() >= 32, "a real token: {token:?}");
    // The page's tokens: one read, one write, each long and different from the agents' token.
    let tokens = std::fs::read_to_string(&tokens_file).expect("build-image.sh wrote the tokens");
    let token_of = |level: &str| -> String {
        tokens
            .lines()
            .find_map(|l| l.strip_prefix(level)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("a {level} token in {tokens:?}"))
            .to_owned()
    };
    let (read_token, write_token) = (token_of("read"), token_of("write"));
    assert!(read_token.len() >= 32 && write_token.len() >= 32 && read_token != write_token);
    for node in &nodes[1..] {
        docker(node, &["load", "-i", &tar.to_string_lossy()]);
    }
    for node in nodes {
        let entry = docker(
            node,
            &[
                "image",
                "inspect",
                "--format",
                "{{json .Config.Entrypoint}}",
                IMAGE,
            ],
        );
        assert_eq!(
            entry.trim(),
            r#"["/usr/bin/dockmap"]"#,
            "{IMAGE} on {}",
            node.name()
        );
    }

    // The repo's stack file, unchanged; the lab's paths come in through its variables.
    let env = [
        (
            "DOCKMAP_TOKEN_FILE",
            token_file.to_str().expect("utf-8 path"),
        ),
        (
            "DOCKMAP_TOKENS_FILE",
            tokens_file.to_str().expect("utf-8 path"),
        ),
        (
            "DOCKMAP_DOCKER_SOCKET",
            "/run/docker-{{.Node.Hostname}}.sock",
        ),
        ("DOCKMAP_EXEC_ROOT", "/run/docker-{{.Node.Hostname}}"),
    ];
    docker_at(
        manager.docker_host(),
        &[
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
            STACK_FILE,
            STACK,
        ],
        &env,
    )
    .expect("docker stack deploy");
    // What 20.10's stack deploy made of cap_add and init: the agent's service spec.
    let spec = docker(
        manager,
        &[
            "service",
            "inspect",
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec}}",
            &format!("{STACK}_agent"),
        ],
    );
    let spec: Value = serde_json::from_str(&spec).expect("a container spec");
    let caps: BTreeSet<&str> = spec["CapabilityAdd"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        caps,
        BTreeSet::from(["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]),
        "cap_add reached the service: {spec}"
    );
    assert_eq!(spec["Init"], true, "init reached the service: {spec}");
    assert_eq!(spec["ReadOnly"], true, "{spec}");

    // The server, as a browser on the nodes' network reaches it: the manager's address, the
    // published port (host mode). All three nodes fresh once every agent answers.
    let server = Server {
        underlay: lab.underlay_netns().to_path_buf(),
        addr: SocketAddrV4::new(manager.underlay_addr(), SERVER_PORT),
        keys: nodes
            .iter()
            .map(|n| (n.key(), n.name().to_owned()))
            .collect(),
        token: write_token.clone(),
    };
    swarm::eventually("the server's published port to answer", 60, || {
        server.get_json("/api/status")
    });
    // The published page is shut to those without a token of the secret: the API answers 401
    // without one or with the agents' token, and a read token may look but not refresh.
    for (token, what) in [
        (None, "no token"),
        (Some(token.trim()), "the agents' token"),
    ] {
        let (status, body) = server
            .request_as("GET", "/api/status", token)
            .expect("answers");
        assert_eq!(status, 401, "{what}: {body}");
    }
    let (status, body) = server
        .request_as("GET", "/api/status", Some(&read_token))
        .expect("answers");
    assert_eq!(status, 200, "read token: {body}");
    let (status, body) = server
        .request_as("POST", "/api/refresh", Some(&read_token))
        .expect("answers");
    assert_eq!(status, 403, "a read token may not refresh: {body}");
    // The agents follow their nodes live: the server's own container, started after node1's
    // agent, is in node1's picture once that agent has seen it start (a second or so).
    let server_ctr = |g: &Graph| {
        g.elements("container").any(|c| {
            c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("ctr:node1/{STACK}_server.1.")))
        })
    };
    let graph = server.graph_when(
        "all three nodes fresh, the server's container on node1",
        60,
        |g| g.all_fresh(&names) && server_ctr(g),
    );
    let status = server.get_json("/api/status").expect("status");
    let agent_entries: Vec<&Value> = status["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["source"] == "agent" || s["source"] == "discovery")
        .collect();
    assert!(agent_entries.is_empty(), "{agent_entries:#?}");

    // Tasks: the sample's three and the agents' one per node, each on the node the manager says,
    // each running the container the node's own agent reported.
    let node_ids: BTreeMap<String, String> = lines(&docker(
        manager,
        &["node", "ls", "--format", "{{.ID}} {{.Hostname}}"],
    ))
    .iter()
    .filter_map(|l| l.split_once(' '))
    .map(|(id, host)| (id.to_string(), host.to_string()))
    .collect();
    let runs = graph.edges("runs");
    for svc in [swarm::SERVICE, &format!("{STACK}_agent")] {
        let parent = format!("svc:{svc}");
        let mut on: BTreeSet<String> = BTreeSet::new();
        for task in graph
            .elements("task")
            .filter(|t| t["parent"] == parent.as_str() && t["attrs"]["state"] == "running")
        {
            let host = node_ids
                .get(task["attrs"]["node_id"].as_str().unwrap_or_default())
                .unwrap_or_else(|| panic!("task on an unknown node: {task}"));
            let tid = task["id"].as_str().unwrap_or_default();
            assert!(
                runs.iter()
                    .any(|(t, c)| t == tid && c.starts_with(&format!("ctr:{host}/"))),
                "{tid} of {svc} runs a container on {host}"
            );
            on.insert(host.clone());
        }
        let all: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(on, all, "running tasks of {svc}");
    }
    // The server's task, on the manager.
    assert!(server_ctr(&graph), "the server's container on node1");

    // Sandboxes and tunnels: every node's ingress_sbox and lab-overlay namespace, and that
    // overlay's vxlan0 forwarding to each other node's.
    let overlay = overlay_netns(manager, swarm::OVERLAY);
    for node in nodes {
        for sb in ["ingress_sbox", overlay.as_str()] {
            let id = format!("netns:{}/{sb}", node.name());
            assert!(graph.has(&id), "{id} shown");
        }
    }
    let fdb = graph.edges("fdb");
    for a in &names {
        for b in names.iter().filter(|b| *b != a) {
            let edge = (
                format!("if:{a}/{overlay}/vxlan0"),
                format!("if:{b}/{overlay}/vxlan0"),
            );
            assert!(fdb.contains(&edge), "VXLAN tunnel {edge:?} in {fdb:#?}");
        }
    }

    // Each agent read its own node's sandboxes only (every namespace it reported besides the
    // host's is a file of its node's exec root).
    let snaps = server
        .get_json("/api/snapshot")
        .expect("the node snapshots");
    let snaps = snaps.as_array().expect("one snapshot per node").clone();
    assert_eq!(snaps.len(), 3);
    for node in nodes {
        let own = sandbox_inodes(node);
        let snap = snaps
            .iter()
            .find(|s| s["node"]["hostname"] == node.name())
            .expect("the node's snapshot");
        for ns in snap["namespaces"].as_array().into_iter().flatten() {
            if ns["role"] == "host" {
                continue;
            }
            let ino = ns["id"]["ino"].as_u64().expect("an inode");
            assert!(
                own.contains(&ino),
                "{}: {} is not one of its sandboxes",
                node.name(),
                ns["name"]
            );
        }
    }

    // Firewall: rules read inside container namespaces with the host's backend (lab-plain on
    // node2 sits on a user overlay, so its namespace holds Docker's embedded-DNS rules), and no
    // tool was missing anywhere.
    let backend = host_iptables_backend();
    let node2 = lab.node(2);
    let plain_ns = sandbox_name(node2, swarm::PLAIN_CONTAINER);
    assert_dns_rules_read(&snaps, node2.name(), &plain_ns, &backend);
    for snap in &snaps {
        let missing: Vec<&Value> = snap["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not found"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{}: {missing:#?}",
            snap["node"]["hostname"]
        );
    }

    // A container started now, on node3 (which had no endpoint on the attachable overlay): its
    // sandbox and the overlay's namespace are mounted after the agent started, and reach it only
    // through the exec root's rslave propagation.
    let node3 = lab.node(3);
    docker(
        node3,
        &[
            "run",
            "-d",
            "--name",
            LATE,
            "--network",
            swarm::ATTACHABLE,
            "--stop-timeout",
            "1",
            "dockmap-lab/busybox:latest",
            "sleep",
            "600",
        ],
    );
    let late_ns = sandbox_name(node3, LATE);
    let attach = overlay_netns(node3, swarm::ATTACHABLE);
    let late_ctr = format!("ctr:node3/{LATE}");
    let late_netns = format!("netns:node3/{late_ns}");
    let graph = server.graph_when("the late container's sandbox on node3", 60, |g| {
        g.edges("sandbox")
            .contains(&(late_ctr.clone(), late_netns.clone()))
    });
    assert!(graph.all_fresh(&names), "{:?}", graph.hosts());
    let attach_id = format!("netns:node3/{attach}");
    assert!(
        graph.has(&attach_id),
        "{attach_id}, the overlay new on node3"
    );
    let snaps = server
        .get_json("/api/snapshot")
        .expect("the node snapshots");
    let snaps = snaps.as_array().expect("one snapshot per node").clone();
    assert_dns_rules_read(&snaps, node3.name(), &late_ns, &backend);

    // `docker stack rm`: no service, container, network or secret of the stack is left on any
    // node; the volume is, by Docker's design, until removed.
    docker(manager, &["stack", "rm", STACK]);
    let label = format!("label=com.docker.stack.namespace={STACK}");
    swarm::eventually("the stack's containers to go", 60, || {
        guard.stack_containers().is_empty().then_some(())
    });
    swarm::eventually("the stack's networks to go", 60, || {
        nodes
            .iter()
            .all(|n| {
                docker(n, &["network", "ls", "-q", "--filter", &label])
                    .trim()
                    .is_empty()
            })
            .then_some(())
    });
    assert_eq!(
        docker(manager, &["service", "ls", "-q", "--filter", &label]).trim(),
        ""
    );
    assert_eq!(
        docker(manager, &["secret", "ls", "-q", "--filter", &label]).trim(),
        ""
    );
    let volume = format!("{STACK}_data");
    let volumes = docker(
        manager,
        &["volume", "ls", "-q", "--filter", &format!("name={volume}")],
    );
    assert_eq!(
        lines(&volumes),
        vec![volume.clone()],
        "the volume stays after stack rm"
    );
    docker(manager, &["volume", "rm", &volume]);
    for node in nodes {
        let left = docker(
            node,
            &["volume", "ls", "-q", "--filter", &format!("name={volume}")],
        );
        assert!(left.trim().is_empty(), "{} still has {left}", node.name());
    }
    docker(node3, &["rm", "-f", LATE]);
    for node in nodes {
        docker(node, &["image", "rm", IMAGE]);
    }

    drop(guard);
    lab.down().expect("teardown succeeds");
    let left = swarm::leftovers();
    assert!(left.is_empty(), "left after teardown: {left:#?}");
    println!("swarm_stack: {:.1} s", started.elapsed().as_secs_f64());
}
