//! Which packet-filter tables a namespace holds, found without running any tool.
//!
//! Spawning iptables-save costs milliseconds; most container namespaces hold no
//! rules at all. An nf_tables table dump (one netlink round trip) plus the
//! legacy x_tables table list (a proc file) prove a namespace empty in
//! microseconds. Both must be read from a thread that is inside the namespace.

use crate::collect::sockopt::set_recv_timeout;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NlasIterator, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

/// nfnetlink subsystem of nf_tables (linux/netfilter/nfnetlink.h).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// nf_tables message types (linux/netfilter/nf_tables.h).
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
/// Generation attribute holding its id (big endian).
const NFTA_GEN_ID: u16 = 1;
/// Table attribute holding its name.
const NFTA_TABLE_NAME: u16 = 1;
/// Dump every family.
const NFPROTO_UNSPEC: u8 = 0;
/// Address families of nf_tables tables.
const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_ARP: u8 = 3;
const NFPROTO_NETDEV: u8 = 5;
const NFPROTO_BRIDGE: u8 = 7;
const NFPROTO_IPV6: u8 = 10;
/// The dump changed while it was read (linux/netlink.h).
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
/// A kernel that never answers must not hang a snapshot.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Table names iptables-nft creates for itself (in families ip and ip6).
const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// One nf_tables table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftTable {
    /// NFPROTO_* family number.
    pub family: u8,
    /// Table name.
    pub name: String,
}

impl NftTable {
    /// The family as nft names it (`ip`, `ip6`, `inet`, ...).
    pub fn family_name(&self) -> String {
        match self.family {
            NFPROTO_INET => "inet".to_owned(),
            NFPROTO_IPV4 => "ip".to_owned(),
            NFPROTO_ARP => "arp".to_owned(),
            NFPROTO_NETDEV => "netdev".to_owned(),
            NFPROTO_BRIDGE => "bridge".to_owned(),
            NFPROTO_IPV6 => "ip6".to_owned(),
            other => format!("family{other}"),
        }
    }

    /// A table iptables-nft (or ip6tables-nft) made: iptables-save shows it.
    pub fn is_iptables_nft(&self) -> bool {
        (self.family == NFPROTO_IPV4 || self.family == NFPROTO_IPV6)
            && IPTABLES_TABLES.contains(&self.name.as_str())
    }

    /// An iptables-nft table of IPv4 (`false`: IPv6).
    pub fn is_ipv4(&self) -> bool {
        self.family == NFPROTO_IPV4
    }
}

impl std::fmt::Display for NftTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.family_name(), self.name)
    }
}

/// Where a namespace's nf_tables ruleset stands: a namespace that is never
/// reused within a boot (its cookie) and the ruleset generation, which the
/// kernel bumps on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NftGeneration {
    /// SO_NETNS_COOKIE of the namespace.
    pub netns_cookie: u64,
    /// NFTA_GEN_ID of its ruleset.
    pub genid: u32,
}

/// The tables of one namespace; an `Err` says why that part could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProbe {
    /// nf_tables tables of every family.
    pub nftables: Result<Vec<NftTable>, String>,
    /// The ruleset generation, when the kernel tells it (5.14+ for the cookie).
    pub generation: Option<NftGeneration>,
    /// Legacy iptables tables (`ip_tables_names`).
    pub legacy_ipv4: Result<Vec<String>, String>,
    /// Legacy ip6tables tables (`ip6_tables_names`).
    pub legacy_ipv6: Result<Vec<String>, String>,
}

/// Read the tables of the namespace the calling thread is in.
///
/// Call it on a thread that entered the namespace (see `netns::run_in`).
pub fn probe_current_thread() -> TableProbe {
    let (nftables, generation) = match nft_tables() {
        Ok((tables, generation)) => (Ok(tables), generation),
        Err(e) => (Err(format!("nf_tables table dump: {e}")), None),
    };
    TableProbe {
        nftables,
        generation,
        legacy_ipv4: legacy_tables("ip_tables_names"),
        legacy_ipv6: legacy_tables("ip6_tables_names"),
    }
}

