//! The view's query string (fold, hide, select, ...): read, written back, and laid out.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::view_query(data));
