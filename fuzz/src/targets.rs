//! Each fuzz target's body, as a plain function: `fuzz_targets/<name>.rs` hands it the fuzzer's
//! bytes, and the integration test `fuzz_replay` (tests/fuzz_replay.rs) hands it the committed
//! seeds of `fuzz/seeds/<name>/` and their mutations, so CI runs every body without cargo-fuzz.
//! A body may panic only on a real bug: that is what both look for.

use dockmap::collect::firewall::nft_json::drop_iptables_tables;
use dockmap::collect::firewall::{parse_header, parse_iptables_save};
use dockmap::collect::ipvs::message::*;
use dockmap::collect::link::decode;
use dockmap::collect::link::nsid::nsid_answer;
use dockmap::collect::link::socket::Rtnl;
use dockmap::collect::xfrm::message::{decode_policy, decode_sa};
use dockmap::graph::Graph;
use dockmap::layout::{layout, View};
use dockmap::path::rules::{walk, Budget, Packet};
use dockmap::snapshot::Firewall;
use dockmap::snapshot::NamespaceRole;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use std::sync::OnceLock;

/// The small swarm's graph, built once (view_query draws it under every view).
fn graph() -> &'static Graph {
    static G: OnceLock<Graph> = OnceLock::new();
    G.get_or_init(|| dockmap::graph::derive(&mut super::small().to_vec()))
}

/// An agent's answer to GET /v1/snapshot, as the server reads it, then gathered like a node.
pub fn agent_answer(data: &[u8]) {
    let Ok(snap) = dockmap::cluster::decode_answer(data) else {
        return;
    };
    let mut snaps = super::small().to_vec();
    snaps.push(snap);
    let _ = dockmap::graph::derive(&mut snaps);
}

/// iptables-save text: the parser, then every built-in chain walked for a few packets (the walk
/// must end, within its budget, whatever the rules).
pub fn iptables_save(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_header(text);
    let Ok(tables) = parse_iptables_save(text) else {
        return;
    };
    // The same tables as ip6tables-save's too: an IPv6 packet walks those.
    let fw = Firewall {
        ipv6: tables.clone(),
        ipv4: tables,
        ..Default::default()
    };
    let packets = [
        Packet::default(),
        Packet {
            src: Some("198.18.0.9".parse().unwrap()),
            dst: Some("198.18.0.2".parse().unwrap()),
            proto: Some("tcp".into()),
            dport: Some(80),
            in_if: Some("eth0".into()),
            out_if: Some("br0".into()),
            local: vec!["198.18.0.1".parse().unwrap()],
            ..Default::default()
        },
        Packet {
            v6: true,
            dst: Some("2001:2::2".parse().unwrap()),
            proto: Some("tcp".into()),
            dport: Some(80),
            in_if: Some("eth0".into()),
            local: vec!["2001:2::1".parse().unwrap()],
            ..Default::default()
        },
    ];
    let budget = Budget::default();
    for t in &fw.ipv4 {
        for c in t.chains.iter().filter(|c| c.policy.is_some()) {
            for p in &packets {
                let w = walk(Some(&fw), &t.name, &c.name, p, &budget);
                let _ = w.doubt();
            }
        }
    }
}

/// IPVS generic-netlink answers: datagram splitting, headers, family ids, services, destinations.
pub fn ipvs(data: &[u8]) {
    let Ok(msgs) = split_datagram(data) else {
        return;
    };
    for m in msgs {
        let _ = header_of(m);
        let _ = family_id_of(m);
        let _ = decode_message(m);
        let af = match decode_service(m) {
            Ok((_, key)) => key.af,
            Err(_) => 2,
        };
        let _ = decode_destination(m, af);
        let _ = decode_destination(m, 10);
    }
}

/// `nft -j list ruleset` output: the trimming the collector does, then the graph reading it
/// (encrypted overlays' guard rules) from a snapshot's host namespace.
pub fn nft_json(data: &[u8]) {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let Ok(mut ruleset) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let keep = [("ip".to_owned(), "filter".to_owned())];
    drop_iptables_tables(
        &mut ruleset,
        flags & 1 == 1,
        flags & 2 == 2,
        &keep[..(flags as usize >> 2) & 1],
    );
    let mut snaps = super::small().to_vec();
    let Some(host) = snaps[0]
        .namespaces
        .iter_mut()
        .find(|n| n.role == NamespaceRole::Host)
    else {
        return;
    };
    host.firewall.get_or_insert_with(Default::default).nftables = Some(ruleset);
    let _ = dockmap::graph::build(&snaps);
}

/// rtnetlink datagrams as the collector's socket decodes them: links, addresses, routes,
/// neighbours, bridge FDB entries and nsid answers.
pub fn rtnetlink(data: &[u8]) {
    let mut rest = data;
    let mut messages = Vec::new();
    // A datagram holds messages back to back, each as long as its header says.
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let len = len.clamp(16, rest.len());
        let Ok(msg) = NetlinkMessage::<Rtnl>::deserialize(&rest[..len]) else {
            break;
        };
        if let NetlinkPayload::InnerMessage(Rtnl::Msg(m)) = msg.payload {
            messages.push(m);
        }
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
        if rest.is_empty() {
            break;
        }
    }
    for m in &messages {
        match m {
            RouteNetlinkMessage::NewLink(l) => {
                let _ = decode::link(l);
            }
            RouteNetlinkMessage::NewAddress(a) => {
                let _ = decode::address(a);
            }
            RouteNetlinkMessage::NewRoute(r) => {
                let _ = decode::route(r);
            }
            RouteNetlinkMessage::NewNeighbour(n) => {
                let _ = decode::neighbour(n);
                let _ = decode::fdb(n);
            }
            _ => {}
        }
    }
    let _ = nsid_answer(&messages);
}

/// Valid snapshots mutated field by field (names, addresses, counts, removed and doubled entries):
/// the graph, drawing, ports, paths, diff and comparison must neither panic nor hang.
pub fn snapshot_pipeline(data: &[u8]) {
    let Some(snaps) = super::mutated(data) else {
        return;
    };
    super::pipeline(snaps, Some(super::small()));
}

/// A snapshot file or upload: the schema and model checks, then (when it passes) what opening it
/// does: the graph, the default drawing, ports and paths, a diff and a comparison.
pub fn snapshot_upload(data: &[u8]) {
    let Ok(file) = dockmap::snapshot::file::parse(data, dockmap::store::DEFAULT_UPLOAD_LIMIT)
    else {
        return;
    };
    let cluster = file.into_cluster("upload");
    let _ = dockmap::graph::build_cluster(&cluster);
    let snaps: Vec<_> = cluster
        .nodes
        .into_iter()
        .filter_map(|n| n.snapshot)
        .collect();
    super::pipeline(snaps, Some(super::small()));
}

/// The view's query string (fold, hide, select, ...): read, written back, and laid out.
pub fn view_query(data: &[u8]) {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let v = View::from_query(q);
    let again = View::from_query(&v.to_query());
    assert_eq!(
        again.to_query(),
        v.to_query(),
        "a view written back reads the same"
    );
    let l = layout(graph(), &v);
    let _ = dockmap::render::svg(&l.scene);
}

/// NETLINK_XFRM answers: security associations and policies (keys are never read).
pub fn xfrm(data: &[u8]) {
    let _ = decode_sa(data);
    let _ = decode_policy(data);
}