/// Legacy x_tables of this thread's namespace. The file exists only while the
/// ip_tables / ip6_tables module is loaded; without it there are no legacy tables.
fn legacy_tables(file: &str) -> Result<Vec<String>, String> {
    // /proc/net follows the main thread's namespace, not this thread's.
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    let path = format!("/proc/self/task/{tid}/net/{file}");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

/// The nf_tables tables of every family, and the ruleset generation.
fn nft_tables() -> io::Result<(Vec<NftTable>, Option<NftGeneration>)> {
    let mut socket = match Socket::new(NETLINK_NETFILTER) {
        Ok(s) => s,
        // No nfnetlink in this kernel: there can be no nf_tables tables.
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => return Ok((Vec::new(), None)),
        Err(e) => return Err(e),
    };
    set_recv_timeout(&socket, RECV_TIMEOUT)?;
    socket.bind_auto()?;

    // The generation first: rules read later are at least as new as it says.
    let mut genid = None;
    match exchange(
        &socket,
        &nft_request(1, NFT_MSG_GETGEN, NLM_F_REQUEST),
        1,
        &mut |kind, payload| {
            if kind == NFT_MSG_NEWGEN {
                genid = decode_genid(payload);
            }
            Ok(())
        },
    ) {
        Ok(()) => {}
        // No nf_tables subsystem: no tables.
        Err(DumpError::Errno(code)) if code == libc::EOPNOTSUPP => return Ok((Vec::new(), None)),
        Err(e) => return Err(e.into()),
    }
    let generation = match (netns_cookie(&socket), genid) {
        (Some(netns_cookie), Some(genid)) => Some(NftGeneration {
            netns_cookie,
            genid,
        }),
        _ => None,
    };

    let mut tables = Vec::new();
    let request = nft_request(2, NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_DUMP);
    exchange(&socket, &request, 2, &mut |kind, payload| {
        if kind == NFT_MSG_NEWTABLE {
            tables.push(decode_table(payload)?);
        }
        Ok(())
    })
    .map_err(io::Error::from)?;
    Ok((tables, generation))
}

/// An nf_tables request without attributes, for every family.
fn nft_request(seq: u32, msg: u16, flags: u16) -> Vec<u8> {
    let len = NLMSG_HDRLEN + NFGENMSG_LEN;
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version (NFNETLINK_V0), resource id (big endian).
    buf.extend_from_slice(&[NFPROTO_UNSPEC, 0, 0, 0]);
    buf
}

/// Receives each nf_tables answer: its message type (NFT_MSG_*) and payload.
type OnMessage<'a> = dyn FnMut(u16, &[u8]) -> Result<(), String> + 'a;

enum DumpError {
    Errno(i32),
    Malformed(String),
    Io(io::Error),
}

impl From<DumpError> for io::Error {
    fn from(e: DumpError) -> Self {
        match e {
            DumpError::Errno(code) => io::Error::from_raw_os_error(code),
            DumpError::Malformed(m) => io::Error::new(io::ErrorKind::InvalidData, m),
            DumpError::Io(e) => e,
        }
    }
}

/// Send a request and hand every nf_tables answer (its message type and
/// payload) to `on_message` until the kernel is done: NLMSG_DONE for a dump,
/// the first answer for a plain request.
fn exchange(
    socket: &Socket,
    request: &[u8],
    seq: u32,
    on_message: &mut OnMessage<'_>,
) -> Result<(), DumpError> {
    let dump = u16::from_ne_bytes([request[6], request[7]]) & NLM_F_DUMP == NLM_F_DUMP;
    socket
        .send_to(request, &SocketAddr::new(0, 0), 0)
        .map_err(DumpError::Io)?;
    loop {
        let (buf, _) = socket.recv_from_full().map_err(DumpError::Io)?;
        if decode_datagram(&buf, seq, dump, on_message)? {
            return Ok(());
        }
    }
}

/// Walk one datagram; `Ok(true)` when the exchange is complete.
fn decode_datagram(
    buf: &[u8],
    seq: u32,
    dump: bool,
    on_message: &mut OnMessage<'_>,
) -> Result<bool, DumpError> {
    let mut offset = 0;
    while offset < buf.len() {
        let msg = NetlinkBuffer::new_checked(&buf[offset..])
            .map_err(|e| DumpError::Malformed(e.to_string()))?;
        let len = msg.length() as usize;
        offset += (len + 3) & !3;
        if msg.sequence_number() != seq {
            continue;
        }
        if msg.flags() & NLM_F_DUMP_INTR != 0 {
            return Err(DumpError::Malformed(
                "the ruleset changed while it was read".to_owned(),
            ));
        }
        let payload = msg.payload();
        match msg.message_type() {
            NLMSG_DONE => return Ok(true),
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(|| DumpError::Malformed("short NLMSG_ERROR".to_owned()))?;
                if code != 0 {
                    return Err(DumpError::Errno(-code));
                }
                return Ok(true);
            }
            t if t >> 8 == NFNL_SUBSYS_NFTABLES => {
                on_message(t & 0xff, payload).map_err(DumpError::Malformed)?;
                if !dump {
                    return Ok(true);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

fn decode_genid(payload: &[u8]) -> Option<u32> {
    let attrs = payload.get(NFGENMSG_LEN..)?;
    NlasIterator::new(attrs)
        .filter_map(Result::ok)
        .find(|nla| nla.kind() == NFTA_GEN_ID)
        .and_then(|nla| {
            nla.value()
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        })
}

fn decode_table(payload: &[u8]) -> Result<NftTable, String> {
    let family = *payload
        .first()
        .ok_or_else(|| "table message without nfgenmsg".to_owned())?;
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or_else(|| "table message without nfgenmsg".to_owned())?;
    for nla in NlasIterator::new(attrs) {
        let nla = nla.map_err(|e| e.to_string())?;
        if nla.kind() == NFTA_TABLE_NAME {
            let raw = nla.value();
            let raw = raw.split(|b| *b == 0).next().unwrap_or(raw);
            return Ok(NftTable {
                family,
                name: String::from_utf8_lossy(raw).into_owned(),
            });
        }
    }
    Err("table message without a name".to_owned())
}

/// The namespace's cookie (never reused within a boot); `None` before Linux 5.14.
fn netns_cookie(socket: &Socket) -> Option<u64> {
    const SO_NETNS_COOKIE: libc::c_int = 71;
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the pointers describe a u64 and its length, both ours.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            &mut cookie as *mut u64 as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0 && len as usize == std::mem::size_of::<u64>()).then_some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newtable(seq: u32, family: u8, name: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        let value_len = name.len() + 1;
        attrs.extend_from_slice(&((4 + value_len) as u16).to_ne_bytes());
        attrs.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
        attrs.extend_from_slice(name.as_bytes());
        attrs.push(0);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let len = NLMSG_HDRLEN + NFGENMSG_LEN + attrs.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE).to_ne_bytes());
        m.extend_from_slice(&0x2u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[family, 0, 0, 7]);
        m.extend_from_slice(&attrs);
        m
    }

    fn collect_tables(dgram: &[u8], tables: &mut Vec<NftTable>) -> Result<bool, DumpError> {
        decode_datagram(dgram, 1, true, &mut |kind, payload| {
            if kind == NFT_MSG_NEWTABLE {
                tables.push(decode_table(payload)?);
            }
            Ok(())
        })
    }

    #[test]
    fn decodes_a_table_dump_datagram() {
        let mut dgram = newtable(1, NFPROTO_IPV4, "nat");
        dgram.extend(newtable(1, NFPROTO_INET, "docker-bridges"));
        let mut tables = Vec::new();
        assert!(!collect_tables(&dgram, &mut tables).unwrap_or(true));
        assert_eq!(tables.len(), 2);
        assert!(tables[0].is_iptables_nft());
        assert!(tables[0].is_ipv4());
        assert!(!tables[1].is_iptables_nft());
        assert_eq!(tables[1].to_string(), "inet docker-bridges");
    }

    #[test]
    fn truncated_datagram_is_an_error() {
        let dgram = newtable(1, NFPROTO_IPV4, "nat");
        let mut tables = Vec::new();
        assert!(collect_tables(&dgram[..dgram.len() - 3], &mut tables).is_err());
    }

    #[test]
    fn request_has_the_nftables_type() {
        let r = nft_request(9, NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(r.len(), 20);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 0x0a01);
    }
}
