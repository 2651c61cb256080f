//! Building a path hop by hop: each hop is joined to the previous one by the graph's edge.

use std::net::IpAddr;

use crate::snapshot::{Link, Namespace, Rule, SourceKind};

use super::facts;
use super::lookup::{Ctx, NodeView};
use super::model::{Evidence, Hop, Outcome, PacketPath, Verdict};
use super::native;
use super::rules::{walk, Decision, Packet, Walk};
use super::switches::{forward_gate, Gate};
use super::v6::{manages_v6, unmanaged};

/// The path ended at a hop that says why (blocked, broken or unknown): stages hand it on with `?`
/// and the tracer finishes the path once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

/// What a stage of a tracer gives the next one, or [`Ended`] when the packet stopped.
pub type Stage<T = ()> = Result<T, Ended>;

/// A path under construction.
#[derive(Clone)]
pub struct Trail<'c, 'a> {
    ctx: &'c Ctx<'a>,
    /// The hops so far.
    pub hops: Vec<Hop>,
    last: Option<String>,
    id: String,
    title: String,
}

impl<'c, 'a> Trail<'c, 'a> {
    /// An empty path.
    pub fn new(ctx: &'c Ctx<'a>) -> Self {
        Trail {
            ctx,
            hops: Vec::new(),
            last: None,
            id: String::new(),
            title: String::new(),
        }
    }

    /// What the finished path will be called; stages rename it as they learn where it goes.
    pub fn name(&mut self, id: impl Into<String>, title: impl Into<String>) {
        self.id = id.into();
        self.title = title.into();
    }

    /// Add the hop where the packet stops (`verdict` says why) and end the path there.
    pub fn end<T>(
        &mut self,
        node: &str,
        element: Option<String>,
        text: impl Into<String>,
        evidence: Vec<Evidence>,
        verdict: Verdict,
    ) -> Stage<T> {
        self.hop(node, element, text, evidence, verdict);
        Err(Ended)
    }

    /// End the path at a hop that says why in the verdict's own words.
    pub fn stop<T>(
        &mut self,
        node: &str,
        element: Option<String>,
        evidence: Vec<Evidence>,
        verdict: Verdict,
    ) -> Stage<T> {
        let text = verdict.reason().to_owned();
        self.end(node, element, text, evidence, verdict)
    }

    /// End the path at a *broken* hop: the fact needed to go on is missing.
    pub fn broken<T>(
        &mut self,
        node: &str,
        element: Option<String>,
        why: String,
        evidence: Vec<Evidence>,
    ) -> Stage<T> {
        self.stop(node, element, evidence, Verdict::Broken(why))
    }

    /// End the path at an *unknown* hop: the snapshot cannot tell.
    pub fn unknown<T>(
        &mut self,
        node: &str,
        element: Option<String>,
        why: String,
        evidence: Vec<Evidence>,
    ) -> Stage<T> {
        self.stop(node, element, evidence, Verdict::Unknown(why))
    }

    /// Go on if the last hop let the packet pass.
    pub fn go_on(&self) -> Stage {
        if self.stopped() {
            Err(Ended)
        } else {
            Ok(())
        }
    }

    /// Add a hop; the edge is the graph's edge from the previous element, if any.
    pub fn hop(
        &mut self,
        node: &str,
        element: Option<String>,
        text: impl Into<String>,
        evidence: Vec<Evidence>,
        verdict: Verdict,
    ) {
        let edge = match (&self.last, &element) {
            (Some(a), Some(b)) if a != b => self.ctx.edge(a, b),
            _ => None,
        };
        self.hop_via(node, element, edge, text, evidence, verdict);
    }

    /// Add a hop reached by a given edge.
    pub fn hop_via(
        &mut self,
        node: &str,
        element: Option<String>,
        edge: Option<String>,
        text: impl Into<String>,
        evidence: Vec<Evidence>,
        verdict: Verdict,
    ) {
        if element.is_some() {
            self.last = element.clone();
        }
        self.hops.push(Hop {
            element,
            edge,
            node: node.to_owned(),
            text: text.into(),
            evidence,
            verdict,
        });
    }

