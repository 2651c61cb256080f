//! Walk a packet through native nftables base chains (`nft -j list ruleset`), the way the kernel
//! runs them on one hook: every base chain of every `ip`/`inet` table in priority order; `accept`
//! ends only its own base chain, `drop` ends the packet, the first NAT statement binds the NAT of
//! the hook. Interpreted: `iifname`/`oifname` (`==`, `!=`, sets, `*` wildcards), `ip saddr/daddr`
//! (addresses, prefixes, sets, named sets), `tcp`/`udp` `dport`, `meta l4proto`, `fib daddr type
//! local`, `ct state`, `meta mark`, `ct mark`; `accept`, `drop`, `reject`, `return`, `jump`,
//! `goto`, verdict maps, `dnat`, `snat`, `masquerade`, `redirect`, `meta mark set`, counters and
//! logs. A rule using anything else makes the walk *unknown*, naming the rule.

use std::net::IpAddr;

use serde_json::Value;

use super::rules::{in_prefix, link_local, parse_net, Packet};

const MAX_DEPTH: usize = 40;

/// How a hook's native chains treat the packet.
#[derive(Debug, Clone, PartialEq)]
pub enum NftDecision {
    /// No native base chain on this hook.
    NoChains,
    /// Every base chain let it pass (by a rule or its policy).
    Pass,
    /// Dropped (or rejected) by the rule quoted, or by a chain's policy.
    Drop(String),
    /// A NAT statement bound the connection: `dnat`, `snat`, `masquerade`, `redirect`, and where to.
    Nat {
        /// The statement's name.
        kind: String,
        /// `addr[:port]` for dnat/snat, the port for redirect.
        to: Option<String>,
        /// The rule, quoted.
        rule: String,
    },
    /// A rule could not be interpreted: why, quoting it.
    Unknown(String),
}

/// The result of walking one hook.
#[derive(Debug, Clone)]
pub struct NftWalk {
    /// How it ended.
    pub decision: NftDecision,
    /// The rules that matched (jumps, accepts, the deciding one), quoted as `family table chain: rule`.
    pub matched: Vec<String>,
}

/// Walk `pkt` through the native base chains of `ruleset` on `hook` (`prerouting`, `input`,
/// `forward`, `output`, `postrouting`).
pub fn walk_hook(ruleset: &Value, hook: &str, pkt: &Packet) -> NftWalk {
    let items: &[Value] = ruleset
        .get("nftables")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let rs = Ruleset {
        items,
        spent: std::cell::Cell::new(0),
    };
    let mut bases: Vec<&Value> = items
        .iter()
        .filter_map(|i| i.get("chain"))
        .filter(|c| c.get("hook").and_then(Value::as_str) == Some(hook))
        .filter(|c| match s(c, "family") {
            "inet" => true,
            "ip6" => pkt.v6,
            "ip" => !pkt.v6,
            _ => false,
        })
        .collect();
    bases.sort_by_key(|c| c.get("prio").and_then(Value::as_i64).unwrap_or(0));
    let mut w = NftWalk {
        decision: if bases.is_empty() {
            NftDecision::NoChains
        } else {
            NftDecision::Pass
        },
        matched: Vec::new(),
    };
    let mut pkt = pkt.clone();
    let mut nat_bound = false;
    for c in bases {
        let is_nat = s(c, "type") == "nat";
        if is_nat && nat_bound {
            continue;
        }
        let (family, table, name) = (s(c, "family"), s(c, "table"), s(c, "name"));
        match rs.run(family, table, name, &mut pkt, &mut w.matched, 0) {
            // An accept ends only this base chain.
            Flow::Accept | Flow::Next => {}
            // A base chain that returns or runs off its end meets its policy.
            Flow::Continue | Flow::End => {
                if c.get("policy").and_then(Value::as_str) == Some("drop") {
                    w.decision = NftDecision::Drop(format!("{family} {table} {name}: policy drop"));
                    return w;
                }
            }
            Flow::Drop(r) => {
                w.decision = NftDecision::Drop(r);
                return w;
            }
            Flow::Nat(kind, to, rule) => {
                nat_bound = true;
                if !matches!(w.decision, NftDecision::Nat { .. }) {
                    w.decision = NftDecision::Nat { kind, to, rule };
                }
            }
            Flow::Unknown(why) => {
                w.decision = NftDecision::Unknown(why);
                return w;
            }
        }
    }
    w
}

enum Flow {
    Accept,
    /// A jumped-to chain came back: go on with the next rule.
    Next,
    Drop(String),
    Nat(String, Option<String>, String),
    /// `return`: back to the calling chain.
    Continue,
    /// Ran off the end of the chain.
    End,
    Unknown(String),
}

