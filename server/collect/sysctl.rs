//! The sysctls that decide paths, read from `/proc/sys/net` on a thread inside each namespace
//! (the kernel answers for the reading thread's namespace).

use std::fs;
use std::io;
use std::path::Path;

use crate::snapshot::Sysctls;

/// Where the kernel shows the calling thread's namespace's network sysctls.
pub const PROC_SYS_NET: &str = "/proc/sys/net";

/// Switches that are one per namespace, relative to `net/`.
const GLOBAL: [&str; 4] = [
    "ipv4/ip_forward",
    "ipv6/conf/all/forwarding",
    "bridge/bridge-nf-call-iptables",
    "bridge/bridge-nf-call-ip6tables",
];

/// Switches that are one per interface (and `all`, `default`), under `ipv4/conf/<if>/`.
const PER_INTERFACE: [&str; 2] = ["rp_filter", "route_localnet"];

/// Read every switch under `root` (normally [`PROC_SYS_NET`]). A switch whose file is missing is
/// recorded as absent (br_netfilter not loaded, IPv6 disabled); other read errors fail the read.
pub fn read(root: &Path) -> io::Result<Sysctls> {
    let mut out = Sysctls::default();
    for rel in GLOBAL {
        put(&mut out, root, rel)?;
    }
    let conf = root.join("ipv4/conf");
    let mut ifaces: Vec<String> = fs::read_dir(&conf)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ifaces.sort();
    for ifname in ifaces {
        for key in PER_INTERFACE {
            put(&mut out, root, &format!("ipv4/conf/{ifname}/{key}"))?;
        }
    }
    out.normalize();
    Ok(out)
}

/// The sysctl name of a path under `net/`: `ipv4/conf/eth0/rp_filter` → `net.ipv4.conf.eth0.rp_filter`.
/// Interface names keep their dots, as `sysctl` shows them with `/` → `.` swapped only in the path.
fn name_of(rel: &str) -> String {
    format!("net.{}", rel.replace('/', "."))
}

fn put(out: &mut Sysctls, root: &Path, rel: &str) -> io::Result<()> {
    match fs::read_to_string(root.join(rel)) {
        Ok(v) => {
            out.set(&name_of(rel), v.trim());
            Ok(())
        }
        // An interface that went away between the listing and the read is no switch any more.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !rel.starts_with("ipv4/conf/") {
                out.absent.push(name_of(rel));
            }
            Ok(())
        }
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", name_of(rel)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, v: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, format!("{v}\n")).unwrap();
    }

    #[test]
    fn reads_switches_and_says_what_is_absent() {
        let dir = std::env::temp_dir().join(format!("dockmap-sysctl-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write(&dir, "ipv4/ip_forward", "0");
        write(&dir, "ipv6/conf/all/forwarding", "1");
        for i in ["all", "default", "eth0"] {
            write(&dir, &format!("ipv4/conf/{i}/rp_filter"), "2");
            write(&dir, &format!("ipv4/conf/{i}/route_localnet"), "0");
        }
        let s = read(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(s.get("net.ipv4.ip_forward"), Some("0"));
        assert_eq!(s.get("net.ipv6.conf.all.forwarding"), Some("1"));
        assert_eq!(s.get("net.ipv4.conf.eth0.rp_filter"), Some("2"));
        assert_eq!(s.get("net.ipv4.conf.all.route_localnet"), Some("0"));
        // No br_netfilter: absent, not unread.
        assert!(s.is_absent("net.bridge.bridge-nf-call-iptables"));
        assert!(s.is_absent("net.bridge.bridge-nf-call-ip6tables"));
        assert_eq!(s.get("net.bridge.bridge-nf-call-iptables"), None);
    }
}
