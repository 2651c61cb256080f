//! Walk a packet through iptables chains the way the kernel would, for Docker's rule set.
//!
//! Interpreted: `-s`/`-d` (prefixes, `!`), `-i`/`-o` (`+`, `!`), `-p`, tcp/udp/multiport ports,
//! `addrtype` LOCAL, `conntrack`/`state` (a new connection), `mark`, `comment`; targets ACCEPT, DROP,
//! REJECT, RETURN, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, jumps and gotos to user chains, policies.
//! A rule with anything else is not guessed at: it is skipped and reported as uncertain.

use std::net::Ipv4Addr;

use crate::snapshot::{Firewall, Rule, Table};

/// The packet as far as the question pins it down; `None` fields are left open.
#[derive(Debug, Clone, Default)]
pub struct Packet {
    /// Source address; `None`: any client.
    pub src: Option<Ipv4Addr>,
    /// Destination address; `None`: any address (e.g. "the internet").
    pub dst: Option<Ipv4Addr>,
    /// `tcp` or `udp`; `None`: any protocol.
    pub proto: Option<String>,
    /// Destination port.
    pub dport: Option<u16>,
    /// Input interface (`None` for locally made packets).
    pub in_if: Option<String>,
    /// Output interface (`None` before routing).
    pub out_if: Option<String>,
    /// The packet's mark.
    pub mark: u32,
    /// The namespace's own addresses, for `addrtype --dst-type LOCAL`.
    pub local: Vec<Ipv4Addr>,
    /// Whether `dst` is local when `dst` is left open.
    pub dst_local: Option<bool>,
}

/// How a walk through a built-in chain ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'a> {
    /// A terminating rule (ACCEPT, DROP, REJECT, DNAT, SNAT, MASQUERADE, REDIRECT...).
    Rule(&'a Rule),
    /// No terminating rule: the chain's policy.
    Policy(String),
    /// The namespace has no such table (nothing filters or rewrites here).
    NoTable,
    /// The namespace's rules were not read.
    NotRead,
}

/// The result of a walk.
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    /// Table walked.
    pub table: String,
    /// Built-in chain walked.
    pub chain: String,
    /// How it ended.
    pub decision: Decision<'a>,
    /// Every rule that matched, in order (jumps, marks, the terminating one).
    pub matched: Vec<&'a Rule>,
    /// The packet's mark afterwards.
    pub mark: u32,
    /// The rule that last set the mark.
    pub mark_rule: Option<&'a Rule>,
    /// Rules skipped because they use something not interpreted, with why.
    pub uncertain: Vec<(&'a Rule, String)>,
    /// Rules skipped because they match only some of the packets the question leaves open.
    pub conditional: Vec<&'a Rule>,
}

impl<'a> Walk<'a> {
    /// The DNAT rule that decided, if one did.
    pub fn dnat(&self) -> Option<&'a Rule> {
        match &self.decision {
            Decision::Rule(r) if self.target() == Some("DNAT") => Some(*r),
            _ => None,
        }
    }

    /// The terminating rule's target name, if a rule decided.
    pub fn target(&self) -> Option<&str> {
        match &self.decision {
            Decision::Rule(r) => r.target.as_ref().map(|t| t.name.as_str()),
            _ => None,
        }
    }

    /// An uncertain rule whose target could have changed the outcome, in words.
    pub fn doubt(&self) -> Option<String> {
        self.uncertain
            .iter()
            .find(|(r, _)| {
                !matches!(
                    r.target.as_ref().map(|t| t.name.as_str()),
                    None | Some("LOG") | Some("NFLOG") | Some("TRACE") | Some("CHECKSUM")
                )
            })
            .map(|(r, why)| format!("cannot tell whether `{}` applies: {why}", r.text))
    }
}

/// Outcome of one condition.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Yes,
    No,
    /// Matches some of the packets the question leaves open.
    Depends,
    /// Not interpreted.
    Unknown(String),
}

