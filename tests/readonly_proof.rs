//! dockmap changes nothing: `dockmap snapshot`, a `serve` refresh and an agent's answer, each
//! run under strace, with the kernel's and the engine's state taken before and after.
//!
//! Two kinds of proof, because other tests run on this host at the same time:
//! - State diffs. Exact for what this test owns: a namespace with a veth pair, addresses,
//!   routes, iptables and native nft rules (a veth pair inside it), and a labelled engine network and container. Tolerant
//!   host-wide (iptables-save, ip6tables-save, nft, links, addresses, routes, namespaces,
//!   containers, networks): a line may appear or vanish only if it names another test's objects
//!   (`dmt`/`dm<digit>`/`dmlab` prefixes, the swarm lab's `nodeN` namespaces, Docker's `veth*`/`br-*`,
//!   the test ranges 198.18/15 and 2001:2::).
//! - What dockmap did, from strace, which no concurrent test can blur: every netlink request is
//!   a GET or a dump (no RTM_NEW*/DEL*/SET*, no NFT_MSG_NEW*/DEL*, no XFRM_MSG_NEW*/DEL*/UPD*/
//!   FLUSH*), every program run is a `*tables-save` or `nft … list …`, every engine request is a
//!   GET (a type strace leaves as a number is judged by the socket's protocol), and every file
//!   opened for writing is in /run/dockmap (the documented rule cache), the
//!   data directory given to `serve`, or /dev/null.

use crate::support::agents;
use crate::support::engine;
use crate::support::netlab;
use crate::support::swarm;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engine::{TestContainer, TestNetwork};

/// Output of a command, or its error in words (a state that cannot be read is compared too).
fn out(cmd: &str, args: &[&str]) -> String {
    match Command::new(cmd).args(args).output() {
        Ok(o) => {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        }
        Err(e) => format!("{cmd}: {e}"),
    }
}

/// Counters and generated-at comments are not state.
fn normal(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("# Generated") && !l.starts_with("# Completed"))
        .map(|l| {
            let l = if l.starts_with(':') {
                l.rsplit_once(" [").map_or(l, |(a, _)| a)
            } else {
                l
            };
            let mut words: Vec<&str> = l.split(' ').collect();
            for i in 1..words.len() {
                if matches!(words[i - 1], "packets" | "bytes") {
                    words[i] = "N";
                }
            }
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn in_ns(ns: &str, cmd: &str, args: &[&str]) -> String {
    let mut full = vec!["netns", "exec", ns, cmd];
    full.extend_from_slice(args);
    normal(&out("ip", &full))
}

/// What this test owns: compared exactly.
fn own_state(ns: &str, objects: &[&str]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("ns iptables-save".into(), in_ns(ns, "iptables-save", &[]));
    m.insert("ns ip6tables-save".into(), in_ns(ns, "ip6tables-save", &[]));
    m.insert("ns nft".into(), in_ns(ns, "nft", &["list", "ruleset"]));
    m.insert(
        "ns links".into(),
        out("ip", &["-n", ns, "-d", "link", "show"]),
    );
    m.insert(
        "ns addresses".into(),
        out("ip", &["-n", ns, "addr", "show"]),
    );
    m.insert(
        "ns routes".into(),
        out("ip", &["-n", ns, "route", "show", "table", "all"]),
    );
    m.insert(
        "ns routes6".into(),
        out("ip", &["-n", ns, "-6", "route", "show", "table", "all"]),
    );
    for o in objects {
        m.insert(format!("engine {o}"), out("docker", &["inspect", o]));
    }
    m
}

/// The whole host, as lines.
fn host_state() -> BTreeMap<String, BTreeSet<String>> {
    let lines = |s: String| s.lines().map(str::to_owned).collect::<BTreeSet<_>>();
    let mut m = BTreeMap::new();
    m.insert("iptables-save", lines(normal(&out("iptables-save", &[]))));
    m.insert("ip6tables-save", lines(normal(&out("ip6tables-save", &[]))));
    m.insert("nft", lines(normal(&out("nft", &["list", "ruleset"]))));
    // Without -d: a bridge's details carry timers that move by themselves.
    m.insert("links", lines(out("ip", &["-o", "link", "show"])));
    m.insert("addresses", lines(out("ip", &["-o", "addr", "show"])));
    m.insert(
        "routes",
        lines(out("ip", &["route", "show", "table", "all"])),
    );
    m.insert(
        "routes6",
        lines(out("ip", &["-6", "route", "show", "table", "all"])),
    );
    m.insert("namespaces", lines(out("ip", &["netns", "list"])));
    m.insert(
        "containers",
        lines(out(
            "docker",
            &[
                "ps",
                "-a",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Names}} {{.State}} {{.Networks}}",
            ],
        )),
    );
    m.insert(
        "networks",
        lines(out(
            "docker",
            &[
                "network",
                "ls",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}",
            ],
        )),
    );
    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Whether a line names another test's objects (the swarm lab's too: its `dmlab-*` objects and
