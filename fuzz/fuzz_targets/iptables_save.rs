//! iptables-save text: the parser, then every built-in chain walked for a few packets (the walk
//! must end, within its budget, whatever the rules).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::iptables_save(data));
