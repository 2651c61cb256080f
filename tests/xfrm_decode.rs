//! XFRM netlink answers built byte by byte from linux/xfrm.h, decoded by the collector's decoder.
//!
//! This kernel has no ESP, so it cannot hold the SAs Docker programs; these bytes stand in for
//! what a kernel with ESP answers to an SA dump (see tests/fixtures/xfrm/README.md). The offsets
//! are written out from the header, not taken from the code under test.

use dockmap::collect::xfrm::message::{decode_policy, decode_sa};
use dockmap::snapshot::XfrmMark;

const XFRM_MSG_NEWSA: u16 = 0x10;
const XFRM_MSG_NEWPOLICY: u16 = 0x13;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IPPROTO_ESP: u8 = 50;
const IPPROTO_UDP: u8 = 17;
const XFRM_MODE_TRANSPORT: u8 = 0;
const XFRMA_ALG_AUTH: u16 = 1;
const XFRMA_ALG_CRYPT: u16 = 2;
const XFRMA_TMPL: u16 = 5;
const XFRMA_LTIME_VAL: u16 = 9;
const XFRMA_REPLAY_VAL: u16 = 10;
const XFRMA_ALG_AEAD: u16 = 18;
const XFRMA_ALG_AUTH_TRUNC: u16 = 20;
const XFRMA_MARK: u16 = 21;
/// moby's `mark`: reqid of its SAs, mark of its policies.
const DOCKER: u32 = 0xD0C4E3;
/// A key no output may contain.
const KEY: [u8; 20] = [
    0x5e, 0xc4, 0xe7, 0x5e, 0xc4, 0xe7, 0x5e, 0xc4, 0xe7, 0x5e, 0xc4, 0xe7, 0x5e, 0xc4, 0xe7, 0x5e,
    0xc4, 0xe7, 0xa1, 0xb2,
];

fn addr4(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a);
    out
}

fn addr6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().expect("v6").octets()
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

/// struct xfrm_algo{,_aead,_auth}: name[64], key length in bits, (icv/trunc length), key.
fn algo(name: &str, extra: Option<u32>, key: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[..name.len()].copy_from_slice(name.as_bytes());
    p.extend_from_slice(&((key.len() * 8) as u32).to_ne_bytes());
    if let Some(x) = extra {
        p.extend_from_slice(&x.to_ne_bytes());
    }
    p.extend_from_slice(key);
    p
}

fn message(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&0x2u16.to_ne_bytes()); // NLM_F_MULTI
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// struct xfrm_usersa_info (224 bytes): selector 0..56, id {daddr 56, spi 72 (be), proto 76},
/// saddr 80, lft 96, curlft 160, stats 192, seq 204, reqid 208, family 212, mode 214.
fn usersa(family: u16, src: [u8; 16], dst: [u8; 16], spi: u32, reqid: u32) -> Vec<u8> {
    let mut b = vec![0u8; 224];
    put(&mut b, 56, &dst);
    put(&mut b, 72, &spi.to_be_bytes());
    b[76] = IPPROTO_ESP;
    put(&mut b, 80, &src);
    put(&mut b, 96, &u64::MAX.to_ne_bytes()); // lft.soft_byte_limit: "inf", as the kernel says
    put(&mut b, 160, &1234u64.to_ne_bytes()); // curlft.bytes
    put(&mut b, 208, &reqid.to_ne_bytes());
    put(&mut b, 212, &family.to_ne_bytes());
    b[214] = XFRM_MODE_TRANSPORT;
    b[215] = 32; // replay_window
    b
}

#[test]
fn dockers_esp_sa_keeps_its_identity_and_loses_its_key() {
    // moby programSA: ESP, transport, reqid = mark, AEAD rfc4106(gcm(aes)) with a 16-byte key and
    // the 4-byte salt (its SPI) appended, ICV 64 bits.
    let mut body = usersa(
        AF_INET,
        addr4([198, 18, 192, 1]),
        addr4([198, 18, 192, 2]),
        0x8a2b_1c3d,
        DOCKER,
    );
    body.extend(attr(XFRMA_REPLAY_VAL, &[0u8; 12]));
    body.extend(attr(
        XFRMA_ALG_AEAD,
        &algo("rfc4106(gcm(aes))", Some(64), &KEY),
    ));
    body.extend(attr(XFRMA_LTIME_VAL, &[0u8; 32]));
    let sa = decode_sa(&seed("sa1", &message(XFRM_MSG_NEWSA, &body))).expect("decodes");
    assert_eq!(sa.src, "198.18.192.1");
    assert_eq!(sa.dst, "198.18.192.2");
    assert_eq!(sa.proto, "esp");
    assert_eq!(sa.spi, 0x8a2b_1c3d);
    assert_eq!(sa.reqid, DOCKER);
    assert_eq!(sa.mode, "transport");
    assert_eq!(sa.algorithms, vec!["aead rfc4106(gcm(aes))"]);
    assert_eq!(sa.mark, None);
    let json = serde_json::to_string(&sa).expect("serializes");
    assert!(
        !json.contains("5ec4e7") && !json.contains("94,196"),
        "{json}"
    );
    assert!(!format!("{sa:?}").contains("5ec4e7"));
}

