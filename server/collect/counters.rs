//! Reads packet counters for a watched path: interface counters, iptables rule counters and
//! conntrack entries, inside the namespace they belong to. Read-only, like every collector.
//!
//! Cheap by design: one `/proc/thread-self/net/dev` read, at most one `iptables-save -c` per
//! family and one conntrack table read per namespace, whatever the number of probes there.

use std::collections::HashMap;
use std::path::Path;

use super::firewall::run::{self, Tools};
use super::netns::{self, NsHandle};
use crate::snapshot::counters::{Probe, ProbeKind, Reading, MAX_PROBES};
use crate::snapshot::{Namespace, NamespaceRole, NodeSnapshot, NsIdentity};

/// Read `probes` on the node `snap` is of; one reading per probe, in order.
///
/// `names` are the namespaces' names as the graph gives them (`graph::namespace_names`), the
/// names probes use. Only namespaces of the snapshot are entered, whatever a probe names.
pub fn read_node(
    snap: &NodeSnapshot,
    names: &HashMap<NsIdentity, String>,
    probes: &[Probe],
    tools: &Tools,
) -> Vec<Reading> {
    let mut out =
        vec![Reading::failed(format!("more than {MAX_PROBES} probes asked")); probes.len()];
    let mut by_ns: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, p) in probes.iter().enumerate().take(MAX_PROBES) {
        match by_ns.iter_mut().find(|(n, _)| *n == p.namespace) {
            Some((_, v)) => v.push(i),
            None => by_ns.push((&p.namespace, vec![i])),
        }
    }
    for (name, idx) in by_ns {
        let ns = snap
            .namespaces
            .iter()
            .find(|ns| names.get(&ns.id).map_or(ns.name == name, |n| n == name));
        let Some(ns) = ns else {
            for i in idx {
                out[i] = Reading::failed(format!("no namespace {name} on this node"));
            }
            continue;
        };
        let backend = ns.firewall.as_ref().map_or("", |f| f.backend.as_str());
        let kinds: Vec<ProbeKind> = idx.iter().map(|&i| probes[i].what.clone()).collect();
        for (i, r) in idx
            .into_iter()
            .zip(read_namespace(ns, backend, &kinds, tools))
        {
            out[i] = r;
        }
    }
    out
}

/// Read every probe of one namespace; one reading per probe, in order.
///
/// The namespace is opened again from the path the snapshot found it by and must still be the
/// same one (device and inode): a namespace that went or was replaced reads as an error, never as
/// another namespace's counters.
pub fn read_namespace(
    ns: &Namespace,
    backend: &str,
    kinds: &[ProbeKind],
    tools: &Tools,
) -> Vec<Reading> {
    let handle = match open(ns) {
        Ok(h) => h,
        Err(why) => return kinds.iter().map(|_| Reading::failed(why.clone())).collect(),
    };
    let wants_conntrack = kinds
        .iter()
        .any(|k| matches!(k, ProbeKind::Conntrack { .. }));
    let read = netns::run_in(&handle, move || {
        let dev = std::fs::read_to_string("/proc/thread-self/net/dev");
        let conntrack =
            wants_conntrack.then(|| std::fs::read_to_string("/proc/thread-self/net/nf_conntrack"));
        (dev, conntrack)
    });
    let (dev, conntrack) = match read {
        Ok(x) => x,
        Err(e) => {
            let why = format!("namespace {} could not be entered: {e}", ns.name);
            return kinds.iter().map(|_| Reading::failed(why.clone())).collect();
        }
    };
    let mut saved: HashMap<u8, Result<SavedCounters, String>> = HashMap::new();
    for family in [4u8, 6] {
        let wanted = kinds.iter().any(|k| match k {
            ProbeKind::Rule { family: f, .. } | ProbeKind::Policy { family: f, .. } => *f == family,
            _ => false,
        });
        if wanted {
            saved.insert(family, save_counters(&handle, backend, family, tools));
        }
    }
    kinds
        .iter()
        .map(|k| match k {
            ProbeKind::Link { ifname } => match &dev {
                Ok(text) => link_reading(text, ifname),
                Err(e) => Reading::failed(format!("interface counters unreadable: {e}")),
            },
            ProbeKind::Rule {
                family,
                table,
                rule,
            } => from_saved(saved.get(family), |c| c.rule(table, rule)),
            ProbeKind::Policy {
                family,
                table,
                chain,
            } => from_saved(saved.get(family), |c| c.policy(table, chain)),
            ProbeKind::Conntrack {
                protocol,
                dport,
                src,
            } => match &conntrack {
                Some(Ok(text)) => conntrack_reading(text, protocol, *dport, src.as_deref()),
                Some(Err(e)) => Reading::failed(format!(
                    "conntrack table unreadable (nf_conntrack not loaded, or no /proc entry): {e}"
                )),
                None => Reading::failed("not read"),
            },
        })
        .collect()
}

