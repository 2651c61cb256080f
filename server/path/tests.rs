//! Path derivation on hand-made snapshots: every path kind, every blocked and broken case.
//!
//! The swarm fixtures use the facts recorded in the seed notes (a real 3-node swarm of Docker 1.12):
//! the DOCKER-INGRESS DNAT to 172.19.0.2:8080, ingress_sbox's MARK 0x102 for 8080/tcp, the ingress
//! network 10.255.0.0/16 (VNI 256) and the `bridge fdb show` line of my-overlay-network.

use std::collections::BTreeMap;

use crate::collect::firewall::parse_iptables_save;
use crate::graph::{build, build_cluster, EdgeKind, Graph};
use crate::snapshot::*;

use super::model::*;
use super::{published_ports, trace};

/// The whole rendered answer of each path kind; the tests here keep what the text does not show
/// (path kinds, the graph edges hops are joined by, which node each hop is on).
mod golden;

/// IPv6 paths over the same host with IPv6 addresses and moby's ip6tables layout added.
mod ipv6;

/// Builds one node's snapshot.
struct Node {
    snap: NodeSnapshot,
}

const HOST: usize = 0;

impl Node {
    fn new(host: &str, underlay: &str) -> Self {
        let mut n = Node {
            snap: NodeSnapshot {
                schema: NODE_SCHEMA.into(),
                node: NodeIdentity {
                    hostname: host.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        n.ns("host", NamespaceRole::Host);
        let lo = n.link(HOST, "lo", "");
        n.snap.namespaces[HOST].links[0].link_type = 772;
        let _ = lo;
        let eth0 = n.link(HOST, "eth0", "");
        n.addr(HOST, eth0, underlay);
        let gw = underlay.rsplit_once('.').unwrap().0.to_owned() + ".1";
        n.route(HOST, "", 0, Some(&gw), eth0);
        n
    }

    fn ns(&mut self, name: &str, role: NamespaceRole) -> usize {
        let i = self.snap.namespaces.len();
        self.snap.namespaces.push(Namespace {
            id: NsIdentity {
                dev: 4,
                ino: 100 + i as u64,
            },
            name: name.into(),
            paths: if role == NamespaceRole::Host {
                vec![]
            } else {
                vec![format!("/run/docker/netns/{name}")]
            },
            role,
            ipvs: IpvsState::Services { services: vec![] },
            ..Default::default()
        });
        i
    }

    fn link(&mut self, ns: usize, name: &str, kind: &str) -> u32 {
        let n = &mut self.snap.namespaces[ns];
        let ifindex = n.links.len() as u32 + 1;
        n.links.push(Link {
            ifindex,
            name: name.into(),
            kind: kind.into(),
            link_type: 1,
            mtu: 1500,
            mac: format!("02:00:00:00:{:02x}:{:02x}", ns, ifindex),
            oper_state: "up".into(),
            admin_up: true,
            ..Default::default()
        });
        ifindex
    }

    fn by_name(&self, ns: usize, name: &str) -> u32 {
        self.snap.namespaces[ns]
            .links
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .ifindex
    }

    /// An address with its connected route.
    fn addr(&mut self, ns: usize, ifindex: u32, cidr: &str) {
        let (ip, len) = cidr.split_once('/').unwrap();
        let len: u8 = len.parse().unwrap();
        let n = &mut self.snap.namespaces[ns];
        n.addresses.push(Address {
            ifindex,
            family: 4,
            address: ip.into(),
            prefix_len: len,
            scope: "universe".into(),
        });
        let (net, _) = super::rules::parse_prefix(cidr).unwrap();
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let net = std::net::Ipv4Addr::from(u32::from(net) & mask);
        n.routes.push(Route {
            family: 4,
            table: 254,
            destination: net.to_string(),
            prefix_len: len,
            oif: Some(ifindex),
            prefsrc: Some(ip.into()),
            route_type: "unicast".into(),
            protocol: "kernel".into(),
            scope: "link".into(),
            ..Default::default()
        });
    }

    fn route(&mut self, ns: usize, dst: &str, len: u8, gw: Option<&str>, oif: u32) {
        self.snap.namespaces[ns].routes.push(Route {
            family: 4,
            table: 254,
            destination: dst.into(),
            prefix_len: len,
            gateway: gw.map(str::to_owned),
            oif: Some(oif),
            route_type: "unicast".into(),
            protocol: "boot".into(),
            scope: "universe".into(),
            ..Default::default()
        });
    }

    fn bridge(&mut self, ns: usize, name: &str, cidr: Option<&str>) -> u32 {
        let i = self.link(ns, name, "bridge");
        if let Some(c) = cidr {
            self.addr(ns, i, c);
        }
        i
    }

    /// A veth `a_name` in `a` (a port of `a_master`, if any) paired with `b_name` in `b`.
    fn veth(
        &mut self,
        a: usize,
        a_name: &str,
        a_master: Option<u32>,
        b: usize,
        b_name: &str,
    ) -> (u32, u32) {
        let ai = self.link(a, a_name, "veth");
        let bi = self.link(b, b_name, "veth");
        let (aid, bid) = (self.snap.namespaces[a].id, self.snap.namespaces[b].id);
        for (me, mine, peer, other, other_id) in [(a, ai, bi, b, bid), (b, bi, ai, a, aid)] {
            let nsid = other as i32;
            let n = &mut self.snap.namespaces[me];
            let l = &mut n.links[mine as usize - 1];
            l.link = Some(peer);
            l.link_netnsid = Some(nsid);
            if !n.nsids.iter().any(|m| m.nsid == nsid) {
                n.nsids.push(NsIdMapping {
                    nsid,
                    target: other_id,
                });
            }
        }
        if let Some(m) = a_master {
            self.snap.namespaces[a].links[ai as usize - 1].master = Some(m);
        }
        (ai, bi)
    }

    fn rules(&mut self, ns: usize, text: &str) {
        self.snap.namespaces[ns].firewall = Some(Firewall {
            backend: "nf_tables".into(),
            ipv4: parse_iptables_save(text).unwrap(),
            ..Default::default()
        });
    }

    fn engine(&mut self) -> &mut EngineFacts {
        self.snap.engine.get_or_insert_with(|| EngineFacts {
            name: "x".into(),
            ..Default::default()
        })
    }

    /// A container with its own namespace, one interface per (name, cidr, bridge ns, bridge ifindex, network id, mac).
    fn container(&mut self, name: &str, ifaces: &[(&str, &str, usize, u32, &str, &str)]) -> usize {
        let ns = self.ns(&format!("sb-{name}"), NamespaceRole::Container);
        let mut endpoints = Vec::new();
        for (i, (ifname, cidr, bns, br, net, mac)) in ifaces.iter().enumerate() {
            let port = format!("veth{}{i}", &name[..name.len().min(6)]);
            let (_, ci) = self.veth(*bns, &port, Some(*br), ns, ifname);
            self.addr(ns, ci, cidr);
            let (ip, len) = cidr.split_once('/').unwrap();
            if i == 0 {
                let gw = ip.rsplit_once('.').unwrap().0.to_owned() + ".1";
                self.route(ns, "", 0, Some(&gw), ci);
            }
            let net_name = self
                .snap
                .engine
                .as_ref()
                .and_then(|e| e.networks.iter().find(|n| n.id == *net))
                .map(|n| n.name.clone())
                .unwrap_or_default();
            endpoints.push(ContainerEndpoint {
                network_name: net_name,
                network_id: (*net).into(),
                endpoint_id: format!("ep-{name}-{i}"),
                ipv4: ip.into(),
                ipv4_prefix_len: len.parse().unwrap(),
                mac: (*mac).into(),
                ..Default::default()
            });
        }
        let c = Container {
            id: format!("{:0<64}", format!("c0ffee{name}").replace(['.', '-'], "")),
            name: name.into(),
            state: "running".into(),
            pid: 0,
            sandbox_key: format!("/var/run/docker/netns/sb-{name}"),
            endpoints,
            ..Default::default()
        };
        self.engine().containers.push(c);
        ns
    }

    fn network(
        &mut self,
        id: &str,
        name: &str,
        driver: &str,
        subnet: &str,
        options: &[(&str, &str)],
    ) {
        let net = Network {
            id: id.into(),
            name: name.into(),
            driver: driver.into(),
            scope: if driver == "overlay" {
                "swarm"
            } else {
                "local"
            }
            .into(),
            ipam: vec![IpamConfig {
                subnet: subnet.into(),
                ..Default::default()
            }],
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        };
        self.engine().networks.push(net);
    }

    fn done(mut self) -> NodeSnapshot {
        self.snap.normalize();
        self.snap
    }
}

// ---------------------------------------------------------------- a single Docker host

const BR_A: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000";
const BR_B: &str = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000";
const BRIDGE: &str = "dddddddddddd0000000000000000000000000000000000000000000000000000";

/// What Docker 20.10 programs for docker0 (web publishes 8080->80), br-aaaaaaaaaaaa (icc=false)
/// and br-bbbbbbbbbbbb, as iptables-save prints it.
const HOST_RULES: &str =
    include_str!("../../tests/fixtures/pathdoc/docker2010_bridges.iptables-save");

const DNAT_8080: &str =
    "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80";

/// One host: web on docker0 publishing 8080->80, a1 and a2 on br-aaaaaaaaaaaa (icc off), b1 on br-bbbbbbbbbbbb.
fn docker_host(rules: &str) -> NodeSnapshot {
    let mut n = Node::new("h1", "198.19.0.5/24");
    n.network(
        BRIDGE,
        "bridge",
        "bridge",
        "198.18.0.0/24",
        &[("com.docker.network.bridge.name", "docker0")],
    );
    n.network(
        BR_A,
        "neticc",
        "bridge",
        "198.18.1.0/24",
        &[("com.docker.network.bridge.enable_icc", "false")],
    );
    n.network(BR_B, "netb", "bridge", "198.18.2.0/24", &[]);
    let d0 = n.bridge(HOST, "docker0", Some("198.18.0.1/24"));
    let ba = n.bridge(HOST, "br-aaaaaaaaaaaa", Some("198.18.1.1/24"));
    let bb = n.bridge(HOST, "br-bbbbbbbbbbbb", Some("198.18.2.1/24"));
    n.container(
        "web",
        &[(
            "eth0",
            "198.18.0.2/24",
            HOST,
            d0,
            BRIDGE,
            "02:42:c6:12:00:02",
        )],
    );
    n.container(
        "a1",
        &[("eth0", "198.18.1.2/24", HOST, ba, BR_A, "02:42:c6:12:01:02")],
    );
    n.container(
        "a2",
        &[("eth0", "198.18.1.3/24", HOST, ba, BR_A, "02:42:c6:12:01:03")],
    );
    n.container(
        "b1",
        &[("eth0", "198.18.2.2/24", HOST, bb, BR_B, "02:42:c6:12:02:02")],
    );
    let web = n
        .engine()
        .containers
        .iter_mut()
        .find(|c| c.name == "web")
        .unwrap();
    web.ports = vec![
        PortBinding {
            private_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(8080),
        },
        PortBinding {
            private_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("::".into()),
            host_port: Some(8080),
        },
    ];
    n.rules(HOST, rules);
    n.done()
}

fn ports_is_v6(b: &PortBinding) -> bool {
    super::ports::is_v6(b)
}

fn port_q(port: u16, node: Option<&str>) -> Question {
    Question::Port {
        port,
        protocol: "tcp".into(),
        node: node.map(str::to_owned),
    }
}

fn between(from: &str, to: &str) -> Question {
    Question::Between {
        from: from.into(),
        to: to.into(),
    }
}

fn run(q: &Question, snaps: &[NodeSnapshot]) -> (PathAnswer, Graph) {
    let g = build(snaps);
    (trace(q, snaps, &g), g)
}

fn last(p: &PacketPath) -> &Hop {
    p.hops.last().unwrap()
}

fn texts(h: &Hop) -> Vec<&str> {
    h.evidence.iter().map(|e| e.text.as_str()).collect()
}

/// Every element a hop names is drawn, and every edge joins the hop to the previous element.
fn assert_joined(p: &PacketPath, g: &Graph) {
    let mut prev: Option<&str> = None;
    for h in &p.hops {
        if let Some(e) = &h.element {
            assert!(g.elements.iter().any(|x| &x.id == e), "{e} is not drawn");
        }
        if let Some(edge) = &h.edge {
            let ed = g.edges.iter().find(|x| &x.id == edge).expect("edge drawn");
            let here = h.element.as_deref().unwrap();
            assert!(
                (ed.source == here || ed.target == here)
                    && prev.is_some_and(|p| ed.source == p || ed.target == p)
                    || ed.kind == EdgeKind::Fdb,
                "edge {edge} does not join {prev:?} to {here}"
            );
        }
        if h.element.is_some() {
            prev = h.element.as_deref();
        }
    }
}

#[test]
fn bridge_port_is_delivered_through_dnat_forward_and_the_veth() {
    let s = docker_host(HOST_RULES);
    let (a, g) = run(&port_q(8080, None), &[s]);
    assert_eq!(
        a.paths.len(),
        1,
        "the IPv6 twin binding is one path: {a:#?}"
    );
    let p = &a.paths[0];
    assert_eq!(p.kind, "bridge-port");
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    // Hops, evidence and the note on loopback clients: golden::bridge_port_is_delivered_through_dnat_forward_and_the_veth.
    let veth_hop = p
        .hops
        .iter()
        .find(|h| h.element.as_deref() == Some("if:h1/sb-web/eth0"))
        .unwrap();
    assert_eq!(
        veth_hop.edge.as_deref(),
        Some("veth-pair:if:h1/host/vethweb0->if:h1/sb-web/eth0")
    );
    let port_hop = p
        .hops
        .iter()
        .find(|h| h.element.as_deref() == Some("if:h1/host/vethweb0"))
        .unwrap();
    assert_eq!(
        port_hop.edge.as_deref(),
        Some("bridge-port:if:h1/host/vethweb0->if:h1/host/docker0")
    );
    assert_joined(p, &g);
}

#[test]
fn bridge_port_dropped_in_docker_user_is_blocked_with_the_rule() {
    let rules = HOST_RULES.replace(
        "-A DOCKER-USER -j RETURN",
        "-A DOCKER-USER -i eth0 -p tcp -m tcp --dport 80 -j DROP\n-A DOCKER-USER -j RETURN",
    );
    let (a, _) = run(&port_q(8080, None), &[docker_host(&rules)]);
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    let h = last(p);
    assert!(texts(h).contains(&"-t filter -A DOCKER-USER -i eth0 -p tcp -m tcp --dport 80 -j DROP"));
    // Policy DROP with no Docker rule accepting it: blocked by the policy.
    let rules = HOST_RULES.replace(
        "-A DOCKER -d 198.18.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT\n",
        "",
    );
    let (a, _) = run(&port_q(8080, None), &[docker_host(&rules)]);
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Blocked(w) if w.contains("policy is DROP")),
        "{h:#?}"
    );
    assert!(texts(h).contains(&"-t filter -P FORWARD DROP"));
}

#[test]
fn a_rule_with_an_uninterpreted_match_makes_the_hop_unknown() {
    let rules = HOST_RULES.replace(
        "-A DOCKER-USER -j RETURN",
        "-A DOCKER-USER -m set --match-set blocked src -j DROP\n-A DOCKER-USER -j RETURN",
    );
    let (a, _) = run(&port_q(8080, None), &[docker_host(&rules)]);
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Unknown);
    assert!(matches!(&last(p).verdict, Verdict::Unknown(w) if w.contains("-m set")));
}

