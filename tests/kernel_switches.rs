//! The kernel's switches, read in test namespaces where each is set both ways, and the paths
//! they decide checked against real traffic (198.18.0.0/15 only).

use crate::support;

use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use dockmap::collect::netns::{run_in, NsHandle};
use dockmap::collect::{sockdiag, sysctl};
use dockmap::path::{Outcome, Verdict};
use dockmap::snapshot::*;
use support::netlab::{self, restore, Lab};
use support::standin::{ContainerNs, StandIn};

fn set(ns: &str, key: &str, value: &str) {
    netlab::sysctl(ns, &format!("{key}={value}"));
}

fn switches_of(h: &NsHandle) -> Sysctls {
    run_in(h, || sysctl::read(Path::new(sysctl::PROC_SYS_NET)))
        .unwrap()
        .unwrap()
}

fn listeners_of(h: &NsHandle) -> Vec<Listener> {
    run_in(h, || sockdiag::read_current_thread(Path::new("/proc")))
        .unwrap()
        .unwrap()
}

fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn switches_are_read_per_namespace_both_ways() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = Lab::new();
    let a = lab.netns("swa");
    let b = lab.netns("swb");
    lab.veth(Some(&a), "v0", Some(&b), "v0");
    let (ha, hb) = (lab.handle(&a), lab.handle(&b));
    let bridge_nf = Path::new("/proc/sys/net/bridge").exists();
    for (on, off) in [("1", "0"), ("0", "1")] {
        set(&a, "net.ipv4.ip_forward", on);
        set(&b, "net.ipv4.ip_forward", off);
        set(
            &a,
            "net.ipv4.conf.v0.rp_filter",
            if on == "1" { "1" } else { "2" },
        );
        set(&a, "net.ipv4.conf.v0.route_localnet", on);
        set(&a, "net.ipv4.conf.all.route_localnet", "0");
        if bridge_nf {
            set(&a, "net.bridge.bridge-nf-call-iptables", on);
            set(&b, "net.bridge.bridge-nf-call-iptables", off);
        }
        let (sa, sb) = (switches_of(&ha), switches_of(&hb));
        assert_eq!(sa.get("net.ipv4.ip_forward"), Some(on));
        assert_eq!(sb.get("net.ipv4.ip_forward"), Some(off), "per namespace");
        assert_eq!(
            sa.get("net.ipv4.conf.v0.rp_filter"),
            Some(if on == "1" { "1" } else { "2" })
        );
        assert_eq!(sa.get("net.ipv4.conf.v0.route_localnet"), Some(on));
        assert_eq!(sa.get("net.ipv4.conf.all.route_localnet"), Some("0"));
        assert!(sa.get("net.ipv4.conf.lo.rp_filter").is_some());
        assert!(sa.get("net.ipv6.conf.all.forwarding").is_some());
        if bridge_nf {
            assert_eq!(sa.get("net.bridge.bridge-nf-call-iptables"), Some(on));
            assert_eq!(sb.get("net.bridge.bridge-nf-call-iptables"), Some(off));
        } else {
            assert!(sa.is_absent("net.bridge.bridge-nf-call-iptables"));
        }
    }
}

#[test]
fn listeners_are_found_with_their_process_and_gone_when_closed() {
    if !netlab::require_root() {
        return;
    }
    let mut lab = Lab::new();
    let a = lab.netns("lsa");
    let h = lab.handle(&a);
    assert!(
        listeners_of(&h).is_empty(),
        "a fresh namespace listens nowhere"
    );
    // Sockets stay in the namespace they were made in.
    let (tcp, udp) = run_in(&h, || {
        (
            TcpListener::bind("127.0.0.1:47123").unwrap(),
            UdpSocket::bind("0.0.0.0:47124").unwrap(),
        )
    })
    .unwrap();
    let seen = listeners_of(&h);
    let me = my_comm();
    let t = seen
        .iter()
        .find(|l| l.protocol == "tcp" && l.port == 47123)
        .expect("the TCP listener");
    assert_eq!((t.family, t.address.as_str()), (4, "127.0.0.1"));
    assert_eq!(t.process.as_deref(), Some(me.as_str()));
    let u = seen
        .iter()
        .find(|l| l.protocol == "udp" && l.port == 47124)
        .expect("the UDP socket");
    assert_eq!(u.address, "0.0.0.0");
    // The host namespace's sockets are not this one's.
    let host = NsHandle::host().unwrap();
    assert!(!listeners_of(&host).iter().any(|l| l.port == 47123
        && l.address == "127.0.0.1"
        && l.process.as_deref() == Some(me.as_str())));
    drop((tcp, udp));
    // Gone once closed; a child another test forks at that moment holds a copy of every
    // descriptor until it execs, so the socket may outlive the close by a moment.
    let mut after = listeners_of(&h);
    for _ in 0..50 {
        if after.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = listeners_of(&h);
    }
    assert!(after.is_empty(), "{after:?}");
}

