//! A snapshot file or upload: the schema and model checks, then (when it passes) what opening it
//! does: the graph, the default drawing, ports and paths, a diff and a comparison.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::snapshot_upload(data));
