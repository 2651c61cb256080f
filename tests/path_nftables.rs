//! Docker 29's nftables firewall backend: the `ip docker-bridges` layouts moby's own tests
//! generate (tests/fixtures/nftablesdoc/, each naming its source file) loaded with `nft -f` into
//! a stand-in host with a real bridge, a container namespace and a client. Real traffic shows what
//! each layout does, and the path traced through the native rules must say the same, quoting them.
//! The same lab checks direct access to the container's address on moby's Docker 28 iptables
//! layouts (tests/fixtures/iptablesdoc/): nat, nat-unprotected and routed gateway modes.

use crate::support;

use std::path::{Path, PathBuf};

use dockmap::path::{Outcome, PacketPath};
use dockmap::snapshot::NodeSnapshot;
use support::netlab::{self, Web};
use support::standin::{ContainerNs, StandIn};

/// Host 198.18.221.5 on up0 (client 198.18.221.9, which routes the bridge's subnet to the host),
/// bridge1 198.18.220.1/24 with the container 198.18.220.2 serving port 80, a server on the
/// client for egress; forwarding on; no iptables rules at all.
fn nft_lab() -> StandIn {
    StandIn::builder("nhost", "198.18.221.5/24", "198.18.220.1/24")
        .outside("ncli", Some("198.18.221.9/24"))
        .route_back()
        .bridge("bridge1")
        .container(ContainerNs::new("nctr", "vethn0", "198.18.220.2/24").serving(80))
        .forwarding()
        .outside_serving(80)
        .build()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/nftablesdoc/{name}.nft"))
}

/// Replace the host's ruleset with the fixture, as Docker 29 would have written it.
fn load(nl: &StandIn, name: &str) {
    nl.flush_rules();
    nl.load_nft(&fixture(name));
}

fn snapshot(nl: &StandIn, host_ip: &str) -> NodeSnapshot {
    snapshot_on(nl, host_ip, "bridge1")
}

fn snapshot_on(nl: &StandIn, host_ip: &str, bridge: &str) -> NodeSnapshot {
    let mut s = nl.collect("nftnode");
    s.engine = Some(netlab::web_engine(&Web {
        sandbox: &nl.files[0],
        network: bridge,
        bridge: Some(bridge),
        subnet: "198.18.220.0/24",
        ip: "198.18.220.2",
        host_ip,
    }));
    s
}

fn egress(s: &NodeSnapshot) -> PacketPath {
    netlab::between_path("web", "internet", s)
}

fn quotes(p: &PacketPath, text: &str) -> bool {
    p.hops.iter().any(|h| {
        h.evidence
            .iter()
            .any(|e| e.kind == "nftables" && e.text.ends_with(text))
    })
}

