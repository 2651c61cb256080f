//! One netlink dump, request to NLMSG_DONE, for the hand-made readers (xfrm, sock_diag).

use std::io;

use netlink_sys::{Socket, SocketAddr};

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// The dump changed while it was read (linux/netlink.h).
const NLM_F_DUMP_INTR: u16 = 0x10;
/// The netlink header's length.
pub const NLMSG_HDRLEN: usize = 16;

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The socket failed.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel answered with an errno.
    #[error("{0}")]
    Kernel(io::Error),
    /// A message was shorter than its header says.
    #[error("netlink message of {got} bytes, {need} needed")]
    Short {
        /// Bytes there.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The table changed while it was read.
    #[error("the table changed while it was read")]
    Interrupted,
}

/// A netlink header for a message of `payload` bytes after it.
pub fn header(message_type: u16, flags: u16, seq: u32, payload: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN + payload);
    out.extend_from_slice(&((NLMSG_HDRLEN + payload) as u32).to_ne_bytes());
    out.extend_from_slice(&message_type.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out
}

/// Send `request` (whose header carries `seq`) and gather the whole messages of type `answer`.
pub fn dump(
    socket: &mut Socket,
    request: &[u8],
    seq: u32,
    answer: u16,
) -> Result<Vec<Vec<u8>>, DumpError> {
    socket.send_to(request, &SocketAddr::new(0, 0), 0)?;
    let mut out = Vec::new();
    loop {
        let (buf, _) = socket.recv_from_full()?;
        let mut rest: &[u8] = &buf;
        while rest.len() >= NLMSG_HDRLEN {
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len < NLMSG_HDRLEN || len > rest.len() {
                return Err(DumpError::Short {
                    got: rest.len(),
                    need: len.max(NLMSG_HDRLEN),
                });
            }
            let msg = &rest[..len];
            rest = &rest[((len + 3) & !3).min(rest.len())..];
            let kind = u16::from_ne_bytes([msg[4], msg[5]]);
            let flags = u16::from_ne_bytes([msg[6], msg[7]]);
            let msg_seq = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
            if msg_seq != seq {
                continue;
            }
            if flags & NLM_F_DUMP_INTR != 0 {
                return Err(DumpError::Interrupted);
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_NOOP => {}
                NLMSG_ERROR => {
                    let code = msg
                        .get(16..20)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-libc::EIO);
                    if code != 0 {
                        return Err(DumpError::Kernel(io::Error::from_raw_os_error(-code)));
                    }
                }
                k if k == answer => out.push(msg.to_vec()),
                _ => {}
            }
        }
    }
}
