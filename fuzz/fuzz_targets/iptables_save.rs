//! iptables-save text: the parser, then every built-in chain walked for a few packets (the walk
//! must end, within its budget, whatever the rules).
#![no_main]

use dockmap::collect::firewall::{parse_header, parse_iptables_save};
use dockmap::path::rules::{walk, Budget, Packet};
use dockmap::snapshot::Firewall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_header(text);
    let Ok(tables) = parse_iptables_save(text) else {
        return;
    };
    let fw = Firewall {
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
});