struct Ruleset<'v> {
    items: &'v [Value],
    /// Rules evaluated so far in this walk: chains that jump several times to the next would
    /// otherwise cost the product of their jumps (a snapshot anyone can upload may hold them).
    spent: std::cell::Cell<usize>,
}

/// Most rule evaluations one walk of a native ruleset may spend before it says *unknown*.
const MAX_RULE_EVALUATIONS: usize = 20_000;

fn s<'v>(v: &'v Value, k: &str) -> &'v str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Three-valued: does a match hold for the packet the question pins down?
#[derive(Debug, Clone, PartialEq)]
enum Hit {
    Yes,
    No,
    /// The question leaves it open (e.g. any client address).
    Open,
    Unknown(String),
}

impl Hit {
    fn of(b: bool) -> Hit {
        if b {
            Hit::Yes
        } else {
            Hit::No
        }
    }
}

impl<'v> Ruleset<'v> {
    fn rules(&self, family: &str, table: &str, chain: &str) -> impl Iterator<Item = &'v Value> {
        let (family, table, chain) = (family.to_owned(), table.to_owned(), chain.to_owned());
        self.items
            .iter()
            .filter_map(|i| i.get("rule"))
            .filter(move |r| {
                s(r, "family") == family && s(r, "table") == table && s(r, "chain") == chain
            })
    }

    fn named(&self, family: &str, table: &str, name: &str) -> Option<&'v Value> {
        self.items
            .iter()
            .filter_map(|i| i.get("map").or_else(|| i.get("set")))
            .find(|m| s(m, "family") == family && s(m, "table") == table && s(m, "name") == name)
    }

    fn run(
        &self,
        family: &str,
        table: &str,
        chain: &str,
        pkt: &mut Packet,
        matched: &mut Vec<String>,
        depth: usize,
    ) -> Flow {
        if depth > MAX_DEPTH {
            return Flow::Unknown(format!("chains nest deeper than {MAX_DEPTH} at {chain}"));
        }
        for r in self.rules(family, table, chain) {
            self.spent.set(self.spent.get() + 1);
            if self.spent.get() > MAX_RULE_EVALUATIONS {
                return Flow::Unknown(format!(
                    "the native ruleset needs more than {MAX_RULE_EVALUATIONS} rule evaluations for this packet (chains that jump to each other many times): not followed to the end"
                ));
            }
            let text = format!("{family} {table} {chain}: {}", render(r));
            let exprs: &[Value] = r
                .get("expr")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let (verdict, open) = match self.rule(family, table, &text, exprs, pkt, matched, depth)
            {
                Ok(v) => v,
                Err(flow) => return flow,
            };
            let Some(v) = verdict else { continue };
            if open {
                // It decides only for some of the packets the question leaves open.
                if matches!(v, Flow::Drop(_) | Flow::Nat(..)) {
                    return Flow::Unknown(format!("`{text}` applies to some clients only"));
                }
                continue;
            }
            match v {
                Flow::Accept | Flow::Drop(_) | Flow::Nat(..) => {
                    if matched.last().is_none_or(|m| m != &text) {
                        matched.push(text.clone());
                    }
                    return v;
                }
                Flow::Next => {}
                Flow::Continue | Flow::End | Flow::Unknown(_) => return v,
            }
        }
        Flow::End
    }

    /// One rule's expressions in order: its verdict (`None`: it does not apply, or decides
    /// nothing) and whether it applies to only some of the packets the question leaves open;
    /// `Err`: the walk ends here with that flow.
    #[allow(clippy::too_many_arguments)]
    fn rule(
        &self,
        family: &str,
        table: &str,
        text: &str,
        exprs: &[Value],
        pkt: &mut Packet,
        matched: &mut Vec<String>,
        depth: usize,
    ) -> Result<(Option<Flow>, bool), Flow> {
        let mut open = false;
        let mut verdict: Option<Flow> = None;
        for e in exprs {
            let Some((k, body)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match k.as_str() {
                "match" => match self.matches(family, table, body, pkt) {
                    Hit::Yes => {}
                    Hit::No => break,
                    Hit::Open => open = true,
                    Hit::Unknown(why) => {
                        return Err(Flow::Unknown(format!(
                            "cannot tell whether `{text}` applies: {why}"
                        )))
                    }
                },
                "counter" | "log" | "comment" => {}
                "accept" => verdict = Some(Flow::Accept),
                "drop" | "reject" => verdict = Some(Flow::Drop(text.to_owned())),
                "return" => verdict = Some(Flow::Continue),
                "jump" | "goto" => {
                    let target = body.get("target").and_then(Value::as_str).unwrap_or("");
                    verdict = Some(self.call(
                        family,
                        table,
                        target,
                        k == "goto",
                        text,
                        pkt,
                        matched,
                        depth,
                        open,
                    ));
                }
                "vmap" => {
                    match self.vmap_flow(family, table, body, text, pkt, matched, depth, open)? {
                        None => break,
                        flow => verdict = flow,
                    }
                }
                "dnat" | "snat" | "redirect" | "masquerade" => {
                    let to = nat_to(body);
                    verdict = Some(Flow::Nat(k.clone(), to, text.to_owned()));
                }
                "mangle" => set_mark(body, open, text, pkt, matched)?,
                other => {
                    return Err(Flow::Unknown(format!(
                        "`{text}` uses `{other}`, not interpreted"
                    )))
                }
            }
            if verdict.is_some() {
                break;
            }
        }
        Ok((verdict, open))
    }

    /// A verdict map's flow for this packet (`None`: no element matches); `Err`: what it does
    /// cannot be told.
    #[allow(clippy::too_many_arguments)]
    fn vmap_flow(
        &self,
        family: &str,
        table: &str,
        body: &Value,
        text: &str,
        pkt: &mut Packet,
        matched: &mut Vec<String>,
        depth: usize,
        open: bool,
    ) -> Result<Option<Flow>, Flow> {
        let (kind, target) = match self.vmap(family, table, body, pkt) {
            Ok(None) => return Ok(None),
            Ok(Some(v)) => v,
            Err(why) => {
                return Err(Flow::Unknown(format!(
                    "cannot tell what `{text}` does: {why}"
                )))
            }
        };
        Ok(Some(match kind.as_str() {
            "accept" => Flow::Accept,
            "drop" => Flow::Drop(text.to_owned()),
            "return" => Flow::Continue,
            "jump" | "goto" => self.call(
                family,
                table,
                &target,
                kind == "goto",
                text,
                pkt,
                matched,
                depth,
                open,
            ),
            other => Flow::Unknown(format!("verdict {other} in `{text}`")),
        }))
    }

    /// Run a jumped-to (or goto'd) chain; a return or its end carries on after the calling rule
    /// (for a goto: ends the calling chain too).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        family: &str,
        table: &str,
        target: &str,
        goto: bool,
        text: &str,
        pkt: &mut Packet,
        matched: &mut Vec<String>,
        depth: usize,
        open: bool,
    ) -> Flow {
        if open {
            return Flow::Unknown(format!("`{text}` applies to some clients only"));
        }
        matched.push(text.to_owned());
        match self.run(family, table, target, pkt, matched, depth + 1) {
            // A goto'd chain's return goes back past the chain that went there.
            Flow::Continue | Flow::End if goto => Flow::Continue,
            Flow::Continue | Flow::End => Flow::Next,
            v => v,
        }
    }

    /// The verdict a verdict map gives the packet: `None` when its key is not in the map.
    fn vmap(
        &self,
        family: &str,
        table: &str,
        body: &Value,
        pkt: &Packet,
    ) -> Result<Option<(String, String)>, String> {
        let key = self.key_value(body.get("key").unwrap_or(&Value::Null), pkt)?;
        let elems: Vec<&Value> = match body.get("data") {
            Some(Value::String(n)) if n.starts_with('@') => self
                .named(family, table, &n[1..])
                .and_then(|m| m.get("elem"))
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .ok_or_else(|| format!("no map {n}"))?,
            Some(Value::Object(o)) => o
                .get("set")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .ok_or("an anonymous map of another shape")?,
            _ => return Err("a verdict map of another shape".into()),
        };
        for e in elems {
            let pair = e
                .as_array()
                .cloned()
                .or_else(|| e.get("map").cloned().map(|_| Vec::new()));
            let Some(pair) = pair.filter(|p| p.len() == 2) else {
                return Err("a map element of another shape".into());
            };
            if key_hits(&pair[0], &key)? {
                let (kind, v) = pair[1]
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .ok_or("a map value that is no verdict")?;
                let target = v
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                return Ok(Some((kind.clone(), target)));
            }
        }
        Ok(None)
    }

    /// The packet's value for a map key, as text (`None`: left open by the question).
    fn key_value(&self, key: &Value, pkt: &Packet) -> Result<Key, String> {
        if let Some(m) = key.get("meta") {
            return match s(m, "key") {
                "iifname" => Ok(Key::Name(pkt.in_if.clone().unwrap_or_default())),
                "oifname" => pkt
                    .out_if
                    .clone()
                    .map(Key::Name)
                    .ok_or_else(|| "oifname before routing".into()),
                "l4proto" => Ok(pkt.proto.clone().map(Key::Name).unwrap_or(Key::Open)),
                k => Err(format!("map key meta {k}")),
            };
        }
        if let Some(p) = key.get("payload") {
            let ip = match (s(p, "protocol"), s(p, "field")) {
                (l3 @ ("ip" | "ip6"), _) if (l3 == "ip6") != pkt.v6 => {
                    return Err(format!("map key {l3} on a packet of the other family"))
                }
                ("ip" | "ip6", "saddr") => pkt.src,
                ("ip" | "ip6", "daddr") => pkt.dst,
                (proto, field) => return Err(format!("map key {proto} {field}")),
            };
            return Ok(ip.map(Key::Addr).unwrap_or(Key::Open));
        }
        Err("a map key not interpreted".into())
    }

    fn matches(&self, family: &str, table: &str, m: &Value, pkt: &Packet) -> Hit {
        let op = s(m, "op");
        let neg = match op {
            "==" | "in" => false,
            "!=" => true,
            other => return Hit::Unknown(format!("operator {other}")),
        };
        let left = m.get("left").unwrap_or(&Value::Null);
        let mut right = m.get("right").cloned().unwrap_or(Value::Null);
        if let Some(n) = right.as_str().and_then(|r| r.strip_prefix('@')) {
            match self.named(family, table, n).and_then(|set| set.get("elem")) {
                Some(elems) => right = serde_json::json!({"set": elems}),
                None => return Hit::Unknown(format!("no set @{n}")),
            }
        }
        let hit = if let Some(x) = left.get("ct") {
            match s(x, "key") {
                // The question is about a new connection.
                "state" => Hit::of(values(&right).iter().any(|v| v.as_str() == Some("new"))),
                "mark" => Hit::of(values(&right).iter().any(|v| v.as_u64() == Some(0))),
                k => Hit::Unknown(format!("ct {k}")),
            }
        } else if let Some(f) = left.get("fib") {
            fib_hit(f, &right, pkt)
        } else if let Some(meta) = left.get("meta") {
            meta_hit(meta, &right, pkt)
        } else if let Some(p) = left.get("payload") {
            payload_hit(p, &right, pkt)
        } else {
            Hit::Unknown("a match not interpreted".into())
        };
        match (hit, neg) {
            (Hit::Yes, true) => Hit::No,
            (Hit::No, true) => Hit::Yes,
            (h, _) => h,
        }
    }
}