#[test]
fn without_engine_facts_the_dnat_rule_alone_leads_to_the_namespace() {
    let mut s = docker_host(HOST_RULES);
    s.engine = None;
    // The path itself: golden::bridge_port_without_engine_facts_leads_to_the_namespace.
    let (a, g) = run(&port_q(8080, None), &[s]);
    assert_joined(&a.paths[0], &g);
    let mut s = docker_host(HOST_RULES);
    s.engine = None;
    let (a, _) = run(&port_q(8081, None), &[s]);
    assert!(a.paths.is_empty(), "no DNAT for 8081, no path: {a:#?}");
}

#[test]
fn unpublished_port_and_unknown_node_say_so() {
    let (a, _) = run(&port_q(9999, None), &[docker_host(HOST_RULES)]);
    assert!(a.paths.is_empty());
    assert!(
        a.notes[0].contains("nothing is published on port 9999/tcp on h1"),
        "{:?}",
        a.notes
    );
    let (a, _) = run(&port_q(8080, Some("nope")), &[docker_host(HOST_RULES)]);
    assert!(a.paths.is_empty());
    assert!(a.notes[0].contains("no node named \"nope\""));
}

#[test]
fn egress_masquerades_out_of_the_default_route() {
    let (a, g) = run(&between("web", "internet"), &[docker_host(HOST_RULES)]);
    // Hops and evidence: golden::egress_masquerades_out_of_the_default_route.
    let p = &a.paths[0];
    assert_eq!(p.kind, "egress");
    assert_joined(p, &g);
}

