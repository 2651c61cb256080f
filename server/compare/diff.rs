//! The differences between two sides, in words: what one side lacks, attributes that differ
//! (MTU, state, VNI, driver...), FDB entries one side lacks, and firewall rules that differ per
//! namespace, table and chain.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::graph::{Element, ElementKind};

use super::Side;

/// Where a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// On both sides.
    Both,
    /// On the left only.
    Left,
    /// On the right only.
    Right,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The element's key (what both panes' drawings are keyed by).
    pub key: String,
    /// Its kind.
    pub kind: ElementKind,
    /// Its label (hostile: text only).
    pub label: String,
    /// `left` or `right` when only that side has it; `both` when both have it, differently.
    pub presence: Presence,
    /// In words: `only on node1`, `mtu 1450 / 1500`, `FDB entries differ`, `ipv4 nat DOCKER rules differ`.
    pub what: String,
    /// The facts behind it (FDB entries, rule texts), `<` left and `>` right.
    pub details: Vec<String>,
    /// The element's ID on the left, if there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_id: Option<String>,
    /// Its ID on the right, if there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_id: Option<String>,
}

/// At most this many facts are listed under one difference.
const MAX_DETAILS: usize = 12;

fn kind_rank(k: ElementKind) -> u8 {
    match k {
        ElementKind::Container => 0,
        ElementKind::Netns => 1,
        ElementKind::Network => 2,
        ElementKind::Service => 3,
        ElementKind::Task => 4,
        ElementKind::Interface => 5,
        ElementKind::Remote => 6,
        ElementKind::Host => 7,
    }
}

/// Attributes compared per kind: the ones that should match on nodes that should match.
fn compared(kind: ElementKind) -> &'static [&'static str] {
    match kind {
        ElementKind::Interface => &["type", "mtu", "state", "admin_up", "vni"],
        ElementKind::Network => &[
            "driver",
            "scope",
            "internal",
            "attachable",
            "ingress",
            "ipv6",
            "subnets",
            "vni",
        ],
        ElementKind::Container => &["image", "state", "network_mode"],
        ElementKind::Netns => &["role"],
        ElementKind::Service => &["mode", "replicas", "image", "endpoint_mode"],
        ElementKind::Task => &["state", "desired_state"],
        _ => &[],
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// `mac dst` of each FDB entry (flags and states differ with traffic; they are left out).
fn fdb_entries(e: &Element) -> BTreeSet<String> {
    let Some(Value::Array(a)) = e.attrs.get("fdb") else {
        return BTreeSet::new();
    };
    a.iter()
        .filter_map(Value::as_str)
        .filter_map(|s| {
            let mut w = s.split_whitespace();
            let mac = w.next()?;
            let rest: Vec<&str> = w.collect();
            let dst = rest
                .iter()
                .position(|x| *x == "dst")
                .and_then(|i| rest.get(i + 1));
            Some(match dst {
                Some(d) => format!("{mac} dst {d}"),
                None => mac.to_owned(),
            })
        })
        .collect()
}

/// Rule texts per (namespace key, family, table, chain), in kernel order.
fn rules(side: &Side) -> BTreeMap<(String, &'static str, String, String), Vec<String>> {
    let host = side.key.as_str();
    let back: HashMap<&str, &str> = side
        .keyed
        .original
        .iter()
        .map(|(k, id)| (id.as_str(), k.as_str()))
        .collect();
    let names = crate::graph::namespace_names(&side.snapshot.namespaces);
    let mut out: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for ns in &side.snapshot.namespaces {
        let Some(fw) = &ns.firewall else { continue };
        let name = names
            .get(&ns.id)
            .cloned()
            .unwrap_or_else(|| ns.name.clone());
        let id = crate::graph::ids::netns(host, &name);
        let Some(key) = back.get(id.as_str()) else {
            continue;
        };
        for (family, tables) in [("ipv4", &fw.ipv4), ("ipv6", &fw.ipv6)] {
            for t in tables {
                for r in &t.rules {
                    out.entry(((*key).to_owned(), family, t.name.clone(), r.chain.clone()))
                        .or_default()
                        .push(r.text.clone());
                }
            }
        }
    }
    out
}

/// Everything that differs between the two sides, most telling first.
pub fn differences(left: &Side, right: &Side) -> Vec<Difference> {
    let (l, r) = (by_key(left), by_key(right));
    let sides = Sides { left, right };
    let mut only = Vec::new();
    let mut changed = Vec::new();
    let keys: BTreeSet<&str> = l.keys().chain(r.keys()).copied().collect();
    for k in keys {
        match (l.get(k), r.get(k)) {
            (Some(a), None) => only.push(sides.only(k, Presence::Left, a)),
            (None, Some(b)) => only.push(sides.only(k, Presence::Right, b)),
            (Some(a), Some(b)) => {
                changed.extend(sides.attributes(k, a, b));
                changed.extend(sides.fdb(k, a, b));
            }
            (None, None) => {}
        }
    }
    by_rank(&mut only);
    by_rank(&mut changed);
    let mut out = only;
    out.extend(changed);
    out.extend(rule_differences(left, right, &l, &r));
    out
}

/// A side's elements by their key.
fn by_key(side: &Side) -> BTreeMap<&str, &Element> {
    side.keyed
        .graph
        .elements
        .iter()
        .map(|e| (e.id.as_str(), e))
        .collect()
}

/// Kinds in [`kind_rank`] order, then keys: the order the differences are listed in.
fn by_rank(v: &mut [Difference]) {
    v.sort_by(|a, b| (kind_rank(a.kind), &a.key).cmp(&(kind_rank(b.kind), &b.key)));
}

/// The two sides being compared, which every difference names.
struct Sides<'a> {
    /// The left side.
    left: &'a Side,
    /// The right side.
    right: &'a Side,
}

impl Sides<'_> {
    /// A difference about key `k`, told with element `e` and with both sides' IDs for it.
    fn difference(
        &self,
        k: &str,
        presence: Presence,
        e: &Element,
        what: String,
        details: Vec<String>,
    ) -> Difference {
        Difference {
            key: k.to_owned(),
            kind: e.kind,
            label: e.label.clone(),
            presence,
            what,
            details,
            left_id: self.left.keyed.original.get(k).cloned(),
            right_id: self.right.keyed.original.get(k).cloned(),
        }
    }

    /// An element only the side `presence` names has.
    fn only(&self, k: &str, presence: Presence, e: &Element) -> Difference {
        let spec = match presence {
            Presence::Right => &self.right.spec,
            _ => &self.left.spec,
        };
        self.difference(k, presence, e, format!("only on {spec}"), Vec::new())
    }

    /// The [`compared`] attributes that differ, all in one difference (none if all match).
    fn attributes(&self, k: &str, a: &Element, b: &Element) -> Option<Difference> {
        let diffs: Vec<String> = compared(a.kind)
            .iter()
            .filter(|name| a.attrs.get(**name) != b.attrs.get(**name))
            .map(|name| {
                format!(
                    "{name} {} / {}",
                    show(a.attrs.get(*name)),
                    show(b.attrs.get(*name))
                )
            })
            .collect();
        (!diffs.is_empty())
            .then(|| self.difference(k, Presence::Both, a, diffs.join(", "), Vec::new()))
    }

    /// The FDB entries one side has and the other lacks (none if they are the same).
    fn fdb(&self, k: &str, a: &Element, b: &Element) -> Option<Difference> {
        let (fa, fb) = (fdb_entries(a), fdb_entries(b));
        if fa == fb {
            return None;
        }
        let mut details: Vec<String> = fa.difference(&fb).map(|x| format!("< {x}")).collect();
        details.extend(fb.difference(&fa).map(|x| format!("> {x}")));
        let n = details.len();
        details.truncate(MAX_DETAILS);
        let what = format!(
            "FDB entries differ: {} only on {}, {} only on {}",
            fa.difference(&fb).count(),
            self.left.spec,
            fb.difference(&fa).count(),
            self.right.spec
        );
        Some(self.difference(k, Presence::Both, a, what, with_more(details, n)))
    }
}

