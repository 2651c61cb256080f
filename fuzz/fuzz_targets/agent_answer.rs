//! An agent's answer to GET /v1/snapshot, as the server reads it, then gathered like a node.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::agent_answer(data));
