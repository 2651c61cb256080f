//! A small lab of network namespaces, veths, bridges and VXLAN devices built with `ip`,
//! removed again on drop (also when the test panics).
//!
//! Names are unique per process (`dmt<pid>...`) so tests can run in parallel; every
//! address a test configures must lie in 198.18.0.0/15 (IPv6: 2001:2::/48).
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use dockmap::collect::netns::{run_in, NsHandle};

/// True when running as root. Otherwise: panic under CI, or print "skipped: needs root".
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("this test needs root (CI is set, so it may not be skipped)");
    }
    eprintln!("skipped: needs root");
    false
}

static LABS: AtomicUsize = AtomicUsize::new(0);

/// Run a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} could not start: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Feed `script` to `cmd -batch -` (optionally with `-n ns` first), panicking on failure.
pub fn run_batch(cmd: &str, ns: Option<&str>, script: &str) {
    let mut args: Vec<&str> = Vec::new();
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["-batch", "-"]);
    let mut child = Command::new(cmd)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} could not start: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        panic!(
            "{cmd} -batch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Load `rules` with `iptables-restore` inside namespace `ns`, panicking on failure.
pub fn restore(ns: &str, rules: &str) {
    restore_with("iptables-restore", ns, rules);
}

/// Load `rules` with `tool` (`iptables-restore`, `ip6tables-restore`) inside namespace `ns`,
/// panicking on failure.
pub fn restore_with(tool: &str, ns: &str, rules: &str) {
    feed(ns, &[tool], rules);
}

/// Run `cmd` inside namespace `ns` with `input` on its standard input (`nft -f -` too),
/// panicking on failure.
pub fn feed(ns: &str, cmd: &[&str], input: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "{cmd:?} in {ns}");
}

/// `ip` arguments for the family of `addr`: `-6` first for IPv6.
pub fn family_args<'a>(addr: &str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = Vec::with_capacity(rest.len() + 1);
    if addr.contains(':') {
        args.push("-6");
    }
    args.extend_from_slice(rest);
    args
}

