//! The SVG writer: a scene in, SVG text out, every string escaped.
//!
//! Styling is by class only (no inline style attributes, which the page's
//! Content-Security-Policy would refuse), so the same markup takes the light
//! and the dark theme, and the exporter inlines `map.css` to make a file that
//! stands alone.
//!
//! Semantic zoom: besides its labels at their reading size, a host, a namespace, a container, a
//! network, a service or a task carries its name once more in a larger `far` text, and a
//! folded host is a card with its counts. The page's pan and zoom (`panzoom.js`) says on the
//! stage how far out it is (`data-zoom`); `map.css` then shows the texts legible at that scale
//! and hides the rest, so names appear as they become legible with no new drawing.

pub mod escape;

use std::collections::HashSet;
use std::fmt::Write;

use crate::graph::{EdgeKind, ElementKind};
use crate::layout::text;
use crate::layout::{Rect, Scene, SceneEdge, SceneNode};

pub use escape::escape;

/// Write the scene as an `<svg>` element (no XML prolog: it is inlined into the page, or fetched and swapped in).
pub fn svg(scene: &Scene) -> String {
    let mut out = String::with_capacity(256 * (scene.nodes.len() + scene.edges.len()) + 512);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="map" class="map" viewBox="0 0 {w} {h}" width="{w}" height="{h}" data-w="{w}" data-h="{h}"><g id="vp">"#,
        w = scene.width,
        h = scene.height
    );
    out.push_str(r#"<g class="boxes">"#);
    for n in scene.nodes.iter().filter(|n| n.compound) {
        node(&mut out, n);
    }
    out.push_str(r#"</g><g class="edges">"#);
    // Far out an open namespace is a card with its counts: its interfaces are not drawn, nor
    // the wires that end on them.
    let ifaces: HashSet<&str> = scene
        .nodes
        .iter()
        .filter(|n| n.kind == ElementKind::Interface)
        .map(|n| n.id.as_str())
        .collect();
    for e in &scene.edges {
        let near = ifaces.contains(e.source.as_str()) || ifaces.contains(e.target.as_str());
        edge(&mut out, e, near);
    }
    out.push_str(r#"</g><g class="leaves">"#);
    for n in scene.nodes.iter().filter(|n| !n.compound) {
        node(&mut out, n);
    }
    out.push_str("</g></g></svg>");
    out
}

/// The CSS class of an element kind.
pub fn kind_class(k: ElementKind) -> &'static str {
    match k {
        ElementKind::Host => "k-host",
        ElementKind::Netns => "k-netns",
        ElementKind::Container => "k-container",
        ElementKind::Interface => "k-interface",
        ElementKind::Network => "k-network",
        ElementKind::Service => "k-service",
        ElementKind::Task => "k-task",
        ElementKind::Remote => "k-remote",
    }
}

/// One node: its group, its shape, its texts and its fold toggles.
fn node(out: &mut String, n: &SceneNode) {
    let r = n.rect;
    let _ = write!(
        out,
        r#"<g class="{}" data-id="{}">"#,
        node_class(n),
        escape(&n.id)
    );
    // Containers hold only their own namespace: unfolded from the panel or by a double click,
    // which spares four SVG elements on each of thousands of containers.
    let marks = n.folded > 0 && !n.compound && n.kind != ElementKind::Container;
    if marks {
        stack_card(out, &r);
    }
    shape(out, n, &r);
    if n.kind == ElementKind::Host && !n.compound {
        card(out, n, &r);
    } else if n.compound {
        box_texts(out, n, &r);
    } else {
        leaf_texts(out, n, &r);
    }
    if marks {
        open_toggle(out, &r);
    }
    out.push_str("</g>");
}

/// A node's classes: its kind, its style tokens, and whether it is a box or folded.
fn node_class(n: &SceneNode) -> String {
    let mut class = format!("n {}", kind_class(n.kind));
    if !n.style.is_empty() {
        class.push(' ');
        class.push_str(&n.style);
    }
    if n.compound {
        class.push_str(" box");
    }
    if n.folded > 0 {
        class.push_str(" folded");
    }
    class
}

/// A card behind the card: "there is more in here".
fn stack_card(out: &mut String, r: &Rect) {
    let _ = write!(
        out,
        r#"<rect class="stack" x="{}" y="{}" width="{}" height="{}" rx="6"/>"#,
        r.x + 4,
        r.y + 4,
        r.w,
        r.h
    );
}

/// An open box's header texts and, when it folds, its shut toggle.
fn box_texts(out: &mut String, n: &SceneNode, r: &Rect) {
    let (ly, sy, lclass) = if n.kind == ElementKind::Host {
        (r.y + 17, r.y + 31, "h")
    } else {
        (r.y + 16, 0, "hn")
    };
    let _ = write!(
        out,
        r#"<text class="{lclass}" x="{}" y="{ly}">{}</text>"#,
        r.x + 10,
        escape(&n.label)
    );
    if sy > 0 && !n.sub.is_empty() {
        let _ = write!(
            out,
            r#"<text class="s" x="{}" y="{sy}">{}</text>"#,
            r.x + 10,
            escape(&n.sub)
        );
    }
    if n.kind == ElementKind::Host {
        far(out, &n.label, (r.x + 10, r.y + 38), r.w - 40, Far::Host);
    } else {
        far(out, &n.label, (r.x + 8, r.y + 21), r.w - 24, Far::Name);
        // Under the name, a count a line, as many as the box holds; kept to the width of its
        // first column, where a bridge's networks never are.
        let lines = ((r.h - 30) / FAR_LINE).max(0) as usize;
        for (i, line) in n.card.split(" · ").take(lines).enumerate() {
            counts(
                out,
                line,
                (r.x + 8, r.y + 21 + FAR_LINE * (i as i32 + 1)),
                r.w.min(216) - 16,
            );
        }
    }
    if n.foldable {
        // The sign is a stroke, not text: thousands of one-glyph texts cost the browser a
        // text layout each, a path almost nothing.
        let _ = write!(
            out,
            r#"<g class="tog" data-act="shut"><rect x="{}" y="{}" width="18" height="18" rx="4"/><path d="M{} {}h8"/></g>"#,
            r.right() - 24,
            r.y + 4,
            r.right() - 19,
            r.y + 13
        );
    }
}

/// A leaf's label, its second line when it has one, and its far name.
fn leaf_texts(out: &mut String, n: &SceneNode, r: &Rect) {
    let two = !n.sub.is_empty();
    let ly = if two { r.y + 15 } else { r.y + r.h / 2 + 4 };
    let _ = write!(
        out,
        r#"<text x="{}" y="{ly}">{}</text>"#,
        r.x + 9,
        escape(&n.label)
    );
    if two {
        let _ = write!(
            out,
            r#"<text class="s" x="{}" y="{}">{}</text>"#,
            r.x + 9,
            r.y + 28,
            escape(&n.sub)
        );
    }
    if n.kind == ElementKind::Network {
        // Close up its count is a third line; far out its name and count are its card.
        let _ = write!(
            out,
            r#"<text class="s" x="{}" y="{}">{}</text>"#,
            r.x + 9,
            r.y + 42,
            escape(&n.card)
        );
        far(out, &n.label, (r.x + 9, r.y + 24), r.w - 9, Far::Name);
        counts(out, &n.card, (r.x + 9, r.y + 24 + FAR_LINE), r.w - 9);
    } else if n.kind != ElementKind::Interface {
        far(out, &n.label, (r.x + 9, r.y + r.h / 2 + 8), r.w, Far::Name);
    }
}

/// The toggle that opens a folded node.
fn open_toggle(out: &mut String, r: &Rect) {
    let _ = write!(
        out,
        r#"<g class="tog" data-act="open"><rect x="{}" y="{}" width="18" height="18" rx="4"/><path d="M{} {}h8m-4 -4v8"/></g>"#,
        r.right() - 22,
        r.y + 4,
        r.right() - 17,
        r.y + 13
    );
}

/// The stage's height the page opens on, in CSS px: a 1600×1000 window's, under the toolbar.
const STAGE_H: f64 = 790.0;

/// The zoom level (`data-zoom`, named and judged as `panzoom.js` does) a picture `width` ×
/// `height` opens at, fitted to a stage of `aspect` (width / height): the page is drawn at that
/// level from its first frame, rather than laying out every text its script then hides.
pub fn opening_zoom(width: i32, height: i32, aspect: f64) -> &'static str {
    let k =
        (STAGE_H * aspect / f64::from(width.max(1))).min(STAGE_H / f64::from(height.max(1))) * 0.97;
    match k {
        k if 10.0 * k >= 9.0 => "close",
        k if 12.0 * k >= 9.0 => "near",
        k if 22.0 * k >= 9.0 => "mid",
        _ => "far",
    }
}

