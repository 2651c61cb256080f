//! The nodes of one picture: the key each is drawn under (the host part of every element ID) and
//! the label people read, so that nodes sharing a hostname are never drawn as one.
//!
//! The key is the short form of the node's identity ([`NodeId`]): stable across reboots and
//! between snapshots. The label is the hostname, with the start of the key after `@` only where
//! several nodes of the picture share that hostname.

use std::collections::{BTreeMap, HashMap};

use crate::snapshot::{ClusterNode, ClusterSnapshot, IdentityKind, NodeId, NodeSnapshot};

/// How many characters of the key a shared hostname's label adds (`ubuntu@s4czfr`).
const LABEL_SUFFIX: usize = 6;
/// The shortest identity prefix a question may name a node by (as `docker node inspect` takes).
const MIN_PREFIX: usize = 4;

/// One node's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    /// The host part of the node's element IDs (`host:<key>`).
    pub key: String,
    /// What the picture and messages call it: unique within the picture.
    pub label: String,
    /// The hostname the node reported (or was given by a manager's node list).
    pub hostname: String,
    /// Its identity.
    pub id: NodeId,
}

/// Every node of a picture, named.
#[derive(Debug, Clone, Default)]
pub struct NodeNames {
    names: Vec<NodeName>,
    /// Address of the snapshot or cluster entry → index.
    by_addr: HashMap<usize, usize>,
}

/// Why a node named in a question could not be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeLookupError {
    /// No node goes by that name.
    #[error("no node named {query:?} in these snapshots (nodes: {})", known.join(", "))]
    Unknown {
        /// What was asked.
        query: String,
        /// The labels of every node.
        known: Vec<String>,
    },
    /// Several nodes go by that name (a shared hostname, a short prefix).
    #[error("{query:?} names {} nodes: {}; pick one by its label or node ID", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// What was asked.
        query: String,
        /// The labels of the nodes it names.
        candidates: Vec<String>,
    },
}

/// Nodes that share something that should be unique, for the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The shared value (a hostname, or an identity).
    pub value: String,
    /// The nodes sharing it.
    pub nodes: Vec<NodeName>,
}

impl NodeNames {
    /// Name the nodes of these snapshots.
    pub fn new(snapshots: &[&NodeSnapshot]) -> Self {
        let members = snapshots
            .iter()
            .map(|s| (addr(*s), NodeId::of(s), s.node.hostname.clone()))
            .collect();
        Self::assign(members)
    }

    /// Name every node of a cluster, also those that never answered (by the swarm node ID a
    /// manager gave, so a node keeps its key when it starts answering).
    pub fn of_cluster(cluster: &ClusterSnapshot) -> Self {
        let members = cluster
            .nodes
            .iter()
            .map(|n| match &n.snapshot {
                Some(s) => (addr(s), NodeId::of(s), s.node.hostname.clone()),
                None => (addr(n), silent_id(n), n.name.clone()),
            })
            .collect();
        Self::assign(members)
    }

    fn assign(members: Vec<(usize, NodeId, String)>) -> Self {
        let keys = keys(&members);
        let mut by_host: HashMap<&str, usize> = HashMap::new();
        for (_, _, h) in &members {
            *by_host.entry(h.as_str()).or_default() += 1;
        }
        let mut names = Vec::with_capacity(members.len());
        let mut by_addr = HashMap::new();
        for (i, ((a, id, hostname), key)) in members.iter().zip(keys).enumerate() {
            let shown = if hostname.is_empty() {
                "unknown"
            } else {
                hostname
            };
            let label = if by_host[hostname.as_str()] < 2 {
                shown.to_owned()
            } else if id.kind == IdentityKind::Hostname {
                key.clone()
            } else {
                format!(
                    "{shown}@{}",
                    key.chars().take(LABEL_SUFFIX).collect::<String>()
                )
            };
            by_addr.insert(*a, i);
            names.push(NodeName {
                key,
                label,
                hostname: hostname.clone(),
                id: id.clone(),
            });
        }
        // Six characters almost never clash; where they do, the whole key tells them apart.
        let mut count: HashMap<String, usize> = HashMap::new();
        for n in &names {
            *count.entry(n.label.clone()).or_default() += 1;
        }
        for n in &mut names {
            if count[&n.label] > 1 && n.id.kind != IdentityKind::Hostname {
                n.label = format!("{}@{}", n.hostname, n.key);
            }
        }
        NodeNames { names, by_addr }
    }

