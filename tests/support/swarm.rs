//! A real N-node Docker swarm on this machine for integration tests: drives tests/swarm-lab.sh.
//!
//! Use it from a test module with `use crate::support::swarm;`. `SwarmLab::up(n)` brings the
//! lab up (tearing down any earlier one first) and its `Drop` tears it down, also when the test
//! panics. Only one lab can exist on a machine: `up` holds an exclusive lock on
//! /run/lock/dockmap-swarm-lab.lock for the lab's whole life, so tests that use it wait for each other.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Path of the lab script.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/swarm-lab.sh");
/// Serialises labs across test threads and test binaries.
const LOCK: &str = "/run/lock/dockmap-swarm-lab.lock";
/// Where the lab keeps its run state (pidfiles, logs, containerd socket).
pub const LAB_RUN: &str = "/run/dockmap-lab";
/// Where the lab keeps its engines' and containerd's data.
pub const LAB_LIB: &str = "/var/lib/dockmap-lab";
/// Name of the overlay the sample service runs on.
pub const OVERLAY: &str = "lab-overlay";
/// Name of the attachable overlay holding the plain container.
pub const ATTACHABLE: &str = "lab-attach";
/// Name of the sample service.
pub const SERVICE: &str = "web";
/// Name of the plain container on the attachable overlay.
pub const PLAIN_CONTAINER: &str = "lab-plain";
/// Port published in ingress mode (routing mesh; dead without IPVS).
pub const INGRESS_PORT: u16 = 8080;
/// Port published in host mode on every node (when the lab has at least 3 nodes).
pub const HOST_PORT: u16 = 8081;
/// What the sample's web servers answer.
pub const PAGE: &str = "dockmap swarm lab";
/// `swarm-lab.sh demo`'s link in the root namespace (its peer is a port of the underlay bridge).
pub const DEMO_LINK: &str = "dmlab-root";
/// The port `swarm-lab.sh demo` starts each node's agent on (at the node's underlay address).
pub const DEMO_AGENT_PORT: u16 = 7879;
/// The token file `swarm-lab.sh demo` writes for its agents.
pub const DEMO_TOKEN_FILE: &str = "/run/dockmap-lab/agent-token";
/// Tools the lab needs on PATH.
const TOOLS: &[&str] = &[
    "dockerd",
    "docker",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "ctr",
    "ip",
    "bridge",
    "iptables",
    "nsenter",
    "unshare",
    "setsid",
    "hostname",
    "tar",
    "busybox",
];

/// One engine of the lab, as `swarm-lab.sh env` describes it.
#[derive(Debug, Clone)]
pub struct LabNode {
    name: String,
    netns: PathBuf,
    docker_host: String,
    exec_netns_dir: PathBuf,
    underlay_addr: Ipv4Addr,
    underlay_netns: PathBuf,
}

impl LabNode {
    /// Node name (`node1`...), also its engine's hostname and swarm node name (unless the lab was
    /// brought up with `LabOptions::same_hostname`: then both are this machine's hostname).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's network namespace (`/run/netns/nodeI`), where its dockerd runs.
    pub fn netns(&self) -> &Path {
        &self.netns
    }

    /// The engine's endpoint, `unix:///run/docker-nodeI.sock`.
    pub fn docker_host(&self) -> &str {
        &self.docker_host
    }

    /// The engine's socket path.
    pub fn socket(&self) -> &Path {
        Path::new(self.docker_host.trim_start_matches("unix://"))
    }

    /// Where the engine keeps its sandboxes' namespaces (`/run/docker-nodeI/netns`).
    pub fn exec_netns_dir(&self) -> &Path {
        &self.exec_netns_dir
    }

    /// The node's address on the underlay (swarm advertise and data-path address).
    pub fn underlay_addr(&self) -> Ipv4Addr {
        self.underlay_addr
    }

    /// The host part of this node's element IDs: the short form of its swarm node ID.
    pub fn key(&self) -> String {
        let id = self.docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
        dockmap::snapshot::NodeId::swarm(id.trim())
            .unwrap_or_else(|| panic!("{} has no swarm node ID", self.name))
            .short()
    }