/// the `nodeN` namespaces of its engines, which a lab test running beside this one makes).
fn foreign(line: &str) -> bool {
    let dm_digit = line
        .match_indices("dm")
        .any(|(i, _)| line[i + 2..].starts_with(|c: char| c.is_ascii_digit()));
    let lab_node = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(swarm::is_node_name);
    dm_digit
        || lab_node
        || [
            "dmt", "dmlab", "veth", "br-", "198.18.", "198.19.", "2001:2:",
        ]
        .iter()
        .any(|t| line.contains(t))
}

fn host_changes(
    before: &BTreeMap<String, BTreeSet<String>>,
    after: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (k, b) in before {
        let a = &after[k];
        for l in b.symmetric_difference(a) {
            if !foreign(l) {
                let how = if b.contains(l) { "gone" } else { "new" };
                bad.push(format!("{k}: {how}: {l}"));
            }
        }
    }
    bad
}

/// Whether a netlink message type strace left as a number is a request that only reads, by
/// the socket's protocol (strace cannot name types of sockets made in other namespaces).
fn numeric_type_reads(proto: &str, t: u32) -> bool {
    match proto {
        // rtnetlink families come in fours from 16: NEW, DEL, GET, SET.
        "NETLINK_ROUTE" => t >= 16 && t % 4 == 2,
        // XFRM_MSG_GETSA, GETPOLICY, GETAE, GETSADINFO, GETSPDINFO.
        "NETLINK_XFRM" => matches!(t, 0x12 | 0x15 | 0x1f | 0x23 | 0x25),
        // The subsystem is the high byte. nf_tables (10): GETTABLE, GETCHAIN, GETRULE, GETSET,
        // GETSETELEM, GETGEN, GETOBJ, GETFLOWTABLE; nft_compat (11): NFNL_MSG_COMPAT_GET, which
        // iptables-nft-save sends to learn an extension's revision (`tcp`, `DNAT`...).
        "NETLINK_NETFILTER" => match (t >> 8, t & 0xff) {
            (10, m) => matches!(m, 1 | 4 | 7 | 10 | 13 | 16 | 19 | 23),
            (11, 0) => true,
            _ => false,
        },
        // Generic netlink (the IPVS family) carries its command in the payload: not judged here.
        "NETLINK_GENERIC" => true,
        _ => false,
    }
}

