//! IPVS generic-netlink answers: datagram splitting, headers, family ids, services, destinations.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockmap_fuzz::targets::ipvs(data));
