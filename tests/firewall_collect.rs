//! Packet-filter collection on real namespaces with real rules (needs root).

use crate::support;
use crate::support::firewall as firewall_support;

use std::os::unix::fs::PermissionsExt;

use dockmap::collect::firewall::{self, Tools, NO_RULES};
use dockmap::snapshot::{Firewall, Rule, SourceKind, SourceState, Table};
use firewall_support::{have_root, TestNs};

/// Docker's rules on a host with one published port (8080 -> 198.18.0.2:80),
/// plus the mangle MARK that ingress_sbox uses for the routing mesh.
const DOCKER_LIKE: &str = include_str!("fixtures/docker_like.iptables-restore.txt");

/// The nat rules Docker puts inside a container on a user-defined network (embedded DNS).
const EMBEDDED_DNS: &str = include_str!("fixtures/embedded_dns.iptables-restore.txt");

fn table<'a>(tables: &'a [Table], name: &str) -> &'a Table {
    tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in {tables:?}"))
}

fn rules<'a>(t: &'a Table, chain: &str) -> Vec<&'a Rule> {
    t.rules.iter().filter(|r| r.chain == chain).collect()
}

fn policy(t: &Table, chain: &str) -> Option<String> {
    t.chains
        .iter()
        .find(|c| c.name == chain)
        .unwrap_or_else(|| panic!("no chain {chain} in {}", t.name))
        .policy
        .clone()
}

#[test]
fn docker_like_rules_are_read_and_parsed() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], DOCKER_LIKE);
    ns.exec_stdin(
        &["ip6tables-restore"],
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n",
    );

    let (fw, statuses) = firewall::collect(&ns.handle());
    let fw = fw.expect("firewall read");
    let status = &statuses[0];
    assert_eq!(status.source, SourceKind::Iptables);
    assert_eq!(status.state, SourceState::Ok, "{status:?}");
    assert_eq!(status.namespace.as_deref(), Some(ns.name.as_str()));
    assert!(
        fw.backend == "nf_tables" || fw.backend == "legacy",
        "{}",
        fw.backend
    );
    assert_eq!(fw.nftables, None, "no native nftables tables here");

    let names: Vec<&str> = fw.ipv4.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["filter", "mangle", "nat"]);

    let nat = table(&fw.ipv4, "nat");
    assert_eq!(policy(nat, "PREROUTING").as_deref(), Some("ACCEPT"));
    assert_eq!(policy(nat, "DOCKER"), None);
    let pre = rules(nat, "PREROUTING");
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0].matches[0].name, "addrtype");
    assert_eq!(pre[0].matches[0].args, vec!["--dst-type", "LOCAL"]);
    assert_eq!(pre[0].target.as_ref().unwrap().name, "DOCKER");
    let out = rules(nat, "OUTPUT");
    assert_eq!(out[0].destination.as_deref(), Some("!127.0.0.0/8"));

    let dnat: Vec<&Rule> = rules(nat, "DOCKER")
        .into_iter()
        .filter(|r| r.target.as_ref().is_some_and(|t| t.name == "DNAT"))
        .collect();
    assert_eq!(dnat.len(), 1);
    let t = dnat[0].target.as_ref().unwrap();
    assert_eq!(t.to_destination.as_deref(), Some("198.18.0.2:80"));
    assert_eq!(dnat[0].in_interface.as_deref(), Some("!dmtbr0"));
    assert_eq!(dnat[0].protocol.as_deref(), Some("tcp"));
    let comment = dnat[0]
        .matches
        .iter()
        .find(|m| m.name == "comment")
        .unwrap();
    assert_eq!(comment.args, vec!["--comment", "published port 8080"]);
    assert!(dnat[0].text.starts_with("-A DOCKER "), "{}", dnat[0].text);

    let post = rules(nat, "POSTROUTING");
    let masq = post[0].target.as_ref().unwrap();
    assert_eq!(masq.name, "MASQUERADE");
    assert_eq!(post[0].source.as_deref(), Some("198.18.0.0/24"));
    assert_eq!(post[0].out_interface.as_deref(), Some("!dmtbr0"));
    let snat = post
        .iter()
        .find_map(|r| r.target.as_ref().filter(|t| t.name == "SNAT"))
        .unwrap();
    assert_eq!(snat.to_source.as_deref(), Some("198.18.1.1"));

    let filter = table(&fw.ipv4, "filter");
    assert_eq!(policy(filter, "FORWARD").as_deref(), Some("DROP"));
    let jumps: Vec<&str> = rules(filter, "FORWARD")
        .iter()
        .map(|r| r.target.as_ref().unwrap().name.as_str())
        .collect();
    assert_eq!(
        jumps,
        vec![
            "DOCKER-USER",
            "DOCKER-ISOLATION-STAGE-1",
            "ACCEPT",
            "DOCKER",
            "ACCEPT"
        ]
    );
    for chain in [
        "DOCKER-USER",
        "DOCKER-ISOLATION-STAGE-1",
        "DOCKER-ISOLATION-STAGE-2",
    ] {
        assert_eq!(policy(filter, chain), None);
    }
    let stage1 = rules(filter, "DOCKER-ISOLATION-STAGE-1");
    assert_eq!(
        stage1[0].target.as_ref().unwrap().name,
        "DOCKER-ISOLATION-STAGE-2"
    );
    let accept = rules(filter, "DOCKER")[0];
    assert_eq!(accept.destination.as_deref(), Some("198.18.0.2/32"));
    assert_eq!(accept.matches[0].args, vec!["--dport", "80"]);

    let mangle = table(&fw.ipv4, "mangle");
    let marks: Vec<String> = mangle
        .rules
        .iter()
        .map(|r| r.target.as_ref().unwrap().set_mark.clone().unwrap())
        .collect();
    assert_eq!(marks, vec!["0x100/0xffffffff", "0x100/0xffffffff"]);

    assert_eq!(fw.ipv6.len(), 1);
    let f6 = table(&fw.ipv6, "filter");
    assert_eq!(rules(f6, "INPUT")[0].in_interface.as_deref(), Some("lo"));
}