#[test]
fn egress_without_default_route_or_masquerade_is_broken() {
    let mut s = docker_host(HOST_RULES);
    s.namespaces[0].routes.retain(|r| r.prefix_len != 0);
    let (a, _) = run(&between("web", "internet"), &[s]);
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Broken(w) if w.contains("no default route")),
        "{h:#?}"
    );
    // Without MASQUERADE: golden::egress_without_masquerade_is_broken.
}

#[test]
fn to_an_address_routes_out_or_stays_on_the_bridge() {
    let (a, _) = run(&between("web", "198.19.0.77"), &[docker_host(HOST_RULES)]);
    let p = &a.paths[0];
    assert_eq!(
        (p.kind.as_str(), p.outcome),
        ("egress", Outcome::Delivered),
        "{p:#?}"
    );
    assert!(
        p.hops
            .iter()
            .any(|h| texts(h)
                == vec!["198.19.0.0/24 dev eth0 proto kernel scope link src 198.19.0.5"]),
        "{p:#?}"
    );
    let (a, _) = run(&between("web", "198.18.0.1"), &[docker_host(HOST_RULES)]);
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
    assert!(last(&a.paths[0]).text.contains("the host itself answers"));
    let (a, _) = run(&between("web", "198.18.0.99"), &[docker_host(HOST_RULES)]);
    assert!(matches!(&last(&a.paths[0]).verdict, Verdict::Broken(w) if w.contains("own subnet")));
}

#[test]
fn same_bridge_with_icc_off_is_blocked_by_the_drop_rule() {
    let (a, g) = run(&between("a1", "a2"), &[docker_host(HOST_RULES)]);
    // The blocked path: golden::east_west_on_an_icc_off_bridge_is_blocked.
    let p = &a.paths[0];
    assert_eq!(p.kind, "east-west");
    assert_joined(p, &g);
    // With icc on, the same pair is delivered to a2.
    let rules = HOST_RULES.replace(
        "-A FORWARD -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j DROP",
        "-A FORWARD -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j ACCEPT",
    );
    let (a, _) = run(&between("a1", "a2"), &[docker_host(&rules)]);
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
    assert_eq!(last(&a.paths[0]).element.as_deref(), Some("ctr:h1/a2"));
}

#[test]
fn different_bridges_are_blocked_by_isolation() {
    // To b1 by name: golden::east_west_across_bridges_is_blocked_by_isolation. To its address: the same.
    let (a, _) = run(&between("a1", "198.18.2.2"), &[docker_host(HOST_RULES)]);
    assert_eq!(a.paths[0].outcome, Outcome::Blocked);
}

#[test]
fn unknown_and_ambiguous_names_give_no_path_and_say_why() {
    let (a, _) = run(&between("nobody", "a1"), &[docker_host(HOST_RULES)]);
    assert!(a.paths.is_empty());
    assert!(a.notes[0].contains("no container named \"nobody\""));
    let mut s2 = docker_host(HOST_RULES);
    s2.node.hostname = "h2".into();
    let (a, _) = run(&between("a1", "a2"), &[docker_host(HOST_RULES), s2]);
    assert!(a.paths.is_empty());
    assert!(a.notes[0].contains("ambiguous"), "{:?}", a.notes);
    let mut s = docker_host(HOST_RULES);
    let c = &mut s.engine.as_mut().unwrap().containers[0];
    c.network_mode = "host".into();
    let name = c.name.clone();
    let (a, _) = run(&between(&name, "internet"), &[s]);
    assert!(
        a.paths.is_empty() && a.notes[0].contains("host's network namespace"),
        "{a:#?}"
    );
    let mut s = docker_host(HOST_RULES);
    let web = s
        .engine
        .as_mut()
        .unwrap()
        .containers
        .iter_mut()
        .find(|c| c.name == "web")
        .unwrap();
    web.ports.retain(ports_is_v6);
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert!(
        a.paths.is_empty() && a.notes[0].contains("IPv6 only"),
        "{a:#?}"
    );
    let (a, _) = run(&between("web", "no-such"), &[docker_host(HOST_RULES)]);
    assert!(a.paths.is_empty() && a.notes[0].contains("nor is it a service"));
}

