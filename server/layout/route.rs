//! Edge routing: one cubic Bézier per edge, leaving and entering on the sides that face each other.

use super::scene::Rect;

/// The least horizontal pull of a control point, so short wires still curve visibly.
const MIN_PULL: i32 = 30;
/// Beyond this vertical distance an edge enters its lower end from the side.
const FAR: i32 = 160;

/// A path from `a` to `b`: start, control 1, control 2, end.
pub fn route(a: &Rect, b: &Rect) -> [i32; 8] {
    if a.right() <= b.x {
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
    }
}

/// A path between two hosts: an arc over the top, so tunnels do not run through the hosts between.
pub fn arc(a: &Rect, b: &Rect, top: i32) -> [i32; 8] {
    let lift = 40 + (a.cx() - b.cx()).abs() / 12;
    let y = top - lift;
    [a.cx(), a.y, a.cx(), y, b.cx(), y, b.cx(), b.y]
}

fn horizontal(x1: i32, y1: i32, x2: i32, y2: i32) -> [i32; 8] {
    let pull = ((x2 - x1).abs() / 2).max(MIN_PULL) * (x2 - x1).signum();
    [x1, y1, x1 + pull, y1, x2 - pull, y2, x2, y2]
}

fn vertical(x1: i32, y1: i32, x2: i32, y2: i32) -> [i32; 8] {
    let pull = ((y2 - y1).abs() / 2).max(MIN_PULL) * (y2 - y1).signum();
    [x1, y1, x1, y1 + pull, x2, y2 - pull, x2, y2]
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
}
