//! Which node a snapshot is of: the strongest unique identity it records, never the hostname.
//!
//! Cloned VMs and cloud images share hostnames (`ubuntu`, `localhost`), and engines run in network
//! namespaces of one machine share its hostname too; keying nodes by hostname draws such nodes as
//! one. A swarm node ID is unique within its swarm, an engine ID within the engines of a data root,
//! a machine ID within a fleet that was not cloned carelessly: in that order of preference.

use serde::{Deserialize, Serialize};

use super::NodeSnapshot;

/// How many characters of an identity the short form (the host part of element IDs) keeps:
/// as Docker's short IDs, long enough that two nodes of one cluster never share it by chance.
pub const SHORT_LEN: usize = 12;

/// What a node's identity was taken from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// The engine's `Swarm.NodeID`.
    Swarm,
    /// The engine's ID (`docker info` ID).
    Engine,
    /// A hash of `/etc/machine-id` (the raw ID is confidential: it is never recorded).
    Machine,
    /// Nothing unique was recorded (snapshots from before dockmap recorded identities, hand-made
    /// ones): the hostname stands in, as it always did.
    Hostname,
}

impl IdentityKind {
    /// The word for it, as the host panel and messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Swarm => "swarm node ID",
            IdentityKind::Engine => "engine ID",
            IdentityKind::Machine => "machine ID",
            IdentityKind::Hostname => "hostname",
        }
    }
}

/// A node's identity: the kind and its value, normalised (lower-case letters, digits and `-`
/// only, so it is safe inside element IDs and URLs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// What it was taken from.
    pub kind: IdentityKind,
    /// The normalised value (for [`IdentityKind::Hostname`], the hostname as it is).
    pub value: String,
}

impl NodeId {
    /// The identity of a snapshot: the one recorded at collection, else derived from the engine
    /// facts and machine ID it holds, else its hostname.
    pub fn of(snap: &NodeSnapshot) -> NodeId {
        if let Some(id) = parse(&snap.node.node_id) {
            return id;
        }
        let engine = snap.engine.as_ref();
        derive(
            engine.map_or("", |e| e.swarm.node_id.as_str()),
            engine.map_or("", |e| e.id.as_str()),
            &snap.node.machine_id,
        )
        .unwrap_or_else(|| NodeId::hostname(&snap.node.hostname))
    }

    /// The identity of a node known only by its hostname.
    pub fn hostname(hostname: &str) -> NodeId {
        NodeId {
            kind: IdentityKind::Hostname,
            value: if hostname.is_empty() {
                "unknown".to_owned()
            } else {
                hostname.to_owned()
            },
        }
    }

    /// The identity of a swarm node known by its node ID (from a manager's node list).
    pub fn swarm(node_id: &str) -> Option<NodeId> {
        derive(node_id, "", "")
    }

    /// The short form: the host part of element IDs.
    pub fn short(&self) -> String {
        match self.kind {
            IdentityKind::Hostname => self.value.clone(),
            _ => self.value.chars().take(SHORT_LEN).collect(),
        }
    }

    /// The full form, as recorded in a snapshot (`swarm:…`, `engine:…`, `machine:…`).
    pub fn recorded(&self) -> String {
        let kind = match self.kind {
            IdentityKind::Swarm => "swarm",
            IdentityKind::Engine => "engine",
            IdentityKind::Machine => "machine",
            IdentityKind::Hostname => "hostname",
        };
        format!("{kind}:{}", self.value)
    }
}

/// The strongest of the identities given (each may be empty).
pub fn derive(swarm_node_id: &str, engine_id: &str, machine_id: &str) -> Option<NodeId> {
    [
        (IdentityKind::Swarm, swarm_node_id),
        (IdentityKind::Engine, engine_id),
        (IdentityKind::Machine, machine_id),
    ]
    .into_iter()
    .find_map(|(kind, raw)| {
        let value = normalise(raw);
        (!value.is_empty()).then_some(NodeId { kind, value })
    })
}

impl NodeId {
    /// Parse a recorded identity (`swarm:…`); `None` for an empty or unknown one.
    pub fn parse(recorded: &str) -> Option<NodeId> {
        parse(recorded)
    }
}

fn parse(recorded: &str) -> Option<NodeId> {
    let (kind, raw) = recorded.split_once(':')?;
    let kind = match kind {
        "swarm" => IdentityKind::Swarm,
        "engine" => IdentityKind::Engine,
        "machine" => IdentityKind::Machine,
        _ => return None,
    };
    let value = normalise(raw);
    (!value.is_empty()).then_some(NodeId { kind, value })
}

/// Lower-case letters, digits and `-` only: a 20.10 engine ID `F4IH:BYFY:…` loses its colons, a
/// newer engine's UUID keeps its dashes, and nothing can break out of an element ID or a URL.
fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{EngineFacts, NodeIdentity};

    fn snap(swarm: &str, engine: &str, machine: &str, host: &str) -> NodeSnapshot {
        NodeSnapshot {
            node: NodeIdentity {
                hostname: host.into(),
                machine_id: machine.into(),
                ..Default::default()
            },
            engine: (!swarm.is_empty() || !engine.is_empty()).then(|| {
                let mut e = EngineFacts {
                    id: engine.into(),
                    ..Default::default()
                };
                e.swarm.node_id = swarm.into();
                e
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_strongest_identity_wins_and_the_hostname_is_the_last_resort() {
        let s = snap(
            "s4czfr4551slwd73q7qt0941k",
            "F4IH:BYFY:VOJD:MKRH:G56H:OWUF:2OTX:QIYI:4PUN:KT4F:SJ5G:YXWA",
            "0a1b",
            "vm",
        );
        assert_eq!(NodeId::of(&s).kind, IdentityKind::Swarm);
        assert_eq!(NodeId::of(&s).short(), "s4czfr4551sl");

        let s = snap(
            "",
            "F4IH:BYFY:VOJD:MKRH:G56H:OWUF:2OTX:QIYI:4PUN:KT4F:SJ5G:YXWA",
            "0a1b",
            "vm",
        );
        assert_eq!(NodeId::of(&s).kind, IdentityKind::Engine);
        assert_eq!(NodeId::of(&s).short(), "f4ihbyfyvojd");

        let s = snap("", "", "0a1b2c", "vm");
        assert_eq!(
            NodeId::of(&s),
            NodeId {
                kind: IdentityKind::Machine,
                value: "0a1b2c".into()
            }
        );

        let s = snap("", "", "", "vm");
        assert_eq!(NodeId::of(&s), NodeId::hostname("vm"));
        assert_eq!(NodeId::of(&s).short(), "vm");
        assert_eq!(NodeId::of(&snap("", "", "", "")).short(), "unknown");
    }

    #[test]
    fn a_recorded_identity_is_used_as_recorded() {
        // An engine that was down at collection: the identity remembered from earlier in the boot.
        let mut s = snap("", "", "0a1b2c", "vm");
        s.node.node_id = "swarm:s4czfr4551slwd73q7qt0941k".into();
        let id = NodeId::of(&s);
        assert_eq!(id.kind, IdentityKind::Swarm);
        assert_eq!(id.recorded(), "swarm:s4czfr4551slwd73q7qt0941k");
        // Unknown kinds and empty values are ignored, not trusted.
        s.node.node_id = "planet:earth".into();
        assert_eq!(NodeId::of(&s).kind, IdentityKind::Machine);
        s.node.node_id = "swarm:::".into();
        assert_eq!(NodeId::of(&s).kind, IdentityKind::Machine);
    }
}
