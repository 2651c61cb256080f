//! Edge routing: cubic Béziers leaving and entering on the sides that face each other, and,
//! between hosts of the grid, a way along the gaps between rows and columns, so no edge runs
//! through a host it does not belong to.

use std::collections::BTreeMap;

use super::scene::Rect;

/// The least horizontal pull of a control point, so short wires still curve visibly.
const MIN_PULL: i32 = 30;
/// Beyond this vertical distance an edge enters its lower end from the side.
const FAR: i32 = 160;

/// A path from `a` to `b`: start, control 1, control 2, end.
pub fn route(a: &Rect, b: &Rect) -> Vec<i32> {
    let p = if a.right() <= b.x {
        horizontal(a.right(), a.cy(), b.x, b.cy())
    } else if b.right() <= a.x {
        horizontal(a.x, a.cy(), b.right(), b.cy())
    } else if a.bottom() + FAR <= b.y {
        // From far above (a band over the hosts): come down beside the target, not through its column.
        [
            a.cx(),
            a.bottom(),
            a.cx(),
            a.bottom() + FAR / 2,
            b.x - FAR / 2,
            b.cy(),
            b.x,
            b.cy(),
        ]
    } else if b.bottom() + FAR <= a.y {
        [
            a.x,
            a.cy(),
            a.x - FAR / 2,
            a.cy(),
            b.cx(),
            b.bottom() + FAR / 2,
            b.cx(),
            b.bottom(),
        ]
    } else if a.bottom() <= b.y {
        vertical(a.cx(), a.bottom(), b.cx(), b.y)
    } else if b.bottom() <= a.y {
        vertical(a.cx(), a.y, b.cx(), b.bottom())
    } else {
        // Overlapping boxes (one inside the other, or one column): bow out to the right.
        let x1 = a.right();
        let x2 = b.right();
        let pull = MIN_PULL + (a.cy() - b.cy()).abs() / 8;
        let xc = x1.max(x2) + pull;
        [x1, a.cy(), xc, a.cy(), xc, b.cy(), x2, b.cy()]
    };
    p.to_vec()
}

/// The host grid's free ways: the rows' and columns' extents, and each host's cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lanes<'g> {
    /// Each row's (top, bottom), top to bottom.
    pub rows: Vec<(i32, i32)>,
    /// Each column's (left, right), left to right.
    pub cols: Vec<(i32, i32)>,
    /// Each host's (row, column).
    pub cells: BTreeMap<&'g str, (usize, usize)>,
}

/// Where one end of an edge is, as the lanes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// In the host at (row, column): the edge leaves through that host's top.
    Host(usize, usize),
    /// In the bands over the grid: the edge leaves through its bottom.
    Above,
}

impl Lanes<'_> {
    /// The middle of the gap over row `r` (over the first row: between the bands and the hosts).
    fn gap_over(&self, r: usize) -> i32 {
        match (
            r.checked_sub(1).and_then(|p| self.rows.get(p)),
            self.rows.get(r),
        ) {
            (Some(&(_, above)), Some(&(top, _))) => (above + top) / 2,
            (None, Some(&(top, _))) => top - 24,
            _ => 0,
        }
    }

    /// The middle of the gap left of column `c` (`c` = the number of columns: right of the last).
    fn gap_left_of(&self, c: usize) -> i32 {
        let left = c.checked_sub(1).and_then(|p| self.cols.get(p));
        match (left, self.cols.get(c)) {
            (Some(&(_, l)), Some(&(r, _))) => (l + r) / 2,
            (None, Some(&(r, _))) => r / 2,
            (Some(&(_, l)), None) => l + 40,
            (None, None) => 0,
        }
    }

    /// A path from `a` (at `ea`) to `b` (at `eb`) that leaves and enters its hosts by their tops
    /// and runs along the gaps between rows and columns, crossing no other host.
    pub fn between(&self, a: &Rect, ea: End, b: &Rect, eb: End) -> Vec<i32> {
        let (ra, ya) = match ea {
            End::Host(r, _) => (r, a.y),
            End::Above => (0, a.bottom()),
        };
        let (rb, yb) = match eb {
            End::Host(r, _) => (r, b.y),
            End::Above => (0, b.bottom()),
        };
        let (ga, gb) = (self.gap_over(ra), self.gap_over(rb));
        let mut pts = vec![(a.cx(), ya), (a.cx(), ga)];
        if ga != gb {
            // Down (or up) a gap between columns: the one nearest both ends, so the way is short.
            let x = (0..=self.cols.len())
                .map(|c| self.gap_left_of(c))
                .min_by_key(|x| ((x - a.cx()).abs() + (x - b.cx()).abs(), *x))
                .unwrap_or(a.cx());
            pts.push((x, ga));
            pts.push((x, gb));
        }
        pts.push((b.cx(), gb));
        pts.push((b.cx(), yb));
        polyline(&pts)
    }
}

