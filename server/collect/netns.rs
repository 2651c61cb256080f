//! Network namespaces: find them, identify them by (dev, inode), enter them safely.
//!
//! Entering a namespace (setns) changes the calling thread only, so it is done
//! on a fresh std thread (or in a child between fork and exec), never on a
//! pooled tokio thread, which would then carry the wrong namespace for others.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::names;
use crate::snapshot::{NamespaceRole, NsIdentity, SourceKind, SourceStatus};

use super::CollectError;

/// statfs magic of nsfs, the filesystem namespace files live on.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// An open network namespace: its identity and a file that keeps it reachable.
#[derive(Debug)]
pub struct NsHandle {
    /// (dev, inode) identity.
    pub id: NsIdentity,
    /// Short name (`host`, the netns file's name, or `pid:<pid>`).
    pub name: String,
    /// Every path it was found at.
    pub paths: Vec<String>,
    /// Classification.
    pub role: NamespaceRole,
    file: File,
}

impl NsHandle {
    /// The namespace this process runs in (from the main thread's view, which never setns).
    pub fn host() -> Result<Self, CollectError> {
        let mut h = Self::open(Path::new("/proc/self/ns/net"), "host")?;
        h.role = NamespaceRole::Host;
        h.paths.clear();
        Ok(h)
    }

    /// Open a namespace file, checking that it really is one (stale netns files are plain files).
    pub fn open(path: &Path, name: &str) -> Result<Self, CollectError> {
        let file = File::open(path).map_err(|e| CollectError::Namespace {
            name: name.to_owned(),
            source: e,
        })?;
        if !is_nsfs(&file) {
            return Err(CollectError::Namespace {
                name: name.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a namespace file (stale or unmounted)",
                ),
            });
        }
        let meta = file.metadata().map_err(|e| CollectError::Namespace {
            name: name.to_owned(),
            source: e,
        })?;
        Ok(Self {
            id: NsIdentity {
                dev: meta.dev(),
                ino: meta.ino(),
            },
            name: name.to_owned(),
            paths: vec![path.display().to_string()],
            role: classify(name),
            file,
        })
    }

    /// The raw fd of the namespace file, valid while the handle lives.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A second handle on the same namespace, for use on another thread.
    pub fn try_clone(&self) -> Result<Self, CollectError> {
        let file = self.file.try_clone().map_err(|e| CollectError::Namespace {
            name: self.name.clone(),
            source: e,
        })?;
        Ok(Self {
            id: self.id,
            name: self.name.clone(),
            paths: self.paths.clone(),
            role: self.role,
            file,
        })
    }
}

/// A plain empty file that is no namespace: an unmounted namespace file a sandbox left behind.
fn is_leftover(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
        && File::open(path).is_ok_and(|f| !is_nsfs(&f))
}

fn is_nsfs(file: &File) -> bool {
    // SAFETY: fstatfs only writes into the zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) };
    rc == 0 && st.f_type as i64 == NSFS_MAGIC
}

/// Classify a namespace by the name Docker gave its file.
pub fn classify(name: &str) -> NamespaceRole {
    if name == names::HOST_NS {
        NamespaceRole::Host
    } else if name == names::INGRESS_SANDBOX {
        NamespaceRole::IngressSandbox
    } else if name.starts_with(names::LB_SANDBOX_PREFIX) {
        NamespaceRole::LoadBalancer
    } else if name.starts_with(names::OVERLAY_NS_PREFIX) {
        NamespaceRole::Overlay
    } else {
        NamespaceRole::Other
    }
}

/// Move the calling thread into the namespace behind `fd`.
///
/// Only call this on a thread that is about to die or in a child before exec.
pub fn enter(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: setns takes an fd and a flag; it touches no memory of ours.
    let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Visit `nss` in turn on one fresh thread named `thread`, which enters each before calling `f`
/// (with the error when it could not); `failed` stands in for every namespace when that thread
/// cannot run. Results in the order given.
pub fn visit_each<T: Send>(
    nss: &[NsHandle],
    thread: &str,
    f: impl Fn(&NsHandle, std::io::Result<()>) -> T + Sync,
    failed: impl Fn(&NsHandle, &str) -> T,
) -> Vec<T> {
    let visited = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(thread.to_owned())
            .spawn_scoped(scope, || {
                nss.iter()
                    .map(|ns| f(ns, enter(ns.fd())))
                    .collect::<Vec<T>>()
            })
            .map_err(|e| e.to_string())
            .and_then(|h| {
                h.join()
                    .map_err(|_| format!("the {thread} thread panicked"))
            })
    });
    visited.unwrap_or_else(|e| nss.iter().map(|ns| failed(ns, &e)).collect())
}

/// Run `f` on a fresh thread that has entered `ns`; the thread ends with `f`.
pub fn run_in<T, F>(ns: &NsHandle, f: F) -> Result<T, CollectError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let ns = ns.try_clone()?;
    let name = ns.name.clone();
    let joined = std::thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || {
            enter(ns.fd()).map_err(|e| CollectError::Namespace {
                name: ns.name.clone(),
                source: e,
            })?;
            Ok(f())
        })
        .map_err(|e| CollectError::io("spawning a namespace thread", e))?
        .join();
    match joined {
        Ok(r) => r,
        Err(_) => Err(CollectError::Netlink(format!(
            "collector thread for namespace {name} panicked"
        ))),
    }
}

/// Where to look for namespaces.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Directories whose every file is a namespace (the engine's netns dir, `/run/netns`).
    pub dirs: Vec<PathBuf>,
    /// Container sandboxes: (container ID, SandboxKey path, PID when running).
    pub sandboxes: Vec<(String, String, i64)>,
}

