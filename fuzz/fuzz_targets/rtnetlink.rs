//! rtnetlink datagrams as the collector's socket decodes them: links, addresses, routes,
//! neighbours, bridge FDB entries and nsid answers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::rtnetlink(data));
