//! rtnetlink sockets opened inside namespaces, driven by tokio.
//!
//! A netlink socket belongs to the namespace it was created in, for its whole life.
//! So one dedicated std thread (never a tokio worker) enters each namespace in turn,
//! creates a socket there and hands the fd back; the async side then talks over it.
//! One thread serves a whole collection, so 1,000 namespaces cost 1,000 `setns` +
//! `socket` calls, not 1,000 threads.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;

use futures::StreamExt;
use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_proto::{sys::SocketAddr, ConnectionHandle, NetlinkCodec};
use netlink_sys::{protocols::NETLINK_ROUTE, TokioSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::collect::netns::{self, NsHandle};
use crate::collect::CollectError;
use crate::snapshot::NsIdentity;

/// An rtnetlink message, or one the crate could not decode (kept so the loss is reported, not silent).
#[derive(Debug)]
pub enum Rtnl {
    /// A decoded message.
    Msg(RouteNetlinkMessage),
    /// A message the decoder rejected: its type and why.
    Undecoded {
        /// The netlink message type.
        message_type: u16,
        /// The decoder's complaint.
        error: String,
    },
}

impl NetlinkSerializable for Rtnl {
    fn message_type(&self) -> u16 {
        match self {
            Rtnl::Msg(m) => m.message_type(),
            Rtnl::Undecoded { message_type, .. } => *message_type,
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Rtnl::Msg(m) => m.buffer_len(),
            Rtnl::Undecoded { .. } => 0,
        }
    }

    fn serialize(&self, buffer: &mut [u8]) {
        if let Rtnl::Msg(m) = self {
            m.serialize(buffer)
        }
    }
}

impl NetlinkDeserializable for Rtnl {
    type Error = Infallible;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Infallible> {
        Ok(match RouteNetlinkMessage::deserialize(header, payload) {
            Ok(m) => Rtnl::Msg(m),
            Err(e) => Rtnl::Undecoded {
                message_type: header.message_type,
                error: e.to_string(),
            },
        })
    }
}

/// What a dump returned.
#[derive(Debug, Default)]
pub struct Dumped {
    /// The decoded messages, in kernel order.
    pub messages: Vec<RouteNetlinkMessage>,
    /// One line per message that could not be decoded.
    pub undecoded: Vec<String>,
    /// The kernel flagged the dump as interrupted by a concurrent change.
    pub interrupted: bool,
}

/// How often a dump interrupted by concurrent changes is read again.
const DUMP_ATTEMPTS: usize = 3;

/// One rtnetlink connection inside one namespace.
pub struct RtConn {
    handle: ConnectionHandle<Rtnl>,
    task: JoinHandle<()>,
    ns: String,
}

impl Drop for RtConn {
    fn drop(&mut self) {
        // The connection task would otherwise linger until it notices the handle is gone.
        self.task.abort();
    }
}

impl RtConn {
    /// Drive a netlink socket fd (created inside a namespace) with tokio.
    pub fn from_fd(fd: OwnedFd, ns: &str) -> Result<Self, CollectError> {
        let raw = fd.into_raw_fd();
        // TokioSocket::from_raw_fd panics if the runtime cannot register the fd; a
        // caught panic becomes this namespace's error instead of the whole collection's.
        let socket = std::panic::catch_unwind(|| {
            // SAFETY: `raw` is a netlink socket we own; ownership passes to the TokioSocket.
            unsafe { TokioSocket::from_raw_fd(raw) }
        })
        .map_err(|_| {
            CollectError::Netlink(format!(
                "namespace {ns}: the async runtime could not register the netlink socket"
            ))
        })?;
        let (mut conn, handle, _unsolicited) =
            netlink_proto::from_socket_with_codec::<Rtnl, TokioSocket, NetlinkCodec>(socket);
        // The end-of-dump message tells a complete dump from a connection that died mid-way.
        conn.set_forward_done(true);
        let task = tokio::spawn(conn);
        Ok(Self {
            handle,
            task,
            ns: ns.to_owned(),
        })
    }

    /// Send one request and gather every answer until the kernel says it is done.
    async fn exchange(
        &self,
        payload: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Dumped, CollectError> {
        let mut req = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(Rtnl::Msg(payload)),
        );
        req.header.flags = flags;
        req.finalize();
        let mut stream = self
            .handle
            .request(req, SocketAddr::new(0, 0))
            .map_err(|e| CollectError::Netlink(format!("namespace {}: {e}", self.ns)))?;
        let mut out = Dumped::default();
        let is_dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut complete = false;
        while let Some(msg) = stream.next().await {
            if msg.header.flags & NLM_F_DUMP_INTR != 0 {
                out.interrupted = true;
            }
            match msg.payload {
                NetlinkPayload::InnerMessage(Rtnl::Msg(m)) => {
                    complete |= !is_dump;
                    out.messages.push(m)
                }
                NetlinkPayload::InnerMessage(Rtnl::Undecoded {
                    message_type,
                    error,
                }) => {
                    complete |= !is_dump;
                    out.undecoded
                        .push(format!("message type {message_type}: {error}"))
                }
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(kernel_error(&self.ns, e.to_io()));
                }
                NetlinkPayload::Done(d) if d.code != 0 => {
                    return Err(kernel_error(
                        &self.ns,
                        io::Error::from_raw_os_error(-d.code),
                    ));
                }
                NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => complete = true,
                NetlinkPayload::Overrun(_) => {
                    return Err(CollectError::Netlink(format!(
                        "namespace {}: netlink receive buffer overrun",
                        self.ns
                    )));
                }
                _ => {}
            }
        }
        if !complete {
            return Err(CollectError::Netlink(format!(
                "namespace {}: the netlink connection closed before the kernel finished answering",
                self.ns
            )));
        }
        Ok(out)
    }

    /// A full dump, read again (a few times) when the kernel flags it as interrupted.
    pub async fn dump(&self, request: RouteNetlinkMessage) -> Result<Dumped, CollectError> {
        let mut last = Dumped::default();
        for _ in 0..DUMP_ATTEMPTS {
            last = self
                .exchange(request.clone(), NLM_F_REQUEST | NLM_F_DUMP)
                .await?;
            if !last.interrupted {
                break;
            }
        }
        Ok(last)
    }

    /// A single request answered by a single message.
    pub async fn get(&self, request: RouteNetlinkMessage) -> Result<Dumped, CollectError> {
        self.exchange(request, NLM_F_REQUEST).await
    }
}

