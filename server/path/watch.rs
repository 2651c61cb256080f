//! Watching a path: which kernel counters show its hops, and what their movement says.
//!
//! [`plan`] turns an answer into probes per node (an interface's counters for a hop at an
//! interface, a rule's or a policy's counters for every iptables rule a hop quotes, conntrack
//! entries for a published port); [`Watch::update`] turns two rounds of readings into what the
//! page shows: each hop's counters, how much they moved, and the hop after which packets stop.
//! Reading is I/O and lives in `collect::counters`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Hop, PacketPath, PathAnswer, Question};
use crate::graph::nodes::NodeNames;
use crate::snapshot::counters::{Probe, ProbeKind, Reading};
use crate::snapshot::NodeSnapshot;

/// The probes of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeProbes {
    /// Index of the node's snapshot.
    pub node: usize,
    /// Its label (for messages).
    pub label: String,
    /// Distinct probes, in a stable order.
    pub probes: Vec<Probe>,
}

/// One counter shown at one hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// Path index in the answer.
    pub path: usize,
    /// Hop index in the path.
    pub hop: usize,
    /// Index into [`Watch::nodes`].
    pub node: usize,
    /// Index into that node's probes.
    pub probe: usize,
    /// What it counts, in words: `veth1a2b3c4`, `nat DOCKER -j DNAT`, `filter FORWARD policy DROP`.
    pub label: String,
}

/// What to read for a path answer, and how to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watch {
    /// Probes per node.
    pub nodes: Vec<NodeProbes>,
    /// Counters per hop.
    pub marks: Vec<Mark>,
    /// Per path: the hop a rule blocks it at (its last), if one does.
    pub blocked_at: Vec<Option<usize>>,
}

/// One hop's counter in an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HopCounter {
    /// Path index.
    pub path: usize,
    /// Hop index.
    pub hop: usize,
    /// What it counts.
    pub label: String,
    /// `link`, `rule`, `policy` or `conntrack`.
    pub kind: &'static str,
    /// The value now.
    pub now: Reading,
    /// Packets (or entries, for conntrack) since the watch began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_start: Option<i64>,
    /// Packets (or entries) since the previous update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_last: Option<i64>,
}

/// Where a path's packets were last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// Path index.
    pub path: usize,
    /// The last hop whose counters moved since the watch began.
    pub last_moving: usize,
    /// Later hops that have counters and saw nothing (empty: the path's blocking hop counted them).
    pub silent_after: Vec<usize>,
    /// In words: "packets reach hop 4 (filter DOCKER-USER -j DROP: +12) and no further".
    pub text: String,
}

/// One update of a watched path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchUpdate {
    /// Milliseconds since the watch began.
    pub t_ms: u64,
    /// Every hop counter.
    pub hops: Vec<HopCounter>,
    /// Paths whose packets stop before their end.
    pub stops: Vec<Stop>,
}

/// The probes that show a path answer's hops.
pub fn plan(answer: &PathAnswer, snapshots: &[NodeSnapshot]) -> Watch {
    let refs: Vec<&NodeSnapshot> = snapshots.iter().collect();
    let names = NodeNames::new(&refs);
    let mut plan = Planner {
        labels: snapshots
            .iter()
            .map(|s| names.label(s).to_owned())
            .collect(),
        nodes: Vec::new(),
        marks: Vec::new(),
    };
    for (pi, path) in answer.paths.iter().enumerate() {
        for (hi, hop) in path.hops.iter().enumerate() {
            let Some(node) = plan.node_of(&hop.node) else {
                continue;
            };
            for (probe, label) in hop_probes(hop) {
                plan.add(pi, hi, node, probe, label);
            }
        }
        if let Question::Port { port, protocol, .. } = &answer.question {
            plan.conntrack(pi, path, protocol, *port);
        }
    }
    let blocked_at = answer
        .paths
        .iter()
        .map(|p| match p.hops.last() {
            Some(h) if matches!(h.verdict, super::model::Verdict::Blocked(_)) => {
                Some(p.hops.len() - 1)
            }
            _ => None,
        })
        .collect();
    Watch {
        nodes: plan.nodes,
        marks: plan.marks,
        blocked_at,
    }
}

/// The probes gathered so far, per node, and the hops each one shows.
struct Planner {
    /// Each snapshot's node label, as hops name their node.
    labels: Vec<String>,
    nodes: Vec<NodeProbes>,
    marks: Vec<Mark>,
}