    /// Runs the docker CLI against this node; panics with its stderr if it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker")
            .arg("-H")
            .arg(&self.docker_host)
            .args(args)
            .output()
            .expect("docker CLI runs");
        stdout_or_panic(&format!("docker {} on {}", args.join(" "), self.name), out)
    }

    /// Runs a command inside the given namespace of this node's exec root (`1-xxx`, `ingress_sbox`...).
    pub fn in_sandbox(&self, sandbox: &str, cmd: &[&str]) -> String {
        let ns = self.exec_netns_dir.join(sandbox);
        nsenter(&ns, cmd)
    }

    /// A command that runs `program` as if on this node (`swarm-lab.sh exec`): in the node's network
    /// and UTS namespaces with DOCKER_HOST at its engine. The script and nsenter exec in place, so
    /// the child's pid is `program`'s own (signals reach it, not a wrapper).
    pub fn exec_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(SCRIPT).arg("exec").arg(&self.name).arg(program);
        cmd
    }

    /// `dockmap snapshot` (the binary `bin`) run inside the node, as its agent would see it.
    pub fn snapshot(&self, bin: &str) -> dockmap::snapshot::NodeSnapshot {
        let out = self
            .exec_command(bin)
            .arg("snapshot")
            .arg("--docker")
            .arg(self.docker_host())
            .arg("--netns-dir")
            .arg(self.exec_netns_dir())
            .arg("--node-name")
            .arg(self.name())
            .output()
            .expect("run dockmap snapshot in the node");
        assert!(
            out.status.success(),
            "dockmap snapshot on {}: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("a node snapshot")
    }

    /// The namespace files of this node's engine: `1-xxx`, `ingress_sbox`, `lb_xxx`, containers.
    pub fn sandboxes(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.exec_netns_dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// How to bring the lab up.
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Every engine keeps this machine's hostname (`DMLAB_SAME_HOSTNAME=1`): all swarm nodes
    /// share one hostname, as cloned VMs do. Default: each engine is called after its node.
    pub same_hostname: bool,
}

/// A running lab; dropping it tears the lab down.
pub struct SwarmLab {
    nodes: Vec<LabNode>,
    torn_down: bool,
    // Last field: released only after Drop has torn the lab down.
    _lock: File,
}

impl SwarmLab {
    /// Brings up an `n`-node swarm (a previous lab is torn down first); panics if it cannot.
    pub fn up(n: usize) -> SwarmLab {
        Self::up_with(n, &LabOptions::default())
    }

    /// `up` with options (e.g. nodes that all keep this machine's hostname).
    pub fn up_with(n: usize, options: &LabOptions) -> SwarmLab {
        std::fs::create_dir_all("/run/lock").expect("create /run/lock");
        let lock = File::create(LOCK).expect("create lab lock file");
        // SAFETY: flock on a file descriptor we own; blocking until the previous lab is gone.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {LOCK}: {}", std::io::Error::last_os_error());
        // From here on a panic drops `lab`, whose Drop runs `down`.
        let mut lab = SwarmLab {
            nodes: Vec::new(),
            torn_down: false,
            _lock: lock,
        };
        let mut up = Command::new("bash");
        up.arg(SCRIPT).arg("up").arg(n.to_string());
        if options.same_hostname {
            up.env("DMLAB_SAME_HOSTNAME", "1");
        }
        let out = up.output().expect("run swarm-lab.sh up");
        stdout_or_panic("swarm-lab.sh up", out);
        lab.nodes = (1..=n).map(|i| node_env(&format!("node{i}"))).collect();
        lab
    }

    /// Deploys the sample: an overlay, a 3-replica service with published ports, an attachable
    /// overlay with a plain container (on node2 when there is one).
    pub fn deploy(&self) {
        script(&["deploy"]);
    }

    /// `swarm-lab.sh demo` with the dockmap binary `bin`: an agent in every node, the underlay
    /// reachable from the root namespace. Returns what it printed (the serve command to run).
    pub fn demo(&self, bin: &str) -> String {
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg("demo")
            .env("DOCKMAP_BIN", bin)
            .output()
            .expect("run swarm-lab.sh demo");
        stdout_or_panic("swarm-lab.sh demo", out)
    }

    /// All nodes, node1 first (node1 is the manager).
    pub fn nodes(&self) -> &[LabNode] {
        &self.nodes
    }

    /// Node `i`, counted from 1 as in its name.
    pub fn node(&self, i: usize) -> &LabNode {
        &self.nodes[i - 1]
    }

    /// The namespace holding the underlay bridge all nodes are plugged into.
    pub fn underlay_netns(&self) -> &Path {
        &self.nodes[0].underlay_netns
    }

    /// Pid of node `i`'s dockerd, from its pidfile.
    pub fn engine_pid(&self, i: usize) -> Option<i32> {
        read_pid(&format!("{LAB_RUN}/node{i}.pid"))
    }

    /// Stops node `i`'s engine and starts it again (`swarm-lab.sh restart-engine`).
    pub fn restart_engine(&self, i: usize) {
        script(&["restart-engine", &i.to_string()]);
    }

    /// Pid of the lab's containerd.
    pub fn containerd_pid(&self) -> Option<i32> {
        read_pid(&format!("{LAB_RUN}/containerd.pid"))
    }

    /// Tears the lab down now; Err holds the script's stderr if `down` failed.
    pub fn down(mut self) -> Result<(), String> {
        self.torn_down = true;
        run_script(&["down"])
    }
}

impl Drop for SwarmLab {
    fn drop(&mut self) {
        if !self.torn_down {
            if let Err(e) = run_script(&["down"]) {
                eprintln!("swarm lab teardown failed: {e}");
            }
        }
    }
}

/// Whether the lab can run here: None if it can, else why not (not root, a missing tool).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        return Some(format!("needs {}", missing.join(", ")));
    }
    None
}

