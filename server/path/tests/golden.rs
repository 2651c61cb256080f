//! Golden answers: a question, a snapshot, and the whole `path::text::render` output expected, one
//! test per path kind and per way a path stops. A difference prints a line diff and the new text.

use super::*;

/// The rendered answer must be `expected` (a leading newline is ignored).
pub(super) fn assert_render(a: &PathAnswer, expected: &str) {
    let actual = super::super::text::render(a);
    let expected = expected.strip_prefix('\n').unwrap_or(expected);
    assert!(
        actual == expected,
        "the rendered answer differs (- expected, + actual):\n{}\nthe whole answer:\n{actual}",
        line_diff(expected, &actual)
    );
}

/// `old` and `new` line by line: common lines indented, removed ones `- `, added ones `+ `.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence of lines, from the end.
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || common[i][j + 1] >= common[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[test]
fn the_line_diff_marks_what_changed() {
    assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n+ x\n- b\n  c\n");
    assert_eq!(line_diff("a\n", "a\n"), "  a\n");
}

/// Docker 29 with --firewall-backend=nftables: docker0's host with no iptables rules and the native table.
fn docker29_host() -> NodeSnapshot {
    let mut s = docker_host(NO_IPTABLES);
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(docker29_native());
    s
}

/// Docker 20.10's docker0: the jump to DOCKER, the DNAT, the route, filter FORWARD's accepting rule, the veth, the
/// container; the note on loopback clients.
#[test]
fn bridge_port_is_delivered_through_dnat_forward_and_the_veth() {
    let (a, _) = run(&port_q(8080, None), &[docker_host(HOST_RULES)]);
    assert_render(
        &a,
        r##"
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
note: On h1 itself, 127.0.0.1:8080/tcp gets no DNAT (`-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER` leaves out 127.0.0.0/8): the userland proxy (docker-proxy) answers there, if the engine runs it (the host's listening sockets were not read). Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.
"##,
    );
}

/// Without the DNAT rule the path stops at the host's nat hop, quoting the rules it walked.
#[test]
fn bridge_port_without_its_dnat_rule_is_broken_at_the_nat_hop() {
    let s = docker_host(&HOST_RULES.replace(&format!("{DNAT_8080}\n"), ""));
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert_render(
        &a,
        r##"
port 8080/tcp

path port:8080/tcp@h1->web: h1:8080/tcp → web (no DNAT) [broken]
   1. [ok] a client elsewhere connects to 198.19.0.5:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet 198.19.0.5/24 scope global eth0
   2. [BROKEN] no DNAT rule in nat PREROUTING matches 198.19.0.5:8080/tcp: nothing forwards this port to a container (netns:h1/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        iptables host: -t nat -P PREROUTING ACCEPT
  => broken
note: On h1 itself, 127.0.0.1:8080/tcp gets no DNAT (`-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER` leaves out 127.0.0.0/8): the userland proxy (docker-proxy) answers there, if the engine runs it (the host's listening sockets were not read). Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.
"##,
    );
}

/// Without the engine's facts the DNAT rule alone leads to the namespace holding the address.
#[test]
fn bridge_port_without_engine_facts_leads_to_the_namespace() {
    let mut s = docker_host(HOST_RULES);
    s.engine = None;
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert_render(
        &a,
        r##"
port 8080/tcp

path port:8080/tcp@h1->198.18.0.2: h1:8080/tcp → 198.18.0.2 (198.18.0.2:80) [delivered]
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
   7. [ok] over the veth pair to eth0 in sb-web namespace (if:h1/sb-web/eth0)
        address sb-web: inet 198.18.0.2/24 scope global eth0
   8. [ok] namespace sb-web receives it on 198.18.0.2:80 (no container the engine names) (netns:h1/sb-web)
  => delivered
"##,
    );
}

/// The routing mesh on swarm02: DNAT to ingress_sbox, its MARK, IPVS fwmark 258, one path per task (the remote one
/// over vxlan0 and the FDB), the REDIRECT inside the task.
#[test]
fn mesh_port_reaches_a_local_and_a_remote_task() {
    let (a, _) = run_cluster(&port_q(8080, Some("swarm02")), &swarm());
    assert_render(
        &a,
        r##"
port 8080/tcp on swarm02

path port:8080/tcp@swarm02->webapp.1.a4s04msunryc: swarm02:8080/tcp → webapp.1.a4s04msunryc (10.255.0.6:80) via the routing mesh [delivered]
   1. [ok] a client elsewhere connects to 172.17.1.65:8080/tcp, arriving on eth0 (if:swarm02/host/eth0)
        address host: inet 172.17.1.65/24 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER-INGRESS (the destination is a local address) (netns:swarm02/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS
   3. [ok] DNAT to 172.19.0.2:8080, ingress_sbox's address on docker_gwbridge (nat DOCKER-INGRESS) (netns:swarm02/host)
        iptables host: -t nat -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.19.0.2:8080
   4. [ok] routed to 172.19.0.2 by docker_gwbridge (if:swarm02/host/docker_gwbridge)
        route host: 172.19.0.0/16 dev docker_gwbridge proto kernel scope link src 172.19.0.1
   5. [ok] filter FORWARD accepts it (chain DOCKER-INGRESS) (if:swarm02/host/docker_gwbridge)
        iptables host: -t filter -A FORWARD -j DOCKER-INGRESS
        iptables host: -t filter -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT
   6. [ok] out of docker_gwbridge by its port vethsbox (if:swarm02/host/vethsbox)
   7. [ok] into ingress_sbox by eth1 (if:swarm02/ingress_sbox/eth1)
        address ingress_sbox: inet 172.19.0.2/16 scope global eth1
   8. [ok] mangle PREROUTING marks it 0x102 (fwmark 258) (netns:swarm02/ingress_sbox)
        iptables ingress_sbox: -t mangle -A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x102/0xffffffff
   9. [ok] IPVS fwmark 258 (rr) balances over 2 real server(s) (netns:swarm02/ingress_sbox)
        ipvs ingress_sbox: FWM  258 rr
        ipvs ingress_sbox:   -> 10.255.0.6:0                 Masq    1      0          0
        ipvs ingress_sbox:   -> 10.255.0.8:0                 Masq    1      0          0
  10. [ok] IPVS sends it to webapp.1.a4s04msunryc at 10.255.0.6 (masq), out of eth0 on ingress (if:swarm02/ingress_sbox/eth0)
  11. [ok] over the veth pair to veth0 in 1-3kuba8yq3c (if:swarm02/1-3kuba8yq3c/veth0)
  12. [ok] into bridge br0 (if:swarm02/1-3kuba8yq3c/br0)
  13. [ok] out of br0 by its port vethwebapp0 (if:swarm02/1-3kuba8yq3c/vethwebapp0)
  14. [ok] over the veth pair to eth0 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth0)
        address sb-webapp.1.a4s04msunryc: inet 10.255.0.6/16 scope global eth0
  15. [ok] webapp.1.a4s04msunryc receives it on 10.255.0.6:8080 (ctr:swarm02/webapp.1.a4s04msunryc)
  16. [ok] nat PREROUTING in webapp.1.a4s04msunryc redirects port 8080 to 80 (ctr:swarm02/webapp.1.a4s04msunryc)
        iptables sb-webapp.1.a4s04msunryc: -t nat -A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80
  => delivered

path port:8080/tcp@swarm02->webapp.2.0vxnym0djag4: swarm02:8080/tcp → webapp.2.0vxnym0djag4 (10.255.0.8:80) via the routing mesh [delivered]
   1. [ok] a client elsewhere connects to 172.17.1.65:8080/tcp, arriving on eth0 (if:swarm02/host/eth0)
        address host: inet 172.17.1.65/24 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER-INGRESS (the destination is a local address) (netns:swarm02/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS
   3. [ok] DNAT to 172.19.0.2:8080, ingress_sbox's address on docker_gwbridge (nat DOCKER-INGRESS) (netns:swarm02/host)
        iptables host: -t nat -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.19.0.2:8080
   4. [ok] routed to 172.19.0.2 by docker_gwbridge (if:swarm02/host/docker_gwbridge)
        route host: 172.19.0.0/16 dev docker_gwbridge proto kernel scope link src 172.19.0.1
   5. [ok] filter FORWARD accepts it (chain DOCKER-INGRESS) (if:swarm02/host/docker_gwbridge)
        iptables host: -t filter -A FORWARD -j DOCKER-INGRESS
        iptables host: -t filter -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT
   6. [ok] out of docker_gwbridge by its port vethsbox (if:swarm02/host/vethsbox)
   7. [ok] into ingress_sbox by eth1 (if:swarm02/ingress_sbox/eth1)
        address ingress_sbox: inet 172.19.0.2/16 scope global eth1
   8. [ok] mangle PREROUTING marks it 0x102 (fwmark 258) (netns:swarm02/ingress_sbox)
        iptables ingress_sbox: -t mangle -A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x102/0xffffffff
   9. [ok] IPVS fwmark 258 (rr) balances over 2 real server(s) (netns:swarm02/ingress_sbox)
        ipvs ingress_sbox: FWM  258 rr
        ipvs ingress_sbox:   -> 10.255.0.6:0                 Masq    1      0          0
        ipvs ingress_sbox:   -> 10.255.0.8:0                 Masq    1      0          0
  10. [ok] IPVS sends it to webapp.2.0vxnym0djag4 at 10.255.0.8 (masq), out of eth0 on ingress (if:swarm02/ingress_sbox/eth0)
  11. [ok] over the veth pair to veth0 in 1-3kuba8yq3c (if:swarm02/1-3kuba8yq3c/veth0)
  12. [ok] into bridge br0 (if:swarm02/1-3kuba8yq3c/br0)
  13. [ok] vxlan0 (VNI 256) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:ff:00:08 to 172.17.1.142 over the underlay (if:swarm02/1-3kuba8yq3c/vxlan0)
        fdb 1-3kuba8yq3c: 02:42:0a:ff:00:08 dev vxlan0 dst 172.17.1.142 link-netnsid 0 self permanent
  14. [ok] swarm01's vxlan0 decapsulates it (VNI 256) (if:swarm01/1-3kuba8yq3c/vxlan0)
  15. [ok] into swarm01's br0 (if:swarm01/1-3kuba8yq3c/br0)
  16. [ok] out of br0 by its port vethwebapp0 (if:swarm01/1-3kuba8yq3c/vethwebapp0)
  17. [ok] over the veth pair to eth0 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth0)
        address sb-webapp.2.0vxnym0djag4: inet 10.255.0.8/16 scope global eth0
  18. [ok] webapp.2.0vxnym0djag4 receives it on 10.255.0.8:8080 (ctr:swarm01/webapp.2.0vxnym0djag4)
  19. [ok] nat PREROUTING in webapp.2.0vxnym0djag4 redirects port 8080 to 80 (ctr:swarm01/webapp.2.0vxnym0djag4)
        iptables sb-webapp.2.0vxnym0djag4: -t nat -A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80
  => delivered
"##,
    );
}

/// A kernel without IPVS: the mesh stops in ingress_sbox, after the MARK.
#[test]
fn mesh_without_ipvs_stops_after_the_mark() {
    let c = swarm_with(|s| {
        for ns in &mut s.namespaces {
            ns.ipvs = IpvsState::Unavailable {
                reason: "IPVS not available in this kernel (no genetlink family IPVS)".into(),
            };
        }
    });
    let (a, _) = run_cluster(&port_q(8080, Some("swarm02")), &c);
    assert_render(
        &a,
        r##"
port 8080/tcp on swarm02

path port:8080/tcp@swarm02->webapp: swarm02:8080/tcp → service webapp via the routing mesh [broken]
   1. [ok] a client elsewhere connects to 172.17.1.65:8080/tcp, arriving on eth0 (if:swarm02/host/eth0)
        address host: inet 172.17.1.65/24 scope global eth0
   2. [ok] nat PREROUTING jumps to DOCKER-INGRESS (the destination is a local address) (netns:swarm02/host)
        iptables host: -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS
   3. [ok] DNAT to 172.19.0.2:8080, ingress_sbox's address on docker_gwbridge (nat DOCKER-INGRESS) (netns:swarm02/host)
        iptables host: -t nat -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.19.0.2:8080
   4. [ok] routed to 172.19.0.2 by docker_gwbridge (if:swarm02/host/docker_gwbridge)
        route host: 172.19.0.0/16 dev docker_gwbridge proto kernel scope link src 172.19.0.1
   5. [ok] filter FORWARD accepts it (chain DOCKER-INGRESS) (if:swarm02/host/docker_gwbridge)
        iptables host: -t filter -A FORWARD -j DOCKER-INGRESS
        iptables host: -t filter -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT
   6. [ok] out of docker_gwbridge by its port vethsbox (if:swarm02/host/vethsbox)
   7. [ok] into ingress_sbox by eth1 (if:swarm02/ingress_sbox/eth1)
        address ingress_sbox: inet 172.19.0.2/16 scope global eth1
   8. [ok] mangle PREROUTING marks it 0x102 (fwmark 258) (netns:swarm02/ingress_sbox)
        iptables ingress_sbox: -t mangle -A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x102/0xffffffff
   9. [BROKEN] IPVS not available in this kernel: the routing mesh cannot forward (IPVS not available in this kernel (no genetlink family IPVS)) (netns:swarm02/ingress_sbox)
  => broken
"##,
    );
}

/// A service by name: one path per VIP the client shares a network with (ingress and my-overlay-network), each
/// through the client's mangle OUTPUT MARK and its own IPVS service.
#[test]
fn vip_goes_through_the_clients_mark_and_ipvs() {
    let (a, _) = run_cluster(&between("webapp.1", "webapp"), &swarm());
    assert_render(
        &a,
        r##"
from webapp.1 to webapp

path vip:webapp.1.a4s04msunryc->webapp@ingress->webapp: webapp.1.a4s04msunryc → service webapp (VIP 10.255.0.2 on ingress) → webapp [broken]
   1. [ok] webapp.1.a4s04msunryc connects to 10.255.0.2, the VIP of service webapp on ingress (ctr:swarm02/webapp.1.a4s04msunryc)
        engine: service webapp: VirtualIPs ingress 10.255.0.2/16
   2. [BROKEN] no MARK rule for 10.255.0.2 in webapp.1.a4s04msunryc's mangle OUTPUT: IPVS cannot tell which service the VIP is (netns:swarm02/sb-webapp.1.a4s04msunryc)
  => broken

path vip:webapp.1.a4s04msunryc->webapp@my-overlay-network->webapp.2.0vxnym0djag4: webapp.1.a4s04msunryc → service webapp (VIP 10.10.10.2 on my-overlay-network) → webapp.2.0vxnym0djag4 [delivered]
   1. [ok] webapp.1.a4s04msunryc connects to 10.10.10.2, the VIP of service webapp on my-overlay-network (ctr:swarm02/webapp.1.a4s04msunryc)
        engine: service webapp: VirtualIPs my-overlay-network 10.10.10.2/24
   2. [ok] mangle OUTPUT in webapp.1.a4s04msunryc marks it 0x10c (fwmark 268) (netns:swarm02/sb-webapp.1.a4s04msunryc)
        iptables sb-webapp.1.a4s04msunryc: -t mangle -A OUTPUT -d 10.10.10.2/32 -j MARK --set-xmark 0x10c/0xffffffff
   3. [ok] IPVS fwmark 268 (rr) in webapp.1.a4s04msunryc balances over 1 real server(s) (netns:swarm02/sb-webapp.1.a4s04msunryc)
        ipvs sb-webapp.1.a4s04msunryc: FWM  268 rr
        ipvs sb-webapp.1.a4s04msunryc:   -> 10.10.10.5:0                 Masq    1      0          0
   4. [ok] IPVS sends it to webapp.2.0vxnym0djag4 at 10.10.10.5, out of eth2 (if:swarm02/sb-webapp.1.a4s04msunryc/eth2)
   5. [ok] over the veth pair to vethwebapp1 in 1-bwii51jagl (if:swarm02/1-bwii51jagl/vethwebapp1)
   6. [ok] into bridge br0 (if:swarm02/1-bwii51jagl/br0)
   7. [ok] vxlan1 (VNI 257) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:0a:0a:05 to 172.17.1.142 over the underlay (if:swarm02/1-bwii51jagl/vxlan1)
        fdb 1-bwii51jagl: 02:42:0a:0a:0a:05 dev vxlan1 dst 172.17.1.142 link-netnsid 0 self permanent
   8. [ok] swarm01's vxlan1 decapsulates it (VNI 257) (if:swarm01/1-bwii51jagl/vxlan1)
   9. [ok] into swarm01's br0 (if:swarm01/1-bwii51jagl/br0)
  10. [ok] out of br0 by its port vethwebapp1 (if:swarm01/1-bwii51jagl/vethwebapp1)
  11. [ok] over the veth pair to eth2 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth2)
        address sb-webapp.2.0vxnym0djag4: inet 10.10.10.5/24 scope global eth2
  12. [ok] webapp.2.0vxnym0djag4 receives it on 10.10.10.5 (ctr:swarm01/webapp.2.0vxnym0djag4)
  => delivered
"##,
    );
}

/// To the internet: the container's route, docker0, filter FORWARD, MASQUERADE, the default route's uplink.
#[test]
fn egress_masquerades_out_of_the_default_route() {
    let (a, _) = run(&between("web", "internet"), &[docker_host(HOST_RULES)]);
    assert_render(
        &a,
        r##"
from web to internet

path egress:h1/web->internet: web → the internet from h1 [delivered]
   1. [ok] web sends to the internet (ctr:h1/web)
   2. [ok] out of eth0 from 198.18.0.2 (if:h1/sb-web/eth0)
        route sb-web: default via 198.18.0.1 dev eth0
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] filter FORWARD accepts it (chain FORWARD) (if:h1/host/docker0)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        iptables host: -t filter -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
   6. [ok] nat POSTROUTING: MASQUERADE behind eth0's address (netns:h1/host)
        iptables host: -t nat -A POSTROUTING -s 198.18.0.0/24 ! -o docker0 -j MASQUERADE
   7. [ok] out of eth0 to the gateway 198.19.0.1 (if:h1/host/eth0)
        route host: default via 198.19.0.1 dev eth0
   8. [ok] on to the internet (-)
  => delivered
"##,
    );
}

/// Without docker0's MASQUERADE rule the path stops at nat POSTROUTING.
#[test]
fn egress_without_masquerade_is_broken() {
    let rules = HOST_RULES.replace(
        "-A POSTROUTING -s 198.18.0.0/24 ! -o docker0 -j MASQUERADE\n",
        "",
    );
    let (a, _) = run(&between("web", "internet"), &[docker_host(&rules)]);
    assert_render(
        &a,
        r##"
from web to internet

path egress:h1/web->internet: web → the internet from h1 [broken]
   1. [ok] web sends to the internet (ctr:h1/web)
   2. [ok] out of eth0 from 198.18.0.2 (if:h1/sb-web/eth0)
        route sb-web: default via 198.18.0.1 dev eth0
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] filter FORWARD accepts it (chain FORWARD) (if:h1/host/docker0)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        iptables host: -t filter -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
   6. [BROKEN] no MASQUERADE or SNAT rule in nat POSTROUTING for 198.18.0.2 leaving by eth0: replies could not find their way back (netns:h1/host)
        iptables host: -t nat -P POSTROUTING ACCEPT
  => broken
"##,
    );
}

/// Two containers of an enable_icc=false network: filter FORWARD's `-i br -o br` DROP.
#[test]
fn east_west_on_an_icc_off_bridge_is_blocked() {
    let (a, _) = run(&between("a1", "a2"), &[docker_host(HOST_RULES)]);
    assert_render(
        &a,
        r##"
from a1 to a2

path between:a1->a2@neticc: a1 (198.18.1.2) → a2 (198.18.1.3) on neticc [blocked]
   1. [ok] a1 sends from 198.18.1.2 (ctr:h1/a1)
   2. [ok] out of eth0 in a1's namespace (if:h1/sb-a1/eth0)
        address sb-a1: inet 198.18.1.2/24 scope global eth0
   3. [ok] over the veth pair to vetha10 in host (if:h1/host/vetha10)
   4. [ok] into bridge br-aaaaaaaaaaaa (if:h1/host/br-aaaaaaaaaaaa)
   5. [BLOCKED] filter FORWARD drops it: `-A FORWARD -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j DROP` (if:h1/host/br-aaaaaaaaaaaa)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        iptables host: -t filter -A FORWARD -o br-aaaaaaaaaaaa -j DOCKER
        iptables host: -t filter -A FORWARD -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j DROP
  => blocked
"##,
    );
}

/// Containers of two bridge networks: through the host, where DOCKER-ISOLATION-STAGE-2 drops it.
#[test]
fn east_west_across_bridges_is_blocked_by_isolation() {
    let (a, _) = run(&between("a1", "b1"), &[docker_host(HOST_RULES)]);
    assert_render(
        &a,
        r##"
from a1 to b1

path between:a1->b1@routed: a1 → b1 (198.18.2.2 on netb): no shared network, through the host [blocked]
   1. [ok] a1 sends to 198.18.2.2 (ctr:h1/a1)
   2. [ok] out of eth0 (its route to 198.18.2.2) (if:h1/sb-a1/eth0)
        route sb-a1: default via 198.18.1.1 dev eth0
   3. [ok] over the veth pair to vetha10 in host (if:h1/host/vetha10)
   4. [ok] into bridge br-aaaaaaaaaaaa (if:h1/host/br-aaaaaaaaaaaa)
   5. [ok] the host routes 198.18.2.2 by br-bbbbbbbbbbbb (if:h1/host/br-aaaaaaaaaaaa)
        route host: 198.18.2.0/24 dev br-bbbbbbbbbbbb proto kernel scope link src 198.18.2.1
   6. [BLOCKED] filter FORWARD drops it: `-A DOCKER-ISOLATION-STAGE-2 -o br-bbbbbbbbbbbb -j DROP` (if:h1/host/br-bbbbbbbbbbbb)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A DOCKER-USER -j RETURN
        iptables host: -t filter -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-1 -i br-aaaaaaaaaaaa ! -o br-aaaaaaaaaaaa -j DOCKER-ISOLATION-STAGE-2
        iptables host: -t filter -A DOCKER-ISOLATION-STAGE-2 -o br-bbbbbbbbbbbb -j DROP
  => blocked
"##,
    );
}

/// Two tasks on two nodes: one path per shared overlay, over br0, vxlan and the FDB entry to the other node.
#[test]
fn east_west_across_nodes_follows_the_fdb() {
    let (a, _) = run_cluster(&between("webapp.1", "webapp.2"), &swarm());
    assert_render(
        &a,
        r##"
from webapp.1 to webapp.2

path between:webapp.1.a4s04msunryc->webapp.2.0vxnym0djag4@ingress: webapp.1.a4s04msunryc (10.255.0.6) → webapp.2.0vxnym0djag4 (10.255.0.8) on ingress [delivered]
   1. [ok] webapp.1.a4s04msunryc sends from 10.255.0.6 (ctr:swarm02/webapp.1.a4s04msunryc)
   2. [ok] out of eth0 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth0)
        address sb-webapp.1.a4s04msunryc: inet 10.255.0.6/16 scope global eth0
   3. [ok] over the veth pair to vethwebapp0 in 1-3kuba8yq3c (if:swarm02/1-3kuba8yq3c/vethwebapp0)
   4. [ok] into bridge br0 (if:swarm02/1-3kuba8yq3c/br0)
   5. [ok] vxlan0 (VNI 256) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:ff:00:08 to 172.17.1.142 over the underlay (if:swarm02/1-3kuba8yq3c/vxlan0)
        fdb 1-3kuba8yq3c: 02:42:0a:ff:00:08 dev vxlan0 dst 172.17.1.142 link-netnsid 0 self permanent
   6. [ok] swarm01's vxlan0 decapsulates it (VNI 256) (if:swarm01/1-3kuba8yq3c/vxlan0)
   7. [ok] into swarm01's br0 (if:swarm01/1-3kuba8yq3c/br0)
   8. [ok] out of br0 by its port vethwebapp0 (if:swarm01/1-3kuba8yq3c/vethwebapp0)
   9. [ok] over the veth pair to eth0 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth0)
        address sb-webapp.2.0vxnym0djag4: inet 10.255.0.8/16 scope global eth0
  10. [ok] webapp.2.0vxnym0djag4 receives it on 10.255.0.8 (ctr:swarm01/webapp.2.0vxnym0djag4)
  => delivered

path between:webapp.1.a4s04msunryc->webapp.2.0vxnym0djag4@my-overlay-network: webapp.1.a4s04msunryc (10.10.10.3) → webapp.2.0vxnym0djag4 (10.10.10.5) on my-overlay-network [delivered]
   1. [ok] webapp.1.a4s04msunryc sends from 10.10.10.3 (ctr:swarm02/webapp.1.a4s04msunryc)
   2. [ok] out of eth2 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth2)
        address sb-webapp.1.a4s04msunryc: inet 10.10.10.3/24 scope global eth2
   3. [ok] over the veth pair to vethwebapp1 in 1-bwii51jagl (if:swarm02/1-bwii51jagl/vethwebapp1)
   4. [ok] into bridge br0 (if:swarm02/1-bwii51jagl/br0)
   5. [ok] vxlan1 (VNI 257) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:0a:0a:05 to 172.17.1.142 over the underlay (if:swarm02/1-bwii51jagl/vxlan1)
        fdb 1-bwii51jagl: 02:42:0a:0a:0a:05 dev vxlan1 dst 172.17.1.142 link-netnsid 0 self permanent
   6. [ok] swarm01's vxlan1 decapsulates it (VNI 257) (if:swarm01/1-bwii51jagl/vxlan1)
   7. [ok] into swarm01's br0 (if:swarm01/1-bwii51jagl/br0)
   8. [ok] out of br0 by its port vethwebapp1 (if:swarm01/1-bwii51jagl/vethwebapp1)
   9. [ok] over the veth pair to eth2 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth2)
        address sb-webapp.2.0vxnym0djag4: inet 10.10.10.5/24 scope global eth2
  10. [ok] webapp.2.0vxnym0djag4 receives it on 10.10.10.5 (ctr:swarm01/webapp.2.0vxnym0djag4)
  => delivered
