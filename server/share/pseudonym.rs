//! Safe to share: a snapshot with host, container, service and network names, user-named
//! interfaces and namespaces, images, IP addresses and MACs replaced by stable pseudonyms.
//!
//! Names are collected from the typed snapshot first (so the same name is recognised wherever
//! it appears: in rule texts, paths, labels, messages), then every string of the snapshot is
//! rewritten token by token. Addresses are mapped prefix-preservingly (each bit is flipped by
//! a keyed function of the bits before it), so two addresses of one subnet stay in one subnet
//! of the same length. The same key gives the same pseudonyms in every export.

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::names;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot};

use super::key::PseudonymKey;

/// Why a snapshot could not be pseudonymized.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymError {
    /// The rewritten data no longer reads as a snapshot (a bug; nothing is shared then).
    #[error("the pseudonymized snapshot does not read back: {0}")]
    Shape(#[from] serde_json::Error),
}

/// Docker's own network names: not user data, and the picture reads better with them.
const BUILTIN_NETWORKS: &[&str] = names::BUILTIN_NETWORKS;

/// Compose labels whose values are not user data.
const SAFE_COMPOSE_LABELS: &[&str] = &[
    "com.docker.compose.version",
    "com.docker.compose.oneoff",
    "com.docker.compose.container-number",
    "com.docker.compose.config-hash",
];

/// Interface names the kernel or Docker makes: kept (a veth's name is random anyway).
pub fn kernel_interface_name(name: &str) -> bool {
    const EXACT: &[&str] = &[
        names::LOOPBACK,
        names::DOCKER0,
        names::GWBRIDGE,
        names::OVERLAY_BRIDGE,
        "tunl0",
        "gre0",
        "gretap0",
        "erspan0",
        "ip_vti0",
        "ip6_vti0",
        "sit0",
        "ip6tnl0",
        "ip6gre0",
        "cni0",
    ];
    const PREFIX_NUM: &[&str] = &[
        "eth", "vxlan", "bond", "dummy", "tun", "tap", "wg", "virbr", "nlmon", "em", "ib",
    ];
    const PREFIX_ANY: &[&str] = &[
        "veth", "vx-", "ov-", "enp", "ens", "eno", "enx", "wlp", "wlan",
    ];
    if EXACT.contains(&name) || PREFIX_ANY.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    if PREFIX_NUM.iter().any(|p| {
        name.strip_prefix(p)
            .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()))
    }) {
        return true;
    }
    // Docker's bridge of a user network: br-<12 hex of the network ID>.
    name.strip_prefix(names::USER_BRIDGE_PREFIX)
        .is_some_and(is_hex)
}

/// Namespace names Docker or dockmap makes: kept (they say what the namespace is for).
pub fn generated_namespace_name(name: &str) -> bool {
    name == names::HOST_NS
        || name == names::INGRESS_SANDBOX
        // Swarm network IDs are base-36, not hex.
        || name.strip_prefix(names::LB_SANDBOX_PREFIX).is_some_and(is_id)
        || name.strip_prefix(names::OVERLAY_NS_PREFIX).is_some_and(is_id)
        || name
            .strip_prefix("pid:")
            .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()))
        || (name.len() >= 10 && is_hex(name))
        // A clash suffix dockmap adds: `<name>@<inode>`.
        || name
            .split_once('@')
            .is_some_and(|(n, ino)| ino.bytes().all(|b| b.is_ascii_digit()) && generated_namespace_name(n))
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Rewrites snapshots with one key; remembers every name it has given a pseudonym.
pub struct Pseudonymizer {
    key: PseudonymKey,
    names: HashMap<String, String>,
    taken: BTreeSet<String>,
    v4: HashMap<Ipv4Addr, Ipv4Addr>,
    v6: HashMap<Ipv6Addr, Ipv6Addr>,
    first_octet: [u8; 256],
}

impl Pseudonymizer {
    /// A pseudonymizer for this key.
    pub fn new(key: &PseudonymKey) -> Self {
        let mut p = Self {
            key: key.clone(),
            names: HashMap::new(),
            taken: BTreeSet::new(),
            v4: HashMap::new(),
            v6: HashMap::new(),
            first_octet: [0; 256],
        };
        p.first_octet = p.octet_permutation();
        p
    }

