//! Which process holds a socket: `/proc/<pid>/fd/*` links to `socket:[inode]`; the name is `comm`
//! (never the command line).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

/// The `comm` of a process holding each of `inodes`, as far as `proc_root` shows them (a process
/// in another PID namespace, or gone meanwhile, is simply not found).
pub fn names(proc_root: &Path, inodes: impl IntoIterator<Item = u32>) -> HashMap<u32, String> {
    let mut wanted: HashSet<u32> = inodes.into_iter().collect();
    let mut out = HashMap::new();
    let Ok(procs) = fs::read_dir(proc_root) else {
        return out;
    };
    for p in procs.filter_map(|e| e.ok()) {
        if wanted.is_empty() {
            break;
        }
        let pid_dir = p.path();
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(fds) = fs::read_dir(pid_dir.join("fd")) else {
            continue;
        };
        let mut held = Vec::new();
        for fd in fds.filter_map(|e| e.ok()) {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u32>().ok());
            if let Some(i) = inode.filter(|i| wanted.contains(i)) {
                held.push(i);
            }
        }
        if held.is_empty() {
            continue;
        }
        if let Ok(comm) = fs::read_to_string(pid_dir.join("comm")) {
            for i in held {
                wanted.remove(&i);
                out.insert(i, comm.trim().to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_process_holding_a_socket() {
        let root = std::env::temp_dir().join(format!("dockmap-owners-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let fd = root.join("412/fd");
        fs::create_dir_all(&fd).unwrap();
        fs::create_dir_all(root.join("self")).unwrap();
        fs::write(root.join("412/comm"), "docker-proxy\n").unwrap();
        std::os::unix::fs::symlink("socket:[777]", fd.join("4")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd.join("0")).unwrap();
        let got = names(&root, [777, 778]);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(got.get(&777).map(String::as_str), Some("docker-proxy"));
        assert!(!got.contains_key(&778));
    }
}