#[test]
fn published_ports_lists_bridge_bindings_once_and_mesh_ports_per_node() {
    let s = docker_host(HOST_RULES);
    let g = build(std::slice::from_ref(&s));
    let ports = published_ports(std::slice::from_ref(&s), &g);
    assert_eq!(
        ports,
        vec![PublishedPort {
            node: "h1".into(),
            port: 8080,
            protocol: "tcp".into(),
            mode: "bridge".into(),
            target: "web".into(),
            target_port: 80,
            element: Some("ctr:h1/web".into()),
        }]
    );
    let c = swarm();
    let snaps: Vec<NodeSnapshot> = c.snapshots().into_iter().cloned().collect();
    let ports = published_ports(&snaps, &build_cluster(&c));
    let mesh: Vec<(&str, u16, &str)> = ports
        .iter()
        .map(|p| (p.node.as_str(), p.port, p.mode.as_str()))
        .collect();
    assert_eq!(
        mesh,
        vec![("swarm01", 8080, "ingress"), ("swarm02", 8080, "ingress")]
    );
    assert_eq!(ports[0].element.as_deref(), Some("svc:webapp"));
}

// ---------------------------------------------------------------- a two-node swarm

const INGRESS: &str = "3kuba8yq3c27p2vwo7hcm987i";
const OVERLAY: &str = "bwii51jaglps6a3xkohm57xe6";

fn mesh_host_rules() -> String {
    include_str!("../../tests/fixtures/pathdoc/swarm_host.iptables-save").to_owned()
}

const SBOX_MANGLE: &str =
    include_str!("../../tests/fixtures/pathdoc/swarm_ingress_sbox.iptables-save");

