//! IPv6 answers, whole: the single Docker host of the IPv4 tests with IPv6 added (web at
//! 2001:2:0:220::2 on docker0, the host at 2001:2:0:1::5), its ip6tables moby's Docker 28 layout
//! (tests/fixtures/iptablesdoc/, its bridge renamed docker0), or none at all.

use super::golden::assert_render;
use super::*;

/// moby's Docker 28 ip6tables layout for one network publishing 8080 -> 80.
const V6_RULES: &str =
    include_str!("../../../tests/fixtures/iptablesdoc/usernet-portmap.ip6tables-save");

/// An IPv6 address on `ifname` of namespace `ns` with its connected route, and a default route
/// via `gw` when given.
fn addr6(s: &mut NodeSnapshot, ns: &str, ifname: &str, cidr: &str, gw: Option<&str>) {
    let n = s.namespaces.iter_mut().find(|n| n.name == ns).unwrap();
    let ifindex = n.links.iter().find(|l| l.name == ifname).unwrap().ifindex;
    let (ip, len) = cidr.split_once('/').unwrap();
    let len: u8 = len.parse().unwrap();
    n.addresses.push(Address {
        ifindex,
        family: 6,
        address: ip.into(),
        prefix_len: len,
        scope: "universe".into(),
    });
    let (net, _) = super::super::rules::parse_net(cidr).unwrap();
    let std::net::IpAddr::V6(net) = net else {
        panic!("{cidr} is not IPv6")
    };
    let masked = u128::from(net) & (u128::MAX << (128 - u32::from(len)));
    let route = |destination: String, prefix_len: u8, gateway: Option<String>| Route {
        protocol: if gateway.is_some() { "boot" } else { "kernel" }.into(),
        family: 6,
        table: 254,
        destination,
        prefix_len,
        gateway,
        oif: Some(ifindex),
        metric: Some(256),
        route_type: "unicast".into(),
        scope: "universe".into(),
        ..Default::default()
    };
    n.routes.push(route(
        std::net::Ipv6Addr::from(masked).to_string(),
        len,
        None,
    ));
    if let Some(gw) = gw {
        n.routes.push(route(String::new(), 0, Some(gw.into())));
    }
}

/// The IPv4 tests' host with IPv6 added; its ip6tables `rules` (none: an engine that writes none).
fn v6_host(rules: Option<&str>) -> NodeSnapshot {
    let mut s = docker_host(HOST_RULES);
    addr6(
        &mut s,
        "host",
        "eth0",
        "2001:2:0:1::5/64",
        Some("2001:2:0:1::1"),
    );
    addr6(&mut s, "host", "docker0", "2001:2:0:220::1/64", None);
    addr6(
        &mut s,
        "sb-web",
        "eth0",
        "2001:2:0:220::2/64",
        Some("2001:2:0:220::1"),
    );
    let fw = s.namespaces[HOST].firewall.as_mut().unwrap();
    fw.ipv6 = rules
        .map(|r| parse_iptables_save(&r.replace("bridge1", "docker0")).unwrap())
        .unwrap_or_default();
    let e = s.engine.as_mut().unwrap();
    let web = e.containers.iter_mut().find(|c| c.name == "web").unwrap();
    web.endpoints[0].ipv6 = "2001:2:0:220::2".into();
    s.normalize();
    s
}

fn answer(q: &Question, s: NodeSnapshot) -> PathAnswer {
    run(q, &[s]).0
}

