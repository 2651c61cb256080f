//! Packet paths on the real engine: a published port, egress, icc off, isolation, and `dockmap path`.
//!
//! Every fact the derived paths quote must be what the kernel really holds: the DNAT and DROP
//! rules are compared with lines of the real `iptables-save` output.

use crate::support::engine;

use std::process::Command;

use dockmap::collect::node::{collect, NodeOptions};
use dockmap::graph::build;
use dockmap::path::{trace, Outcome, PacketPath, Question, Verdict};
use dockmap::snapshot::NodeSnapshot;
use engine::{TestContainer, TestNetwork};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

fn iptables_save(table: &str) -> Vec<String> {
    let out = Command::new("iptables-save")
        .args(["-t", table])
        .output()
        .expect("iptables-save runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The rule part of a `-t TABLE ...` evidence line.
fn rule_of<'a>(evidence: &'a str, table: &str) -> &'a str {
    evidence
        .strip_prefix(&format!("-t {table} "))
        .unwrap_or_else(|| panic!("{evidence:?} is not a {table} rule"))
}

fn between(snap: &NodeSnapshot, from: &str, to: &str) -> Vec<PacketPath> {
    let g = build(std::slice::from_ref(snap));
    let a = trace(
        &Question::Between {
            from: from.into(),
            to: to.into(),
        },
        std::slice::from_ref(snap),
        &g,
    );
    assert!(
        !a.paths.is_empty(),
        "no path from {from} to {to}: {:?}",
        a.notes
    );
    a.paths
}