/// `ipvsadm -Ln` in ingress_sbox: FWM 258 over both tasks.
fn fwm_258(backends: &[&str]) -> IpvsState {
    IpvsState::Services {
        services: vec![IpvsService {
            family: 4,
            fwmark: Some(258),
            scheduler: "rr".into(),
            destinations: backends
                .iter()
                .map(|b| IpvsDestination {
                    address: (*b).into(),
                    port: 0,
                    forward: "masq".into(),
                    weight: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
    }
}

/// One swarm node: docker_gwbridge, ingress_sbox, the ingress and my-overlay-network namespaces,
/// and one task of webapp (eth0 on ingress, eth2 on my-overlay-network).
fn swarm_node(
    host: &str,
    underlay: &str,
    task: &str,
    slot: u8,
    fdb: &[(&str, &str)],
    manager: bool,
) -> NodeSnapshot {
    let mut n = Node::new(host, &format!("{underlay}/24"));
    n.network(
        INGRESS,
        "ingress",
        "overlay",
        "10.255.0.0/16",
        &[("com.docker.network.driver.overlay.vxlanid_list", "256")],
    );
    n.network(
        OVERLAY,
        "my-overlay-network",
        "overlay",
        "10.10.10.0/24",
        &[("com.docker.network.driver.overlay.vxlanid_list", "257")],
    );
    n.engine().networks[0].ingress = true;
    let gw = n.bridge(HOST, "docker_gwbridge", Some("172.19.0.1/16"));
    let sbox = n.ns("ingress_sbox", NamespaceRole::IngressSandbox);
    let ing = n.ns("1-3kuba8yq3c", NamespaceRole::Overlay);
    let ov = n.ns("1-bwii51jagl", NamespaceRole::Overlay);
    for (ns, vx, vni) in [(ing, "vxlan0", 256u32), (ov, "vxlan1", 257)] {
        let br = n.bridge(ns, "br0", None);
        let v = n.link(ns, vx, "vxlan");
        let l = &mut n.snap.namespaces[ns].links[v as usize - 1];
        l.master = Some(br);
        l.link_netnsid = Some(0);
        l.vxlan = Some(VxlanInfo {
            vni,
            port: 4789,
            ..Default::default()
        });
    }
    let (_, e1) = n.veth(HOST, "vethsbox", Some(gw), sbox, "eth1");
    n.addr(sbox, e1, "172.19.0.2/16");
    let br_ing = n.by_name(ing, "br0");
    let (_, e0) = n.veth(ing, "veth0", Some(br_ing), sbox, "eth0");
    n.addr(sbox, e0, "10.255.0.4/16");
    n.rules(sbox, SBOX_MANGLE);
    n.snap.namespaces[sbox].ipvs = fwm_258(&["10.255.0.6", "10.255.0.8"]);
    n.rules(HOST, &mesh_host_rules());
    let br_ov = n.by_name(ov, "br0");
    let tns = n.container(
        task,
        &[
            (
                "eth0",
                &format!("10.255.0.{}/16", 5 + slot),
                ing,
                br_ing,
                INGRESS,
                &format!("02:42:0a:ff:00:{:02x}", 5 + slot),
            ),
            (
                "eth2",
                &format!("10.10.10.{}/24", 2 + slot),
                ov,
                br_ov,
                OVERLAY,
                &format!("02:42:0a:0a:0a:{:02x}", 2 + slot),
            ),
        ],
    );
    n.rules(
        tns,
        include_str!("../../tests/fixtures/pathdoc/swarm_task.iptables-save"),
    );
    n.snap.namespaces[tns].ipvs = IpvsState::Services {
        services: vec![IpvsService {
            family: 4,
            fwmark: Some(0x10c),
            scheduler: "rr".into(),
            destinations: vec![IpvsDestination {
                address: "10.10.10.5".into(),
                forward: "masq".into(),
                weight: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    for (mac, dst) in fdb {
        let (vx, ns) = if mac.starts_with("02:42:0a:ff") {
            ("vxlan0", ing)
        } else {
            ("vxlan1", ov)
        };
        let ifindex = n.by_name(ns, vx);
        n.snap.namespaces[ns].fdb.push(FdbEntry {
            ifindex,
            mac: (*mac).into(),
            dst: Some((*dst).into()),
            state: vec!["permanent".into()],
            flags: vec!["self".into()],
            ..Default::default()
        });
    }
    let e = n.engine();
    e.swarm = SwarmFacts {
        local_state: "active".into(),
        node_id: host.to_owned(),
        node_addr: underlay.into(),
        is_manager: manager,
        cluster_id: "c1".into(),
    };
    e.containers[0]
        .labels
        .insert("com.docker.swarm.service.id".into(), "svc-webapp".into());
    e.containers[0]
        .labels
        .insert("com.docker.swarm.service.name".into(), "webapp".into());
    if manager {
        e.services = vec![Service {
            id: "svc-webapp".into(),
            name: "webapp".into(),
            mode: "replicated".into(),
            endpoint_mode: "vip".into(),
            ports: vec![ServicePort {
                protocol: "tcp".into(),
                target_port: 80,
                published_port: 8080,
                publish_mode: "ingress".into(),
            }],
            virtual_ips: vec![
                VirtualIp {
                    network_id: INGRESS.into(),
                    addr: "10.255.0.2/16".into(),
                },
                VirtualIp {
                    network_id: OVERLAY.into(),
                    addr: "10.10.10.2/24".into(),
                },
            ],
            ..Default::default()
        }];
        e.nodes = vec![
            SwarmNode {
                id: "id-swarm01".into(),
                hostname: "swarm01".into(),
                addr: "172.17.1.142".into(),
                ..Default::default()
            },
            SwarmNode {
                id: "id-swarm02".into(),
                hostname: "swarm02".into(),
                addr: "172.17.1.65".into(),
                ..Default::default()
            },
        ];
    }
    n.done()
}

/// swarm02 (manager, webapp.1 at 10.255.0.6 / 10.10.10.3) and swarm01 (webapp.2 at 10.255.0.7 / 10.10.10.5).
fn swarm_with(mutate: impl Fn(&mut NodeSnapshot)) -> ClusterSnapshot {
    let mut a = swarm_node(
        "swarm02",
        "172.17.1.65",
        "webapp.1.a4s04msunryc",
        1,
        &[
            ("02:42:0a:ff:00:08", "172.17.1.142"),
            ("02:42:0a:0a:0a:05", "172.17.1.142"),
        ],
        true,
    );
    let mut b = swarm_node(
        "swarm01",
        "172.17.1.142",
        "webapp.2.0vxnym0djag4",
        3,
        &[
            ("02:42:0a:ff:00:06", "172.17.1.65"),
            ("02:42:0a:0a:0a:03", "172.17.1.65"),
        ],
        false,
    );
    for s in [&mut a, &mut b] {
        mutate(s);
    }
    let mut c = ClusterSnapshot {
        schema: CLUSTER_SCHEMA.into(),
        nodes: [a, b]
            .into_iter()
            .map(|s| ClusterNode {
                name: s.node.hostname.clone(),
                source: "test".into(),
                identity: String::new(),
                state: NodeState::Fresh,
                error: String::new(),
                snapshot_taken_at: None,
                age_s: None,
                snapshot: Some(s),
            })
            .collect(),
        ..Default::default()
    };
    c.normalize();
    c
}

fn swarm() -> ClusterSnapshot {
    swarm_with(|_| {})
}

fn run_cluster(q: &Question, c: &ClusterSnapshot) -> (PathAnswer, Graph) {
    let snaps: Vec<NodeSnapshot> = c.snapshots().into_iter().cloned().collect();
    let g = build_cluster(c);
    (trace(q, &snaps, &g), g)
}

#[test]
fn mesh_port_reaches_a_local_and_a_remote_task_through_ipvs() {
    let (a, g) = run_cluster(&port_q(8080, Some("swarm02")), &swarm());
    assert_eq!(a.paths.len(), 2, "one path per backend: {a:#?}");
    for p in &a.paths {
        assert_eq!(
            (p.kind.as_str(), p.outcome),
            ("mesh", Outcome::Delivered),
            "{p:#?}"
        );
        assert_joined(p, &g);
        let sbox_in = p
            .hops
            .iter()
            .find(|h| h.element.as_deref() == Some("if:swarm02/ingress_sbox/eth1"))
            .unwrap();
        assert_eq!(
            sbox_in.edge.as_deref(),
            Some("veth-pair:if:swarm02/host/vethsbox->if:swarm02/ingress_sbox/eth1")
        );
    }
    // Hops and evidence (DNAT, MARK, IPVS, the FDB entry, REDIRECT): golden::mesh_port_reaches_a_local_and_a_remote_task.
    let local = a
        .paths
        .iter()
        .find(|p| p.id.ends_with("webapp.1.a4s04msunryc"))
        .unwrap();
    assert!(local.hops.iter().all(|h| h.node == "swarm02"));
    let remote = a
        .paths
        .iter()
        .find(|p| p.id.ends_with("webapp.2.0vxnym0djag4"))
        .unwrap();
    let fdb = remote
        .hops
        .iter()
        .find(|h| h.evidence.iter().any(|e| e.kind == "fdb"))
        .unwrap();
    let next = &remote.hops[remote
        .hops
        .iter()
        .position(|h| std::ptr::eq(h, fdb))
        .unwrap()
        + 1];
    assert_eq!(
        next.element.as_deref(),
        Some("if:swarm01/1-3kuba8yq3c/vxlan0")
    );
    assert_eq!(
        next.edge.as_deref(),
        Some("fdb:if:swarm02/1-3kuba8yq3c/vxlan0->if:swarm01/1-3kuba8yq3c/vxlan0")
    );
    assert!(remote.hops.iter().any(|h| h.node == "swarm01"));
    // Every node publishes the port: without --node, both nodes' paths.
    let (all, _) = run_cluster(&port_q(8080, None), &swarm());
    assert_eq!(all.paths.len(), 4);
}

#[test]
fn mesh_without_mark_or_dnat_stops_at_that_hop() {
    let c = swarm_with(|s| {
        for ns in &mut s.namespaces {
            if ns.role == NamespaceRole::IngressSandbox {
                ns.firewall = Some(Firewall::default());
            }
        }
    });
    let (a, _) = run_cluster(&port_q(8080, Some("swarm02")), &c);
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Broken(w) if w.contains("no MARK rule for 8080/tcp")),
        "{h:#?}"
    );
    let c = swarm_with(|s| {
        let text = mesh_host_rules().replace(
            "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.19.0.2:8080\n",
            "",
        );
        s.namespaces[0].firewall = Some(Firewall {
            ipv4: parse_iptables_save(&text).unwrap(),
            ..Default::default()
        });
        s.namespaces[1].ipvs = IpvsState::Unavailable {
            reason: "no genetlink family IPVS".into(),
        };
    });
    let (a, _) = run_cluster(&port_q(8080, Some("swarm02")), &c);
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Broken(w) if w.contains("no DNAT for 8080/tcp") && w.contains("IPVS not available")),
        "{h:#?}"
    );
}

#[test]
fn east_west_across_nodes_follows_the_fdb_entry_to_the_other_node() {
    let (a, g) = run_cluster(&between("webapp.1", "webapp.2"), &swarm());
    let p = a
        .paths
        .iter()
        .find(|p| p.id.ends_with("@my-overlay-network"))
        .unwrap();
    // Both shared overlays' hops and the FDB entry: golden::east_west_across_nodes_follows_the_fdb.
    assert_joined(p, &g);
}

#[test]
fn east_west_on_one_overlay_and_one_node_stays_on_br0() {
    let mut c = swarm();
    // Move webapp.2's overlay endpoint to swarm02: a second task there.
    let snap = c
        .nodes
        .iter_mut()
        .find(|n| n.name == "swarm02")
        .unwrap()
        .snapshot
        .as_mut()
        .unwrap();
    let mut n = Node { snap: snap.clone() };
    let ov = n
        .snap
        .namespaces
        .iter()
        .position(|x| x.name == "1-bwii51jagl")
        .unwrap();
    let br = n.by_name(ov, "br0");
    n.container(
        "peer",
        &[(
            "eth0",
            "10.10.10.9/24",
            ov,
            br,
            OVERLAY,
            "02:42:0a:0a:0a:09",
        )],
    );
    *snap = n.done();
    let (a, g) = run_cluster(&between("webapp.1", "peer"), &c);
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    assert_joined(p, &g);
    assert!(p
        .hops
        .iter()
        .all(|h| h.node == "swarm02" && !h.evidence.iter().any(|e| e.kind == "fdb")));
    assert!(p
        .hops
        .iter()
        .any(|h| h.element.as_deref() == Some("if:swarm02/1-bwii51jagl/br0")));
}

#[test]
fn vip_goes_through_the_clients_mark_and_ipvs_to_the_backend() {
    let (a, g) = run_cluster(&between("webapp.1", "webapp"), &swarm());
    let p = a
        .paths
        .iter()
        .find(|p| p.kind == "vip" && p.id.contains("my-overlay-network"))
        .unwrap();
    // Hops and evidence (the VIP, MARK 0x10c, IPVS fwmark 268): golden::vip_goes_through_the_clients_mark_and_ipvs.
    assert_joined(p, &g);
    // By VIP address too.
    let (a, _) = run_cluster(&between("webapp.1", "10.10.10.2"), &swarm());
    assert_eq!(a.paths.len(), 1);
    assert_eq!(a.paths[0].kind, "vip");
    // Without IPVS the VIP cannot forward.
    let c = swarm_with(|s| {
        for ns in &mut s.namespaces {
            ns.ipvs = IpvsState::Unavailable {
                reason: "no genetlink family IPVS".into(),
            };
        }
    });
    let (a, _) = run_cluster(&between("webapp.1", "10.10.10.2"), &c);
    assert!(
        matches!(&last(&a.paths[0]).verdict, Verdict::Broken(w) if w.starts_with("IPVS not available in this kernel: the service VIP cannot forward"))
    );
}

/// The seed's two-node swarm with both nodes reporting the hostname `ubuntu` (cloned VMs): they
/// stay apart by their swarm node IDs (`swarm01`, `swarm02` here).
fn swarm_named_ubuntu() -> ClusterSnapshot {
    swarm_with(|s| s.node.hostname = "ubuntu".into())
}

#[test]
fn paths_between_nodes_sharing_a_hostname_cross_from_one_to_the_other() {
    let (a, g) = run_cluster(&between("webapp.1", "webapp.2"), &swarm_named_ubuntu());
    let p = a
        .paths
        .iter()
        .find(|p| p.id.ends_with("@my-overlay-network"))
        .expect("overlay path");
    assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
    assert_joined(p, &g);
    let els: Vec<&str> = p.hops.iter().filter_map(|h| h.element.as_deref()).collect();
    assert_eq!(els[4], "if:swarm02/1-bwii51jagl/vxlan1");
    assert_eq!(els[5], "if:swarm01/1-bwii51jagl/vxlan1");
    let nodes: Vec<&str> = p.hops.iter().map(|h| h.node.as_str()).collect();
    assert!(
        nodes.contains(&"ubuntu@swarm01") && nodes.contains(&"ubuntu@swarm02"),
        "{nodes:?}"
    );
}

#[test]
fn a_shared_hostname_is_ambiguous_as_a_node_and_a_label_or_id_picks_one() {
    let c = swarm_named_ubuntu();
    let (a, _) = run_cluster(&port_q(8080, Some("ubuntu")), &c);
    assert!(a.paths.is_empty());
    assert!(
        a.notes[0].contains("\"ubuntu\" names 2 nodes: ubuntu@swarm01, ubuntu@swarm02"),
        "{:?}",
        a.notes
    );
    for pick in ["ubuntu@swarm02", "swarm02"] {
        let (a, _) = run_cluster(&port_q(8080, Some(pick)), &c);
        assert!(!a.paths.is_empty(), "{pick}: {:?}", a.notes);
        assert!(
            a.paths.iter().all(|p| p.hops[0].node == "ubuntu@swarm02"),
            "{pick}: every path starts on that node"
        );
    }
}

/// my-overlay-network made `--opt encrypted`, each node's host namespace holding `states`.
fn encrypted_swarm(states: impl Fn(&str) -> Option<Vec<XfrmSa>>) -> ClusterSnapshot {
    swarm_with(|s| {
        let addr = s.engine.as_ref().unwrap().swarm.node_addr.clone();
        if let Some(e) = s.engine.as_mut() {
            for n in e
                .networks
                .iter_mut()
                .filter(|n| n.name == "my-overlay-network")
            {
                n.options.insert("encrypted".into(), String::new());
            }
        }
        let host = s
            .namespaces
            .iter_mut()
            .find(|n| n.role == NamespaceRole::Host)
            .unwrap();
        host.xfrm = states(&addr).map(|states| Xfrm {
            states,
            policies: vec![],
        });
    })
}

fn esp(src: &str, dst: &str, spi: u32) -> XfrmSa {
    XfrmSa {
        src: src.into(),
        dst: dst.into(),
        proto: "esp".into(),
        spi,
        reqid: 0xD0C4E3,
        mode: "transport".into(),
        algorithms: vec!["aead rfc4106(gcm(aes))".into()],
        mark: None,
    }
}

fn overlay_path(c: &ClusterSnapshot) -> PacketPath {
    let (a, _) = run_cluster(&between("webapp.1", "webapp.2"), c);
    a.paths
        .into_iter()
        .find(|p| p.id.ends_with("@my-overlay-network"))
        .unwrap()
}

const S2: &str = "172.17.1.65";
const S1: &str = "172.17.1.142";

#[test]
fn an_encrypted_overlay_without_sa_or_with_a_foreign_spi_is_broken() {
    let p = overlay_path(&encrypted_swarm(|_| Some(vec![])));
    assert_eq!(p.outcome, Outcome::Broken);
    assert!(
        matches!(&last(&p).verdict, Verdict::Broken(w) if w.contains("holds no IPsec SA to 172.17.1.142")),
        "{:?}",
        last(&p).verdict
    );
    // swarm02 sends with 0x1111; swarm01 holds only 0x9999 from it.
    let p = overlay_path(&encrypted_swarm(|addr| {
        Some(if addr == S2 {
            vec![esp(S2, S1, 0x1111)]
        } else {
            vec![esp(S2, S1, 0x9999)]
        })
    }));
    assert_eq!(p.outcome, Outcome::Broken);
    assert!(
        matches!(&last(&p).verdict, Verdict::Broken(w) if w.contains("no SA with that SPI")),
        "{:?}",
        last(&p).verdict
    );
    // Not read: cannot tell.
    let p = overlay_path(&encrypted_swarm(|_| None));
    assert_eq!(p.outcome, Outcome::Unknown);
}

/// Records these sysctls in namespace `ns` of `s` (the rest of `all` and docker0 left off).
fn switches(s: &mut NodeSnapshot, ns: usize, set: &[(&str, &str)], absent: &[&str]) {
    let sc = s.namespaces[ns]
        .sysctls
        .get_or_insert_with(Sysctls::default);
    for (k, v) in set {
        sc.set(k, v);
    }
    sc.absent.extend(absent.iter().map(|a| a.to_string()));
}

fn web_on_loopback(s: &mut NodeSnapshot) {
    let web = s
        .engine
        .as_mut()
        .unwrap()
        .containers
        .iter_mut()
        .find(|c| c.name == "web")
        .unwrap();
    web.ports = vec![PortBinding {
        private_port: 80,
        protocol: "tcp".into(),
        host_ip: Some("127.0.0.1".into()),
        host_port: Some(8080),
    }];
}

#[test]
fn forwarding_off_blocks_published_ports_and_egress_with_the_sysctl() {
    let mut s = docker_host(HOST_RULES);
    switches(&mut s, HOST, &[("net.ipv4.ip_forward", "0")], &[]);
    for q in [port_q(8080, None), between("web", "internet")] {
        let (a, _) = run(&q, std::slice::from_ref(&s));
        let p = &a.paths[0];
        assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
        assert_eq!(texts(last(p)), vec!["net.ipv4.ip_forward = 0"]);
        assert!(last(p).text.contains("forwards nothing"));
    }
    // Bridged traffic needs no forwarding.
    let (a, _) = run(&between("web", "198.18.0.1"), std::slice::from_ref(&s));
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
    let g = build(std::slice::from_ref(&s));
    assert!(g.findings.iter().any(|f| f.code == "forwarding-off"));
    switches(&mut s, HOST, &[("net.ipv4.ip_forward", "1")], &[]);
    let (a, g) = run(&port_q(8080, None), std::slice::from_ref(&s));
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
    assert!(!g.findings.iter().any(|f| f.code == "forwarding-off"));
}

#[test]
fn icc_off_is_not_enforced_without_bridge_netfilter() {
    let nf = "net.bridge.bridge-nf-call-iptables";
    for (set, absent) in [(vec![(nf, "0")], vec![]), (vec![], vec![nf])] {
        let mut s = docker_host(HOST_RULES);
        switches(&mut s, HOST, &set, &absent);
        let (a, _) = run(&between("a1", "a2"), &[s]);
        let p = &a.paths[0];
        assert_eq!(p.outcome, Outcome::Delivered, "{p:#?}");
        let h = p
            .hops
            .iter()
            .find(|h| h.text.contains("without iptables"))
            .unwrap();
        assert!(h.text.contains("enable_icc=false"), "{}", h.text);
        assert!(texts(h)
            .contains(&"-t filter -A FORWARD -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j DROP"));
    }
    let mut s = docker_host(HOST_RULES);
    switches(&mut s, HOST, &[(nf, "1")], &[]);
    let (a, _) = run(&between("a1", "a2"), &[s]);
    assert_eq!(a.paths[0].outcome, Outcome::Blocked);
}

#[test]
fn strict_reverse_path_filtering_drops_what_would_route_back_elsewhere() {
    let mut s = docker_host(HOST_RULES);
    switches(
        &mut s,
        HOST,
        &[("net.ipv4.conf.docker0.rp_filter", "1")],
        &[],
    );
    let (a, _) = run(&between("web", "internet"), std::slice::from_ref(&s));
    assert_eq!(
        a.paths[0].outcome,
        Outcome::Delivered,
        "the route back is docker0"
    );
    // Without its subnet route, the way back to 198.18.0.2 is the default route by eth0.
    s.namespaces[HOST]
        .routes
        .retain(|r| r.destination != "198.18.0.0");
    let (a, _) = run(&between("web", "internet"), std::slice::from_ref(&s));
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Blocked(w) if w.contains("strict reverse-path")),
        "{h:#?}"
    );
    assert!(texts(h).contains(&"net.ipv4.conf.docker0.rp_filter = 1"));
    // Loose mode takes any route back.
    switches(
        &mut s,
        HOST,
        &[("net.ipv4.conf.docker0.rp_filter", "2")],
        &[],
    );
    let (a, _) = run(&between("web", "internet"), &[s]);
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
}

#[test]
fn loopback_port_says_whether_anything_listens() {
    let mut s = docker_host(HOST_RULES);
    web_on_loopback(&mut s);
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    assert_eq!(a.paths[0].outcome, Outcome::Unknown, "sockets not read");
    s.namespaces[HOST].listeners = Some(vec![]);
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Broken(w) if w.contains("nothing listens on 127.0.0.1:8080")),
        "{h:#?}"
    );
    assert!(
        a.notes.iter().any(|n| n.contains("nothing listens there")),
        "{:?}",
        a.notes
    );
    // With docker-proxy listening: golden::loopback_port_is_relayed_by_the_userland_proxy.
    s.namespaces[HOST].listeners = Some(vec![docker_proxy_on_8080()]);
    let (a, g) = run(&port_q(8080, None), std::slice::from_ref(&s));
    assert_joined(&a.paths[0], &g);
}

/// docker-proxy's listening socket for web's 127.0.0.1:8080.
fn docker_proxy_on_8080() -> Listener {
    Listener {
        protocol: "tcp".into(),
        family: 4,
        address: "127.0.0.1".into(),
        port: 8080,
        process: Some("docker-proxy".into()),
    }
}

#[test]
fn loopback_dnat_without_the_proxy_needs_route_localnet() {
    // Docker without the userland proxy: OUTPUT jumps to DOCKER for loopback too.
    let rules = HOST_RULES.replace(
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER",
    );
    let mut s = docker_host(&rules);
    web_on_loopback(&mut s);
    switches(
        &mut s,
        HOST,
        &[
            ("net.ipv4.conf.all.route_localnet", "0"),
            ("net.ipv4.conf.docker0.route_localnet", "0"),
        ],
        &[],
    );
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Blocked(w) if w.contains("route_localnet")),
        "{h:#?}"
    );
    assert!(texts(h).contains(&"net.ipv4.conf.docker0.route_localnet = 0"));
    switches(
        &mut s,
        HOST,
        &[("net.ipv4.conf.docker0.route_localnet", "1")],
        &[],
    );
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert_eq!(a.paths[0].outcome, Outcome::Delivered, "{:#?}", a.paths[0]);
}