impl Planner {
    fn node_of(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    /// Probe `probe` on `node` shows hop `hop` of path `path`; each probe is read once.
    fn add(&mut self, path: usize, hop: usize, node: usize, probe: Probe, label: String) {
        let n = match self.nodes.iter().position(|x| x.node == node) {
            Some(i) => i,
            None => {
                self.nodes.push(NodeProbes {
                    node,
                    label: self.labels[node].clone(),
                    probes: Vec::new(),
                });
                self.nodes.len() - 1
            }
        };
        let probes = &mut self.nodes[n].probes;
        let p = match probes.iter().position(|x| *x == probe) {
            Some(i) => i,
            None => {
                probes.push(probe);
                probes.len() - 1
            }
        };
        let mark = Mark {
            path,
            hop,
            node: n,
            probe: p,
            label,
        };
        if !self.marks.contains(&mark) {
            self.marks.push(mark);
        }
    }

    /// The host's conntrack table holds the flows to the published port (DNAT'd or not).
    fn conntrack(&mut self, pi: usize, path: &PacketPath, protocol: &str, port: u16) {
        let at = path
            .hops
            .iter()
            .position(|h| h.text.starts_with("DNAT"))
            .unwrap_or(0);
        if let Some(node) = path.hops.get(at).and_then(|h| self.node_of(&h.node)) {
            let probe = Probe {
                namespace: "host".into(),
                what: ProbeKind::Conntrack {
                    protocol: protocol.to_owned(),
                    dport: Some(port),
                    src: None,
                },
            };
            self.add(
                pi,
                at,
                node,
                probe,
                format!("conntrack {protocol} dport {port}"),
            );
        }
    }
}

/// What shows a hop: its interface's counters and those of the rules it quotes, with labels.
fn hop_probes(hop: &Hop) -> Vec<(Probe, String)> {
    let mut out = Vec::new();
    if let Some((ns, ifname)) = hop.element.as_deref().and_then(interface_parts) {
        let probe = Probe {
            namespace: ns.to_owned(),
            what: ProbeKind::Link {
                ifname: ifname.to_owned(),
            },
        };
        out.push((probe, ifname.to_owned()));
    }
    for ev in &hop.evidence {
        let family = match ev.kind.as_str() {
            "iptables" => 4,
            "ip6tables" => 6,
            _ => continue,
        };
        if let Some((what, label)) = rule_probe(family, &ev.text) {
            let probe = Probe {
                namespace: ev.namespace.clone(),
                what,
            };
            out.push((probe, label));
        }
    }
    out
}

/// `if:<key>/<namespace>/<ifname>` → (namespace, ifname).
fn interface_parts(element: &str) -> Option<(&str, &str)> {
    let rest = element.strip_prefix("if:")?;
    let mut parts = rest.splitn(3, '/');
    let _key = parts.next()?;
    Some((parts.next()?, parts.next()?))
}

/// Evidence `-t nat -A DOCKER ...` or `-t filter -P FORWARD DROP` → its probe and label.
fn rule_probe(family: u8, text: &str) -> Option<(ProbeKind, String)> {
    let rest = text.strip_prefix("-t ")?;
    let (table, rule) = rest.split_once(' ')?;
    if let Some(policy) = rule.strip_prefix("-P ") {
        let (chain, verdict) = policy.split_once(' ').unwrap_or((policy, ""));
        return Some((
            ProbeKind::Policy {
                family,
                table: table.to_owned(),
                chain: chain.to_owned(),
            },
            format!("{table} {chain} policy {verdict}")
                .trim_end()
                .to_owned(),
        ));
    }
    let chain = rule.strip_prefix("-A ")?.split_whitespace().next()?;
    let target = rule
        .split_once(" -j ")
        .or_else(|| rule.split_once(" -g "))
        .and_then(|(_, t)| t.split_whitespace().next())
        .unwrap_or("(no target)");
    Some((
        ProbeKind::Rule {
            family,
            table: table.to_owned(),
            rule: rule.to_owned(),
        },
        format!("{table} {chain} -j {target}"),
    ))
}

/// The movement a reading shows: packets, or entries for conntrack without accounting.
fn amount(r: &Reading) -> Option<u64> {
    r.packets.or(r.entries)
}

fn delta(now: &Reading, then: Option<&Reading>) -> Option<i64> {
    let (a, b) = (amount(now)?, amount(then?)?);
    Some(a as i64 - b as i64)
}

fn kind_name(k: &ProbeKind) -> &'static str {
    match k {
        ProbeKind::Link { .. } => "link",
        ProbeKind::Rule { .. } => "rule",
        ProbeKind::Policy { .. } => "policy",
        ProbeKind::Conntrack { .. } => "conntrack",
    }
}

