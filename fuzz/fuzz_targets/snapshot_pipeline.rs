//! Valid snapshots mutated field by field (names, addresses, counts, removed and doubled
//! entries): the graph, drawing, ports, paths, diff and comparison must neither panic nor hang.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::snapshot_pipeline(data));