#[test]
fn a_network_overlapping_a_host_route_is_a_finding() {
    let mut s = docker_host(HOST_RULES);
    let g = build(std::slice::from_ref(&s));
    assert!(
        !g.findings.iter().any(|f| f.code == "subnet-collision"),
        "{:#?}",
        g.findings
    );
    // A VPN route over netb's subnet.
    let eth0 = s.namespaces[HOST]
        .links
        .iter()
        .find(|l| l.name == "eth0")
        .unwrap()
        .ifindex;
    s.namespaces[HOST].routes.push(Route {
        family: 4,
        table: 254,
        destination: "198.18.2.128".into(),
        prefix_len: 25,
        oif: Some(eth0),
        route_type: "unicast".into(),
        ..Route::default()
    });
    let g = build(&[s]);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "subnet-collision")
        .unwrap();
    assert!(
        f.message.contains("netb") && f.message.contains("route 198.18.2.128/25 dev eth0"),
        "{}",
        f.message
    );
    assert!(f.elements.contains(&"if:h1/host/eth0".to_string()));
}

/// Docker 29's `ip docker-bridges` for a port published by a container on `bridge1`
/// (tests/fixtures/nftablesdoc/usernet-portmap.json, recorded from moby's generated layout),
/// moved onto this fixture's docker0 and web (198.18.0.2).
fn docker29_native() -> serde_json::Value {
    let text = include_str!("../../tests/fixtures/nftablesdoc/usernet-portmap.json")
        .replace("docker0", "docker9")
        .replace("bridge1", "docker0")
        .replace("198.18.220.", "198.18.0.");
    serde_json::from_str(&text).unwrap()
}

