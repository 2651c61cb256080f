//! Lookups built once per namespace or node, so building the graph stays linear in the snapshot:
//! a namespace's FDB and address tables grow with the node count (overlays) and its firewall with
//! the container count, and scanning them once per interface or container would not.

use std::collections::HashMap;

use crate::snapshot::{Address, Container, FdbEntry, Link, Namespace, Rule};

/// One namespace's links, addresses, FDB entries and interface-naming firewall rules, by interface.
pub(super) struct NsIndex<'a> {
    links: HashMap<u32, &'a Link>,
    addresses: HashMap<u32, Vec<&'a Address>>,
    fdb: HashMap<u32, Vec<&'a FdbEntry>>,
    rules: RuleIndex<'a>,
}

impl<'a> NsIndex<'a> {
    /// Index `ns`; every list keeps the namespace's own order.
    pub(super) fn new(ns: &'a Namespace) -> Self {
        let mut links = HashMap::new();
        for l in &ns.links {
            // The first of two links with one ifindex wins, as `Namespace::link` has it.
            links.entry(l.ifindex).or_insert(l);
        }
        let mut addresses: HashMap<u32, Vec<&Address>> = HashMap::new();
        for a in &ns.addresses {
            addresses.entry(a.ifindex).or_default().push(a);
        }
        let mut fdb: HashMap<u32, Vec<&FdbEntry>> = HashMap::new();
        for e in &ns.fdb {
            fdb.entry(e.ifindex).or_default().push(e);
        }
        NsIndex {
            links,
            addresses,
            fdb,
            rules: RuleIndex::new(ns),
        }
    }

    /// The link with this ifindex.
    pub(super) fn link(&self, ifindex: u32) -> Option<&'a Link> {
        self.links.get(&ifindex).copied()
    }

    /// The addresses on this interface.
    pub(super) fn addresses(&self, ifindex: u32) -> &[&'a Address] {
        self.addresses.get(&ifindex).map_or(&[], Vec::as_slice)
    }

    /// The FDB entries of this interface.
    pub(super) fn fdb(&self, ifindex: u32) -> &[&'a FdbEntry] {
        self.fdb.get(&ifindex).map_or(&[], Vec::as_slice)
    }

    /// Firewall rules whose -i or -o names this interface (exactly, by `+` wildcard, or negated),
    /// as `family table: text`, in ruleset order.
    pub(super) fn rules_naming(&self, name: &str) -> Vec<String> {
        self.rules.naming(name)
    }
}

/// Firewall rules by the interface pattern of their -i / -o: exact names in a map, `+` wildcards
/// (few: Docker writes `docker0`-style exact names) in a list scanned per interface.
struct RuleIndex<'a> {
    /// Every rule naming some interface, in ruleset order: (family, table, rule).
    rules: Vec<(&'static str, &'a str, &'a Rule)>,
    exact: HashMap<&'a str, Vec<usize>>,
    prefixes: Vec<(&'a str, usize)>,
}

impl<'a> RuleIndex<'a> {
    fn new(ns: &'a Namespace) -> Self {
        let mut idx = RuleIndex {
            rules: Vec::new(),
            exact: HashMap::new(),
            prefixes: Vec::new(),
        };
        let Some(fw) = &ns.firewall else {
            return idx;
        };
        for (family, tables) in [("ipv4", &fw.ipv4), ("ipv6", &fw.ipv6)] {
            for t in tables {
                for r in &t.rules {
                    let pats: Vec<&str> = [&r.in_interface, &r.out_interface]
                        .into_iter()
                        .filter_map(|p| p.as_deref())
                        .collect();
                    if pats.is_empty() {
                        continue;
                    }
                    let n = idx.rules.len();
                    idx.rules.push((family, t.name.as_str(), r));
                    for p in pats {
                        let p = p.strip_prefix('!').map(str::trim_start).unwrap_or(p);
                        match p.strip_suffix('+') {
                            Some(prefix) => idx.prefixes.push((prefix, n)),
                            None => idx.exact.entry(p).or_default().push(n),
                        }
                    }
                }
            }
        }
        idx
    }

    fn naming(&self, name: &str) -> Vec<String> {
        let mut hits: Vec<usize> = self.exact.get(name).cloned().unwrap_or_default();
        hits.extend(
            self.prefixes
                .iter()
                .filter(|(prefix, _)| name.starts_with(prefix))
                .map(|&(_, n)| n),
        );
        // A rule naming the interface as both -i and -o is listed once.
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .map(|n| {
                let (family, table, r) = self.rules[n];
                format!("{family} {table}: {}", r.text)
            })
            .collect()
    }
}

/// Which namespace each container's sandbox is, looked up by path instead of scanning every
/// namespace's paths per container.
pub(super) struct Sandboxes<'a> {
    namespaces: &'a [Namespace],
    /// Normalised path (`/var/run/...` as `/run/...`) → first namespace with it.
    by_norm_path: HashMap<String, usize>,
    /// Exact path → first namespace with it.
    by_path: HashMap<&'a str, usize>,
}

impl<'a> Sandboxes<'a> {
    /// Index the paths of a node's namespaces.
    pub(super) fn new(namespaces: &'a [Namespace]) -> Self {
        let mut by_norm_path = HashMap::new();
        let mut by_path = HashMap::new();
        for (i, ns) in namespaces.iter().enumerate() {
            for p in &ns.paths {
                by_norm_path.entry(norm_path(p)).or_insert(i);
                by_path.entry(p.as_str()).or_insert(i);
            }
        }
        Sandboxes {
            namespaces,
            by_norm_path,
            by_path,
        }
    }

    /// The namespace a container's sandbox is: by its SandboxKey file, else by its process.
    pub(super) fn of(&self, c: &Container) -> Option<&'a Namespace> {
        if !c.sandbox_key.is_empty() {
            if let Some(&i) = self.by_norm_path.get(&norm_path(&c.sandbox_key)) {
                return Some(&self.namespaces[i]);
            }
        }
        if c.pid > 0 {
            let by_pid = format!("/proc/{}/ns/net", c.pid);
            return self
                .by_path
                .get(by_pid.as_str())
                .map(|&i| &self.namespaces[i]);
        }
        None
    }
}

/// Docker reports `/var/run/...` where the file may have been opened as `/run/...` (one is a link to the other).
pub(super) fn norm_path(p: &str) -> String {
    p.strip_prefix("/var")
        .filter(|r| r.starts_with("/run/"))
        .map(str::to_owned)
        .unwrap_or_else(|| p.to_owned())
}
