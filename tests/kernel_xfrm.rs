//! xfrm policies made by the test in its own namespaces (this kernel accepts policies but has no
//! ESP for states), read back through the collector over NETLINK_XFRM.

use crate::support::netlab;

use std::process::Command;

use dockmap::collect::node::read_namespaces;
use dockmap::collect::xfrm;
use dockmap::snapshot::{Namespace, SourceKind, SourceState, SourceStatus, XfrmMark};
use netlab::{require_root, Lab};

/// Docker's overlay marks, reqids and policies all use this value (moby: encryption.go `mark`).
const DOCKER_MARK: &str = "0xd0c4e3";

/// The ESP security association moby's overlay writes for one peer: the policy's template names
/// it, the state provides it.
const ESP_SA: &[&str] = &[
    "src",
    "198.18.200.1",
    "dst",
    "198.18.200.2",
    "proto",
    "esp",
    "spi",
    "0x2a00beef",
    "reqid",
    "13681891",
    "mode",
    "transport",
];

/// The node collector's reading of one lab namespace: its snapshot and the source statuses.
fn read_namespace(lab: &Lab, ns: &str) -> (Vec<Namespace>, Vec<SourceStatus>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(read_namespaces(&[lab.handle(ns)]))
}

#[test]
fn policies_made_in_a_test_namespace_are_read_back() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let ns = lab.netns("x");
    // The policy moby's programSP writes for one peer: out, UDP to the VXLAN port, under its mark.
    lab.ip(
        Some(&ns),
        &[
            "xfrm",
            "policy",
            "add",
            "src",
            "198.18.200.1/32",
            "dst",
            "198.18.200.2/32",
            "proto",
            "udp",
            "dport",
            "4789",
            "dir",
            "out",
            "mark",
            DOCKER_MARK,
            "mask",
            "0xffffffff",
            "tmpl",
        ]
        .iter()
        .chain(ESP_SA)
        .copied()
        .collect::<Vec<_>>(),
    );
    lab.ip(
        Some(&ns),
        &[
            "xfrm",
            "policy",
            "add",
            "src",
            "2001:2::2/128",
            "dst",
            "2001:2::1/128",
            "dir",
            "in",
            "action",
            "block",
            "priority",
            "7",
        ],
    );

    let (read, status) = xfrm::collect(&lab.handle(&ns));
    assert_eq!(status.state, SourceState::Ok, "{}", status.message);
    let x = read.expect("xfrm read");
    assert_eq!(x.policies.len(), 2, "{x:?}");
    let out = x
        .policies
        .iter()
        .find(|p| p.dir == "out")
        .expect("the out policy");
    assert_eq!(out.src, "198.18.200.1/32");
    assert_eq!(out.dst, "198.18.200.2/32");
    assert_eq!(out.proto, 17);
    assert_eq!(out.dport, Some(4789));
    assert_eq!(out.action, "allow");
    assert_eq!(
        out.mark,
        Some(XfrmMark {
            value: 0xd0c4e3,
            mask: 0xffff_ffff
        })
    );
    assert_eq!(out.templates.len(), 1);
    let t = &out.templates[0];
    assert_eq!(
        (
            t.src.as_str(),
            t.dst.as_str(),
            t.proto.as_str(),
            t.spi,
            t.reqid,
            t.mode.as_str()
        ),
        (
            "198.18.200.1",
            "198.18.200.2",
            "esp",
            0x2a00_beef,
            0xd0c4e3,
            "transport"
        )
    );
    let block = x
        .policies
        .iter()
        .find(|p| p.dir == "in")
        .expect("the in policy");
    assert_eq!(block.action, "block");
    assert_eq!(block.priority, 7);
    assert_eq!(block.src, "2001:2::2/128");
    assert_eq!(block.dport, None);
    assert!(block.templates.is_empty() && block.mark.is_none());

    // ESP states: this kernel refuses them (CONFIG_INET_ESP off); on one that takes them, the
    // state must be read back without its key.
    let key = "0x5ec4e75ec4e75ec4e75ec4e75ec4e75ec4e7a1b2";
    let added = Command::new("ip")
        .args(["-n", &ns, "xfrm", "state", "add"])
        .args(ESP_SA)
        .args(["aead", "rfc4106(gcm(aes))", key, "64"])
        .output()
        .expect("ip runs");
    let (read, _) = xfrm::collect(&lab.handle(&ns));
    let x = read.expect("xfrm read");
    if added.status.success() {
        assert_eq!(x.states.len(), 1);
        assert_eq!(x.states[0].spi, 0x2a00_beef);
        assert_eq!(x.states[0].algorithms, vec!["aead rfc4106(gcm(aes))"]);
        let json = serde_json::to_string(&x).expect("serializes");
        assert!(
            !json.to_lowercase().contains("5ec4e7"),
            "key leaked: {json}"
        );
    } else {
        assert!(x.states.is_empty());
    }

    // The same facts arrive in the namespace's snapshot through the node collector.
    let (namespaces, sources) = read_namespace(&lab, &ns);
    let x = namespaces[0].xfrm.as_ref().expect("xfrm in the snapshot");
    assert_eq!(x.policies.len(), 2);
    let xfrm_line = sources
        .iter()
        .find(|s| s.source == SourceKind::Xfrm && s.namespace.is_none())
        .expect("a node-wide xfrm status");
    assert_eq!(xfrm_line.state, SourceState::Ok, "{}", xfrm_line.message);
}