    /// The names of a cluster entry of the picture (by its snapshot when it has one).
    pub fn entry(&self, node: &ClusterNode) -> Option<&NodeName> {
        let i = match &node.snapshot {
            Some(s) => self.by_addr.get(&addr(s)),
            None => self.by_addr.get(&addr(node)),
        }?;
        self.names.get(*i)
    }

    /// The names of a snapshot of the picture.
    pub fn get(&self, snap: &NodeSnapshot) -> Option<&NodeName> {
        self.by_addr
            .get(&addr(snap))
            .and_then(|&i| self.names.get(i))
    }

    /// The key of a snapshot of the picture (`unknown` for one from elsewhere).
    pub fn key(&self, snap: &NodeSnapshot) -> &str {
        self.get(snap).map_or("unknown", |n| n.key.as_str())
    }

    /// The label of a snapshot of the picture (`unknown` for one from elsewhere).
    pub fn label(&self, snap: &NodeSnapshot) -> &str {
        self.get(snap).map_or("unknown", |n| n.label.as_str())
    }

    /// Every node, in the order given.
    pub fn all(&self) -> &[NodeName] {
        &self.names
    }

    /// The node a question names: its key, its label, its identity (whole, recorded as
    /// `swarm:…`, or a unique prefix of at least four characters), or a hostname no other node has.
    pub fn resolve(&self, query: &str) -> Result<&NodeName, NodeLookupError> {
        let q = query.trim();
        let exact: Vec<&NodeName> = self
            .names
            .iter()
            .filter(|n| n.key == q || n.label == q || n.id.value == q || n.id.recorded() == q)
            .collect();
        if let [one] = exact.as_slice() {
            return Ok(one);
        }
        let by_host: Vec<&NodeName> = self.names.iter().filter(|n| n.hostname == q).collect();
        match by_host.as_slice() {
            [one] => return Ok(one),
            [] => {}
            many => return Err(self.ambiguous(q, many)),
        }
        let lower = q.to_ascii_lowercase();
        let by_prefix: Vec<&NodeName> = self
            .names
            .iter()
            .filter(|n| {
                n.id.kind != IdentityKind::Hostname
                    && lower.len() >= MIN_PREFIX
                    && n.id.value.starts_with(&lower)
            })
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok(one),
            [] if exact.len() > 1 => Err(self.ambiguous(q, &exact)),
            [] => {
                let mut known: Vec<String> = self.names.iter().map(|n| n.label.clone()).collect();
                known.sort();
                Err(NodeLookupError::Unknown {
                    query: q.to_owned(),
                    known,
                })
            }
            many => Err(self.ambiguous(q, many)),
        }
    }

    fn ambiguous(&self, q: &str, many: &[&NodeName]) -> NodeLookupError {
        let mut candidates: Vec<String> = many.iter().map(|n| n.label.clone()).collect();
        candidates.sort();
        NodeLookupError::Ambiguous {
            query: q.to_owned(),
            candidates,
        }
    }

    /// Hostnames that several nodes report, with those nodes.
    pub fn shared_hostnames(&self) -> Vec<Shared> {
        shared_by(&self.names, |n| Some(n.hostname.clone()))
    }

    /// Identities that several snapshots claim (cloned machines, or one node saved twice).
    pub fn shared_identities(&self) -> Vec<Shared> {
        shared_by(&self.names, |n| {
            (n.id.kind != IdentityKind::Hostname).then(|| n.id.recorded())
        })
    }
}

