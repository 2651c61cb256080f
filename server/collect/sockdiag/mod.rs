//! The listening sockets of a namespace over NETLINK_SOCK_DIAG (read-only dumps), each with the
//! name of the process holding it when `/proc` shows one: whether `docker-proxy` (or anything)
//! answers on a published port.

pub mod message;
pub mod owners;

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket};

use crate::collect::nldump::{self, DumpError};
use crate::collect::sockopt::set_recv_timeout;
use crate::snapshot::{normalize_listeners, Listener};

use message::{
    decode, dump_request, SockDiagDecodeError, SOCK_DIAG_BY_FAMILY, STATE_CLOSE, STATE_LISTEN,
};

/// A kernel that never answers must not hang a snapshot.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the sockets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SockDiagError {
    /// The kernel has no NETLINK_SOCK_DIAG (or no inet_diag for this protocol).
    #[error("no NETLINK_SOCK_DIAG in this kernel")]
    Unsupported,
    /// The socket failed.
    #[error("sock_diag netlink socket: {0}")]
    Io(#[from] io::Error),
    /// A dump failed.
    #[error("{what} dump: {source}")]
    Dump {
        /// Which dump.
        what: &'static str,
        /// Why.
        source: DumpError,
    },
    /// An answer could not be decoded.
    #[error("{what} dump: undecodable answer: {source}")]
    Decode {
        /// Which dump.
        what: &'static str,
        /// What was wrong.
        source: SockDiagDecodeError,
    },
}

/// The dumps: (what, family, protocol, state wanted).
const DUMPS: [(&str, i32, i32, u8); 4] = [
    ("tcp", libc::AF_INET, libc::IPPROTO_TCP, STATE_LISTEN),
    ("tcp6", libc::AF_INET6, libc::IPPROTO_TCP, STATE_LISTEN),
    ("udp", libc::AF_INET, libc::IPPROTO_UDP, STATE_CLOSE),
    ("udp6", libc::AF_INET6, libc::IPPROTO_UDP, STATE_CLOSE),
];

/// Every TCP listener and unconnected UDP socket of the calling thread's namespace, owners looked
/// up under `proc_root` (normally `/proc`).
pub fn read_current_thread(proc_root: &Path) -> Result<Vec<Listener>, SockDiagError> {
    let mut socket = match Socket::new(NETLINK_SOCK_DIAG) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
            return Err(SockDiagError::Unsupported)
        }
        Err(e) => return Err(e.into()),
    };
    set_recv_timeout(&socket, RECV_TIMEOUT)?;
    socket.bind_auto()?;
    let mut found = Vec::new();
    for (seq, (what, family, proto, state)) in (1u32..).zip(DUMPS) {
        let req = dump_request(family as u8, proto as u8, 1 << state, seq);
        let msgs = match nldump::dump(&mut socket, &req, seq, SOCK_DIAG_BY_FAMILY) {
            Ok(m) => m,
            // A kernel built without udp_diag (or IPv6) has nothing of that kind to say.
            Err(DumpError::Kernel(e)) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(source) => return Err(SockDiagError::Dump { what, source }),
        };
        for m in msgs {
            let s = decode(&m).map_err(|source| SockDiagError::Decode { what, source })?;
            // A connected UDP socket is a client, not a listener.
            if s.state == state && s.dport == 0 {
                found.push((what.trim_end_matches('6'), s));
            }
        }
    }
    let names = owners::names(proc_root, found.iter().map(|(_, s)| s.inode));
    let mut out: Vec<Listener> = found
        .into_iter()
        .map(|(proto, s)| Listener {
            protocol: proto.to_owned(),
            family: if matches!(s.src, IpAddr::V4(_)) { 4 } else { 6 },
            address: s.src.to_string(),
            port: s.sport,
            process: names.get(&s.inode).cloned(),
        })
        .collect();
    normalize_listeners(&mut out);
    out.dedup();
    Ok(out)
}