    /// The jumps that led to `dnat` (all of `ev` but the rule itself, which stays for the next
    /// hop) as one passing hop; the rule's `--to-destination`.
    pub fn dnat_reached<'r>(
        &mut self,
        node: &str,
        element: Option<String>,
        chain: &str,
        dnat: &'r Rule,
        ev: &mut Vec<Evidence>,
    ) -> &'r str {
        let jumps: Vec<_> = ev.drain(..ev.len().saturating_sub(1)).collect();
        if !jumps.is_empty() {
            self.pass(
                node,
                element,
                format!(
                    "nat {chain} jumps to {} (the destination is a local address)",
                    dnat.chain
                ),
                jumps,
            );
        }
        dnat.target
            .as_ref()
            .and_then(|t| t.to_destination.as_deref())
            .unwrap_or("")
    }

    /// A hop the packet passes.
    pub fn pass(
        &mut self,
        node: &str,
        element: Option<String>,
        text: impl Into<String>,
        evidence: Vec<Evidence>,
    ) {
        self.hop(node, element, text, evidence, Verdict::Pass);
    }

    /// The host namespace `hns` routes `x`: a hop "routed to x by IF" quoting the route, and the
    /// outgoing link with its element. Ends at a broken hop (at `from`) when there is no route or
    /// the route names no interface.
    pub fn route_out(
        &mut self,
        nv: &NodeView<'a>,
        hns: &'a Namespace,
        from: Option<String>,
        x: IpAddr,
    ) -> Stage<(&'a Link, Option<String>)> {
        let label = nv.ns_name(hns);
        let Some(route) = nv.route(hns, Some(x)) else {
            return self.broken(
                nv.host,
                from,
                format!("the host has no route to {x}"),
                vec![],
            );
        };
        let quoted = vec![facts::route(&label, hns, route)];
        let Some(out) = route.oif.and_then(|i| hns.link(i)) else {
            let why = format!("the route to {x} names no interface");
            return self.broken(nv.host, from, why, quoted);
        };
        let out_el = self.ctx.element(nv.iface_id(hns, out));
        self.pass(
            nv.host,
            out_el.clone(),
            format!("routed to {x} by {}", out.name),
            quoted,
        );
        Ok((out, out_el))
    }

    /// The host namespace, when the bridge `br` the packet reached (in `at`) lives there; else a
    /// broken hop saying so, `consequence` telling what that means for this path.
    pub fn host_side(
        &mut self,
        nv: &NodeView<'a>,
        at: &'a Namespace,
        br: &Link,
        consequence: &str,
    ) -> Stage<&'a Namespace> {
        if let Some(hns) = nv.host_ns().filter(|h| h.id == at.id) {
            return Ok(hns);
        }
        let why = format!(
            "{} is in {}, not in the host namespace: {consequence}",
            br.name,
            nv.ns_name(at)
        );
        self.broken(nv.host, None, why, vec![])
    }

    /// The node's host namespace; when it was not read, an *unknown* hop at the node that says so.
    pub fn host_ns(&mut self, nv: &NodeView<'a>) -> Stage<&'a Namespace> {
        match nv.host_ns() {
            Some(hns) => Ok(hns),
            None => self.end(
                nv.host,
                self.ctx.element(nv.host_id()),
                "the host namespace is not in the snapshot",
                vec![],
                Verdict::Unknown("the host namespace was not read".into()),
            ),
        }
    }

    /// Whether the last hop stopped the packet.
    pub fn stopped(&self) -> bool {
        self.hops.last().is_some_and(|h| h.verdict != Verdict::Pass)
    }

    /// The finished path, called as last named; its outcome is the last hop's verdict.
    pub fn finish(self, kind: &str) -> PacketPath {
        let outcome = match self.hops.last().map(|h| &h.verdict) {
            Some(Verdict::Blocked(_)) => Outcome::Blocked,
            Some(Verdict::Broken(_)) => Outcome::Broken,
            Some(Verdict::Unknown(_)) => Outcome::Unknown,
            Some(Verdict::Pass) => Outcome::Delivered,
            None => Outcome::Unknown,
        };
        PacketPath {
            id: self.id,
            kind: kind.to_owned(),
            title: self.title,
            outcome,
            hops: self.hops,
        }
    }

    /// Walk a filter chain and add one hop saying whether it lets the packet through; ends the
    /// path when it does not.
    pub fn filter(
        &mut self,
        nv: &NodeView<'a>,
        ns: &'a Namespace,
        chain: &str,
        pkt: &Packet,
        element: Option<String>,
    ) -> Stage {
        self.filter_hop(nv, ns, chain, pkt, element);
        self.go_on()
    }

    fn filter_hop(
        &mut self,
        nv: &NodeView<'a>,
        ns: &'a Namespace,
        chain: &str,
        pkt: &Packet,
        element: Option<String>,
    ) {
        let label = nv.ns_name(ns);
        let w = walk(ns.firewall.as_ref(), "filter", chain, pkt, &self.ctx.budget);
        if chain == "FORWARD" {
            match forward_gate(nv, ns, pkt) {
                Gate::Rules => {}
                Gate::Stop(text, ev, verdict) => {
                    return self.hop(nv.host, element, text, ev, verdict)
                }
                Gate::Bridged(mut text, mut ev) => {
                    if let Decision::Rule(r) = &w.decision {
                        if r.target
                            .as_ref()
                            .is_some_and(|t| t.name == "DROP" || t.name == "REJECT")
                        {
                            text.push_str(&format!(": `{}` does not apply (with enable_icc=false this lets containers of the network talk)", r.text));
                            ev.push(facts::family_rule(&label, "filter", r, w.v6));
                        }
                    }
                    return self.pass(nv.host, element, text, ev);
                }
            }
        }
        let mut ev = rule_evidence(&label, &w);
        let (mut text, verdict) = filter_verdict(nv, ns, chain, &w);
        if verdict == Verdict::Pass {
            if let Some(r) = w.conditional.iter().find(|r| {
                r.target
                    .as_ref()
                    .is_some_and(|t| t.name == "DROP" || t.name == "REJECT")
            }) {
                text.push_str(&format!(
                    " (except what `{}` drops: it applies to some protocols, ports or addresses only)",
                    r.text
                ));
                ev.push(facts::family_rule(&label, "filter", r, w.v6));
            }
        }
        let verdict = match (verdict, w.doubt()) {
            (Verdict::Pass, Some(d)) | (Verdict::Blocked(_), Some(d)) => Verdict::Unknown(d),
            (v, _) => v,
        };
        let passed = verdict == Verdict::Pass;
        let before = ev.len();
        let verdict = native::join(nv, ns, &chain.to_lowercase(), pkt, verdict, &mut ev);
        if passed && verdict != Verdict::Pass {
            text = verdict.reason().to_owned();
        } else if verdict == Verdict::Pass && ev.len() > before {
            text.push_str(", and the native nftables chains let it through");
        }
        if pkt.v6 && verdict == Verdict::Pass && !manages_v6(ns) {
            text.push_str(&format!(
                "; {}, so nothing of Docker's (icc, isolation) applies to IPv6",
                unmanaged(&label)
            ));
        }
        self.hop(nv.host, element, text, ev, verdict);
    }
}

