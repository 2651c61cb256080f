//! What sharing costs (run with `cargo bench --bench export`): the self-contained HTML export of
//! a 500-container synthetic snapshot (plain and pseudonymized, default and fully unfolded view),
//! its size, and the comparison of two of its nodes. Prints figures, asserts nothing about time.

use std::time::{Duration, Instant};

use dockmap::compare::{compare, panes::panes, side};
use dockmap::layout::View;
use dockmap::share::export::{cluster_of, export_html};
use dockmap::share::PseudonymKey;
use dockmap::synthetic::{snapshots, SyntheticOptions};

fn median<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let s = Instant::now();
            out = Some(f());
            s.elapsed()
        })
        .collect();
    t.sort();
    (t[n / 2], out.unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let key = PseudonymKey::from_bytes([7; 32]);
    for (hosts, containers) in [(1, 500), (3, 500)] {
        let snaps = snapshots(&SyntheticOptions {
            hosts,
            containers,
            hostile_names: true,
        });
        let c = cluster_of(snaps.clone(), "bench");
        for (what, view) in [("default view", ""), ("open=*", "open=*")] {
            let v = View::from_query(view);
            let (t, e) = median(5, || export_html(&c, &v, None).unwrap());
            let (ta, ea) = median(5, || export_html(&c, &v, Some(&key)).unwrap());
            println!(
                "export {hosts} host(s), {containers} containers, {what}: {} KB, {} elements drawn, {} \
                 (pseudonymized: {} KB, {})",
                e.html.len() / 1024,
                e.drawn,
                ms(t),
                ea.html.len() / 1024,
                ms(ta)
            );
        }
        if hosts > 1 {
            let (t, n) = median(5, || {
                let l = side(&snaps, "node-00", "node-00").unwrap();
                let r = side(&snaps, "node-01", "node-01").unwrap();
                let cmp = compare(l, r);
                let p = panes(&cmp, &View::default());
                (cmp.differences.len(), p.left.svg.len())
            });
            println!(
                "compare node-00 / node-01 of {containers} containers on {hosts} hosts (keys, union, differences, aligned layout, both SVGs): {} ({} differences)",
                ms(t),
                n.0
            );
        }
    }
}