/// Docker 29 with --firewall-backend=nftables: no iptables rules at all.
const NO_IPTABLES: &str = include_str!("../../tests/fixtures/pathdoc/docker29_empty.iptables-save");

#[test]
fn docker29_native_rules_are_traced() {
    let mut s = docker_host(NO_IPTABLES);
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    assert_eq!(
        a.paths[0].outcome,
        Outcome::Broken,
        "without native tables: no DNAT"
    );
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(docker29_native());
    // The native DNAT, forward chains and MASQUERADE: golden::native_nftables_port_is_delivered,
    // golden::native_nftables_egress_masquerades.
    let (a, g) = run(&port_q(8080, None), std::slice::from_ref(&s));
    assert_joined(&a.paths[0], &g);
}

#[test]
fn native_rules_not_interpreted_make_hops_unknown_never_broken() {
    let mut s = docker_host(NO_IPTABLES);
    let mut rs = docker29_native();
    // First in its chain, before the jump that leads to the DNAT.
    rs["nftables"].as_array_mut().unwrap().insert(1, serde_json::json!({"rule": {
        "family": "ip", "table": "docker-bridges", "chain": "nat-PREROUTING",
        "expr": [{"match": {"op": "==", "left": {"socket": {"key": "transparent"}}, "right": 1}}, {"drop": null}]}}),
    );
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(rs);
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Unknown(w) if w.contains("native nftables rules not interpreted")),
        "{h:#?}"
    );
    // A drop by the iptables rules that were read stands: a drop anywhere ends the packet.
    let mut s = docker_host(HOST_RULES);
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(docker29_native());
    let (a, _) = run(&between("a1", "b1"), &[s]);
    assert_eq!(a.paths[0].outcome, Outcome::Blocked);
}