/// `fib daddr type local` (the only fib lookup Docker writes) for the packet.
fn fib_hit(f: &Value, right: &Value, pkt: &Packet) -> Hit {
    let flags: Vec<&str> = f
        .get("flags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if s(f, "result") != "type" || flags != ["daddr"] {
        return Hit::Unknown("a fib lookup other than `fib daddr type`".into());
    }
    let local = match (pkt.dst, pkt.dst_local) {
        (Some(d), _) => Some(pkt.local.contains(&d) || d.is_loopback()),
        (None, l) => l,
    };
    let vs = values(right);
    let wants: Vec<&str> = vs.iter().filter_map(|v| v.as_str()).collect();
    match local {
        Some(l) if wants.iter().all(|w| *w == "local") => Hit::of(l),
        None if wants.iter().all(|w| *w == "local") => Hit::Open,
        _ => Hit::Unknown(format!("fib daddr type {}", wants.join(","))),
    }
}

/// A `meta` match (interfaces, protocol, mark) for the packet.
fn meta_hit(meta: &Value, right: &Value, pkt: &Packet) -> Hit {
    match s(meta, "key") {
        "iifname" => name_hit(right, pkt.in_if.as_deref().unwrap_or("")),
        "oifname" => match pkt.out_if.as_deref() {
            Some(o) => name_hit(right, o),
            None => Hit::Unknown("oifname before routing".into()),
        },
        "nfproto" => Hit::of(
            values(right)
                .iter()
                .any(|v| v.as_str() == Some(if pkt.v6 { "ipv6" } else { "ipv4" })),
        ),
        "l4proto" | "protocol" => match pkt.proto.as_deref() {
            Some(p) => Hit::of(values(right).iter().any(|v| v.as_str() == Some(p))),
            None => Hit::Open,
        },
        "mark" => Hit::of(
            values(right)
                .iter()
                .any(|v| v.as_u64() == Some(u64::from(pkt.mark))),
        ),
        k => Hit::Unknown(format!("meta {k}")),
    }
}