const PORT_RULES: &str = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.211.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
";

/// A stand-in host `phost` with an uplink to `pcli` (198.18.210.0/24) and a bridge `docker0`
/// (198.18.211.0/24) with a container namespace `pctr` on it, the DNAT of port 8080 as Docker
/// writes it, a server in `pctr` on 198.18.211.2:80.
fn port_lab() -> StandIn {
    let pl = StandIn::builder("phost", "198.18.210.5/24", "198.18.211.1/24")
        .outside("pcli", Some("198.18.210.9/24"))
        .container(ContainerNs::new("pctr", "vethc0", "198.18.211.2/24").serving(80))
        .build();
    restore(&pl.host, PORT_RULES);
    pl
}

/// Whether a client in `cli` gets the server's answer through 198.18.210.5:8080.
fn connects(cli: &NsHandle) -> bool {
    netlab::connects_to(cli, "198.18.210.5:8080")
}

/// What the engine would add: `web` on docker0 (198.18.211.2), its port 8080 published on `host_ip`.
fn with_web(mut s: NodeSnapshot, sandbox: &Path, host_ip: &str) -> NodeSnapshot {
    s.engine = Some(netlab::web_engine(&netlab::Web {
        sandbox,
        network: "bridge",
        bridge: None,
        subnet: "198.18.211.0/24",
        ip: "198.18.211.2",
        host_ip,
    }));
    s
}

/// The real collector, run inside the stand-in host, with the container's namespace filed.
fn collect(pl: &StandIn) -> NodeSnapshot {
    pl.collect("swnode")
}

#[test]
fn forwarding_decides_a_published_port_as_real_traffic_does() {
    if !netlab::require_root() {
        return;
    }
    let pl = port_lab();
    set(&pl.host, "net.ipv4.ip_forward", "1");
    assert!(
        connects(&pl.outside_h),
        "forwarding on: the DNAT reaches the server"
    );
    let p = netlab::port_path(8080, &collect(&pl));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");

    set(&pl.host, "net.ipv4.ip_forward", "0");
    assert!(
        !connects(&pl.outside_h),
        "forwarding off: nothing gets through"
    );
    let s = collect(&pl);
    assert_eq!(
        s.host_namespace()
            .unwrap()
            .sysctls
            .as_ref()
            .unwrap()
            .get("net.ipv4.ip_forward"),
        Some("0")
    );
    let p = netlab::port_path(8080, &s);
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    let h = p.hops.last().unwrap();
    assert!(matches!(&h.verdict, Verdict::Blocked(w) if w.contains("net.ipv4.ip_forward = 0")));
    assert_eq!(h.evidence[0].kind, "sysctl");
    assert_eq!(h.evidence[0].text, "net.ipv4.ip_forward = 0");
    drop(pl);
}

/// Docker without the userland proxy: loopback is DNATed in nat OUTPUT too, and masqueraded.
const NO_PROXY_RULES: &str = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.211.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
";

