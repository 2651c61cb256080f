//! The CLI under faults: not root, engine down, iptables-save missing. Runs the real binary.

use crate::support;

use std::process::{Command, Output};

use dockmap::snapshot::{NodeSnapshot, SourceKind, SourceState};
use support::netlab;

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

fn json(out: &Output) -> NodeSnapshot {
    assert!(
        out.status.success(),
        "dockmap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("snapshot JSON")
}

#[test]
fn without_root_it_says_so_and_fails() {
    if !netlab::require_root() {
        return;
    }
    // setpriv drops to nobody: the real unprivileged case, not a simulated one.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "snapshot",
            "--no-engine",
        ])
        .output()
        .expect("setpriv");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root"), "{err}");
    assert!(out.stdout.is_empty(), "no partial snapshot on stdout");
}

#[test]
fn with_the_engine_down_it_shows_the_kernel_and_says_why() {
    if !netlab::require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("dockmap-dead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("docker.sock");
    // A socket file with no listener: what a stopped engine leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let (out, why) = snapshot_without_engine(&sock);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        why.contains("refused") || why.contains("cannot connect"),
        "{why}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Engine"),
        "the terminal is told too"
    );

    // The graph of that snapshot reads without root and carries the reason as a finding.
    let file = std::env::temp_dir().join(format!("dockmap-dead-{}.json", std::process::id()));
    std::fs::write(&file, &out.stdout).unwrap();
    let g = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "graph",
            "--from",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&g.stdout).unwrap();
    assert!(graph["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "source-error" && f["message"].as_str().unwrap().contains("engine")));
}

#[test]
fn with_iptables_save_missing_it_says_so_and_keeps_the_rest() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = netlab::Lab::new();
    let ns = lab.netns("fw");
    drop_from_198_18_9_9(&ns);
    // A private mount namespace where the sbin directories are empty: the tools are really absent.
    // dockmap's rule cache is emptied there too: another run (a parallel test) may already have
    // cached this namespace's unchanged rules, and then rightly would not need the tools.
    let script = format!(
        "mount -t tmpfs none /usr/sbin && {{ [ -L /sbin ] || mount -t tmpfs none /sbin; }} && mkdir -p /run/dockmap && mount -t tmpfs none /run/dockmap && exec {BIN} snapshot --no-engine --netns-dir /run/netns"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let s = json(&out);
    let st = s
        .sources
        .iter()
        .find(|x| x.source == SourceKind::Iptables && x.namespace.as_deref() == Some(ns.as_str()))
        .unwrap_or_else(|| panic!("no iptables status for {ns}: {:#?}", s.sources));
    assert_eq!(st.state, SourceState::Error);
    assert!(st.message.contains("not found"), "{}", st.message);
    // The node-wide line sums it up instead of saying "ok" over the failures.
    let whole = s
        .sources
        .iter()
        .find(|x| x.source == SourceKind::Iptables && x.namespace.is_none())
        .unwrap_or_else(|| panic!("no node-wide iptables status: {:#?}", s.sources));
    assert_eq!(whole.state, SourceState::Error, "{whole:?}");
    assert!(whole.message.contains("namespaces"), "{}", whole.message);
    let mine = s
        .namespaces
        .iter()
        .find(|n| n.name == ns)
        .expect("namespace still read");
    assert!(
        mine.links.iter().any(|l| l.name == "lo"),
        "links are kept when the firewall is not"
    );
}

#[test]
fn with_a_hung_engine_it_gives_up_on_it_and_keeps_the_kernel() {
    if !netlab::require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("dockmap-hung-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("docker.sock");
    // Accepts connections and never answers: an engine stuck in a deadlock.
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().take(4).flatten() {
            open.push(conn);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let (_, why) = snapshot_without_engine(&sock);
    let _ = std::fs::remove_dir_all(&dir);
    drop(held);
    assert!(why.contains("cannot connect"), "{why}");
}

/// `dockmap snapshot` against an engine socket that fails: the output and the engine's status
/// message, once it is checked that the engine part is missing, said to be an
/// error, and that the kernel's picture is still there.
/// One iptables rule in `ns`, so its firewall is read with the tools.
fn drop_from_198_18_9_9(ns: &str) {
    netlab::run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "iptables",
            "-A",
            "INPUT",
            "-s",
            "198.18.9.9",
            "-j",
            "DROP",
        ],
    );
}

fn snapshot_without_engine(sock: &std::path::Path) -> (Output, String) {
    let out = Command::new(BIN)
        .args([
            "snapshot",
            "--docker",
            &format!("unix://{}", sock.display()),
        ])
        .output()
        .unwrap();
    let s = json(&out);
    assert!(s.engine.is_none());
    let st = s
        .sources
        .iter()
        .find(|x| x.source == SourceKind::Engine)
        .expect("engine status");
    assert_eq!(st.state, SourceState::Error);
    let why = st.message.clone();
    let host = s.host_namespace().expect("host namespace");
    assert!(
        host.links.iter().any(|l| l.name == "lo"),
        "the kernel's picture is still there"
    );
    (out, why)
}

#[test]
fn snapshot_out_writes_the_file_and_graph_reads_it_as_dot() {
    if !netlab::require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("dockmap-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("snap.json");
    let out = Command::new(BIN)
        .args(["snapshot", "--no-engine", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "--out keeps stdout empty");
    let written: NodeSnapshot = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(written.host_namespace().is_some());

    let dot = Command::new(BIN)
        .args(["graph", "--format", "dot", "--from"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        dot.status.success(),
        "{}",
        String::from_utf8_lossy(&dot.stderr)
    );
    let text = String::from_utf8(dot.stdout).unwrap();
    assert!(
        text.starts_with("digraph"),
        "{}",
        &text[..text.len().min(200)]
    );
    let host = format!("\"host:{}\"", dockmap::graph::ids::host_key(&written));
    assert!(
        text.contains(&host),
        "the host {host} is a node of the dot graph"
    );
    assert!(
        text.contains("\"if:") && text.contains("lo"),
        "interfaces are drawn"
    );
}

#[test]
fn with_iptables_save_hanging_in_one_namespace_it_is_killed_and_the_rest_arrives() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = netlab::Lab::new();
    let hang = lab.netns("hang");
    let fine = lab.netns("fine");
    for ns in [&hang, &fine] {
        drop_from_198_18_9_9(ns);
    }
    // Every name dockmap may run for IPv4 is, first on PATH, a wrapper: in the one namespace
    // it never finishes (exec: the killed pid is the sleeper itself), elsewhere the real tool.
    let bin = tempfile::Builder::new()
        .prefix("dmt-hang-")
        .tempdir()
        .unwrap();
    for name in ["iptables-nft-save", "iptables-save", "iptables-legacy-save"] {
        let p = bin.path().join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\nif [ \"$(ip netns identify)\" = \"{hang}\" ]; then exec sleep 600; fi\nexec /usr/sbin/{name} \"$@\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args([
            "snapshot",
            "--no-engine",
            "--netns-dir",
            "/run/netns",
            "--rule-cache",
        ])
        .arg(bin.path().join("cache.json"))
        .env("PATH", path)
        .output()
        .unwrap();
    let took = started.elapsed();
    let s = json(&out);
    // Bounded by the tool's 30 s limit, not by the sleeper's 600 s.
    assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
    // A namespace read in full has no status of its own; one that failed says why.
    let status = |ns: &str| {
        s.sources
            .iter()
            .find(|x| x.source == SourceKind::Iptables && x.namespace.as_deref() == Some(ns))
            .cloned()
    };
    let h =
        status(&hang).unwrap_or_else(|| panic!("no iptables status for {hang}: {:#?}", s.sources));
    assert_eq!(h.state, SourceState::Error, "{h:?}");
    assert!(h.message.contains("killed"), "{}", h.message);
    let rules_of = |ns: &str| -> Vec<String> {
        s.namespaces
            .iter()
            .find(|n| n.name == ns)
            .unwrap_or_else(|| panic!("{ns} not in the snapshot"))
            .firewall
            .as_ref()
            .map(|f| {
                f.ipv4
                    .iter()
                    .flat_map(|t| t.rules.iter().map(|r| r.text.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(status(&fine).is_none(), "{:?}", status(&fine));
    assert!(
        rules_of(&fine).iter().any(|r| r.contains("198.18.9.9")),
        "the other namespace's rules arrived: {:?}",
        rules_of(&fine)
    );
    let mine = s.namespaces.iter().find(|n| n.name == hang).unwrap();
    assert!(
        mine.links.iter().any(|l| l.name == "lo"),
        "its links arrived"
    );
}