impl Watch {
    /// Whether there is anything to read.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The update that readings `now` make, against the watch's first readings and the previous
    /// ones (`readings[node][probe]`, as [`Watch::nodes`] orders them).
    pub fn update(
        &self,
        t_ms: u64,
        first: &[Vec<Reading>],
        previous: &[Vec<Reading>],
        now: &[Vec<Reading>],
    ) -> WatchUpdate {
        let at = |r: &[Vec<Reading>], m: &Mark| r.get(m.node).and_then(|n| n.get(m.probe)).cloned();
        let hops: Vec<HopCounter> = self
            .marks
            .iter()
            .map(|m| {
                let reading = at(now, m).unwrap_or_else(|| Reading::failed("not read"));
                HopCounter {
                    path: m.path,
                    hop: m.hop,
                    label: m.label.clone(),
                    kind: kind_name(&self.nodes[m.node].probes[m.probe].what),
                    since_start: delta(&reading, at(first, m).as_ref()),
                    since_last: delta(&reading, at(previous, m).as_ref()),
                    now: reading,
                }
            })
            .collect();
        WatchUpdate {
            t_ms,
            stops: stops(&hops, &self.blocked_at),
            hops,
        }
    }
}

/// One hop's counters in short: (moved, readable, the counters that moved).
type HopMovement<'a> = (bool, bool, Vec<&'a HopCounter>);

