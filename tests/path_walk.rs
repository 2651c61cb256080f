//! Rule sets whose walk used to take exponential time, loaded into a test namespace by the
//! kernel's own iptables-restore, collected by the real collector and asked about with the real
//! `dockmap path`: the answer is the kernel's verdict (or an unknown with its reason), never a hang.
//!
//! The stand-in host has an uplink, a bridge br0 and a namespace on it holding 198.18.211.2. Its
//! nat PREROUTING and filter FORWARD first jump to a chain that jumps eight times to the next, seven
//! chains deep (8^7 visits of the last chain for every packet), before Docker-like DNAT and ACCEPT
//! rules decide.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockmap::path::{Outcome, PathAnswer, Verdict};
use support::netlab::{self, restore};
use support::standin::{ContainerNs, StandIn};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
const CHAINS: usize = 8;
const FAN: usize = 8;
/// Only so that a regression fails instead of holding CI: the answer takes milliseconds.
const DEADLINE: Duration = Duration::from_secs(300);

/// `-A <from> -j <prefix>0`, then each `<prefix>i` jumping FAN times to `<prefix>(i+1)`, then `last`.
fn fan_out(from: &str, prefix: &str, last: &str) -> String {
    let mut s: String = (0..CHAINS)
        .map(|i| format!(":{prefix}{i} - [0:0]\n"))
        .collect();
    s.push_str(&format!("-A {from} -j {prefix}0\n"));
    for i in 0..CHAINS - 1 {
        for _ in 0..FAN {
            s.push_str(&format!("-A {prefix}{i} -j {prefix}{}\n", i + 1));
        }
    }
    s.push_str(&format!("-A {prefix}{} {last}\n", CHAINS - 1));
    s
}

fn rules(forward_last: &str) -> String {
    format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n{}\
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.211.2:80\nCOMMIT\n\
*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\
-A FORWARD -o br0 -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n",
        fan_out("PREROUTING", "WN", "-p tcp -m tcp --dport 9 -j DNAT --to-destination 198.18.211.9:9"),
        fan_out("FORWARD", "WF", forward_last),
    )
}

/// The collector inside the stand-in host, written to `file`.
fn snapshot(si: &StandIn, file: &std::path::Path) {
    let out = si
        .collector("walknode")
        .arg("--out")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `dockmap path --port 8080 --format json` on the snapshot, killed at the deadline.
fn path(file: &std::path::Path) -> PathAnswer {
    let mut child = Command::new(BIN)
        .args(["path", "--port", "8080", "--format", "json", "--snapshot"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dockmap path did not answer within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a PathAnswer")
}

#[test]
fn chains_jumping_many_times_to_the_next_get_the_kernels_verdict() {
    if !netlab::require_root() {
        return;
    }
    let si = StandIn::builder("whost", "198.18.210.5/24", "198.18.211.1/24")
        .outside("wwan", None)
        .gateway("198.18.210.1")
        .bridge("br0")
        .container(
            ContainerNs::new("wctr", "vctr", "198.18.211.2/24")
                .filed_as("walkctr")
                .unrouted(),
        )
        .build();
    let host = &si.host;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("snap.json");

    // The fan-out toggles the mark and lets the packet on: FORWARD's ACCEPT decides.
    let toggle = "-p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0x0";
    restore(host, &rules(toggle));
    let saved = netlab::exec(host, &["iptables-save"]);
    assert!(
        saved.contains(&format!("-A WF{} {toggle}", CHAINS - 1)),
        "{saved}"
    );
    snapshot(&si, &file);
    let a = path(&file);
    assert_eq!(a.paths.len(), 1, "{a:#?}");
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    assert!(
        p.hops
            .iter()
            .any(|h| h.text.starts_with("DNAT to 198.18.211.2:80")),
        "{p:#?}"
    );
    let accepted = p
        .hops
        .iter()
        .find(|h| h.text.starts_with("filter FORWARD accepts it"))
        .unwrap_or_else(|| panic!("{p:#?}"));
    // The toggle is quoted once, however many times the kernel meets it.
    let quoted = accepted
        .evidence
        .iter()
        .filter(|e| e.text.ends_with(toggle))
        .count();
    assert_eq!(quoted, 1, "{accepted:#?}");
    assert!(
        p.hops
            .iter()
            .any(|h| h.text.contains("walkctr receives it on 198.18.211.2:80")),
        "{p:#?}"
    );

    // The last chain drops it: blocked at FORWARD, by that rule.
    let dropping = "-p tcp -m tcp --dport 80 -j DROP";
    restore(host, &rules(dropping));
    snapshot(&si, &file);
    let a = path(&file);
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    let last = p.hops.last().unwrap();
    assert!(
        matches!(&last.verdict, Verdict::Blocked(w) if w.contains(&format!("-A WF{} {dropping}", CHAINS - 1))),
        "{last:#?}"
    );
    drop(si);
}
