//! IPv6 paths: moby's Docker 28 ip6tables layouts (tests/fixtures/iptablesdoc/*.ip6tables-save,
//! each naming its source) loaded with ip6tables-restore into a stand-in host with a real bridge,
//! two container namespaces and a client, every address in 2001:2::/48. Real traffic shows what
//! each layout does, and the traced path must say the same, quoting the ip6tables rules. With no
//! ip6tables rules at all (an engine that does not program them: Docker before 27 without
//! `--ip6tables`) the hops where Docker's NAT would be are *unknown*, never *broken*.

use crate::support;

use std::path::Path;

use dockmap::graph::build;
use dockmap::path::{trace, Outcome, PacketPath, Question};
use dockmap::snapshot::{IpamConfig, NodeSnapshot};
use support::netlab::{self, Web};
use support::standin::{ContainerNs, StandIn};

/// Host 2001:2:0:221::5 on up0 (client ::9 there, which routes 2001:2:0:220::/64 back to the
/// host), bridge1 2001:2:0:220::1/64 with containers ::2 and ::3 serving port 80, a server on the
/// client; forwarding and bridge netfilter for IPv6 on; no rules at all.
fn v6_lab() -> StandIn {
    let l = StandIn::builder("6host", "2001:2:0:221::5/64", "2001:2:0:220::1/64")
        .outside("6cli", Some("2001:2:0:221::9/64"))
        .route_back()
        .bridge("bridge1")
        .container(ContainerNs::new("6ctr", "vethc2", "2001:2:0:220::2/64").serving(80))
        .container(ContainerNs::new("6ct2", "vethc3", "2001:2:0:220::3/64").serving(80))
        .forwarding()
        .sysctl("net.bridge.bridge-nf-call-ip6tables=1")
        .outside_serving(80)
        .build();
    // Settle neighbour discovery before any rule is loaded: a first connection through a DNAT
    // can otherwise outrun the solicitation of a namespace made a moment ago.
    for to in [
        "[2001:2:0:220::2]:80",
        "[2001:2:0:220::3]:80",
        "[2001:2:0:221::9]:80",
    ] {
        assert!(
            (0..5).any(|_| netlab::connects_to(&l.host_h, to)),
            "the lab reaches {to}"
        );
    }
    l
}

/// Replace the host's rules (both families) by moby's ip6tables layout `name`, or by none.
fn load(l: &StandIn, name: Option<&str>) {
    l.flush_rules();
    if let Some(name) = name {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/iptablesdoc/{name}.ip6tables-save"));
        let rules = std::fs::read_to_string(path).unwrap();
        netlab::restore_with("ip6tables-restore", &l.host, &rules);
    }
}

/// The real collector's snapshot of the lab, with the engine's facts for `web` (::2, port
/// 8080 → 80 published on `::`) and `web2` (::3) on an IPv6 network (`gateway_mode_ipv6`).
fn snapshot(l: &StandIn, gateway_mode: &str) -> NodeSnapshot {
    let mut s = l.collect("v6node");
    let mut e = netlab::web_engine(&Web {
        sandbox: &l.files[0],
        network: "v6net",
        bridge: Some("bridge1"),
        subnet: "2001:2:0:220::/64",
        ip: "",
        host_ip: "::",
    });
    let net = &mut e.networks[0];
    net.enable_ipv6 = true;
    net.ipam = vec![IpamConfig {
        subnet: "2001:2:0:220::/64".into(),
        gateway: "2001:2:0:220::1".into(),
        ..Default::default()
    }];
    net.options.insert(
        "com.docker.network.bridge.gateway_mode_ipv6".into(),
        gateway_mode.into(),
    );
    let web = &mut e.containers[0];
    web.endpoints[0].ipv6 = "2001:2:0:220::2".into();
    let mut web2 = web.clone();
    web2.id = "beef".repeat(16);
    web2.name = "web2".into();
    web2.sandbox_key = l.files[1].display().to_string();
    web2.ports.clear();
    web2.endpoints[0].ipv6 = "2001:2:0:220::3".into();
    web2.endpoints[0].endpoint_id = "ep1".into();
    e.containers.push(web2);
    s.engine = Some(e);
    s
}

fn quotes(p: &PacketPath, text: &str) -> bool {
    p.hops
        .iter()
        .flat_map(|h| h.evidence.iter())
        .any(|e| e.kind == "ip6tables" && e.text == text)
}

/// What real traffic did and what the path says agree: delivered exactly when it connected.
fn agrees(what: &str, connected: bool, p: &PacketPath) {
    assert_eq!(
        connected,
        p.outcome == Outcome::Delivered,
        "{what}: traffic {} but the path says {:?}: {p:#?}",
        if connected { "got through" } else { "did not" },
        p.outcome
    );
}