#[test]
fn docker29_layouts_traced_as_real_traffic_goes() {
    if !netlab::require_root() {
        return;
    }
    let nl = nft_lab();
    // nat gateway mode: the port is forwarded, direct access to the container is dropped.
    for layout in [
        "usernet-portmap",
        "usernet-portmap-noicc",
        "usernet-portmap-natunprot",
    ] {
        load(&nl, layout);
        assert!(
            netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"),
            "{layout}: DNAT works"
        );
        assert_eq!(
            netlab::connects_to(&nl.outside_h, "198.18.220.2:80"),
            layout.ends_with("natunprot"),
            "{layout}: DROP DIRECT ACCESS only in nat mode"
        );
        assert!(
            netlab::connects_to(&nl.container_h[0], "198.18.221.9:80"),
            "{layout}: egress"
        );
        let s = snapshot(&nl, "0.0.0.0");
        let p = netlab::port_path(8080, &s);
        assert_eq!(p.outcome, Outcome::Delivered, "{layout}: {p:#?}");
        assert!(
            quotes(
                &p,
                "tcp dport 8080 counter dnat to 198.18.220.2:80 comment \"DNAT\""
            ),
            "{layout}: {p:#?}"
        );
        let e = egress(&s);
        assert_eq!(e.outcome, Outcome::Delivered, "{layout}: {e:#?}");
        assert!(
            quotes(&e, "counter masquerade comment \"MASQUERADE\""),
            "{layout}: {e:#?}"
        );
    }
    // routed: no DNAT on the host's address; the container's own address is the way in.
    load(&nl, "usernet-portmap-routed");
    assert!(!netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"));
    assert!(netlab::connects_to(&nl.outside_h, "198.18.220.2:80"));
    let p = netlab::port_path(8080, &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Broken, "{p:#?}");
    assert!(p.hops.last().unwrap().text.contains("no DNAT"), "{p:#?}");
    // Published on 127.0.0.1: nat-OUTPUT leaves 127.0.0.0/8 to docker-proxy, which does not
    // run here, and a remote client is dropped in raw-PREROUTING.
    load(&nl, "usernet-portmap-lo");
    assert!(!netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"));
    assert!(!netlab::connects_to(&nl.host_h, "127.0.0.1:8080"));
    let p = netlab::port_path(8080, &snapshot(&nl, "127.0.0.1"));
    assert_eq!(p.outcome, Outcome::Broken, "{p:#?}");
    assert!(
        p.hops
            .last()
            .unwrap()
            .text
            .contains("nothing listens on 127.0.0.1:8080"),
        "{p:#?}"
    );
    // Internal network (its bridge is bridgeICC in moby's layout): no way out.
    for args in [
        &["link", "set", "bridge1", "down"][..],
        &["link", "set", "bridge1", "name", "bridgeICC"],
        &["link", "set", "bridgeICC", "up"],
    ] {
        nl.lab.ip(Some(&nl.host), args);
    }
    load(&nl, "usernet-internal");
    assert!(!netlab::connects_to(&nl.container_h[0], "198.18.221.9:80"));
    let e = egress(&snapshot_on(&nl, "0.0.0.0", "bridgeICC"));
    assert_eq!(e.outcome, Outcome::Blocked, "{e:#?}");
    assert!(
        e.hops
            .last()
            .unwrap()
            .verdict
            .reason()
            .contains("INTERNAL NETWORK EGRESS"),
        "{e:#?}"
    );
    drop(nl);
}

/// Replace the host's rules by moby's Docker 28 iptables layout `name` (tests/fixtures/iptablesdoc/).
fn load_iptables(nl: &StandIn, name: &str) {
    nl.flush_rules();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/iptablesdoc/{name}.iptables-save"));
    netlab::restore(&nl.host, &std::fs::read_to_string(path).unwrap());
}

#[test]
fn docker28_direct_access_traced_as_real_traffic_goes() {
    if !netlab::require_root() {
        return;
    }
    let nl = nft_lab();
    // nat mode: raw PREROUTING drops what comes from outside to the container's address.
    load_iptables(&nl, "usernet-portmap");
    assert!(
        netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"),
        "the published port works"
    );
    assert!(
        !netlab::connects_to(&nl.outside_h, "198.18.220.2:80"),
        "direct access is dropped"
    );
    let s = snapshot(&nl, "0.0.0.0");
    let p = netlab::between_path("198.18.221.9", "web:80", &s);
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    let h = p.hops.last().unwrap();
    assert!(
        h.evidence
            .iter()
            .any(|e| e.text == "-t raw -A PREROUTING -d 198.18.220.2/32 ! -i bridge1 -j DROP"),
        "{h:#?}"
    );
    assert!(h
        .verdict
        .reason()
        .contains("gateway_mode_ipv4=nat-unprotected"));
    assert_eq!(
        netlab::between_path("up0", "web:80", &s).outcome,
        Outcome::Blocked
    );
    // nat-unprotected: the container's address is open from outside.
    load_iptables(&nl, "usernet-portmap-natunprot");
    assert!(netlab::connects_to(&nl.outside_h, "198.18.220.2:80"));
    let p = netlab::between_path("198.18.221.9", "web:80", &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    // routed: the published port is open on the container's address.
    load_iptables(&nl, "usernet-portmap-routed");
    assert!(netlab::connects_to(&nl.outside_h, "198.18.220.2:80"));
    let p = netlab::between_path("198.18.221.9", "web:80", &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    drop(nl);
}

/// A firewall of the host's own in a native table (as firewalld or a hand-written nft file keeps
/// one), beside Docker 28's iptables-nft rules: the forward hook runs both tables' base chains in
/// priority order.
const SITE_FIREWALL: &str = r#"table inet dmtsite {
    chain site_forward {
        type filter hook forward priority 10; policy accept;
        ip daddr 198.18.220.2 tcp dport 80 counter drop comment "site policy: no web"
    }
}
"#;

/// Add the host's own native table to whatever rules are loaded.
fn add_site_firewall(nl: &StandIn, rules: &str) {
    netlab::feed(&nl.host, &["nft", "-f", "-"], rules);
}

#[test]
fn a_host_mixing_iptables_and_a_native_table_is_traced_through_both() {
    if !netlab::require_root() {
        return;
    }
    let nl = nft_lab();
    // Docker's iptables rules alone: the port is forwarded.
    load_iptables(&nl, "usernet-portmap");
    assert!(netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"));
    let p = netlab::port_path(8080, &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    // The site's native table drops what Docker's FORWARD accepted, after it (priority 10).
    add_site_firewall(&nl, SITE_FIREWALL);
    assert!(
        !netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"),
        "the site table drops the forwarded connection"
    );
    let p = netlab::port_path(8080, &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    assert!(
        p.hops
            .iter()
            .any(|h| h.evidence.iter().any(|e| e.text.contains("DNAT"))),
        "the iptables DNAT is still on the path: {p:#?}"
    );
    assert!(
        quotes(
            &p,
            "ip daddr 198.18.220.2 tcp dport 80 counter drop comment \"site policy: no web\""
        ),
        "{p:#?}"
    );
    // The same table letting the port through: delivered again, both ways.
    netlab::exec(&nl.host, &["nft", "delete", "table", "inet", "dmtsite"]);
    add_site_firewall(
        &nl,
        &SITE_FIREWALL.replace("drop comment", "accept comment"),
    );
    assert!(netlab::connects_to(&nl.outside_h, "198.18.221.5:8080"));
    let p = netlab::port_path(8080, &snapshot(&nl, "0.0.0.0"));
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    drop(nl);
}