    fn prf(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key.bytes());
        for p in parts {
            h.update((p.len() as u32).to_be_bytes());
            h.update(p);
        }
        let out = h.finalize();
        let mut a = [0u8; 32];
        a.copy_from_slice(&out);
        a
    }

    /// First octets of ordinary unicast IPv4 are permuted among themselves, so no address
    /// becomes loopback, multicast or "this network"; special ones map to themselves.
    fn octet_permutation(&self) -> [u8; 256] {
        let mut table = [0u8; 256];
        for (i, t) in table.iter_mut().enumerate() {
            *t = i as u8;
        }
        let mut ordinary: Vec<u8> = (0..=255u8).filter(|o| !special_octet(*o)).collect();
        let mut shuffled = ordinary.clone();
        shuffled.sort_by_key(|o| self.prf(&[b"octet", &[*o]]));
        ordinary.sort();
        for (from, to) in ordinary.iter().zip(&shuffled) {
            table[*from as usize] = *to;
        }
        table
    }

    /// The pseudonym of an IPv4 address (prefix-preserving below the first octet).
    pub fn ipv4(&mut self, a: Ipv4Addr) -> Ipv4Addr {
        if let Some(m) = self.v4.get(&a) {
            return *m;
        }
        let o = a.octets();
        if special_octet(o[0]) {
            return a;
        }
        let bits = u32::from(a);
        let mut out = u32::from(self.first_octet[o[0] as usize]) << 24;
        for i in 8..32 {
            let prefix = bits >> (32 - i);
            let flip = self.prf(&[b"v4", &[i as u8], &prefix.to_be_bytes()])[0] & 1;
            let bit = ((bits >> (31 - i)) & 1) ^ u32::from(flip);
            out |= bit << (31 - i);
        }
        let m = Ipv4Addr::from(out);
        self.v4.insert(a, m);
        m
    }

    /// The pseudonym of an IPv6 address: link-local keeps fe80::/64, others their first byte;
    /// the rest is mapped prefix-preservingly. Loopback, unspecified and multicast are kept.
    pub fn ipv6(&mut self, a: Ipv6Addr) -> Ipv6Addr {
        if let Some(m) = self.v6.get(&a) {
            return *m;
        }
        if let Some(v4) = a.to_ipv4_mapped() {
            return self.ipv4(v4).to_ipv6_mapped();
        }
        let bits = u128::from(a);
        let seg0 = a.segments()[0];
        if a.is_loopback() || a.is_unspecified() || seg0 & 0xff00 == 0xff00 {
            return a;
        }
        let keep = if seg0 & 0xffc0 == 0xfe80 { 64 } else { 8 };
        let mut out = bits & (!0u128 << (128 - keep));
        for i in keep..128 {
            let prefix = bits >> (128 - i);
            let flip = self.prf(&[b"v6", &[i as u8], &prefix.to_be_bytes()])[0] & 1;
            let bit = ((bits >> (127 - i)) & 1) ^ u128::from(flip);
            out |= bit << (127 - i);
        }
        let m = Ipv6Addr::from(out);
        self.v6.insert(a, m);
        m
    }

    /// The pseudonym of a MAC (lower-case, colon-separated in and out); broadcast and zero kept,
    /// the multicast bit kept, the locally-administered bit set.
    pub fn mac(&self, mac: &str) -> String {
        let lower = mac.to_ascii_lowercase();
        if lower == "ff:ff:ff:ff:ff:ff" || lower == "00:00:00:00:00:00" {
            return lower;
        }
        let first = u8::from_str_radix(&lower[..2], 16).unwrap_or(0);
        let h = self.prf(&[b"mac", lower.as_bytes()]);
        let b0 = (h[0] & 0xfc) | 0x02 | (first & 0x01);
        let bytes = [b0, h[1], h[2], h[3], h[4], h[5]];
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Give `name` a pseudonym of this category (`host`, `ctr`, `net`, ...), once.
    fn secret(&mut self, category: &str, name: &str) {
        if name.is_empty()
            || self.names.contains_key(name)
            || name.bytes().all(|b| b.is_ascii_digit())
        {
            return;
        }
        let h = self.prf(&[category.as_bytes(), name.as_bytes()]);
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        let mut len = 6;
        let mut p = format!("{category}-{}", &hex[..len]);
        while self.taken.contains(&p) && len < 64 {
            len += 2;
            p = format!("{category}-{}", &hex[..len]);
        }
        self.taken.insert(p.clone());
        self.names.insert(name.to_owned(), p);
    }

    /// Every name of a snapshot that says something about its owner.
    fn learn(&mut self, s: &NodeSnapshot) {
        self.secret("host", &s.node.hostname);
        if let Some(e) = &s.engine {
            self.secret("host", &e.name);
            for n in &e.nodes {
                self.secret("host", &n.hostname);
            }
            for net in &e.networks {
                if !BUILTIN_NETWORKS.contains(&net.name.as_str()) {
                    self.secret("net", &net.name);
                }
                for p in &net.peers {
                    self.secret("host", &p.name);
                }
            }
            for c in &e.containers {
                self.secret("ctr", &c.name);
                for ep in &c.endpoints {
                    for alias in &ep.aliases {
                        // A container's short ID is an alias too: an ID, not a name.
                        if !(is_hex(alias) && alias.len() >= 10) {
                            self.secret("name", alias);
                        }
                    }
                }
                for (k, v) in &c.labels {
                    if k == "com.docker.compose.project" || k == "com.docker.compose.service" {
                        self.secret("name", v);
                    }
                }
            }
            for svc in &e.services {
                self.secret("svc", &svc.name);
            }
        }
        for ns in &s.namespaces {
            if !generated_namespace_name(&ns.name) {
                self.secret("ns", &ns.name);
            }
            for l in &ns.links {
                if !kernel_interface_name(&l.name) {
                    self.secret("if", &l.name);
                }
                if let Some(a) = &l.alias {
                    self.secret("if", a);
                }
            }
        }
    }

    /// Fields replaced whole: images, user label values, interface aliases.
    fn replace_fields(&mut self, s: &mut NodeSnapshot) {
        let image = |p: &Self, i: &str| -> String {
            let h = p.prf(&[b"image", i.as_bytes()]);
            format!(
                "image-{}",
                h[..3]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        };
        if let Some(e) = s.engine.as_mut() {
            for c in &mut e.containers {
                c.image = image(self, &c.image);
                for (k, v) in c.labels.iter_mut() {
                    if k.starts_with("com.docker.compose.")
                        && !SAFE_COMPOSE_LABELS.contains(&k.as_str())
                        && !self.names.contains_key(v.as_str())
                    {
                        let h = self.prf(&[b"label", v.as_bytes()]);
                        *v = format!(
                            "label-{}",
                            h[..3]
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect::<String>()
                        );
                    }
                }
            }
            for svc in &mut e.services {
                svc.image = image(self, &svc.image);
            }
        }
    }

    /// Rewrite one string: names, addresses and MACs in it become their pseudonyms.
    pub fn text(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !outer_char(b[i]) {
                let start = i;
                while i < b.len() && !outer_char(b[i]) {
                    i += 1;
                }
                out.push_str(&s[start..i]);
                continue;
            }
            let start = i;
            while i < b.len() && outer_char(b[i]) {
                i += 1;
            }
            let run = &s[start..i];
            let prefix_len = prefix_after(&s[i..]);
            self.outer_run(run, prefix_len, &mut out);
        }
        out
    }

    fn outer_run(&mut self, run: &str, prefix_len: Option<u8>, out: &mut String) {
        if is_mac(run) {
            out.push_str(&self.mac(run));
            return;
        }
        if run.contains(':') {
            if let Ok(a) = run.parse::<Ipv6Addr>() {
                let mut m = self.ipv6(a);
                if let Some(len) = prefix_len.filter(|l| *l <= 128) {
                    let mask = if len == 0 { 0 } else { !0u128 << (128 - len) };
                    if u128::from(a) & !mask == 0 {
                        m = Ipv6Addr::from(u128::from(m) & mask);
                    }
                }
                out.push_str(&m.to_string());
                return;
            }
            let parts: Vec<&str> = run.split(':').collect();
            let last = parts.len() - 1;
            for (n, part) in parts.into_iter().enumerate() {
                if n > 0 {
                    out.push(':');
                }
                self.inner_run(part, if n == last { prefix_len } else { None }, out);
            }
            return;
        }
        self.inner_run(run, prefix_len, out);
    }

    fn inner_run(&mut self, run: &str, prefix_len: Option<u8>, out: &mut String) {
        if run.is_empty() {
            return;
        }
        if let Ok(a) = run.parse::<Ipv4Addr>() {
            let mut m = self.ipv4(a);
            if let Some(len) = prefix_len.filter(|l| *l <= 32) {
                let mask = if len == 0 { 0 } else { !0u32 << (32 - len) };
                if u32::from(a) & !mask == 0 {
                    m = Ipv4Addr::from(u32::from(m) & mask);
                }
            }
            out.push_str(&m.to_string());
            return;
        }
        if let Some(p) = self.names.get(run) {
            out.push_str(p);
            return;
        }
        // A name inside a longer word: `lb-<network>`, `<service>.<slot>.<task>`, a path part.
        let words = words_of(run);
        let mut w = 0;
        while w < words.len() {
            let mut hit = None;
            for end in (w..words.len()).rev() {
                let cand = &run[words[w].0..words[end].1];
                if let Some(p) = self.names.get(cand) {
                    hit = Some((end, p.clone()));
                    break;
                }
            }
            let from = if w == 0 { 0 } else { words[w - 1].1 };
            out.push_str(&run[from..words[w].0]);
            match hit {
                Some((end, p)) => {
                    out.push_str(&p);
                    w = end + 1;
                }
                None => {
                    out.push_str(&run[words[w].0..words[w].1]);
                    w += 1;
                }
            }
        }
        let tail = words.last().map_or(0, |x| x.1);
        out.push_str(&run[tail..]);
    }

    fn value(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let t = self.text(s);
                *s = t;
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.value(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.value(x)),
            _ => {}
        }
    }

    /// The pseudonymized copy of node snapshots (all learned first, so cross-node names match).
    pub fn nodes(&mut self, snaps: &[NodeSnapshot]) -> Result<Vec<NodeSnapshot>, PseudonymError> {
        for s in snaps {
            self.learn(s);
        }
        snaps.iter().map(|s| self.node(s)).collect()
    }

    fn node(&mut self, s: &NodeSnapshot) -> Result<NodeSnapshot, PseudonymError> {
        let mut s2 = s.clone();
        self.replace_fields(&mut s2);
        let mut v = serde_json::to_value(&s2)?;
        self.value(&mut v);
        let mut out: NodeSnapshot = serde_json::from_value(v)?;
        self.mask_routes(s, &mut out);
        out.normalize();
        Ok(out)
    }

    /// Route destinations are stored without their length: put the network address back.
    fn mask_routes(&mut self, orig: &NodeSnapshot, out: &mut NodeSnapshot) {
        for (ns, ns2) in orig.namespaces.iter().zip(out.namespaces.iter_mut()) {
            for (r, r2) in ns.routes.iter().zip(ns2.routes.iter_mut()) {
                if let (Ok(a), Ok(m)) = (
                    r.destination.parse::<Ipv4Addr>(),
                    r2.destination.parse::<Ipv4Addr>(),
                ) {
                    if r.prefix_len <= 32 {
                        let mask = if r.prefix_len == 0 {
                            0
                        } else {
                            !0u32 << (32 - r.prefix_len)
                        };
                        if u32::from(a) & !mask == 0 {
                            r2.destination = Ipv4Addr::from(u32::from(m) & mask).to_string();
                        }
                    }
                }
            }
        }
    }

    /// The pseudonymized copy of a cluster snapshot (node names and agent URLs too).
    pub fn cluster(&mut self, c: &ClusterSnapshot) -> Result<ClusterSnapshot, PseudonymError> {
        for n in &c.nodes {
            self.secret("host", &n.name);
            if let Some(s) = &n.snapshot {
                self.learn(s);
            }
        }
        let mut out = c.clone();
        for n in &mut out.nodes {
            if let Some(s) = n.snapshot.take() {
                n.snapshot = Some(self.node(&s)?);
            }
            n.name = self.text(&n.name);
            n.source = self.text(&n.source);
            n.error = self.text(&n.error);
        }
        out.normalize();
        Ok(out)
    }

    /// The pseudonym given to a name, if it was one.
    pub fn name(&self, original: &str) -> Option<&str> {
        self.names.get(original).map(String::as_str)
    }
}