#[test]
fn docker28_ip6tables_layouts_traced_as_real_ipv6_traffic_goes() {
    if !netlab::require_root() {
        return;
    }
    let l = v6_lab();
    // nat gateway mode: the port is DNATed over IPv6, egress is masqueraded (NAT66).
    load(&l, Some("usernet-portmap"));
    let s = snapshot(&l, "nat");
    let port = netlab::connects_to(&l.outside_h, "[2001:2:0:221::5]:8080");
    assert!(port, "the published port answers over IPv6");
    let p = netlab::port_path(8080, &s);
    agrees("port", port, &p);
    assert!(
        quotes(&p, "-t nat -A DOCKER ! -s fe80::/10 ! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:2:0:220::2]:80"),
        "{p:#?}"
    );
    assert!(
        p.hops
            .iter()
            .any(|h| h.text.starts_with("DNAT to [2001:2:0:220::2]:80")),
        "{p:#?}"
    );
    let direct = netlab::connects_to(&l.outside_h, "[2001:2:0:220::2]:80");
    assert!(
        !direct,
        "direct access to the container's address is dropped in raw PREROUTING"
    );
    let d = netlab::between_path("2001:2:0:221::9", "web:80", &s);
    agrees("direct access", direct, &d);
    assert!(
        quotes(
            &d,
            "-t raw -A PREROUTING -d 2001:2:0:220::2/128 ! -i bridge1 -j DROP"
        ),
        "{d:#?}"
    );
    assert!(
        d.hops
            .last()
            .unwrap()
            .verdict
            .reason()
            .contains("com.docker.network.bridge.gateway_mode_ipv6=nat-unprotected"),
        "{d:#?}"
    );
    let out = netlab::connects_to(&l.container_h[0], "[2001:2:0:221::9]:80");
    let e = netlab::between_path("web", "2001:2:0:221::9", &s);
    agrees("egress", out, &e);
    assert!(
        quotes(
            &e,
            "-t nat -A POSTROUTING -s 2001:2:0:220::/64 ! -o bridge1 -j MASQUERADE"
        ),
        "{e:#?}"
    );
    let ew = netlab::connects_to(&l.container_h[0], "[2001:2:0:220::3]:80");
    let p = netlab::between_path("web", "web2", &s);
    assert!(p.id.ends_with("@v6net/ipv6"), "{p:#?}");
    agrees("icc", ew, &p);
    assert!(ew, "containers of one network talk with icc on");

    // icc=false: bridge netfilter for IPv6 is on, so Docker's DROP between ports holds.
    load(&l, Some("usernet-portmap-noicc"));
    let s = snapshot(&l, "nat");
    let ew = netlab::connects_to(&l.container_h[0], "[2001:2:0:220::3]:80");
    assert!(
        !ew,
        "icc=false drops traffic between the network's containers"
    );
    let p = netlab::between_path("web", "2001:2:0:220::3", &s);
    agrees("icc=false", ew, &p);
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    assert!(
        quotes(
            &p,
            "-t filter -A DOCKER-FORWARD -i bridge1 -o bridge1 -j DROP"
        ),
        "{p:#?}"
    );

    // routed: no NAT66; the client routes the prefix to the host, so replies come back.
    load(&l, Some("usernet-portmap-routed"));
    let s = snapshot(&l, "routed");
    agrees(
        "routed port",
        netlab::connects_to(&l.outside_h, "[2001:2:0:221::5]:8080"),
        &netlab::port_path(8080, &s),
    );
    let e = netlab::between_path("web", "2001:2:0:221::9", &s);
    agrees(
        "routed egress",
        netlab::connects_to(&l.container_h[0], "[2001:2:0:221::9]:80"),
        &e,
    );
    assert!(
        e.hops.iter().any(|h| h.text.starts_with("no NAT66")),
        "{e:#?}"
    );
    agrees(
        "routed direct access",
        netlab::connects_to(&l.outside_h, "[2001:2:0:220::2]:80"),
        &netlab::between_path("2001:2:0:221::9", "web:80", &s),
    );
    drop(l);
}

