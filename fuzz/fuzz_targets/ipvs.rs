//! IPVS generic-netlink answers: datagram splitting, headers, family ids, services, destinations.
#![no_main]

use dockmap::collect::ipvs::message::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msgs) = split_datagram(data) else {
        return;
    };
    for m in msgs {
        let _ = header_of(m);
        let _ = family_id_of(m);
        let _ = decode_message(m);
        let af = match decode_service(m) {
            Ok((_, key)) => key.af,
            Err(_) => 2,
        };
        let _ = decode_destination(m, af);
        let _ = decode_destination(m, 10);
    }
});
