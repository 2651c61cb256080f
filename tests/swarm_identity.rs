//! Node identity on the real 3-node lab whose engines all keep this machine's one hostname (as
//! cloned VMs and cloud images do): `dockmap agent` in every node, `dockmap serve --agents
//! URL1,URL2,URL3` as a user runs it, and the page's API checked against the engines: three hosts
//! keyed by their swarm node IDs, tunnels between them, tasks on the right node, the
//! `duplicate-hostname` finding, and paths and compare naming a node by label or ID. Needs root
//! and docker.io.

use crate::support::swarm;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use swarm::{LabNode, LabOptions, SwarmLab};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
const AGENT_PORT: u16 = 7879;
/// The server listens on the underlay bridge's own address, in the underlay namespace: a machine
/// on the nodes' network.
const SERVE_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 1), 7878);

/// A child process killed (and reaped) on drop, also when the test fails.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    Proc(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn"),
    )
}

fn this_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned()
}

struct Server {
    underlay: PathBuf,
}

impl Server {
    fn get(&self, path: &str) -> Option<(u16, Value)> {
        let (status, body) = swarm::http_in(&self.underlay, SERVE_ADDR, "GET", path).ok()?;
        Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    fn ok(&self, path: &str) -> Value {
        match self.get(path) {
            Some((200, v)) => v,
            other => panic!("GET {path}: {other:?}"),
        }
    }
}

fn strs<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v[key].as_array().into_iter().flatten()
}