/// `host:port` of `addr` as a socket address (`[v6]:port` for IPv6).
pub fn socket(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// Run `cmd` inside namespace `ns` (`ip netns exec`), returning its output.
pub fn exec(ns: &str, cmd: &[&str]) -> String {
    let mut args = vec!["netns", "exec", ns];
    args.extend_from_slice(cmd);
    run("ip", &args)
}

/// Set one switch (`key=value`) in namespace `ns`.
pub fn sysctl(ns: &str, setting: &str) {
    exec(ns, &["sysctl", "-qw", setting]);
}

/// A TCP server answering `ok` on `at`, bound inside `ns`.
pub fn serve(ns: &NsHandle, at: String) -> std::thread::JoinHandle<()> {
    let l = run_in(ns, move || std::net::TcpListener::bind(&at).unwrap()).unwrap();
    answer_ok(l)
}

/// A set of namespaces and host links that disappears with it.
pub struct Lab {
    prefix: String,
    host_prefix: String,
    namespaces: Vec<String>,
    host_links: Vec<String>,
}

impl Lab {
    /// A new, empty lab with names unique to this process and call.
    pub fn new() -> Self {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        Self {
            prefix: format!("dmt{pid}-{n}"),
            // Interface names are at most 15 bytes: keep host ones short.
            host_prefix: format!("dm{}{}", pid % 100_000, n % 10),
            namespaces: Vec::new(),
            host_links: Vec::new(),
        }
    }

    /// The full namespace name for a short one.
    pub fn ns_name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    /// A host interface name unique to this lab (at most 15 bytes for short `suffix`).
    pub fn host_link_name(&self, suffix: &str) -> String {
        let name = format!("{}{suffix}", self.host_prefix);
        assert!(name.len() <= 15, "interface name {name} too long");
        name
    }

    /// Create a namespace; returns its full name.
    pub fn netns(&mut self, short: &str) -> String {
        let name = self.ns_name(short);
        run("ip", &["netns", "add", &name]);
        self.namespaces.push(name.clone());
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// Create many namespaces at once with one `ip -batch`; returns their full names.
    pub fn netns_many(&mut self, shorts: &[String]) -> Vec<String> {
        let names: Vec<String> = shorts.iter().map(|s| self.ns_name(s)).collect();
        let script: String = names.iter().map(|n| format!("netns add {n}\n")).collect();
        // Recorded first, so a half-done batch is still cleaned up.
        self.namespaces.extend(names.iter().cloned());
        run_batch("ip", None, &script);
        names
    }

    /// Run `ip [-n ns] args...`.
    pub fn ip(&self, ns: Option<&str>, args: &[&str]) -> String {
        let mut full: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            full.extend(["-n", ns]);
        }
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Run `bridge [-n ns] args...`.
    pub fn bridge(&self, ns: Option<&str>, args: &[&str]) -> String {
        let mut full: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            full.extend(["-n", ns]);
        }
        full.extend_from_slice(args);
        run("bridge", &full)
    }

    /// A veth pair `a_name` (in `a`, or the host for `None`) <-> `b_name` (in `b`), both up.
    pub fn veth(&mut self, a: Option<&str>, a_name: &str, b: Option<&str>, b_name: &str) {
        let mut args: Vec<&str> = vec!["link", "add", a_name];
        if let Some(a) = a {
            args.extend(["netns", a]);
        } else {
            self.host_links.push(a_name.to_owned());
        }
        args.extend(["type", "veth", "peer", "name", b_name]);
        if let Some(b) = b {
            args.extend(["netns", b]);
        } else {
            self.host_links.push(b_name.to_owned());
        }
        run("ip", &args);
        self.ip(a, &["link", "set", a_name, "up"]);
        self.ip(b, &["link", "set", b_name, "up"]);
    }

    /// Give `dev` in `ns` the address `cidr`; IPv6 ones with `nodad`, so that they are usable at
    /// once, not after duplicate address detection.
    pub fn add_address(&self, ns: &str, cidr: &str, dev: &str) {
        let mut args = family_args(cidr, &["addr", "add", cidr, "dev", dev]);
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(Some(ns), &args);
    }

    /// A bridge `name` in `ns`, up, with `cidr` on it.
    pub fn add_bridge(&self, ns: &str, name: &str, cidr: &str) {
        self.ip(Some(ns), &["link", "add", name, "type", "bridge"]);
        self.add_address(ns, cidr, name);
        self.ip(Some(ns), &["link", "set", name, "up"]);
    }

    /// A veth from bridge `bridge` in `ns` (its end `port` enslaved) to `dev` in `peer`, which
    /// gets `cidr`.
    pub fn add_bridge_port(
        &mut self,
        ns: &str,
        bridge: &str,
        port: &str,
        peer: &str,
        dev: &str,
        cidr: &str,
    ) {
        self.veth(Some(ns), port, Some(peer), dev);
        self.ip(Some(ns), &["link", "set", port, "master", bridge]);
        self.add_address(peer, cidr, dev);
    }

    /// In namespace `inside`, give namespace `target` the nsid `id` (`ip netns set`).
    pub fn set_nsid(&self, inside: &str, target: &str, id: i32) {
        self.ip(Some(inside), &["netns", "set", target, &id.to_string()]);
    }

    /// The ifindex of `dev` in `ns`.
    pub fn ifindex(&self, ns: Option<&str>, dev: &str) -> u32 {
        let mut path = PathBuf::from("/sys/class/net");
        if ns.is_some() {
            // /sys shows the caller's namespace only: ask ip instead.
            let out = self.ip(ns, &["-o", "link", "show", "dev", dev]);
            return out
                .split(':')
                .next()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("no ifindex for {dev}: {out}"));
        }
        path.push(dev);
        path.push("ifindex");
        std::fs::read_to_string(&path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// An open handle on one of the lab's namespaces.
    pub fn handle(&self, full_name: &str) -> NsHandle {
        NsHandle::open(&PathBuf::from("/run/netns").join(full_name), full_name).unwrap()
    }

    /// Delete one namespace now (its links go with it).
    pub fn delete_netns(&mut self, full_name: &str) {
        run("ip", &["netns", "del", full_name]);
        self.namespaces.retain(|n| n != full_name);
    }

    /// The lab's namespaces, in creation order.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for l in &self.host_links {
            let _ = Command::new("ip")
                .args(["link", "del", l])
                .stderr(Stdio::null())
                .status();
        }
        if self.namespaces.is_empty() {
            return;
        }
        let script: String = self
            .namespaces
            .iter()
            .map(|n| format!("netns del {n}\n"))
            .collect();
        // -force: keep deleting the rest when one is already gone.
        let child = Command::new("ip")
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(script.as_bytes());
            }
            let _ = child.wait();
        }
    }
}

/// A directory of namespace files with Docker's names, bind-mounted from a lab's; unmounted on drop.
pub struct NetnsDir {
    /// The directory (`/run/dmt<pid>-<tag>`).
    pub dir: PathBuf,
    files: Vec<PathBuf>,
}

