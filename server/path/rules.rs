//! Walk a packet through iptables chains the way the kernel would, for Docker's rule set.
//!
//! Interpreted: `-s`/`-d` (prefixes, `!`), `-i`/`-o` (`+`, `!`), `-p`, tcp/udp/multiport ports,
//! `addrtype` LOCAL, `conntrack`/`state` (a new connection), `mark`, `comment`; targets ACCEPT, DROP,
//! REJECT, RETURN, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, jumps and gotos to user chains, policies.
//! A rule with anything else is not guessed at: it is skipped and reported as uncertain.
//!
//! Only the mark changes during a walk, so each chain's outcome for a mark is computed once and
//! remembered: chains that jump several times to the next cost their rules, not the product of
//! their jumps. A loop (which the kernel refuses to load), nesting past [`MAX_DEPTH`] or a
//! question's spent [`Budget`] ends the walk as [`Decision::Unknown`], never as a guess.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::snapshot::{Firewall, Rule, Table};

/// The packet as far as the question pins it down; `None` fields are left open.
#[derive(Debug, Clone, Default)]
pub struct Packet {
    /// Whether it is an IPv6 packet: it meets ip6tables and the `ip6`/`inet` nft tables.
    pub v6: bool,
    /// Source address; `None`: any client.
    pub src: Option<IpAddr>,
    /// Destination address; `None`: any address (e.g. "the internet").
    pub dst: Option<IpAddr>,
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
    pub local: Vec<IpAddr>,
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
    /// The walk could not be finished (a loop, too deep, or more work than a question may
    /// spend): why. Never a guess at the outcome.
    Unknown(String),
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
    /// Whether the tables walked were IPv6's (ip6tables-save).
    pub v6: bool,
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

    /// Why the walk could not be finished, if it could not.
    pub fn gave_up(&self) -> Option<&str> {
        match &self.decision {
            Decision::Unknown(why) => Some(why),
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
/// Nested jumps followed before a walk gives up (the nf_tables jump stack holds 16).
pub const MAX_DEPTH: usize = 64;

/// Chain outcomes a walk remembers (far more than a real rule set's chains times its marks).
const MAX_MEMO: usize = 1 << 16;

/// Rule evaluations one path question may spend on walking chains, beyond the rules it holds.
pub const QUESTION_BUDGET: u64 = 2_000_000;

/// The work a path question may still spend walking chains, shared by all its walks.
///
/// Each rule evaluated costs one. A rule set whose walk would cost more (marks that double the
/// packet states at every jump) ends in [`Decision::Unknown`] instead of holding the worker.
#[derive(Debug)]
pub struct Budget {
    left: std::cell::Cell<u64>,
    total: u64,
}

impl Budget {
    /// A budget of `n` rule evaluations.
    pub fn new(n: u64) -> Self {
        Self {
            left: std::cell::Cell::new(n),
            total: n,
        }
    }

    /// Take one evaluation; `false` when none is left.
    fn spend(&self) -> bool {
        let left = self.left.get();
        if left == 0 {
            return false;
        }
        self.left.set(left - 1);
        true
    }

    fn why(&self) -> String {
        format!(
            "walking the rules took more than the {} rule evaluations a path question may spend (marks or jumps that multiply the packet's states): cannot tell how this chain ends",
            self.total
        )
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(QUESTION_BUDGET)
    }
}

/// Walk `pkt` through built-in `chain` of `table` in `fw`, spending from `budget`.
pub fn walk<'a>(
    fw: Option<&'a Firewall>,
    table: &str,
    chain: &str,
    pkt: &Packet,
    budget: &Budget,
) -> Walk<'a> {
    let mut w = Walk {
        table: table.to_owned(),
        chain: chain.to_owned(),
        decision: Decision::NotRead,
        v6: pkt.v6,
        matched: Vec::new(),
        mark: pkt.mark,
        mark_rule: None,
        uncertain: Vec::new(),
        conditional: Vec::new(),
    };
    let Some(fw) = fw else { return w };
    let tables = if pkt.v6 { &fw.ipv6 } else { &fw.ipv4 };
    let Some(t) = tables.iter().find(|t| t.name == table) else {
        w.decision = Decision::NoTable;
        return w;
    };
    let ix = Chains::new(t);
    let mut walker = Walker {
        ix: &ix,
        memo: HashMap::new(),
        active: Vec::new(),
        pkt: pkt.clone(),
        budget,
        mark_now: pkt.mark,
        trace: Trace::default(),
    };
    let root = ix.by_chain.get_key_value(chain).map(|(k, _)| *k);
    let result = match root {
        Some(root) => walker.run(root, pkt.mark, 0).map(|o| (o.flow, o.mark)),
        None => Ok((Flow::End, pkt.mark)),
    };
    let (decision, mark) = match result {
        Ok((Flow::Terminal(r), m)) => (Decision::Rule(r), m),
        Ok((Flow::Return | Flow::End, m)) => (
            Decision::Policy(
                t.chains
                    .iter()
                    .find(|c| c.name == chain)
                    .and_then(|c| c.policy.clone())
                    .unwrap_or_else(|| "ACCEPT".to_owned()),
            ),
            m,
        ),
        Err(why) => (Decision::Unknown(why), walker.mark_now),
    };
    let trace = walker.trace;
    w.decision = decision;
    w.mark = mark;
    w.mark_rule = trace.mark_rule;
    w.matched = trace.matched;
    w.uncertain = trace.uncertain;
    w.conditional = trace.conditional;
    w
}

#[derive(Clone, Copy)]
enum Flow<'a> {
    Terminal(&'a Rule),
    Return,
    End,
}

/// How a chain ended for a packet with a given mark: computed once per walk.
#[derive(Clone, Copy)]
struct Outcome<'a> {
    flow: Flow<'a>,
    mark: u32,
    /// The last rule that set the mark within the chain (and the chains it jumped to).
    mark_rule: Option<&'a Rule>,
}