/// A header field match (IPv4 and IPv6 addresses and protocol, TCP/UDP ports) for the packet.
fn payload_hit(p: &Value, right: &Value, pkt: &Packet) -> Hit {
    match (s(p, "protocol"), s(p, "field")) {
        // An `ip` match never holds for an IPv6 packet in an inet table, nor `ip6` for IPv4.
        (l3 @ ("ip" | "ip6"), _) if (l3 == "ip6") != pkt.v6 => Hit::No,
        ("ip" | "ip6", "saddr") => addr_hit(right, pkt.src),
        ("ip" | "ip6", "daddr") => addr_hit(right, pkt.dst),
        ("ip", "protocol") | ("ip6", "nexthdr") => match pkt.proto.as_deref() {
            Some(x) => Hit::of(values(right).iter().any(|v| v.as_str() == Some(x))),
            None => Hit::Open,
        },
        (proto @ ("tcp" | "udp"), "dport") => match (pkt.proto.as_deref(), pkt.dport) {
            (Some(x), _) if x != proto => Hit::No,
            (Some(_), Some(d)) => port_hit(right, d),
            _ => Hit::Open,
        },
        (proto @ ("tcp" | "udp"), "sport") => match pkt.proto.as_deref() {
            Some(x) if x != proto => Hit::No,
            _ => Hit::Open,
        },
        (proto, field) => Hit::Unknown(format!("{proto} {field}")),
    }
}

