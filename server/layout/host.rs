//! Inside one open host: sandboxes in rows on the left, then the overlay
//! namespaces, then the host namespace, so a packet's way reads left to right:
//! container → its eth0 → veth peer → bridge → uplink / vxlan.

use std::collections::BTreeSet;

use super::fx::FxMap;

use crate::graph::ElementKind;

use super::fold::Folding;
use super::index::{GraphIndex, NsPlace};
use super::scene::Rect;

/// Padding inside a box.
pub const PAD: i32 = 14;
/// Height of a host box's title.
pub const HOST_HEAD: i32 = 38;
/// Height of a namespace box's title.
pub const NS_HEAD: i32 = 24;
/// Container node size.
pub const CTR_W: i32 = 210;
/// Container node height.
pub const CTR_H: i32 = 40;
/// Interface node size.
pub const IF_W: i32 = 156;
/// Interface node height.
pub const IF_H: i32 = 34;
/// Network node size.
pub const NET_W: i32 = 180;
/// Network node height.
pub const NET_H: i32 = 34;
/// A folded namespace's size.
pub const LEAF_W: i32 = 184;
/// A folded namespace's height.
pub const LEAF_H: i32 = 40;
/// Vertical gap between stacked nodes.
pub const GAP: i32 = 6;
/// Vertical gap between sandbox rows.
pub const ROW_GAP: i32 = 10;
/// Between a container and its namespace.
const COL_GAP: i32 = 26;
/// Room for the wires between columns.
const WIRE_GAP: i32 = 120;
/// Between the sub-columns of an infrastructure namespace.
const SUB_GAP: i32 = 60;
/// A group's folded containers are laid in a grid of about this many lines...
const GRID_ROWS: usize = 30;
/// ...and at most this many columns.
const GRID_MAX_COLS: usize = 6;
/// Between grid columns.
const GRID_GAP: i32 = 12;
/// Width of an open sandbox namespace box.
const SBX_W: i32 = IF_W + 2 * PAD;

/// Positions collected while placing (absolute once the host's origin is added).
#[derive(Default)]
pub struct Placed<'g> {
    /// Where each visible element is.
    pub rects: FxMap<&'g str, Rect>,
    /// Elements drawn as boxes holding others.
    pub compound: BTreeSet<&'g str>,
}

impl<'g> Placed<'g> {
    fn put(&mut self, id: &'g str, r: Rect) {
        self.rects.insert(id, r);
    }

    /// Move everything placed since `from` (a snapshot of keys) by (dx, dy).
    pub fn shift(&mut self, ids: &[&'g str], dx: i32, dy: i32) {
        for id in ids {
            if let Some(r) = self.rects.get_mut(id) {
                r.x += dx;
                r.y += dy;
            }
        }
    }
}

struct Row<'g> {
    key: (usize, &'g str, &'g str),
    ctrs: Vec<&'g str>,
    ns: Option<&'g str>,
}