fn with_more(mut details: Vec<String>, total: usize) -> Vec<String> {
    if total > details.len() {
        details.push(format!("… {} more", total - details.len()));
    }
    details
}

/// Rules that differ, per namespace both sides have, table and chain.
fn rule_differences(
    left: &Side,
    right: &Side,
    l: &BTreeMap<&str, &Element>,
    r: &BTreeMap<&str, &Element>,
) -> Vec<Difference> {
    let (ra, rb) = (rules(left), rules(right));
    let groups: BTreeSet<_> = ra.keys().chain(rb.keys()).cloned().collect();
    let empty = Vec::new();
    let mut out = Vec::new();
    for g in groups {
        let (ns, family, table, chain) = &g;
        let (Some(el), Some(_)) = (l.get(ns.as_str()), r.get(ns.as_str())) else {
            continue;
        };
        let a = ra.get(&g).unwrap_or(&empty);
        let b = rb.get(&g).unwrap_or(&empty);
        if a == b {
            continue;
        }
        let sa: BTreeSet<&String> = a.iter().collect();
        let sb: BTreeSet<&String> = b.iter().collect();
        let mut details: Vec<String> = sa.difference(&sb).map(|x| format!("< {x}")).collect();
        details.extend(sb.difference(&sa).map(|x| format!("> {x}")));
        let what = if details.is_empty() {
            format!("{family} {table} {chain}: the same rules in another order")
        } else {
            format!(
                "{family} {table} {chain}: {} rules only on {}, {} only on {}",
                sa.difference(&sb).count(),
                left.spec,
                sb.difference(&sa).count(),
                right.spec
            )
        };
        let n = details.len();
        details.truncate(MAX_DETAILS);
        out.push(Difference {
            key: ns.clone(),
            kind: ElementKind::Netns,
            label: el.label.clone(),
            presence: Presence::Both,
            what,
            details: with_more(details, n),
            left_id: left.keyed.original.get(ns).cloned(),
            right_id: right.keyed.original.get(ns).cloned(),
        });
    }
    out
}
