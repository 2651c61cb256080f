//! An agent's answer to GET /v1/snapshot, as the server reads it, then gathered like a node.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(snap) = dockmap::cluster::decode_answer(data) else {
        return;
    };
    let mut snaps = dockmap_fuzz::small().to_vec();
    snaps.push(snap);
    let _ = dockmap::web::state::derive(&mut snaps);
});