/// A reading out of one family's `iptables-save -c`, or why that could not be run.
fn from_saved(
    saved: Option<&Result<SavedCounters, String>>,
    read: impl FnOnce(&SavedCounters) -> Reading,
) -> Reading {
    match saved {
        Some(Ok(c)) => read(c),
        Some(Err(e)) => Reading::failed(e.clone()),
        None => Reading::failed("not read"),
    }
}

fn open(ns: &Namespace) -> Result<NsHandle, String> {
    let handle = if ns.role == NamespaceRole::Host && ns.paths.is_empty() {
        NsHandle::host()
    } else {
        let Some(path) = ns.paths.first() else {
            return Err(format!("namespace {} has no path to open it by", ns.name));
        };
        NsHandle::open(Path::new(path), &ns.name)
    }
    .map_err(|e| format!("namespace {} is gone: {e}", ns.name))?;
    if handle.id != ns.id {
        return Err(format!(
            "namespace {} was replaced since the snapshot (another namespace has its path now)",
            ns.name
        ));
    }
    Ok(handle)
}

/// `iptables-save -c` of one family, with the program that matches the backend the snapshot saw.
fn save_counters(
    handle: &NsHandle,
    backend: &str,
    family: u8,
    tools: &Tools,
) -> Result<SavedCounters, String> {
    let base = if family == 6 { "ip6tables" } else { "iptables" };
    let mut names = Vec::new();
    match backend {
        "nf_tables" => names.push(format!("{base}-nft-save")),
        "legacy" => names.push(format!("{base}-legacy-save")),
        _ => {}
    }
    names.push(format!("{base}-save"));
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tool = format!("{base}-save");
    let program = tools
        .find_any(&refs)
        .ok_or_else(|| format!("{tool} not found: rule counters unreadable"))?;
    let out = run::start(handle, &tool, &program, &["-c"])
        .and_then(|r| r.finish())
        .map_err(|e| e.to_string())?;
    Ok(SavedCounters::parse(&out.stdout))
}

/// Rule and policy counters as `iptables-save -c` prints them.
#[derive(Debug, Default)]
pub struct SavedCounters {
    /// (table, rule text) → summed (packets, bytes): identical rules cannot be told apart by text.
    rules: HashMap<(String, String), (u64, u64)>,
    policies: HashMap<(String, String), (u64, u64)>,
}

impl SavedCounters {
    /// Parse `iptables-save -c` output; lines it does not know are skipped.
    pub fn parse(text: &str) -> Self {
        let mut out = SavedCounters::default();
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.trim().to_owned();
            } else if let Some(decl) = line.strip_prefix(':') {
                // `:FORWARD DROP [12:720]`
                let mut parts = decl.split_whitespace();
                let (Some(chain), Some(_policy), Some(c)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if let Some(c) = counts(c) {
                    out.policies.insert((table.clone(), chain.to_owned()), c);
                }
            } else if line.starts_with('[') {
                // `[12:720] -A DOCKER ...`
                let Some((c, rule)) = line.split_once("] ") else {
                    continue;
                };
                let Some(c) = counts(&format!("{c}]")) else {
                    continue;
                };
                let e = out
                    .rules
                    .entry((table.clone(), rule.trim_end().to_owned()))
                    .or_default();
                e.0 += c.0;
                e.1 += c.1;
            }
        }
        out
    }

    fn rule(&self, table: &str, rule: &str) -> Reading {
        match self.rules.get(&(table.to_owned(), rule.to_owned())) {
            Some(&(p, b)) => counted(p, b),
            None => Reading::failed("the rule is no longer in the ruleset"),
        }
    }

    fn policy(&self, table: &str, chain: &str) -> Reading {
        match self.policies.get(&(table.to_owned(), chain.to_owned())) {
            Some(&(p, b)) => counted(p, b),
            None => Reading::failed(format!("no built-in chain {chain} in table {table}")),
        }
    }
}

fn counted(packets: u64, bytes: u64) -> Reading {
    Reading {
        packets: Some(packets),
        bytes: Some(bytes),
        ..Default::default()
    }
}

/// `[12:720]` → (12, 720).
fn counts(s: &str) -> Option<(u64, u64)> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = inner.split_once(':')?;
    Some((p.parse().ok()?, b.parse().ok()?))
}

/// One interface's line of `/proc/net/dev`: received + sent packets and bytes, drops.
pub fn link_reading(dev: &str, ifname: &str) -> Reading {
    for line in dev.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != ifname {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 12 {
            return Reading::failed(format!("unexpected /proc/net/dev line for {ifname}"));
        }
        return Reading {
            packets: Some(f[1] + f[9]),
            bytes: Some(f[0] + f[8]),
            dropped: Some(f[3] + f[11]),
            ..Default::default()
        };
    }
    Reading::failed(format!("interface {ifname} is gone"))
}

