//! Wake-ups when a node's kernel network state changes: rtnetlink and nf_tables multicast in
//! every namespace of the last snapshot, and namespace files coming and going.
//!
//! Nothing here decodes: a wake-up only says "collect again". The collection that follows reads
//! everything as it is, so a lost or misread notification can never make the picture wrong; at
//! worst late (an overflow asks for a resync, and the feed resyncs on a slow timer as well).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use crate::collect::netns::{self, NsHandle};
use crate::snapshot::{NamespaceRole, NodeSnapshot, NsIdentity};

/// rtnetlink groups whose messages change the picture: links (MTU, state, master, new veths),
/// addresses, routes, and neighbours, which carry the bridge FDB (AF_BRIDGE) too.
const ROUTE_GROUPS: u32 = (libc::RTMGRP_LINK
    | libc::RTMGRP_NEIGH
    | libc::RTMGRP_IPV4_IFADDR
    | libc::RTMGRP_IPV6_IFADDR
    | libc::RTMGRP_IPV4_ROUTE
    | libc::RTMGRP_IPV6_ROUTE) as u32;
/// nf_tables announces every committed ruleset change (iptables-nft included) to this group.
const NFNLGRP_NFTABLES: libc::c_int = 7;

/// What woke the feed: the watcher's and the engine follower's word for what may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// The kernel changed (a link, address, route, neighbour, rule or namespace file): no engine
    /// event came with it.
    Kernel,
    /// An engine event, with the container it concerns when it names one (a container event's
    /// actor, a network connect/disconnect's `container` attribute).
    Engine(Option<String>),
    /// Notifications were lost (the kernel's buffer overflowed, the engine's stream was lost
    /// or came back) or a refresh was asked: collect everything again.
    Overflow,
}

/// Sockets of one watched namespace.
struct Watched {
    _route: OwnedFd,
    _nft: Option<OwnedFd>,
    fds: Vec<RawFd>,
}

/// The namespaces watched now, swapped whole when a snapshot names a different set.
///
/// Only the poll thread closes descriptors (dropping `retired` between two polls): a descriptor
/// closed while polled could be reused by another socket of this process, whose messages the
/// loop would then swallow.
#[derive(Default)]
struct Set {
    by_ns: HashMap<NsIdentity, Watched>,
    inotify: Option<OwnedFd>,
    /// File names of the watched namespaces: only their removal can change the picture (a file
    /// Docker deletes a minute after `docker rm` is no namespace any more).
    names: std::collections::HashSet<String>,
    retired: Vec<Watched>,
    retired_inotify: Vec<OwnedFd>,
}

/// Watches the kernel on a thread of its own; dropping it stops the thread.
pub struct KernelWatch {
    set: Arc<Mutex<Set>>,
    /// Written to make the poll loop pick up a new set (or stop).
    wake: OwnedFd,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Namespaces that could not be watched, in words (shown as the live status).
    pub problems: Arc<Mutex<Vec<String>>>,
}

impl KernelWatch {
    /// Start the poll thread; it sends on `tx` whenever a watched socket speaks.
    pub fn start(tx: UnboundedSender<Wake>) -> io::Result<Self> {
        // SAFETY: eventfd returns a new descriptor we own, or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(raw) };
        let set: Arc<Mutex<Set>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (set2, stop2, wake_fd) = (set.clone(), stop.clone(), wake.as_raw_fd());
        std::thread::Builder::new()
            .name("dockmap-watch".into())
            .spawn(move || poll_loop(&set2, wake_fd, &stop2, &tx))?;
        Ok(Self {
            set,
            wake,
            stop,
            problems: Arc::default(),
        })
    }