/// strace's lines made whole again (an `<unfinished ...>` call joined to its `<... resumed>`
/// end), each with the fd table it ran with (threads share their creator's, processes have
/// their own): a netlink socket's protocol is known by (table, fd).
fn whole_calls(log: &str) -> Vec<(u32, String)> {
    let mut pending: BTreeMap<u32, String> = BTreeMap::new();
    // A thread's first calls can be logged before its creator's clone returns: the tables are
    // known only once the whole log is read.
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    let mut calls = Vec::new();
    for raw in log.lines() {
        let Some((tid, rest)) = raw.split_once(' ') else {
            continue;
        };
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        let (line, done) = if let Some(first) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(tid, first.to_owned());
            // Judged now too: its buffer (what is sent) is in this first part.
            (first.to_owned(), false)
        } else if rest.starts_with("<... ") {
            let end = rest.split_once("resumed>").map_or("", |(_, e)| e);
            match pending.remove(&tid) {
                Some(first) => (format!("{first}{end}"), true),
                None => continue,
            }
        } else {
            (rest.to_owned(), true)
        };
        let cloned =
            line.starts_with("clone") || line.starts_with("vfork") || line.starts_with("fork");
        if done && cloned && line.contains("CLONE_FILES") {
            if let Some(child) = line
                .rsplit("= ")
                .next()
                .and_then(|c| c.trim().parse::<u32>().ok())
            {
                parent.insert(child, tid);
            }
        }
        calls.push((tid, line));
    }
    let table = |mut t: u32| {
        while let Some(&p) = parent.get(&t) {
            t = p;
        }
        t
    };
    calls.into_iter().map(|(t, l)| (table(t), l)).collect()
}

/// What a strace log shows dockmap doing that is not reading.
fn writes_in(log: &str, allowed_dirs: &[&Path]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut netlink: BTreeMap<(u32, String), String> = BTreeMap::new();
    for (fds, line) in whole_calls(log) {
        let line = line.as_str();
        if let Some(rest) = line.strip_prefix("socket(AF_NETLINK, ") {
            let proto = rest
                .split(&[',', ')'][..])
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_owned();
            if let Some(fd) = line.rsplit("= ").next().map(str::trim) {
                netlink.insert((fds, fd.to_owned()), proto);
            }
        }
        // A socket's copies (fcntl F_DUPFD, dup) are the same socket.
        let dup_of = line
            .strip_prefix("fcntl(")
            .filter(|r| r.contains("F_DUPFD"))
            .or_else(|| line.strip_prefix("dup("))
            .or_else(|| line.strip_prefix("dup2("))
            .or_else(|| line.strip_prefix("dup3("))
            .and_then(|r| r.split(&[',', ')'][..]).next());
        if let (Some(from), Some(to)) = (dup_of, line.rsplit("= ").next().map(str::trim)) {
            if let Some(proto) = netlink.get(&(fds, from.to_owned())).cloned() {
                netlink.insert((fds, to.to_owned()), proto);
            }
        }
        if let Some(hex) = line.split("nlmsg_type=0x").nth(1) {
            let t = u32::from_str_radix(
                hex.split(|c: char| !c.is_ascii_hexdigit())
                    .next()
                    .unwrap_or(""),
                16,
            )
            .unwrap_or(0);
            let fd = ["sendto(", "sendmsg("]
                .iter()
                .find_map(|c| line.split(c).nth(1))
                .and_then(|r| r.split(',').next())
                .unwrap_or("");
            let proto = netlink
                .get(&(fds, fd.to_owned()))
                .map_or("unknown", String::as_str);
            if !numeric_type_reads(proto, t) {
                bad.push(format!(
                    "a netlink message of type {t:#x} on a {proto} socket: {line}"
                ));
            }
        }
        for t in [
            "RTM_NEW",
            "RTM_DEL",
            "RTM_SET",
            "NFT_MSG_NEW",
            "NFT_MSG_DEL",
            "NFT_MSG_DESTROY",
            "XFRM_MSG_NEW",
            "XFRM_MSG_DEL",
            "XFRM_MSG_UPD",
            "XFRM_MSG_FLUSH",
        ] {
            if line.contains(t)
                && !line.contains("nlmsg_type=NLMSG_ERROR")
                && !line.contains("recv")
            {
                bad.push(format!("a netlink change: {line}"));
            }
        }
        for m in ["\"POST /", "\"DELETE /", "\"PUT /", "\"PATCH /"] {
            // The server's own answers and the test's requests are not in dockmap's log; any
            // such request in dockmap's writes is one it sent.
            if line.contains(m) && !line.contains("read(") && !line.contains("recv") {
                bad.push(format!("a request that changes something: {line}"));
            }
        }
        if let Some(rest) = line.split("execve(\"").nth(1) {
            let prog = rest.split('"').next().unwrap_or("");
            let base = prog.rsplit('/').next().unwrap_or("");
            let ok = base == "dockmap"
                || (base.contains("tables") && base.ends_with("-save"))
                || (base == "nft" && line.contains("\"list\""));
            if !ok {
                bad.push(format!("ran {prog}: {line}"));
            }
        }
        if line.contains("openat(")
            && (line.contains("O_WRONLY") || line.contains("O_RDWR"))
            && !line.contains("= -1")
        {
            let path = line
                .split("openat(")
                .nth(1)
                .and_then(|r| r.split('"').nth(1))
                .unwrap_or("");
            let ok = path.starts_with("/run/dockmap")
                || path == "/dev/null"
                || allowed_dirs.iter().any(|d| Path::new(path).starts_with(d));
            if !ok {
                bad.push(format!("opened for writing: {line}"));
            }
        }
    }
    bad
}