fn kernel_error(ns: &str, e: io::Error) -> CollectError {
    CollectError::Netlink(format!("namespace {ns}: {e}"))
}

/// One request to the opener thread.
struct OpenRequest {
    ns: NsHandle,
    reply: oneshot::Sender<Result<OwnedFd, CollectError>>,
}

/// Opens rtnetlink sockets inside namespaces, on one dedicated thread.
///
/// The thread is detached: it ends as soon as the opener (its channel) is dropped.
pub struct Opener {
    tx: mpsc::Sender<OpenRequest>,
}

impl Opener {
    /// Start the opener thread.
    pub fn start() -> Result<Self, CollectError> {
        let (tx, rx) = mpsc::channel::<OpenRequest>();
        std::thread::Builder::new()
            .name("netns-opener".into())
            .spawn(move || {
                // This thread changes namespace per request and dies with the channel.
                for req in rx {
                    let result = open_in(&req.ns);
                    let _ = req.reply.send(result);
                }
            })
            .map_err(|e| CollectError::io("spawning the namespace socket thread", e))?;
        Ok(Self { tx })
    }

    /// An rtnetlink connection inside `ns`.
    pub async fn connect(&self, ns: &NsHandle) -> Result<RtConn, CollectError> {
        let fd = self.open(ns).await?;
        RtConn::from_fd(fd, &ns.name)
    }

