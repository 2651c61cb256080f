//! collect::link against a real kernel: namespaces, veths (same names on both ends, nsids
//! that are not 0), an STP bridge with ports, a VXLAN device with static FDB
//! entries, addresses, routes, a neighbour; and a namespace deleted just before collection.

use crate::support;

use dockmap::collect::link::{collect_all, KernelFacts};
use dockmap::collect::netns::NsHandle;
use dockmap::collect::CollectError;
use dockmap::snapshot::{Link, NsIdentity};
use support::netlab::{require_root, Lab};

fn link<'a>(f: &'a KernelFacts, name: &str) -> &'a Link {
    f.links
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no link {name} in {:?}", names(f)))
}

fn names(f: &KernelFacts) -> Vec<&str> {
    f.links.iter().map(|l| l.name.as_str()).collect()
}

fn resolve(f: &KernelFacts, nsid: i32) -> Option<NsIdentity> {
    f.nsids.iter().find(|m| m.nsid == nsid).map(|m| m.target)
}

/// The namespace and link at the far end of `l` according to the collected facts only.
fn peer_of<'a>(
    all: &'a [(NsIdentity, &'a KernelFacts)],
    from: &KernelFacts,
    l: &Link,
) -> (NsIdentity, &'a Link) {
    let nsid = l.link_netnsid.expect("veth without IFLA_LINK_NETNSID");
    let target = resolve(from, nsid)
        .unwrap_or_else(|| panic!("nsid {nsid} of {} unresolved: {:?}", l.name, from.nsids));
    let (_, facts) = all
        .iter()
        .find(|(id, _)| *id == target)
        .expect("nsid resolved to a namespace not collected");
    let peer_index = l.link.expect("veth without IFLA_LINK");
    let peer = facts
        .links
        .iter()
        .find(|p| p.ifindex == peer_index)
        .expect("peer ifindex not in target namespace");
    (target, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_link_reports_veths_bridge_vxlan_fdb_and_nsids() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let a = lab.netns("a");
    let b = lab.netns("b");
    let c = lab.netns("c");
    let d = lab.netns("d");
    let e = lab.netns("e");
    let f = lab.netns("f");

    // Ids chosen by hand in a, so they are not the kernel's 0, 1, 2...
    lab.set_nsid(&a, &e, 1);
    lab.set_nsid(&a, &f, 2);
    lab.set_nsid(&a, &c, 7);
    lab.set_nsid(&c, &a, 3);

    // Same name on both ends, in different namespaces.
    lab.ip(
        None,
        &[
            "link",
            "add",
            "eth0",
            "netns",
            &a,
            "address",
            "02:dd:00:00:00:01",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &b,
            "address",
            "02:dd:00:00:00:02",
        ],
    );
    lab.ip(Some(&a), &["link", "set", "eth0", "up"]);
    lab.ip(Some(&b), &["link", "set", "eth0", "up"]);
    // The peer sits where a calls it 7.
    lab.veth(Some(&a), "toc", Some(&c), "toa");
    lab.ip(Some(&a), &["link", "set", "toc", "mtu", "1400"]);
    lab.veth(Some(&a), "tof", Some(&f), "toa");
    // One end in the host namespace.
    let host_end = lab.host_link_name("h");
    lab.veth(None, &host_end, Some(&a), "hst0");

    lab.ip(Some(&a), &["addr", "add", "198.18.0.1/30", "dev", "eth0"]);
    lab.ip(Some(&b), &["addr", "add", "198.18.0.2/30", "dev", "eth0"]);
    lab.ip(
        Some(&a),
        &[
            "route",
            "add",
            "198.19.5.0/24",
            "via",
            "198.18.0.2",
            "dev",
            "eth0",
            "metric",
            "7",
        ],
    );
    lab.ip(
        Some(&a),
        &[
            "route",
            "add",
            "198.19.6.0/24",
            "dev",
            "eth0",
            "table",
            "100",
        ],
    );
    lab.ip(
        Some(&a),
        &[
            "neigh",
            "add",
            "198.18.0.2",
            "lladdr",
            "02:00:00:00:00:02",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    );

    // d: a bridge with two veth ports and a VXLAN device, like an overlay namespace.
    lab.ip(
        Some(&d),
        &[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "1",
            "ageing_time",
            "20000",
        ],
    );
    lab.veth(Some(&d), "p1", Some(&b), "eth1");
    lab.veth(Some(&d), "p2", Some(&c), "eth1");
    lab.ip(Some(&d), &["link", "set", "p1", "master", "br0"]);
    lab.ip(Some(&d), &["link", "set", "p2", "master", "br0"]);
    // The underlay: this kernel has no dummy driver, so a veth into f.
    lab.veth(Some(&d), "ul0", Some(&f), "ul0");
    lab.ip(Some(&d), &["addr", "add", "198.18.1.4/24", "dev", "ul0"]);
    lab.ip(
        Some(&d),
        &[
            "link",
            "add",
            "vx0",
            "type",
            "vxlan",
            "id",
            "4097",
            "local",
            "198.18.1.4",
            "dstport",
            "4789",
            "dev",
            "ul0",
            "nolearning",
            "proxy",
            "l2miss",
            "ttl",
            "64",
        ],
    );
    lab.ip(Some(&d), &["link", "set", "vx0", "master", "br0"]);
    lab.ip(Some(&d), &["link", "set", "vx0", "up"]);
    lab.ip(Some(&d), &["link", "set", "br0", "up"]);
    lab.bridge(
        Some(&d),
        &[
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vx0",
            "dst",
            "198.19.0.2",
        ],
    );
    lab.bridge(
        Some(&d),
        &[
            "fdb",
            "add",
            "02:42:c6:12:00:05",
            "dev",
            "vx0",
            "dst",
            "198.19.0.3",
            "self",
            "permanent",
        ],
    );

    // IPv6 on a's eth0, in the benchmarking prefix 2001:2::/48 (no DAD: nothing is sent for it).
    let v6 = std::path::Path::new("/proc/sys/net/ipv6").exists();
    if v6 {
        lab.ip(
            Some(&a),
            &["-6", "addr", "add", "2001:2::1/64", "dev", "eth0", "nodad"],
        );
        lab.ip(
            Some(&a),
            &[
                "-6",
                "route",
                "add",
                "2001:2:5::/64",
                "via",
                "2001:2::2",
                "dev",
                "eth0",
            ],
        );
        lab.ip(
            Some(&a),
            &[
                "-6",
                "neigh",
                "add",
                "2001:2::2",
                "lladdr",
                "02:00:00:00:00:03",
                "dev",
                "eth0",
                "nud",
                "permanent",
            ],
        );
    }
    // Three echo requests from a to b's address on their veth: counters must count them. The
    // neighbour entry above names a MAC b does not have, so b answers none; the sends are enough.
    let _ = std::process::Command::new("ip")
        .args([
            "netns", "exec", &a, "busybox", "ping", "-c", "3", "-i", "0.2", "-W", "1",
        ])
        .arg("198.18.0.2")
        .output();

    let handles: Vec<NsHandle> = std::iter::once(NsHandle::host().unwrap())
        .chain([&a, &b, &c, &d, &e, &f].iter().map(|n| lab.handle(n)))
        .collect();
    let results = collect_all(&handles).await;
    assert_eq!(results.len(), handles.len());
    let facts: Vec<&KernelFacts> = results
        .iter()
        .zip(&handles)
        .map(|(r, h)| {
            r.as_ref()
                .unwrap_or_else(|e| panic!("{} failed: {e}", h.name))
        })
        .collect();
    let all: Vec<(NsIdentity, &KernelFacts)> = handles
        .iter()
        .map(|h| h.id)
        .zip(facts.iter().copied())
        .collect();
    let (fh, fa, fb, fc, fd) = (facts[0], facts[1], facts[2], facts[3], facts[4]);
    let id = |i: usize| handles[i].id;

    // Links: kinds, MACs, MTU, state.
    let a_eth0 = link(fa, "eth0");
    assert_eq!(a_eth0.kind, dockmap::snapshot::LinkKind::Veth);
    assert_eq!(a_eth0.mac, "02:dd:00:00:00:01");
    assert_eq!(a_eth0.mtu, 1500);
    assert!(a_eth0.admin_up);
    let sent = a_eth0.stats.as_ref().expect("counters").tx_packets;
    assert!(
        sent >= 3,
        "a's eth0 sent {sent} packets, the test sent 3 pings"
    );
    let got = link(fb, "eth0")
        .stats
        .as_ref()
        .expect("counters")
        .rx_packets;
    assert!(
        got >= 3,
        "b's eth0 received {got} packets, its peer sent 3 pings"
    );
    assert_eq!(link(fa, "toc").mtu, 1400);
    assert_eq!(link(fa, "lo").link_type, 772);
    assert_eq!(link(fb, "eth0").mac, "02:dd:00:00:00:02");

    // The same-name pair: a's eth0 leads to b's eth0 and back, by kernel-confirmed nsids.
    let (ns, peer) = peer_of(&all, fa, a_eth0);
    assert_eq!(ns, id(2));
    assert_eq!(peer.name, "eth0");
    assert_eq!(peer.mac, "02:dd:00:00:00:02");
    let (ns, back) = peer_of(&all, fb, peer);
    assert_eq!(ns, id(1));
    assert_eq!(back.ifindex, a_eth0.ifindex);

    // Every veth of every lab namespace: its far end, found through the nsid map only,
    // is a veth whose own IFLA_LINK is this one's ifindex and whose nsid leads back here.
    let mut veths = 0;
    for (i, f) in facts.iter().enumerate().skip(1) {
        for l in f
            .links
            .iter()
            .filter(|l| l.kind == dockmap::snapshot::LinkKind::Veth)
        {
            let (ns, peer) = peer_of(&all, f, l);
            assert_eq!(peer.kind, dockmap::snapshot::LinkKind::Veth, "{}", l.name);
            assert_eq!(peer.link, Some(l.ifindex), "{}", l.name);
            let (_, peer_facts) = all.iter().find(|(id, _)| *id == ns).unwrap();
            let (back, _) = peer_of(&all, peer_facts, peer);
            assert_eq!(back, id(i), "{} does not lead back", l.name);
            veths += 1;
        }
    }
    assert_eq!(veths, 13, "veth ends in the lab namespaces");

    // The pair whose peer a calls 7.
    let toc = link(fa, "toc");
    assert_eq!(toc.link_netnsid, Some(7));
    assert_eq!(resolve(fa, 7), Some(id(3)));
    let (_, toa) = peer_of(&all, fa, toc);
    assert_eq!(toa.name, "toa");
    assert_eq!(link(fc, "toa").link_netnsid, Some(3));
    assert_eq!(resolve(fc, 3), Some(id(1)));
    // And the one a calls 2.
    let tof = link(fa, "tof");
    assert_eq!(tof.link_netnsid, Some(2));
    let (ns, _) = peer_of(&all, fa, tof);
    assert_eq!(ns, id(6));

    // The host end: a's hst0 leads to the host namespace, and the host's end back to a.
    let (ns, host_peer) = peer_of(&all, fa, link(fa, "hst0"));
    assert_eq!(ns, id(0));
    assert_eq!(host_peer.name, host_end);
    let (ns, _) = peer_of(&all, fh, link(fh, &host_end));
    assert_eq!(ns, id(1));

    // The bridge and its ports.
    let br0 = link(fd, "br0");
    assert_eq!(br0.kind, dockmap::snapshot::LinkKind::Bridge);
    let bi = br0.bridge.as_ref().expect("bridge info");
    // This kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): it stays off.
    assert!(!bi.vlan_filtering);
    assert_eq!(bi.ageing_time, 20000);
    assert_eq!(bi.stp_state, 1);
    for port in ["p1", "p2", "vx0"] {
        assert_eq!(link(fd, port).master, Some(br0.ifindex), "{port}");
    }
    assert_eq!(link(fd, "ul0").master, None);
    let (ns, eth1) = peer_of(&all, fd, link(fd, "p2"));
    assert_eq!((ns, eth1.name.as_str()), (id(3), "eth1"));

    // The VXLAN device.
    let vx0 = link(fd, "vx0");
    assert_eq!(vx0.kind, dockmap::snapshot::LinkKind::Vxlan);
    let vx = vx0.vxlan.as_ref().expect("vxlan info");
    assert_eq!(vx.vni, 4097);
    assert_eq!(vx.port, 4789);
    assert_eq!(vx.local.as_deref(), Some("198.18.1.4"));
    assert_eq!(vx.group, None);
    assert_eq!(vx.underlay_ifindex, Some(link(fd, "ul0").ifindex));
    assert!(!vx.learning);
    assert!(vx.proxy);
    assert!(vx.l2miss);
    assert!(!vx.l3miss);
    assert_eq!(vx.ttl, 64);

    // FDB: the VXLAN entries with their remote, and a bridge port's own entry.
    let on_vx: Vec<_> = fd.fdb.iter().filter(|e| e.ifindex == vx0.ifindex).collect();
    let flood = on_vx
        .iter()
        .find(|e| e.mac == "00:00:00:00:00:00")
        .unwrap_or_else(|| panic!("no all-zero entry in {on_vx:?}"));
    assert_eq!(flood.dst.as_deref(), Some("198.19.0.2"));
    assert!(flood.flags.iter().any(|f| f == "self"), "{flood:?}");
    assert!(flood.state.iter().any(|s| s == "permanent"), "{flood:?}");
    let remote = on_vx
        .iter()
        .find(|e| e.mac == "02:42:c6:12:00:05")
        .unwrap_or_else(|| panic!("no remote MAC entry in {on_vx:?}"));
    assert_eq!(remote.dst.as_deref(), Some("198.19.0.3"));
    let p1 = link(fd, "p1");
    assert!(
        fd.fdb
            .iter()
            .any(|e| e.ifindex == p1.ifindex && e.mac == p1.mac && e.master == Some(br0.ifindex)),
        "no bridge entry for p1's own MAC: {:?}",
        fd.fdb
    );

    // Addresses, v4 and the kernel's own v6 ones.
    let a4 = fa
        .addresses
        .iter()
        .find(|x| x.address == "198.18.0.1")
        .expect("198.18.0.1 on a");
    assert_eq!(
        (a4.ifindex, a4.family, a4.prefix_len),
        (a_eth0.ifindex, 4, 30)
    );
    assert_eq!(a4.scope, "universe");
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        assert!(
            fa.addresses
                .iter()
                .any(|x| x.family == 6 && x.address == "::1"),
            "{:?}",
            fa.addresses
        );
    }

    // Routes: main table with gateway and metric, another table, the local table.
    let r = fa
        .routes
        .iter()
        .find(|r| r.destination == "198.19.5.0")
        .expect("route to 198.19.5.0/24");
    assert_eq!(r.prefix_len, 24);
    assert_eq!(r.gateway.as_deref(), Some("198.18.0.2"));
    assert_eq!(r.oif, Some(a_eth0.ifindex));
    assert_eq!(r.metric, Some(7));
    assert_eq!(r.table, 254);
    assert_eq!(r.route_type, "unicast");
    assert_eq!(r.protocol, "boot");
    let t100 = fa
        .routes
        .iter()
        .find(|r| r.destination == "198.19.6.0")
        .expect("route in table 100");
    assert_eq!(t100.table, 100);
    assert_eq!(t100.scope, "link");
    assert!(fa
        .routes
        .iter()
        .any(|r| r.table == 255 && r.route_type == "local" && r.destination == "198.18.0.1"));

    if v6 {
        assert!(
            fa.addresses
                .iter()
                .any(|x| x.family == 6 && x.address == "2001:2::1" && x.prefix_len == 64),
            "{:?}",
            fa.addresses
        );
        let r6 = fa
            .routes
            .iter()
            .find(|r| r.destination == "2001:2:5::")
            .unwrap_or_else(|| panic!("no IPv6 route: {:?}", fa.routes));
        assert_eq!(
            (r6.prefix_len, r6.gateway.as_deref(), r6.table),
            (64, Some("2001:2::2"), 254)
        );
        let n6 = fa
            .neighbours
            .iter()
            .find(|n| n.address == "2001:2::2")
            .unwrap_or_else(|| panic!("no IPv6 neighbour: {:?}", fa.neighbours));
        assert_eq!(n6.mac.as_deref(), Some("02:00:00:00:00:03"));
    }

    // The permanent neighbour.
    let n = fa
        .neighbours
        .iter()
        .find(|n| n.address == "198.18.0.2")
        .expect("neighbour 198.18.0.2");
    assert_eq!(n.mac.as_deref(), Some("02:00:00:00:00:02"));
    assert_eq!(n.state, vec!["permanent".to_string()]);
    assert_eq!(n.ifindex, a_eth0.ifindex);
}

#[tokio::test]
async fn kernel_link_never_guesses_an_nsid_it_cannot_confirm() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let a = lab.netns("a");
    let c = lab.netns("c");
    lab.set_nsid(&a, &c, 9);
    lab.veth(Some(&a), "toc", Some(&c), "toa");

    // c is not among the handles: a's nsid 9 must stay unresolved, without being called a read failure.
    let handles = vec![lab.handle(&a)];
    let results = collect_all(&handles).await;
    let fa = results[0].as_ref().unwrap();
    assert_eq!(link(fa, "toc").link_netnsid, Some(9));
    assert!(fa.nsids.iter().all(|m| m.nsid != 9), "{:?}", fa.nsids);
    assert!(fa.problems.is_empty(), "{:?}", fa.problems);
}