/// strace's options up to the log's name: every call through which a process could change anything.
const STRACE: &[&str] = &["-f", "-qq", "-s", "96", "-e", "trace=socket,fcntl,dup,dup2,dup3,clone,clone3,vfork,fork,execve,openat,sendto,sendmsg,write,writev", "-o"];

/// `strace -f` of dockmap `command` reading engine `docker` and the namespaces in /run/netns, its
/// log in `log`, its output discarded; more arguments may follow.
fn traced(log: &Path, command: &[&str], docker: &str) -> Command {
    let mut c = Command::new("strace");
    c.args(STRACE)
        .arg(log)
        .arg(agents::BIN)
        .args(command)
        .args(["--docker", docker, "--netns-dir", "/run/netns"])
        .env("DOCKER_HOST", engine::docker_host())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// A traced process stopped (SIGTERM to strace ends it and its tracee) on drop.
struct Traced(Child);

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request over a fresh connection: its status (0 when there is no answer) and its text.
fn http(method: &str, port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn snapshot_serve_refresh_and_agent_answer_change_nothing() {
    if !netlab::require_root() || !engine::available() {
        return;
    }
    // What this test owns, with something in every table compared.
    let mut lab = netlab::Lab::new();
    let ns = lab.netns("ro");
    lab.ip(
        Some(&ns),
        &["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
    );
    lab.ip(Some(&ns), &["link", "set", "d0", "up"]);
    lab.ip(Some(&ns), &["addr", "add", "198.18.77.1/24", "dev", "d0"]);
    lab.ip(
        Some(&ns),
        &["addr", "add", "2001:2:0:77::1/64", "dev", "d0", "nodad"],
    );
    lab.ip(
        Some(&ns),
        &["route", "add", "198.18.78.0/24", "via", "198.18.77.2"],
    );
    netlab::run(
        "ip",
        &[
            "netns",
            "exec",
            &ns,
            "iptables",
            "-A",
            "INPUT",
            "-s",
            "198.18.9.9",
            "-j",
            "DROP",
        ],
    );
    netlab::run(
        "ip",
        &[
            "netns",
            "exec",
            &ns,
            "ip6tables",
            "-A",
            "INPUT",
            "-s",
            "2001:2::9",
            "-j",
            "DROP",
        ],
    );
    for cmd in [
        "add table inet dmtro",
        "add chain inet dmtro c { type filter hook input priority 10 ; }",
        "add rule inet dmtro c ip saddr 198.18.9.8 counter drop",
    ] {
        netlab::run("ip", &["netns", "exec", &ns, "nft", cmd]);
    }
    let net = TestNetwork::bridge(&engine::unique("ro"), &[]);
    let ctr = TestContainer::run(&engine::unique("ro"), &["--network", &net.name]);
    let objects = [net.id.as_str(), ctr.id.as_str()];

    let dir = tempfile::Builder::new()
        .prefix("dmt-readonly-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let host = engine::docker_host();
    let mut failures = Vec::new();
    let mut check = |what: &str, log: &Path, run: &mut dyn FnMut()| {
        let own = own_state(&ns, &objects);
        let hosts = host_state();
        run();
        let own_after = own_state(&ns, &objects);
        for (k, v) in &own {
            if own_after[k] != *v {
                failures.push(format!(
                    "{what}: {k} changed:\n--- before\n{v}\n--- after\n{}",
                    own_after[k]
                ));
            }
        }
        for c in host_changes(&hosts, &host_state()) {
            failures.push(format!("{what}: host {c}"));
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        // The audit saw every channel it checks: netlink decoded, the engine's requests, tools.
        for seen in [
            "execve(",
            "RTM_GETADDR",
            "NLM_F_DUMP",
            "NFT_MSG_GETGEN",
            "\"GET /v1.",
            "tables-nft-save",
        ] {
            assert!(
                text.contains(seen),
                "{what}: the strace log shows no {seen}"
            );
        }
        for w in writes_in(&text, &[data.as_path(), dir.path()]) {
            failures.push(format!("{what}: {w}"));
        }
    };

    // 1. `dockmap snapshot`.
    let log1 = dir.path().join("snapshot.strace");
    let snap_out = dir.path().join("snap.json");
    check("snapshot", &log1, &mut || {
        let st = traced(&log1, &["snapshot"], &host)
            .arg("--out")
            .arg(&snap_out)
            .status()
            .unwrap();
        assert!(st.success());
    });
    let snap = std::fs::read_to_string(&snap_out).unwrap();
    assert!(
        snap.contains("198.18.9.8") && snap.contains(&ctr.name),
        "the snapshot saw what it was to leave alone"
    );

    // 2. `dockmap serve` and a refresh.
    let log2 = dir.path().join("serve.strace");
    let port = agents::free_port();
    check("serve refresh", &log2, &mut || {
        let listen = format!("127.0.0.1:{port}");
        let _p = Traced(
            traced(&log2, &["serve", "--listen", &listen], &host)
                .arg("--data-dir")
                .arg(&data)
                .spawn()
                .unwrap(),
        );
        wait_for("serve answers", 120, || {
            http("GET", port, "/api/status").0 == 200
        });
        assert_eq!(http("POST", port, "/api/refresh").0, 202);
        std::thread::sleep(Duration::from_secs(1));
        wait_for("the refresh ends", 120, || {
            http("GET", port, "/api/status")
                .1
                .contains("\"state\":\"ready\"")
        });
        assert_eq!(http("GET", port, "/api/graph").0, 200);
    });

    // 3. An agent's answer.
    let log3 = dir.path().join("agent.strace");
    let port = agents::free_port();
    check("agent answer", &log3, &mut || {
        let listen = format!("127.0.0.1:{port}");
        let _p = Traced(
            traced(
                &log3,
                &["agent", "--insecure-no-auth", "--listen", &listen],
                &host,
            )
            .spawn()
            .unwrap(),
        );
        wait_for("the agent answers", 120, || {
            http("GET", port, "/v1/snapshot").0 == 200
        });
    });

    // The audit is not blind: a real change, made the same way, is seen by both proofs.
    let before = own_state(&ns, &objects);
    let ctl = dir.path().join("control.strace");
    let st = Command::new("strace")
        .args(STRACE)
        .arg(&ctl)
        .args(["ip", "-n", &ns, "link", "set", "d1", "mtu", "1400"])
        .status()
        .unwrap();
    assert!(st.success());
    let seen = writes_in(&std::fs::read_to_string(&ctl).unwrap(), &[]);
    // (`ip -n` sends from another namespace: strace leaves RTM_NEWLINK as the number 0x10.)
    assert!(
        seen.iter()
            .any(|w| w.contains("RTM_NEWLINK") || w.contains("type 0x10 on a NETLINK_ROUTE")),
        "{seen:?}"
    );
    assert!(seen.iter().any(|w| w.starts_with("ran ")), "{seen:?}");
    assert_ne!(own_state(&ns, &objects)["ns links"], before["ns links"]);

    drop(ctr);
    drop(net);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