    /// Watch the namespaces of this snapshot and the directories their files live in (a new
    /// sandbox appears there before anything else says so). Opens sockets inside each namespace
    /// on a fresh thread, so call it off the async workers.
    pub fn follow(&self, snap: &NodeSnapshot, dirs: &[PathBuf]) {
        let mut problems = Vec::new();
        let mut next: HashMap<NsIdentity, Watched> = HashMap::new();
        let mut old = self
            .set
            .lock()
            .map(|mut s| std::mem::take(&mut s.by_ns))
            .unwrap_or_default();
        for ns in &snap.namespaces {
            if let Some(w) = old.remove(&ns.id) {
                next.insert(ns.id, w);
                continue;
            }
            let opened = if ns.role == NamespaceRole::Host {
                open_sockets()
            } else {
                match ns
                    .paths
                    .iter()
                    .find_map(|p| NsHandle::open(Path::new(p), &ns.name).ok())
                {
                    Some(h) => netns::run_in(&h, open_sockets)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|r| r),
                    // Gone since the snapshot: the next collection says so.
                    None => continue,
                }
            };
            match opened {
                Ok(w) => {
                    next.insert(ns.id, w);
                }
                Err(e) => problems.push(format!("{}: {e}", ns.name)),
            }
        }
        let inotify = watch_dirs(dirs).map_err(|e| problems.push(format!("netns dirs: {e}")));
        let names = snap
            .namespaces
            .iter()
            .flat_map(|ns| &ns.paths)
            .filter_map(|p| Path::new(p).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        if let Ok(mut s) = self.set.lock() {
            s.by_ns = next;
            s.names = names;
            s.retired.extend(old.into_values());
            if let Some(before) = std::mem::replace(&mut s.inotify, inotify.ok()) {
                s.retired_inotify.push(before);
            }
        }
        if let Ok(mut p) = self.problems.lock() {
            *p = problems;
        }
        self.poke();
    }

    /// How many namespaces are watched.
    pub fn watched(&self) -> usize {
        self.set.lock().map(|s| s.by_ns.len()).unwrap_or(0)
    }

    fn poke(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to our own eventfd.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                std::ptr::from_ref(&one).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }
}

impl Drop for KernelWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.poke();
    }
}

/// A route socket joined to [`ROUTE_GROUPS`] and, where the kernel has nf_tables, a netfilter
/// socket joined to its group, both in the calling thread's namespace.
fn open_sockets() -> io::Result<Watched> {
    let route = netlink_socket(libc::NETLINK_ROUTE, ROUTE_GROUPS)?;
    let nft = netlink_socket(libc::NETLINK_NETFILTER, 0).and_then(|fd| {
        let group = NFNLGRP_NFTABLES;
        // SAFETY: setsockopt with a c_int we own on a socket we own.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_NETLINK,
                libc::NETLINK_ADD_MEMBERSHIP,
                std::ptr::from_ref(&group).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    });
    let mut fds = vec![route.as_raw_fd()];
    let nft = nft.ok();
    if let Some(n) = &nft {
        fds.push(n.as_raw_fd());
    }
    Ok(Watched {
        _route: route,
        _nft: nft,
        fds,
    })
}

fn netlink_socket(protocol: libc::c_int, groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked and owned below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            protocol,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: a zeroed sockaddr_nl is valid; we set family and groups.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: bind with a sockaddr_nl of the right size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&addr).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// An inotify descriptor watching each existing directory for files created or removed.
fn watch_dirs(dirs: &[PathBuf]) -> io::Result<OwnedFd> {
    // SAFETY: inotify_init1 returns a new descriptor or -1.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    for d in dirs.iter().filter(|d| d.is_dir()) {
        let Ok(c) = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        let mask = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;
        // SAFETY: a valid C string and our inotify descriptor.
        unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    }
    Ok(fd)
}

/// Whether a batch of rtnetlink notifications can change the picture. Neighbour and FDB entries
/// the kernel learns from traffic (any state but permanent or noarp) never count as a change (the
/// diff's rule), and on a busy host they come and go all the time: they wake nothing. Anything
/// else, or what cannot be parsed, does.
fn counts(buf: &[u8]) -> bool {
    const NLMSG_HDRLEN: usize = 16;
    const NDMSG_STATE: usize = NLMSG_HDRLEN + 8;
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return true;
        }
        let neighbour = kind == libc::RTM_NEWNEIGH || kind == libc::RTM_DELNEIGH;
        if !neighbour || len < NDMSG_STATE + 2 {
            return true;
        }
        let state = u16::from_ne_bytes([buf[at + NDMSG_STATE], buf[at + NDMSG_STATE + 1]]);
        if state & (libc::NUD_PERMANENT | libc::NUD_NOARP) != 0 {
            return true;
        }
        // Messages are 4-byte aligned.
        at += (len + 3) & !3;
    }
    at < buf.len()
}