#[test]
fn without_ip6tables_rules_ipv6_paths_are_unknown_where_docker_would_nat() {
    if !netlab::require_root() {
        return;
    }
    let l = v6_lab();
    load(&l, None);
    let s = snapshot(&l, "nat");
    // Nothing DNATs and nothing listens: the port is closed, and the path cannot call that
    // broken (the engine is not managing IPv6 here), nor delivered.
    assert!(!netlab::connects_to(&l.outside_h, "[2001:2:0:221::5]:8080"));
    let p = netlab::port_path(8080, &s);
    assert_eq!(p.outcome, Outcome::Unknown, "{p:#?}");
    let why = p.hops.last().unwrap().verdict.reason().to_owned();
    assert!(
        why.contains("no Docker ip6tables rules")
            && why.contains("nothing listens on [::]:8080/tcp"),
        "{why}"
    );
    // An IPv4 binding of a container with no IPv4 address (an IPv6-only network): no DNAT is
    // meant to take it, so nothing is broken; the host's sockets say who would relay it.
    let mut v6_only = s.clone();
    let web = &mut v6_only.engine.as_mut().unwrap().containers[0];
    let mut v4 = web.ports[0].clone();
    v4.host_ip = Some("0.0.0.0".into());
    web.ports.push(v4);
    let g = build(std::slice::from_ref(&v6_only));
    let q = Question::Port {
        port: 8080,
        protocol: "tcp".into(),
        node: None,
    };
    let a = trace(&q, std::slice::from_ref(&v6_only), &g);
    assert_eq!(a.paths.len(), 2, "{a:#?}");
    let p4 = a.paths.iter().find(|p| !p.id.contains("/ipv6")).unwrap();
    assert_eq!(p4.outcome, Outcome::Unknown, "{p4:#?}");
    assert!(
        p4.hops
            .last()
            .unwrap()
            .verdict
            .reason()
            .contains("has no IPv4 address (an IPv6-only network)"),
        "{p4:#?}"
    );
    // Egress leaves unmasqueraded; it works here only because the client routes the prefix back.
    assert!(netlab::connects_to(
        &l.container_h[0],
        "[2001:2:0:221::9]:80"
    ));
    let e = netlab::between_path("web", "2001:2:0:221::9", &s);
    assert_eq!(e.outcome, Outcome::Unknown, "{e:#?}");
    assert!(
        e.hops
            .last()
            .unwrap()
            .verdict
            .reason()
            .contains("replies come back only if the network's prefix is routed"),
        "{e:#?}"
    );
    // Between containers nothing of Docker's applies: delivered, and said so.
    let ew = netlab::connects_to(&l.container_h[0], "[2001:2:0:220::3]:80");
    let p = netlab::between_path("web", "web2", &s);
    agrees("no rules", ew, &p);
    assert!(
        p.hops
            .iter()
            .any(|h| h.text.contains("no Docker ip6tables rules")),
        "{p:#?}"
    );
    // IPv6 forwarding off: the kernel forwards nothing, whatever the rules.
    l.sysctl("net.ipv6.conf.all.forwarding=0");
    let out = netlab::connects_to(&l.container_h[0], "[2001:2:0:221::9]:80");
    let e = netlab::between_path("web", "2001:2:0:221::9", &snapshot(&l, "nat"));
    agrees("forwarding off", out, &e);
    assert_eq!(e.outcome, Outcome::Blocked, "{e:#?}");
    assert!(
        e.hops
            .last()
            .unwrap()
            .evidence
            .iter()
            .any(|ev| ev.text == "net.ipv6.conf.all.forwarding = 0"),
        "{e:#?}"
    );
    drop(l);
}

