//! Inside one open host: sandboxes in rows on the left, then the overlay
//! namespaces, then the host namespace, so a packet's way reads left to right:
//! container → its eth0 → veth peer → bridge → uplink / vxlan.

use std::collections::BTreeSet;

use super::fx::FxMap;

use crate::graph::{ElementKind, InterfaceType};

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
/// Network node size (far out its card's count, `12 endpoints`, is legible in it).
pub const NET_W: i32 = 200;
/// Network node height: three lines close up, its name and count far out.
pub const NET_H: i32 = 56;
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
/// Between a bridge and the networks it carries.
const NET_GAP: i32 = 24;
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

/// Where a sandbox row's group goes, top to bottom: by the infrastructure namespace its first
/// interface's peer is in (overlays first, then the host's own), then rows wired to nothing known,
/// then containers whose namespace has no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// Peers in the n-th overlay namespace of the host.
    Overlay(usize),
    /// Peers in the n-th host namespace.
    HostNs(usize),
    /// No peer in an infrastructure namespace of this host.
    Unwired,
    /// A container drawn without its namespace.
    Loose,
}

/// One row of the sandbox columns: containers and, when drawn, their namespace.
struct Row<'g> {
    /// Sort key: group (rank, bridge), then label.
    key: (Rank, &'g str, &'g str),
    ctrs: Vec<&'g str>,
    ns: Option<&'g str>,
}

impl Row<'_> {
    /// A folded container alone: goes in its group's grid.
    fn is_single(&self) -> bool {
        self.ns.is_none() && self.ctrs.len() == 1
    }
}

/// Rows of one group (same rank and bridge): those drawn open, and the single folded
/// containers laid in a grid (nothing else is drawn per container then, so a column of
/// hundreds would only make the host tall).
struct Group<'r, 'g> {
    open: Vec<&'r Row<'g>>,
    grid: Vec<&'g str>,
}

/// The left columns: containers, then their namespaces.
struct Columns {
    x_ctr: i32,
    x_sbx: i32,
    /// Right edge of the rows (0 when there are none).
    right: i32,
}

/// Columns of a folded-container grid of `n`.
fn grid_cols(n: usize) -> i32 {
    n.div_ceil(GRID_ROWS).clamp(1, GRID_MAX_COLS) as i32
}

impl Columns {
    fn for_rows(rows: &[Row], groups: &[Group]) -> Self {
        let grid_w = groups
            .iter()
            .map(|g| grid_cols(g.grid.len()) * (CTR_W + GRID_GAP) - GRID_GAP)
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
        let right = if has_sbx_col {
            x_sbx + SBX_W.max(LEAF_W)
        } else if has_ctr_col {
            x_ctr + CTR_W
        } else {
            0
        }
        .max(if grid_w > 0 { x_ctr + grid_w } else { 0 });
        Columns {
            x_ctr,
            x_sbx,
            right,
        }
    }
}

/// Pack items top-down: each at its wished top if free, else right below the previous.
/// Items are (wished top, height); returns each one's top.
fn pack(items: &[(Option<i32>, i32)], floor: i32) -> Vec<i32> {
    let mut cursor = floor;
    items
        .iter()
        .map(|&(wish, h)| {
            let y = wish.map_or(cursor, |d| d.max(cursor));
            cursor = y + h + GAP;
            y
        })
        .collect()
}

/// The wished top of a node of height `h` centred on `cy`.
fn top_for(cy: Option<i32>, h: i32) -> Option<i32> {
    cy.map(|c| c - h / 2)
}

/// Where the uplink, vxlan, other and loopback interfaces go among equal wishes.
fn type_rank(t: InterfaceType) -> u8 {
    match t {
        InterfaceType::Physical => 0,
        InterfaceType::Vxlan => 1,
        InterfaceType::Other => 2,
        InterfaceType::Veth | InterfaceType::Bridge | InterfaceType::Loopback => 3,
    }
}

/// Places one open host's content with its top-left at (0, 0); returns the host's size and what it placed.
pub fn place_host<'g>(
    ix: &GraphIndex<'g>,
    f: &Folding<'g>,
    host: &'g str,
    out: &mut Placed<'g>,
) -> (i32, i32, Vec<&'g str>) {
    let mut p = HostPlacer {
        ix,
        f,
        host,
        out,
        placed: Vec::new(),
    };
    let (w, h) = p.place();
    (w, h, p.placed)
}