/// Per path: the last hop whose counters moved, when later hops have counters that did not, or
/// when it is the hop a rule blocks the path at (the kernel confirms the verdict).
fn stops(hops: &[HopCounter], blocked_at: &[Option<usize>]) -> Vec<Stop> {
    let mut by_path: BTreeMap<usize, BTreeMap<usize, HopMovement>> = BTreeMap::new();
    for h in hops {
        // Conntrack counts flows, not packets past a hop: it says nothing of where they stop.
        if h.kind == "conntrack" {
            continue;
        }
        let e = by_path.entry(h.path).or_default().entry(h.hop).or_default();
        if let Some(d) = h.since_start {
            e.1 = true;
            if d > 0 {
                e.0 = true;
                e.2.push(h);
            }
        }
    }
    let mut out = Vec::new();
    for (path, hops) in by_path {
        let Some((&last, (_, _, moved))) = hops.iter().rev().find(|(_, (m, _, _))| *m) else {
            continue;
        };
        let silent: Vec<usize> = hops
            .range(last + 1..)
            .filter(|(_, (m, readable, _))| *readable && !*m)
            .map(|(h, _)| *h)
            .collect();
        let what: Vec<String> = moved
            .iter()
            .map(|c| format!("{}: +{}", c.label, c.since_start.unwrap_or(0)))
            .collect();
        if silent.is_empty() {
            if blocked_at.get(path).copied().flatten() == Some(last) {
                out.push(Stop {
                    path,
                    last_moving: last,
                    silent_after: silent,
                    text: format!(
                        "packets stop at hop {} ({}), as the rule there says",
                        last + 1,
                        what.join(", ")
                    ),
                });
            }
            continue;
        }
        out.push(Stop {
            path,
            last_moving: last,
            text: format!(
                "packets reach hop {} ({}) and no further: the counters of hop{} {} did not move",
                last + 1,
                what.join(", "),
                if silent.len() > 1 { "s" } else { "" },
                silent
                    .iter()
                    .map(|h| (h + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            silent_after: silent,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::model::{Evidence, Hop, Outcome, PacketPath, Verdict, PATH_SCHEMA};

    fn snap(host: &str) -> NodeSnapshot {
        let mut s = NodeSnapshot::default();
        s.node.hostname = host.into();
        s
    }

    fn hop(element: Option<&str>, evidence: &[&str]) -> Hop {
        Hop {
            element: element.map(str::to_owned),
            edge: None,
            node: "n1".into(),
            text: if evidence.iter().any(|e| e.contains("DNAT")) {
                "DNAT to 198.18.64.2:80".into()
            } else {
                "passes".into()
            },
            evidence: evidence
                .iter()
                .map(|t| Evidence {
                    kind: "iptables".into(),
                    namespace: "host".into(),
                    text: (*t).into(),
                })
                .collect(),
            verdict: Verdict::Pass,
        }
    }

    fn answer() -> PathAnswer {
        PathAnswer {
            schema: PATH_SCHEMA.into(),
            question: Question::Port {
                port: 8080,
                protocol: "tcp".into(),
                node: None,
            },
            paths: vec![PacketPath {
                id: "p".into(),
                kind: "bridge-port".into(),
                title: "t".into(),
                outcome: Outcome::Blocked,
                hops: vec![
                    hop(Some("host:n1"), &["-t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.64.2:80"]),
                    hop(None, &["-t filter -A DOCKER-USER -d 198.18.64.2/32 -j DROP", "-t filter -P FORWARD DROP"]),
                    hop(Some("if:n1/web/eth0"), &[]),
                ],
            }],
            notes: vec![],
        }
    }

    #[test]
    fn a_path_is_watched_through_its_rules_interfaces_and_conntrack() {
        let w = plan(&answer(), &[snap("n1")]);
        assert_eq!(w.nodes.len(), 1);
        let labels: Vec<(usize, &str)> =
            w.marks.iter().map(|m| (m.hop, m.label.as_str())).collect();
        assert_eq!(
            labels,
            [
                (0, "nat DOCKER -j DNAT"),
                (1, "filter DOCKER-USER -j DROP"),
                (1, "filter FORWARD policy DROP"),
                (2, "eth0"),
                (0, "conntrack tcp dport 8080"),
            ]
        );
        let probes = &w.nodes[0].probes;
        assert_eq!(
            probes[0].what,
            ProbeKind::Rule {
                family: 4,
                table: "nat".into(),
                rule: "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.18.64.2:80".into()
            }
        );
        assert_eq!(probes[3].namespace, "web");
        // A hop on a node the snapshots do not hold reads nothing rather than another node's counters.
        assert!(plan(&answer(), &[snap("other")]).is_empty());
    }

    fn pk(n: u64) -> Reading {
        Reading {
            packets: Some(n),
            bytes: Some(n * 60),
            ..Default::default()
        }
    }

    /// A conntrack reading of `n` entries.
    fn entries(n: u64) -> Reading {
        Reading {
            entries: Some(n),
            ..Default::default()
        }
    }

    #[test]
    fn packets_stop_after_the_last_hop_whose_counters_moved() {
        let w = plan(&answer(), &[snap("n1")]);
        let first = vec![vec![pk(10), pk(0), pk(3), pk(100), entries(0)]];
        let now = vec![vec![pk(22), pk(12), pk(3), pk(100), entries(12)]];
        let u = w.update(2000, &first, &first, &now);
        let dnat = u
            .hops
            .iter()
            .find(|h| h.label.starts_with("nat DOCKER"))
            .unwrap();
        assert_eq!((dnat.since_start, dnat.since_last), (Some(12), Some(12)));
        assert_eq!(u.stops.len(), 1, "{u:#?}");
        assert_eq!(u.stops[0].last_moving, 1);
        assert_eq!(u.stops[0].silent_after, vec![2]);
        assert!(
            u.stops[0].text.contains("filter DOCKER-USER -j DROP: +12"),
            "{}",
            u.stops[0].text
        );
        // Packets that arrive at the end stop nowhere.
        let through = vec![vec![pk(22), pk(0), pk(3), pk(112), entries(12)]];
        assert!(w.update(2000, &first, &first, &through).stops.is_empty());
        // A counter that could not be read is not "silent".
        let unread = vec![vec![
            pk(22),
            pk(12),
            pk(3),
            Reading::failed("gone"),
            Reading::default(),
        ]];
        assert!(w.update(2000, &first, &first, &unread).stops.is_empty());
    }

    #[test]
    fn a_blocking_rule_that_counts_the_packets_is_where_they_stop() {
        let mut a = answer();
        a.paths[0].hops.truncate(2);
        a.paths[0].hops[1].verdict = Verdict::Blocked("DROP in DOCKER-USER".into());
        let w = plan(&a, &[snap("n1")]);
        assert_eq!(w.blocked_at, vec![Some(1)]);
        let first = vec![vec![pk(10), pk(0), pk(3), entries(0)]];
        let now = vec![vec![pk(22), pk(12), pk(3), entries(0)]];
        let u = w.update(1000, &first, &first, &now);
        assert_eq!(u.stops.len(), 1, "{u:#?}");
        assert!(
            u.stops[0]
                .text
                .starts_with("packets stop at hop 2 (filter DOCKER-USER -j DROP: +12)"),
            "{}",
            u.stops[0].text
        );
        // The rule counting nothing: the kernel does not confirm it; packets stop before it.
        let quiet = vec![vec![pk(22), pk(0), pk(3), entries(0)]];
        let u = w.update(1000, &first, &first, &quiet);
        assert_eq!(
            (u.stops[0].last_moving, u.stops[0].silent_after.clone()),
            (0, vec![1])
        );
        assert!(
            u.stops[0].text.contains("no further"),
            "{}",
            u.stops[0].text
        );
    }
}