#[test]
fn ipv6_port_goes_through_the_ip6tables_dnat() {
    assert_render(
        &answer(&port_q(8080, None), v6_host(Some(V6_RULES))),
        r#"
port 8080/tcp

path port:8080/tcp@h1->web: h1:8080/tcp → web (198.18.0.2:80) [delivered]
   1. [ok] a client elsewhere connects to 198.19.0.5:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet 198.19.0.5/24 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER (the destination is a local address) (netns:h1/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
   3. [ok] DNAT to 198.18.0.2:80 (nat DOCKER) (netns:h1/host)
        iptables host: -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80
   4. [ok] routed to 198.18.0.2 by docker0 (if:h1/host/docker0)
        route host: 198.18.0.0/24 dev docker0 proto kernel scope link src 198.18.0.1
   5. [ok] filter FORWARD accepts it (chain DOCKER) (if:h1/host/docker0)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        iptables host: -t filter -A FORWARD -o docker0 -j DOCKER
        iptables host: -t filter -A DOCKER -d 198.18.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
   6. [ok] out of docker0 by its port vethweb0 (if:h1/host/vethweb0)
   7. [ok] over the veth pair to eth0 in web's namespace (if:h1/sb-web/eth0)
        address sb-web: inet 198.18.0.2/24 scope global eth0
   8. [ok] web receives it on 198.18.0.2:80 (ctr:h1/web)
  => delivered

path port:8080/tcp/ipv6@h1->web: h1:8080/tcp over IPv6 → web ([2001:2:0:220::2]:80) [delivered]
   1. [ok] a client elsewhere connects to [2001:2:0:1::5]:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet6 2001:2:0:1::5/64 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER (the destination is a local address) (netns:h1/host)
        ip6tables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
   3. [ok] DNAT to [2001:2:0:220::2]:80 (nat DOCKER) (netns:h1/host)
        ip6tables host: -t nat -A DOCKER ! -s fe80::/10 ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:2:0:220::2]:80
   4. [ok] routed to 2001:2:0:220::2 by docker0 (if:h1/host/docker0)
        route host: 2001:2:0:220::/64 dev docker0 proto kernel metric 256
   5. [ok] filter FORWARD accepts it (chain DOCKER) (if:h1/host/docker0)
        ip6tables host: -t filter -A FORWARD -j DOCKER-FORWARD
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-CT
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-INTERNAL
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-BRIDGE
        ip6tables host: -t filter -A DOCKER-BRIDGE -o docker0 -j DOCKER
        ip6tables host: -t filter -A DOCKER -d 2001:2:0:220::2/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
   6. [ok] out of docker0 by its port vethweb0 (if:h1/host/vethweb0)
   7. [ok] over the veth pair to eth0 in web's namespace (if:h1/sb-web/eth0)
        address sb-web: inet6 2001:2:0:220::2/64 scope global eth0
   8. [ok] web receives it on [2001:2:0:220::2]:80 (ctr:h1/web)
  => delivered
note: On h1 itself, 127.0.0.1:8080/tcp gets no DNAT (`-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER` leaves out 127.0.0.0/8): the userland proxy (docker-proxy) answers there, if the engine runs it (the host's listening sockets were not read). Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.
"#,
    );
}

#[test]
fn ipv6_egress_is_masqueraded_by_ip6tables() {
    assert_render(
        &answer(&between("web", "2001:2:0:1::9"), v6_host(Some(V6_RULES))),
        r#"
from web to 2001:2:0:1::9

path egress:h1/web->2001:2:0:1::9: web → 2001:2:0:1::9 from h1 [delivered]
   1. [ok] web sends to 2001:2:0:1::9 (ctr:h1/web)
   2. [ok] out of eth0 from 2001:2:0:220::2 (if:h1/sb-web/eth0)
        route sb-web: default via 2001:2:0:220::1 dev eth0 metric 256
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] filter FORWARD accepts it (chain DOCKER-FORWARD) (if:h1/host/docker0)
        ip6tables host: -t filter -A FORWARD -j DOCKER-FORWARD
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-CT
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-INTERNAL
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-BRIDGE
        ip6tables host: -t filter -A DOCKER-FORWARD -i docker0 -j ACCEPT
   6. [ok] nat POSTROUTING: MASQUERADE behind eth0's address (netns:h1/host)
        ip6tables host: -t nat -A POSTROUTING -s 2001:2:0:220::/64 ! -o docker0 -j MASQUERADE
   7. [ok] out of eth0 directly (if:h1/host/eth0)
        route host: 2001:2:0:1::/64 dev eth0 proto kernel metric 256
   8. [ok] on to 2001:2:0:1::9 (-)
  => delivered
"#,
    );
}

