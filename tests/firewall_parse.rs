//! iptables-save parsing of recorded real output (tests/fixtures), and of anything at all.

use dockmap::collect::firewall::{parse_header, parse_iptables_save};
use dockmap::snapshot::{Rule, Table};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn table<'a>(tables: &'a [Table], name: &str) -> &'a Table {
    tables.iter().find(|t| t.name == name).unwrap()
}

fn rules<'a>(t: &'a Table, chain: &str) -> Vec<&'a Rule> {
    t.rules.iter().filter(|r| r.chain == chain).collect()
}

fn target_names(t: &Table, chain: &str) -> Vec<String> {
    rules(t, chain)
        .iter()
        .map(|r| r.target.as_ref().unwrap().name.clone())
        .collect()
}

#[test]
fn real_docker_20_10_host() {
    let text = fixture("docker2010_host.iptables-save.txt");
    assert_eq!(parse_header(&text).backend.as_deref(), Some("nf_tables"));
    let tables = parse_iptables_save(&text).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["filter", "nat"]);

    let filter = table(&tables, "filter");
    let forward = filter.chains.iter().find(|c| c.name == "FORWARD").unwrap();
    assert_eq!(forward.policy.as_deref(), Some("DROP"));
    assert_eq!(
        filter
            .chains
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec![
            "INPUT",
            "FORWARD",
            "OUTPUT",
            "DOCKER",
            "DOCKER-ISOLATION-STAGE-1",
            "DOCKER-ISOLATION-STAGE-2",
            "DOCKER-USER"
        ]
    );
    assert_eq!(
        &target_names(filter, "FORWARD")[..2],
        &["DOCKER-USER", "DOCKER-ISOLATION-STAGE-1"]
    );
    let conntrack = &rules(filter, "FORWARD")[2];
    assert_eq!(conntrack.out_interface.as_deref(), Some("docker_gwbridge"));
    assert_eq!(conntrack.matches[0].name, "conntrack");
    assert_eq!(
        conntrack.matches[0].args,
        vec!["--ctstate", "RELATED,ESTABLISHED"]
    );

    let nat = table(&tables, "nat");
    let masq = rules(nat, "POSTROUTING");
    assert_eq!(masq.len(), 2);
    assert_eq!(masq[1].source.as_deref(), Some("198.18.0.0/24"));
    assert_eq!(masq[1].out_interface.as_deref(), Some("!docker0"));
    assert_eq!(masq[1].target.as_ref().unwrap().name, "MASQUERADE");
    assert_eq!(
        rules(nat, "OUTPUT")[0].destination.as_deref(),
        Some("!127.0.0.0/8")
    );
    // Every rule keeps its line verbatim.
    for r in tables.iter().flat_map(|t| &t.rules) {
        assert!(text.lines().any(|l| l == r.text), "{}", r.text);
    }
}

#[test]
fn real_docker_20_10_ingress_sbox_embedded_dns() {
    let tables =
        parse_iptables_save(&fixture("docker2010_ingress_sbox.iptables-save.txt")).unwrap();
    let nat = table(&tables, "nat");
    let dnat = rules(nat, "DOCKER_OUTPUT");
    assert_eq!(dnat.len(), 2);
    assert_eq!(dnat[0].protocol.as_deref(), Some("tcp"));
    assert_eq!(dnat[0].destination.as_deref(), Some("127.0.0.11/32"));
    let to = dnat[0]
        .target
        .as_ref()
        .unwrap()
        .to_destination
        .as_deref()
        .unwrap();
    assert!(to.starts_with("127.0.0.11:"), "{to}");
    let snat = rules(nat, "DOCKER_POSTROUTING");
    assert_eq!(
        snat[1].target.as_ref().unwrap().to_source.as_deref(),
        Some(":53")
    );
    assert_eq!(snat[1].matches[0].args[0], "--sport");
}

#[test]
fn published_port_dnat_mark_and_comment() {
    let text = fixture("docker_like_published_port.nft.iptables-save.txt");
    let tables = parse_iptables_save(&text).unwrap();
    let nat = table(&tables, "nat");
    let dnat = rules(nat, "DOCKER")[1];
    let target = dnat.target.as_ref().unwrap();
    assert_eq!(target.name, "DNAT");
    assert_eq!(target.to_destination.as_deref(), Some("198.18.0.2:80"));
    assert_eq!(target.args, vec!["--to-destination", "198.18.0.2:80"]);
    let matches: Vec<&str> = dnat.matches.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(matches, vec!["tcp", "comment"]);
    assert_eq!(
        dnat.matches[1].args,
        vec!["--comment", "published port 8080"]
    );
    let mangle = table(&tables, "mangle");
    let mark = rules(mangle, "PREROUTING")[0].target.as_ref().unwrap();
    assert_eq!(mark.name, "MARK");
    assert_eq!(mark.set_mark.as_deref(), Some("0x100/0xffffffff"));
}

#[test]
fn legacy_save_with_counters_equals_nft_save_without() {
    let legacy = fixture("docker_like_published_port.legacy-counters.iptables-save.txt");
    assert_eq!(parse_header(&legacy).backend.as_deref(), Some("legacy"));
    let mut with_counters = parse_iptables_save(&legacy).unwrap();
    let mut plain =
        parse_iptables_save(&fixture("docker_like_published_port.nft.iptables-save.txt")).unwrap();
    // Same rules, different table order (legacy prints mangle, filter, nat).
    with_counters.sort_by(|a, b| a.name.cmp(&b.name));
    plain.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(with_counters, plain);
    let out = rules(table(&with_counters, "nat"), "OUTPUT")[0];
    assert!(
        out.text.starts_with("-A OUTPUT"),
        "counters stripped: {}",
        out.text
    );
}

