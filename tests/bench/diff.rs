//! What a diff costs: two synthetic snapshots of N containers (`dockmap::synthetic`), the second
//! with 1% of the containers gone, 1% new and an MTU changed. Run with `cargo bench --bench diff`
//! (sizes as arguments, default `500`). Prints figures, asserts nothing about time.

#[path = "../support/diffcase.rs"]
mod diffcase;

use std::time::{Duration, Instant};

use dockmap::diff::{cluster_of, diff, draw, text, Side};
use dockmap::layout::{GraphIndex, View};
use dockmap::snapshot::NodeSnapshot;
use dockmap::synthetic::{snapshots, SyntheticOptions};

fn median<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[n / 2]
}

/// Two sides: every container but every 100th in A, every container but the next one in B.
fn sides(containers: usize, hosts: usize) -> (Vec<NodeSnapshot>, Vec<NodeSnapshot>) {
    let all = snapshots(&SyntheticOptions {
        hosts,
        containers,
        hostile_names: false,
    });
    let mut a = all.clone();
    let mut b = all;
    for (side, skip) in [(&mut a, 0usize), (&mut b, 1usize)] {
        for snap in side.iter_mut() {
            let names: Vec<String> = snap
                .engine
                .iter()
                .flat_map(|e| e.containers.iter())
                .enumerate()
                .filter(|(i, _)| i % 100 == skip)
                .map(|(_, c)| c.name.clone())
                .collect();
            for n in names {
                *snap = diffcase::without_container(snap, &n);
            }
        }
    }
    if let Some(l) = b[0].namespaces[0]
        .links
        .iter_mut()
        .find(|l| l.name == "eth0")
    {
        l.mtu = 9000;
    }
    (a, b)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("diff: run with `cargo bench --bench diff`");
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![500] } else { sizes };
    for n in sizes {
        for hosts in [1, 3] {
            let (a, b) = sides(n, hosts);
            let (ca, cb) = (cluster_of(a), cluster_of(b));
            let prep = median(5, || Side::of(ca.clone()));
            let (sa, sb) = (Side::of(ca.clone()), Side::of(cb.clone()));
            let compare = median(9, || diff(&sa, &sb));
            let whole = median(5, || diff(&Side::of(ca.clone()), &Side::of(cb.clone())));
            let d = diff(&sa, &sb);
            let json = serde_json::to_vec(&d).unwrap();
            let union = draw::union(&sa.graph, &sb.graph);
            let drawing = median(5, || {
                let ix = GraphIndex::new(&union);
                draw::draw(&d, &union, &ix, &View::default())
            });
            let svg = {
                let ix = GraphIndex::new(&union);
                draw::draw(&d, &union, &ix, &View::default()).svg.len()
            };
            let txt = median(9, || text::render(&d));
            println!(
                "{n} containers on {hosts} host(s): {} elements, {} edges per side; \
                 {} elements added, {} removed, {} changed",
                sb.graph.elements.len(),
                sb.graph.edges.len(),
                d.counts.elements_added,
                d.counts.elements_removed,
                d.counts.elements_changed
            );
            println!("  normalize + build one side's graph   {prep:>10.3?}");
            println!("  compare two built sides              {compare:>10.3?}");
            println!(
                "  whole diff from two snapshots        {whole:>10.3?}  (JSON {} KB)",
                json.len() / 1024
            );
            println!(
                "  union + layout + SVG + marks         {drawing:>10.3?}  (SVG {} KB)",
                svg / 1024
            );
            println!("  text                                 {txt:>10.3?}");
        }
    }
}