impl Cond {
    fn and(self, other: Cond) -> Cond {
        match (self, other) {
            (Cond::No, _) | (_, Cond::No) => Cond::No,
            (Cond::Unknown(w), _) | (_, Cond::Unknown(w)) => Cond::Unknown(w),
            (Cond::Depends, _) | (_, Cond::Depends) => Cond::Depends,
            _ => Cond::Yes,
        }
    }

    fn from_bool(b: bool) -> Cond {
        if b {
            Cond::Yes
        } else {
            Cond::No
        }
    }

    fn negate(self, neg: bool) -> Cond {
        match (self, neg) {
            (Cond::Yes, true) => Cond::No,
            (Cond::No, true) => Cond::Yes,
            (c, _) => c,
        }
    }
}

const TERMINAL: [&str; 9] = [
    "ACCEPT",
    "DROP",
    "REJECT",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "REDIRECT",
    "NETMAP",
    "QUEUE",
];
const CONTINUE: [&str; 7] = [
    "LOG", "NFLOG", "TRACE", "CHECKSUM", "TCPMSS", "CT", "NOTRACK",
];
const MAX_DEPTH: usize = 40;

/// Walk `pkt` through built-in `chain` of `table` in `fw`.
pub fn walk<'a>(fw: Option<&'a Firewall>, table: &str, chain: &str, pkt: &Packet) -> Walk<'a> {
    let mut w = Walk {
        table: table.to_owned(),
        chain: chain.to_owned(),
        decision: Decision::NotRead,
        matched: Vec::new(),
        mark: pkt.mark,
        mark_rule: None,
        uncertain: Vec::new(),
        conditional: Vec::new(),
    };
    let Some(fw) = fw else { return w };
    let Some(t) = fw.ipv4.iter().find(|t| t.name == table) else {
        w.decision = Decision::NoTable;
        return w;
    };
    let mut pkt = pkt.clone();
    w.decision = match run(t, chain, &mut pkt, &mut w, 0) {
        Flow::Terminal(r) => Decision::Rule(r),
        Flow::Return | Flow::End => Decision::Policy(
            t.chains
                .iter()
                .find(|c| c.name == chain)
                .and_then(|c| c.policy.clone())
                .unwrap_or_else(|| "ACCEPT".to_owned()),
        ),
    };
    w.mark = pkt.mark;
    w
}

enum Flow<'a> {
    Terminal(&'a Rule),
    Return,
    End,
}

fn run<'a>(
    t: &'a Table,
    chain: &str,
    pkt: &mut Packet,
    w: &mut Walk<'a>,
    depth: usize,
) -> Flow<'a> {
    if depth > MAX_DEPTH {
        return Flow::End;
    }
    for r in t.rules.iter().filter(|r| r.chain == chain) {
        match conditions(r, pkt) {
            Cond::No => continue,
            Cond::Unknown(why) => {
                w.uncertain.push((r, why));
                continue;
            }
            Cond::Depends => {
                w.conditional.push(r);
                continue;
            }
            Cond::Yes => {}
        }
        let Some(target) = &r.target else { continue };
        let name = target.name.as_str();
        if TERMINAL.contains(&name) {
            w.matched.push(r);
            return Flow::Terminal(r);
        }
        if name == "RETURN" {
            w.matched.push(r);
            return Flow::Return;
        }
        if name == "MARK" {
            match target.set_mark.as_deref().and_then(parse_mark) {
                Some((v, m)) => {
                    let xor = target.args.iter().any(|a| a == "--set-xmark");
                    pkt.mark = if xor {
                        (pkt.mark & !m) ^ v
                    } else {
                        (pkt.mark & !m) | v
                    };
                    w.matched.push(r);
                    w.mark_rule = Some(r);
                }
                None => w
                    .uncertain
                    .push((r, "a MARK target dockmap cannot read".to_owned())),
            }
            continue;
        }
        if CONTINUE.contains(&name) {
            continue;
        }
        if t.chains
            .iter()
            .any(|c| c.name == name && c.policy.is_none())
        {
            w.matched.push(r);
            match run(t, name, pkt, w, depth + 1) {
                Flow::Terminal(x) => return Flow::Terminal(x),
                Flow::Return | Flow::End if target.goto => return Flow::Return,
                _ => continue,
            }
        }
        w.uncertain
            .push((r, format!("target {name} is not interpreted")));
    }
    Flow::End
}