/// For a root test: true if the lab can run; otherwise panics under CI, or prints why and returns false.
pub fn can_run_or_skip() -> bool {
    match unavailable() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("the swarm lab cannot run under CI: {why}")
        }
        Some(why) => {
            println!("skipped: {why}");
            false
        }
    }
}

/// Everything of a lab still on the machine: namespaces, processes, mounts, files, cgroups.
/// Empty after a clean teardown.
pub fn leftovers() -> Vec<String> {
    let mut left = Vec::new();
    let netns_dir = std::fs::read_dir("/run/netns").into_iter().flatten();
    for e in netns_dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "dmlab-ul" || is_node_name(&name) {
            left.push(format!("namespace /run/netns/{name}"));
        }
    }
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cmdline.contains(LAB_RUN) || cmdline.contains("/run/docker-node") {
            left.push(format!("process {pid}: {cmdline}"));
        } else if cgroup.contains("/dockmap-lab-node") {
            left.push(format!("process {pid} in a lab cgroup: {cmdline}"));
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        if let Some(point) = line.split(' ').nth(4) {
            if is_lab_path(point) {
                left.push(format!("mount {point}"));
            }
        }
    }
    for e in std::fs::read_dir("/run").into_iter().flatten().flatten() {
        let path = e.path();
        if is_lab_path(&path.to_string_lossy()) {
            left.push(format!("file {}", path.display()));
        }
    }
    if Path::new(LAB_LIB).exists() {
        left.push(format!("dir {LAB_LIB}"));
    }
    // The demo's one trace in the root namespace: its link and the route that comes with it.
    if Path::new("/sys/class/net").join(DEMO_LINK).exists() {
        left.push(format!("link {DEMO_LINK} in the root namespace"));
    }
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    for line in routes.lines().skip(1) {
        if line.split_whitespace().next() == Some(DEMO_LINK) {
            left.push(format!("route in the root namespace: {line}"));
        }
    }
    // cgroup v2 keeps the lab's parents at the top, v1 under each controller.
    let tops = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten();
    for top in tops {
        let below = std::fs::read_dir(top.path())
            .into_iter()
            .flatten()
            .flatten();
        for e in std::iter::once(top).chain(below) {
            if e.file_name()
                .to_string_lossy()
                .starts_with("dockmap-lab-node")
            {
                left.push(format!("cgroup {}", e.path().display()));
            }
        }
    }
    left
}

/// Runs `cmd` inside the network namespace file `ns` (through nsenter); panics if it fails.
pub fn nsenter(ns: &Path, cmd: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(cmd)
        .output()
        .expect("nsenter runs");
    stdout_or_panic(&format!("{} in {}", cmd.join(" "), ns.display()), out)
}