#[test]
fn empty_namespace_is_proven_empty_without_running_anything() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    // No tool can be found: any attempt to run one would be an error status.
    let nowhere = support::temp_dir("notools");
    let tools = Tools::in_dirs(vec![nowhere.path().to_path_buf()]);
    let (fw, statuses) = firewall::collect_with(&ns.handle(), &tools);
    assert_eq!(fw, Some(Firewall::default()));
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, SourceState::Ok);
    assert_eq!(statuses[0].message, NO_RULES);
}

#[test]
fn embedded_dns_rules_of_a_user_network_container_are_not_skipped() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let (fw, statuses) = firewall::collect(&ns.handle());
    assert_eq!(statuses[0].state, SourceState::Ok, "{statuses:?}");
    assert_ne!(statuses[0].message, NO_RULES);
    let fw = fw.unwrap();
    assert!(fw.ipv6.is_empty());
    let nat = table(&fw.ipv4, "nat");
    let dns: Vec<String> = rules(nat, "DOCKER_OUTPUT")
        .iter()
        .map(|r| r.target.as_ref().unwrap().to_destination.clone().unwrap())
        .collect();
    assert_eq!(dns, vec!["127.0.0.11:41327", "127.0.0.11:36418"]);
    let snat = rules(nat, "DOCKER_POSTROUTING");
    assert_eq!(
        snat[0].target.as_ref().unwrap().to_source.as_deref(),
        Some(":53")
    );
}

#[test]
fn legacy_tables_are_seen_by_the_check_and_read() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec(&["iptables-legacy", "-t", "nat", "-N", "DMTLEGACY"]);
    ns.exec(&[
        "iptables-legacy",
        "-t",
        "nat",
        "-A",
        "DMTLEGACY",
        "-j",
        "RETURN",
    ]);
    let (fw, statuses) = firewall::collect(&ns.handle());
    assert_eq!(statuses[0].state, SourceState::Ok, "{statuses:?}");
    let fw = fw.unwrap();
    assert_eq!(fw.backend, "legacy");
    let nat = table(&fw.ipv4, "nat");
    assert_eq!(
        rules(nat, "DMTLEGACY")[0].target.as_ref().unwrap().name,
        "RETURN"
    );
}

#[test]
fn missing_iptables_save_is_reported_not_fatal() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let nowhere = support::temp_dir("notools");
    let tools = Tools::in_dirs(vec![nowhere.path().to_path_buf()]);
    let (fw, statuses) = firewall::collect_with(&ns.handle(), &tools);
    assert_eq!(fw, None, "nothing could be read");
    assert_eq!(statuses[0].source, SourceKind::Iptables);
    assert_eq!(statuses[0].state, SourceState::Error);
    assert!(
        statuses[0].message.contains("iptables-save not found"),
        "{}",
        statuses[0].message
    );
}