/// What a walk saw, each rule listed once, in the order first seen.
#[derive(Default)]
struct Trace<'a> {
    matched: Vec<&'a Rule>,
    uncertain: Vec<(&'a Rule, String)>,
    conditional: Vec<&'a Rule>,
    mark_rule: Option<&'a Rule>,
    seen: HashSet<(u8, *const Rule)>,
}

impl<'a> Trace<'a> {
    fn first(&mut self, list: u8, r: &'a Rule) -> bool {
        self.seen.insert((list, r as *const Rule))
    }

    fn matched(&mut self, r: &'a Rule) {
        if self.first(0, r) {
            self.matched.push(r);
        }
    }

    fn uncertain(&mut self, r: &'a Rule, why: String) {
        if self.first(1, r) {
            self.uncertain.push((r, why));
        }
    }

    fn conditional(&mut self, r: &'a Rule) {
        if self.first(2, r) {
            self.conditional.push(r);
        }
    }
}

/// A table's rules by chain and its user chains, indexed once per walk.
struct Chains<'a> {
    by_chain: HashMap<&'a str, Vec<&'a Rule>>,
    user: HashSet<&'a str>,
}

impl<'a> Chains<'a> {
    fn new(t: &'a Table) -> Self {
        let mut by_chain: HashMap<&'a str, Vec<&'a Rule>> = HashMap::new();
        for r in &t.rules {
            by_chain.entry(r.chain.as_str()).or_default().push(r);
        }
        let user = t
            .chains
            .iter()
            .filter(|c| c.policy.is_none())
            .map(|c| c.name.as_str())
            .collect();
        Chains { by_chain, user }
    }
}