/// `0x102/0xffffffff` or `0x102` → (value, mask).
fn parse_mark(s: &str) -> Option<(u32, u32)> {
    let (v, m) = match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    };
    let num = |x: &str| match x.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => x.parse().ok(),
    };
    Some((num(v)?, m.map(num).unwrap_or(Some(u32::MAX))?))
}

/// Split a `!value` field.
fn neg(s: &str) -> (bool, &str) {
    match s.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    }
}

/// `198.18.0.0/24`, `198.18.0.2/32`, `198.18.0.2` → (network, prefix).
pub fn parse_prefix(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, p.parse().ok()?),
        None => (s, 32u8),
    };
    if p > 32 {
        return None;
    }
    Some((a.parse().ok()?, p))
}

/// Whether `ip` lies in `net/prefix`.
pub fn in_prefix(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn addr_cond(field: &Option<String>, ip: Option<Ipv4Addr>) -> Cond {
    let Some(f) = field else { return Cond::Yes };
    let (n, v) = neg(f);
    let Some((net, p)) = parse_prefix(v) else {
        return Cond::Unknown(format!("address {v} is not an IPv4 prefix"));
    };
    match ip {
        Some(ip) => Cond::from_bool(in_prefix(ip, net, p)).negate(n),
        None if p == 0 => Cond::from_bool(true).negate(n),
        None => Cond::Depends,
    }
}

fn iface_cond(field: &Option<String>, name: Option<&str>) -> Cond {
    let Some(f) = field else { return Cond::Yes };
    let (n, pat) = neg(f);
    // A locally made packet has no input interface; the kernel compares an empty name.
    let name = name.unwrap_or("");
    let hit = match pat.strip_suffix('+') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pat,
    };
    Cond::from_bool(hit).negate(n)
}

fn proto_cond(field: &Option<String>, proto: Option<&str>) -> Cond {
    let Some(f) = field else { return Cond::Yes };
    let (n, p) = neg(f);
    if p == "all" || p == "0" {
        return Cond::from_bool(true).negate(n);
    }
    match proto {
        Some(x) => Cond::from_bool(x.eq_ignore_ascii_case(p)).negate(n),
        None => Cond::Depends,
    }
}

fn conditions(r: &Rule, pkt: &Packet) -> Cond {
    let mut c = addr_cond(&r.source, pkt.src)
        .and(addr_cond(&r.destination, pkt.dst))
        .and(iface_cond(&r.in_interface, pkt.in_if.as_deref()))
        .and(iface_cond(&r.out_interface, pkt.out_if.as_deref()))
        .and(proto_cond(&r.protocol, pkt.proto.as_deref()));
    for m in &r.matches {
        if c == Cond::No {
            return c;
        }
        c = c.and(match_cond(&m.name, &m.args, pkt));
    }
    c
}

/// One option of a match module: negated, the option, its value.
type MatchOption<'a> = (bool, &'a str, Option<&'a str>);

/// Options of a match module, in order.
fn options(args: &[String]) -> Result<Vec<MatchOption<'_>>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let mut n = false;
        if args[i] == "!" {
            n = true;
            i += 1;
        }
        let Some(opt) = args.get(i) else {
            return Err("a dangling `!`".into());
        };
        if !opt.starts_with("--") {
            return Err(format!("unexpected word {opt}"));
        }
        let value = args
            .get(i + 1)
            .filter(|v| !v.starts_with("--") && *v != "!");
        out.push((n, opt.as_str(), value.map(|v| v.as_str())));
        i += if value.is_some() { 2 } else { 1 };
    }
    Ok(out)
}

