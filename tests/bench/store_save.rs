//! What saving costs (`cargo bench --bench store_save`, sizes as arguments, default `500 2000`):
//! a synthetic swarm of N containers over 10 hosts saved in a fresh store.
//!
//! Prints figures, asserts nothing about time: the stored size, a first save (encode, hash,
//! write, commit with fsync), a repeated save of the same state (found by its ID, nothing
//! written), a load (read and decode), and an upload's check alone.

use std::time::{Duration, Instant};

use dockmap::snapshot::file::{self, SnapshotFile};
use dockmap::store::{Kind, Store, DEFAULT_UPLOAD_LIMIT};
use dockmap::synthetic::{snapshots, SyntheticOptions};

fn best<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Duration {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            std::hint::black_box(f(i));
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![500, 2000]
    } else {
        sizes
    };
    for containers in sizes {
        let dir = tempfile::Builder::new()
            .prefix("dmt-bench-store-")
            .tempdir()
            .unwrap();
        let store = Store::open(dir.path()).unwrap();
        let variant = |i: usize| {
            let mut v = snapshots(&SyntheticOptions {
                hosts: 10,
                containers,
                hostile_names: false,
            });
            for s in &mut v {
                s.taken_at = format!("2026-01-01T00:00:{i:02}Z");
            }
            SnapshotFile::Nodes(v).into_cluster("local")
        };
        let clusters: Vec<_> = (0..5).map(variant).collect();
        let first = best(5, |i| {
            store.save(clusters[i].clone(), Kind::Manual, "").unwrap()
        });
        let again = best(5, |i| {
            store.save(clusters[i].clone(), Kind::Manual, "").unwrap()
        });
        let meta = store.list().unwrap().remove(0);
        let load = best(5, |_| store.get(&meta.id).unwrap());
        let bytes = store.bytes(&meta.id).unwrap().unwrap();
        let check = best(5, |_| file::parse(&bytes, DEFAULT_UPLOAD_LIMIT).unwrap());
        // The database and its write-ahead log (not yet checkpointed into it).
        let mut wal = store.path().as_os_str().to_owned();
        wal.push("-wal");
        let file: u64 = [store.path().to_owned(), wal.into()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "{containers} containers / 10 hosts: JSON {:.2} MiB ({} B/container); \
             first save {first:?}, repeated save {again:?}, load {load:?}, upload check {check:?}; \
             database {:.2} MiB for 5 snapshots",
            meta.size as f64 / 1048576.0,
            meta.size as usize / containers,
            file as f64 / 1048576.0,
        );
    }
}