#[test]
fn a_v6_sa_with_cipher_and_truncated_auth_names_both_once() {
    let mut body = usersa(
        AF_INET6,
        addr6("2001:2::1"),
        addr6("2001:2::2"),
        0x0000_0101,
        7,
    );
    body.extend(attr(XFRMA_ALG_CRYPT, &algo("cbc(aes)", None, &KEY[..16])));
    // The kernel sends an HMAC both as AUTH and as AUTH_TRUNC.
    body.extend(attr(XFRMA_ALG_AUTH, &algo("hmac(sha256)", None, &KEY)));
    body.extend(attr(
        XFRMA_ALG_AUTH_TRUNC,
        &algo("hmac(sha256)", Some(128), &KEY),
    ));
    body.extend(attr(
        XFRMA_MARK,
        &[&7u32.to_ne_bytes()[..], &0xffu32.to_ne_bytes()[..]].concat(),
    ));
    let sa = decode_sa(&seed("sa2", &message(XFRM_MSG_NEWSA, &body))).expect("decodes");
    assert_eq!(sa.src, "2001:2::1");
    assert_eq!(sa.dst, "2001:2::2");
    assert_eq!(sa.spi, 0x101);
    assert_eq!(sa.algorithms, vec!["auth hmac(sha256)", "enc cbc(aes)"]);
    assert_eq!(
        sa.mark,
        Some(XfrmMark {
            value: 7,
            mask: 0xff
        })
    );
}

#[test]
fn dockers_out_policy_with_template_and_mark() {
    // struct xfrm_userpolicy_info (168): selector {daddr 0, saddr 16, dport 32 (be), dport_mask
    // 34, family 40, prefixlen_d 42, prefixlen_s 43, proto 44}, lft 56, curlft 120, priority
    // 152, index 156, dir 160, action 161.
    let mut b = vec![0u8; 168];
    put(&mut b, 0, &addr4([198, 18, 192, 2]));
    put(&mut b, 16, &addr4([198, 18, 192, 1]));
    put(&mut b, 32, &4789u16.to_be_bytes());
    put(&mut b, 34, &0xffffu16.to_be_bytes());
    put(&mut b, 40, &AF_INET.to_ne_bytes());
    b[42] = 32;
    b[43] = 32;
    b[44] = IPPROTO_UDP;
    put(&mut b, 152, &0u32.to_ne_bytes());
    put(&mut b, 156, &0x409u32.to_ne_bytes());
    b[160] = 1; // XFRM_POLICY_OUT
    b[161] = 0; // XFRM_POLICY_ALLOW
                // struct xfrm_user_tmpl (64): id {daddr 0, spi 16 (be), proto 20}, family 24, saddr 28,
                // reqid 44, mode 48.
    let mut t = vec![0u8; 64];
    put(&mut t, 0, &addr4([198, 18, 192, 2]));
    put(&mut t, 16, &0x8a2b_1c3du32.to_be_bytes());
    t[20] = IPPROTO_ESP;
    put(&mut t, 24, &AF_INET.to_ne_bytes());
    put(&mut t, 28, &addr4([198, 18, 192, 1]));
    put(&mut t, 44, &DOCKER.to_ne_bytes());
    t[48] = XFRM_MODE_TRANSPORT;
    b.extend(attr(XFRMA_TMPL, &t));
    b.extend(attr(
        XFRMA_MARK,
        &[&DOCKER.to_ne_bytes()[..], &u32::MAX.to_ne_bytes()[..]].concat(),
    ));
    let p = decode_policy(&seed("policy", &message(XFRM_MSG_NEWPOLICY, &b))).expect("decodes");
    assert_eq!(p.dir, "out");
    assert_eq!(p.src, "198.18.192.1/32");
    assert_eq!(p.dst, "198.18.192.2/32");
    assert_eq!(p.proto, 17);
    assert_eq!(p.dport, Some(4789));
    assert_eq!(p.index, 0x409);
    assert_eq!(p.action, "allow");
    assert_eq!(
        p.mark,
        Some(XfrmMark {
            value: DOCKER,
            mask: u32::MAX
        })
    );
    assert_eq!(p.templates.len(), 1);
    assert_eq!(p.templates[0].spi, 0x8a2b_1c3d);
    assert_eq!(p.templates[0].src, "198.18.192.1");
    assert_eq!(p.templates[0].reqid, DOCKER);
}

#[test]
fn a_truncated_sa_is_an_error_not_a_panic() {
    let body = usersa(AF_INET, [0; 16], [0; 16], 1, 1);
    let mut m = message(XFRM_MSG_NEWSA, &body[..100]);
    assert!(decode_sa(&m).is_err());
    // An attribute claiming more bytes than there are.
    let mut full = usersa(AF_INET, [0; 16], [0; 16], 1, 1);
    full.extend_from_slice(&[200, 0, 18, 0, 1, 2, 3, 4]);
    m = message(XFRM_MSG_NEWSA, &full);
    assert!(decode_sa(&m).is_err());
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