#[test]
fn a_namespace_without_ipsec_reads_as_empty_not_missing() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let ns = lab.netns("e");
    let (read, status) = xfrm::collect(&lab.handle(&ns));
    assert_eq!(status.state, SourceState::Ok, "{}", status.message);
    let x = read.expect("read");
    assert!(x.states.is_empty() && x.policies.is_empty());
}

#[test]
fn the_rules_moby_writes_for_an_encrypted_vni_are_recognised_as_iptables_save_prints_them() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let ns = lab.netns("g");
    // moby encryption.go: filter INPUT drops VNI 4097's VXLAN without IPsec (u32 match, 20.10),
    // mangle OUTPUT marks it (bpf match, 23+); VNI 4097 << 8 = 1048832.
    let ipt = |args: &[&str]| {
        let mut full = vec!["netns", "exec", ns.as_str(), "iptables"];
        full.extend_from_slice(args);
        netlab::run("ip", &full);
    };
    ipt(&[
        "-I",
        "INPUT",
        "-m",
        "policy",
        "--dir",
        "in",
        "--pol",
        "none",
        "-p",
        "udp",
        "--dport",
        "4789",
        "-m",
        "u32",
        "--u32",
        "0>>22&0x3C@12&0xFFFFFF00=1048832",
        "-j",
        "DROP",
    ]);
    ipt(&[
        "-t",
        "mangle",
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "--dport",
        "4789",
        "-m",
        "bpf",
        "--bytecode",
        "7,48 0 0 4294963200,7 0 0 0,32 0 0 4,116 0 0 8,21 1 0 4097,6 0 0 0,6 0 0 4294967295",
        "-j",
        "MARK",
        "--set-mark",
        "13681891",
    ]);
    let (namespaces, _) = read_namespace(&lab, &ns);
    let fw = namespaces[0].firewall.as_ref().expect("rules read");
    let guard = dockmap::graph::encryption::guard_rule(fw, 4097).expect("the drop rule");
    assert!(
        guard.contains("--pol none") && guard.contains("DROP"),
        "{guard}"
    );
    assert!(dockmap::graph::encryption::mark_rule(fw, 4097).is_some());
    // Another VNI is not guarded by them.
    assert!(dockmap::graph::encryption::guard_rule(fw, 4098).is_none());
    assert!(dockmap::graph::encryption::mark_rule(fw, 4098).is_none());
}