/// The larger names of the semantic zoom, with their sizes in map.css.
#[derive(Clone, Copy)]
enum Far {
    /// A namespace, container, network, service or task: 22 px, legible from 9 / 22 = 0.41
    /// times the drawing's size.
    Name,
    /// A host: 30 px, legible from 0.3 times.
    Host,
}

impl Far {
    fn px(self) -> i32 {
        match self {
            Far::Name => 22,
            Far::Host => 30,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Far::Name => "far",
            Far::Host => "far big",
        }
    }
}
/// From one far line to the next.
const FAR_LINE: i32 = 26;

/// A count on a namespace's or a network's card: as large as its name, in the muted colour.
fn counts(out: &mut String, line: &str, (x, y): (i32, i32), w: i32) {
    let _ = write!(
        out,
        r#"<text class="far cnt" x="{x}" y="{y}">{}</text>"#,
        escape(&fit_at(line, w, Far::Name.px()))
    );
}

/// A host card's name.
const CARD_PX: i32 = 20;
/// A host card's counts.
const CARD_COUNT_PX: i32 = 14;

/// A name in a larger font for far zoom levels, at (x, y), cut to `w` at that size.
fn far(out: &mut String, label: &str, (x, y): (i32, i32), w: i32, size: Far) {
    let _ = write!(
        out,
        r#"<text class="{}" x="{x}" y="{y}">{}</text>"#,
        size.class(),
        escape(&fit_at(label, w, size.px()))
    );
}

