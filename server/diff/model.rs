//! The diff's vocabulary: what was added, removed and changed between two snapshots.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{EdgeKind, ElementKind, Severity};

/// Schema identifier of the diff JSON.
pub const DIFF_SCHEMA: &str = "dockmap.diff/1";

/// Everything that differs from snapshot A to snapshot B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// Always [`DIFF_SCHEMA`].
    pub schema: String,
    /// The older side (what "removed" and "old" refer to).
    pub a: SideSummary,
    /// The newer side (what "added" and "new" refer to).
    pub b: SideSummary,
    /// Nothing differs (noise aside).
    pub equal: bool,
    /// How many of each.
    pub counts: Counts,
    /// Elements added, removed or changed, by change then id.
    pub elements: Vec<ElementChange>,
    /// Edges added, removed or changed, by change then id.
    pub edges: Vec<EdgeChange>,
    /// Firewall chains whose rules or policy differ, by node, namespace, family, table, chain.
    pub firewall: Vec<ChainChange>,
    /// Findings that appeared, went away or changed severity, by change then id.
    pub findings: Vec<FindingChange>,
    /// What is never compared, in words (it changes with every collection).
    pub ignored: Vec<String>,
    /// Nodes one side has no snapshot of (they did not answer): what is on them is not listed as
    /// added or removed, since it could not be seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<UnseenNode>,
}

/// A node one side could not see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnseenNode {
    /// The node's name.
    pub node: String,
    /// `a` or `b`.
    pub side: String,
    /// Why, as the cluster snapshot says (`unreachable`, `unauthorized`, and its error).
    pub why: String,
}

/// One side of the diff, in brief.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    /// When it was taken (the newest node snapshot).
    pub taken_at: String,
    /// Its node names.
    pub nodes: Vec<String>,
    /// Element count of its graph.
    pub elements: usize,
    /// Edge count of its graph.
    pub edges: usize,
}

/// Counts per kind of change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Elements only in B.
    pub elements_added: usize,
    /// Elements only in A.
    pub elements_removed: usize,
    /// Elements in both whose attributes differ.
    pub elements_changed: usize,
    /// Edges only in B.
    pub edges_added: usize,
    /// Edges only in A.
    pub edges_removed: usize,
    /// Edges in both whose attributes differ.
    pub edges_changed: usize,
    /// Firewall chains that differ.
    pub chains_changed: usize,
    /// Rules only in B.
    pub rules_added: usize,
    /// Rules only in A.
    pub rules_removed: usize,
    /// Findings only in B.
    pub findings_added: usize,
    /// Findings only in A.
    pub findings_removed: usize,
    /// Findings in both with another severity.
    pub findings_changed: usize,
}

/// What happened to a thing between A and B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    /// In both, different.
    Changed,
}

impl Change {
    /// The word for it (`added`, `removed`, `changed`): also the CSS class on the drawing.
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// An element that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementChange {
    /// Its stable id.
    pub id: String,
    /// What it is.
    pub kind: ElementKind,
    /// Its label (B's, or A's when removed; hostile: text only).
    pub label: String,
    /// Added, removed or changed.
    pub change: Change,
    /// The element it sits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The element it belongs under when listed: a sandbox's container, else its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under: Option<String>,
    /// For a changed element, what changed; for an added (removed) one, every attribute it has
    /// (had), as `new` (`old`).
    pub attrs: Vec<AttrChange>,
}

/// One attribute that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    /// The attribute, dotted into objects (`vxlan.learning`, `options.com.docker.network.mtu`).
    pub name: String,
    /// A's value (absent: A had none); for lists, see `added` and `removed` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// B's value (absent: B has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// For a list: the items only B holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<Value>,
    /// For a list: the items only A held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Value>,
}

/// An edge that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeChange {
    /// Its stable id.
    pub id: String,
    /// What it means.
    pub kind: EdgeKind,
    /// One end's element id.
    pub source: String,
    /// Other end's element id.
    pub target: String,
    /// Added, removed or changed.
    pub change: Change,
    /// As for elements.
    pub attrs: Vec<AttrChange>,
}

/// One firewall chain of one namespace whose rules or policy differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainChange {
    /// The node (host name).
    pub node: String,
    /// The namespace's name on that node.
    pub namespace: String,
    /// The namespace's element id (to find it on the drawing).
    pub netns: String,
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// filter, nat, mangle, raw, security.
    pub table: String,
    /// The chain.
    pub chain: String,
    /// Added (only in B), removed (only in A) or changed.
    pub change: Change,
    /// A's policy, for built-in chains, when it differs from B's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_policy: Option<String>,
    /// B's policy, when it differs from A's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_policy: Option<String>,
    /// Rules only B holds, as iptables-save prints them, in B's order.
    pub added: Vec<String>,
    /// Rules only A held, in A's order.
    pub removed: Vec<String>,
    /// The same rules, in another order (it matters: the first match wins).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reordered: bool,
}

/// A finding that appeared, went away, or changed severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChange {
    /// Its stable id.
    pub id: String,
    /// Machine-readable kind.
    pub code: String,
    /// Added, removed or changed (severity).
    pub change: Change,
    /// Its severity (B's, or A's when removed).
    pub severity: Severity,
    /// A's severity, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_severity: Option<Severity>,
    /// In words (B's, or A's when removed).
    pub message: String,
    /// The elements it concerns.
    pub elements: Vec<String>,
}