/// The identity of a cluster entry without a snapshot: as the entry records it, else its name.
fn silent_id(n: &ClusterNode) -> NodeId {
    NodeId::parse(&n.identity).unwrap_or_else(|| NodeId::hostname(&n.name))
}

fn addr<T>(t: &T) -> usize {
    std::ptr::from_ref(t) as usize
}

/// The keys of the members, in their order: the short form of each identity; the whole identity
/// where two different identities share a short form; a `~2`, `~3` suffix where two members claim
/// the same identity, so that even then they are never drawn as one.
fn keys(members: &[(usize, NodeId, String)]) -> Vec<String> {
    let mut by_short: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (_, id, _)) in members.iter().enumerate() {
        by_short.entry(id.short()).or_default().push(i);
    }
    let mut keys: Vec<String> = members.iter().map(|(_, id, _)| id.short()).collect();
    for group in by_short.values().filter(|g| g.len() > 1) {
        let distinct: BTreeMap<&NodeId, Vec<usize>> =
            group.iter().fold(BTreeMap::new(), |mut m, &i| {
                m.entry(&members[i].1).or_insert_with(Vec::new).push(i);
                m
            });
        for (id, same) in distinct.iter() {
            let base = if distinct.len() > 1 {
                id.value.clone()
            } else {
                id.short()
            };
            for (n, &i) in same.iter().enumerate() {
                keys[i] = if n == 0 {
                    base.clone()
                } else {
                    format!("{base}~{}", n + 1)
                };
            }
        }
    }
    keys
}

