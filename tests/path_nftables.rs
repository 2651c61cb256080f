//! Docker 29's nftables firewall backend: the `ip docker-bridges` layouts moby's own tests
//! generate (tests/fixtures/nftablesdoc/, each naming its source file) loaded with `nft -f` into
//! a stand-in host with a real bridge, a container namespace and a client. Real traffic shows what
//! each layout does; the paths must never call a port the rules forward *broken*: until native
//! rules are interpreted, the hops they decide are *unknown*, naming the table.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use dockmap::collect::netns::{run_in, NsHandle};
use dockmap::graph::build;
use dockmap::path::{trace, Outcome, Question};
use dockmap::snapshot::NodeSnapshot;
use support::netlab::{self, Lab, NetnsDir, Web};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

struct NftLab {
    lab: Lab,
    host: String,
    cli: NsHandle,
    hhost: NsHandle,
    ctr_file: PathBuf,
    _server: std::thread::JoinHandle<()>,
    dir: NetnsDir,
}

/// Host 198.18.221.5 on up0 (client 198.18.221.9), bridge1 198.18.220.1/24 with the container
/// 198.18.220.2 serving port 80; forwarding on; no iptables rules at all.
fn nft_lab() -> NftLab {
    let mut lab = Lab::new();
    let host = lab.netns("nhost");
    let cli = lab.netns("ncli");
    let ctr = lab.netns("nctr");
    lab.veth(Some(&host), "up0", Some(&cli), "eth0");
    lab.ip(
        Some(&host),
        &["addr", "add", "198.18.221.5/24", "dev", "up0"],
    );
    lab.ip(
        Some(&cli),
        &["addr", "add", "198.18.221.9/24", "dev", "eth0"],
    );
    lab.ip(
        Some(&cli),
        &["route", "add", "198.18.220.0/24", "via", "198.18.221.5"],
    );
    lab.ip(
        Some(&host),
        &[
            "route",
            "add",
            "default",
            "via",
            "198.18.221.9",
            "dev",
            "up0",
        ],
    );
    lab.ip(Some(&host), &["link", "add", "bridge1", "type", "bridge"]);
    lab.ip(
        Some(&host),
        &["addr", "add", "198.18.220.1/24", "dev", "bridge1"],
    );
    lab.ip(Some(&host), &["link", "set", "bridge1", "up"]);
    lab.veth(Some(&host), "vethn0", Some(&ctr), "eth0");
    lab.ip(Some(&host), &["link", "set", "vethn0", "master", "bridge1"]);
    lab.ip(
        Some(&ctr),
        &["addr", "add", "198.18.220.2/24", "dev", "eth0"],
    );
    lab.ip(
        Some(&ctr),
        &["route", "add", "default", "via", "198.18.220.1"],
    );
    netlab::run(
        "ip",
        &[
            "netns",
            "exec",
            &host,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ],
    );
    let server = run_in(&lab.handle(&ctr), || {
        std::net::TcpListener::bind("198.18.220.2:80").unwrap()
    })
    .unwrap();
    let mut dir = NetnsDir::new(&format!("{host}-files"));
    let ctr_file = dir.add("nctr", &ctr);
    NftLab {
        cli: lab.handle(&cli),
        hhost: lab.handle(&host),
        host,
        lab,
        ctr_file,
        _server: netlab::answer_ok(server),
        dir,
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/nftablesdoc/{name}.nft"))
}

/// Replace the host's ruleset with the fixture, as Docker 29 would have written it.
fn load(nl: &NftLab, name: &str) {
    let host = nl.host.as_str();
    netlab::run("ip", &["netns", "exec", host, "nft", "flush", "ruleset"]);
    let ok = Command::new("ip")
        .args(["netns", "exec", host, "nft", "-f"])
        .arg(fixture(name))
        .stderr(Stdio::inherit())
        .status()
        .unwrap()
        .success();
    assert!(ok, "nft -f {name}");
}

fn snapshot(nl: &NftLab, host_ip: &str) -> NodeSnapshot {
    let mut s = netlab::collect_in(BIN, &nl.host, "nftnode", &nl.dir.dir);
    s.engine = Some(netlab::web_engine(&Web {
        sandbox: &nl.ctr_file,
        network: "bridge1",
        bridge: Some("bridge1"),
        subnet: "198.18.220.0/24",
        ip: "198.18.220.2",
        host_ip,
    }));
    s
}

/// The port path: unknown at the hop native rules decide, quoting the table, never broken.
fn assert_unknown_by_native(s: &NodeSnapshot, layout: &str) {
    let p = netlab::port_path(8080, s);
    assert_eq!(p.outcome, Outcome::Unknown, "{layout}: {p:#?}");
    let h = p.hops.last().unwrap();
    assert!(
        h.verdict
            .reason()
            .contains("native nftables rules not interpreted")
            && h.verdict.reason().contains("ip docker-bridges"),
        "{layout}: {h:#?}"
    );
    assert!(
        h.evidence
            .iter()
            .any(|e| e.kind == "nftables" && e.text.starts_with("table ip docker-bridges { chain ")),
        "{layout}: {h:#?}"
    );
}

#[test]
fn docker29_layouts_are_unknown_never_broken() {
    if !netlab::require_root() {
        return;
    }
    let nl = nft_lab();
    // nat gateway mode: the port is forwarded, direct access to the container is dropped.
    for layout in ["usernet-portmap", "usernet-portmap-noicc"] {
        load(&nl, layout);
        assert!(
            netlab::connects_to(&nl.cli, "198.18.221.5:8080"),
            "{layout}: DNAT works"
        );
        assert!(
            !netlab::connects_to(&nl.cli, "198.18.220.2:80"),
            "{layout}: DROP DIRECT ACCESS"
        );
        assert_unknown_by_native(&snapshot(&nl, "0.0.0.0"), layout);
    }
    // nat-unprotected: forwarded, and the container's address open from outside too.
    load(&nl, "usernet-portmap-natunprot");
    assert!(netlab::connects_to(&nl.cli, "198.18.221.5:8080"));
    assert!(netlab::connects_to(&nl.cli, "198.18.220.2:80"));
    assert_unknown_by_native(&snapshot(&nl, "0.0.0.0"), "usernet-portmap-natunprot");
    // routed: no DNAT on the host's address; the container's own address is the way in.
    load(&nl, "usernet-portmap-routed");
    assert!(!netlab::connects_to(&nl.cli, "198.18.221.5:8080"));
    assert!(netlab::connects_to(&nl.cli, "198.18.220.2:80"));
    assert_unknown_by_native(&snapshot(&nl, "0.0.0.0"), "usernet-portmap-routed");
    // Published on 127.0.0.1 (route_localnet as Docker sets it).
    load(&nl, "usernet-portmap-lo");
    netlab::run(
        "ip",
        &[
            "netns",
            "exec",
            &nl.host,
            "sysctl",
            "-qw",
            "net.ipv4.conf.bridge1.route_localnet=1",
        ],
    );
    assert!(
        !netlab::connects_to(&nl.cli, "198.18.221.5:8080"),
        "loopback only"
    );
    // nat-OUTPUT leaves 127.0.0.0/8 to docker-proxy, which does not run here.
    assert!(!netlab::connects_to(&nl.hhost, "127.0.0.1:8080"));
    let s = snapshot(&nl, "127.0.0.1");
    let p = netlab::port_path(8080, &s);
    assert_ne!(p.outcome, Outcome::Broken, "{p:#?}");
    // Internal network: no way out; egress must not be called delivered past native rules.
    load(&nl, "usernet-internal");
    let s = snapshot(&nl, "0.0.0.0");
    let g = build(std::slice::from_ref(&s));
    let a = trace(
        &Question::Between {
            from: "web".into(),
            to: "internet".into(),
        },
        std::slice::from_ref(&s),
        &g,
    );
    assert_eq!(a.paths[0].outcome, Outcome::Unknown, "{:#?}", a.paths[0]);
    drop(nl.lab);
}
