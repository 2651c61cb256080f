//! XFRM netlink messages decoded by hand from the layouts of linux/xfrm.h.
//!
//! netlink-packet-xfrm 0.3 needs netlink-packet-core 0.7, not the pinned 0.9, so the few structs
//! dockmap reads are decoded here: `xfrm_usersa_info` (224 bytes), `xfrm_userpolicy_info`
//! (168 bytes), `xfrm_user_tmpl` (64 bytes), the algorithm attributes (only their 64-byte
//! name: the key that follows is never read) and `xfrm_mark`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::snapshot::{XfrmMark, XfrmPolicy, XfrmSa, XfrmTemplate};

/// XFRM_MSG_NEWSA: one SA of a dump.
pub const XFRM_MSG_NEWSA: u16 = 0x10;
/// XFRM_MSG_GETSA: dump the SAs.
pub const XFRM_MSG_GETSA: u16 = 0x12;
/// XFRM_MSG_NEWPOLICY: one policy of a dump.
pub const XFRM_MSG_NEWPOLICY: u16 = 0x13;
/// XFRM_MSG_GETPOLICY: dump the policies.
pub const XFRM_MSG_GETPOLICY: u16 = 0x15;

/// sizeof(struct xfrm_usersa_info) on Linux (all architectures with 8-byte u64 alignment).
pub const USERSA_INFO_LEN: usize = 224;
/// sizeof(struct xfrm_userpolicy_info).
pub const USERPOLICY_INFO_LEN: usize = 168;
/// sizeof(struct xfrm_user_tmpl).
pub const USER_TMPL_LEN: usize = 64;
/// Length of an algorithm name (`char alg_name[64]`).
const ALG_NAME_LEN: usize = 64;
const NLMSG_HDRLEN: usize = 16;

// enum xfrm_attr_type_t
const XFRMA_ALG_AUTH: u16 = 1;
const XFRMA_ALG_CRYPT: u16 = 2;
const XFRMA_ALG_COMP: u16 = 3;
const XFRMA_TMPL: u16 = 5;
const XFRMA_ALG_AEAD: u16 = 18;
const XFRMA_ALG_AUTH_TRUNC: u16 = 20;
const XFRMA_MARK: u16 = 21;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XfrmDecodeError {
    /// Fewer bytes than the struct needs.
    #[error("{what}: {got} bytes, need {need}")]
    Short {
        /// Which struct.
        what: &'static str,
        /// Bytes present.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// An attribute header says a length the message does not hold.
    #[error("attribute {kind} of length {len} overruns the message")]
    BadAttribute {
        /// Attribute type.
        kind: u16,
        /// Its stated length.
        len: usize,
    },
    /// A message type other than the one decoded.
    #[error("message type {got:#x}, expected {want:#x}")]
    WrongType {
        /// The type found.
        got: u16,
        /// The type expected.
        want: u16,
    },
}

/// A dump request: a bare netlink header (the kernel parses no payload for XFRM dumps).
pub fn dump_request(message_type: u16, seq: u32) -> Vec<u8> {
    crate::collect::nldump::header(message_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
}

fn need(b: &[u8], n: usize, what: &'static str) -> Result<(), XfrmDecodeError> {
    if b.len() < n {
        return Err(XfrmDecodeError::Short {
            what,
            got: b.len(),
            need: n,
        });
    }
    Ok(())
}

fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// An `xfrm_address_t` (16 bytes) as text for the given address family; empty for "any".
fn address(b: &[u8], family: u16) -> String {
    match family as i32 {
        libc::AF_INET => Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        libc::AF_INET6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            Ipv6Addr::from(a).to_string()
        }
        _ => String::new(),
    }
}

/// IPPROTO_* of an xfrm id, in `ip xfrm`'s words.
pub fn proto_name(p: u8) -> String {
    match p {
        50 => "esp".to_owned(),
        51 => "ah".to_owned(),
        108 => "comp".to_owned(),
        43 => "route2".to_owned(),
        60 => "hao".to_owned(),
        other => other.to_string(),
    }
}

/// XFRM_MODE_* in `ip xfrm`'s words.
pub fn mode_name(m: u8) -> String {
    match m {
        0 => "transport".to_owned(),
        1 => "tunnel".to_owned(),
        2 => "ro".to_owned(),
        3 => "in_trigger".to_owned(),
        4 => "beet".to_owned(),
        other => other.to_string(),
    }
}

fn dir_name(d: u8) -> String {
    match d {
        0 => "in".to_owned(),
        1 => "out".to_owned(),
        2 => "fwd".to_owned(),
        other => other.to_string(),
    }
}

/// The attributes after a fixed struct: (type without flag bits, payload).
fn attributes(mut b: &[u8]) -> Result<Vec<(u16, &[u8])>, XfrmDecodeError> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16_ne(b, 0) as usize;
        let kind = u16_ne(b, 2) & 0x3fff;
        if len < 4 || len > b.len() {
            return Err(XfrmDecodeError::BadAttribute { kind, len });
        }
        out.push((kind, &b[4..len]));
        let aligned = (len + 3) & !3;
        b = &b[aligned.min(b.len())..];
    }
    Ok(out)
}

/// The name at the start of an `xfrm_algo*` attribute; the key after it is never looked at.
fn algorithm_name(payload: &[u8]) -> String {
    let name = &payload[..payload.len().min(ALG_NAME_LEN)];
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}

fn mark(payload: &[u8]) -> Option<XfrmMark> {
    (payload.len() >= 8).then(|| XfrmMark {
        value: u32_ne(payload, 0),
        mask: u32_ne(payload, 4),
    })
}