#[test]
fn ipv6_port_without_ip6tables_rules_is_unknown_not_broken() {
    assert_render(
        &answer(&port_q(8080, None), v6_host(None)),
        r#"
port 8080/tcp

path port:8080/tcp@h1->web: h1:8080/tcp → web (198.18.0.2:80) [delivered]
   1. [ok] a client elsewhere connects to 198.19.0.5:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet 198.19.0.5/24 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER (the destination is a local address) (netns:h1/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
   3. [ok] DNAT to 198.18.0.2:80 (nat DOCKER) (netns:h1/host)
        iptables host: -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80
   4. [ok] routed to 198.18.0.2 by docker0 (if:h1/host/docker0)
        route host: 198.18.0.0/24 dev docker0 proto kernel scope link src 198.18.0.1
   5. [ok] filter FORWARD accepts it (chain DOCKER) (if:h1/host/docker0)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        iptables host: -t filter -A FORWARD -o docker0 -j DOCKER
        iptables host: -t filter -A DOCKER -d 198.18.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
   6. [ok] out of docker0 by its port vethweb0 (if:h1/host/vethweb0)
   7. [ok] over the veth pair to eth0 in web's namespace (if:h1/sb-web/eth0)
        address sb-web: inet 198.18.0.2/24 scope global eth0
   8. [ok] web receives it on 198.18.0.2:80 (ctr:h1/web)
  => delivered

path port:8080/tcp/ipv6@h1->web: h1:8080/tcp over IPv6 → web (no DNAT) [unknown]
   1. [ok] a client elsewhere connects to [2001:2:0:1::5]:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet6 2001:2:0:1::5/64 scope global eth0
   2. [UNKNOWN] no ip6tables DNAT for port 8080/tcp: host has no Docker ip6tables rules: the engine does not manage IPv6 filtering or NAT here (Docker before 27 without --ip6tables, or --ip6tables=false); the host's listening sockets were not read (netns:h1/host)
  => unknown
note: On h1 itself, 127.0.0.1:8080/tcp gets no DNAT (`-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER` leaves out 127.0.0.0/8): the userland proxy (docker-proxy) answers there, if the engine runs it (the host's listening sockets were not read). Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.
"#,
    );
}

#[test]
fn ipv6_egress_without_ip6tables_rules_is_unknown_not_broken() {
    assert_render(
        &answer(&between("web", "2001:2:0:1::9"), v6_host(None)),
        r#"
from web to 2001:2:0:1::9

path egress:h1/web->2001:2:0:1::9: web → 2001:2:0:1::9 from h1 [unknown]
   1. [ok] web sends to 2001:2:0:1::9 (ctr:h1/web)
   2. [ok] out of eth0 from 2001:2:0:220::2 (if:h1/sb-web/eth0)
        route sb-web: default via 2001:2:0:220::1 dev eth0 metric 256
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] no filter table in host: nothing filters FORWARD; host has no Docker ip6tables rules: the engine does not manage IPv6 filtering or NAT here (Docker before 27 without --ip6tables, or --ip6tables=false), so nothing of Docker's (icc, isolation) applies to IPv6 (if:h1/host/docker0)
   6. [UNKNOWN] no ip6tables MASQUERADE for 2001:2:0:220::2 leaving by eth0: host has no Docker ip6tables rules: the engine does not manage IPv6 filtering or NAT here (Docker before 27 without --ip6tables, or --ip6tables=false); replies come back only if the network's prefix is routed to h1 (netns:h1/host)
  => unknown
"#,
    );
}

/// web on an IPv6-only network: its endpoint has no IPv4 address.
fn v6_only_web() -> NodeSnapshot {
    let mut s = v6_host(Some(V6_RULES));
    let e = s.engine.as_mut().unwrap();
    let web = e.containers.iter_mut().find(|c| c.name == "web").unwrap();
    web.endpoints[0].ipv4.clear();
    s
}

#[test]
fn ipv6_only_network_reaches_the_internet_over_ipv6() {
    assert_render(
        &answer(&between("web", "internet"), v6_only_web()),
        r#"
from web to internet

path egress:h1/web->internet/ipv6: web → the internet over IPv6 from h1 [delivered]
   1. [ok] web sends to the internet over IPv6 (ctr:h1/web)
   2. [ok] out of eth0 from 2001:2:0:220::2 (if:h1/sb-web/eth0)
        route sb-web: default via 2001:2:0:220::1 dev eth0 metric 256
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] filter FORWARD accepts it (chain DOCKER-FORWARD) (if:h1/host/docker0)
        ip6tables host: -t filter -A FORWARD -j DOCKER-FORWARD
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-CT
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-INTERNAL
        ip6tables host: -t filter -A DOCKER-FORWARD -j DOCKER-BRIDGE
        ip6tables host: -t filter -A DOCKER-FORWARD -i docker0 -j ACCEPT
   6. [ok] nat POSTROUTING: MASQUERADE behind eth0's address (netns:h1/host)
        ip6tables host: -t nat -A POSTROUTING -s 2001:2:0:220::/64 ! -o docker0 -j MASQUERADE
   7. [ok] out of eth0 to the gateway 2001:2:0:1::1 (if:h1/host/eth0)
        route host: default via 2001:2:0:1::1 dev eth0 metric 256
   8. [ok] on to the internet over IPv6 (-)
  => delivered
"#,
    );
}
