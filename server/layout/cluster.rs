//! The whole picture: swarm-wide things in a band on top (networks, services),
//! the underlay addresses vxlan tunnels point at, then the hosts side by side.

use crate::graph::ElementKind;

use super::fold::Folding;
use super::host::{place_host, Placed, GAP, NET_H, NET_W, PAD};
use super::index::GraphIndex;
use super::scene::Rect;

/// A folded host's size.
pub const HOST_LEAF_W: i32 = 300;
/// A folded host's height.
pub const HOST_LEAF_H: i32 = 92;
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
/// Between hosts.
const HOST_GAP: i32 = 80;
/// Between bands.
const BAND_GAP: i32 = 40;
/// Between cells of a band.
const CELL_GAP: i32 = 16;

/// Place every visible element; returns the scene's size.
pub fn arrange<'g>(ix: &GraphIndex<'g>, f: &Folding<'g>, out: &mut Placed<'g>) -> (i32, i32) {
    // Hosts first (their widths fix the bands' width), at y = 0 for now.
    let mut host_sizes = Vec::new();
    let mut x = PAD;
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
        host_sizes.push((h, x, w, hh, ids));
        x += w + HOST_GAP;
    }
    let hosts_right = x - HOST_GAP;
    let band_w = hosts_right.max(1200);

    // Band 1: swarm-wide networks, then services with their open tasks.
    let mut y = PAD;
    let nets: Vec<&str> = ix
        .of_kind(ElementKind::Network)
        .iter()
        .copied()
        .filter(|id| f.visible(id) && ix.network_home(id).is_none())
        .collect();
    y = flow(
        &nets
            .iter()
            .map(|n| (*n, NET_W, NET_H, Vec::new()))
            .collect::<Vec<_>>(),
        band_w,
        y,
        out,
    );
    let services: Vec<(&str, i32, i32, Vec<&str>)> = ix
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
    y = flow(&services, band_w, y, out);

    // Band 2: remote underlay addresses, each above the host that owns it when one does.
    let remotes: Vec<&str> = ix
        .of_kind(ElementKind::Remote)
        .iter()
        .copied()
        .filter(|id| f.visible(id))
        .collect();
    let hosts_y = if remotes.is_empty() {
        y + if y > PAD { BAND_GAP } else { 0 }
    } else {
        let ry = y + BAND_GAP;
        let mut next_free: Vec<(i32, i32)> = Vec::new();
        let mut tail_x = hosts_right + HOST_GAP;
        for r in remotes {
            let addr = ix.get(r).map(|e| e.label.as_str()).unwrap_or("");
            let owner = host_sizes
                .iter()
                .find(|(h, ..)| host_owns(ix, h, addr))
                .map(|(_, hx, ..)| *hx);
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
        ry + REMOTE_H + BAND_GAP
    };

    // Hosts side by side under the bands.
    let mut bottom = hosts_y;
    let mut right = band_w;
    for (h, hx, w, hh, ids) in &host_sizes {
        if let Some(r) = out.rects.get_mut(h) {
            r.x = *hx;
            r.y = hosts_y;
        }
        out.shift(ids, *hx, hosts_y);
        bottom = bottom.max(hosts_y + hh);
        right = right.max(hx + w);
    }

    // Anything visible that no rule placed still gets drawn, in a last row.
    let left: Vec<(&str, i32, i32, Vec<&str>)> = ix
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
    (right + PAD, bottom + PAD)
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

/// Lay cells (id, width, height, ids stacked under it) left to right, wrapping at `width`. Returns the bottom.
fn flow<'g>(
    cells: &[(&'g str, i32, i32, Vec<&'g str>)],
    width: i32,
    top: i32,
    out: &mut Placed<'g>,
) -> i32 {
    if cells.is_empty() {
        return top;
    }
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
        out.rects.insert(
            id,
            Rect {
                x,
                y,
                w: *w,
                h: *head,
            },
        );
        let mut by = y + head + GAP;
        for b in below {
            out.rects.insert(
                b,
                Rect {
                    x: x + 14,
                    y: by,
                    w: w - 14,
                    h: TASK_H,
                },
            );
            by += TASK_H + GAP;
        }
        x += w + CELL_GAP;
        row_h = row_h.max(h);
    }
    y + row_h
}
