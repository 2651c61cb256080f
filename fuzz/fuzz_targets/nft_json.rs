//! `nft -j list ruleset` output: the trimming the collector does, then the graph reading it
//! (encrypted overlays' guard rules) from a snapshot's host namespace.
#![no_main]

use dockmap::collect::firewall::nft_json::drop_iptables_tables;
use dockmap::snapshot::NamespaceRole;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
    let mut snaps = dockmap_fuzz::small().to_vec();
    let Some(host) = snaps[0]
        .namespaces
        .iter_mut()
        .find(|n| n.role == NamespaceRole::Host)
    else {
        return;
    };
    host.firewall.get_or_insert_with(Default::default).nftables = Some(ruleset);
    let _ = dockmap::graph::build(&snaps);
});