#[test]
fn a_failing_tool_reports_its_stderr() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let dir = support::temp_dir("badtool");
    let script = dir.path().join("iptables-save");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'dmt: cannot read the rule set' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (fw, statuses) = firewall::collect_with(
        &ns.handle(),
        &Tools::in_dirs(vec![dir.path().to_path_buf()]),
    );
    assert_eq!(fw, None);
    assert_eq!(statuses[0].state, SourceState::Error);
    assert!(
        statuses[0]
            .message
            .contains("dmt: cannot read the rule set"),
        "{}",
        statuses[0].message
    );
    assert!(
        statuses[0].message.contains("iptables-save"),
        "{}",
        statuses[0].message
    );
}

#[test]
fn native_nftables_tables_are_read_as_json() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    ns.exec_stdin(
        &["nft", "-f", "-"],
        "table inet dmtnative {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 8080 counter accept\n }\n}\n",
    );
    let (fw, statuses) = firewall::collect(&ns.handle());
    let fw = fw.unwrap();
    let nft_status = statuses
        .iter()
        .find(|s| s.source == SourceKind::Nftables)
        .expect("an nftables status");
    assert_eq!(nft_status.state, SourceState::Ok, "{nft_status:?}");
    let ruleset = fw.nftables.expect("nft JSON");
    let items = ruleset["nftables"].as_array().unwrap();
    let tables: Vec<(String, String)> = items
        .iter()
        .filter_map(|i| i.get("table"))
        .map(|t| {
            (
                t["family"].as_str().unwrap().to_owned(),
                t["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(tables, vec![("inet".to_owned(), "dmtnative".to_owned())]);
    assert!(items.iter().any(|i| i.get("rule").is_some()));
    // The iptables-nft nat table is read through iptables-save instead.
    assert_eq!(table(&fw.ipv4, "nat").name, "nat");
}

#[test]
fn a_namespace_that_cannot_be_entered_is_said() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    let handle = ns.handle();
    // Swap the handle's namespace fd for /dev/null: setns then fails as for a vanished one.
    let null = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto an fd this test owns; the handle closes it on drop.
    assert!(unsafe { libc::dup2(null.as_raw_fd(), handle.fd()) } >= 0);
    let (fw, statuses) = firewall::collect(&handle);
    assert_eq!(fw, None);
    assert_eq!(statuses[0].state, SourceState::Error);
    assert!(
        statuses[0].message.contains("vanished"),
        "{}",
        statuses[0].message
    );
}

#[test]
fn many_namespaces_at_once_in_order() {
    if !have_root() {
        return;
    }
    let empty = TestNs::new();
    let docker = TestNs::new();
    docker.exec_stdin(&["iptables-restore"], DOCKER_LIKE);
    let dns = TestNs::new();
    dns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let broken = TestNs::new();
    let broken_handle = broken.handle();
    let null = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto an fd this test owns; the handle closes it on drop.
    assert!(unsafe { libc::dup2(null.as_raw_fd(), broken_handle.fd()) } >= 0);

    let handles = vec![empty.handle(), docker.handle(), broken_handle, dns.handle()];
    let results = firewall::collect_many(&handles, &Tools::from_env(), None);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].0, Some(Firewall::default()));
    assert_eq!(results[0].1[0].message, NO_RULES);
    let fw = results[1].0.as_ref().unwrap();
    assert_eq!(fw.ipv4.len(), 3);
    assert_eq!(
        fw,
        &firewall::collect(&handles[1]).0.unwrap(),
        "same as one by one"
    );
    assert_eq!(results[2].0, None);
    assert!(
        results[2].1[0].message.contains("vanished"),
        "{:?}",
        results[2].1
    );
    let nat = table(&results[3].0.as_ref().unwrap().ipv4, "nat");
    assert_eq!(rules(nat, "DOCKER_OUTPUT").len(), 2);
    for (i, (_, statuses)) in results.iter().enumerate() {
        assert_eq!(
            statuses[0].namespace.as_deref(),
            Some(handles[i].name.as_str())
        );
    }
}

