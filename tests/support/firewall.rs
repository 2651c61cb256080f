//! Shared by the firewall and IPVS tests and the bench: root check and throwaway namespaces.
//! Its parent module must hold `netlab` (tests/support/mod.rs does; the bench declares it).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use dockmap::collect::netns::NsHandle;

/// True when running as root. Otherwise: panic under CI, else say "skipped" (netlab's one check).
pub use super::netlab::require_root as have_root;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace made with `ip netns add`, deleted on drop (also on panic).
pub struct TestNs {
    /// Its name under /run/netns.
    pub name: String,
}

impl TestNs {
    /// A fresh, empty namespace with a unique name (`dmt<pid>f<n>`).
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("dmt{}f{}", std::process::id(), n);
        run("ip", &["netns", "add", &name]);
        Self { name }
    }

    /// The path of its namespace file.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// An open handle on it.
    pub fn handle(&self) -> NsHandle {
        NsHandle::open(&self.path(), &self.name).expect("open test namespace")
    }

    /// Run a command inside it; panics on failure.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Feed `input` to a command (e.g. iptables-restore) inside it; panics on failure.
    pub fn exec_stdin(&self, args: &[&str], input: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ip netns exec");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Run a command; panics with its stderr on failure; returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// iptables-restore input for a Docker-like host with `ports` published ports:
/// nat DOCKER DNAT to 198.18.x.y:80, filter DOCKER ACCEPT, POSTROUTING MASQUERADE.
pub fn published_ports_ruleset(ports: usize) -> String {
    let mut nat = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A POSTROUTING -s 198.18.0.0/16 ! -o dmtbr0 -j MASQUERADE\n\
         -A DOCKER -i dmtbr0 -j RETURN\n",
    );
    let mut filter = String::from(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n\
         -A FORWARD -j DOCKER-USER\n-A FORWARD -o dmtbr0 -j DOCKER\n-A DOCKER-USER -j RETURN\n",
    );
    for i in 0..ports {
        let (port, ip) = published_port(i);
        nat.push_str(&format!(
            "-A DOCKER ! -i dmtbr0 -p tcp -m tcp --dport {port} -j DNAT --to-destination {ip}:80\n"
        ));
        filter.push_str(&format!(
            "-A DOCKER -d {ip}/32 ! -i dmtbr0 -o dmtbr0 -p tcp -m tcp --dport 80 -j ACCEPT\n"
        ));
    }
    nat.push_str("COMMIT\n");
    filter.push_str("COMMIT\n");
    nat + &filter
}

/// Host port and container address of published port number `i`.
pub fn published_port(i: usize) -> (usize, String) {
    (10000 + i, format!("198.18.{}.{}", 1 + i / 250, 2 + i % 250))
}