/// Whether a batch of inotify events on the namespace directories can change the picture: a file
/// created or moved in (a new sandbox), or a watched namespace's file removed; not the removal of
/// a file that was no namespace any more. What cannot be parsed counts.
fn files_count(buf: &[u8], watched: &std::collections::HashSet<String>) -> bool {
    const HEADER: usize = 16;
    let mut at = 0;
    while at + HEADER <= buf.len() {
        let word = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let mask = word(at + 4);
        let len = word(at + 12) as usize;
        let Some(raw) = buf.get(at + HEADER..at + HEADER + len) else {
            return true;
        };
        let name = String::from_utf8_lossy(raw.split(|b| *b == 0).next().unwrap_or(&[]));
        if mask & (libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_Q_OVERFLOW) != 0 {
            return true;
        }
        if mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 && watched.contains(name.as_ref()) {
            return true;
        }
        at += HEADER + len;
    }
    at < buf.len()
}

fn poll_loop(
    set: &Mutex<Set>,
    wake: RawFd,
    stop: &std::sync::atomic::AtomicBool,
    tx: &UnboundedSender<Wake>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let mut turn = Turn::take(set, wake);
        // The set may be replaced while we poll: its old descriptors stay open (retired) until
        // the next turn of this loop, and the swap pokes `wake` to end this poll.
        // SAFETY: fds is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(turn.fds.as_mut_ptr(), turn.fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let burst = turn.drain(wake, &mut buf);
        let sent = match burst.wake() {
            Some(w) => tx.send(w),
            None => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// The descriptors one turn of [`poll_loop`] polls, and what each of them is.
struct Turn {
    fds: Vec<libc::pollfd>,
    route_fds: std::collections::HashSet<RawFd>,
    inotify_fd: Option<RawFd>,
    names: std::collections::HashSet<String>,
}

impl Turn {
    /// This turn's descriptors (`wake` first), closing those the set retired since the last turn.
    fn take(set: &Mutex<Set>, wake: RawFd) -> Turn {
        let mut turn = Turn {
            fds: vec![libc::pollfd {
                fd: wake,
                events: libc::POLLIN,
                revents: 0,
            }],
            route_fds: Default::default(),
            inotify_fd: None,
            names: std::collections::HashSet::new(),
        };
        if let Ok(mut s) = set.lock() {
            s.retired.clear();
            s.retired_inotify.clear();
            turn.inotify_fd = s.inotify.as_ref().map(AsRawFd::as_raw_fd);
            turn.names = s.names.clone();
            turn.route_fds
                .extend(s.by_ns.values().filter_map(|w| w.fds.first().copied()));
            turn.fds.extend(
                s.by_ns
                    .values()
                    .flat_map(|w| w.fds.iter().copied())
                    .chain(s.inotify.as_ref().map(AsRawFd::as_raw_fd))
                    .map(|fd| libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    }),
            );
        }
        turn
    }

    /// Read everything queued on the descriptors the poll found ready, and say what it was.
    fn drain(&self, wake: RawFd, buf: &mut [u8]) -> Burst {
        let mut burst = Burst::default();
        for p in self.fds.iter().filter(|p| p.revents != 0) {
            // Drain everything queued: one wake-up per burst, however many messages.
            loop {
                // SAFETY: reads into our own buffer from a descriptor that is still open: only
                // this thread closes them, and not before the next turn.
                let r = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if r > 0 {
                    let read = &buf[..r as usize];
                    let counted = if self.route_fds.contains(&p.fd) {
                        counts(read)
                    } else if Some(p.fd) == self.inotify_fd {
                        files_count(read, &self.names)
                    } else {
                        true
                    };
                    if p.fd != wake && counted {
                        burst.changed = true;
                        burst.files |= Some(p.fd) == self.inotify_fd;
                    }
                    continue;
                }
                if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                    burst.overflow = true;
                    continue;
                }
                break;
            }
        }
        burst
    }
}