/// What a walk of filter `chain` decided, in words, and its verdict.
fn filter_verdict(
    nv: &NodeView<'_>,
    ns: &Namespace,
    chain: &str,
    w: &Walk<'_>,
) -> (String, Verdict) {
    let label = nv.ns_name(ns);
    match &w.decision {
        Decision::Rule(r) => {
            let t = r.target.as_ref().map(|t| t.name.as_str()).unwrap_or("");
            if t == "ACCEPT" {
                (
                    format!("filter {chain} accepts it (chain {})", r.chain),
                    Verdict::Pass,
                )
            } else {
                let why = format!("filter {chain} {}s it: `{}`", t.to_lowercase(), r.text);
                (why.clone(), Verdict::Blocked(why))
            }
        }
        Decision::Policy(p) if p == "ACCEPT" => (
            format!("filter {chain} lets it through (no rule decides; policy ACCEPT)"),
            Verdict::Pass,
        ),
        Decision::Policy(p) => {
            let why = format!("no rule of filter {chain} accepts it and the policy is {p}");
            (why.clone(), Verdict::Blocked(why))
        }
        Decision::NoTable => (
            format!("no filter table in {label}: nothing filters {chain}"),
            Verdict::Pass,
        ),
        Decision::Unknown(why) => {
            let why = format!("filter {chain} in {label}: {why}");
            (why.clone(), Verdict::Unknown(why))
        }
        Decision::NotRead => {
            let why = format!(
                "the iptables rules of {label} were not read ({})",
                nv.why_not_read(ns, SourceKind::Iptables)
            );
            (why.clone(), Verdict::Unknown(why))
        }
    }
}

/// The matched rules of a walk (and the policy, when it decided), verbatim.
pub fn rule_evidence(ns_label: &str, w: &Walk<'_>) -> Vec<Evidence> {
    let mut ev: Vec<Evidence> = w
        .matched
        .iter()
        .map(|r| facts::family_rule(ns_label, &w.table, r, w.v6))
        .collect();
    if let Decision::Policy(p) = &w.decision {
        ev.push(facts::policy(ns_label, &w.table, &w.chain, p, w.v6));
    }
    ev
}