#[test]
fn quoting_goto_and_redirect() {
    let tables = parse_iptables_save(&fixture("quoting_goto.nft.iptables-save.txt")).unwrap();
    let filter = table(&tables, "filter");
    let input = rules(filter, "INPUT");
    assert_eq!(
        input[0].matches[0].args,
        vec!["--comment", r#"it's "quoted" \ back"#]
    );
    // A comment that looks like an option stays the comment's.
    assert_eq!(input[1].matches[0].args, vec!["--comment", "-s"]);
    assert_eq!(input[1].source, None);
    assert_eq!(input[2].matches[0].name, "multiport");
    assert_eq!(input[2].matches[0].args, vec!["--dports", "53,5353"]);
    assert_eq!(input[2].matches[1].args, vec!["--comment", "two words"]);
    let nat = table(&tables, "nat");
    let goto = rules(nat, "PREROUTING")[0].target.as_ref().unwrap();
    assert!(goto.goto);
    assert_eq!(goto.name, "DMT-G");
    let redirect = rules(nat, "DMT-G")[0].target.as_ref().unwrap();
    assert_eq!(redirect.to_ports.as_deref(), Some("8081"));
}

#[test]
fn ip6tables_save() {
    let text = fixture("docker_like.nft.ip6tables-save.txt");
    assert_eq!(parse_header(&text).backend.as_deref(), Some("nf_tables"));
    let tables = parse_iptables_save(&text).unwrap();
    let nat = table(&tables, "nat");
    let masq = rules(nat, "POSTROUTING")[0];
    assert_eq!(masq.source.as_deref(), Some("2001:2::/48"));
    assert_eq!(masq.out_interface.as_deref(), Some("!dmtbr0"));
}

#[test]
fn empty_output_is_no_tables() {
    assert_eq!(parse_iptables_save("").unwrap(), vec![]);
    assert_eq!(parse_iptables_save("# only a comment\n\n").unwrap(), vec![]);
}

/// Lines that look like iptables-save, to reach deep into the parser.
fn save_like_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("-A".to_owned()),
        Just("-j".to_owned()),
        Just("-g".to_owned()),
        Just("-m".to_owned()),
        Just("!".to_owned()),
        Just("-s".to_owned()),
        Just("-o".to_owned()),
        Just("--to-destination".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("[1:2]".to_owned()),
        "[a-zA-Z0-9:/._\"\\\\-]{0,8}",
    ];
    let rule = proptest::collection::vec(word, 0..12).prop_map(|w| w.join(" "));
    prop_oneof![
        Just("*nat".to_owned()),
        Just("*filter".to_owned()),
        Just("COMMIT".to_owned()),
        Just(":DOCKER - [0:0]".to_owned()),
        Just(":INPUT ACCEPT".to_owned()),
        Just("# Generated by iptables-save v1.8.9 (nf_tables)".to_owned()),
        "[:\\[\\]a-zA-Z0-9 -]{0,20}",
        rule,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_iptables_save(&text);
        let _ = parse_header(&text);
    }

    #[test]
    fn any_string_never_panics(text in "\\PC*") {
        let _ = parse_iptables_save(&text);
        let _ = parse_header(&text);
    }

    #[test]
    fn save_like_input_never_panics(lines in proptest::collection::vec(save_like_line(), 0..40)) {
        let text = lines.join("\n");
        if let Ok(tables) = parse_iptables_save(&text) {
            // Whatever parses keeps every rule line verbatim.
            for r in tables.iter().flat_map(|t| &t.rules) {
                prop_assert!(text.contains(&r.text));
            }
        }
    }

    #[test]
    fn a_table_with_a_generated_rule_round_trips(
        chain in "[A-Z][A-Z_-]{0,10}",
        port in 1u16..,
        last in 2u8..250,
    ) {
        let text = format!(
            "*nat\n:{chain} - [0:0]\n-A {chain} -p tcp -m tcp --dport {port} -j DNAT --to-destination 198.18.0.{last}:80\nCOMMIT\n"
        );
        let tables = parse_iptables_save(&text).unwrap();
        let rule = &tables[0].rules[0];
        prop_assert_eq!(&rule.chain, &chain);
        let expected_args = vec!["--dport".to_owned(), port.to_string()];
        prop_assert_eq!(&rule.matches[0].args, &expected_args);
        let expected_to = format!("198.18.0.{last}:80");
        prop_assert_eq!(
            rule.target.as_ref().unwrap().to_destination.as_deref(),
            Some(expected_to.as_str())
        );
    }
}

#[test]
fn a_huge_line_parses_in_linear_time() {
    // No quadratic path: a megabyte of one rule and of many rules parse (no timing asserted).
    let long = format!(
        "*filter\n-A INPUT {} -j ACCEPT\nCOMMIT\n",
        "-m comment --comment x ".repeat(40_000)
    );
    let tables = parse_iptables_save(&long).unwrap();
    assert_eq!(tables[0].rules[0].matches.len(), 40_000);
    let unclosed = format!(
        "*filter\n-A INPUT -m comment --comment \"{}\n",
        "x".repeat(1 << 20)
    );
    assert!(parse_iptables_save(&unclosed).is_err());
}