/// Places one open host's content with its top-left at (0, 0); returns the host's size and what it placed.
pub fn place_host<'g>(
    ix: &GraphIndex<'g>,
    f: &Folding<'g>,
    host: &'g str,
    out: &mut Placed<'g>,
) -> (i32, i32, Vec<&'g str>) {
    let mut placed_ids: Vec<&'g str> = Vec::new();
    let kids = ix.kids(host);
    let netns: Vec<&'g str> = kids
        .iter()
        .copied()
        .filter(|k| ix.get(k).is_some_and(|e| e.kind == ElementKind::Netns))
        .collect();
    let overlays: Vec<&'g str> = netns
        .iter()
        .copied()
        .filter(|n| ix.ns_place(n) == NsPlace::Overlay)
        .collect();
    let host_ns: Vec<&'g str> = netns
        .iter()
        .copied()
        .filter(|n| ix.ns_place(n) == NsPlace::Host)
        .collect();
    let infra_rank = |ns: &str| -> usize {
        if let Some(i) = overlays.iter().position(|o| *o == ns) {
            return i;
        }
        if let Some(i) = host_ns.iter().position(|o| *o == ns) {
            return 10_000 + i;
        }
        20_000
    };

    // Sandbox rows, grouped by the bridge their first interface's peer hangs on.
    let mut rows: Vec<Row> = Vec::new();
    let mut in_rows: BTreeSet<&str> = BTreeSet::new();
    for &ns in netns.iter().filter(|n| ix.ns_place(n) == NsPlace::Sandbox) {
        let ctrs: Vec<&str> = ix
            .sandbox_ctrs
            .get(ns)
            .map(|v| v.iter().copied().filter(|c| f.visible(c)).collect())
            .unwrap_or_default();
        let ns_vis = f.visible(ns);
        if ctrs.is_empty() && !ns_vis {
            continue;
        }
        in_rows.extend(ctrs.iter().copied());
        let label = ctrs
            .first()
            .and_then(|c| ix.get(c))
            .or_else(|| ix.get(ns))
            .map(|e| e.label.as_str())
            .unwrap_or("");
        let (rank, bridge) = group_of(ix, host, ns, &infra_rank);
        rows.push(Row {
            key: (rank, bridge, label),
            ctrs,
            ns: ns_vis.then_some(ns),
        });
    }
    for &c in kids
        .iter()
        .filter(|k| ix.get(k).is_some_and(|e| e.kind == ElementKind::Container) && f.visible(k))
    {
        if in_rows.contains(c) {
            continue;
        }
        let label = ix.get(c).map(|e| e.label.as_str()).unwrap_or("");
        rows.push(Row {
            key: (30_000, "", label),
            ctrs: vec![c],
            ns: None,
        });
    }
    rows.sort_by(|a, b| {
        a.key
            .cmp(&b.key)
            .then_with(|| a.ctrs.first().cmp(&b.ctrs.first()))
            .then_with(|| a.ns.cmp(&b.ns))
    });

    // Rows of one group (same bridge) that are a single folded container go in a grid: nothing
    // else is drawn per container then, so a column of hundreds would only make the host tall.
    let is_single = |r: &Row| r.ns.is_none() && r.ctrs.len() == 1;
    let mut groups: Vec<(Vec<&Row>, Vec<&'g str>)> = Vec::new();
    let mut current: Option<(usize, &str)> = None;
    for row in &rows {
        let key = (row.key.0, row.key.1);
        if current != Some(key) {
            groups.push((Vec::new(), Vec::new()));
            current = Some(key);
        }
        if let Some((open, grid)) = groups.last_mut() {
            if is_single(row) {
                grid.push(row.ctrs[0]);
            } else {
                open.push(row);
            }
        }
    }
    let cols_for = |n: usize| n.div_ceil(GRID_ROWS).clamp(1, GRID_MAX_COLS) as i32;
    let grid_w = groups
        .iter()
        .map(|(_, g)| cols_for(g.len()) * (CTR_W + GRID_GAP) - GRID_GAP)
        .max()
        .unwrap_or(0);
    let has_ctr_col = rows.iter().any(|r| !r.ctrs.is_empty());
    let has_sbx_col = rows.iter().any(|r| r.ns.is_some());
    let x_ctr = PAD;
    let x_sbx = if has_ctr_col {
        x_ctr + CTR_W + COL_GAP
    } else {
        PAD
    };
    let rows_right = if has_sbx_col {
        x_sbx + SBX_W.max(LEAF_W)
    } else if has_ctr_col {
        x_ctr + CTR_W
    } else {
        0
    }
    .max(if grid_w > 0 { x_ctr + grid_w } else { 0 });
    let top = HOST_HEAD + PAD;
    let mut y = top;
    let mut bottom = top;
    for (open, grid) in &groups {
        for row in open {
            let mut cy = y;
            for &c in &row.ctrs {
                out.put(
                    c,
                    Rect {
                        x: x_ctr,
                        y: cy,
                        w: CTR_W,
                        h: CTR_H,
                    },
                );
                placed_ids.push(c);
                cy += CTR_H + GAP;
            }
            let mut row_h = (cy - y - GAP).max(0);
            if let Some(ns) = row.ns {
                let h = place_sandbox_ns(ix, f, ns, x_sbx, y, out, &mut placed_ids);
                row_h = row_h.max(h);
            }
            y += row_h + ROW_GAP;
        }
        if !grid.is_empty() {
            let cols = cols_for(grid.len()) as usize;
            for (i, &c) in grid.iter().enumerate() {
                let (col, line) = ((i % cols) as i32, (i / cols) as i32);
                out.put(
                    c,
                    Rect {
                        x: x_ctr + col * (CTR_W + GRID_GAP),
                        y: y + line * (CTR_H + GAP),
                        w: CTR_W,
                        h: CTR_H,
                    },
                );
                placed_ids.push(c);
            }
            y += grid.len().div_ceil(cols) as i32 * (CTR_H + GAP) - GAP + ROW_GAP * 2;
        }
        bottom = bottom.max(y);
    }

    // Infrastructure namespaces: overlays stacked in one column, the host namespace right of them.
    let mut x = if rows.is_empty() {
        PAD
    } else {
        rows_right + WIRE_GAP
    };
    let mut right = rows_right;
    let mut floor = top;
    let mut col_right = x;
    let overlays_vis: Vec<&str> = overlays.iter().copied().filter(|n| f.visible(n)).collect();
    for ns in &overlays_vis {
        let r = place_infra_ns(ix, f, host, ns, x, floor, out, &mut placed_ids);
        floor = r.bottom() + ROW_GAP * 2;
        col_right = col_right.max(r.right());
        bottom = bottom.max(r.bottom() + ROW_GAP);
    }
    if !overlays_vis.is_empty() {
        right = right.max(col_right);
        x = col_right + WIRE_GAP;
    }
    let mut floor = top;
    col_right = x;
    for ns in host_ns.iter().filter(|n| f.visible(n)) {
        let r = place_infra_ns(ix, f, host, ns, x, floor, out, &mut placed_ids);
        floor = r.bottom() + ROW_GAP * 2;
        col_right = col_right.max(r.right());
        bottom = bottom.max(r.bottom() + ROW_GAP);
        right = right.max(col_right);
    }

    // Networks of this host that no visible bridge carries (host, none, or folded carriers).
    let loose: Vec<&str> = ix
        .of_kind(ElementKind::Network)
        .iter()
        .copied()
        .filter(|id| {
            f.visible(id) && !out.rects.contains_key(*id) && ix.network_home(id) == Some(host)
        })
        .collect();
    if !loose.is_empty() {
        let x = right + 40;
        let mut y = top;
        for n in loose {
            out.put(
                n,
                Rect {
                    x,
                    y,
                    w: NET_W,
                    h: NET_H,
                },
            );
            placed_ids.push(n);
            y += NET_H + GAP;
        }
        right = x + NET_W;
        bottom = bottom.max(y);
    }

    let w = (right + PAD).max(320);
    let h = (bottom + PAD - ROW_GAP).max(HOST_HEAD + 60);
    (w, h, placed_ids)
}

/// The group a sandbox row belongs to: (rank of the namespace its first peer is in, that peer's bridge).
fn group_of<'g>(
    ix: &GraphIndex<'g>,
    host: &str,
    ns: &str,
    infra_rank: &dyn Fn(&str) -> usize,
) -> (usize, &'g str) {
    let mut ifaces: Vec<&'g str> = ix
        .kids(ns)
        .iter()
        .copied()
        .filter(|i| ix.if_type(i) != "loopback")
        .collect();
    ifaces.sort_by_key(|i| (ix.get(i).map(|e| e.label.as_str()), *i));
    for i in ifaces {
        let Some(p) = ix.peer.get(i) else { continue };
        let Some(pns) = ix.get(p).and_then(|e| e.parent.as_deref()) else {
            continue;
        };
        if ix.host_of(pns) != Some(host) || ix.ns_place(pns) == NsPlace::Sandbox {
            continue;
        }
        let bridge = ix.master.get(p).copied().unwrap_or(p);
        return (infra_rank(pns), bridge);
    }
    (20_000, "")
}