#[test]
fn paths_on_the_real_engine_quote_the_real_rules() {
    if !engine::available() {
        return;
    }
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let noicc = TestNetwork::bridge(
        &engine::unique("noicc"),
        &["-o", "com.docker.network.bridge.enable_icc=false"],
    );
    let other = TestNetwork::bridge(&engine::unique("other"), &[]);
    let web = TestContainer::run(&engine::unique("web"), &["-p", &format!("{port}:80")]);
    let a1 = TestContainer::run(&engine::unique("a1"), &["--network", &noicc.id]);
    let a2 = TestContainer::run(&engine::unique("a2"), &["--network", &noicc.id]);
    let b1 = TestContainer::run(&engine::unique("b1"), &["--network", &other.id]);

    let snap = engine::runtime().block_on(collect(&NodeOptions::default()));
    let g = build(std::slice::from_ref(&snap));
    let nat = iptables_save("nat");
    let filter = iptables_save("filter");

    // Inbound to the published port: the DNAT hop quotes a real nat rule, and it reaches web.
    let answer = trace(
        &Question::Port {
            port,
            protocol: "tcp".into(),
            node: None,
        },
        std::slice::from_ref(&snap),
        &g,
    );
    assert_eq!(answer.paths.len(), 1, "{answer:#?}");
    let p = &answer.paths[0];
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    let dnat = p
        .hops
        .iter()
        .find(|h| h.text.starts_with("DNAT to "))
        .expect("a DNAT hop");
    let rule = rule_of(&dnat.evidence[0].text, "nat");
    assert!(
        nat.iter().any(|l| l == rule),
        "{rule:?} is not a line of iptables-save -t nat"
    );
    assert!(rule.contains(&format!("--dport {port} ")), "{rule}");
    let ip = web.inspect("{{.NetworkSettings.IPAddress}}");
    assert!(
        dnat.text.starts_with(&format!("DNAT to {ip}:80")),
        "{}",
        dnat.text
    );
    assert_eq!(
        p.hops.last().unwrap().element.as_deref(),
        Some(format!("ctr:{}/{}", dockmap::graph::ids::host_key(&snap), web.name).as_str())
    );

    // Egress: MASQUERADE, then the default route, if this machine has one.
    let egress = &between(&snap, &web.name, "internet")[0];
    let has_default = !String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-4", "route", "show", "default"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .is_empty();
    let masq = egress
        .hops
        .iter()
        .find(|h| h.text.contains("MASQUERADE"))
        .unwrap_or_else(|| panic!("no MASQUERADE hop: {egress:#?}"));
    let rule = rule_of(&masq.evidence.last().unwrap().text, "nat");
    assert!(nat.iter().any(|l| l == rule), "{rule:?}");
    if has_default {
        assert_eq!(egress.outcome, Outcome::Delivered, "{egress:#?}");
    } else {
        assert!(
            matches!(&egress.hops.last().unwrap().verdict, Verdict::Broken(w) if w.contains("no default route")),
            "{egress:#?}"
        );
    }

    // icc=false: the bridge's own DROP rule blocks a1 -> a2.
    let bridge = format!("br-{}", &noicc.id[..12]);
    let icc = &between(&snap, &a1.name, &a2.name)[0];
    assert_eq!(icc.outcome, Outcome::Blocked, "{icc:#?}");
    let dropped = rule_of(
        &icc.hops.last().unwrap().evidence.last().unwrap().text,
        "filter",
    );
    assert_eq!(
        dropped,
        format!("-A FORWARD -i {bridge} -o {bridge} -j DROP")
    );
    assert!(filter.iter().any(|l| l == dropped));

    // Different networks: Docker's isolation chain drops it.
    let iso = &between(&snap, &a1.name, &b1.name)[0];
    assert_eq!(iso.outcome, Outcome::Blocked, "{iso:#?}");
    let dropped = rule_of(
        &iso.hops.last().unwrap().evidence.last().unwrap().text,
        "filter",
    );
    assert_eq!(
        dropped,
        format!(
            "-A DOCKER-ISOLATION-STAGE-2 -o br-{} -j DROP",
            &other.id[..12]
        )
    );
    assert!(filter.iter().any(|l| l == dropped));

    // The CLI: on the saved snapshot and live.
    let dir = std::env::temp_dir().join(format!("dmt-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("snap.json");
    std::fs::write(&file, serde_json::to_vec(&snap).unwrap()).unwrap();
    let out = Command::new(BIN)
        .args(["path", "--port", &port.to_string(), "--snapshot"])
        .arg(&file)
        .output()
        .unwrap();
    let json = Command::new(BIN)
        .args([
            "path",
            "--port",
            &port.to_string(),
            "--format",
            "json",
            "--snapshot",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let parsed: dockmap::path::PathAnswer =
        serde_json::from_slice(&json.stdout).expect("a PathAnswer");
    assert_eq!(parsed, answer);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("[delivered]"), "{text}");
    let dnat_line = format!(
        "        iptables host: -t nat {}",
        rule_of(&dnat.evidence[0].text, "nat")
    );
    assert!(text.lines().any(|l| l == dnat_line), "{text}");
    assert!(text.contains(&format!("receives it on {ip}:80")), "{text}");

    let out = Command::new(BIN)
        .args(["path", "--from", &a1.name, "--to", &a2.name])
        .env("DOCKER_HOST", engine::docker_host())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("[BLOCKED] filter FORWARD drops it"), "{text}");
    assert!(
        text.contains(&format!("-A FORWARD -i {bridge} -o {bridge} -j DROP")),
        "{text}"
    );
    assert!(text.contains("=> blocked"), "{text}");
    drop((web, a1, a2, b1, noicc, other));
}

#[test]
fn path_cli_refuses_bad_arguments_clearly() {
    for (args, says) in [
        (vec!["path"], "say what to trace"),
        (
            vec!["path", "--port", "80", "--from", "x", "--to", "y"],
            "not both",
        ),
        (vec!["path", "--from", "x"], "go together"),
        (
            vec!["path", "--port", "0", "--snapshot", "/nonexistent"],
            "no port",
        ),
        (
            vec!["path", "--port", "80", "--snapshot", "/nonexistent/s.json"],
            "reading /nonexistent/s.json",
        ),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
