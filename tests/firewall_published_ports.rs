//! A host with more than a thousand published ports: rules really installed in a namespace,
//! really printed by iptables-save, parsed (needs root; time is measured in the bench, not here).

use crate::support::firewall as firewall_support;

use dockmap::collect::firewall;
use dockmap::snapshot::SourceState;
use firewall_support::{have_root, published_port, published_ports_ruleset, TestNs};

const PORTS: usize = 1200;

#[test]
fn twelve_hundred_published_ports() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], &published_ports_ruleset(PORTS));

    let (fw, statuses) = firewall::collect(&ns.handle());
    assert_eq!(statuses[0].state, SourceState::Ok, "{statuses:?}");
    let fw = fw.unwrap();
    let nat = fw.ipv4.iter().find(|t| t.name == "nat").unwrap();
    let dnat: Vec<_> = nat
        .rules
        .iter()
        .filter(|r| r.chain == "DOCKER" && r.target.as_ref().unwrap().name == "DNAT")
        .collect();
    assert_eq!(dnat.len(), PORTS);
    // Kernel order is kept: rule i publishes port i.
    for (i, rule) in dnat.iter().enumerate() {
        let (port, ip) = published_port(i);
        assert_eq!(
            rule.matches[0].args,
            vec!["--dport".to_owned(), port.to_string()]
        );
        assert_eq!(
            rule.target.as_ref().unwrap().to_destination.as_deref(),
            Some(format!("{ip}:80").as_str())
        );
        assert_eq!(rule.in_interface.as_deref(), Some("!dmtbr0"));
    }
    let masq = nat.rules.iter().find(|r| r.chain == "POSTROUTING").unwrap();
    assert_eq!(masq.target.as_ref().unwrap().name, "MASQUERADE");
    assert_eq!(masq.source.as_deref(), Some("198.18.0.0/16"));

    let filter = fw.ipv4.iter().find(|t| t.name == "filter").unwrap();
    let accepts = filter
        .rules
        .iter()
        .filter(|r| r.chain == "DOCKER" && r.target.as_ref().unwrap().name == "ACCEPT")
        .count();
    assert_eq!(accepts, PORTS);
    let (_, last_ip) = published_port(PORTS - 1);
    let last = filter
        .rules
        .iter()
        .rev()
        .find(|r| r.chain == "DOCKER")
        .unwrap();
    assert_eq!(
        last.destination.as_deref(),
        Some(format!("{last_ip}/32").as_str())
    );
}
