//! A small lab of network namespaces, veths, bridges and VXLAN devices built with `ip`,
//! removed again on drop (also when the test panics).
//!
//! Names are unique per process (`dmt<pid>...`) so tests can run in parallel; every
//! address a test configures must lie in 198.18.0.0/15.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use dockmap::collect::netns::NsHandle;

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
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "iptables-restore"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "iptables-restore in {ns}");
}

/// A directory of namespace files with the names a test gives them, bind-mounted from lab
/// namespaces (a collector scans only these); unmounted on drop.
pub struct NetnsDir {
    /// The directory.
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
