//! What changed between two pictures, as the live page lists it: the diff's own rules of what
//! counts (counters, times and learned entries never do), in a short form for the wire.

use serde::Serialize;

use crate::diff::{self, Change};
use crate::graph::{ElementKind, Graph};

/// Whether two pictures differ in anything that counts.
pub fn differ(old: &Graph, new: &Graph) -> bool {
    !diff::graph::elements(old, new).is_empty()
        || !diff::graph::edges(old, new).is_empty()
        || !diff::graph::findings(old, new).is_empty()
}

/// One change, as the page's Changes list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveChange {
    /// The element's stable id (what the page marks and selects).
    pub id: String,
    /// What it is.
    pub kind: ElementKind,
    /// Its label (hostile: text only).
    pub label: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// In words: which attributes changed (`mtu 1500 → 1400`), or where it appeared.
    pub what: String,
}

/// The element changes between two pictures, most telling first (added, removed, changed), at
/// most `limit` of them (a container started brings its namespace, interfaces and edges: the
/// list says the container, and the rest is marked on the drawing).
pub fn list(old: &Graph, new: &Graph, limit: usize) -> (Vec<LiveChange>, usize) {
    let all = if sorted(old) && sorted(new) {
        let (a, b) = unequal(old, new);
        diff::graph::elements(&a, &b)
    } else {
        diff::graph::elements(old, new)
    };
    listed(all, limit)
}

/// The diff's element changes in the list's form and order.
fn listed(all: Vec<diff::ElementChange>, limit: usize) -> (Vec<LiveChange>, usize) {
    let total = all.len();
    let mut out: Vec<LiveChange> = all
        .into_iter()
        .map(|c| {
            let what = match c.change {
                Change::Changed => c
                    .attrs
                    .iter()
                    .map(|a| match (&a.old, &a.new) {
                        (Some(o), Some(n)) => format!("{} {o} → {n}", a.name),
                        _ if !a.added.is_empty() || !a.removed.is_empty() => {
                            format!("{} +{} −{}", a.name, a.added.len(), a.removed.len())
                        }
                        _ => a.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => c.parent.clone().unwrap_or_default(),
            };
            LiveChange {
                id: c.id,
                kind: c.kind,
                label: c.label,
                change: c.change.word(),
                what,
            }
        })
        .collect();
    out.sort_by_key(|c| (rank(c.kind), c.change, c.id.clone()));
    out.truncate(limit);
    (out, total)
}

/// Whether the graph's elements are sorted by id, each id once (as every build gives them).
fn sorted(g: &Graph) -> bool {
    g.elements.windows(2).all(|w| w[0].id < w[1].id)
}

/// The elements of two graphs sorted by id that are not equal on both sides, as two small
/// graphs: on a big swarm most elements are equal, and the diff's maps of all of them cost more
/// than the one walk over both lists that finds the few that are not. The list needs no edges
/// (a change names the element's own parent).
fn unequal(old: &Graph, new: &Graph) -> (Graph, Graph) {
    let (mut a, mut b) = (Graph::default(), Graph::default());
    let (mut i, mut j) = (0, 0);
    let (o, n) = (&old.elements, &new.elements);
    while i < o.len() || j < n.len() {
        match (o.get(i), n.get(j)) {
            (Some(x), Some(y)) if x.id == y.id => {
                if x != y {
                    a.elements.push(x.clone());
                    b.elements.push(y.clone());
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.id < y.id => {
                a.elements.push(x.clone());
                i += 1;
            }
            (Some(x), None) => {
                a.elements.push(x.clone());
                i += 1;
            }
            (_, Some(y)) => {
                b.elements.push(y.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (a, b)
}

/// Containers, services and tasks first: what an operator started or stopped.
fn rank(kind: ElementKind) -> u8 {
    match kind {
        ElementKind::Host => 0,
        ElementKind::Container | ElementKind::Service | ElementKind::Task => 1,
        ElementKind::Network => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{snapshots, SyntheticOptions};

    fn pictures() -> (Vec<crate::snapshot::NodeSnapshot>, Graph) {
        let s = snapshots(&SyntheticOptions {
            hosts: 1,
            containers: 6,
            hostile_names: false,
        });
        let g = crate::graph::build(&s);
        (s, g)
    }

    #[test]
    fn counters_alone_are_no_change_and_an_mtu_is_one() {
        let (mut s, before) = pictures();
        for ns in &mut s[0].namespaces {
            for l in &mut ns.links {
                if let Some(st) = l.stats.as_mut() {
                    st.rx_packets += 1000;
                }
            }
        }
        s[0].taken_at = "2030-01-01T00:00:00.000Z".into();
        let counted = crate::graph::build(&s);
        assert!(!differ(&before, &counted), "counters and times never count");

        let link = s[0].namespaces[0]
            .links
            .iter_mut()
            .find(|l| l.name == "docker0")
            .expect("docker0");
        link.mtu = 1400;
        let after = crate::graph::build(&s);
        assert!(differ(&before, &after));
        let (list, total) = list(&before, &after, 10);
        assert_eq!(total, 1, "{list:?}");
        assert_eq!(list[0].change, "changed");
        assert!(list[0].id.ends_with("/host/docker0"), "{list:?}");
        assert!(list[0].what.contains("mtu 1500 → 1400"), "{list:?}");
    }

    #[test]
    fn the_walk_over_unequal_elements_lists_what_the_whole_diff_lists() {
        let (mut s, before) = pictures();
        let e = s[0].engine.as_mut().expect("engine");
        e.containers.remove(1);
        s[0].namespaces[0].links[0].mtu = 1280;
        let mut extra = s[0].namespaces[1].clone();
        extra.id.ino += 1_000_000;
        extra.name = "added-ns".into();
        s[0].namespaces.push(extra);
        let after = crate::graph::derive(&mut s);
        let (fast, total) = list(&before, &after, 1000);
        assert!(total > 3, "{fast:?}");
        assert_eq!(
            (fast, total),
            listed(diff::graph::elements(&before, &after), 1000)
        );
        // Out of order (no build gives that), the whole diff answers.
        let mut reversed = before.clone();
        reversed.elements.reverse();
        assert_eq!(
            list(&reversed, &after, 1000),
            listed(diff::graph::elements(&reversed, &after), 1000)
        );
    }

    #[test]
    fn a_container_gone_is_listed_first_among_its_wiring() {
        let (mut s, before) = pictures();
        let e = s[0].engine.as_mut().expect("engine");
        let gone = e.containers.remove(0).name;
        let after = crate::graph::build(&s);
        let (list, _) = list(&before, &after, 3);
        assert_eq!(list[0].change, "removed");
        assert_eq!(list[0].label, gone, "{list:?}");
    }
}
