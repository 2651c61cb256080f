//! IPVS netlink messages built byte by byte from linux/ip_vs.h, decoded by the reader's codec.
//!
//! This kernel has no IPVS, so these bytes stand in for the kernel's answers.
//! The numbers below are written out from the header, not taken from the code under test.

use dockmap::collect::ipvs::message::{
    decode_destination, decode_message, decode_service, get_destinations_request,
    get_services_request, split_datagram,
};
use proptest::prelude::*;

// linux/ip_vs.h
const IPVS_CMD_NEW_SERVICE: u8 = 1;
const IPVS_CMD_GET_SERVICE: u8 = 4;
const IPVS_CMD_NEW_DEST: u8 = 5;
const IPVS_CMD_GET_DEST: u8 = 8;
const IPVS_CMD_ATTR_SERVICE: u16 = 1;
const IPVS_CMD_ATTR_DEST: u16 = 2;
const IPVS_SVC_ATTR_AF: u16 = 1;
const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
const IPVS_SVC_ATTR_ADDR: u16 = 3;
const IPVS_SVC_ATTR_PORT: u16 = 4;
const IPVS_SVC_ATTR_FWMARK: u16 = 5;
const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
const IPVS_SVC_ATTR_FLAGS: u16 = 7;
const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
const IPVS_SVC_ATTR_NETMASK: u16 = 9;
const IPVS_SVC_ATTR_STATS: u16 = 10;
const IPVS_SVC_ATTR_STATS64: u16 = 12;
const IPVS_DEST_ATTR_ADDR: u16 = 1;
const IPVS_DEST_ATTR_PORT: u16 = 2;
const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;
const IPVS_STATS_ATTR_CONNS: u16 = 1;
const IPVS_STATS_ATTR_INPKTS: u16 = 2;
const IP_VS_SVC_F_PERSISTENT: u32 = 0x1;
const IP_VS_SVC_F_HASHED: u32 = 0x2;
const IP_VS_CONN_F_MASQ: u32 = 0;
const IP_VS_CONN_F_DROUTE: u32 = 3;
// linux/netlink.h, linux/socket.h
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// A family id as the kernel might assign it to IPVS.
const FAMILY: u16 = 0x1c;

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(value);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

fn nested(kind: u16, inner: &[Vec<u8>]) -> Vec<u8> {
    nla(kind | NLA_F_NESTED, &inner.concat())
}

fn u16_ne(v: u16) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn u32_ne(v: u32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn u64_ne(v: u64) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn cstr(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    b
}

/// union nf_inet_addr: 16 bytes, IPv4 in the first four.
fn inet_addr(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b.resize(16, 0);
    b
}

fn genl_message(flags: u16, seq: u32, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body = attrs.concat();
    let len = 16 + 4 + body.len();
    let mut b = Vec::new();
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&FAMILY.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&[cmd, 1, 0, 0]);
    b.extend_from_slice(&body);
    b
}

fn ip_vs_flags(flags: u32, mask: u32) -> Vec<u8> {
    [u32_ne(flags), u32_ne(mask)].concat()
}

fn stats() -> Vec<Vec<u8>> {
    vec![
        nested(
            IPVS_SVC_ATTR_STATS,
            &[
                nla(IPVS_STATS_ATTR_CONNS, &u32_ne(12)),
                nla(IPVS_STATS_ATTR_INPKTS, &u32_ne(40)),
            ],
        ),
        nested(
            IPVS_SVC_ATTR_STATS64,
            &[nla(IPVS_STATS_ATTR_CONNS, &u64_ne(12))],
        ),
    ]
}

/// A fwmark service as Docker's routing mesh makes it (fwmark, rr, hashed).
fn docker_fwmark_service() -> Vec<u8> {
    let mut attrs = vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET)),
        nla(IPVS_SVC_ATTR_FWMARK, &u32_ne(0x100)),
        nla(IPVS_SVC_ATTR_SCHED_NAME, &cstr("rr")),
        nla(
            IPVS_SVC_ATTR_FLAGS,
            &ip_vs_flags(IP_VS_SVC_F_HASHED, 0xffff_ffff),
        ),
        nla(IPVS_SVC_ATTR_TIMEOUT, &u32_ne(0)),
        nla(IPVS_SVC_ATTR_NETMASK, &0xffff_ffffu32.to_be_bytes()),
    ];
    attrs.extend(stats());
    genl_message(
        NLM_F_MULTI,
        2,
        IPVS_CMD_NEW_SERVICE,
        &[nested(IPVS_CMD_ATTR_SERVICE, &attrs)],
    )
}