/// A map key's value for the packet.
enum Key {
    Name(String),
    Addr(IpAddr),
    Open,
}

fn key_hits(elem: &Value, key: &Key) -> Result<bool, String> {
    match key {
        Key::Name(n) => Ok(elem.as_str().is_some_and(|e| wildcard(e, n))),
        Key::Addr(a) => Ok(matches!(addr_hit(elem, Some(*a)), Hit::Yes)),
        Key::Open => Err("the map's key is left open by the question".into()),
    }
}

/// The values of a right-hand side: one value, a list (flags), or a set.
fn values(right: &Value) -> Vec<Value> {
    match right {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("set") => {
            o["set"].as_array().cloned().unwrap_or_default()
        }
        v => vec![v.clone()],
    }
}

fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn name_hit(right: &Value, name: &str) -> Hit {
    let vs = values(right);
    if vs.iter().any(|v| !v.is_string()) {
        return Hit::Unknown("an interface match of another shape".into());
    }
    Hit::of(
        vs.iter()
            .filter_map(Value::as_str)
            .any(|p| wildcard(p, name)),
    )
}

fn addr_hit(right: &Value, ip: Option<IpAddr>) -> Hit {
    let mut any_open = false;
    for v in values(right) {
        let net = match &v {
            Value::String(a) => parse_net(a),
            Value::Object(o) if o.contains_key("prefix") => {
                let p = &o["prefix"];
                s(p, "addr")
                    .parse()
                    .ok()
                    .zip(p.get("len").and_then(Value::as_u64).map(|l| l as u8))
            }
            _ => {
                return Hit::Unknown(
                    "an address match of another shape (range, concatenation)".into(),
                )
            }
        };
        let Some((net, len)) = net else {
            return Hit::Unknown(format!("address {v} is not an IP address or prefix"));
        };
        match ip {
            Some(ip) if in_prefix(ip, net, len) => return Hit::Yes,
            Some(_) => {}
            None if len == 0 => return Hit::Yes,
            // An address the question leaves open is a routable one (as in the iptables walk).
            None if link_local(net, len) => {}
            None => any_open = true,
        }
    }
    if any_open {
        Hit::Open
    } else {
        Hit::No
    }
}

/// A rule's `meta mark set`: the packet carries the mark on (a mark for only some packets, or
/// any other change, cannot be followed).
fn set_mark(
    body: &Value,
    open: bool,
    text: &str,
    pkt: &mut Packet,
    matched: &mut Vec<String>,
) -> Result<(), Flow> {
    let key = body
        .get("key")
        .and_then(|k| k.get("meta"))
        .map(|m| s(m, "key"));
    match (key, body.get("value").and_then(Value::as_u64)) {
        (Some("mark"), Some(v)) if !open => {
            pkt.mark = v as u32;
            matched.push(text.to_owned());
            Ok(())
        }
        _ => Err(Flow::Unknown(format!(
            "`{text}` changes the packet in a way not interpreted"
        ))),
    }
}

fn port_hit(right: &Value, port: u16) -> Hit {
    for v in values(right) {
        match &v {
            Value::Number(n) if n.as_u64() == Some(u64::from(port)) => return Hit::Yes,
            Value::Number(_) => {}
            Value::Object(o) if o.contains_key("range") => {
                let r = o["range"].as_array().cloned().unwrap_or_default();
                let (lo, hi) = (
                    r.first().and_then(Value::as_u64),
                    r.get(1).and_then(Value::as_u64),
                );
                match (lo, hi) {
                    (Some(lo), Some(hi)) if (lo..=hi).contains(&u64::from(port)) => {
                        return Hit::Yes
                    }
                    (Some(_), Some(_)) => {}
                    _ => return Hit::Unknown("a port range of another shape".into()),
                }
            }
            _ => return Hit::Unknown("a port match of another shape".into()),
        }
    }
    Hit::No
}

fn nat_to(body: &Value) -> Option<String> {
    let addr = body.get("addr").and_then(Value::as_str);
    let port = body.get("port").map(|p| p.to_string());
    match (addr, port) {
        // As nft prints it: an IPv6 address in brackets before its port.
        (Some(a), Some(p)) if a.contains(':') => Some(format!("[{a}]:{p}")),
        (Some(a), Some(p)) => Some(format!("{a}:{p}")),
        (Some(a), None) => Some(a.to_owned()),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    }
}

