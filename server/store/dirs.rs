//! Where the store lives when no `--data-dir` is given.

use std::path::PathBuf;

/// The system-wide data directory, for a server run as root.
pub const SYSTEM_DIR: &str = "/var/lib/dockmap";

/// `$DOCKMAP_DATA_DIR` if set; else `/var/lib/dockmap` for root; otherwise `$XDG_DATA_HOME/dockmap`
/// or `~/.local/share/dockmap`; `None` when none of these can be named (no HOME).
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKMAP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    // SAFETY: geteuid has no failure mode and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    pick(
        root,
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn pick(root: bool, xdg: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    if root {
        return Some(PathBuf::from(SYSTEM_DIR));
    }
    // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    match xdg.filter(|p| p.is_absolute()) {
        Some(x) => Some(x.join("dockmap")),
        None => home
            .filter(|h| h.is_absolute())
            .map(|h| h.join(".local/share/dockmap")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_root_then_xdg_then_home() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(pick(true, p("/x"), p("/h")), p("/var/lib/dockmap"));
        assert_eq!(pick(false, p("/x"), p("/h")), p("/x/dockmap"));
        assert_eq!(pick(false, p("rel"), p("/h")), p("/h/.local/share/dockmap"));
        assert_eq!(pick(false, None, None), None);
    }
}
