//! IPVS over a generic netlink socket of the calling thread's namespace.

use crate::collect::sockopt::set_recv_timeout;
use std::io;
use std::time::Duration;

use netlink_packet_core::{DecodeError, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::message::{
    decode_destination, decode_service, family_id_of, get_destinations_request, get_family_request,
    get_services_request, header_of, split_datagram, IPVS_GENL_NAME,
};
use crate::snapshot::IpvsService;

/// A kernel that never answers must not hang a snapshot.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// The controller's own family id.
const GENL_ID_CTRL: u16 = 0x10;
/// The dump changed while it was read (linux/netlink.h).
const NLM_F_DUMP_INTR: u16 = 0x10;

/// What reading IPVS found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsRead {
    /// The kernel has no generic netlink family "IPVS".
    Unavailable,
    /// The services, each with its destinations.
    Services(Vec<IpvsService>),
}

/// Why IPVS could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The socket failed.
    #[error("generic netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel refused a request.
    #[error("{request}: {source}")]
    Kernel {
        /// Which request.
        request: &'static str,
        /// The errno the kernel answered.
        source: io::Error,
    },
    /// The kernel's answer could not be decoded.
    #[error("{request}: undecodable answer: {source}")]
    Decode {
        /// Which request.
        request: &'static str,
        /// What was wrong.
        source: DecodeError,
    },
    /// A dump was interrupted by a concurrent change.
    #[error("{0}: the table changed while it was read")]
    Interrupted(&'static str),
}

/// Read every IPVS service and destination of the calling thread's namespace.
///
/// Call it on a thread that entered the namespace (see `netns::run_in`).
pub fn read_current_thread() -> Result<IpvsRead, IpvsError> {
    let mut conn = Conn::open()?;
    let Some(family) = conn.resolve_family(IPVS_GENL_NAME)? else {
        return Ok(IpvsRead::Unavailable);
    };
    conn.read_services(family).map(IpvsRead::Services)
}

/// [`read_current_thread`] with the IPVS family id already known (it is the same in every namespace).
pub fn read_current_thread_with_family(family: u16) -> Result<Vec<IpvsService>, IpvsError> {
    Conn::open()?.read_services(family)
}

/// The id of the generic netlink family `name` in this kernel, `None` if it has none.
pub fn family_id(name: &str) -> Result<Option<u16>, IpvsError> {
    Conn::open()?.resolve_family(name)
}

struct Conn {
    socket: Socket,
    seq: u32,
}

impl Conn {
    fn open() -> Result<Self, IpvsError> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        set_recv_timeout(&socket, RECV_TIMEOUT)?;
        socket.bind_auto()?;
        Ok(Self { socket, seq: 0 })
    }

    /// Every service of this namespace, each with its destinations.
    fn read_services(&mut self, family: u16) -> Result<Vec<IpvsService>, IpvsError> {
        let mut services = Vec::new();
        for msg in self.request(
            &|seq| get_services_request(family, seq),
            "service dump",
            true,
            family,
        )? {
            services.push(decode_service(&msg).map_err(|source| IpvsError::Decode {
                request: "service dump",
                source,
            })?);
        }
        let mut result = Vec::with_capacity(services.len());
        for (mut service, key) in services {
            let request = |seq| get_destinations_request(family, seq, &key);
            for msg in self.request(&request, "destination dump", true, family)? {
                service
                    .destinations
                    .push(decode_destination(&msg, key.af).map_err(|source| {
                        IpvsError::Decode {
                            request: "destination dump",
                            source,
                        }
                    })?);
            }
            result.push(service);
        }
        Ok(result)
    }

    /// The id of a generic netlink family; `None` when the kernel has no such family.
    fn resolve_family(&mut self, name: &str) -> Result<Option<u16>, IpvsError> {
        const WHAT: &str = "CTRL_CMD_GETFAMILY";
        match self.request(
            &|seq| get_family_request(seq, name),
            WHAT,
            false,
            GENL_ID_CTRL,
        ) {
            Ok(replies) => {
                let reply = replies.first().ok_or_else(|| {
                    IpvsError::Io(io::Error::other("no answer to CTRL_CMD_GETFAMILY"))
                })?;
                family_id_of(reply)
                    .map(Some)
                    .map_err(|source| IpvsError::Decode {
                        request: WHAT,
                        source,
                    })
            }
            Err(IpvsError::Kernel { source, .. })
                if source.raw_os_error() == Some(libc::ENOENT) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Send one request and gather the answering messages of type `family`
    /// (every part of a dump, or the single reply).
    fn request(
        &mut self,
        build: &dyn Fn(u32) -> Vec<u8>,
        what: &'static str,
        dump: bool,
        family: u16,
    ) -> Result<Vec<Vec<u8>>, IpvsError> {
        self.seq += 1;
        let seq = self.seq;
        self.socket
            .send_to(&build(seq), &SocketAddr::new(0, 0), 0)?;
        let mut replies = Vec::new();
        loop {
            let (buf, _) = self.socket.recv_from_full()?;
            let messages = split_datagram(&buf).map_err(|source| IpvsError::Decode {
                request: what,
                source,
            })?;
            for msg in messages {
                let header = header_of(msg).map_err(|source| IpvsError::Decode {
                    request: what,
                    source,
                })?;
                if header.sequence_number != seq {
                    continue;
                }
                if header.flags & NLM_F_DUMP_INTR != 0 {
                    return Err(IpvsError::Interrupted(what));
                }
                match header.message_type {
                    NLMSG_DONE => return Ok(replies),
                    NLMSG_NOOP => {}
                    NLMSG_ERROR => {
                        let code = error_code(msg).ok_or_else(|| IpvsError::Decode {
                            request: what,
                            source: DecodeError::from("short NLMSG_ERROR"),
                        })?;
                        if code != 0 {
                            return Err(IpvsError::Kernel {
                                request: what,
                                source: io::Error::from_raw_os_error(-code),
                            });
                        }
                        if !dump {
                            return Ok(replies);
                        }
                    }
                    t if t == family => {
                        replies.push(msg.to_vec());
                        if !dump {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The errno of an NLMSG_ERROR message (negative), 0 for an acknowledgement.
fn error_code(msg: &[u8]) -> Option<i32> {
    let b = msg.get(16..20)?;
    Some(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}