/// GETs `path` over HTTP/1.0 from `addr` in the caller's namespace, with a bearer token if given;
/// returns the whole response (status line, headers, body).
pub fn http_get(addr: SocketAddrV4, path: &str, bearer: Option<&str>) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Fetches `/` over HTTP from `addr`, connecting from inside the namespace file `ns` (on a fresh
/// thread of its own, so no other thread changes namespace).
pub fn http_get_in(ns: &Path, addr: SocketAddrV4) -> std::io::Result<String> {
    let ns = ns.to_path_buf();
    std::thread::spawn(move || -> std::io::Result<String> {
        let f = File::open(&ns)?;
        // SAFETY: setns on this thread only, with a namespace fd we hold open.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    })
    .join()
    .expect("http thread does not panic")
}

/// One HTTP/1.0 request to `addr`, sent from inside the namespace file `ns` (as a machine on that
/// network would); (status, body). Err when nothing answers (yet).
pub fn http_in(
    ns: &Path,
    addr: SocketAddrV4,
    method: &str,
    path: &str,
) -> std::io::Result<(u16, String)> {
    http_in_as(ns, addr, method, path, None)
}

/// [`http_in`] with `Authorization: Bearer <token>` when a token is given.
pub fn http_in_as(
    ns: &Path,
    addr: SocketAddrV4,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req =
        format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\n\r\n");
    let raw = run_in_netns(ns, move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(req.as_bytes())?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    })?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {raw:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// Runs `f` on a fresh thread that entered the network namespace file `ns` and returns its result;
/// a panic in `f` goes on in the caller, with its message. No other thread changes namespace.
pub fn run_in_netns<T, F>(ns: &Path, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let ns = ns.to_path_buf();
    let joined = std::thread::spawn(move || {
        let file = File::open(&ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
        // SAFETY: setns on this thread only, with a namespace fd we hold open.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns {}: {}",
            ns.display(),
            std::io::Error::last_os_error()
        );
        f()
    })
    .join();
    match joined {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Polls `f` every 200 ms until it gives Some, or panics after `secs` seconds saying what it waited for.
pub fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether `name` is a lab node's namespace name (`node1`, `node2`, ...).
pub fn is_node_name(name: &str) -> bool {
    name.strip_prefix("node")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_lab_path(p: &str) -> bool {
    p.starts_with(LAB_RUN) || p.starts_with(LAB_LIB) || p.starts_with("/run/docker-node")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn read_pid(path: &str) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Parses the `export KEY=value` lines of `swarm-lab.sh env NODE`.
fn node_env(name: &str) -> LabNode {
    let out = Command::new("bash")
        .args([SCRIPT, "env", name])
        .output()
        .expect("run swarm-lab.sh env");
    let text = stdout_or_panic(&format!("swarm-lab.sh env {name}"), out);
    let get = |key: &str| -> String {
        text.lines()
            .filter_map(|l| l.strip_prefix("export "))
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("swarm-lab.sh env {name} gives no {key}:\n{text}"))
            .to_string()
    };
    LabNode {
        name: name.to_string(),
        netns: get("DMLAB_NETNS").into(),
        docker_host: get("DOCKER_HOST"),
        exec_netns_dir: get("DMLAB_EXEC_NETNS").into(),
        underlay_addr: get("DMLAB_UNDERLAY_ADDR")
            .parse()
            .expect("underlay address is IPv4"),
        underlay_netns: get("DMLAB_UNDERLAY_NETNS").into(),
    }
}

fn script(args: &[&str]) {
    if let Err(e) = run_script(args) {
        panic!("swarm-lab.sh {} failed:\n{e}", args.join(" "));
    }
}

fn run_script(args: &[&str]) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(SCRIPT)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn stdout_or_panic(what: &str, out: Output) -> String {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The graph with every lab node's key (its swarm node ID's short form) replaced by its name
/// (`node1`…) in element, edge and finding IDs, so assertions read in node names; first checks
/// that every host element is keyed by one lab node's swarm node ID.
#[allow(dead_code)]
pub fn by_node_names(g: &dockmap::graph::Graph, lab: &SwarmLab) -> dockmap::graph::Graph {
    let keys: Vec<(String, String)> = lab
        .nodes()
        .iter()
        .map(|n| (n.key(), n.name().to_owned()))
        .collect();
    for e in g
        .elements
        .iter()
        .filter(|e| e.kind == dockmap::graph::ElementKind::Host)
    {
        assert!(
            keys.iter().any(|(k, _)| e.id == format!("host:{k}")),
            "host {} ({}) is keyed by no lab node's swarm node ID: {keys:?}",
            e.id,
            e.label
        );
    }
    rename_hosts(g, &keys)
}

/// The graph with each (key, name) pair's key replaced by the name in element, edge and finding
/// IDs (never in attributes: a task's `node_id` keeps the real swarm node ID).
#[allow(dead_code)]
pub fn rename_hosts(g: &dockmap::graph::Graph, keys: &[(String, String)]) -> dockmap::graph::Graph {
    let rename = |s: &str| {
        keys.iter()
            .fold(s.to_owned(), |s, (k, name)| s.replace(k.as_str(), name))
    };
    let mut g = g.clone();
    for e in &mut g.elements {
        e.id = rename(&e.id);
        e.parent = e.parent.as_deref().map(rename);
    }
    for e in &mut g.edges {
        e.id = rename(&e.id);
        e.source = rename(&e.source);
        e.target = rename(&e.target);
    }
    for f in &mut g.findings {
        f.id = rename(&f.id);
        f.elements = f.elements.iter().map(|x| rename(x)).collect();
    }
    g
}