"##,
    );
}

/// Without the FDB entry for the peer's MAC the overlay path stops at vxlan1.
#[test]
fn east_west_without_the_fdb_entry_is_broken_at_vxlan() {
    let c = swarm_with(|s| {
        for ns in &mut s.namespaces {
            ns.fdb.retain(|e| e.mac != "02:42:0a:0a:0a:05");
        }
    });
    let (a, _) = run_cluster(&between("webapp.1", "webapp.2"), &c);
    assert_render(
        &a,
        r##"
from webapp.1 to webapp.2

path between:webapp.1.a4s04msunryc->webapp.2.0vxnym0djag4@ingress: webapp.1.a4s04msunryc (10.255.0.6) → webapp.2.0vxnym0djag4 (10.255.0.8) on ingress [delivered]
   1. [ok] webapp.1.a4s04msunryc sends from 10.255.0.6 (ctr:swarm02/webapp.1.a4s04msunryc)
   2. [ok] out of eth0 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth0)
        address sb-webapp.1.a4s04msunryc: inet 10.255.0.6/16 scope global eth0
   3. [ok] over the veth pair to vethwebapp0 in 1-3kuba8yq3c (if:swarm02/1-3kuba8yq3c/vethwebapp0)
   4. [ok] into bridge br0 (if:swarm02/1-3kuba8yq3c/br0)
   5. [ok] vxlan0 (VNI 256) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:ff:00:08 to 172.17.1.142 over the underlay (if:swarm02/1-3kuba8yq3c/vxlan0)
        fdb 1-3kuba8yq3c: 02:42:0a:ff:00:08 dev vxlan0 dst 172.17.1.142 link-netnsid 0 self permanent
   6. [ok] swarm01's vxlan0 decapsulates it (VNI 256) (if:swarm01/1-3kuba8yq3c/vxlan0)
   7. [ok] into swarm01's br0 (if:swarm01/1-3kuba8yq3c/br0)
   8. [ok] out of br0 by its port vethwebapp0 (if:swarm01/1-3kuba8yq3c/vethwebapp0)
   9. [ok] over the veth pair to eth0 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth0)
        address sb-webapp.2.0vxnym0djag4: inet 10.255.0.8/16 scope global eth0
  10. [ok] webapp.2.0vxnym0djag4 receives it on 10.255.0.8 (ctr:swarm01/webapp.2.0vxnym0djag4)
  => delivered