/// A real server as Docker adds it: masquerading, weight 1, port 0.
fn docker_destination(addr: [u8; 4], active: u32, inactive: u32) -> Vec<u8> {
    let attrs = vec![
        nla(IPVS_DEST_ATTR_ADDR, &inet_addr(&addr)),
        nla(IPVS_DEST_ATTR_PORT, &0u16.to_be_bytes()),
        nla(IPVS_DEST_ATTR_FWD_METHOD, &u32_ne(IP_VS_CONN_F_MASQ)),
        nla(IPVS_DEST_ATTR_WEIGHT, &u32_ne(1)),
        nla(IPVS_DEST_ATTR_TUN_TYPE, &[0]),
        nla(IPVS_DEST_ATTR_TUN_PORT, &0u16.to_be_bytes()),
        nla(IPVS_DEST_ATTR_TUN_FLAGS, &u16_ne(0)),
        nla(IPVS_DEST_ATTR_U_THRESH, &u32_ne(0)),
        nla(IPVS_DEST_ATTR_L_THRESH, &u32_ne(0)),
        nla(IPVS_DEST_ATTR_ACTIVE_CONNS, &u32_ne(active)),
        nla(IPVS_DEST_ATTR_INACT_CONNS, &u32_ne(inactive)),
        nla(IPVS_DEST_ATTR_PERSIST_CONNS, &u32_ne(0)),
        nla(IPVS_DEST_ATTR_ADDR_FAMILY, &u16_ne(AF_INET)),
    ];
    genl_message(
        NLM_F_MULTI,
        3,
        IPVS_CMD_NEW_DEST,
        &[nested(IPVS_CMD_ATTR_DEST, &attrs)],
    )
}

fn tcp_service() -> Vec<u8> {
    let attrs = vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET)),
        nla(IPVS_SVC_ATTR_PROTOCOL, &u16_ne(6)),
        nla(IPVS_SVC_ATTR_ADDR, &inet_addr(&[198, 18, 0, 10])),
        nla(IPVS_SVC_ATTR_PORT, &80u16.to_be_bytes()),
        nla(IPVS_SVC_ATTR_SCHED_NAME, &cstr("wrr")),
        nla(
            IPVS_SVC_ATTR_FLAGS,
            &ip_vs_flags(IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_HASHED, 0xffff_ffff),
        ),
        nla(IPVS_SVC_ATTR_TIMEOUT, &u32_ne(300)),
        nla(IPVS_SVC_ATTR_NETMASK, &0xffff_ffffu32.to_be_bytes()),
    ];
    genl_message(
        NLM_F_MULTI,
        2,
        IPVS_CMD_NEW_SERVICE,
        &[nested(IPVS_CMD_ATTR_SERVICE, &attrs)],
    )
}

/// 2001:2::/48 is the IPv6 benchmarking range (RFC 5180).
const V6_SERVICE: [u8; 16] = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const V6_REAL: [u8; 16] = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];

fn udp6_service() -> Vec<u8> {
    let attrs = vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET6)),
        nla(IPVS_SVC_ATTR_PROTOCOL, &u16_ne(17)),
        nla(IPVS_SVC_ATTR_ADDR, &V6_SERVICE),
        nla(IPVS_SVC_ATTR_PORT, &53u16.to_be_bytes()),
        nla(IPVS_SVC_ATTR_SCHED_NAME, &cstr("sh")),
        nla(
            IPVS_SVC_ATTR_FLAGS,
            &ip_vs_flags(IP_VS_SVC_F_HASHED, 0xffff_ffff),
        ),
        nla(IPVS_SVC_ATTR_TIMEOUT, &u32_ne(0)),
        nla(IPVS_SVC_ATTR_NETMASK, &128u32.to_be_bytes()),
    ];
    genl_message(
        NLM_F_MULTI,
        2,
        IPVS_CMD_NEW_SERVICE,
        &[nested(IPVS_CMD_ATTR_SERVICE, &attrs)],
    )
}

