//! NETLINK_XFRM answers: security associations and policies (keys are never read).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::xfrm(data));
