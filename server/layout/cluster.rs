//! The whole picture: swarm-wide things in a band on top (networks, services),
//! the underlay addresses vxlan tunnels point at, then the hosts side by side.

use crate::graph::ElementKind;

use super::fold::Folding;
use super::host::{place_host, Placed, GAP, NET_H, NET_W, PAD};
use super::index::GraphIndex;
use super::route::Lanes;
use super::scene::Rect;

/// A folded host's size.
pub const HOST_LEAF_W: i32 = 460;
/// A folded host's height.
pub const HOST_LEAF_H: i32 = 100;
/// A service's size.
const SVC_W: i32 = 200;
/// A service's height.
const SVC_H: i32 = 40;
/// A task's height.
const TASK_H: i32 = 30;
/// A remote address's size.
const REMOTE_W: i32 = 160;
/// A remote address's height.
const REMOTE_H: i32 = 34;
/// Between hosts side by side.
const HOST_GAP: i32 = 80;
/// Between rows of hosts (edges between hosts run along it, so not as tight as a band).
const ROW_GAP: i32 = 48;
/// Between bands.
const BAND_GAP: i32 = 40;
/// Between cells of a band.
const CELL_GAP: i32 = 16;

/// One cell of a band or of the host grid: id, width, height, ids stacked under it.
type Cell<'g> = (&'g str, i32, i32, Vec<&'g str>);

/// Place every visible element for a stage of this shape (width / height); returns the scene's
/// size and the host grid's lanes, for routing edges between hosts.
///
/// Swarm-wide networks and services on top, the underlay addresses under them, then the hosts in
/// a grid whose number of columns lets the whole picture be drawn largest on that stage: three
/// hosts side by side on a wide screen were a strip a quarter as tall as the screen.
pub fn arrange<'g>(
    ix: &GraphIndex<'g>,
    f: &Folding<'g>,
    aspect: f64,
    out: &mut Placed<'g>,
) -> (i32, i32, Lanes<'g>) {
    // Hosts first (their grid fixes the bands' width), each at (0, 0) for now.
    let hosts = place_hosts(ix, f, out);
    let bands = Bands::of(ix, f);
    let sizes: Vec<(i32, i32)> = hosts.iter().map(|(_, w, h, _)| (*w, *h)).collect();
    let grid = best_grid(&sizes, aspect, |w| bands.bottom(w.max(1200)));
    let band_w = grid.width.max(1200);

    // Band 1: swarm-wide networks, then services with their open tasks.
    let y = flow(&bands.nets, band_w, PAD, out);
    let y = flow(&bands.services, band_w, y, out);

    // Band 2: remote underlay addresses, each above the host that owns it when one does.
    let hosts_y = bands.bottom(band_w);
    if !bands.remotes.is_empty() {
        place_remotes(ix, &bands.remotes, &hosts, &grid, y + BAND_GAP, out);
    }

    // Hosts in their grid under the bands.
    let mut bottom = hosts_y;
    let mut right = band_w;
    let mut lanes = grid.lanes(hosts_y);
    for (((h, w, hh, ids), (hx, hy)), cell) in hosts.iter().zip(&grid.at).zip(&grid.cells) {
        lanes.cells.insert(h, *cell);
        let (x, y) = (*hx, hosts_y + hy);
        if let Some(r) = out.rects.get_mut(h) {
            r.x = x;
            r.y = y;
        }
        out.shift(ids, x, y);
        bottom = bottom.max(y + hh);
        right = right.max(x + w);
    }

    // Anything visible that no rule placed still gets drawn, in a last row.
    let left: Vec<Cell> = ix
        .ids
        .iter()
        .copied()
        .filter(|id| f.visible(id) && !out.rects.contains_key(id))
        .map(|id| (id, NET_W, NET_H, Vec::new()))
        .collect();
    if !left.is_empty() {
        bottom = flow(&left, right, bottom + BAND_GAP, out);
    }
    for r in out.rects.values() {
        right = right.max(r.right());
        bottom = bottom.max(r.bottom());
    }
    (right + PAD, bottom + PAD, lanes)
}

/// Every visible host laid out inside itself at (0, 0): (id, width, height, what it holds).
fn place_hosts<'g>(ix: &GraphIndex<'g>, f: &Folding<'g>, out: &mut Placed<'g>) -> Vec<Cell<'g>> {
    let mut hosts: Vec<(&str, i32, i32, Vec<&str>)> = Vec::new();
    for &h in &ix.hosts {
        if !f.visible(h) {
            continue;
        }
        let (w, hh, ids) = if f.folded.contains(h) {
            (HOST_LEAF_W, HOST_LEAF_H, Vec::new())
        } else {
            let (w, hh, ids) = place_host(ix, f, h, out);
            out.compound.insert(h);
            (w, hh, ids)
        };
        out.rects.insert(
            h,
            Rect {
                x: 0,
                y: 0,
                w,
                h: hh,
            },
        );
        hosts.push((h, w, hh, ids));
    }
    hosts
}