#[test]
fn nodes_sharing_the_machines_hostname_are_three_nodes_through_agents_and_serve() {
    if !swarm::can_run_or_skip() {
        return;
    }
    let lab = SwarmLab::up_with(
        3,
        &LabOptions {
            same_hostname: true,
        },
    );
    lab.deploy();
    let hostname = this_hostname();
    let nodes: Vec<&LabNode> = lab.nodes().iter().collect();
    for n in &nodes {
        assert_eq!(
            n.docker(&["info", "--format", "{{.Name}}"]).trim(),
            hostname,
            "the premise: every engine reports this machine's hostname"
        );
    }
    let keys: Vec<String> = nodes.iter().map(|n| n.key()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "identity-token\n").expect("token");

    // An agent in every node, as a user starts it: no --node-name.
    let agents: Vec<Proc> = nodes
        .iter()
        .map(|n| {
            let mut cmd = n.exec_command(BIN);
            cmd.arg("agent")
                .arg("--docker")
                .arg(n.docker_host())
                .arg("--netns-dir")
                .arg(n.exec_netns_dir())
                .arg("--token-file")
                .arg(&token_file)
                .arg("--listen")
                .arg(format!("{}:{AGENT_PORT}", n.underlay_addr()));
            spawn(cmd, dir.path().join(format!("agent-{}.log", n.name())))
        })
        .collect();
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("http://{}:{AGENT_PORT}", n.underlay_addr()))
        .collect();
    let mut serve = Command::new("nsenter");
    serve
        .arg(format!("--net={}", lab.underlay_netns().display()))
        .arg(BIN)
        .args(["serve", "--agents", &urls.join(","), "--listen"])
        .arg(SERVE_ADDR.to_string())
        // The lab's underlay is reachable from this test's namespaces only.
        .arg("--no-auth")
        .arg("--token-file")
        .arg(&token_file)
        .arg("--data-dir")
        .arg(dir.path().join("data"));
    let _serve = spawn(serve, dir.path().join("serve.log"));
    let server = Server {
        underlay: lab.underlay_netns().to_path_buf(),
    };
    let logs = || {
        std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| {
                format!(
                    "--- {}\n{}",
                    e.path().display(),
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                )
            })
            .collect::<String>()
    };

    // Agents answer within a second or two of starting: refresh until all three are fresh.
    let host_ids: BTreeSet<String> = keys.iter().map(|k| format!("host:{k}")).collect();
    let fresh = |g: &Value| {
        let hosts: BTreeMap<String, String> = strs(g, "elements")
            .filter(|e| e["kind"] == "host")
            .map(|e| {
                (
                    e["id"].as_str().unwrap_or("").to_owned(),
                    e["attrs"]["node_state"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        hosts.keys().cloned().collect::<BTreeSet<_>>() == host_ids
            && hosts.values().all(|s| s == "fresh")
    };
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        swarm::eventually("three fresh hosts keyed by swarm node ID", 90, || {
            let _ = swarm::http_in(&server.underlay, SERVE_ADDR, "POST", "/api/refresh");
            swarm::eventually("the refresh to end", 30, || {
                let (_, s) = server.get("/api/status")?;
                (s["state"] == "ready").then_some(())
            });
            let (_, g) = server.get("/api/graph?hide=")?;
            fresh(&g).then_some(g)
        })
    }));
    let g = match found {
        Ok(g) => g,
        Err(p) => panic!(
            "{}\nlast graph's hosts: {:?}\n{}",
            p.downcast_ref::<String>().cloned().unwrap_or_default(),
            server
                .get("/api/graph?hide=")
                .map(|(_, g)| strs(&g, "elements")
                    .filter(|e| e["kind"] == "host")
                    .map(|e| e["id"].to_string())
                    .collect::<Vec<_>>()),
            logs()
        ),
    };

    // Three hosts, each labelled with the shared hostname and the start of its own key.
    let labels: BTreeMap<String, String> = strs(&g, "elements")
        .filter(|e| e["kind"] == "host")
        .map(|e| {
            (
                e["id"].as_str().unwrap_or("").to_owned(),
                e["label"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (id, label) in &labels {
        let key = id.trim_start_matches("host:");
        let suffix = label
            .strip_prefix(&format!("{hostname}@"))
            .unwrap_or_else(|| panic!("{id}'s label {label:?} is the hostname told apart"));
        assert!(
            suffix.len() >= 6 && key.starts_with(suffix),
            "{label} ends with the start of {key}"
        );
    }
    assert_eq!(
        labels.values().collect::<BTreeSet<_>>().len(),
        3,
        "{labels:?}"
    );
    let dup: Vec<&Value> = strs(&g, "findings")
        .filter(|f| f["code"] == "duplicate-hostname")
        .collect();
    assert_eq!(dup.len(), 1, "one duplicate-hostname finding");
    let named: BTreeSet<String> = strs(dup[0], "elements")
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    assert_eq!(named, host_ids, "it names the three nodes");

    // A tunnel from every node's overlay vxlan to every other node's: the FDB's dst found the
    // node by its address, not by its name.
    let overlay = nodes[0].docker(&["network", "inspect", "--format", "{{.Id}}", swarm::OVERLAY]);
    let ov = format!("1-{}", &overlay.trim()[..10]);
    let fdb: BTreeSet<(String, String)> = strs(&g, "edges")
        .filter(|e| e["kind"] == "fdb")
        .map(|e| {
            (
                e["source"].as_str().unwrap_or("").to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for a in &keys {
        for b in keys.iter().filter(|b| *b != a) {
            let edge = (format!("if:{a}/{ov}/vxlan0"), format!("if:{b}/{ov}/vxlan0"));
            assert!(fdb.contains(&edge), "no tunnel {edge:?}: {fdb:?}");
        }
    }
    // Every node's routing-mesh sandbox is its own.
    for k in &keys {
        let sbox = format!("netns:{k}/ingress_sbox");
        assert!(
            strs(&g, "elements")
                .any(|e| e["id"] == sbox.as_str() && e["parent"] == format!("host:{k}").as_str()),
            "{sbox} under its host"
        );
    }
    // Every running task of web runs a container on the node the engine placed it on.
    let placed: BTreeMap<String, String> = nodes[0]
        .docker(&[
            "service",
            "ps",
            "web",
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Node}}",
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, n)| (t.to_owned(), n.to_owned()))
        .collect();
    assert_eq!(placed.len(), 3, "{placed:?}");
    let node_key: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| {
            let id = n.docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
            (id.trim().to_owned(), n.key())
        })
        .collect();
    for task in placed.keys() {
        let tid = format!("task:{task}");
        let el = strs(&g, "elements")
            .find(|e| e["id"] == tid.as_str())
            .unwrap_or_else(|| panic!("{tid} drawn"));
        let key = &node_key[el["attrs"]["node_id"].as_str().unwrap_or("")];
        let runs: Vec<&str> = strs(&g, "edges")
            .filter(|e| e["kind"] == "runs" && e["source"] == tid.as_str())
            .filter_map(|e| e["target"].as_str())
            .collect();
        assert_eq!(runs.len(), 1, "{tid} runs one container");
        assert!(
            runs[0].starts_with(&format!("ctr:{key}/web.")),
            "{tid} runs {} on {key}",
            runs[0]
        );
    }
    // Merged nodes showed as unseen veth peers and unexplained namespaces. The one unseen peer
    // each node has is the lab's own: its eth0 is a veth to the underlay's namespace, which no
    // agent reads.
    let mut unseen: Vec<String> = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    for f in strs(&g, "findings") {
        let code = f["code"].as_str().unwrap_or("");
        let first = f["elements"][0].as_str().unwrap_or("").to_owned();
        match code {
            "veth-peer-unseen" => unseen.push(first),
            "veth-peer-missing" | "netns-unexplained" => wrong.push(format!("{code} {first}")),
            c if c.starts_with("fdb-") => wrong.push(format!("{code} {first}")),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "merged nodes show as these findings: {wrong:?}"
    );
    unseen.sort();
    let mut lab_links: Vec<String> = keys.iter().map(|k| format!("if:{k}/host/eth0")).collect();
    lab_links.sort();
    assert_eq!(
        unseen, lab_links,
        "only the underlay links' peers are unseen"
    );

    // Paths: the shared hostname is ambiguous; a label or a node ID names one node.
    let label2 = labels[&format!("host:{}", keys[1])].clone();
    let enc = |s: &str| s.replace('@', "%40");
    let (_, a) = server
        .get(&format!("/api/path?port=8081&node={}", enc(&hostname)))
        .expect("path answer");
    assert!(
        strs(&a, "notes").any(|n| n.as_str().unwrap_or("").contains("names 3 nodes")),
        "{a}"
    );
    let a = server.ok(&format!("/api/path?port=8081&node={}", enc(&label2)));
    let paths: Vec<&Value> = strs(&a, "paths").collect();
    assert!(!paths.is_empty(), "{a}");
    for p in &paths {
        assert_eq!(p["hops"][0]["node"], label2.as_str(), "{p}");
    }
    // Compare: by label on the left, by the full swarm node ID on the right.
    let id3 = nodes[2].docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    let label1 = labels[&format!("host:{}", keys[0])].clone();
    let c = server.ok(&format!(
        "/api/compare?left={}&right={}",
        enc(&label1),
        id3.trim()
    ));
    assert_eq!(c["left"]["node"], label1.as_str());
    assert_eq!(
        c["right"]["node"],
        labels[&format!("host:{}", keys[2])].as_str()
    );
    let (status, _) = server
        .get(&format!(
            "/api/compare?left={}&right={}",
            enc(&hostname),
            id3.trim()
        ))
        .expect("compare answer");
    assert_eq!(status, 400, "a shared hostname is no side");

    // Live, with no refresh asked from here on: a container started on node3 appears (its
    // agent's change stream says so), a frozen agent's node goes stale within the deadline while
    // the others stay fresh, and comes back when it thaws.
    let graph_now = || server.get("/api/graph?hide=").map(|(_, g)| g);
    let state_of = |g: &Value, key: &str| -> String {
        strs(g, "elements")
            .find(|e| e["id"] == format!("host:{key}").as_str())
            .and_then(|e| e["attrs"]["node_state"].as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let late = format!("dmt-late-{}", std::process::id());
    nodes[2].docker(&[
        "run",
        "-d",
        "--name",
        &late,
        "--network",
        "lab-attach",
        "--label",
        "dockmap-test",
        "dockmap-lab/busybox:latest",
        "sleep",
        "600",
    ]);
    let late_id = format!("ctr:{}/{late}", keys[2]);
    swarm::eventually(
        "the late container, through node3's change stream",
        30,
        || {
            let g = graph_now()?;
            let found = strs(&g, "elements").any(|e| e["id"] == late_id.as_str());
            found.then_some(())
        },
    );
    let frozen = agents[1].0.id() as i32;
    // SAFETY: kill with the pid of a child we hold unreaped.
    assert_eq!(unsafe { libc::kill(frozen, libc::SIGSTOP) }, 0);
    swarm::eventually("node2 to go stale while the others stay fresh", 40, || {
        let g = graph_now()?;
        (state_of(&g, &keys[1]) == "stale"
            && state_of(&g, &keys[0]) == "fresh"
            && state_of(&g, &keys[2]) == "fresh")
            .then_some(())
    });
    let (_, status) = server.get("/api/status").expect("status");
    assert!(
        status["live"].as_str().unwrap_or("").contains("except"),
        "the status says what is not live: {status}"
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(frozen, libc::SIGCONT) }, 0);
    swarm::eventually("node2 to come back", 40, || {
        let g = graph_now()?;
        (state_of(&g, &keys[1]) == "fresh").then_some(())
    });
    // A service scaled: each new task appears, running a container on the node the swarm chose
    // (tasks have no events: the manager's agent compares its task list every few seconds).
    let svc = format!("dmt-live-{}", std::process::id());
    nodes[0].docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &svc,
        "--replicas",
        "1",
        "--no-resolve-image",
        "--label",
        "dockmap-test",
        "--stop-grace-period",
        "1s",
        "dockmap-lab/busybox:latest",
        "sleep",
        "600",
    ]);
    nodes[0].docker(&["service", "scale", "--detach", &format!("{svc}=3")]);
    let placed_now = || -> BTreeMap<String, String> {
        nodes[0]
            .docker(&[
                "service",
                "ps",
                &svc,
                "--filter",
                "desired-state=running",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Node}} {{.CurrentState}}",
            ])
            .lines()
            .filter(|l| l.contains("Running"))
            .filter_map(|l| l.split_once(' '))
            .map(|(t, rest)| (t.to_owned(), rest.to_owned()))
            .collect()
    };
    swarm::eventually("three running tasks, each drawn on its node", 60, || {
        let placed = placed_now();
        if placed.len() != 3 {
            return None;
        }
        let g = graph_now()?;
        let all_drawn = placed.keys().all(|task| {
            let tid = format!("task:{task}");
            let node_id = strs(&g, "elements")
                .find(|e| e["id"] == tid.as_str())
                .and_then(|e| e["attrs"]["node_id"].as_str().map(str::to_owned));
            let Some(key) = node_id.and_then(|id| node_key.get(&id).cloned()) else {
                return false;
            };
            strs(&g, "edges").any(|e| {
                e["kind"] == "runs"
                    && e["source"] == tid.as_str()
                    && e["target"]
                        .as_str()
                        .is_some_and(|t| t.starts_with(&format!("ctr:{key}/{svc}.")))
            })
        });
        all_drawn.then_some(())
    });
    nodes[0].docker(&["service", "rm", &svc]);
    nodes[2].docker(&["rm", "-f", &late]);
    swarm::eventually("the late container gone", 30, || {
        let g = graph_now()?;
        let gone = !strs(&g, "elements").any(|e| e["id"] == late_id.as_str());
        gone.then_some(())
    });

    // node3's engine restarted under its agent: the event stream ends, the agent reconnects and
    // collects again, so a container started after the restart appears (well before the feed's
    // periodic resync would have found it).
    lab.restart_engine(3);
    let after = format!("dmt-after-{}", std::process::id());
    nodes[2].docker(&[
        "run",
        "-d",
        "--name",
        &after,
        "--label",
        "dockmap-test",
        "dockmap-lab/busybox:latest",
        "sleep",
        "600",
    ]);
    let after_id = format!("ctr:{}/{after}", keys[2]);
    swarm::eventually(
        "a container started after node3's engine restarted",
        30,
        || {
            let g = graph_now()?;
            let found = strs(&g, "elements").any(|e| e["id"] == after_id.as_str());
            (found && state_of(&g, &keys[2]) == "fresh").then_some(())
        },
    );
    nodes[2].docker(&["rm", "-f", &after]);
}