#[test]
fn mixed_hosts_are_traced_through_iptables_and_native_tables() {
    // Docker's iptables(-nft) rules plus a firewalld-like native inet table on the forward hook.
    let fw = |verdict: &str| {
        serde_json::json!({"nftables": [
            {"table": {"family": "inet", "name": "firewalld", "handle": 9}},
            {"chain": {"family": "inet", "table": "firewalld", "name": "filter_FORWARD", "handle": 1,
                       "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}},
            {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FORWARD", "handle": 2,
                      "comment": "zone policy", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                           "right": {"prefix": {"addr": "198.18.0.0", "len": 24}}}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}},
                {verdict: null}]}}
        ]})
    };
    let mut s = docker_host(HOST_RULES);
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(fw("drop"));
    let (a, _) = run(&port_q(8080, None), std::slice::from_ref(&s));
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Blocked, "{p:#?}");
    let h = last(p);
    assert!(texts(h).contains(&"-t filter -A DOCKER -d 198.18.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"), "iptables accepted it first: {h:#?}");
    assert!(texts(h).contains(&"inet firewalld filter_FORWARD: ip daddr 198.18.0.0/24 tcp dport 80 drop comment \"zone policy\""), "{h:#?}");
    s.namespaces[HOST].firewall.as_mut().unwrap().nftables = Some(fw("accept"));
    let (a, _) = run(&port_q(8080, None), &[s]);
    assert_eq!(a.paths[0].outcome, Outcome::Delivered);
}

/// A Docker 28 host with moby's generated iptables layout `name` (tests/fixtures/iptablesdoc/):
/// uplink up0 198.18.221.5/24, web 198.18.220.2 on bridge1 (gateway mode `mode`) publishing 8080→80.
fn docker28_host(name: &str, mode: Option<&str>) -> NodeSnapshot {
    let rules = match name {
        "usernet-portmap" => {
            include_str!("../../tests/fixtures/iptablesdoc/usernet-portmap.iptables-save")
        }
        "usernet-portmap-routed" => {
            include_str!("../../tests/fixtures/iptablesdoc/usernet-portmap-routed.iptables-save")
        }
        _ => {
            include_str!("../../tests/fixtures/iptablesdoc/usernet-portmap-natunprot.iptables-save")
        }
    };
    let mut n = Node::new("h28", "198.18.221.5/24");
    let mut opts = vec![("com.docker.network.bridge.name", "bridge1")];
    if let Some(m) = mode {
        opts.push(("com.docker.network.bridge.gateway_mode_ipv4", m));
    }
    n.network(BR_A, "bridge1", "bridge", "198.18.220.0/24", &opts);
    let b1 = n.bridge(HOST, "bridge1", Some("198.18.220.1/24"));
    n.container(
        "web",
        &[(
            "eth0",
            "198.18.220.2/24",
            HOST,
            b1,
            BR_A,
            "02:42:c6:12:dc:02",
        )],
    );
    n.rules(HOST, rules);
    let eth0 = n.snap.namespaces[HOST]
        .links
        .iter()
        .find(|l| l.name == "eth0")
        .unwrap()
        .ifindex;
    n.snap.namespaces[HOST]
        .links
        .iter_mut()
        .find(|l| l.ifindex == eth0)
        .unwrap()
        .name = "up0".into();
    n.done()
}

#[test]
fn direct_access_is_dropped_in_raw_with_the_option_that_changes_it() {
    let s = docker28_host("usernet-portmap", None);
    // The raw drop and the options named: golden::direct_access_is_dropped_in_raw.
    let (a, g) = run(&between("198.18.221.9", "web:80"), std::slice::from_ref(&s));
    let p = &a.paths[0];
    assert_eq!(p.kind, "direct");
    assert_joined(p, &g);
    // From a host interface, the same.
    let (a, _) = run(&between("up0", "web"), std::slice::from_ref(&s));
    assert_eq!(a.paths[0].outcome, Outcome::Blocked);
}

#[test]
fn direct_access_in_nat_unprotected_and_routed_modes() {
    // nat-unprotected (no raw drop, DOCKER accepts everything to bridge1):
    // golden::direct_access_in_nat_unprotected_mode_is_delivered.
    // routed: the published port is open, another port is dropped by DOCKER, naming the option.
    let s = docker28_host("usernet-portmap-routed", Some("routed"));
    let (a, _) = run(&between("198.18.221.9", "web:80"), std::slice::from_ref(&s));
    assert_eq!(a.paths[0].outcome, Outcome::Delivered, "{:#?}", a.paths[0]);
    let (a, g) = run(&between("198.18.221.9", "web:81"), std::slice::from_ref(&s));
    let net = g
        .elements
        .iter()
        .find(|e| e.kind == crate::graph::ElementKind::Network && e.label == "bridge1")
        .unwrap();
    assert_eq!(
        net.attrs["gateway_mode_ipv4"], "routed",
        "shown on the network's panel"
    );
    let h = last(&a.paths[0]);
    assert!(
        matches!(&h.verdict, Verdict::Blocked(w) if w.contains("-A DOCKER ! -i bridge1 -o bridge1 -j DROP") && w.contains("gateway mode routed")),
        "{h:#?}"
    );
}

#[test]
fn a_trail_ends_at_the_hop_that_says_why_and_is_finished_as_last_named() {
    use super::trail::{Ended, Trail};
    let g = build(&[]);
    let ctx = super::lookup::Ctx::new(&[], &g);
    let mut t = Trail::new(&ctx);
    t.name("first", "first title");
    t.pass("h1", None, "goes on", vec![]);
    assert_eq!(t.go_on(), Ok(()));
    t.name("egress:h1/web->internet", "web → the internet from h1");
    assert_eq!(
        t.broken::<u8>("h1", None, "h1 has no default route".into(), vec![]),
        Err(Ended)
    );
    assert_eq!(t.go_on(), Err(Ended), "a broken hop stops the packet");
    let p = t.finish("egress");
    assert_eq!(
        (p.id.as_str(), p.title.as_str(), p.kind.as_str(), p.outcome),
        (
            "egress:h1/web->internet",
            "web → the internet from h1",
            "egress",
            Outcome::Broken
        )
    );
    let h = last(&p);
    assert_eq!(h.text, "h1 has no default route");
    assert_eq!(h.verdict, Verdict::Broken("h1 has no default route".into()));
    let mut t = Trail::new(&ctx);
    let _ = t.unknown::<()>("h1", None, "not read".into(), vec![]);
    assert_eq!(t.finish("bridge-port").outcome, Outcome::Unknown);
}