/// What the bands above the hosts hold: swarm-wide networks, services, remote addresses.
struct Bands<'g> {
    nets: Vec<Cell<'g>>,
    services: Vec<Cell<'g>>,
    remotes: Vec<&'g str>,
}

impl<'g> Bands<'g> {
    fn of(ix: &GraphIndex<'g>, f: &Folding<'g>) -> Self {
        let nets: Vec<Cell> = ix
            .of_kind(ElementKind::Network)
            .iter()
            .copied()
            .filter(|id| f.visible(id) && ix.network_home(id).is_none())
            .map(|n| (n, NET_W, NET_H, Vec::new()))
            .collect();
        let services: Vec<Cell> = ix
            .of_kind(ElementKind::Service)
            .iter()
            .filter(|id| f.visible(id))
            .map(|id| {
                let tasks: Vec<&str> = ix
                    .kids(id)
                    .iter()
                    .copied()
                    .filter(|t| f.visible(t))
                    .collect();
                (*id, SVC_W, SVC_H, tasks)
            })
            .collect();
        let remotes: Vec<&str> = ix
            .of_kind(ElementKind::Remote)
            .iter()
            .copied()
            .filter(|id| f.visible(id))
            .collect();
        Bands {
            nets,
            services,
            remotes,
        }
    }

    /// Where the hosts start when the bands are `band_w` wide.
    fn bottom(&self, band_w: i32) -> i32 {
        let y = flow_rects(&self.nets, band_w, PAD).1;
        let y = flow_rects(&self.services, band_w, y).1;
        if self.remotes.is_empty() {
            y + if y > PAD { BAND_GAP } else { 0 }
        } else {
            y + BAND_GAP + REMOTE_H + BAND_GAP
        }
    }
}