/// What one turn of [`poll_loop`] read.
#[derive(Default)]
struct Burst {
    /// Something that can change the picture.
    changed: bool,
    /// ...among it, a namespace file that came or went.
    files: bool,
    /// A socket lost notifications (ENOBUFS).
    overflow: bool,
}

impl Burst {
    /// The wake-up this burst is worth, if any.
    fn wake(&self) -> Option<Wake> {
        if self.overflow {
            Some(Wake::Overflow)
        } else if self.files {
            // A namespace file came or went: a container's sandbox, whose engine event may come
            // later. The engine's container list is read with it, so the picture never shows a
            // new sandbox without the container the engine already knows.
            Some(Wake::Engine(None))
        } else if self.changed {
            Some(Wake::Kernel)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{counts, files_count};

    fn event(mask: u32, name: &str) -> Vec<u8> {
        let mut padded = name.as_bytes().to_vec();
        padded.resize(16, 0);
        let mut e = Vec::new();
        e.extend(1i32.to_ne_bytes());
        e.extend(mask.to_ne_bytes());
        e.extend(0u32.to_ne_bytes());
        e.extend((padded.len() as u32).to_ne_bytes());
        e.extend(padded);
        e
    }

    #[test]
    fn a_new_file_or_a_watched_namespace_removed_wakes_a_leftover_removed_does_not() {
        let watched: std::collections::HashSet<String> = ["5a7a09a6b218".to_owned()].into();
        assert!(files_count(
            &event(libc::IN_CREATE, "0f3e1a2b3c4d"),
            &watched
        ));
        assert!(files_count(
            &event(libc::IN_DELETE, "5a7a09a6b218"),
            &watched
        ));
        assert!(!files_count(
            &event(libc::IN_DELETE, "gone00000000"),
            &watched
        ));
        let mut both = event(libc::IN_DELETE, "gone00000000");
        both.extend(event(libc::IN_MOVED_FROM, "5a7a09a6b218"));
        assert!(files_count(&both, &watched));
        assert!(files_count(&[1, 2], &watched), "unparsable counts");
    }

    /// One RTM_NEWNEIGH / RTM_NEWLINK message with this state (ndmsg layout from linux/neighbour.h).
    fn msg(kind: u16, state: u16) -> Vec<u8> {
        let mut m = vec![0u8; 16 + 12];
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        m[16] = libc::AF_BRIDGE as u8;
        m[24..26].copy_from_slice(&state.to_ne_bytes());
        m
    }

    #[test]
    fn learned_neighbours_wake_nothing_and_everything_else_does() {
        let learned = [
            libc::NUD_REACHABLE,
            libc::NUD_STALE,
            libc::NUD_DELAY,
            libc::NUD_FAILED,
        ];
        for st in learned {
            assert!(!counts(&msg(libc::RTM_NEWNEIGH, st)), "state {st:#x}");
            assert!(!counts(&msg(libc::RTM_DELNEIGH, st)), "state {st:#x}");
        }
        // Docker's static VXLAN FDB and ARP entries are permanent: they count.
        assert!(counts(&msg(libc::RTM_NEWNEIGH, libc::NUD_PERMANENT)));
        assert!(counts(&msg(libc::RTM_DELNEIGH, libc::NUD_NOARP)));
        // A link message counts; so does a learned entry batched with it.
        assert!(counts(&msg(libc::RTM_NEWLINK, 0)));
        let mut batch = msg(libc::RTM_NEWNEIGH, libc::NUD_STALE);
        batch.extend(msg(libc::RTM_NEWLINK, 0));
        assert!(counts(&batch));
        let mut quiet = msg(libc::RTM_NEWNEIGH, libc::NUD_STALE);
        quiet.extend(msg(libc::RTM_DELNEIGH, libc::NUD_REACHABLE));
        assert!(!counts(&quiet));
        // What cannot be parsed wakes, rather than being missed.
        assert!(counts(&[1, 2, 3]));
        assert!(counts(&msg(libc::RTM_NEWNEIGH, libc::NUD_STALE)[..20]));
    }
}
