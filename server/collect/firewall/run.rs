//! Running iptables-save, ip6tables-save and nft inside a namespace, without nsenter.
//!
//! The child enters the namespace itself (setns between fork and exec), so the
//! collector's own threads never change namespace and no nsenter process is spent.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::collect::netns::{self, NsHandle};
use crate::collect::CollectError;

/// How long one tool may run before it is killed: a wedged tool must not stall a snapshot.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the tools are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    dirs: Vec<PathBuf>,
}

impl Tools {
    /// `$PATH`, then the sbin directories a non-login root shell may lack.
    pub fn from_env() -> Self {
        Self::from_path(std::env::var_os("PATH"))
    }

    /// The directories of a `PATH`-style value, then the usual sbin and bin directories.
    pub fn from_path(path: Option<OsString>) -> Self {
        let mut dirs: Vec<PathBuf> = path
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        for extra in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let extra = PathBuf::from(extra);
            if !dirs.contains(&extra) {
                dirs.push(extra);
            }
        }
        Self { dirs }
    }

    /// Exactly these directories, nothing else (tests, or a restricted agent).
    pub fn in_dirs(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    /// The first executable file called `name` in the search directories.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .filter(|d| d.is_absolute())
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }

    /// The first of `names` that exists.
    pub fn find_any(&self, names: &[&str]) -> Option<PathBuf> {
        names.iter().find_map(|n| self.find(n))
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A tool started inside a namespace.
pub struct Running {
    tool: String,
    child: Child,
}

/// What a tool printed, when it succeeded.
#[derive(Debug, Clone, Default)]
pub struct ToolOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error (warnings).
    pub stderr: String,
}

/// Start `program args` inside `ns`; `tool` names it in messages.
///
/// The handle's fd stays open in this process for the whole spawn, and Rust
/// opens files close-on-exec, so the child still holds it between fork and
/// exec, where it calls setns.
pub fn start(
    ns: &NsHandle,
    tool: &str,
    program: &Path,
    args: &[&str],
) -> Result<Running, CollectError> {
    let fd = ns.fd();
    let mut cmd = command(program, args);
    // SAFETY: the closure only makes the setns system call, which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || netns::enter(fd));
    }
    spawn(cmd, tool, &ns.name)
}

/// Start `program args` in the namespace of the calling thread.
///
/// For a std thread that has entered the namespace itself (never a pooled
/// runtime thread). With no pre_exec hook the child is started by
/// posix_spawn (vfork), which costs the parent far less than fork: its cost
/// does not grow with the size of the collecting process.
pub fn start_here(
    tool: &str,
    program: &Path,
    args: &[&str],
    ns_name: &str,
) -> Result<Running, CollectError> {
    spawn(command(program, args), tool, ns_name)
}

fn command(program: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn spawn(mut cmd: Command, tool: &str, ns_name: &str) -> Result<Running, CollectError> {
    let child = cmd.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CollectError::ToolMissing(tool.to_owned()),
        _ => CollectError::Tool {
            tool: tool.to_owned(),
            message: format!("could not start it in namespace {ns_name}: {e}"),
        },
    })?;
    Ok(Running {
        tool: tool.to_owned(),
        child,
    })
}

impl Running {
    /// Wait for the tool; its stdout on success, its stderr as the error otherwise.
    pub fn finish(self) -> Result<ToolOutput, CollectError> {
        let tool = self.tool;
        let output =
            wait_with_timeout(self.child, TOOL_TIMEOUT).map_err(|e| CollectError::Tool {
                tool: tool.clone(),
                message: e.to_string(),
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            return Ok(ToolOutput { stdout, stderr });
        }
        let said = stderr.trim();
        let message = if said.is_empty() {
            format!("{} with no message", output.status)
        } else {
            format!("{said} ({})", output.status)
        };
        Err(CollectError::Tool { tool, message })
    }
}

/// Collect a child's output, killing it if it runs longer than `timeout`.
fn wait_with_timeout(child: Child, timeout: Duration) -> io::Result<Output> {
    let pid = child.id() as libc::pid_t;
    // A pidfd names this very process even after it is reaped, so the kill
    // below can never hit a recycled pid.
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name("tool-wait".to_owned())
        .spawn(move || {
            let _ = tx.send(child.wait_with_output());
        })?;
    let result = match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => {
            if pidfd >= 0 {
                // SAFETY: pidfd is ours and open; a null siginfo is allowed.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd,
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            } else {
                // SAFETY: kill takes a pid and a signal. Without a pidfd (kernel
                // before 5.3) the child is still unreaped here unless it exited
                // this very moment.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = rx.recv();
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "did not finish within {}s and was killed",
                    timeout.as_secs()
                ),
            ))
        }
    };
    let _ = waiter.join();
    if pidfd >= 0 {
        // SAFETY: closing the fd we opened above.
        unsafe { libc::close(pidfd) };
    }
    result
}