/// A rule as `nft list ruleset` prints it (counters without their numbers, as moby's docs show
/// them), with its comment.
pub fn render(rule: &Value) -> String {
    let exprs: &[Value] = rule
        .get("expr")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut out: Vec<String> = exprs.iter().map(render_expr).collect();
    if let Some(c) = rule.get("comment").and_then(Value::as_str) {
        out.push(format!("comment \"{c}\""));
    }
    out.join(" ")
}

/// A value as nft prints it; interface names (`quoted`) in double quotes.
fn render_value(v: &Value, quoted: bool) -> String {
    let list = |a: &[Value], sep: &str| {
        a.iter()
            .map(|x| render_value(x, quoted))
            .collect::<Vec<_>>()
            .join(sep)
    };
    match v {
        Value::String(x) if quoted && !x.starts_with('@') => format!("\"{x}\""),
        Value::String(x) => x.clone(),
        Value::Array(a) => list(a, ","),
        Value::Object(o) if o.contains_key("prefix") => format!(
            "{}/{}",
            s(&o["prefix"], "addr"),
            o["prefix"]
                .get("len")
                .map(|l| l.to_string())
                .unwrap_or_default()
        ),
        Value::Object(o) if o.contains_key("set") => {
            format!(
                "{{ {} }}",
                list(o["set"].as_array().map(Vec::as_slice).unwrap_or(&[]), ", ")
            )
        }
        Value::Object(o) if o.contains_key("range") => {
            list(o["range"].as_array().map(Vec::as_slice).unwrap_or(&[]), "-")
        }
        v => v.to_string(),
    }
}

