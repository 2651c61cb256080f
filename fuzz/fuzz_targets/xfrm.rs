//! NETLINK_XFRM answers: security associations and policies (keys are never read).
#![no_main]

use dockmap::collect::xfrm::message::{decode_policy, decode_sa};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_sa(data);
    let _ = decode_policy(data);
});