/// The payload of a whole netlink message of `want` type (header checked and stripped).
fn payload(msg: &[u8], want: u16) -> Result<&[u8], XfrmDecodeError> {
    need(msg, NLMSG_HDRLEN, "nlmsghdr")?;
    let got = u16_ne(msg, 4);
    if got != want {
        return Err(XfrmDecodeError::WrongType { got, want });
    }
    let len = (u32_ne(msg, 0) as usize).clamp(NLMSG_HDRLEN, msg.len());
    Ok(&msg[NLMSG_HDRLEN..len])
}

/// One XFRM_MSG_NEWSA message (header included) of an SA dump.
pub fn decode_sa(msg: &[u8]) -> Result<XfrmSa, XfrmDecodeError> {
    let b = payload(msg, XFRM_MSG_NEWSA)?;
    need(b, USERSA_INFO_LEN, "xfrm_usersa_info")?;
    // xfrm_usersa_info: sel 0..56, id 56..80 (daddr 56, spi 72 (be), proto 76), saddr 80..96,
    // lft 96..160, curlft 160..192, stats 192..204, seq 204, reqid 208, family 212, mode 214.
    let family = u16_ne(b, 212);
    let mut sa = XfrmSa {
        src: address(&b[80..96], family),
        dst: address(&b[56..72], family),
        proto: proto_name(b[76]),
        spi: u32_be(b, 72),
        reqid: u32_ne(b, 208),
        mode: mode_name(b[214]),
        algorithms: Vec::new(),
        mark: None,
    };
    for (kind, p) in attributes(&b[USERSA_INFO_LEN..])? {
        let role = match kind {
            XFRMA_ALG_AEAD => "aead",
            XFRMA_ALG_CRYPT => "enc",
            XFRMA_ALG_AUTH | XFRMA_ALG_AUTH_TRUNC => "auth",
            XFRMA_ALG_COMP => "comp",
            XFRMA_MARK => {
                sa.mark = mark(p);
                continue;
            }
            _ => continue,
        };
        let entry = format!("{role} {}", algorithm_name(p));
        // The kernel sends both AUTH and AUTH_TRUNC for one algorithm.
        if !sa.algorithms.contains(&entry) {
            sa.algorithms.push(entry);
        }
    }
    sa.algorithms.sort();
    Ok(sa)
}

/// One XFRM_MSG_NEWPOLICY message (header included) of a policy dump.
pub fn decode_policy(msg: &[u8]) -> Result<XfrmPolicy, XfrmDecodeError> {
    let b = payload(msg, XFRM_MSG_NEWPOLICY)?;
    need(b, USERPOLICY_INFO_LEN, "xfrm_userpolicy_info")?;
    // xfrm_selector: daddr 0, saddr 16, dport 32 (be), dport_mask 34, sport 36, sport_mask 38,
    // family 40, prefixlen_d 42, prefixlen_s 43, proto 44.
    let family = u16_ne(b, 40);
    let cidr = |at: usize, len: u8| {
        let a = address(&b[at..at + 16], family);
        if a.is_empty() {
            String::new()
        } else {
            format!("{a}/{len}")
        }
    };
    let dport_mask = u16::from_be_bytes([b[34], b[35]]);
    let mut p = XfrmPolicy {
        dir: dir_name(b[160]),
        src: cidr(16, b[43]),
        dst: cidr(0, b[42]),
        proto: b[44],
        dport: (dport_mask != 0).then(|| u16::from_be_bytes([b[32], b[33]])),
        // lft 56..120, curlft 120..152, priority 152, index 156, dir 160, action 161.
        action: if b[161] == 1 { "block" } else { "allow" }.to_owned(),
        priority: u32_ne(b, 152),
        index: u32_ne(b, 156),
        mark: None,
        templates: Vec::new(),
    };
    for (kind, payload) in attributes(&b[USERPOLICY_INFO_LEN..])? {
        match kind {
            XFRMA_TMPL => {
                for t in payload.chunks_exact(USER_TMPL_LEN) {
                    p.templates.push(template(t));
                }
            }
            XFRMA_MARK => p.mark = mark(payload),
            _ => {}
        }
    }
    Ok(p)
}

/// One `xfrm_user_tmpl`: id 0..24 (daddr 0, spi 16 (be), proto 20), family 24, saddr 28,
/// reqid 44, mode 48.
fn template(t: &[u8]) -> XfrmTemplate {
    let family = u16_ne(t, 24);
    XfrmTemplate {
        src: address(&t[28..44], family),
        dst: address(&t[0..16], family),
        proto: proto_name(t[20]),
        spi: u32_be(t, 16),
        reqid: u32_ne(t, 44),
        mode: mode_name(t[48]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_request_is_a_bare_header() {
        let r = dump_request(XFRM_MSG_GETSA, 7);
        assert_eq!(r.len(), 16);
        assert_eq!(u32_ne(&r, 0), 16);
        assert_eq!(u16_ne(&r, 4), 0x12);
        assert_eq!(u16_ne(&r, 6), 0x301);
        assert_eq!(u32_ne(&r, 8), 7);
    }

    #[test]
    fn short_and_foreign_messages_are_errors() {
        let mut msg = dump_request(XFRM_MSG_NEWSA, 1);
        msg.extend_from_slice(&[0u8; 10]);
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        assert!(matches!(
            decode_sa(&msg),
            Err(XfrmDecodeError::Short { got: 10, .. })
        ));
        assert!(matches!(
            decode_policy(&msg),
            Err(XfrmDecodeError::WrongType { .. })
        ));
    }

    #[test]
    fn attributes_that_overrun_are_errors() {
        let bad = [20u8, 0, 1, 0, 0, 0];
        assert!(attributes(&bad).is_err());
        let ok = [8u8, 0, 21, 0, 1, 0, 0, 0];
        assert_eq!(attributes(&ok).unwrap().len(), 1);
    }
}