/// Pseudonymize a cluster snapshot with `key`.
pub fn pseudonymize_cluster(
    c: &ClusterSnapshot,
    key: &PseudonymKey,
) -> Result<ClusterSnapshot, PseudonymError> {
    Pseudonymizer::new(key).cluster(c)
}

/// Pseudonymize node snapshots with `key`.
pub fn pseudonymize_nodes(
    snaps: &[NodeSnapshot],
    key: &PseudonymKey,
) -> Result<Vec<NodeSnapshot>, PseudonymError> {
    Pseudonymizer::new(key).nodes(snaps)
}

fn special_octet(o: u8) -> bool {
    o == 0 || o == 127 || o >= 224
}

/// Characters of a token that may hold a name, an address or a MAC.
fn outer_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':')
}

/// `/<digits>` right after an address: its prefix length.
fn prefix_after(rest: &str) -> Option<u8> {
    let digits = rest.strip_prefix('/')?;
    let n: String = digits.chars().take_while(char::is_ascii_digit).collect();
    n.parse().ok()
}

fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Byte ranges of the alphanumeric words of a run (separated by `.`, `-`, `_`).
fn words_of(run: &str) -> Vec<(usize, usize)> {
    let b = run.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            let s = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{snapshots, SyntheticOptions};

    fn key(n: u8) -> PseudonymKey {
        PseudonymKey::from_bytes([n; 32])
    }

    #[test]
    fn addresses_keep_their_subnets_and_lengths() {
        let mut p = Pseudonymizer::new(&key(1));
        let a = p.text("198.18.5.3");
        let b = p.text("198.18.200.9");
        let net = p.text("198.18.0.0/16");
        let (net_addr, len) = net.split_once('/').unwrap();
        assert_eq!(len, "16");
        let pre = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap()) >> 16;
        assert_eq!(pre(&a), pre(net_addr));
        assert_eq!(pre(&b), pre(net_addr));
        assert_eq!(u32::from(net_addr.parse::<Ipv4Addr>().unwrap()) & 0xffff, 0);
        assert_ne!(a, "198.18.5.3");
        let other = p.text("198.19.0.1");
        assert_ne!(pre(&other), pre(net_addr), "another /16 stays another");
        // Stable: the same key again, another key differs.
        assert_eq!(Pseudonymizer::new(&key(1)).text("198.18.5.3"), a);
        assert_ne!(Pseudonymizer::new(&key(2)).text("198.18.5.3"), a);
        // Ordinary stays ordinary; specials stay.
        assert_eq!(p.text("127.0.0.1"), "127.0.0.1");
        assert_eq!(p.text("0.0.0.0/0"), "0.0.0.0/0");
        let first: u8 = a.split('.').next().unwrap().parse().unwrap();
        assert!(!special_octet(first));
    }

    #[test]
    fn ipv6_link_local_keeps_its_prefix_and_macs_change() {
        let mut p = Pseudonymizer::new(&key(3));
        let ll = p.text("fe80::42:c6ff:fe12:5/64");
        assert!(ll.starts_with("fe80::") && ll.ends_with("/64"), "{ll}");
        assert_ne!(ll, "fe80::42:c6ff:fe12:5/64");
        let g = p.text("fd00:dead:beef::1");
        assert!(g.starts_with("fd"), "{g}");
        let m = p.text("02:42:c6:12:00:05");
        assert!(is_mac(&m) && m != "02:42:c6:12:00:05");
        assert_eq!(p.text("ff:ff:ff:ff:ff:ff"), "ff:ff:ff:ff:ff:ff");
        // Times are not MACs or addresses.
        assert_eq!(
            p.text("2026-11-26T13:34:10.123Z"),
            "2026-11-26T13:34:10.123Z"
        );
    }

    #[test]
    fn names_are_found_inside_longer_words_and_rules() {
        let mut p = Pseudonymizer::new(&key(4));
        p.secret("net", "lab-overlay");
        p.secret("svc", "web");
        p.secret("host", "node1");
        let n = p.name("lab-overlay").unwrap().to_owned();
        let w = p.name("web").unwrap().to_owned();
        let h = p.name("node1").unwrap().to_owned();
        assert_eq!(p.text("lb-lab-overlay"), format!("lb-{n}"));
        assert_eq!(p.text("web.1.abcdef"), format!("{w}.1.abcdef"));
        assert_eq!(
            p.text("/run/docker-node1/netns"),
            format!("/run/docker-{h}/netns")
        );
        assert_eq!(
            p.text("-A DOCKER -d 198.18.0.2/32 ! -i docker0 -j ACCEPT"),
            format!(
                "-A DOCKER -d {}/32 ! -i docker0 -j ACCEPT",
                p.text("198.18.0.2")
            )
        );
        // A name is a whole word: no match inside other words.
        assert_eq!(p.text("webhook"), "webhook");
        assert!(p
            .text("DNAT --to-destination 198.18.0.2:80")
            .ends_with(":80"));
    }

    #[test]
    fn kernel_names_are_kept_and_user_names_are_not() {
        for n in [
            "eth0",
            "lo",
            "docker0",
            "docker_gwbridge",
            "br0",
            "vxlan0",
            "veth1a2b3c",
            "br-0123456789ab",
            "enp3s0",
        ] {
            assert!(kernel_interface_name(n), "{n}");
        }
        for n in ["prod-bridge", "br-customer", "myvpn"] {
            assert!(!kernel_interface_name(n), "{n}");
        }
        for n in [
            "host",
            "ingress_sbox",
            "lb_0a1b2c3d4e",
            "1-0a1b2c3d4e",
            "0123456789ab",
            "pid:42",
        ] {
            assert!(generated_namespace_name(n), "{n}");
        }
        assert!(!generated_namespace_name("customer-ns"));
    }

    #[test]
    fn a_synthetic_swarm_keeps_its_shape_and_loses_its_names() {
        let snaps = snapshots(&SyntheticOptions {
            hosts: 3,
            containers: 60,
            hostile_names: true,
        });
        let mut p = Pseudonymizer::new(&key(9));
        let out = p.nodes(&snaps).unwrap();
        let bytes = serde_json::to_string(&out).unwrap();
        for s in &snaps {
            assert!(!bytes.contains(&format!("\"{}\"", s.node.hostname)));
            let e = s.engine.as_ref().unwrap();
            for c in &e.containers {
                assert!(!bytes.contains(&c.name), "container name {} left", c.name);
                for ep in &c.endpoints {
                    assert!(
                        !bytes.contains(&format!("\"{}\"", ep.ipv4)),
                        "{} left",
                        ep.ipv4
                    );
                    assert!(!bytes.contains(&ep.mac), "{} left", ep.mac);
                }
            }
        }
        let g = crate::graph::build(&snaps);
        let g2 = crate::graph::build(&out);
        let mapped: BTreeSet<String> = g.elements.iter().map(|e| p.text(&e.id)).collect();
        let got: BTreeSet<String> = g2.elements.iter().map(|e| e.id.clone()).collect();
        assert_eq!(mapped, got);
        let mapped: BTreeSet<(String, String)> = g
            .edges
            .iter()
            .map(|e| (p.text(&e.source), p.text(&e.target)))
            .collect();
        let got: BTreeSet<(String, String)> = g2
            .edges
            .iter()
            .map(|e| (e.source.clone(), e.target.clone()))
            .collect();
        assert_eq!(mapped, got);
        assert_eq!(g.findings.len(), g2.findings.len());
    }
}
