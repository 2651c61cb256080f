//! Valid snapshots mutated field by field (names, addresses, counts, removed and doubled
//! entries): the graph, drawing, ports, paths, diff and comparison must neither panic nor hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(snaps) = dockmap_fuzz::mutated(data) else {
        return;
    };
    dockmap_fuzz::pipeline(snaps, Some(dockmap_fuzz::small()));
});