/// Remote underlay addresses in a row at `ry`, each above the host that owns it when one does.
fn place_remotes<'g>(
    ix: &GraphIndex<'g>,
    remotes: &[&'g str],
    hosts: &[Cell<'g>],
    grid: &Grid,
    ry: i32,
    out: &mut Placed<'g>,
) {
    let mut next_free: Vec<(i32, i32)> = Vec::new();
    let mut tail_x = grid.width + HOST_GAP;
    for &r in remotes {
        let addr = ix.get(r).map(|e| e.label.as_str()).unwrap_or("");
        let owner = hosts
            .iter()
            .zip(&grid.at)
            .find(|((h, ..), _)| host_owns(ix, h, addr))
            .map(|(_, (hx, _))| *hx);
        let rx = match owner {
            Some(hx) => {
                let slot = next_free.iter_mut().find(|(x0, _)| *x0 == hx);
                match slot {
                    Some((_, used)) => {
                        let x = hx + *used;
                        *used += REMOTE_W + CELL_GAP;
                        x
                    }
                    None => {
                        next_free.push((hx, REMOTE_W + CELL_GAP));
                        hx
                    }
                }
            }
            None => {
                let x = tail_x;
                tail_x += REMOTE_W + CELL_GAP;
                x
            }
        };
        out.rects.insert(
            r,
            Rect {
                x: rx,
                y: ry,
                w: REMOTE_W,
                h: REMOTE_H,
            },
        );
    }
}

/// Hosts in rows: where each sits (relative to the grid's top, which is 0) and the grid's right edge.
#[derive(Debug, PartialEq)]
struct Grid {
    /// Each host's (x, y), in the order given.
    at: Vec<(i32, i32)>,
    /// Each host's (row, column), in the order given.
    cells: Vec<(usize, usize)>,
    /// Each row's (top, bottom), relative to the grid's top.
    rows: Vec<(i32, i32)>,
    /// Each column's (left, right).
    cols: Vec<(i32, i32)>,
    /// The right edge of the widest row.
    width: i32,
    /// The bottom of the last row.
    height: i32,
}

/// Hosts of these sizes in `columns` columns, in order, row by row; a column is as wide as its
/// widest host and a row as tall as its tallest, so the hosts line up both ways.
fn grid(sizes: &[(i32, i32)], columns: usize) -> Grid {
    let columns = columns.max(1);
    let mut col_w = vec![0; columns.min(sizes.len().max(1))];
    for (i, (w, _)) in sizes.iter().enumerate() {
        col_w[i % columns] = col_w[i % columns].max(*w);
    }
    let mut at = Vec::with_capacity(sizes.len());
    let mut cells = Vec::with_capacity(sizes.len());
    let mut rows = Vec::new();
    let mut y = 0;
    for (r, row) in sizes.chunks(columns).enumerate() {
        let mut x = PAD;
        for (i, _) in row.iter().enumerate() {
            at.push((x, y));
            cells.push((r, i));
            x += col_w[i] + HOST_GAP;
        }
        let h = row.iter().map(|(_, h)| *h).max().unwrap_or(0);
        rows.push((y, y + h));
        y += h + ROW_GAP;
    }
    let mut cols = Vec::with_capacity(col_w.len());
    let mut x = PAD;
    for w in &col_w {
        cols.push((x, x + w));
        x += w + HOST_GAP;
    }
    let width = PAD + col_w.iter().sum::<i32>() + HOST_GAP * (col_w.len() as i32 - 1).max(0);
    Grid {
        at,
        cells,
        rows,
        cols,
        width,
        height: (y - ROW_GAP).max(0),
    }
}

impl Grid {
    /// The grid's lanes with its top at `top` (no cells yet).
    fn lanes<'g>(&self, top: i32) -> Lanes<'g> {
        Lanes {
            rows: self.rows.iter().map(|(t, b)| (t + top, b + top)).collect(),
            cols: self.cols.clone(),
            cells: Default::default(),
        }
    }
}

/// The grid that shows the whole picture largest on a stage of `aspect` (width / height), with
/// `top(width)` the bands' bottom above a grid that wide. Ties go to fewer columns.
fn best_grid(sizes: &[(i32, i32)], aspect: f64, top: impl Fn(i32) -> i32) -> Grid {
    let mut best: Option<(f64, Grid)> = None;
    for columns in 1..=sizes.len().max(1) {
        let g = grid(sizes, columns);
        let w = f64::from(g.width.max(1200) + PAD);
        let h = f64::from(top(g.width) + g.height + PAD);
        // The scale at which a picture w × h fits a stage of height 1 and width `aspect`.
        let scale = (aspect / w).min(1.0 / h);
        if best.as_ref().is_none_or(|(s, _)| scale > *s) {
            best = Some((scale, g));
        }
    }
    best.map(|(_, g)| g).unwrap_or(Grid {
        at: Vec::new(),
        cells: Vec::new(),
        rows: Vec::new(),
        cols: Vec::new(),
        width: PAD,
        height: 0,
    })
}

/// Whether a host owns an underlay address (its swarm address or an address of one of its interfaces).
fn host_owns(ix: &GraphIndex, host: &str, addr: &str) -> bool {
    if addr.is_empty() {
        return false;
    }
    if ix.attr(host, "swarm_node_addr") == Some(addr) {
        return true;
    }
    ix.kids(host).iter().any(|ns| {
        ix.kids(ns).iter().any(|i| {
            ix.get(i)
                .and_then(|e| e.attrs.get("addresses"))
                .and_then(|v| v.as_array())
                .is_some_and(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str())
                        .any(|s| s.split('/').next() == Some(addr))
                })
        })
    })
}

/// Lay cells left to right, wrapping at `width`: each cell's rect and those stacked under it,
/// and the bottom.
fn flow_rects<'g>(cells: &[Cell<'g>], width: i32, top: i32) -> (Vec<(&'g str, Rect)>, i32) {
    if cells.is_empty() {
        return (Vec::new(), top);
    }
    let mut placed = Vec::new();
    let mut x = PAD;
    let mut y = top;
    let mut row_h = 0;
    for (id, w, head, below) in cells {
        let h = head + below.len() as i32 * (TASK_H + GAP);
        if x > PAD && x + w > width {
            x = PAD;
            y += row_h + CELL_GAP;
            row_h = 0;
        }
        placed.push((
            *id,
            Rect {
                x,
                y,
                w: *w,
                h: *head,
            },
        ));
        let mut by = y + head + GAP;
        for b in below {
            placed.push((
                *b,
                Rect {
                    x: x + 14,
                    y: by,
                    w: w - 14,
                    h: TASK_H,
                },
            ));
            by += TASK_H + GAP;
        }
        x += w + CELL_GAP;
        row_h = row_h.max(h);
    }
    (placed, y + row_h)
}

/// [`flow_rects`], placed. Returns the bottom.
fn flow<'g>(cells: &[Cell<'g>], width: i32, top: i32, out: &mut Placed<'g>) -> i32 {
    let (placed, bottom) = flow_rects(cells, width, top);
    out.rects.extend(placed);
    bottom
}