#[test]
fn loopback_published_port_without_the_proxy_needs_route_localnet() {
    if !netlab::require_root() {
        return;
    }
    let pl = port_lab();
    restore(&pl.host, NO_PROXY_RULES);
    set(&pl.host, "net.ipv4.conf.all.route_localnet", "0");
    for on in ["0", "1"] {
        set(&pl.host, "net.ipv4.conf.docker0.route_localnet", on);
        let real = netlab::connects_to(&pl.host_h, "127.0.0.1:8080");
        assert_eq!(
            real,
            on == "1",
            "route_localnet={on}: the kernel routes 127.0.0.1 out of docker0 only when on"
        );
        let p = netlab::port_path(8080, &with_web(collect(&pl), &pl.files[0], "127.0.0.1"));
        let h = p.hops.last().unwrap();
        if on == "1" {
            assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
            // The host part of IDs is the node's key (its hashed machine ID here), not its name.
            assert!(
                h.element
                    .as_deref()
                    .is_some_and(|e| e.starts_with("ctr:") && e.ends_with("/web")),
                "{h:#?}"
            );
        } else {
            assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
            assert!(
                h.evidence
                    .iter()
                    .any(|e| e.text == "net.ipv4.conf.docker0.route_localnet = 0"),
                "{h:#?}"
            );
        }
    }
}

#[test]
fn loopback_published_port_with_the_proxy_says_who_listens() {
    if !netlab::require_root() {
        return;
    }
    let pl = port_lab();
    let rules = PORT_RULES.replace(
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
    );
    restore(&pl.host, &rules);
    assert!(
        !netlab::connects_to(&pl.host_h, "127.0.0.1:8080"),
        "nothing listens yet"
    );
    let p = netlab::port_path(8080, &with_web(collect(&pl), &pl.files[0], "127.0.0.1"));
    assert_eq!(p.outcome, Outcome::Broken, "{p:#?}");
    assert!(p
        .hops
        .last()
        .unwrap()
        .text
        .contains("nothing listens on 127.0.0.1:8080/tcp"));
    // A stand-in for docker-proxy: this process listening on 127.0.0.1:8080 in the host.
    let proxy = run_in(&pl.host_h, || TcpListener::bind("127.0.0.1:8080").unwrap()).unwrap();
    let p = netlab::port_path(8080, &with_web(collect(&pl), &pl.files[0], "127.0.0.1"));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    let me = my_comm();
    let hop = p
        .hops
        .iter()
        .find(|h| h.text.contains(&format!("{me} listens there")))
        .unwrap_or_else(|| panic!("{p:#?}"));
    assert!(hop
        .evidence
        .iter()
        .any(|e| e.kind == "socket"
            && e.text == format!("tcp LISTEN 127.0.0.1:8080 users:((\"{me}\"))")));
    drop(proxy);
}

#[test]
fn icc_off_holds_only_while_bridge_netfilter_is_on() {
    if !netlab::require_root() {
        return;
    }
    if !Path::new("/proc/sys/net/bridge").exists() {
        eprintln!("skipped: br_netfilter is not loaded on this host");
        return;
    }
    let mut pl = port_lab();
    // A second container on docker0, and Docker's icc=false rule.
    let peer = pl.add_container(ContainerNs::new("ppeer", "vethc1", "198.18.211.3/24").unrouted());
    let (peer_file, hpeer) = (pl.files[peer].clone(), &pl.container_h[peer]);
    restore(
        &pl.host,
        &PORT_RULES.replace(
            ":FORWARD ACCEPT [0:0]\n",
            ":FORWARD ACCEPT [0:0]\n-A FORWARD -i docker0 -o docker0 -j DROP\n",
        ),
    );
    for nf in ["1", "0"] {
        set(&pl.host, "net.bridge.bridge-nf-call-iptables", nf);
        let real = netlab::connects_to(hpeer, "198.18.211.2:80");
        assert_eq!(real, nf == "0", "bridge-nf-call-iptables={nf}");
        let mut s = with_web(collect(&pl), &pl.files[0], "0.0.0.0");
        let e = s.engine.as_mut().unwrap();
        e.networks[0].options.insert(
            "com.docker.network.bridge.enable_icc".into(),
            "false".into(),
        );
        let mut c = e.containers[0].clone();
        c.name = "peer".into();
        c.id = "beef".repeat(16);
        c.ports.clear();
        c.sandbox_key = peer_file.display().to_string();
        c.endpoints[0].ipv4 = "198.18.211.3".into();
        e.containers.push(c);
        let p = &netlab::between_path("peer", "web", &s);
        if nf == "1" {
            assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
        } else {
            assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
            assert!(p.hops.iter().any(|h| h.text.contains("enable_icc=false")
                && h.evidence
                    .iter()
                    .any(|e| e.text == "net.bridge.bridge-nf-call-iptables = 0")));
        }
    }
}