/// Find every namespace: the host's, every file of the given dirs, every container sandbox.
///
/// Namespaces found twice (a sandbox file that is also a container's key) are merged by identity.
/// What could not be opened is reported in the returned statuses; the rest is kept.
pub fn discover(opts: &DiscoverOptions) -> (Vec<NsHandle>, Vec<SourceStatus>) {
    let mut d = Discovery::default();
    d.add_host();
    for dir in &opts.dirs {
        d.add_dir(dir);
    }
    d.add_sandboxes(&opts.sandboxes);
    let (handles, problems) = d.finish();
    (handles, vec![discovery_status(&problems)])
}

/// One status for discovery: ok, or every namespace that could not be opened.
pub fn discovery_status(problems: &[String]) -> SourceStatus {
    if problems.is_empty() {
        SourceStatus::ok(SourceKind::Namespaces, None)
    } else {
        SourceStatus::error(SourceKind::Namespaces, None, problems.join("; "))
    }
}

/// Namespaces found so far, merged by identity, with what could not be opened.
#[derive(Debug, Default)]
pub struct Discovery {
    found: BTreeMap<NsIdentity, NsHandle>,
    problems: Vec<String>,
}

impl Discovery {
    /// Continue a discovery from handles found earlier.
    pub fn from_handles(handles: Vec<NsHandle>) -> Self {
        Self {
            found: handles.into_iter().map(|h| (h.id, h)).collect(),
            problems: Vec::new(),
        }
    }

    /// How many namespaces are known.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    fn add(&mut self, h: NsHandle) {
        match self.found.get_mut(&h.id) {
            Some(existing) => {
                for p in h.paths {
                    if !existing.paths.contains(&p) {
                        existing.paths.push(p);
                    }
                }
                // A more specific role wins: host over anything, a Docker role over `other`.
                if existing.role == NamespaceRole::Other && h.role != NamespaceRole::Other {
                    existing.role = h.role;
                    if existing.name.starts_with("pid:") {
                        existing.name = h.name;
                    }
                }
            }
            None => {
                self.found.insert(h.id, h);
            }
        }
    }

    /// The namespace this process runs in.
    pub fn add_host(&mut self) {
        match NsHandle::host() {
            Ok(h) => self.add(h),
            Err(e) => self.problems.push(format!("host namespace: {e}")),
        }
    }

    /// Every file of a namespace directory (a missing directory is simply empty).
    pub fn add_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.problems.push(format!("{}: {e}", dir.display()));
                return;
            }
        };
        let mut names: Vec<_> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let name = name.to_string_lossy().into_owned();
            let path = dir.join(&name);
            match NsHandle::open(&path, &name) {
                Ok(h) => self.add(h),
                // An empty plain file is what a removed sandbox leaves until Docker's garbage
                // collection deletes it (up to a minute): nothing to see, nothing wrong. A
                // container that still names it is reported by `add_sandboxes`.
                Err(_) if is_leftover(&path) => {}
                Err(e) => self.problems.push(e.to_string()),
            }
        }
    }

    /// Container sandboxes: (container ID, SandboxKey, PID); marks known ones as containers, adds the rest.
    pub fn add_sandboxes(&mut self, sandboxes: &[(String, String, i64)]) {
        for (container, key, pid) in sandboxes {
            let from_key = if key.is_empty() {
                None
            } else {
                let name = Path::new(key)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                NsHandle::open(Path::new(key), &name).ok()
            };
            let handle = match from_key {
                Some(h) => Some(h),
                None if *pid > 0 => NsHandle::open(
                    &PathBuf::from(format!("/proc/{pid}/ns/net")),
                    &format!("pid:{pid}"),
                )
                .ok(),
                None => None,
            };
            match handle {
                Some(mut h) => {
                    if h.role == NamespaceRole::Other {
                        h.role = NamespaceRole::Container;
                    }
                    if let Some(existing) = self.found.get_mut(&h.id) {
                        if existing.role == NamespaceRole::Other {
                            existing.role = NamespaceRole::Container;
                        }
                    }
                    self.add(h)
                }
                None if !key.is_empty() || *pid > 0 => {
                    let short: String = container.chars().take(12).collect();
                    self.problems.push(format!(
                        "container {short}: sandbox {key} vanished or unreadable"
                    ))
                }
                None => {}
            }
        }
    }

    /// The namespaces, ordered by identity, and what could not be opened.
    pub fn finish(self) -> (Vec<NsHandle>, Vec<String>) {
        (self.found.into_values().collect(), self.problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_docker_sandbox_names() {
        assert_eq!(classify("ingress_sbox"), NamespaceRole::IngressSandbox);
        assert_eq!(classify("lb_abc123"), NamespaceRole::LoadBalancer);
        assert_eq!(classify("1-abc123def"), NamespaceRole::Overlay);
        assert_eq!(classify("0f3e1a2b3c4d"), NamespaceRole::Other);
        assert_eq!(classify("host"), NamespaceRole::Host);
    }

    #[test]
    fn a_file_a_removed_sandbox_left_is_skipped_and_anything_else_is_said() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("5a7a09a6b218"), b"").expect("leftover");
        std::fs::write(dir.path().join("junk"), b"not a namespace").expect("junk");
        let mut d = Discovery::default();
        d.add_dir(dir.path());
        let (found, problems) = d.finish();
        assert!(found.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("junk"), "{problems:?}");
    }
}