/// An open sandbox namespace: interfaces stacked in a box; returns its height.
fn place_sandbox_ns<'g>(
    ix: &GraphIndex<'g>,
    f: &Folding<'g>,
    ns: &'g str,
    x: i32,
    y: i32,
    out: &mut Placed<'g>,
    placed: &mut Vec<&'g str>,
) -> i32 {
    placed.push(ns);
    if f.folded.contains(ns) {
        out.put(
            ns,
            Rect {
                x,
                y,
                w: LEAF_W,
                h: LEAF_H,
            },
        );
        return LEAF_H;
    }
    let mut ifaces: Vec<&'g str> = ix
        .kids(ns)
        .iter()
        .copied()
        .filter(|i| f.visible(i))
        .collect();
    ifaces.sort_by_key(|i| (ix.get(i).map(|e| e.label.as_str()), *i));
    let mut cy = y + NS_HEAD;
    for i in &ifaces {
        out.put(
            i,
            Rect {
                x: x + PAD,
                y: cy,
                w: IF_W,
                h: IF_H,
            },
        );
        placed.push(i);
        cy += IF_H + GAP;
    }
    let h = (cy - GAP + 8 - y).max(NS_HEAD + 8);
    out.put(ns, Rect { x, y, w: SBX_W, h });
    out.compound.insert(ns);
    h
}