fn render_left(l: &Value) -> String {
    if let Some(m) = l.get("meta") {
        let k = s(m, "key");
        return match k {
            "iifname" | "oifname" | "iif" | "oif" => k.to_owned(),
            _ => format!("meta {k}"),
        };
    }
    if let Some(p) = l.get("payload") {
        return format!("{} {}", s(p, "protocol"), s(p, "field"));
    }
    if let Some(c) = l.get("ct") {
        return format!("ct {}", s(c, "key"));
    }
    if let Some(f) = l.get("fib") {
        let flags: Vec<&str> = f
            .get("flags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        return format!("fib {} {}", flags.join(" . "), s(f, "result"));
    }
    l.to_string()
}

fn is_ifname(l: &Value) -> bool {
    l.get("meta")
        .is_some_and(|m| matches!(s(m, "key"), "iifname" | "oifname"))
}

fn render_expr(e: &Value) -> String {
    let Some((k, b)) = e.as_object().and_then(|o| o.iter().next()) else {
        return e.to_string();
    };
    match k.as_str() {
        "match" => {
            let op = match s(b, "op") {
                "==" | "in" => String::new(),
                o => format!("{o} "),
            };
            let l = b.get("left").unwrap_or(&Value::Null);
            let left = render_left(l);
            let right = render_value(b.get("right").unwrap_or(&Value::Null), is_ifname(l));
            format!("{left} {op}{right}")
        }
        "counter" => "counter".into(),
        "accept" | "drop" | "return" | "masquerade" | "continue" => k.clone(),
        "reject" => "reject".into(),
        "jump" | "goto" => format!("{k} {}", s(b, "target")),
        "vmap" => format!(
            "{} vmap {}",
            render_left(b.get("key").unwrap_or(&Value::Null)),
            render_value(b.get("data").unwrap_or(&Value::Null), false)
        ),
        "dnat" | "snat" => format!("{k} to {}", nat_to(b).unwrap_or_default()),
        "redirect" => match nat_to(b) {
            Some(p) => format!("redirect to :{p}"),
            None => "redirect".into(),
        },
        "mangle" => format!(
            "{} set {}",
            render_left(b.get("key").unwrap_or(&Value::Null)),
            render_value(b.get("value").unwrap_or(&Value::Null), false)
        ),
        "log" => "log".into(),
        other => format!("{other} …"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::net::Ipv4Addr;

    /// `nft -j list ruleset` after `nft -f tests/fixtures/nftablesdoc/<name>.nft` (moby's
    /// generated Docker 29 layouts, see that directory's header lines), recorded on nft 1.0.6.
    fn layout(name: &str) -> Value {
        let text = match name {
            "usernet-portmap" => {
                include_str!("../../tests/fixtures/nftablesdoc/usernet-portmap.json")
            }
            "usernet-internal" => {
                include_str!("../../tests/fixtures/nftablesdoc/usernet-internal.json")
            }
            _ => include_str!("../../tests/fixtures/nftablesdoc/usernet-portmap-noicc.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    const HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 221, 5);
    const C1: Ipv4Addr = Ipv4Addr::new(198, 18, 220, 2);

    fn from_outside(dst: Ipv4Addr, dport: u16, out: Option<&str>) -> Packet {
        Packet {
            dst: Some(dst.into()),
            proto: Some("tcp".into()),
            dport: Some(dport),
            in_if: Some("eth0".into()),
            out_if: out.map(str::to_owned),
            local: vec![HOST.into()],
            ..Packet::default()
        }
    }

    #[test]
    fn published_port_is_dnatted_then_accepted_and_others_dropped() {
        let rs = layout("usernet-portmap");
        let w = walk_hook(&rs, "prerouting", &from_outside(HOST, 8080, None));
        assert_eq!(
            w.decision,
            NftDecision::Nat {
                kind: "dnat".into(),
                to: Some("198.18.220.2:80".into()),
                rule: "ip docker-bridges nat-prerouting-and-output: iifname != \"bridge1\" tcp dport 8080 counter dnat to 198.18.220.2:80 comment \"DNAT\"".into(),
            }
        );
        assert!(w.matched.contains(&"ip docker-bridges nat-PREROUTING: fib daddr type local counter jump nat-prerouting-and-output".to_owned()), "{:?}", w.matched);
        let w = walk_hook(&rs, "forward", &from_outside(C1, 80, Some("bridge1")));
        assert_eq!(w.decision, NftDecision::Pass);
        assert!(w.matched.contains(
            &"ip docker-bridges filter-FORWARD: oifname vmap @filter-forward-in-jumps".to_owned()
        ));
        assert!(w.matched.contains(&"ip docker-bridges filter-forward-in__bridge1: ip daddr 198.18.220.2 tcp dport 80 counter accept".to_owned()), "{:?}", w.matched);
        let w = walk_hook(&rs, "forward", &from_outside(C1, 81, Some("bridge1")));
        assert_eq!(
            w.decision,
            NftDecision::Drop("ip docker-bridges filter-forward-in__bridge1: counter drop comment \"UNPUBLISHED PORT DROP\"".into())
        );
        // A port nobody published gets no DNAT.
        let w = walk_hook(&rs, "prerouting", &from_outside(HOST, 9090, None));
        assert_eq!(w.decision, NftDecision::Pass);
    }

    /// A base chain on the forward hook and 30 chains, each jumping three times to the next: the
    /// product of the jumps (3^30) would never finish; the walk says *unknown* instead.
    #[test]
    fn chains_that_fan_out_end_unknown_instead_of_hanging() {
        let mut items = vec![
            json!({"table": {"family": "ip", "name": "t"}}),
            json!({"chain": {"family": "ip", "table": "t", "name": "c0", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}),
        ];
        for i in 1..=30 {
            items.push(json!({"chain": {"family": "ip", "table": "t", "name": format!("c{i}")}}));
        }
        for i in 0..30 {
            for _ in 0..3 {
                items.push(
                    json!({"rule": {"family": "ip", "table": "t", "chain": format!("c{i}"),
                    "expr": [{"jump": {"target": format!("c{}", i + 1)}}]}}),
                );
            }
        }
        let rs = json!({ "nftables": items });
        let w = walk_hook(&rs, "forward", &from_outside(C1, 80, Some("bridge1")));
        assert!(
            matches!(&w.decision, NftDecision::Unknown(why) if why.contains("rule evaluations")),
            "{:?}",
            w.decision
        );
    }

    #[test]
    fn direct_access_is_dropped_in_raw_prerouting() {
        let rs = layout("usernet-portmap");
        let w = walk_hook(&rs, "prerouting", &from_outside(C1, 80, None));
        assert_eq!(
            w.decision,
            NftDecision::Drop("ip docker-bridges raw-PREROUTING: ip daddr 198.18.220.2 iifname != \"bridge1\" counter drop comment \"DROP DIRECT ACCESS\"".into())
        );
    }

    #[test]
    fn egress_is_accepted_and_masqueraded() {
        let rs = layout("usernet-portmap");
        let out = Packet {
            src: Some(C1.into()),
            in_if: Some("bridge1".into()),
            out_if: Some("eth0".into()),
            dst_local: Some(false),
            local: vec![HOST.into()],
            ..Packet::default()
        };
        assert_eq!(walk_hook(&rs, "forward", &out).decision, NftDecision::Pass);
        let w = walk_hook(&rs, "postrouting", &out);
        assert!(
            matches!(&w.decision, NftDecision::Nat { kind, rule, .. } if kind == "masquerade" && rule.ends_with("oifname != \"bridge1\" ip saddr 198.18.220.0/24 counter masquerade comment \"MASQUERADE\"")),
            "{w:?}"
        );
    }

    #[test]
    fn internal_network_drops_egress_and_icc_off_drops_neighbours() {
        let rs = layout("usernet-internal");
        let out = Packet {
            src: Some(C1.into()),
            in_if: Some("bridgeICC".into()),
            out_if: Some("eth0".into()),
            local: vec![HOST.into()],
            ..Packet::default()
        };
        let w = walk_hook(&rs, "forward", &out);
        assert!(
            matches!(&w.decision, NftDecision::Drop(r) if r.contains("INTERNAL NETWORK EGRESS")),
            "{w:?}"
        );
        let rs = layout("usernet-portmap-noicc");
        let icc = Packet {
            src: Some(Ipv4Addr::new(198, 18, 220, 3).into()),
            dst: Some(C1.into()),
            proto: Some("tcp".into()),
            dport: Some(80),
            in_if: Some("bridge1".into()),
            out_if: Some("bridge1".into()),
            ..Packet::default()
        };
        let w = walk_hook(&rs, "forward", &icc);
        assert!(
            matches!(&w.decision, NftDecision::Drop(r) if r.contains("ICC")),
            "{w:?}"
        );
    }

    #[test]
    fn what_is_not_interpreted_is_unknown_and_policies_decide_at_the_end() {
        let rs = serde_json::json!({"nftables": [
            {"chain": {"family": "inet", "table": "fw", "name": "fwd", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
            {"rule": {"family": "inet", "table": "fw", "chain": "fwd", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "skuid"}}, "right": 0}}, {"accept": null}]}}
        ]});
        let w = walk_hook(&rs, "forward", &from_outside(C1, 80, Some("bridge1")));
        assert!(
            matches!(&w.decision, NftDecision::Unknown(why) if why.contains("meta skuid")),
            "{w:?}"
        );
        let rs = serde_json::json!({"nftables": [
            {"chain": {"family": "inet", "table": "fw", "name": "fwd", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
            {"rule": {"family": "inet", "table": "fw", "chain": "fwd", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 443]}}}, {"accept": null}]}}
        ]});
        let w = walk_hook(&rs, "forward", &from_outside(C1, 80, Some("bridge1")));
        assert_eq!(
            w.decision,
            NftDecision::Drop("inet fw fwd: policy drop".into())
        );
        let w = walk_hook(&rs, "forward", &from_outside(C1, 443, Some("bridge1")));
        assert_eq!(w.decision, NftDecision::Pass);
        assert_eq!(
            w.matched,
            vec!["inet fw fwd: tcp dport { 22, 443 } accept".to_owned()]
        );
    }

    #[test]
    fn an_ipv6_packet_meets_ip6_and_inet_tables_and_no_ip_matches() {
        let rs = serde_json::json!({"nftables": [
            // Docker 29's ip6 table: the DNAT of the published port.
            {"chain": {"family": "ip6", "table": "docker-bridges", "name": "nat-PREROUTING", "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
            {"rule": {"family": "ip6", "table": "docker-bridges", "chain": "nat-PREROUTING", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:2:0:221::5"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
                {"dnat": {"family": "ip6", "addr": "2001:2:0:220::2", "port": 80}}]}},
            // An IPv4 table on the same hook never sees the IPv6 packet.
            {"chain": {"family": "ip", "table": "v4only", "name": "pre", "type": "filter", "hook": "prerouting", "prio": -300, "policy": "drop"}},
            // An inet table: its `ip saddr` drop does not hold for IPv6, its `meta nfproto ipv6` accept does.
            {"chain": {"family": "inet", "table": "fw", "name": "pre", "type": "filter", "hook": "prerouting", "prio": -200, "policy": "drop"}},
            {"rule": {"family": "inet", "table": "fw", "chain": "pre", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "0.0.0.0", "len": 0}}}}, {"drop": null}]}},
            {"rule": {"family": "inet", "table": "fw", "chain": "pre", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}}, {"accept": null}]}}
        ]});
        let host: IpAddr = "2001:2:0:221::5".parse().unwrap();
        let pkt = Packet {
            v6: true,
            dst: Some(host),
            proto: Some("tcp".into()),
            dport: Some(8080),
            in_if: Some("up0".into()),
            local: vec![host],
            ..Packet::default()
        };
        let w = walk_hook(&rs, "prerouting", &pkt);
        assert!(
            matches!(&w.decision, NftDecision::Nat { kind, to: Some(to), .. } if kind == "dnat" && to == "[2001:2:0:220::2]:80"),
            "{w:?}"
        );
        assert!(
            w.matched.iter().all(|r| !r.starts_with("ip v4only")),
            "{w:?}"
        );
        // The same rules for an IPv4 packet: the ip table's policy drops it.
        let w = walk_hook(&rs, "prerouting", &from_outside(HOST, 8080, None));
        assert_eq!(
            w.decision,
            NftDecision::Drop("ip v4only pre: policy drop".into())
        );
    }
}