/// Conntrack entries (`/proc/net/nf_conntrack`) whose original direction matches.
pub fn conntrack_reading(
    table: &str,
    protocol: &str,
    dport: Option<u16>,
    src: Option<&str>,
) -> Reading {
    let mut entries = 0u64;
    let (mut packets, mut bytes, mut accounted) = (0u64, 0u64, false);
    for line in table.lines() {
        let mut words = line.split_whitespace();
        // `ipv4 2 tcp 6 ...`: family, its number, protocol, its number.
        if words.nth(2) != Some(protocol) {
            continue;
        }
        let mut orig: HashMap<&str, &str> = HashMap::new();
        for w in line.split_whitespace() {
            let Some((k, v)) = w.split_once('=') else {
                continue;
            };
            // The reply direction repeats the keys: the first of each is the original's.
            if k == "src" && orig.contains_key("src") {
                break;
            }
            orig.entry(k).or_insert(v);
        }
        if dport.is_some_and(|p| orig.get("dport") != Some(&p.to_string().as_str())) {
            continue;
        }
        if src.is_some_and(|s| orig.get("src") != Some(&s)) {
            continue;
        }
        entries += 1;
        if let (Some(p), Some(b)) = (orig.get("packets"), orig.get("bytes")) {
            accounted = true;
            packets += p.parse::<u64>().unwrap_or(0);
            bytes += b.parse::<u64>().unwrap_or(0);
        }
    }
    Reading {
        entries: Some(entries),
        packets: accounted.then_some(packets),
        bytes: accounted.then_some(bytes),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = "# Generated by iptables-save v1.8.7 on Sat Dec  5 10:00:00 2026
*nat
:PREROUTING ACCEPT [40:2400]
:DOCKER - [0:0]
[7:420] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[3:180] -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80
COMMIT
*filter
:FORWARD DROP [5:300]
[2:120] -A DOCKER-USER -j RETURN
[1:60] -A DOCKER-USER -j RETURN
COMMIT
";

    #[test]
    fn rule_and_policy_counters_come_from_iptables_save_c() {
        let c = SavedCounters::parse(SAVE);
        let dnat = c.rule(
            "nat",
            "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80",
        );
        assert_eq!((dnat.packets, dnat.bytes), (Some(3), Some(180)));
        assert_eq!(c.policy("filter", "FORWARD").packets, Some(5));
        // Two identical rules cannot be told apart by their text: their counters add up.
        assert_eq!(
            c.rule("filter", "-A DOCKER-USER -j RETURN").packets,
            Some(3)
        );
        assert!(c.rule("filter", "-A FORWARD -j DROP").error.is_some());
        // A rule of the same text in another table is another rule.
        assert!(c
            .rule(
                "filter",
                "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"
            )
            .error
            .is_some());
    }

    #[test]
    fn link_counters_add_both_directions() {
        let dev = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
vethab12:  600       6    0    1    0     0          0         0      400       4    0    2    0     0       0          0
";
        let r = link_reading(dev, "vethab12");
        assert_eq!(
            (r.packets, r.bytes, r.dropped),
            (Some(10), Some(1000), Some(3))
        );
        assert!(link_reading(dev, "eth9").error.is_some());
    }

    #[test]
    fn conntrack_entries_match_the_original_direction_only() {
        let table = "\
ipv4     2 tcp      6 117 SYN_SENT src=198.18.47.2 dst=198.18.47.1 sport=40000 dport=8080 packets=2 bytes=120 [UNREPLIED] src=198.18.64.2 dst=198.18.47.2 sport=80 dport=40000 packets=0 bytes=0 mark=0 use=1
ipv4     2 tcp      6 300 ESTABLISHED src=198.18.47.2 dst=198.18.47.1 sport=40001 dport=8080 packets=5 bytes=400 src=198.18.64.2 dst=198.18.47.2 sport=80 dport=40001 packets=4 bytes=300 [ASSURED] mark=0 use=1
ipv4     2 udp      17 20 src=198.18.47.2 dst=198.18.47.1 sport=5353 dport=8080 src=198.18.47.1 dst=198.18.47.2 sport=8080 dport=5353 mark=0 use=1
ipv4     2 tcp      6 60 TIME_WAIT src=198.18.64.2 dst=198.18.9.9 sport=33000 dport=443 src=198.18.9.9 dst=198.18.47.1 sport=443 dport=8080 mark=0 use=1
";
        let r = conntrack_reading(table, "tcp", Some(8080), None);
        assert_eq!(
            (r.entries, r.packets, r.bytes),
            (Some(2), Some(7), Some(520))
        );
        // The last line's reply goes to port 8080, its original does not.
        let by_src = conntrack_reading(table, "tcp", None, Some("198.18.64.2"));
        assert_eq!(by_src.entries, Some(1));
        assert_eq!(by_src.packets, None, "that entry has no accounting");
        assert_eq!(
            conntrack_reading(table, "udp", Some(8080), None).entries,
            Some(1)
        );
    }
}