/// Lays out one open host: what it reads, where it writes, and what it has placed so far.
struct HostPlacer<'a, 'g> {
    ix: &'a GraphIndex<'g>,
    f: &'a Folding<'g>,
    host: &'g str,
    out: &'a mut Placed<'g>,
    /// Everything placed, in placing order.
    placed: Vec<&'g str>,
}

impl<'g> HostPlacer<'_, 'g> {
    fn put(&mut self, id: &'g str, r: Rect) {
        self.out.put(id, r);
        self.placed.push(id);
    }

    /// Sandbox rows on the left, then the overlay namespaces, then the host namespace, then
    /// networks nothing visible carries; returns the host's size.
    fn place(&mut self) -> (i32, i32) {
        let ix = self.ix;
        let netns: Vec<&'g str> = ix
            .kids(self.host)
            .iter()
            .copied()
            .filter(|k| ix.get(k).is_some_and(|e| e.kind == ElementKind::Netns))
            .collect();
        let of_place = |place: NsPlace| -> Vec<&'g str> {
            netns
                .iter()
                .copied()
                .filter(|n| ix.ns_place(n) == place)
                .collect()
        };
        let overlays = of_place(NsPlace::Overlay);
        let host_ns = of_place(NsPlace::Host);
        let rank = |ns: &str| -> Rank {
            if let Some(i) = overlays.iter().position(|o| *o == ns) {
                Rank::Overlay(i)
            } else if let Some(i) = host_ns.iter().position(|o| *o == ns) {
                Rank::HostNs(i)
            } else {
                Rank::Unwired
            }
        };

        let rows = self.rows(&of_place(NsPlace::Sandbox), &rank);
        let groups = group_rows(&rows);
        let cols = Columns::for_rows(&rows, &groups);
        let top = HOST_HEAD + PAD;
        let mut bottom = self.place_rows(&groups, &cols, top);

        // Infrastructure namespaces: overlays stacked in one column, the host namespace right of them.
        let mut x = if rows.is_empty() {
            PAD
        } else {
            cols.right + WIRE_GAP
        };
        let mut right = cols.right;
        for column in [overlays, host_ns] {
            let shown: Vec<&'g str> = column.into_iter().filter(|n| self.f.visible(n)).collect();
            if shown.is_empty() {
                continue;
            }
            let (col_right, col_bottom) = self.place_infra_column(&shown, x, top);
            right = right.max(col_right);
            bottom = bottom.max(col_bottom);
            x = col_right + WIRE_GAP;
        }

        if let Some((loose_right, loose_bottom)) = self.place_loose_networks(right + 40, top) {
            right = loose_right;
            bottom = bottom.max(loose_bottom);
        }

        let w = (right + PAD).max(320);
        let h = (bottom + PAD - ROW_GAP).max(HOST_HEAD + 60);
        (w, h)
    }

    /// Sandbox rows, grouped by the bridge their first interface's peer hangs on, then the
    /// visible containers no row holds; sorted.
    fn rows(&self, sandboxes: &[&'g str], rank: &dyn Fn(&str) -> Rank) -> Vec<Row<'g>> {
        let (ix, f) = (self.ix, self.f);
        let mut rows: Vec<Row> = Vec::new();
        let mut in_rows: BTreeSet<&str> = BTreeSet::new();
        for &ns in sandboxes {
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
            let (rank, bridge) = self.group_of(ns, rank);
            rows.push(Row {
                key: (rank, bridge, label),
                ctrs,
                ns: ns_vis.then_some(ns),
            });
        }
        for &c in ix
            .kids(self.host)
            .iter()
            .filter(|k| ix.get(k).is_some_and(|e| e.kind == ElementKind::Container) && f.visible(k))
        {
            if in_rows.contains(c) {
                continue;
            }
            let label = ix.get(c).map(|e| e.label.as_str()).unwrap_or("");
            rows.push(Row {
                key: (Rank::Loose, "", label),
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
        rows
    }

    /// The group a sandbox row belongs to: (rank of the namespace its first peer is in, that peer's bridge).
    fn group_of(&self, ns: &str, rank: &dyn Fn(&str) -> Rank) -> (Rank, &'g str) {
        let ix = self.ix;
        let mut ifaces: Vec<&'g str> = ix
            .kids(ns)
            .iter()
            .copied()
            .filter(|i| ix.if_type(i) != InterfaceType::Loopback)
            .collect();
        ifaces.sort_by_key(|i| (ix.get(i).map(|e| e.label.as_str()), *i));
        for i in ifaces {
            let Some(p) = ix.peer.get(i) else { continue };
            let Some(pns) = ix.get(p).and_then(|e| e.parent.as_deref()) else {
                continue;
            };
            if ix.host_of(pns) != Some(self.host) || ix.ns_place(pns) == NsPlace::Sandbox {
                continue;
            }
            let bridge = ix.master.get(p).copied().unwrap_or(p);
            return (rank(pns), bridge);
        }
        (Rank::Unwired, "")
    }

    /// Every group's open rows, then its grid; returns the bottom reached.
    fn place_rows(&mut self, groups: &[Group<'_, 'g>], cols: &Columns, top: i32) -> i32 {
        let mut y = top;
        let mut bottom = top;
        for g in groups {
            for row in &g.open {
                y += self.place_row(row, cols, y) + ROW_GAP;
            }
            if !g.grid.is_empty() {
                y += self.place_grid(&g.grid, cols.x_ctr, y);
            }
            bottom = bottom.max(y);
        }
        bottom
    }

    /// A row's containers stacked, its namespace beside them; returns the row's height.
    fn place_row(&mut self, row: &Row<'g>, cols: &Columns, y: i32) -> i32 {
        let mut cy = y;
        for &c in &row.ctrs {
            self.put(
                c,
                Rect {
                    x: cols.x_ctr,
                    y: cy,
                    w: CTR_W,
                    h: CTR_H,
                },
            );
            cy += CTR_H + GAP;
        }
        let mut row_h = (cy - y - GAP).max(0);
        if let Some(ns) = row.ns {
            row_h = row_h.max(self.place_sandbox_ns(ns, cols.x_sbx, y));
        }
        row_h
    }

    /// Folded containers in a grid; returns how far down the next row starts.
    fn place_grid(&mut self, grid: &[&'g str], x: i32, y: i32) -> i32 {
        let cols = grid_cols(grid.len()) as usize;
        for (i, &c) in grid.iter().enumerate() {
            let (col, line) = ((i % cols) as i32, (i / cols) as i32);
            self.put(
                c,
                Rect {
                    x: x + col * (CTR_W + GRID_GAP),
                    y: y + line * (CTR_H + GAP),
                    w: CTR_W,
                    h: CTR_H,
                },
            );
        }
        grid.len().div_ceil(cols) as i32 * (CTR_H + GAP) - GAP + ROW_GAP * 2
    }

    /// An open sandbox namespace: interfaces stacked in a box; returns its height.
    fn place_sandbox_ns(&mut self, ns: &'g str, x: i32, y: i32) -> i32 {
        self.placed.push(ns);
        if self.f.folded.contains(ns) {
            self.out.put(
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
        let mut ifaces = self.visible_kids(ns);
        ifaces.sort_by_key(|i| (self.ix.get(i).map(|e| e.label.as_str()), *i));
        let mut cy = y + NS_HEAD;
        for i in ifaces {
            self.put(
                i,
                Rect {
                    x: x + PAD,
                    y: cy,
                    w: IF_W,
                    h: IF_H,
                },
            );
            cy += IF_H + GAP;
        }
        let h = (cy - GAP + 8 - y).max(NS_HEAD + 8);
        self.out.put(ns, Rect { x, y, w: SBX_W, h });
        self.out.compound.insert(ns);
        h
    }

    /// Infrastructure namespaces stacked in one column at `x`; returns its right and bottom.
    fn place_infra_column(&mut self, column: &[&'g str], x: i32, top: i32) -> (i32, i32) {
        let mut floor = top;
        let mut right = x;
        let mut bottom = top;
        for &ns in column {
            let r = self.place_infra_ns(ns, x, floor);
            floor = r.bottom() + ROW_GAP * 2;
            right = right.max(r.right());
            bottom = bottom.max(r.bottom() + ROW_GAP);
        }
        (right, bottom)
    }

    /// Networks of this host that no visible bridge carries (host, none, or folded carriers),
    /// stacked at `x`; returns their right and bottom, if there are any.
    fn place_loose_networks(&mut self, x: i32, top: i32) -> Option<(i32, i32)> {
        let (ix, f) = (self.ix, self.f);
        let loose: Vec<&'g str> = ix
            .of_kind(ElementKind::Network)
            .iter()
            .copied()
            .filter(|id| {
                f.visible(id)
                    && !self.out.rects.contains_key(*id)
                    && ix.network_home(id) == Some(self.host)
            })
            .collect();
        if loose.is_empty() {
            return None;
        }
        let mut y = top;
        for n in loose {
            self.put(
                n,
                Rect {
                    x,
                    y,
                    w: NET_W,
                    h: NET_H,
                },
            );
            y += NET_H + GAP;
        }
        Some((x + NET_W, y))
    }

    fn visible_kids(&self, id: &str) -> Vec<&'g str> {
        self.ix
            .kids(id)
            .iter()
            .copied()
            .filter(|i| self.f.visible(i))
            .collect()
    }

    /// The middle of what a veth's peer is drawn as, if it is drawn yet.
    fn peer_cy(&self, id: &str) -> Option<i32> {
        let p = self.ix.peer.get(id)?;
        let r = self.f.rep.get(p)?;
        self.out.rects.get(r).map(Rect::cy)
    }

    /// An infrastructure namespace (host or overlay): ports | bridges (with their networks) | the rest.
    fn place_infra_ns(&mut self, ns: &'g str, x: i32, floor: i32) -> Rect {
        self.placed.push(ns);
        if self.f.folded.contains(ns) {
            return self.place_folded_infra(ns, x, floor);
        }
        let ifaces = self.visible_kids(ns);
        let inner = floor + NS_HEAD;
        let x_ports = x + PAD;
        let ports = self.place_ports(&ifaces, x_ports, inner);
        let x_br = if ports.is_empty() {
            x_ports
        } else {
            x_ports + IF_W + SUB_GAP
        };
        let (bridges, br_w) = self.place_bridges(ns, &ifaces, x_br, inner);
        let x_oth = if bridges.is_empty() {
            x_br
        } else {
            x_br + br_w + SUB_GAP
        };
        let wired: Vec<&str> = ports
            .iter()
            .copied()
            .chain(bridges.iter().map(|b| b.0))
            .collect();
        let others = self.place_others(&ifaces, &wired, x_oth, inner);

        let content_right = if others > 0 {
            x_oth + IF_W
        } else if !bridges.is_empty() {
            x_br + br_w
        } else {
            x_ports + IF_W
        };
        let rects = &self.out.rects;
        let tops = ifaces
            .iter()
            .filter_map(|i| rects.get(i).map(|r| r.y))
            .min()
            .unwrap_or(inner);
        let bottoms = ifaces
            .iter()
            .chain(bridges.iter().flat_map(|b| b.1.iter()))
            .filter_map(|i| rects.get(i).map(Rect::bottom))
            .max()
            .unwrap_or(inner);
        let top = (tops - NS_HEAD).max(floor);
        let r = Rect {
            x,
            y: top,
            w: content_right + PAD - x,
            h: bottoms + 10 - top,
        };
        self.out.put(ns, r);
        self.out.compound.insert(ns);
        r
    }

    /// A folded infrastructure namespace: where its interfaces' peers are, on average.
    fn place_folded_infra(&mut self, ns: &'g str, x: i32, floor: i32) -> Rect {
        let wishes: Vec<i32> = self
            .ix
            .kids(ns)
            .iter()
            .filter_map(|i| self.peer_cy(i))
            .collect();
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
        self.out.put(ns, r);
        r
    }

    /// Interfaces in one column at `x`, each as near its wished middle as the ones above allow.
    fn stack(&mut self, ifaces: &[(&'g str, Option<i32>)], x: i32, inner: i32) {
        let items: Vec<(Option<i32>, i32)> = ifaces
            .iter()
            .map(|(_, w)| (top_for(*w, IF_H), IF_H))
            .collect();
        for ((id, _), y) in ifaces.iter().zip(pack(&items, inner)) {
            self.put(
                id,
                Rect {
                    x,
                    y,
                    w: IF_W,
                    h: IF_H,
                },
            );
        }
    }

    /// Ports: veths, each level with its peer; returns them.
    fn place_ports(&mut self, ifaces: &[&'g str], x: i32, inner: i32) -> Vec<&'g str> {
        let mut ports: Vec<(&'g str, Option<i32>)> = ifaces
            .iter()
            .copied()
            .filter(|i| self.ix.if_type(i) == InterfaceType::Veth)
            .map(|i| (i, self.peer_cy(i)))
            .collect();
        ports.sort_by_key(|(id, w)| (w.unwrap_or(i32::MAX), *id));
        self.stack(&ports, x, inner);
        ports.into_iter().map(|(id, _)| id).collect()
    }

    /// Bridges, each at the middle of its ports, with the networks it carries beside it (a
    /// network's card is taller than a bridge: under it they made every host namespace tall);
    /// returns them with their networks, and the width they take.
    fn place_bridges(
        &mut self,
        ns: &str,
        ifaces: &[&'g str],
        x: i32,
        inner: i32,
    ) -> (Vec<(&'g str, Vec<&'g str>)>, i32) {
        let mut bridges: Vec<(&'g str, Option<i32>, Vec<&'g str>)> = ifaces
            .iter()
            .copied()
            .filter(|i| self.ix.if_type(i) == InterfaceType::Bridge)
            .map(|b| (b, self.bridge_cy(ns, b), self.carried_here(b)))
            .collect();
        bridges.sort_by_key(|(id, w, _)| (w.unwrap_or(i32::MAX), *id));
        let items: Vec<(Option<i32>, i32)> = bridges
            .iter()
            .map(|(_, w, nets)| {
                let beside = nets.len() as i32 * (NET_H + GAP) - GAP;
                (top_for(*w, IF_H), IF_H.max(beside))
            })
            .collect();
        let mut width = 0;
        for ((id, _, nets), y) in bridges.iter().zip(pack(&items, inner)) {
            self.put(
                id,
                Rect {
                    x,
                    y,
                    w: IF_W,
                    h: IF_H,
                },
            );
            width = width.max(IF_W);
            let mut ny = y;
            for n in nets {
                self.put(
                    n,
                    Rect {
                        x: x + IF_W + NET_GAP,
                        y: ny,
                        w: NET_W,
                        h: NET_H,
                    },
                );
                width = width.max(IF_W + NET_GAP + NET_W);
                ny += NET_H + GAP;
            }
        }
        let bridges = bridges
            .into_iter()
            .map(|(id, _, nets)| (id, nets))
            .collect();
        (bridges, width)
    }

    /// Midway between the first and the last thing wired to a bridge, as drawn (a port, or the
    /// container a port is folded into).
    fn bridge_cy(&self, ns: &str, bridge: &str) -> Option<i32> {
        let ix = self.ix;
        let ys: Vec<i32> = ix
            .kids(ns)
            .iter()
            .filter(|p| ix.master.get(*p) == Some(&bridge))
            .filter_map(|p| self.f.rep.get(p))
            .filter(|r| ix.get(r).is_some_and(|e| e.kind != ElementKind::Netns))
            .filter_map(|r| self.out.rects.get(r).map(Rect::cy))
            .collect();
        match (ys.iter().min(), ys.iter().max()) {
            (Some(lo), Some(hi)) => Some((lo + hi) / 2),
            _ => None,
        }
    }

    /// The visible networks of this host a bridge carries.
    fn carried_here(&self, bridge: &str) -> Vec<&'g str> {
        self.ix
            .carried
            .get(bridge)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|n| self.f.visible(n) && self.ix.network_home(n) == Some(self.host))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything else: the uplink level with the topmost port or bridge (`wired`), a vxlan
    /// level with its bridge, the rest below; returns how many.
    fn place_others(&mut self, ifaces: &[&'g str], wired: &[&str], x: i32, inner: i32) -> usize {
        let ix = self.ix;
        let first_top = wired
            .iter()
            .filter_map(|id| self.out.rects.get(id).map(|r| r.y))
            .min();
        let mut others: Vec<(&'g str, Option<i32>)> = ifaces
            .iter()
            .copied()
            .filter(|i| !matches!(ix.if_type(i), InterfaceType::Veth | InterfaceType::Bridge))
            .map(|i| {
                let wish = match ix.if_type(i) {
                    InterfaceType::Physical => first_top.map(|t| t + IF_H / 2),
                    _ => ix
                        .master
                        .get(i)
                        .and_then(|m| self.out.rects.get(m))
                        .map(Rect::cy),
                };
                (i, wish)
            })
            .collect();
        others.sort_by_key(|(id, w)| (w.unwrap_or(i32::MAX), type_rank(ix.if_type(id)), *id));
        self.stack(&others, x, inner);
        others.len()
    }
}

/// Consecutive rows of one (rank, bridge) in a group each.
fn group_rows<'r, 'g>(rows: &'r [Row<'g>]) -> Vec<Group<'r, 'g>> {
    let mut groups: Vec<Group> = Vec::new();
    let mut current: Option<(Rank, &str)> = None;
    for row in rows {
        let key = (row.key.0, row.key.1);
        if current != Some(key) {
            groups.push(Group {
                open: Vec::new(),
                grid: Vec::new(),
            });
            current = Some(key);
        }
        if let Some(g) = groups.last_mut() {
            if row.is_single() {
                g.grid.push(row.ctrs[0]);
            } else {
                g.open.push(row);
            }
        }
    }
    groups
}