    /// A raw rtnetlink socket created inside `ns`.
    pub async fn open(&self, ns: &NsHandle) -> Result<OwnedFd, CollectError> {
        let (reply, answer) = oneshot::channel();
        let req = OpenRequest {
            ns: ns.try_clone()?,
            reply,
        };
        let gone = || CollectError::Netlink("the namespace socket thread stopped".into());
        self.tx.send(req).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// How many more fds this process may open, keeping `reserve` free for everyone else.
pub fn fd_budget(reserve: usize) -> usize {
    // SAFETY: getrlimit only writes into the struct we own.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    let soft = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
    let open = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d.count(),
        Err(_) => return 0,
    };
    soft.saturating_sub(open.saturating_add(reserve))
}

/// True when some path the namespace was found at still leads to it (or it was found at none).
///
/// A namespace kept alive only by our own handle (its file unmounted, its process gone)
/// has been deleted by its owner: reading it would report a zombie.
pub fn still_reachable(paths: &[String], id: NsIdentity) -> bool {
    if paths.is_empty() {
        return true;
    }
    paths.iter().any(|p| match std::fs::metadata(Path::new(p)) {
        Ok(m) => m.dev() == id.dev && m.ino() == id.ino,
        Err(_) => false,
    })
}

/// On the opener thread: check the namespace still exists, enter it, create a socket.
fn open_in(ns: &NsHandle) -> Result<OwnedFd, CollectError> {
    if !still_reachable(&ns.paths, ns.id) {
        return Err(CollectError::Vanished(ns.name.clone()));
    }
    netns::enter(ns.fd()).map_err(|e| setns_error(&ns.name, e))?;
    // SAFETY: socket() takes plain integers and returns a new fd or -1.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_ROUTE as libc::c_int,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(CollectError::io(
            format!("netlink socket in namespace {}", ns.name),
            e,
        ));
    }
    // SAFETY: fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A failed setns, in the words that fit: gone, not allowed, or another OS error.
pub fn setns_error(name: &str, e: io::Error) -> CollectError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => CollectError::Vanished(name.to_owned()),
        Some(libc::EPERM) => {
            CollectError::Permission(format!("entering namespace {name} (needs CAP_SYS_ADMIN)"))
        }
        _ => CollectError::Namespace {
            name: name.to_owned(),
            source: e,
        },
    }
}

impl fmt::Debug for RtConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtConn").field("ns", &self.ns).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_messages_are_kept_not_dropped() {
        let mut header = NetlinkHeader::default();
        header.message_type = 16; // RTM_NEWLINK
                                  // An ifinfomsg needs 16 bytes: 3 cannot be a link.
        match Rtnl::deserialize(&header, &[1, 2, 3]) {
            Ok(Rtnl::Undecoded {
                message_type,
                error,
            }) => {
                assert_eq!(message_type, 16);
                assert!(!error.is_empty());
            }
            other => panic!("expected Undecoded, got {other:?}"),
        }
        let good = [0u8; 16];
        assert!(matches!(
            Rtnl::deserialize(&header, &good),
            Ok(Rtnl::Msg(RouteNetlinkMessage::NewLink(_)))
        ));
    }

    #[test]
    fn setns_errors_say_what_happened() {
        assert!(matches!(
            setns_error("x", io::Error::from_raw_os_error(libc::ENOENT)),
            CollectError::Vanished(n) if n == "x"
        ));
        assert!(matches!(
            setns_error("x", io::Error::from_raw_os_error(libc::EPERM)),
            CollectError::Permission(_)
        ));
        assert!(matches!(
            setns_error("x", io::Error::from_raw_os_error(libc::EINVAL)),
            CollectError::Namespace { .. }
        ));
    }

    #[test]
    fn a_namespace_without_paths_counts_as_reachable() {
        let id = NsIdentity { dev: 1, ino: 2 };
        assert!(still_reachable(&[], id));
        assert!(!still_reachable(&["/nonexistent/dockmap/ns".into()], id));
    }
}