/// One walk's state: each (chain, mark)'s outcome once computed, the chains being walked (a
/// jump back into one is a loop), and what was seen.
struct Walker<'a, 'c> {
    ix: &'c Chains<'a>,
    memo: HashMap<(&'a str, u32), Outcome<'a>>,
    active: Vec<&'a str>,
    pkt: Packet,
    budget: &'c Budget,
    /// The packet's mark where the walk is (what it was when a walk gives up).
    mark_now: u32,
    trace: Trace<'a>,
}

impl<'a, 'c> Walker<'a, 'c> {
    /// The outcome of `chain` for a packet marked `mark`: computed once, then remembered (the
    /// other fields of the packet never change during a walk).
    fn run(&mut self, chain: &'a str, mark: u32, depth: usize) -> Result<Outcome<'a>, String> {
        if let Some(o) = self.memo.get(&(chain, mark)) {
            return Ok(*o);
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "the rules jump more than {MAX_DEPTH} chains deep (at chain {chain}): cannot tell how they end"
            ));
        }
        self.active.push(chain);
        let outer = self.trace.mark_rule.take();
        let result = self.chain_rules(chain, mark, depth);
        self.active.pop();
        let inner = self.trace.mark_rule;
        self.trace.mark_rule = inner.or(outer);
        let (flow, after) = result?;
        let o = Outcome {
            flow,
            mark: after,
            mark_rule: inner,
        };
        // Memory stays bounded when marks multiply the states; past this only the time grows,
        // and the budget bounds that.
        if self.memo.len() < MAX_MEMO {
            self.memo.insert((chain, mark), o);
        }
        Ok(o)
    }

    fn chain_rules(
        &mut self,
        chain: &'a str,
        mut mark: u32,
        depth: usize,
    ) -> Result<(Flow<'a>, u32), String> {
        let ix = self.ix;
        let rules = ix.by_chain.get(chain).map_or(&[][..], Vec::as_slice);
        for &r in rules {
            self.mark_now = mark;
            if !self.budget.spend() {
                return Err(self.budget.why());
            }
            self.pkt.mark = mark;
            match conditions(r, &self.pkt) {
                Cond::No => continue,
                Cond::Unknown(why) => {
                    self.trace.uncertain(r, why);
                    continue;
                }
                Cond::Depends => {
                    self.trace.conditional(r);
                    continue;
                }
                Cond::Yes => {}
            }
            let Some(target) = &r.target else { continue };
            let name = target.name.as_str();
            if TERMINAL.contains(&name) {
                self.trace.matched(r);
                return Ok((Flow::Terminal(r), mark));
            }
            if name == "RETURN" {
                self.trace.matched(r);
                return Ok((Flow::Return, mark));
            }
            if name == "MARK" {
                mark = self.set_mark(r, mark);
                continue;
            }
            if CONTINUE.contains(&name) {
                continue;
            }
            let Some(&callee) = ix.user.get(name) else {
                self.trace
                    .uncertain(r, format!("target {name} is not interpreted"));
                continue;
            };
            self.trace.matched(r);
            if self.active.contains(&callee) {
                return Err(format!(
                    "`{}` jumps back into chain {callee}, which the packet is already in: a loop the kernel refuses to load, so these are not rules a kernel holds",
                    r.text
                ));
            }
            let o = self.run(callee, mark, depth + 1)?;
            if o.mark_rule.is_some() {
                self.trace.mark_rule = o.mark_rule;
            }
            mark = o.mark;
            match o.flow {
                Flow::Terminal(x) => return Ok((Flow::Terminal(x), mark)),
                Flow::Return | Flow::End if target.goto => return Ok((Flow::Return, mark)),
                _ => continue,
            }
        }
        Ok((Flow::End, mark))
    }

