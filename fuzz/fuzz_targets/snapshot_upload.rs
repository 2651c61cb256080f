//! A snapshot file or upload: the schema and model checks, then (when it passes) what opening it
//! does: the graph, the default drawing, ports and paths, a diff and a comparison.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = dockmap::snapshot::file::parse(data, dockmap::store::DEFAULT_UPLOAD_LIMIT) else {
        return;
    };
    let cluster = file.into_cluster("upload");
    let _ = dockmap::graph::build_cluster(&cluster);
    let snaps: Vec<_> = cluster
        .nodes
        .into_iter()
        .filter_map(|n| n.snapshot)
        .collect();
    dockmap_fuzz::pipeline(snaps, Some(dockmap_fuzz::small()));
});
