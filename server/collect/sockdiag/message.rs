//! inet_diag over NETLINK_SOCK_DIAG, hand-decoded (linux/inet_diag.h, linux/sock_diag.h):
//! netlink-packet-sock-diag wants another netlink-packet-core than the pinned one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::collect::nldump::{header, NLMSG_HDRLEN};

/// The request and answer type of inet_diag dumps.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, `struct inet_diag_sockid`.
const REQ_LEN: usize = 56;
/// `struct inet_diag_msg` without its attributes.
const MSG_LEN: usize = 72;
/// TCP_LISTEN.
pub const STATE_LISTEN: u8 = 10;
/// TCP_CLOSE: an unconnected (bound or not) UDP socket.
pub const STATE_CLOSE: u8 = 7;

/// Why an answer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SockDiagDecodeError {
    /// Fewer bytes than `struct inet_diag_msg` needs.
    #[error("inet_diag_msg of {got} bytes, {need} needed")]
    Short {
        /// Bytes there.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A family other than AF_INET or AF_INET6.
    #[error("inet_diag_msg of address family {0}")]
    Family(u8),
}

/// One socket as inet_diag describes it (the parts dockmap keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSocket {
    /// TCP state number (10 LISTEN, 7 CLOSE).
    pub state: u8,
    /// Local address.
    pub src: IpAddr,
    /// Local port.
    pub sport: u16,
    /// Remote port (0 for an unconnected socket).
    pub dport: u16,
    /// The socket's inode (what `/proc/<pid>/fd` links to as `socket:[inode]`).
    pub inode: u32,
}

/// A dump request for every socket of `family` (AF_INET, AF_INET6) and `protocol` (IPPROTO_TCP,
/// IPPROTO_UDP) in one of `states` (a bit per state number).
pub fn dump_request(family: u8, protocol: u8, states: u32, seq: u32) -> Vec<u8> {
    let mut out = header(
        SOCK_DIAG_BY_FAMILY,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        REQ_LEN,
    );
    out.extend_from_slice(&[family, protocol, 0, 0]);
    out.extend_from_slice(&states.to_ne_bytes());
    // The socket ID stays zero: a dump filters by nothing else.
    out.resize(NLMSG_HDRLEN + REQ_LEN, 0);
    out
}

/// Decode one SOCK_DIAG_BY_FAMILY answer (netlink header included).
pub fn decode(msg: &[u8]) -> Result<DiagSocket, SockDiagDecodeError> {
    let need = NLMSG_HDRLEN + MSG_LEN;
    if msg.len() < need {
        return Err(SockDiagDecodeError::Short {
            got: msg.len(),
            need,
        });
    }
    let b = &msg[NLMSG_HDRLEN..];
    let be16 = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let src = match i32::from(b[0]) {
        libc::AF_INET => IpAddr::V4(Ipv4Addr::new(b[8], b[9], b[10], b[11])),
        libc::AF_INET6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return Err(SockDiagDecodeError::Family(b[0])),
    };
    Ok(DiagSocket {
        state: b[1],
        src,
        sport: be16(4),
        dport: be16(6),
        inode: u32::from_ne_bytes([b[68], b[69], b[70], b[71]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's answer (6.18) for a Python listener on 127.0.0.1:47123, inode 2711109,
    /// attributes included: recorded with a NETLINK_SOCK_DIAG dump of AF_INET TCP LISTEN.
    const RECORDED: &str = "7c00000014000200070000001c1b0000020a0000b81300007f000001000000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000800000000000000045\
5e2900050008000000000008000f00000000000c00150001000000000000000600160052000000";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_a_recorded_listener() {
        let s = decode(&unhex(RECORDED)).unwrap();
        assert_eq!(s.state, STATE_LISTEN);
        assert_eq!(s.src, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.sport, 47123);
        assert_eq!(s.dport, 0);
        assert_eq!(s.inode, 2711109);
    }

    #[test]
    fn refuses_short_and_foreign_answers() {
        let b = unhex(RECORDED);
        assert!(matches!(
            decode(&b[..80]),
            Err(SockDiagDecodeError::Short { got: 80, .. })
        ));
        let mut other = b.clone();
        other[16] = 1; // AF_UNIX
        assert_eq!(decode(&other), Err(SockDiagDecodeError::Family(1)));
    }

    #[test]
    fn request_is_a_dump_of_one_family_and_protocol() {
        let r = dump_request(libc::AF_INET6 as u8, libc::IPPROTO_UDP as u8, 1 << 7, 9);
        assert_eq!(r.len(), 72);
        assert_eq!(u32::from_ne_bytes([r[0], r[1], r[2], r[3]]), 72);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x301);
        assert_eq!(&r[16..20], &[10, 17, 0, 0]);
        assert_eq!(u32::from_ne_bytes([r[20], r[21], r[22], r[23]]), 1 << 7);
    }
}