fn shared_by(names: &[NodeName], value: impl Fn(&NodeName) -> Option<String>) -> Vec<Shared> {
    let mut groups: BTreeMap<String, Vec<NodeName>> = BTreeMap::new();
    for n in names {
        if let Some(v) = value(n) {
            groups.entry(v).or_default().push(n.clone());
        }
    }
    groups
        .into_iter()
        .filter(|(_, nodes)| nodes.len() > 1)
        .map(|(value, nodes)| Shared { value, nodes })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{EngineFacts, NodeIdentity};

    fn node(host: &str, swarm: &str) -> NodeSnapshot {
        let mut e = EngineFacts::default();
        e.swarm.node_id = swarm.into();
        NodeSnapshot {
            node: NodeIdentity {
                hostname: host.into(),
                ..Default::default()
            },
            engine: Some(e),
            ..Default::default()
        }
    }

    #[test]
    fn nodes_sharing_a_hostname_get_their_own_keys_and_told_apart_labels() {
        let a = node("ubuntu", "s4czfr4551slwd73q7qt0941k");
        let b = node("ubuntu", "x8j5y8w6k2aaaaaaaaaaaaaaa");
        let c = node("db", "q1w2e3r4t5y6u7i8o9p0aaaaa");
        let names = NodeNames::new(&[&a, &b, &c]);
        assert_eq!(names.key(&a), "s4czfr4551sl");
        assert_eq!(names.key(&b), "x8j5y8w6k2aa");
        assert_eq!(names.label(&a), "ubuntu@s4czfr");
        assert_eq!(names.label(&b), "ubuntu@x8j5y8");
        assert_eq!(names.label(&c), "db", "a unique hostname stays as it is");
        let shared = names.shared_hostnames();
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].value, "ubuntu");
        assert_eq!(shared[0].nodes.len(), 2);
        assert!(names.shared_identities().is_empty());
    }

    #[test]
    fn a_question_names_a_node_by_label_id_prefix_or_unique_hostname() {
        let a = node("ubuntu", "s4czfr4551slwd73q7qt0941k");
        let b = node("ubuntu", "x8j5y8w6k2aaaaaaaaaaaaaaa");
        let c = node("db", "q1w2e3r4t5y6u7i8o9p0aaaaa");
        let names = NodeNames::new(&[&a, &b, &c]);
        let pick = |q: &str| names.resolve(q).map(|n| n.key.clone());
        assert_eq!(pick("db").as_deref(), Ok("q1w2e3r4t5y6"));
        assert_eq!(pick("ubuntu@x8j5y8").as_deref(), Ok("x8j5y8w6k2aa"));
        assert_eq!(
            pick("s4czfr4551slwd73q7qt0941k").as_deref(),
            Ok("s4czfr4551sl")
        );
        assert_eq!(
            pick("swarm:s4czfr4551slwd73q7qt0941k").as_deref(),
            Ok("s4czfr4551sl")
        );
        assert_eq!(pick("s4cz").as_deref(), Ok("s4czfr4551sl"));
        assert_eq!(pick("S4CZFR").as_deref(), Ok("s4czfr4551sl"));
        match names.resolve("ubuntu") {
            Err(NodeLookupError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, vec!["ubuntu@s4czfr", "ubuntu@x8j5y8"])
            }
            other => panic!("a shared hostname must be ambiguous, got {other:?}"),
        }
        let err = names.resolve("nowhere").expect_err("unknown");
        assert!(err.to_string().contains("ubuntu@s4czfr"), "{err}");
        assert!(
            names.resolve("s4c").is_err(),
            "three characters are too few"
        );
    }

    #[test]
    fn cloned_identities_are_still_drawn_apart() {
        let a = node("vm", "samesamesamesamesamesame1");
        let b = node("vm", "samesamesamesamesamesame1");
        let names = NodeNames::new(&[&a, &b]);
        assert_eq!(names.key(&a), "samesamesame");
        assert_eq!(names.key(&b), "samesamesame~2");
        assert_ne!(names.label(&a), names.label(&b));
        assert_eq!(names.shared_identities().len(), 1);
    }

    #[test]
    fn different_identities_that_share_a_short_form_use_the_whole_identity() {
        let a = node("a", "abcdefghijkl0000000000001");
        let b = node("b", "abcdefghijkl0000000000002");
        let names = NodeNames::new(&[&a, &b]);
        assert_eq!(names.key(&a), "abcdefghijkl0000000000001");
        assert_eq!(names.key(&b), "abcdefghijkl0000000000002");
    }

    #[test]
    fn snapshots_without_identity_keep_their_hostname_keys() {
        let mut a = node("n1", "");
        a.engine = None;
        let names = NodeNames::new(&[&a]);
        assert_eq!(names.key(&a), "n1");
        assert_eq!(names.label(&a), "n1");
    }

    #[test]
    fn a_snapshot_saved_before_identities_were_recorded_is_keyed_by_its_engine_facts() {
        // As dockmap wrote it before: no node_id, no machine_id.
        let old = r#"{"schema": "dockmap.node-snapshot/1", "taken_at": "2026-11-26T01:00:00.000Z",
            "duration_ms": 1, "node": {"hostname": "vm", "kernel": "6.1", "dockmap_version": "0.1.0"},
            "sources": [], "namespaces": [],
            "engine": {"id": "F4IH:BYFY:VOJD:MKRH", "name": "vm", "version": "20.10.24",
              "api_version": "1.41", "root_dir": "/var/lib/docker",
              "swarm": {"local_state": "active", "node_id": "s4czfr4551slwd73q7qt0941k",
                        "is_manager": true},
              "containers": [], "networks": [], "services": [], "tasks": [], "nodes": []}}"#;
        let snap: NodeSnapshot = serde_json::from_str(old).expect("an old snapshot still reads");
        let names = NodeNames::new(&[&snap]);
        assert_eq!(names.key(&snap), "s4czfr4551sl");
        assert_eq!(names.label(&snap), "vm");
        let mut no_engine = snap.clone();
        no_engine.engine = None;
        assert_eq!(NodeNames::new(&[&no_engine]).key(&no_engine), "vm");
    }
}