impl NetnsDir {
    /// An empty directory unique to this process and `tag`.
    pub fn new(tag: &str) -> Self {
        let dir = PathBuf::from(format!("/run/dmt{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        NetnsDir {
            dir,
            files: Vec::new(),
        }
    }

    /// File the lab namespace `full` as `name`.
    pub fn add(&mut self, name: &str, full: &str) -> PathBuf {
        let file = self.dir.join(name);
        std::fs::write(&file, b"").unwrap();
        self.files.push(file.clone());
        let src = format!("/run/netns/{full}");
        run("mount", &["--bind", &src, file.to_str().unwrap()]);
        file
    }
}

impl Drop for NetnsDir {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = Command::new("umount").arg(f).stderr(Stdio::null()).status();
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The real collector's command (`bin snapshot --no-engine`), to run inside lab namespace
/// `host_ns` so that it is the node's host, reading the namespaces filed in `dir`.
pub fn collector_in(bin: &str, host_ns: &str, node: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{host_ns}"))
        .arg(bin)
        .args([
            "snapshot",
            "--no-engine",
            "--node-name",
            node,
            "--netns-dir",
        ])
        .arg(dir);
    c
}

/// The snapshot of the real collector run as [`collector_in`] says.
pub fn collect_in(
    bin: &str,
    host_ns: &str,
    node: &str,
    dir: &std::path::Path,
) -> dockmap::snapshot::NodeSnapshot {
    let out = collector_in(bin, host_ns, node, dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether a client in `ns` gets the answer `ok` from `to` (a server made by [`answer_ok`]).
pub fn connects_to(ns: &NsHandle, to: &'static str) -> bool {
    use std::io::Read;
    dockmap::collect::netns::run_in(ns, move || {
        let to: std::net::SocketAddr = to.parse().unwrap();
        let timeout = std::time::Duration::from_millis(1500);
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&to, timeout) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(timeout));
        let mut b = [0u8; 2];
        s.read_exact(&mut b).is_ok() && &b == b"ok"
    })
    .unwrap()
}

/// Answer `ok` to every connection to `server` (bound in a lab namespace), on a thread.
pub fn answer_ok(server: std::net::TcpListener) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for mut s in server.incoming().flatten() {
            let _ = s.write_all(b"ok");
        }
    })
}

/// A container `web` as the engine would report it: on one bridge network, port 8080 → 80.
pub struct Web<'a> {
    /// Its namespace file (the engine's SandboxKey).
    pub sandbox: &'a std::path::Path,
    /// The network's name.
    pub network: &'a str,
    /// The network's `com.docker.network.bridge.name`, if set.
    pub bridge: Option<&'a str>,
    /// The network's subnet.
    pub subnet: &'a str,
    /// web's address on it.
    pub ip: &'a str,
    /// The host address port 8080 is published on.
    pub host_ip: &'a str,
}

/// The engine facts of [`Web`].
pub fn web_engine(w: &Web<'_>) -> dockmap::snapshot::EngineFacts {
    use dockmap::snapshot::*;
    let net_id = format!("{:0<16}", w.network);
    EngineFacts {
        name: "labnode".into(),
        networks: vec![Network {
            id: net_id.clone(),
            name: w.network.into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ipam: vec![IpamConfig {
                subnet: w.subnet.into(),
                ..Default::default()
            }],
            options: w
                .bridge
                .map(|b| [("com.docker.network.bridge.name".to_owned(), b.to_owned())].into())
                .unwrap_or_default(),
            ..Default::default()
        }],
        containers: vec![Container {
            id: "feed".repeat(16),
            name: "web".into(),
            state: "running".into(),
            sandbox_key: w.sandbox.display().to_string(),
            ports: vec![PortBinding {
                private_port: 80,
                protocol: "tcp".into(),
                host_ip: Some(w.host_ip.into()),
                host_port: Some(8080),
            }],
            endpoints: vec![ContainerEndpoint {
                network_name: w.network.into(),
                network_id: net_id,
                endpoint_id: "ep0".into(),
                ipv4: w.ip.into(),
                ipv4_prefix_len: 24,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The one path of published port `port`/tcp in snapshot `s`.
pub fn port_path(port: u16, s: &dockmap::snapshot::NodeSnapshot) -> dockmap::path::PacketPath {
    let g = dockmap::graph::build(std::slice::from_ref(s));
    let a = dockmap::path::trace(
        &dockmap::path::Question::Port {
            port,
            protocol: "tcp".into(),
            node: None,
        },
        std::slice::from_ref(s),
        &g,
    );
    assert_eq!(a.paths.len(), 1, "{a:#?}");
    a.paths[0].clone()
}

/// The one path from `from` to `to` (names or addresses, as `dockmap path` takes them) in
/// snapshot `s`.
pub fn between_path(
    from: &str,
    to: &str,
    s: &dockmap::snapshot::NodeSnapshot,
) -> dockmap::path::PacketPath {
    let g = dockmap::graph::build(std::slice::from_ref(s));
    let a = dockmap::path::trace(
        &dockmap::path::Question::Between {
            from: from.into(),
            to: to.into(),
        },
        std::slice::from_ref(s),
        &g,
    );
    assert_eq!(a.paths.len(), 1, "{a:#?}");
    a.paths[0].clone()
}
