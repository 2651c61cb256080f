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
    let all = diff::graph::elements(old, new);
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
