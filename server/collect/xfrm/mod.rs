//! IPsec SAs and policies per namespace over NETLINK_XFRM: read-only dumps, keys left behind.
//!
//! xfrm state is per namespace (Docker programs it in the host's), so like IPVS the socket is
//! opened on a thread inside each namespace. The kernel wants CAP_NET_ADMIN even for dumps.

pub mod message;

use std::io;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_XFRM, Socket};

use crate::collect::netns::{self, NsHandle};
use crate::collect::nldump::{self, DumpError};
use crate::collect::sockopt::set_recv_timeout;
use crate::snapshot::{SourceKind, SourceStatus, Xfrm};

use message::{
    decode_policy, decode_sa, dump_request, XfrmDecodeError, XFRM_MSG_GETPOLICY, XFRM_MSG_GETSA,
    XFRM_MSG_NEWPOLICY, XFRM_MSG_NEWSA,
};

/// A kernel that never answers must not hang a snapshot.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Why xfrm could not be read.
#[derive(Debug, thiserror::Error)]
pub enum XfrmError {
    /// The kernel has no NETLINK_XFRM (CONFIG_XFRM_USER off).
    #[error("no NETLINK_XFRM in this kernel (CONFIG_XFRM_USER off)")]
    Unsupported,
    /// The socket failed.
    #[error("xfrm netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel refused a dump.
    #[error("{request}: {source}")]
    Kernel {
        /// Which dump.
        request: &'static str,
        /// The errno it answered.
        source: io::Error,
    },
    /// An answer could not be decoded.
    #[error("{request}: undecodable answer: {source}")]
    Decode {
        /// Which dump.
        request: &'static str,
        /// What was wrong.
        source: XfrmDecodeError,
    },
    /// A dump was interrupted by a concurrent change.
    #[error("{0}: the table changed while it was read")]
    Interrupted(&'static str),
}

/// Every SA and policy of the calling thread's namespace.
pub fn read_current_thread() -> Result<Xfrm, XfrmError> {
    let mut socket = match Socket::new(NETLINK_XFRM) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
            return Err(XfrmError::Unsupported)
        }
        Err(e) => return Err(e.into()),
    };
    set_recv_timeout(&socket, RECV_TIMEOUT)?;
    socket.bind_auto()?;
    let mut states = Vec::new();
    for msg in dump(&mut socket, XFRM_MSG_GETSA, XFRM_MSG_NEWSA, 1, "SA dump")? {
        states.push(decode_sa(&msg).map_err(|source| XfrmError::Decode {
            request: "SA dump",
            source,
        })?);
    }
    let mut policies = Vec::new();
    for msg in dump(
        &mut socket,
        XFRM_MSG_GETPOLICY,
        XFRM_MSG_NEWPOLICY,
        2,
        "policy dump",
    )? {
        policies.push(decode_policy(&msg).map_err(|source| XfrmError::Decode {
            request: "policy dump",
            source,
        })?);
    }
    let mut x = Xfrm { states, policies };
    x.normalize();
    Ok(x)
}

/// Read many namespaces, one thread visiting each in turn; results in the order given.
/// Blocking: call it from a std thread or `spawn_blocking`.
pub fn collect_many(nss: &[NsHandle]) -> Vec<(Option<Xfrm>, SourceStatus)> {
    let visit = || -> Vec<(Option<Xfrm>, SourceStatus)> {
        nss.iter()
            .map(|ns| match netns::enter(ns.fd()) {
                Ok(()) => state_of(read_current_thread(), &ns.name),
                Err(e) => (
                    None,
                    SourceStatus::error(
                        SourceKind::Xfrm,
                        Some(&ns.name),
                        format!("namespace {} could not be entered: {e}", ns.name),
                    ),
                ),
            })
            .collect()
    };
    let visited = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("netns-xfrm".to_owned())
            .spawn_scoped(scope, visit)
            .map_err(|e| e.to_string())
            .and_then(|h| h.join().map_err(|_| "the xfrm thread panicked".to_owned()))
    });
    visited.unwrap_or_else(|e| {
        nss.iter()
            .map(|ns| {
                (
                    None,
                    SourceStatus::error(SourceKind::Xfrm, Some(&ns.name), e.clone()),
                )
            })
            .collect()
    })
}

/// [`collect_many`] for one namespace.
pub fn collect(ns: &NsHandle) -> (Option<Xfrm>, SourceStatus) {
    match netns::run_in(ns, read_current_thread) {
        Ok(read) => state_of(read, &ns.name),
        Err(e) => (
            None,
            SourceStatus::error(SourceKind::Xfrm, Some(&ns.name), e.to_string()),
        ),
    }
}

fn state_of(read: Result<Xfrm, XfrmError>, ns: &str) -> (Option<Xfrm>, SourceStatus) {
    match read {
        Ok(x) => (Some(x), SourceStatus::ok(SourceKind::Xfrm, Some(ns))),
        Err(XfrmError::Unsupported) => (
            None,
            SourceStatus::unavailable(
                SourceKind::Xfrm,
                Some(ns),
                XfrmError::Unsupported.to_string(),
            ),
        ),
        Err(e) => (
            None,
            SourceStatus::error(SourceKind::Xfrm, Some(ns), e.to_string()),
        ),
    }
}

/// Send one dump request and gather its messages of type `answer`.
fn dump(
    socket: &mut Socket,
    request: u16,
    answer: u16,
    seq: u32,
    what: &'static str,
) -> Result<Vec<Vec<u8>>, XfrmError> {
    nldump::dump(socket, &dump_request(request, seq), seq, answer).map_err(|e| match e {
        DumpError::Io(e) => XfrmError::Io(e),
        DumpError::Kernel(source) => XfrmError::Kernel {
            request: what,
            source,
        },
        DumpError::Short { got, need } => XfrmError::Decode {
            request: what,
            source: XfrmDecodeError::Short {
                what: "netlink message",
                got,
                need,
            },
        },
        DumpError::Interrupted => XfrmError::Interrupted(what),
    })
}