fn port_in(spec: &str, port: u16) -> Option<bool> {
    let mut hit = false;
    for part in spec.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (
                if a.is_empty() { 0 } else { a.parse().ok()? },
                if b.is_empty() {
                    u16::MAX
                } else {
                    b.parse().ok()?
                },
            ),
            None => {
                let p: u16 = part.parse().ok()?;
                (p, p)
            }
        };
        hit |= (lo..=hi).contains(&port);
    }
    Some(hit)
}

fn match_cond(name: &str, args: &[String], pkt: &Packet) -> Cond {
    let opts = match options(args) {
        Ok(o) => o,
        Err(why) => return Cond::Unknown(format!("-m {name}: {why}")),
    };
    let mut c = Cond::Yes;
    for (n, opt, value) in opts {
        let one = match (name, opt) {
            ("comment", "--comment") => Cond::Yes,
            ("tcp" | "udp" | "sctp" | "", "--dport" | "--destination-port")
            | ("multiport", "--dports" | "--destination-ports" | "--ports") => {
                match (value, pkt.dport) {
                    (Some(v), Some(p)) => match port_in(v, p) {
                        Some(b) => Cond::from_bool(b),
                        None => Cond::Unknown(format!("port {v} not understood")),
                    },
                    (Some(_), None) => Cond::Depends,
                    (None, _) => Cond::Unknown(format!("{opt} without a value")),
                }
            }
            ("tcp" | "udp" | "sctp" | "", "--sport" | "--source-port")
            | ("multiport", "--sports" | "--source-ports") => Cond::Depends,
            ("addrtype", "--dst-type") => match value {
                Some("LOCAL") => match (pkt.dst, pkt.dst_local) {
                    (_, Some(l)) => Cond::from_bool(l),
                    (Some(d), None) => Cond::from_bool(d.is_loopback() || pkt.local.contains(&d)),
                    (None, None) => Cond::Depends,
                },
                Some(other) => Cond::Unknown(format!("addrtype {other} is not interpreted")),
                None => Cond::Unknown("--dst-type without a value".into()),
            },
            ("addrtype", "--src-type") => match (value, pkt.src) {
                (Some("LOCAL"), Some(s)) => {
                    Cond::from_bool(s.is_loopback() || pkt.local.contains(&s))
                }
                (Some("LOCAL"), None) => Cond::Depends,
                _ => Cond::Unknown("addrtype --src-type is not interpreted".into()),
            },
            ("conntrack", "--ctstate") | ("state", "--state") => match value {
                // The question is about a new connection's first packet.
                Some(v) => Cond::from_bool(v.split(',').any(|s| s == "NEW")),
                None => Cond::Unknown(format!("{opt} without a value")),
            },
            ("mark", "--mark") => match value.and_then(parse_mark) {
                Some((v, m)) => Cond::from_bool(pkt.mark & m == v & m),
                None => Cond::Unknown("a mark dockmap cannot read".into()),
            },
            _ => Cond::Unknown(format!("-m {name} {opt} is not interpreted")),
        };
        c = c.and(one.negate(n));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::firewall::parse_iptables_save;

    fn fw(text: &str) -> Firewall {
        Firewall {
            ipv4: parse_iptables_save(text).unwrap(),
            ..Default::default()
        }
    }

    const NAT: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n\
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n\
-A DOCKER -i docker0 -j RETURN\n\
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.0.2:80\nCOMMIT\n";

    fn to_host(port: u16, in_if: Option<&str>, dst: &str) -> Packet {
        Packet {
            dst: Some(dst.parse().unwrap()),
            proto: Some("tcp".into()),
            dport: Some(port),
            in_if: in_if.map(str::to_owned),
            local: vec!["198.19.0.5".parse().unwrap()],
            ..Default::default()
        }
    }

    #[test]
    fn dnat_through_a_jump_and_not_for_other_ports_or_the_bridge() {
        let f = fw(NAT);
        let w = walk(
            Some(&f),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("eth0"), "198.19.0.5"),
        );
        assert_eq!(w.target(), Some("DNAT"));
        assert_eq!(w.matched.len(), 2, "the jump and the DNAT");
        let w = walk(
            Some(&f),
            "nat",
            "PREROUTING",
            &to_host(8081, Some("eth0"), "198.19.0.5"),
        );
        assert_eq!(w.decision, Decision::Policy("ACCEPT".into()));
        let w = walk(
            Some(&f),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("docker0"), "198.19.0.5"),
        );
        assert_eq!(w.decision, Decision::Policy("ACCEPT".into()));
        assert_eq!(
            w.matched.last().unwrap().target.as_ref().unwrap().name,
            "RETURN"
        );
        // Not a local address: no jump at all.
        let w = walk(
            Some(&f),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("eth0"), "198.19.9.9"),
        );
        assert!(w.matched.is_empty());
    }

    #[test]
    fn output_excludes_loopback_so_local_clients_of_127_get_no_dnat() {
        let f = fw(NAT);
        let w = walk(Some(&f), "nat", "OUTPUT", &to_host(8080, None, "127.0.0.1"));
        assert_eq!(w.decision, Decision::Policy("ACCEPT".into()));
        let w = walk(
            Some(&f),
            "nat",
            "OUTPUT",
            &to_host(8080, None, "198.19.0.5"),
        );
        assert_eq!(w.target(), Some("DNAT"));
    }

    #[test]
    fn marks_gotos_policies_and_uncertain_matches() {
        let f = fw("*mangle\n:PREROUTING ACCEPT [0:0]\n\
-A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x102/0xffffffff\nCOMMIT\n\
*filter\n:FORWARD DROP [0:0]\n:A - [0:0]\n:B - [0:0]\n\
-A FORWARD -g A\n-A FORWARD -j ACCEPT\n-A A -j B\n-A A -j RETURN\n-A B -m set --match-set x dst -j DROP\n\
-A B -o br1 -j DROP\nCOMMIT\n");
        let w = walk(
            Some(&f),
            "mangle",
            "PREROUTING",
            &to_host(8080, Some("eth1"), "198.19.0.5"),
        );
        assert_eq!(w.mark, 0x102);
        assert!(w.mark_rule.is_some());
        // The goto'd chain returns past FORWARD's own ACCEPT: the policy decides.
        let mut p = to_host(80, Some("br0"), "198.19.0.9");
        p.out_if = Some("br2".into());
        let w = walk(Some(&f), "filter", "FORWARD", &p);
        assert_eq!(w.decision, Decision::Policy("DROP".into()));
        assert!(w.doubt().unwrap().contains("-m set"), "{:?}", w.doubt());
        p.out_if = Some("br1".into());
        let w = walk(Some(&f), "filter", "FORWARD", &p);
        assert_eq!(w.target(), Some("DROP"));
        assert_eq!(
            walk(None, "filter", "FORWARD", &p).decision,
            Decision::NotRead
        );
        assert_eq!(
            walk(Some(&f), "nat", "FORWARD", &p).decision,
            Decision::NoTable
        );
    }

    #[test]
    fn open_protocol_makes_port_rules_conditional() {
        let f = fw(
            "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n",
        );
        let p = Packet {
            dst: Some("198.18.0.3".parse().unwrap()),
            ..Default::default()
        };
        let w = walk(Some(&f), "filter", "FORWARD", &p);
        assert_eq!(w.decision, Decision::Policy("ACCEPT".into()));
        assert_eq!(w.conditional.len(), 1);
    }
}