/// Pack items top-down: each at its wished top if free, else right below the previous.
fn pack(items: &mut [(Option<i32>, i32, i32)], floor: i32) {
    let mut cursor = floor;
    for it in items.iter_mut() {
        let y = it.0.map_or(cursor, |d| d.max(cursor));
        it.2 = y;
        cursor = y + it.1 + GAP;
    }
}

/// An infrastructure namespace (host or overlay): ports | bridges (with their networks) | uplinks.
#[allow(clippy::too_many_arguments)]
fn place_infra_ns<'g>(
    ix: &GraphIndex<'g>,
    f: &Folding<'g>,
    host: &str,
    ns: &'g str,
    x: i32,
    floor: i32,
    out: &mut Placed<'g>,
    placed: &mut Vec<&'g str>,
) -> Rect {
    placed.push(ns);
    let wish_of = |id: &str, out: &Placed| -> Option<i32> {
        let p = ix.peer.get(id)?;
        let r = f.rep.get(p)?;
        out.rects.get(r).map(Rect::cy)
    };
    if f.folded.contains(ns) {
        // Where its interfaces' peers are, on average.
        let wishes: Vec<i32> = ix.kids(ns).iter().filter_map(|i| wish_of(i, out)).collect();
        let y = if wishes.is_empty() {
            floor
        } else {
            (wishes.iter().sum::<i32>() / wishes.len() as i32 - LEAF_H / 2).max(floor)
        };
        let r = Rect {
            x,
            y,
            w: LEAF_W,
            h: LEAF_H,
        };
        out.put(ns, r);
        return r;
    }
    let ifaces: Vec<&'g str> = ix
        .kids(ns)
        .iter()
        .copied()
        .filter(|i| f.visible(i))
        .collect();
    let inner = floor + NS_HEAD;

    // Ports: veths, each level with its peer.
    let mut ports: Vec<(&str, Option<i32>)> = ifaces
        .iter()
        .copied()
        .filter(|i| ix.if_type(i) == "veth")
        .map(|i| (i, wish_of(i, out)))
        .collect();
    ports.sort_by_key(|(id, w)| (w.unwrap_or(i32::MAX), *id));
    let mut items: Vec<(Option<i32>, i32, i32)> = ports
        .iter()
        .map(|(_, w)| (w.map(|c| c - IF_H / 2), IF_H, 0))
        .collect();
    pack(&mut items, inner);
    let x_ports = x + PAD;
    for ((id, _), it) in ports.iter().zip(&items) {
        out.put(
            id,
            Rect {
                x: x_ports,
                y: it.2,
                w: IF_W,
                h: IF_H,
            },
        );
        placed.push(id);
    }

    // Bridges, each at the middle of its ports, with the networks it carries below it.
    let x_br = if ports.is_empty() {
        x_ports
    } else {
        x_ports + IF_W + SUB_GAP
    };
    let mut bridges: Vec<(&str, Option<i32>, Vec<&str>)> = ifaces
        .iter()
        .copied()
        .filter(|i| ix.if_type(i) == "bridge")
        .map(|b| {
            // Midway between the first and the last thing wired to it, as drawn (a port, or
            // the container a port is folded into).
            let ys: Vec<i32> = ix
                .kids(ns)
                .iter()
                .filter(|p| ix.master.get(*p) == Some(&b))
                .filter_map(|p| f.rep.get(p))
                .filter(|r| ix.get(r).is_some_and(|e| e.kind != ElementKind::Netns))
                .filter_map(|r| out.rects.get(r).map(Rect::cy))
                .collect();
            let wish = match (ys.iter().min(), ys.iter().max()) {
                (Some(lo), Some(hi)) => Some((lo + hi) / 2),
                _ => None,
            };
            let nets: Vec<&str> = ix
                .carried
                .get(b)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|n| f.visible(n) && ix.network_home(n) == Some(host))
                        .collect()
                })
                .unwrap_or_default();
            (b, wish, nets)
        })
        .collect();
    bridges.sort_by_key(|(id, w, _)| (w.unwrap_or(i32::MAX), *id));
    let mut items: Vec<(Option<i32>, i32, i32)> = bridges
        .iter()
        .map(|(_, w, nets)| {
            let h = IF_H + nets.len() as i32 * (NET_H + GAP);
            (w.map(|c| c - IF_H / 2), h, 0)
        })
        .collect();
    pack(&mut items, inner);
    let mut br_w = 0;
    for ((id, _, nets), it) in bridges.iter().zip(&items) {
        out.put(
            id,
            Rect {
                x: x_br,
                y: it.2,
                w: IF_W,
                h: IF_H,
            },
        );
        placed.push(id);
        br_w = br_w.max(IF_W);
        let mut ny = it.2 + IF_H + GAP;
        for n in nets {
            out.put(
                n,
                Rect {
                    x: x_br + 12,
                    y: ny,
                    w: NET_W,
                    h: NET_H,
                },
            );
            placed.push(n);
            br_w = br_w.max(12 + NET_W);
            ny += NET_H + GAP;
        }
    }

    // Everything else: the uplink at the top, a vxlan level with its bridge, the rest below.
    let x_oth = if bridges.is_empty() {
        x_br
    } else {
        x_br + br_w + SUB_GAP
    };
    let first_top = out
        .rects
        .iter()
        .filter(|(id, _)| ports.iter().any(|p| p.0 == **id) || bridges.iter().any(|b| b.0 == **id))
        .map(|(_, r)| r.y)
        .min();
    let type_rank = |t: &str| match t {
        "physical" => 0,
        "vxlan" => 1,
        "other" => 2,
        _ => 3,
    };
    let mut others: Vec<(&str, Option<i32>)> = ifaces
        .iter()
        .copied()
        .filter(|i| !matches!(ix.if_type(i), "veth" | "bridge"))
        .map(|i| {
            let wish = match ix.if_type(i) {
                "physical" => first_top.map(|t| t + IF_H / 2),
                _ => ix
                    .master
                    .get(i)
                    .and_then(|m| out.rects.get(m))
                    .map(Rect::cy),
            };
            (i, wish)
        })
        .collect();
    others.sort_by_key(|(id, w)| (w.unwrap_or(i32::MAX), type_rank(ix.if_type(id)), *id));
    let mut items: Vec<(Option<i32>, i32, i32)> = others
        .iter()
        .map(|(_, w)| (w.map(|c| c - IF_H / 2), IF_H, 0))
        .collect();
    pack(&mut items, inner);
    for ((id, _), it) in others.iter().zip(&items) {
        out.put(
            id,
            Rect {
                x: x_oth,
                y: it.2,
                w: IF_W,
                h: IF_H,
            },
        );
        placed.push(id);
    }

    let content_right = if others.is_empty() {
        if bridges.is_empty() {
            x_ports + IF_W
        } else {
            x_br + br_w
        }
    } else {
        x_oth + IF_W
    };
    let tops = items
        .iter()
        .map(|i| i.2)
        .chain(ifaces.iter().filter_map(|i| out.rects.get(i).map(|r| r.y)))
        .min()
        .unwrap_or(inner);
    let bottoms = ifaces
        .iter()
        .chain(bridges.iter().flat_map(|b| b.2.iter()))
        .filter_map(|i| out.rects.get(i).map(Rect::bottom))
        .max()
        .unwrap_or(inner);
    let top = (tops - NS_HEAD).max(floor);
    let r = Rect {
        x,
        y: top,
        w: content_right + PAD - x,
        h: bottoms + 10 - top,
    };
    out.put(ns, r);
    out.compound.insert(ns);
    r
}
