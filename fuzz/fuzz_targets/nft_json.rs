//! `nft -j list ruleset` output: the trimming the collector does, then the graph reading it
//! (encrypted overlays' guard rules) from a snapshot's host namespace.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::nft_json(data));