    /// The mark after MARK rule `r` (`--set-mark` ors, `--set-xmark` xors, under the mask); a
    /// MARK target that cannot be read leaves it and makes the walk uncertain.
    fn set_mark(&mut self, r: &'a Rule, mark: u32) -> u32 {
        let Some(target) = &r.target else {
            return mark;
        };
        match target.set_mark.as_deref().and_then(parse_mark) {
            Some((v, m)) => {
                let xor = target.args.iter().any(|a| a == "--set-xmark");
                self.trace.matched(r);
                self.trace.mark_rule = Some(r);
                if xor {
                    (mark & !m) ^ v
                } else {
                    (mark & !m) | v
                }
            }
            None => {
                self.trace
                    .uncertain(r, "a MARK target dockmap cannot read".to_owned());
                mark
            }
        }
    }
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

/// `198.18.0.0/24`, `198.18.0.2/32`, `198.18.0.2` → (network, prefix); IPv4 only.
pub fn parse_prefix(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    match parse_net(s)? {
        (IpAddr::V4(a), p) => Some((a, p)),
        _ => None,
    }
}

/// `198.18.0.0/24`, `198.18.0.2`, `2001:2::/64`, `2001:2::2` → (network, prefix), either family.
pub fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse().ok()?)),
        None => (s, None),
    };
    let a: IpAddr = a.parse().ok()?;
    let max = if a.is_ipv6() { 128 } else { 32 };
    let p = p.unwrap_or(max);
    (p <= max).then_some((a, p))
}