fn udp6_destination() -> Vec<u8> {
    let attrs = vec![
        nla(IPVS_DEST_ATTR_ADDR, &V6_REAL),
        nla(IPVS_DEST_ATTR_PORT, &5353u16.to_be_bytes()),
        nla(IPVS_DEST_ATTR_FWD_METHOD, &u32_ne(IP_VS_CONN_F_DROUTE)),
        nla(IPVS_DEST_ATTR_WEIGHT, &u32_ne(5)),
        nla(IPVS_DEST_ATTR_ACTIVE_CONNS, &u32_ne(7)),
        nla(IPVS_DEST_ATTR_INACT_CONNS, &u32_ne(0)),
        nla(IPVS_DEST_ATTR_ADDR_FAMILY, &u16_ne(AF_INET6)),
    ];
    genl_message(
        NLM_F_MULTI,
        3,
        IPVS_CMD_NEW_DEST,
        &[nested(IPVS_CMD_ATTR_DEST, &attrs)],
    )
}

#[test]
fn docker_fwmark_service_with_two_destinations() {
    // The kernel packs several dump messages into one datagram.
    let datagram = [
        docker_destination([198, 18, 1, 3], 0, 2),
        docker_destination([198, 18, 1, 4], 5, 0),
    ]
    .concat();
    let (service, key) = decode_service(&seed("fwmark_service", &docker_fwmark_service())).unwrap();
    assert_eq!(service.family, 4);
    assert_eq!(service.fwmark, Some(0x100));
    assert_eq!(service.protocol, None);
    assert_eq!(service.address, None);
    assert_eq!(service.port, None);
    assert_eq!(service.scheduler, "rr");
    assert_eq!(service.flags, IP_VS_SVC_F_HASHED);
    assert_eq!(service.timeout, 0);
    assert!(service.destinations.is_empty());

    let datagram = seed("two_destinations", &datagram);
    let messages = split_datagram(&datagram).unwrap();
    assert_eq!(messages.len(), 2);
    let dests: Vec<_> = messages
        .iter()
        .map(|m| decode_destination(m, key.af).unwrap())
        .collect();
    assert_eq!(dests[0].address, "198.18.1.3");
    assert_eq!(dests[0].port, 0);
    assert_eq!(dests[0].forward, "masq");
    assert_eq!(dests[0].weight, 1);
    assert_eq!(dests[0].active_conns, 0);
    assert_eq!(dests[0].inactive_conns, 2);
    assert_eq!(dests[1].address, "198.18.1.4");
    assert_eq!(dests[1].active_conns, 5);

    // The destination dump asks for exactly this service: AF + fwmark, nested.
    let expected = [16u32 + 4 + 4 + 8 + 8]
        .iter()
        .flat_map(|l| l.to_ne_bytes())
        .chain(FAMILY.to_ne_bytes())
        .chain((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes())
        .chain(9u32.to_ne_bytes())
        .chain(0u32.to_ne_bytes())
        .chain([IPVS_CMD_GET_DEST, 1, 0, 0])
        .chain(nested(
            IPVS_CMD_ATTR_SERVICE,
            &[
                nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET)),
                nla(IPVS_SVC_ATTR_FWMARK, &u32_ne(0x100)),
            ],
        ))
        .collect::<Vec<u8>>();
    assert_eq!(get_destinations_request(FAMILY, 9, &key), expected);
}

#[test]
fn service_dump_request_bytes() {
    let mut expected = Vec::new();
    expected.extend_from_slice(&20u32.to_ne_bytes());
    expected.extend_from_slice(&FAMILY.to_ne_bytes());
    expected.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    expected.extend_from_slice(&4u32.to_ne_bytes());
    expected.extend_from_slice(&0u32.to_ne_bytes());
    expected.extend_from_slice(&[IPVS_CMD_GET_SERVICE, 1, 0, 0]);
    assert_eq!(get_services_request(FAMILY, 4), expected);
}

