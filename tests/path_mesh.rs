//! The routing-mesh path on rules built by hand in test namespaces, the way Docker would program
//! them (this kernel has no IPVS, so Docker programs none of the mesh itself).
//!
//! A stand-in host namespace holds docker_gwbridge and the DOCKER-INGRESS DNAT; a namespace filed
//! as `ingress_sbox` holds eth1 on that bridge, eth0 on the ingress overlay's br0, and the mangle
//! MARK; a task namespace holds the REDIRECT. The real collector reads them (run inside the
//! stand-in, so that it is the host), the engine and IPVS facts are added, and the path is checked
//! hop by hop; then the MARK rule is removed and the path must stop there.

use crate::support;

use std::path::Path;

use dockmap::graph::build;
use dockmap::path::{trace, Outcome, PathAnswer, Question, Verdict};
use dockmap::snapshot::*;
use support::netlab::{self, restore};
use support::standin::{ContainerNs, StandIn};

const NODE: &str = "meshnode";
const INGRESS_ID: &str = "ingr3kuba8yq3c27p2vwo7hcm";
const MARK_RULE: &str =
    "-A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x102/0xffffffff";

/// What the engine and IPVS would add: the ingress network, the service, its task; FWM 258.
fn add_facts(s: &mut NodeSnapshot, task_file: &Path, task_mac: &str) {
    s.engine = Some(EngineFacts {
        name: NODE.into(),
        swarm: SwarmFacts {
            local_state: "active".into(),
            node_id: "meshnodeid".into(),
            node_addr: "198.18.200.5".into(),
            is_manager: true,
            cluster_id: "c".into(),
        },
        networks: vec![
            Network {
                id: INGRESS_ID.into(),
                name: "ingress".into(),
                driver: "overlay".into(),
                scope: "swarm".into(),
                ingress: true,
                ipam: vec![IpamConfig {
                    subnet: "198.18.202.0/24".into(),
                    gateway: "198.18.202.1".into(),
                    ..Default::default()
                }],
                options: [(
                    "com.docker.network.driver.overlay.vxlanid_list".to_owned(),
                    "4096".to_owned(),
                )]
                .into(),
                ..Default::default()
            },
            Network {
                id: "gwbr0000000000000000".into(),
                name: "docker_gwbridge".into(),
                driver: "bridge".into(),
                scope: "local".into(),
                ipam: vec![IpamConfig {
                    subnet: "198.18.201.0/24".into(),
                    ..Default::default()
                }],
                options: [(
                    "com.docker.network.bridge.name".to_owned(),
                    "docker_gwbridge".to_owned(),
                )]
                .into(),
                ..Default::default()
            },
        ],
        services: vec![Service {
            id: "svcweb".into(),
            name: "web".into(),
            mode: "replicated".into(),
            endpoint_mode: "vip".into(),
            ports: vec![ServicePort {
                protocol: "tcp".into(),
                target_port: 80,
                published_port: 8080,
                publish_mode: "ingress".into(),
            }],
            ..Default::default()
        }],
        containers: vec![Container {
            id: "c0ffee".repeat(10) + "0000",
            name: "web.1.meshtask".into(),
            state: "running".into(),
            sandbox_key: task_file.display().to_string(),
            endpoints: vec![ContainerEndpoint {
                network_name: "ingress".into(),
                network_id: INGRESS_ID.into(),
                endpoint_id: "ep1".into(),
                ipv4: "198.18.202.6".into(),
                ipv4_prefix_len: 24,
                mac: task_mac.into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let sbox = s
        .namespaces
        .iter_mut()
        .find(|n| n.role == NamespaceRole::IngressSandbox)
        .expect("ingress_sbox collected");
    sbox.ipvs = IpvsState::Services {
        services: vec![IpvsService {
            family: 4,
            fwmark: Some(258),
            scheduler: "rr".into(),
            destinations: vec![IpvsDestination {
                address: "198.18.202.6".into(),
                port: 0,
                forward: "masq".into(),
                weight: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
}

fn mesh_path(s: &NodeSnapshot) -> PathAnswer {
    let g = build(std::slice::from_ref(s));
    trace(
        &Question::Port {
            port: 8080,
            protocol: "tcp".into(),
            node: None,
        },
        std::slice::from_ref(s),
        &g,
    )
}

#[test]
fn routing_mesh_path_over_rules_built_like_dockers() {
    if !netlab::require_root() {
        return;
    }
    // The stand-in host: an uplink with a default route, docker_gwbridge with ingress_sbox's eth1
    // on it. The uplink leads to a namespace standing for the outside network (this kernel has no
    // dummy).
    let mut si = StandIn::builder("mhost", "198.18.200.5/24", "198.18.201.1/24")
        .outside("wan", None)
        .gateway("198.18.200.1")
        .bridge("docker_gwbridge")
        .container(
            ContainerNs::new("sbox", "vsbox", "198.18.201.2/24")
                .filed_as("ingress_sbox")
                .dev("eth1")
                .unrouted(),
        )
        .build();
    let host = si.host.clone();
    let sbox = si.containers[0].clone();
    let ing = si.lab.netns("ing");
    let task = si.lab.netns("task");
    si.dir.add("1-ingr3kuba8y", &ing);
    let task_file = si.dir.add("meshtask0001", &task);
    let lab = &mut si.lab;
    // The DNAT.
    restore(
        &host,
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER-INGRESS - [0:0]\n\
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS\n\
-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER-INGRESS\n\
-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.201.2:8080\n\
-A DOCKER-INGRESS -j RETURN\nCOMMIT\n\
*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-INGRESS - [0:0]\n\
-A FORWARD -j DOCKER-INGRESS\n\
-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT\n\
-A DOCKER-INGRESS -p tcp -m state --state RELATED,ESTABLISHED -m tcp --sport 8080 -j ACCEPT\n\
-A DOCKER-INGRESS -j RETURN\nCOMMIT\n",
    );

    // The ingress overlay's namespace: br0 joining ingress_sbox's eth0 and the task's eth0.
    lab.add_bridge(&ing, "br0", "198.18.202.1/24");
    lab.add_bridge_port(&ing, "br0", "veth0", &sbox, "eth0", "198.18.202.4/24");
    lab.add_bridge_port(&ing, "br0", "veth1", &task, "eth0", "198.18.202.6/24");
    restore(
        &sbox,
        &format!("*mangle\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{MARK_RULE}\nCOMMIT\n"),
    );
    restore(
        &task,
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\nCOMMIT\n",
    );
    let task_mac = netlab::exec(&task, &["cat", "/sys/class/net/eth0/address"])
        .trim()
        .to_owned();

    let mut s = si.collect(NODE);
    add_facts(&mut s, &task_file, &task_mac);
    let a = mesh_path(&s);
    assert_eq!(a.paths.len(), 1, "{a:#?}");
    let p = &a.paths[0];
    assert_eq!(
        (p.kind.as_str(), p.outcome),
        ("mesh", Outcome::Delivered),
        "{p:#?}"
    );
    let hop = |prefix: &str| {
        p.hops
            .iter()
            .find(|h| h.text.starts_with(prefix))
            .unwrap_or_else(|| panic!("no hop {prefix:?}: {p:#?}"))
    };
    let els: Vec<&str> = p
        .hops
        .iter()
        .map(|h| h.element.as_deref().unwrap_or("-"))
        .collect();
    let key = dockmap::graph::ids::host_key(&s);
    let n = |rest: &str| format!("if:{key}/{rest}");
    let want: Vec<String> = vec![
        n("host/up0"),
        format!("netns:{key}/host"),
        format!("netns:{key}/host"),
        n("host/docker_gwbridge"),
        n("host/docker_gwbridge"),
        n("host/vsbox"),
        n("ingress_sbox/eth1"),
        format!("netns:{key}/ingress_sbox"),
        format!("netns:{key}/ingress_sbox"),
        n("ingress_sbox/eth0"),
        n("1-ingr3kuba8y/veth0"),
        n("1-ingr3kuba8y/br0"),
        n("1-ingr3kuba8y/veth1"),
        n("meshtask0001/eth0"),
        format!("ctr:{key}/web.1.meshtask"),
        format!("ctr:{key}/web.1.meshtask"),
    ];
    assert_eq!(els, want, "{p:#?}");

    // Each rule quoted is a line the kernel's own iptables-save prints in that namespace.
    let host_nat = netlab::exec(&host, &["iptables-save", "-t", "nat"]);
    let dnat = hop("DNAT to 198.18.201.2:8080");
    let line = dnat.evidence[0].text.strip_prefix("-t nat ").unwrap();
    assert!(host_nat.lines().any(|l| l == line), "{line}");
    assert_eq!(
        hop("nat PREROUTING jumps").evidence[0].text,
        "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS"
    );
    assert!(hop("filter FORWARD accepts")
        .evidence
        .iter()
        .any(|e| e.text == "-t filter -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT"));
    assert_eq!(
        hop("routed to 198.18.201.2").evidence[0].text,
        "198.18.201.0/24 dev docker_gwbridge proto kernel scope link src 198.18.201.1"
    );
    let sbox_mangle = netlab::exec(&sbox, &["iptables-save", "-t", "mangle"]);
    let mark = hop("mangle PREROUTING marks it 0x102 (fwmark 258)");
    assert_eq!(mark.evidence[0].text, format!("-t mangle {MARK_RULE}"));
    assert!(sbox_mangle.lines().any(|l| l == MARK_RULE));
    let ipvs = hop("IPVS fwmark 258");
    assert_eq!(ipvs.evidence[0].text, "FWM  258 rr");
    assert!(ipvs.evidence[1].text.starts_with("  -> 198.18.202.6:0"));
    assert_eq!(
        p.hops[6].edge.as_deref(),
        Some(format!("veth-pair:if:{key}/host/vsbox->if:{key}/ingress_sbox/eth1").as_str())
    );
    assert_eq!(
        hop("nat PREROUTING in web.1.meshtask redirects").evidence[0].text,
        "-t nat -A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80"
    );

    // Without the MARK, IPVS cannot tell the service: the path stops at the MARK hop.
    netlab::exec(
        &sbox,
        &[
            "iptables",
            "-t",
            "mangle",
            "-D",
            "PREROUTING",
            "-p",
            "tcp",
            "-m",
            "tcp",
            "--dport",
            "8080",
            "-j",
            "MARK",
            "--set-xmark",
            "0x102/0xffffffff",
        ],
    );
    let mut s = si.collect(NODE);
    add_facts(&mut s, &task_file, &task_mac);
    let a = mesh_path(&s);
    let key = dockmap::graph::ids::host_key(&s);
    let p = &a.paths[0];
    assert_eq!(p.outcome, Outcome::Broken, "{p:#?}");
    let last = p.hops.last().unwrap();
    assert_eq!(
        last.element.as_deref(),
        Some(format!("netns:{key}/ingress_sbox").as_str())
    );
    assert!(
        matches!(&last.verdict, Verdict::Broken(w) if w.contains("no MARK rule for 8080/tcp")),
        "{last:#?}"
    );
    assert_eq!(
        p.hops.len(),
        8,
        "stops right after entering ingress_sbox: {p:#?}"
    );
    drop(si);
}