/// A polyline as straight cubics (controls on their ends, which the SVG writer draws as lines):
/// square corners keep a long route a few bytes, and thousands of them are drawn at once.
fn polyline(pts: &[(i32, i32)]) -> Vec<i32> {
    let mut pts: Vec<(i32, i32)> = pts.to_vec();
    pts.dedup();
    if let [(x, y)] = pts[..] {
        // Both ends at one point: still one whole cubic.
        return vec![x, y, x, y, x, y, x, y];
    }
    let mut out: Vec<i32> = pts.first().map_or_else(Vec::new, |&(x, y)| vec![x, y]);
    for w in pts.windows(2) {
        out.extend([w[0].0, w[0].1, w[1].0, w[1].1, w[1].0, w[1].1]);
    }
    out
}

fn horizontal(x1: i32, y1: i32, x2: i32, y2: i32) -> [i32; 8] {
    let pull = ((x2 - x1).abs() / 2).max(MIN_PULL) * (x2 - x1).signum();
    [x1, y1, x1 + pull, y1, x2 - pull, y2, x2, y2]
}

fn vertical(x1: i32, y1: i32, x2: i32, y2: i32) -> [i32; 8] {
    let pull = ((y2 - y1).abs() / 2).max(MIN_PULL) * (y2 - y1).signum();
    [x1, y1, x1, y1 + pull, x2, y2 - pull, x2, y2]
}

/// Points along a path (start, then 6 numbers per cubic), `n` per cubic: for tests of where
/// edges run.
#[cfg(test)]
pub fn sample(path: &[i32], n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let f = |i: usize| f64::from(path[i]);
    let mut i = 0;
    while i + 8 <= path.len() {
        for s in 0..=n {
            let t = s as f64 / n as f64;
            let u = 1.0 - t;
            let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            out.push((
                a * f(i) + b * f(i + 2) + c * f(i + 4) + d * f(i + 6),
                a * f(i + 1) + b * f(i + 3) + c * f(i + 5) + d * f(i + 7),
            ));
        }
        i += 6;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: i32, y: i32) -> Rect {
        Rect {
            x,
            y,
            w: 100,
            h: 20,
        }
    }

    #[test]
    fn leaves_from_the_facing_sides() {
        let p = route(&r(0, 0), &r(300, 50));
        assert_eq!((p[0], p[1]), (100, 10));
        assert_eq!((p[6], p[7]), (300, 60));
        let p = route(&r(300, 50), &r(0, 0));
        assert_eq!((p[0], p[6]), (300, 100));
        let p = route(&r(0, 0), &r(20, 100));
        assert_eq!((p[1], p[7]), (20, 100));
    }

    #[test]
    fn a_routed_path_starts_and_ends_on_its_ends_and_is_whole_cubics() {
        let lanes = Lanes {
            rows: vec![(100, 300), (350, 500)],
            cols: vec![(14, 400), (480, 900)],
            cells: BTreeMap::new(),
        };
        let (a, b) = (r(600, 400), r(50, 150));
        let p = lanes.between(&a, End::Host(1, 1), &b, End::Host(0, 0));
        assert_eq!((p[0], p[1]), (650, 400));
        assert_eq!((p[p.len() - 2], p[p.len() - 1]), (100, 150));
        assert_eq!((p.len() - 2) % 6, 0, "{p:?}");
        // Up to the gap over row 1 (y 325), along it to the gap between the columns (x 440), up
        // that to the gap over row 0 (y 76) and along it to the end's column.
        let pts = sample(&p, 8);
        let on = |x: (f64, f64), y: (f64, f64)| {
            pts.iter()
                .any(|p| (x.0..=x.1).contains(&p.0) && (y.0..=y.1).contains(&p.1))
        };
        assert!(on((440.0, 650.0), (325.0, 325.0)), "{p:?}");
        assert!(on((440.0, 440.0), (76.0, 325.0)), "{p:?}");
        assert!(on((100.0, 440.0), (76.0, 76.0)), "{p:?}");
        assert!(
            pts.iter().all(|&(x, _)| (100.0..=650.0).contains(&x)),
            "{p:?}"
        );
    }
}
