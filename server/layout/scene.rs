//! A positioned picture: boxes, nodes and routed edges on an integer grid.

use serde::Serialize;

use crate::graph::{EdgeKind, ElementKind};

/// The laid-out picture of one view of a graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scene {
    /// Total width in pixels.
    pub width: i32,
    /// Total height in pixels.
    pub height: i32,
    /// Every visible element, compound boxes first (outer before inner), then leaves; each group by id.
    pub nodes: Vec<SceneNode>,
    /// Every visible edge, by id.
    pub edges: Vec<SceneEdge>,
}

/// A rectangle on the grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rect {
    /// Left.
    pub x: i32,
    /// Top.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> i32 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }
    /// Vertical centre.
    pub fn cy(&self) -> i32 {
        self.y + self.h / 2
    }
    /// Horizontal centre.
    pub fn cx(&self) -> i32 {
        self.x + self.w / 2
    }
}

/// One visible element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneNode {
    /// The element id.
    pub id: String,
    /// Its kind.
    pub kind: ElementKind,
    /// CSS-ish style tokens besides the kind (`t-veth`, `r-overlay`, `down`), space-separated.
    pub style: String,
    /// First line (hostile: text only).
    pub label: String,
    /// Second line, may be empty.
    pub sub: String,
    /// What an open namespace or a network says far out, where what it holds is not legible:
    /// its counts, what is wrong first, ` · ` between lines (empty for other nodes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub card: String,
    /// Where.
    #[serde(flatten)]
    pub rect: Rect,
    /// Drawn as a container of other nodes (open host or namespace).
    pub compound: bool,
    /// How many elements are folded into it (0: none; it can then not be unfolded).
    pub folded: usize,
    /// Whether it is an element the user can fold (an open host, namespace or container).
    pub foldable: bool,
}

/// One visible edge (possibly several graph edges merged between folded ends).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneEdge {
    /// The first merged graph edge's id.
    pub id: String,
    /// What it means.
    pub kind: EdgeKind,
    /// Visible source node id.
    pub source: String,
    /// Visible target node id.
    pub target: String,
    /// How many graph edges it stands for.
    pub count: usize,
    /// An overlay tunnel of an encrypted network (IPsec): drawn apart from plain VXLAN.
    #[serde(default)]
    pub encrypted: bool,
    /// Cubic Béziers end to end: the start, then control 1, control 2 and end of each.
    pub path: Vec<i32>,
}