#[test]
fn cache_reuses_unchanged_rules_and_rereads_changed_ones() {
    if !have_root() {
        return;
    }
    let a = TestNs::new();
    a.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let b = TestNs::new();
    b.exec_stdin(&["iptables-restore"], DOCKER_LIKE);
    let handles = vec![a.handle(), b.handle()];
    let cache = firewall::RuleCache::new();
    let first = firewall::collect_many(&handles, &Tools::from_env(), Some(&cache));
    assert_eq!(
        cache.len(),
        2,
        "both namespaces hold only iptables-nft tables"
    );

    // Unchanged: served from the cache, so even without any tool the rules are there.
    let nowhere = support::temp_dir("notools");
    let no_tools = Tools::in_dirs(vec![nowhere.path().to_path_buf()]);
    let again = firewall::collect_many(&handles, &no_tools, Some(&cache));
    assert_eq!(again[0].0, first[0].0);
    assert_eq!(again[1].0, first[1].0);
    assert_eq!(again[1].1[0].state, SourceState::Ok);

    // A changed ruleset has a new generation: it must be read again (and here cannot be).
    b.exec(&["iptables", "-t", "nat", "-A", "DOCKER", "-j", "RETURN"]);
    let changed = firewall::collect_many(&handles, &no_tools, Some(&cache));
    assert_eq!(changed[0].0, first[0].0);
    assert_eq!(changed[1].0, None);
    assert!(changed[1].1[0].message.contains("iptables-save not found"));
    let reread = firewall::collect_cached(&handles[1], &Tools::from_env(), Some(&cache));
    let nat = table(&reread.0.unwrap().ipv4, "nat").clone();
    assert_eq!(
        rules(&nat, "DOCKER").last().unwrap().text,
        "-A DOCKER -j RETURN"
    );

    // A namespace that is gone is forgotten at the end of the collection that no longer sees it.
    cache.sweep();
    drop(handles);
    let only_a = vec![a.handle()];
    firewall::collect_many(&only_a, &Tools::from_env(), Some(&cache));
    assert_eq!(
        cache.len(),
        2,
        "a batch evicts nothing: another batch may see the rest"
    );
    cache.sweep();
    assert_eq!(cache.len(), 1);
}

#[test]
fn native_rules_in_a_table_named_filter_are_read_with_nft() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec_stdin(
        &["nft", "-f", "-"],
        "table ip filter {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 8080 counter accept\n }\n}\n",
    );
    let (fw, statuses) = firewall::collect(&ns.handle());
    let fw = fw.unwrap();
    assert_eq!(statuses[0].state, SourceState::Ok, "{statuses:?}");
    assert!(
        statuses[0].message.contains("cannot show ip filter"),
        "{}",
        statuses[0].message
    );
    let ruleset = fw.nftables.expect("the native rules through nft");
    let items = ruleset["nftables"].as_array().unwrap();
    let rule = items
        .iter()
        .filter_map(|i| i.get("rule"))
        .find(|r| r["table"] == "filter" && r["family"] == "ip")
        .expect("the native rule");
    assert!(rule["expr"].to_string().contains("8080"), "{rule}");
    assert_eq!(
        statuses
            .iter()
            .find(|s| s.source == SourceKind::Nftables)
            .unwrap()
            .state,
        SourceState::Ok
    );
}

#[test]
fn both_backends_at_once_is_said_not_hidden() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    ns.exec(&["iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]);
    ns.exec(&["iptables-legacy", "-t", "nat", "-N", "DMTLEGACY"]);
    let (fw, statuses) = firewall::collect(&ns.handle());
    let fw = fw.expect("one backend read");
    assert_eq!(statuses[0].state, SourceState::Error, "a partial read");
    let msg = &statuses[0].message;
    assert!(msg.contains("tables are present as well"), "{msg}");
    // The default iptables-save here is the nf_tables one: the legacy nat table is named.
    if fw.backend == "nf_tables" {
        assert!(
            msg.contains("legacy tables are present as well (nat)"),
            "{msg}"
        );
        assert_eq!(
            table(&fw.ipv4, "filter").rules[0].in_interface.as_deref(),
            Some("lo")
        );
    } else {
        assert!(
            msg.contains("nf_tables tables are present as well (filter)"),
            "{msg}"
        );
    }
}

#[test]
fn one_thread_visiting_many_namespaces_sees_each_ones_legacy_tables() {
    if !have_root() {
        return;
    }
    // /proc/<tid>/net must follow the visiting thread from namespace to namespace.
    let empty_a = TestNs::new();
    let legacy = TestNs::new();
    legacy.exec(&["iptables-legacy", "-t", "nat", "-N", "DMTLEGACY"]);
    let empty_b = TestNs::new();
    let handles = vec![empty_a.handle(), legacy.handle(), empty_b.handle()];
    let nowhere = support::temp_dir("notools");
    let no_tools = Tools::in_dirs(vec![nowhere.path().to_path_buf()]);
    let results = firewall::collect_many(&handles, &no_tools, None);
    assert_eq!(results[0].1[0].message, NO_RULES);
    assert!(
        results[1].1[0].message.contains("iptables-save not found"),
        "the legacy table was seen, so a tool was needed: {:?}",
        results[1].1
    );
    assert_eq!(results[2].1[0].message, NO_RULES);
    let read = firewall::collect_many(&handles, &Tools::from_env(), None);
    assert_eq!(read[1].0.as_ref().unwrap().backend, "legacy");
}