/// The host's IPv6 forwarding switches, put back on drop: the 20.10 engine turns them on for
/// good when it makes an IPv6 network (libnetwork's setupIPv6Forwarding).
struct HostForwarding6(Vec<(&'static str, String)>);

impl HostForwarding6 {
    fn save() -> Self {
        let read = |p: &'static str| (p, std::fs::read_to_string(p).unwrap_or_default());
        HostForwarding6(vec![
            read("/proc/sys/net/ipv6/conf/all/forwarding"),
            read("/proc/sys/net/ipv6/conf/default/forwarding"),
        ])
    }
}

impl Drop for HostForwarding6 {
    fn drop(&mut self) {
        for (p, v) in &self.0 {
            if !v.is_empty() {
                let _ = std::fs::write(p, v);
            }
        }
    }
}

/// On the real 20.10 engine, an IPv6 network in 2001:2::/48 without `--ip6tables` on the daemon
/// (the shared test engine has none): the IPv4 binding is delivered through the DNAT, the IPv6
/// one is unknown and says the engine does not manage IPv6 here, and east-west over IPv6
/// agrees with real traffic between the containers.
#[test]
fn engine_ipv6_network_without_ip6tables_is_answered_honestly() {
    use crate::support::engine::{self, TestContainer, TestNetwork};
    if !engine::available() {
        return;
    }
    let _forwarding = HostForwarding6::save();
    let pid = std::process::id();
    let port = 20_000 + (pid % 20_000) as u16 + 7;
    let subnet = format!("2001:2:0:{:x}::/64", 0x1000 + pid % 0xe000);
    let net = TestNetwork::bridge(&engine::unique("v6"), &["--ipv6", "--subnet", &subnet]);
    let web = TestContainer::run_cmd(
        &engine::unique("v6web"),
        &["--network", &net.id, "-p", &format!("{port}:80")],
        &["sh", "-c", "while true; do echo ok | nc -l -p 80; done"],
    );
    let peer = TestContainer::run(&engine::unique("v6peer"), &["--network", &net.id]);
    let web_v6 = web.inspect("{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}");
    assert!(
        web_v6.starts_with("2001:2:0:"),
        "the engine gave web an address in {subnet}: {web_v6:?}"
    );
    let ip6_rules = netlab::run("ip6tables-save", &[]);
    let engine_programs_ip6tables = ip6_rules.contains(":DOCKER");

    let snap = engine::runtime().block_on(dockmap::collect::node::collect(
        &dockmap::collect::node::NodeOptions::default(),
    ));
    let g = build(std::slice::from_ref(&snap));
    let q = Question::Port {
        port,
        protocol: "tcp".into(),
        node: None,
    };
    let a = trace(&q, std::slice::from_ref(&snap), &g);
    let v4 = a.paths.iter().find(|p| !p.id.contains("/ipv6"));
    let v6 = a.paths.iter().find(|p| p.id.contains("/ipv6"));
    let (Some(v4), Some(v6)) = (v4, v6) else {
        panic!("one IPv4 and one IPv6 path: {a:#?}");
    };
    assert_eq!(v4.outcome, Outcome::Delivered, "{v4:#?}");
    if !engine_programs_ip6tables {
        assert_eq!(v6.outcome, Outcome::Unknown, "{v6:#?}");
        let why = v6.hops.last().unwrap().verdict.reason();
        assert!(why.contains("no Docker ip6tables rules"), "{why}");
        assert!(why.contains(&format!("[::]:{port}/tcp")), "{why}");
    }

    // East-west over IPv6: what the path says is what a connection between them does.
    let connected = engine::try_docker(&[
        "exec",
        &peer.id,
        "sh",
        "-c",
        &format!("nc -w 2 {web_v6} 80 </dev/null"),
    ])
    .is_ok_and(|out| out.contains("ok"));
    let q = Question::Between {
        from: peer.name.clone(),
        to: web_v6.clone(),
    };
    let a = trace(&q, std::slice::from_ref(&snap), &g);
    assert_eq!(a.paths.len(), 1, "{a:#?}");
    agrees("engine east-west", connected, &a.paths[0]);
    assert!(
        connected,
        "nothing of the engine's stands between two containers of one network"
    );
    assert!(
        a.paths[0].hops.iter().any(|h| engine_programs_ip6tables
            || h.text.contains("no Docker ip6tables rules")
            || h.text.contains("bridges it without iptables")),
        "{:#?}",
        a.paths[0]
    );
    drop((web, peer));
    drop(net);
}

/// Docker 29's nftables backend over IPv6: moby's `ip6 docker-bridges` table loaded with `nft -f`
/// (tests/fixtures/nftablesdoc/usernet-portmap-ip6.nft, naming its source) and no ip6tables
/// rules: the port, direct access, egress and icc as real IPv6 traffic goes, quoting the table.
#[test]
fn docker29_ip6_table_traced_as_real_ipv6_traffic_goes() {
    if !netlab::require_root() {
        return;
    }
    let l = v6_lab();
    load(&l, None);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nftablesdoc/usernet-portmap-ip6.nft");
    l.load_nft(&path);
    let s = snapshot(&l, "nat");
    let native = |p: &PacketPath, text: &str| {
        p.hops
            .iter()
            .flat_map(|h| h.evidence.iter())
            .any(|e| e.kind == "nftables" && e.text.ends_with(text))
    };
    let port = netlab::connects_to(&l.outside_h, "[2001:2:0:221::5]:8080");
    assert!(port, "the native DNAT forwards the port over IPv6");
    let p = netlab::port_path(8080, &s);
    agrees("native port", port, &p);
    assert!(
        native(
            &p,
            "tcp dport 8080 counter dnat to [2001:2:0:220::2]:80 comment \"DNAT\""
        ),
        "{p:#?}"
    );
    let direct = netlab::connects_to(&l.outside_h, "[2001:2:0:220::2]:80");
    let d = netlab::between_path("2001:2:0:221::9", "web:80", &s);
    agrees("native direct access", direct, &d);
    assert!(
        native(&d, "counter drop comment \"DROP DIRECT ACCESS\""),
        "{d:#?}"
    );
    let out = netlab::connects_to(&l.container_h[0], "[2001:2:0:221::9]:80");
    let e = netlab::between_path("web", "2001:2:0:221::9", &s);
    agrees("native egress", out, &e);
    assert!(
        native(&e, "counter masquerade comment \"MASQUERADE\""),
        "{e:#?}"
    );
    agrees(
        "native icc",
        netlab::connects_to(&l.container_h[0], "[2001:2:0:220::3]:80"),
        &netlab::between_path("web", "web2", &s),
    );
    drop(l);
}
