//! Firewall rules of two snapshots, per node, namespace, family, table and chain.
//!
//! Only namespaces on both sides with rules read on both sides are compared: a namespace that
//! came or went is an element added or removed (its rules with it), and rules that could not be
//! read are no evidence of a change (the host's `sources_not_ok` says why). Native nftables
//! rulesets (`nft -j`) are not compared: their JSON holds handles and counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::graph::ids;
use crate::snapshot::{Namespace, NodeSnapshot, Table};

use super::model::{ChainChange, Change};

/// Chains whose rules or policy differ, by node, namespace, family, table, chain.
pub fn chains(a: &[NodeSnapshot], b: &[NodeSnapshot]) -> Vec<ChainChange> {
    let old = namespaces(a);
    let new = namespaces(b);
    let mut out = Vec::new();
    for (key, nb) in &new {
        let Some(na) = old.get(key) else { continue };
        let (Some(fa), Some(fb)) = (&na.firewall, &nb.firewall) else {
            continue;
        };
        let (host, ns) = key;
        let netns = ids::netns(host, ns);
        for (family, ta, tb) in [("ipv4", &fa.ipv4, &fb.ipv4), ("ipv6", &fa.ipv6, &fb.ipv6)] {
            tables(host, ns, &netns, family, ta, tb, &mut out);
        }
    }
    out.sort_by(|x, y| {
        (&x.node, &x.namespace, &x.family, &x.table, &x.chain).cmp(&(
            &y.node,
            &y.namespace,
            &y.family,
            &y.table,
            &y.chain,
        ))
    });
    out
}

/// Every namespace by (host, the name its element id uses).
fn namespaces(snaps: &[NodeSnapshot]) -> BTreeMap<(String, String), &Namespace> {
    let mut m = BTreeMap::new();
    let refs: Vec<&NodeSnapshot> = snaps.iter().collect();
    let nodes = crate::graph::NodeNames::new(&refs);
    for s in snaps {
        let host = nodes.key(s).to_owned();
        let names = crate::graph::namespace_names(&s.namespaces);
        for ns in &s.namespaces {
            if let Some(name) = names.get(&ns.id) {
                m.entry((host.clone(), name.clone())).or_insert(ns);
            }
        }
    }
    m
}

/// One table's chains: declared ones and any a rule is appended to.
fn chain_set(t: &Table) -> BTreeSet<&str> {
    t.chains
        .iter()
        .map(|c| c.name.as_str())
        .chain(t.rules.iter().map(|r| r.chain.as_str()))
        .collect()
}

fn tables(
    host: &str,
    ns: &str,
    netns: &str,
    family: &str,
    a: &[Table],
    b: &[Table],
    out: &mut Vec<ChainChange>,
) {
    let ta: BTreeMap<&str, &Table> = a.iter().map(|t| (t.name.as_str(), t)).collect();
    let tb: BTreeMap<&str, &Table> = b.iter().map(|t| (t.name.as_str(), t)).collect();
    let names: BTreeSet<&str> = ta.keys().chain(tb.keys()).copied().collect();
    for table in names {
        let (x, y) = (ta.get(table).copied(), tb.get(table).copied());
        let ca = x.map(chain_set).unwrap_or_default();
        let cb = y.map(chain_set).unwrap_or_default();
        for chain in ca.union(&cb) {
            let rules = |t: Option<&Table>| -> Vec<String> {
                t.map(|t| {
                    t.rules
                        .iter()
                        .filter(|r| r.chain == *chain)
                        .map(|r| r.text.clone())
                        .collect()
                })
                .unwrap_or_default()
            };
            let policy = |t: Option<&Table>| -> Option<String> {
                t.and_then(|t| t.chains.iter().find(|c| c.name == *chain))
                    .and_then(|c| c.policy.clone())
            };
            let (ra, rb) = (rules(x), rules(y));
            let (pa, pb) = (policy(x), policy(y));
            let change = match (ca.contains(chain), cb.contains(chain)) {
                (false, _) => Change::Added,
                (_, false) => Change::Removed,
                _ => Change::Changed,
            };
            let (added, removed) = multiset(&ra, &rb);
            let reordered = added.is_empty() && removed.is_empty() && ra != rb;
            if change == Change::Changed
                && added.is_empty()
                && removed.is_empty()
                && !reordered
                && pa == pb
            {
                continue;
            }
            let differ = pa != pb;
            out.push(ChainChange {
                node: host.to_owned(),
                namespace: ns.to_owned(),
                netns: netns.to_owned(),
                family: family.to_owned(),
                table: table.to_owned(),
                chain: (*chain).to_owned(),
                change,
                old_policy: if differ { pa } else { None },
                new_policy: if differ { pb } else { None },
                added,
                removed,
                reordered,
            });
        }
    }
}

/// Rules only in B (in B's order) and only in A (in A's order), counting repeats.
fn multiset(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>) {
    let mut left: HashMap<&str, usize> = HashMap::new();
    for r in a {
        *left.entry(r).or_default() += 1;
    }
    let mut added = Vec::new();
    for r in b {
        match left.get_mut(r.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => added.push(r.clone()),
        }
    }
    let mut right: HashMap<&str, usize> = HashMap::new();
    for r in b {
        *right.entry(r).or_default() += 1;
    }
    let mut removed = Vec::new();
    for r in a {
        match right.get_mut(r.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => removed.push(r.clone()),
        }
    }
    (added, removed)
}