/// `label` cut to what fits `w` drawing units at `px` pixels (the layout cuts at 12 px).
fn fit_at(label: &str, w: i32, px: i32) -> String {
    text::fit(label, 14 + (w - 14).max(0) * 12 / px)
}

/// A folded host as a card: its name and what it holds, by kind, in type large enough to read
/// when ten hosts share the screen.
fn card(out: &mut String, n: &SceneNode, r: &Rect) {
    let _ = write!(
        out,
        r#"<text class="card" x="{}" y="{}">{}</text>"#,
        r.x + 12,
        r.y + 30,
        escape(&fit_at(&n.label, r.w - 30, CARD_PX))
    );
    // The counts ("12 containers · 40 interfaces · …"), three to a line.
    let parts: Vec<&str> = n.sub.split(" · ").filter(|p| !p.is_empty()).collect();
    for (i, line) in parts.chunks(3).take(2).enumerate() {
        let _ = write!(
            out,
            r#"<text class="card-n" x="{}" y="{}">{}</text>"#,
            r.x + 12,
            r.y + 56 + 22 * i as i32,
            escape(&fit_at(&line.join(" · "), r.w - 12, CARD_COUNT_PX))
        );
    }
}

fn shape(out: &mut String, n: &SceneNode, r: &Rect) {
    let (x, y, w, h) = (r.x, r.y, r.w, r.h);
    let poly = |out: &mut String, pts: &[(i32, i32)]| {
        out.push_str(r#"<polygon class="sh" points=""#);
        for (i, (px, py)) in pts.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{px},{py}");
        }
        out.push_str(r#""/>"#);
    };
    let rect = |out: &mut String, rx: i32| {
        let _ = write!(
            out,
            r#"<rect class="sh" x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}"/>"#
        );
    };
    match n.kind {
        ElementKind::Interface if n.style.starts_with("t-bridge") => rect(out, h / 2),
        ElementKind::Interface if n.style.starts_with("t-vxlan") => poly(
            out,
            &[
                (x + 10, y),
                (x + w - 10, y),
                (x + w, y + h / 2),
                (x + w - 10, y + h),
                (x + 10, y + h),
                (x, y + h / 2),
            ],
        ),
        ElementKind::Interface if n.style.starts_with("t-physical") => rect(out, 0),
        ElementKind::Interface => rect(out, 3),
        ElementKind::Network => poly(
            out,
            &[(x + 8, y), (x + w, y), (x + w - 8, y + h), (x, y + h)],
        ),
        ElementKind::Remote => poly(
            out,
            &[
                (x, y + h / 2),
                (x + 12, y),
                (x + w, y),
                (x + w, y + h),
                (x + 12, y + h),
            ],
        ),
        ElementKind::Container => rect(out, 8),
        ElementKind::Service => rect(out, 12),
        ElementKind::Host => rect(out, 10),
        ElementKind::Netns => rect(out, 6),
        ElementKind::Task => rect(out, 4),
    }
}

/// An edge; `near`: it ends on an interface, drawn only close up.
fn edge(out: &mut String, e: &SceneEdge, near: bool) {
    let weight = match e.count {
        0..=1 => "",
        2..=9 => " w2",
        _ => " w3",
    };
    let enc = if e.encrypted { " enc" } else { "" };
    let near = if near { " ei" } else { "" };
    let _ = write!(
        out,
        r#"<path class="e k-{}{weight}{enc}{near}" data-s="{}" data-t="{}" data-n="{}" d=""#,
        e.kind.as_str(),
        escape(&e.source),
        escape(&e.target),
        e.count,
    );
    path_data(out, &e.path);
    out.push_str(r#""/>"#);
}

/// A path's `d`: its start, then each cubic; one whose controls sit on its ends is a line
/// (`H`, `V` when it runs along an axis).
fn path_data(out: &mut String, p: &[i32]) {
    let [x, y, rest @ ..] = p else { return };
    let _ = write!(out, "M{x} {y}");
    let mut at = (*x, *y);
    for c in rest.chunks_exact(6) {
        let end = (c[4], c[5]);
        let _ = if (c[0], c[1]) != at || (c[2], c[3]) != end {
            write!(
                out,
                "C{} {} {} {} {} {}",
                c[0], c[1], c[2], c[3], end.0, end.1
            )
        } else if end.1 == at.1 {
            write!(out, "H{}", end.0)
        } else if end.0 == at.0 {
            write!(out, "V{}", end.1)
        } else {
            write!(out, "L{} {}", end.0, end.1)
        };
        at = end;
    }
}

/// Every edge kind with its class, for the legend.
pub const EDGE_KINDS: &[EdgeKind] = &[
    EdgeKind::VethPair,
    EdgeKind::BridgePort,
    EdgeKind::Sandbox,
    EdgeKind::Endpoint,
    EdgeKind::Fdb,
    EdgeKind::Carries,
    EdgeKind::Runs,
    EdgeKind::HasTask,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_zoom_follows_the_scale_a_picture_is_fitted_at() {
        // 790 px tall: a picture as tall is drawn at 0.97, one four times as tall at 0.24.
        assert_eq!(opening_zoom(800, 790, 2.0), "close");
        assert_eq!(opening_zoom(800, 950, 2.0), "near");
        assert_eq!(opening_zoom(800, 1500, 2.0), "mid");
        assert_eq!(opening_zoom(800, 4 * 790, 2.0), "far");
        // The width counts on a narrow screen.
        assert_eq!(opening_zoom(3000, 790, 1.0), "far");
    }
}