#[test]
fn tcp_address_service() {
    let (service, key) = decode_service(&tcp_service()).unwrap();
    assert_eq!(service.family, 4);
    assert_eq!(service.fwmark, None);
    assert_eq!(service.protocol.as_deref(), Some("tcp"));
    assert_eq!(service.address.as_deref(), Some("198.18.0.10"));
    assert_eq!(service.port, Some(80));
    assert_eq!(service.scheduler, "wrr");
    assert_eq!(service.flags, IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_HASHED);
    assert_eq!(service.timeout, 300);
    // Its destination dump names it by protocol, address and port.
    let req = decode_message(&get_destinations_request(FAMILY, 1, &key)).unwrap();
    assert_eq!(req.cmd, IPVS_CMD_GET_DEST);
    let bytes = get_destinations_request(FAMILY, 1, &key);
    let want = nested(
        IPVS_CMD_ATTR_SERVICE,
        &[
            nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET)),
            nla(IPVS_SVC_ATTR_PROTOCOL, &u16_ne(6)),
            nla(IPVS_SVC_ATTR_ADDR, &inet_addr(&[198, 18, 0, 10])),
            nla(IPVS_SVC_ATTR_PORT, &80u16.to_be_bytes()),
        ],
    );
    assert_eq!(&bytes[20..], &want[..]);
}

#[test]
fn ipv6_service_and_destination() {
    let (service, key) = decode_service(&seed("udp6_service", &udp6_service())).unwrap();
    assert_eq!(service.family, 6);
    assert_eq!(service.protocol.as_deref(), Some("udp"));
    assert_eq!(service.address.as_deref(), Some("2001:2::10"));
    assert_eq!(service.port, Some(53));
    assert_eq!(service.scheduler, "sh");
    let dest = decode_destination(&seed("udp6_destination", &udp6_destination()), key.af).unwrap();
    assert_eq!(dest.address, "2001:2::20");
    assert_eq!(dest.port, 5353);
    assert_eq!(dest.forward, "route");
    assert_eq!(dest.weight, 5);
    assert_eq!(dest.active_conns, 7);
}

#[test]
fn destination_family_comes_from_the_service_when_not_sent() {
    // Kernels before 4.x send no IPVS_DEST_ATTR_ADDR_FAMILY.
    let attrs = vec![
        nla(IPVS_DEST_ATTR_ADDR, &V6_REAL),
        nla(IPVS_DEST_ATTR_PORT, &8080u16.to_be_bytes()),
        nla(IPVS_DEST_ATTR_FWD_METHOD, &u32_ne(2)),
        nla(IPVS_DEST_ATTR_WEIGHT, &u32_ne(1)),
    ];
    let msg = genl_message(
        NLM_F_MULTI,
        3,
        IPVS_CMD_NEW_DEST,
        &[nested(IPVS_CMD_ATTR_DEST, &attrs)],
    );
    let dest = decode_destination(&msg, AF_INET6).unwrap();
    assert_eq!(dest.address, "2001:2::20");
    assert_eq!(dest.forward, "tunnel");
    assert!(decode_destination(&msg, AF_INET).unwrap().address == "32.1.0.2");
}

/// The same message with its header length cut to `len` bytes.
fn cut(msg: &[u8], len: usize) -> Vec<u8> {
    let mut b = msg[..len].to_vec();
    if len >= 4 {
        b[..4].copy_from_slice(&(len as u32).to_ne_bytes());
    }
    b
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for msg in [docker_fwmark_service(), tcp_service(), udp6_service()] {
        for len in 0..msg.len() {
            assert!(decode_service(&msg[..len]).is_err(), "raw cut at {len}");
            assert!(
                decode_service(&cut(&msg, len)).is_err(),
                "header-adjusted cut at {len}"
            );
        }
    }
    let dest = docker_destination([198, 18, 1, 3], 0, 0);
    for len in 0..dest.len() {
        assert!(
            decode_destination(&cut(&dest, len), AF_INET).is_err(),
            "cut at {len}"
        );
    }
    let two = [dest.clone(), dest.clone()].concat();
    assert!(split_datagram(&two[..two.len() - 1]).is_err());
}

