//! Every fuzz target's body (fuzz/src/targets.rs) over its committed seeds, `fuzz/seeds/<target>/`
//! (corpora of earlier `cargo fuzz` runs, minimized with `cargo fuzz cmin`), and over a fixed set
//! of deterministic mutations of them. CI has no cargo-fuzz: this is where a parser of outside data
//! that starts to panic or hang on an input the fuzzer once found interesting fails the run. Each
//! failure names the input's seed file and mutation number, so it can be replayed.

#[path = "../fuzz/src/lib.rs"]
mod dockmap_fuzz;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dockmap_fuzz::targets;

/// Mutations tried per seed file (inputs per target are capped where `replays!` says: the
/// pipeline targets draw and trace whole swarms, some 15 ms an input in a debug build).
const MUTATIONS_PER_SEED: usize = 40;
/// An input that runs this long is a hang (a walk or loop without its bound), not a slow machine:
/// the slowest body takes milliseconds.
const HANG: Duration = Duration::from_secs(120);

/// A small deterministic generator (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers: delimiters, netlink lengths, JSON and rule syntax.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xff\xff\xff\xff",
    b"\x10\0\0\0",
    b"-j ",
    b" -A ",
    b"COMMIT\n",
    b"*nat\n",
    b"{",
    b"}",
    b"[",
    b"\"",
    b",",
    b"&",
    b"=",
    b"%",
    b"\n",
];

/// One mutation of `seed` (with `other`, another seed, for splicing).
fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let word = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, word.iter().copied());
            }
            2 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(16)).min(v.len());
                v.drain(a..b);
            }
            3 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(64)).min(v.len());
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            4 if !other.is_empty() => {
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.truncate(i);
            }
        }
    }
    v
}

/// The committed seeds of a target, sorted by name.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `body` over every seed of `target` and their mutations on a thread of its own; fails
/// naming the input that panicked or ran longer than [`HANG`]. Returns how many inputs ran.
fn replay(target: &'static str, body: fn(&[u8]), max_inputs: usize) -> usize {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ holds no seeds");
    let current = Arc::new(Mutex::new(String::new()));
    let (done, progress) = mpsc::channel::<()>();
    let worker = {
        let current = current.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
            let mut ran = 0;
            for (i, (path, bytes)) in seeds.iter().enumerate() {
                let other = &seeds[(i + 1) % seeds.len()].1;
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                for m in 0..=MUTATIONS_PER_SEED {
                    if ran == max_inputs {
                        return ran;
                    }
                    let input = if m == 0 {
                        bytes.clone()
                    } else {
                        mutate(bytes, other, &mut rng)
                    };
                    *current.lock().expect("not poisoned") = format!("{name}, mutation {m}");
                    body(&input);
                    ran += 1;
                    let _ = done.send(());
                }
            }
            ran
        })
    };
    loop {
        match progress.recv_timeout(HANG) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{target}: no answer in {HANG:?} on {} (a hang)",
                current.lock().map(|c| c.clone()).unwrap_or_default()
            ),
        }
    }
    match worker.join() {
        Ok(ran) => ran,
        Err(_) => panic!(
            "{target}: panicked on {} (message above)",
            current.lock().map(|c| c.clone()).unwrap_or_default()
        ),
    }
}

/// The generator and the mutations are what make failures replayable: same seed, same inputs.
#[test]
fn mutations_are_the_same_on_every_run() {
    let seed = b"-A FORWARD -j DOCKER\nCOMMIT\n";
    let run = || {
        let mut rng = Rng(7);
        (0..20)
            .map(|_| mutate(seed, b"*nat\n", &mut rng))
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(
        a.iter().filter(|m| m.as_slice() != seed).count() >= 15,
        "{a:?}"
    );
}

macro_rules! replays {
    ($($name:ident: $max:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            let ran = replay(stringify!($name), targets::$name, $max);
            assert!(ran > MUTATIONS_PER_SEED, "{} inputs", ran);
        }
    )*};
}

replays!(
    agent_answer: 4_000,
    iptables_save: 4_000,
    ipvs: 4_000,
    nft_json: 4_000,
    rtnetlink: 4_000,
    snapshot_pipeline: 250,
    snapshot_upload: 4_000,
    view_query: 500,
    xfrm: 4_000,
);