path between:webapp.1.a4s04msunryc->webapp.2.0vxnym0djag4@my-overlay-network: webapp.1.a4s04msunryc (10.10.10.3) → webapp.2.0vxnym0djag4 (10.10.10.5) on my-overlay-network [broken]
   1. [ok] webapp.1.a4s04msunryc sends from 10.10.10.3 (ctr:swarm02/webapp.1.a4s04msunryc)
   2. [ok] out of eth2 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth2)
        address sb-webapp.1.a4s04msunryc: inet 10.10.10.3/24 scope global eth2
   3. [ok] over the veth pair to vethwebapp1 in 1-bwii51jagl (if:swarm02/1-bwii51jagl/vethwebapp1)
   4. [ok] into bridge br0 (if:swarm02/1-bwii51jagl/br0)
   5. [BROKEN] no FDB entry for 02:42:0a:0a:0a:05 (webapp.2.0vxnym0djag4 on swarm01) on vxlan1 in 1-bwii51jagl: the tunnel does not know where it is (if:swarm02/1-bwii51jagl/vxlan1)
  => broken
"##,
    );
}

/// Docker 28's DROP DIRECT ACCESS in raw PREROUTING, with the options that would change it.
#[test]
fn direct_access_is_dropped_in_raw() {
    let s = docker28_host("usernet-portmap", None);
    let (a, _) = run(&between("198.18.221.9", "web:80"), &[s]);
    assert_render(
        &a,
        r##"
from 198.18.221.9 to web:80

path direct:198.18.221.9->h28/web:198.18.220.2:80: 198.18.221.9 → web (198.18.220.2:80) on h28 [blocked]
   1. [ok] a client at 198.18.221.9 sends to 198.18.220.2:80, arriving on up0 (if:h28/host/up0)
   2. [BLOCKED] raw PREROUTING drops it before nat: `-A PREROUTING -d 198.18.220.2/32 ! -i bridge1 -j DROP` (Docker's DROP DIRECT ACCESS) — network bridge1 has gateway mode nat for IPv4: create it with -o com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected (or routed) to allow direct access; or trust up0 with -o com.docker.network.bridge.trusted_host_interfaces=up0; or start the daemon with --allow-direct-routing (if:h28/host/up0)
        iptables host: -t raw -A PREROUTING -d 198.18.220.2/32 ! -i bridge1 -j DROP
  => blocked
"##,
    );
}

/// Gateway mode nat-unprotected: raw lets it through, DOCKER accepts it.
#[test]
fn direct_access_in_nat_unprotected_mode_is_delivered() {
    let s = docker28_host("usernet-portmap-natunprot", Some("nat-unprotected"));
    let (a, _) = run(&between("198.18.221.9", "web:80"), &[s]);
    assert_render(
        &a,
        r##"
from 198.18.221.9 to web:80

path direct:198.18.221.9->h28/web:198.18.220.2:80: 198.18.221.9 → web (198.18.220.2:80) on h28 [delivered]
   1. [ok] a client at 198.18.221.9 sends to 198.18.220.2:80, arriving on up0 (if:h28/host/up0)
   2. [ok] raw PREROUTING lets it through to 198.18.220.2 (gateway mode nat-unprotected of bridge1) (if:h28/host/up0)
   3. [ok] routed to 198.18.220.2 by bridge1 (if:h28/host/bridge1)
        route host: 198.18.220.0/24 dev bridge1 proto kernel scope link src 198.18.220.1
   4. [ok] filter FORWARD accepts it (chain DOCKER) (if:h28/host/bridge1)
        iptables host: -t filter -A FORWARD -j DOCKER-USER
        iptables host: -t filter -A FORWARD -j DOCKER-FORWARD
        iptables host: -t filter -A DOCKER-FORWARD -j DOCKER-CT
        iptables host: -t filter -A DOCKER-FORWARD -j DOCKER-INTERNAL
        iptables host: -t filter -A DOCKER-FORWARD -j DOCKER-BRIDGE
        iptables host: -t filter -A DOCKER-BRIDGE -o bridge1 -j DOCKER
        iptables host: -t filter -A DOCKER ! -i bridge1 -o bridge1 -j ACCEPT
   5. [ok] out of bridge1 by its port vethweb0 (if:h28/host/vethweb0)
   6. [ok] over the veth pair to eth0 in web's namespace (if:h28/sb-web/eth0)
        address sb-web: inet 198.18.220.2/24 scope global eth0
   7. [ok] web receives it on 198.18.220.2:80 (ctr:h28/web)
  => delivered
"##,
    );
}

/// Docker 29's nftables backend: the native DNAT, filter FORWARD joined to the native forward chains.
#[test]
fn native_nftables_port_is_delivered() {
    let (a, _) = run(&port_q(8080, None), &[docker29_host()]);
    assert_render(
        &a,
        r##"
port 8080/tcp

path port:8080/tcp@h1->web: h1:8080/tcp → web (198.18.0.2:80) [delivered]
   1. [ok] a client elsewhere connects to 198.19.0.5:8080/tcp, arriving on eth0 (if:h1/host/eth0)
        address host: inet 198.19.0.5/24 scope global eth0
   2. [ok] DNAT to 198.18.0.2:80 (native nftables, prerouting hook) (netns:h1/host)
        iptables host: -t nat -P PREROUTING ACCEPT
        nftables host: ip docker-bridges nat-PREROUTING: fib daddr type local counter jump nat-prerouting-and-output
        nftables host: ip docker-bridges nat-prerouting-and-output: iifname != "docker0" tcp dport 8080 counter dnat to 198.18.0.2:80 comment "DNAT"
        nftables host: ip docker-bridges nat-PREROUTING: fib daddr type local counter jump nat-prerouting-and-output
   3. [ok] routed to 198.18.0.2 by docker0 (if:h1/host/docker0)
        route host: 198.18.0.0/24 dev docker0 proto kernel scope link src 198.18.0.1
   4. [ok] filter FORWARD lets it through (no rule decides; policy ACCEPT), and the native nftables chains let it through (if:h1/host/docker0)
        iptables host: -t filter -P FORWARD ACCEPT
        nftables host: ip docker-bridges filter-FORWARD: oifname vmap @filter-forward-in-jumps
        nftables host: ip docker-bridges filter-forward-in__docker0: ip daddr 198.18.0.2 tcp dport 80 counter accept
        nftables host: ip docker-bridges filter-FORWARD: oifname vmap @filter-forward-in-jumps
   5. [ok] out of docker0 by its port vethweb0 (if:h1/host/vethweb0)
   6. [ok] over the veth pair to eth0 in web's namespace (if:h1/sb-web/eth0)
        address sb-web: inet 198.18.0.2/24 scope global eth0
   7. [ok] web receives it on 198.18.0.2:80 (ctr:h1/web)
  => delivered
"##,
    );
}

/// Docker 29's nftables backend: the native MASQUERADE.
#[test]
fn native_nftables_egress_masquerades() {
    let (a, _) = run(&between("web", "internet"), &[docker29_host()]);
    assert_render(
        &a,
        r##"
from web to internet

path egress:h1/web->internet: web → the internet from h1 [delivered]
   1. [ok] web sends to the internet (ctr:h1/web)
   2. [ok] out of eth0 from 198.18.0.2 (if:h1/sb-web/eth0)
        route sb-web: default via 198.18.0.1 dev eth0
   3. [ok] over the veth pair to vethweb0 in host (if:h1/host/vethweb0)
   4. [ok] into bridge docker0 (if:h1/host/docker0)
   5. [ok] filter FORWARD lets it through (no rule decides; policy ACCEPT), and the native nftables chains let it through (if:h1/host/docker0)
        iptables host: -t filter -P FORWARD ACCEPT
        nftables host: ip docker-bridges filter-FORWARD: iifname vmap @filter-forward-out-jumps
        nftables host: ip docker-bridges filter-forward-out__docker0: counter accept comment "OUTGOING"
        nftables host: ip docker-bridges filter-FORWARD: iifname vmap @filter-forward-out-jumps
   6. [ok] nat POSTROUTING: MASQUERADE behind eth0's address (native nftables) (netns:h1/host)
        iptables host: -t nat -P POSTROUTING ACCEPT
        nftables host: ip docker-bridges nat-POSTROUTING: iifname vmap @nat-postrouting-out-jumps
        nftables host: ip docker-bridges nat-postrouting-out__docker0: oifname != "docker0" ip saddr 198.18.0.0/24 counter masquerade comment "MASQUERADE"
        nftables host: ip docker-bridges nat-POSTROUTING: iifname vmap @nat-postrouting-out-jumps
   7. [ok] out of eth0 to the gateway 198.19.0.1 (if:h1/host/eth0)
        route host: default via 198.19.0.1 dev eth0
   8. [ok] on to the internet (-)
  => delivered
"##,
    );
}

/// An encrypted overlay: the tunnel hop names the SA that encrypts it.
#[test]
fn an_encrypted_overlay_hop_names_its_sa() {
    let both = |_: &str| Some(vec![esp(S2, S1, 0x1111), esp(S1, S2, 0x2222)]);
    let (mut a, _) = run_cluster(&between("webapp.1", "webapp.2"), &encrypted_swarm(both));
    a.paths.retain(|p| p.id.ends_with("@my-overlay-network"));
    assert_render(
        &a,
        r##"
from webapp.1 to webapp.2

path between:webapp.1.a4s04msunryc->webapp.2.0vxnym0djag4@my-overlay-network: webapp.1.a4s04msunryc (10.10.10.3) → webapp.2.0vxnym0djag4 (10.10.10.5) on my-overlay-network [delivered]
   1. [ok] webapp.1.a4s04msunryc sends from 10.10.10.3 (ctr:swarm02/webapp.1.a4s04msunryc)
   2. [ok] out of eth2 in webapp.1.a4s04msunryc's namespace (if:swarm02/sb-webapp.1.a4s04msunryc/eth2)
        address sb-webapp.1.a4s04msunryc: inet 10.10.10.3/24 scope global eth2
   3. [ok] over the veth pair to vethwebapp1 in 1-bwii51jagl (if:swarm02/1-bwii51jagl/vethwebapp1)
   4. [ok] into bridge br0 (if:swarm02/1-bwii51jagl/br0)
   5. [ok] vxlan1 (VNI 257) sends webapp.2.0vxnym0djag4's MAC 02:42:0a:0a:0a:05 to 172.17.1.142 over the underlay, encrypted by IPsec ESP (SPI 0x00001111 172.17.1.65→172.17.1.142) (if:swarm02/1-bwii51jagl/vxlan1)
        fdb 1-bwii51jagl: 02:42:0a:0a:0a:05 dev vxlan1 dst 172.17.1.142 link-netnsid 0 self permanent
        xfrm host: src 172.17.1.65 dst 172.17.1.142 proto esp spi 0x00001111 reqid 13681891 mode transport aead rfc4106(gcm(aes))
   6. [ok] swarm01's vxlan1 decapsulates it (VNI 257) (if:swarm01/1-bwii51jagl/vxlan1)
   7. [ok] into swarm01's br0 (if:swarm01/1-bwii51jagl/br0)
   8. [ok] out of br0 by its port vethwebapp1 (if:swarm01/1-bwii51jagl/vethwebapp1)
   9. [ok] over the veth pair to eth2 in webapp.2.0vxnym0djag4's namespace (if:swarm01/sb-webapp.2.0vxnym0djag4/eth2)
        address sb-webapp.2.0vxnym0djag4: inet 10.10.10.5/24 scope global eth2
  10. [ok] webapp.2.0vxnym0djag4 receives it on 10.10.10.5 (ctr:swarm01/webapp.2.0vxnym0djag4)
  => delivered
"##,
    );
}

/// A port published on 127.0.0.1: no DNAT for loopback, docker-proxy listens and connects on, filter OUTPUT.
#[test]
fn loopback_port_is_relayed_by_the_userland_proxy() {
    let mut s = docker_host(HOST_RULES);
    web_on_loopback(&mut s);
    s.namespaces[HOST].listeners = Some(vec![docker_proxy_on_8080()]);
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert_render(
        &a,
        r##"
port 8080/tcp

path port:8080/tcp@h1->web: h1:8080/tcp → web (198.18.0.2:80) [delivered]
   1. [ok] a client on h1 itself connects to 127.0.0.1:8080/tcp (netns:h1/host)
   2. [ok] nat OUTPUT has no DNAT for 127.0.0.1:8080: docker-proxy listens there and opens its own connection to 198.18.0.2:80 (netns:h1/host)
        iptables host: -t nat -P OUTPUT ACCEPT
        iptables host: -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
        socket host: tcp LISTEN 127.0.0.1:8080 users:(("docker-proxy"))
   3. [ok] routed to 198.18.0.2 by docker0 (if:h1/host/docker0)
        route host: 198.18.0.0/24 dev docker0 proto kernel scope link src 198.18.0.1
   4. [ok] filter OUTPUT lets it through (no rule decides; policy ACCEPT) (if:h1/host/docker0)
        iptables host: -t filter -P OUTPUT ACCEPT
   5. [ok] out of docker0 by its port vethweb0 (if:h1/host/vethweb0)
   6. [ok] over the veth pair to eth0 in web's namespace (if:h1/sb-web/eth0)
        address sb-web: inet 198.18.0.2/24 scope global eth0
   7. [ok] web receives it on 198.18.0.2:80 (ctr:h1/web)
  => delivered
note: On h1 itself, 127.0.0.1:8080/tcp gets no DNAT (`-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER` leaves out 127.0.0.0/8): docker-proxy listens there (tcp LISTEN 127.0.0.1:8080 users:(("docker-proxy"))) and relays to the container. Local clients of the host's own addresses go through nat OUTPUT to the same DNAT as outside clients.
"##,
    );
}