#[test]
fn malformed_services_are_errors() {
    let service = |attrs: Vec<Vec<u8>>| {
        genl_message(
            NLM_F_MULTI,
            2,
            IPVS_CMD_NEW_SERVICE,
            &[nested(IPVS_CMD_ATTR_SERVICE, &attrs)],
        )
    };
    // No address family.
    assert!(decode_service(&service(vec![nla(IPVS_SVC_ATTR_FWMARK, &u32_ne(1))])).is_err());
    // Neither a mark nor protocol/address/port.
    assert!(decode_service(&service(vec![nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET))])).is_err());
    // An unknown address family.
    let bad_af = service(vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(7)),
        nla(IPVS_SVC_ATTR_PROTOCOL, &u16_ne(6)),
        nla(IPVS_SVC_ATTR_ADDR, &inet_addr(&[198, 18, 0, 1])),
        nla(IPVS_SVC_ATTR_PORT, &80u16.to_be_bytes()),
    ]);
    assert!(decode_service(&bad_af).is_err());
    // An IPv6 service with a 4-byte address.
    let short_v6 = service(vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET6)),
        nla(IPVS_SVC_ATTR_PROTOCOL, &u16_ne(6)),
        nla(IPVS_SVC_ATTR_ADDR, &[198, 18, 0, 1]),
        nla(IPVS_SVC_ATTR_PORT, &80u16.to_be_bytes()),
    ]);
    assert!(decode_service(&short_v6).is_err());
    // Flags of the wrong size.
    let bad_flags = service(vec![
        nla(IPVS_SVC_ATTR_AF, &u16_ne(AF_INET)),
        nla(IPVS_SVC_ATTR_FWMARK, &u32_ne(1)),
        nla(IPVS_SVC_ATTR_FLAGS, &u32_ne(2)),
    ]);
    assert!(decode_service(&bad_flags).is_err());
    // An attribute whose length is shorter than its own header.
    let mut bad_nla = docker_fwmark_service();
    bad_nla[24..26].copy_from_slice(&2u16.to_ne_bytes());
    assert!(decode_service(&bad_nla).is_err());
    // A destination given to the service decoder, and the other way round.
    let dest = docker_destination([198, 18, 1, 3], 0, 0);
    assert!(decode_service(&dest).is_err());
    assert!(decode_destination(&docker_fwmark_service(), AF_INET).is_err());
    // A destination without its forwarding method.
    let no_fwd = genl_message(
        NLM_F_MULTI,
        3,
        IPVS_CMD_NEW_DEST,
        &[nested(
            IPVS_CMD_ATTR_DEST,
            &[nla(IPVS_DEST_ATTR_ADDR, &inet_addr(&[198, 18, 1, 3]))],
        )],
    );
    assert!(decode_destination(&no_fwd, AF_INET).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = split_datagram(&bytes);
        let _ = decode_message(&bytes);
        let _ = decode_service(&bytes);
        let _ = decode_destination(&bytes, AF_INET);
    }

    #[test]
    fn corrupted_real_messages_never_panic(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut msg = match which {
            0 => docker_fwmark_service(),
            1 => tcp_service(),
            2 => udp6_service(),
            _ => docker_destination([198, 18, 1, 3], 1, 2),
        };
        for (at, value) in flips {
            let i = at.index(msg.len());
            msg[i] = value;
        }
        let _ = decode_service(&msg);
        let _ = decode_destination(&msg, AF_INET6);
        let _ = split_datagram(&msg);
    }
}

/// With DOCKMAP_FUZZ_SEEDS set, keep `bytes` there as a seed of the fuzz target's corpus
/// (`fuzz/seed.sh` runs these tests so): the recorded shapes are where fuzzing starts.
fn seed(name: &str, bytes: &[u8]) -> Vec<u8> {
    if let Some(dir) = std::env::var_os("DOCKMAP_FUZZ_SEEDS") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    bytes.to_vec()
}