/// Whether `ip` lies in `net/prefix` (never across address families).
pub fn in_prefix(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn addr_cond(field: &Option<String>, ip: Option<IpAddr>, v6: bool) -> Cond {
    let Some(f) = field else { return Cond::Yes };
    let (n, v) = neg(f);
    let Some((net, p)) = parse_net(v).filter(|(net, _)| net.is_ipv6() == v6) else {
        let family = if v6 { "IPv6" } else { "IPv4" };
        return Cond::Unknown(format!("address {v} is not an {family} prefix"));
    };
    match ip {
        Some(ip) => Cond::from_bool(in_prefix(ip, net, p)).negate(n),
        None if p == 0 => Cond::from_bool(true).negate(n),
        // A client the question leaves open comes from a routable address: link-local sources
        // are never forwarded (Docker's `! -s fe80::/10` on its IPv6 DNAT holds for them all).
        None if v6 && link_local(net, p) => Cond::No.negate(n),
        None => Cond::Depends,
    }
}

/// Whether `net/p` lies inside fe80::/10.
pub(super) fn link_local(net: IpAddr, p: u8) -> bool {
    let fe80 = IpAddr::V6(std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0));
    p >= 10 && in_prefix(net, fe80, 10)
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
    let mut c = addr_cond(&r.source, pkt.src, pkt.v6)
        .and(addr_cond(&r.destination, pkt.dst, pkt.v6))
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

    /// A walk with a question's whole budget.
    fn walk<'a>(fw: Option<&'a Firewall>, table: &str, chain: &str, pkt: &Packet) -> Walk<'a> {
        super::walk(fw, table, chain, pkt, &Budget::default())
    }

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

    /// moby's Docker 28 ip6tables layout (tests/fixtures/iptablesdoc/, naming its source).
    const V6: &str =
        include_str!("../../tests/fixtures/iptablesdoc/usernet-portmap.ip6tables-save");

    fn v6_fw() -> Firewall {
        Firewall {
            // The IPv4 tables hold a DNAT for the same port elsewhere: an IPv6 packet never meets it.
            ipv4: parse_iptables_save(NAT).unwrap(),
            ipv6: parse_iptables_save(V6).unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn an_ipv6_packet_walks_the_ip6tables_tables_only() {
        let f = v6_fw();
        let host: IpAddr = "2001:2:0:221::5".parse().unwrap();
        let pkt = Packet {
            v6: true,
            dst: Some(host),
            proto: Some("tcp".into()),
            dport: Some(8080),
            in_if: Some("up0".into()),
            local: vec![host],
            ..Default::default()
        };
        let w = walk(Some(&f), "nat", "PREROUTING", &pkt);
        assert!(w.v6);
        assert_eq!(
            w.dnat().map(|r| r.text.as_str()),
            Some("-A DOCKER ! -s fe80::/10 ! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:2:0:220::2]:80"),
            "a client left open is no link-local one: {w:?}"
        );
        // A link-local client gets no DNAT.
        let ll = Packet {
            src: Some("fe80::9".parse().unwrap()),
            ..pkt.clone()
        };
        assert_eq!(walk(Some(&f), "nat", "PREROUTING", &ll).dnat(), None);
        // The IPv4 packet to the same port meets the IPv4 DNAT, not the IPv6 one.
        let w = walk(
            Some(&f),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("eth0"), "198.19.0.5"),
        );
        assert!(!w.v6 && w.dnat().is_some_and(|r| r.text.contains("198.18.0.2:80")));
        // filter FORWARD to the container, and an IPv6 packet where only IPv4 tables exist.
        let fwd = Packet {
            dst: Some("2001:2:0:220::2".parse().unwrap()),
            dport: Some(80),
            out_if: Some("bridge1".into()),
            ..pkt.clone()
        };
        assert_eq!(
            walk(Some(&f), "filter", "FORWARD", &fwd).target(),
            Some("ACCEPT")
        );
        let v4_only = fw(NAT);
        assert_eq!(
            walk(Some(&v4_only), "nat", "PREROUTING", &pkt).decision,
            Decision::NoTable
        );
    }

    #[test]
    fn prefixes_of_either_family_never_match_across_families() {
        let (net, p) = parse_net("2001:2::/48").unwrap();
        assert!(in_prefix("2001:2:0:220::2".parse().unwrap(), net, p));
        assert!(!in_prefix("2001:3::1".parse().unwrap(), net, p));
        assert!(!in_prefix("198.18.0.1".parse().unwrap(), net, p));
        assert_eq!(parse_net("::/129"), None);
        assert_eq!(parse_prefix("2001:2::/64"), None, "parse_prefix is IPv4's");
        assert_eq!(
            addr_cond(&Some("198.18.0.0/15".into()), None, true),
            Cond::Unknown("address 198.18.0.0/15 is not an IPv6 prefix".into())
        );
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

    /// A filter table whose FORWARD jumps to C0, and each Ci jumps `fan` times to C(i+1);
    /// the last chain toggles the mark's lowest bit and drops port 22.
    fn fan_out(chains: usize, fan: usize) -> String {
        let mut s = String::from("*filter\n:FORWARD ACCEPT [0:0]\n");
        for i in 0..chains {
            s.push_str(&format!(":C{i} - [0:0]\n"));
        }
        s.push_str("-A FORWARD -j C0\n");
        for i in 0..chains - 1 {
            for _ in 0..fan {
                s.push_str(&format!("-A C{i} -j C{}\n", i + 1));
            }
        }
        let last = chains - 1;
        s.push_str(&format!(
            "-A C{last} -j MARK --set-xmark 0x1/0x0\n-A C{last} -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n"
        ));
        s
    }

    #[test]
    fn chains_jumping_several_times_to_the_next_are_walked_once_per_mark() {
        // 5^9 visits of the last chain for the kernel; each (chain, mark) once here.
        let f = fw(&fan_out(10, 5));
        let mut p = to_host(80, Some("eth0"), "198.19.0.9");
        p.out_if = Some("br0".into());
        let budget = Budget::new(10_000);
        let w = super::walk(Some(&f), "filter", "FORWARD", &p, &budget);
        assert_eq!(w.decision, Decision::Policy("ACCEPT".into()));
        // Every visit toggles the bit: 5^9 visits leave it set, as the kernel would.
        assert_eq!(w.mark, (5u32.pow(9) % 2));
        assert_eq!(
            w.mark_rule.unwrap().text,
            "-A C9 -j MARK --set-xmark 0x1/0x0"
        );
        let once: HashSet<*const Rule> = w.matched.iter().map(|r| *r as *const Rule).collect();
        assert_eq!(once.len(), w.matched.len(), "each rule listed once");
        assert!(w.matched.len() <= f.ipv4[0].rules.len());
        assert!(budget.left.get() > 9_000, "{} left", budget.left.get());
        p.dport = Some(22);
        let w = walk(Some(&f), "filter", "FORWARD", &p);
        assert_eq!(w.target(), Some("DROP"));
    }

    #[test]
    fn a_chain_jumping_to_itself_twice_is_an_unknown_loop() {
        let f = fw("*filter\n:FORWARD ACCEPT [0:0]\n:X - [0:0]\n-A FORWARD -j X\n-A X -j X\n-A X -j X\nCOMMIT\n");
        let p = to_host(80, Some("eth0"), "198.19.0.9");
        let w = walk(Some(&f), "filter", "FORWARD", &p);
        let why = w.gave_up().unwrap_or_else(|| panic!("{:?}", w.decision));
        assert!(why.contains("`-A X -j X` jumps back into chain X"), "{why}");
        assert!(why.contains("loop"), "{why}");
        // The same through a goto and through another chain.
        let f = fw("*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -g B\n-A B -j A\nCOMMIT\n");
        let w = walk(Some(&f), "nat", "PREROUTING", &p);
        assert!(w.gave_up().unwrap().contains("chain A"), "{:?}", w.decision);
    }

    #[test]
    fn marks_that_double_the_states_at_each_jump_spend_the_budget_and_end_unknown() {
        // Ci: jump, toggle bit i, jump again: 2^i marks reach C(i+1), so memos cannot help.
        let mut s = String::from("*mangle\n:PREROUTING ACCEPT [0:0]\n");
        for i in 0..=24 {
            s.push_str(&format!(":C{i} - [0:0]\n"));
        }
        s.push_str("-A PREROUTING -j C0\n");
        for i in 0..24 {
            s.push_str(&format!(
                "-A C{i} -j C{n}\n-A C{i} -j MARK --set-xmark 0x{b:x}/0x0\n-A C{i} -j C{n}\n",
                n = i + 1,
                b = 1u32 << i
            ));
        }
        s.push_str("-A C24 -j LOG\nCOMMIT\n");
        let f = fw(&s);
        let p = to_host(80, Some("eth0"), "198.19.0.9");
        let budget = Budget::new(50_000);
        let w = super::walk(Some(&f), "mangle", "PREROUTING", &p, &budget);
        let why = w.gave_up().unwrap_or_else(|| panic!("{:?}", w.decision));
        assert!(why.contains("50000 rule evaluations"), "{why}");
        assert_eq!(budget.left.get(), 0);
        // The budget is the question's: a later walk in the same question gives up at once.
        let g = fw(NAT);
        let w = super::walk(
            Some(&g),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("eth0"), "198.19.0.5"),
            &budget,
        );
        assert!(w.gave_up().is_some());
        // With budget to spare the same question is answered.
        let w = super::walk(
            Some(&g),
            "nat",
            "PREROUTING",
            &to_host(8080, Some("eth0"), "198.19.0.5"),
            &Budget::new(100),
        );
        assert_eq!(w.target(), Some("DNAT"));
    }

    #[test]
    fn jumps_deeper_than_the_limit_end_unknown_not_at_the_policy() {
        let n = MAX_DEPTH + 2;
        let mut s = String::from("*filter\n:FORWARD ACCEPT [0:0]\n");
        for i in 0..n {
            s.push_str(&format!(":D{i} - [0:0]\n"));
        }
        s.push_str("-A FORWARD -j D0\n");
        for i in 0..n - 1 {
            s.push_str(&format!("-A D{i} -j D{}\n", i + 1));
        }
        s.push_str(&format!("-A D{} -j DROP\nCOMMIT\n", n - 1));
        let f = fw(&s);
        let w = walk(
            Some(&f),
            "filter",
            "FORWARD",
            &to_host(80, None, "198.19.0.9"),
        );
        assert!(w.gave_up().unwrap().contains("deep"), "{:?}", w.decision);
    }
}