#[tokio::test]
async fn kernel_link_vanished_or_bad_namespace_fails_alone() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new();
    let x = lab.netns("x");
    let y = lab.netns("y");
    let z = lab.netns("z");
    lab.veth(Some(&x), "v0", Some(&z), "v0");
    let mut handles = vec![lab.handle(&x), lab.handle(&y), lab.handle(&z)];
    // A namespace file that is not a network namespace: entering it as one fails.
    handles.push(NsHandle::open(std::path::Path::new("/proc/self/ns/uts"), "uts").unwrap());
    lab.delete_netns(&y);

    let results = collect_all(&handles).await;
    assert_eq!(results.len(), 4);
    let fx = results[0].as_ref().expect("x must still be read");
    match &results[1] {
        Err(CollectError::Vanished(name)) => assert_eq!(name, &y),
        other => panic!("deleted namespace gave {other:?}"),
    }
    let fz = results[2].as_ref().expect("z must still be read");
    assert!(results[3].is_err(), "a UTS namespace read as a network one");
    // The survivors are complete, their veth joined across them.
    assert_eq!(
        fx.nsids
            .iter()
            .find(|m| Some(m.nsid) == link(fx, "v0").link_netnsid)
            .map(|m| m.target),
        Some(handles[2].id)
    );
    assert_eq!(link(fz, "v0").link, Some(link(fx, "v0").ifindex));
}
