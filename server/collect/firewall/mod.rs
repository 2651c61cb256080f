//! Packet-filter rules per namespace (iptables-save, ip6tables-save, nft).
//!
//! First a cheap look at which tables exist (see [`probe`]); the tools run only
//! where there is something to read, all of them at once, each in the
//! namespace, never through nsenter.

pub mod cache;
pub mod iptables_save;
pub mod nft_json;
mod plan;
pub mod probe;
pub mod run;
mod stage;

use std::sync::mpsc;
use std::sync::Mutex;

use crate::collect::netns::{self, NsHandle};
use crate::snapshot::{Firewall, SourceKind, SourceStatus};
use stage::{begin, finish, Stage};

pub use cache::RuleCache;
pub use iptables_save::{parse_header, parse_iptables_save, ParseError, SaveHeader};
pub use probe::{probe_current_thread, NftGeneration, NftTable, TableProbe};
pub use run::Tools;

/// The firewall of one namespace and the statuses of its sources.
pub type Collected = (Option<Firewall>, Vec<SourceStatus>);

/// How the namespaces of one [`read_many`] were read: on an unchanged host a warm read runs no tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Namespaces visited.
    pub namespaces: usize,
    /// Namespaces whose tools ran.
    pub with_tools: usize,
    /// Tool processes started (iptables-save, ip6tables-save, nft).
    pub tool_runs: usize,
    /// Namespaces served from the rule cache: ruleset unchanged since it was read.
    pub cached: usize,
    /// Namespaces proven to hold no tables.
    pub empty: usize,
}

impl std::ops::AddAssign for ReadCounts {
    fn add_assign(&mut self, other: Self) {
        self.namespaces += other.namespaces;
        self.with_tools += other.with_tools;
        self.tool_runs += other.tool_runs;
        self.cached += other.cached;
        self.empty += other.empty;
    }
}

impl std::fmt::Display for ReadCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} namespaces: {} read with tools ({} tool runs), {} unchanged since read (cached rules), {} without tables",
            self.namespaces, self.with_tools, self.tool_runs, self.cached, self.empty
        )
    }
}

/// What the Iptables status says when a namespace was proven to hold no tables.
pub const NO_RULES: &str =
    "no rules: the namespace has no iptables tables (nf_tables and legacy checked), nothing run";

/// Read the namespace's packet filter: iptables-save and ip6tables-save run inside it; nft -j where native nftables is used.
pub fn collect(ns: &NsHandle) -> (Option<Firewall>, Vec<SourceStatus>) {
    collect_with(ns, &Tools::from_env())
}

/// [`collect`] with the tools looked up in the given places.
pub fn collect_with(ns: &NsHandle, tools: &Tools) -> Collected {
    collect_cached(ns, tools, None)
}

/// [`collect_with`], reusing rules kept in `cache` when the namespace's ruleset is unchanged.
pub fn collect_cached(ns: &NsHandle, tools: &Tools, cache: Option<&RuleCache>) -> Collected {
    match netns::run_in(ns, probe_current_thread) {
        Ok(probe) => collect_probed(ns, &probe, tools, cache),
        Err(e) => unreachable_namespace(&ns.name, &e.to_string()),
    }
}

/// [`collect_cached`] for a caller that already made the table check from a thread inside the namespace.
///
/// The tools enter the namespace themselves (setns between fork and exec).
pub fn collect_probed(
    ns: &NsHandle,
    probe: &TableProbe,
    tools: &Tools,
    cache: Option<&RuleCache>,
) -> Collected {
    let spawn =
        |tool: &str, program: &std::path::Path, args: &[&str]| run::start(ns, tool, program, args);
    match begin(ns, probe, tools, cache, &spawn) {
        Stage::Cached(collected) | Stage::Empty(collected) => collected,
        Stage::Started(pending) => finish(*pending, cache).0,
    }
}

fn unreachable_namespace(ns: &str, why: &str) -> Collected {
    (
        None,
        vec![SourceStatus::error(
            SourceKind::Iptables,
            Some(ns),
            format!("namespace {ns} vanished or could not be entered: {why}"),
        )],
    )
}

/// Read many namespaces at once, results in the order given.
///
/// See [`read_many`], which also tells how each was read.
pub fn collect_many(nss: &[NsHandle], tools: &Tools, cache: Option<&RuleCache>) -> Vec<Collected> {
    read_many(nss, tools, cache).0
}

/// Read many namespaces at once, results in the order given, and count how they were read.
///
/// Every namespace visited is marked seen in `cache`; nothing is evicted here,
/// since a collection may read its namespaces in several batches: its owner
/// calls [`RuleCache::sweep`] once it has visited them all.
///
/// One std thread visits the namespaces in turn: it makes the table check and
/// starts the tools of the namespaces that hold rules right there, so no
/// thread is made per namespace and no fork copies this process. A few
/// threads wait for the tools and parse; at most a few namespaces' tools run
/// at any time. Blocking: call it from a std thread or `spawn_blocking`.
pub fn read_many(
    nss: &[NsHandle],
    tools: &Tools,
    cache: Option<&RuleCache>,
) -> (Vec<Collected>, ReadCounts) {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8);
    let batch = Batch::new(nss.len());
    let (tx, rx) = mpsc::sync_channel::<Job<'_>>(workers);
    let rx = Mutex::new(rx);
    let visited = std::thread::scope(|scope| {
        let batch = &batch;
        for _ in 0..workers {
            scope.spawn(|| finish_queued(&rx, batch, cache));
        }
        // The visitor owns the sender: when it is done, the workers' queue ends.
        let visit = move || visit_all(nss, tools, cache, batch, tx);
        std::thread::Builder::new()
            .name("netns-firewall".to_owned())
            .spawn_scoped(scope, visit)
            .map_err(|e| e.to_string())
            .and_then(|h| {
                h.join()
                    .map_err(|_| "the visiting thread panicked".to_owned())
            })
    });
    let why = visited
        .err()
        .unwrap_or_else(|| "the collector thread failed".to_owned());
    batch.into_results(nss, &why)
}

/// A namespace of a [`read_many`] whose tools are running, by its index.
type Job<'a> = (usize, Box<stage::Pending<'a>>);

/// What the threads of one [`read_many`] found: a result per namespace, and the counts.
struct Batch {
    results: Mutex<Vec<Option<Collected>>>,
    counts: Mutex<ReadCounts>,
}

impl Batch {
    /// Nothing found yet of `namespaces` namespaces.
    fn new(namespaces: usize) -> Batch {
        Batch {
            results: Mutex::new(vec![None; namespaces]),
            counts: Mutex::new(ReadCounts {
                namespaces,
                ..ReadCounts::default()
            }),
        }
    }

    /// Keep what was found of the `i`th namespace.
    fn store(&self, i: usize, collected: Collected) {
        let mut all = self.results.lock().unwrap_or_else(|e| e.into_inner());
        all[i] = Some(collected);
    }

    /// Count how a namespace was read.
    fn count(&self, f: impl FnOnce(&mut ReadCounts)) {
        f(&mut self.counts.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The results in the order of `nss`; a namespace never reached is unreachable for `why`.
    fn into_results(self, nss: &[NsHandle], why: &str) -> (Vec<Collected>, ReadCounts) {
        let collected = self
            .results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .zip(nss)
            .map(|(r, ns)| r.unwrap_or_else(|| unreachable_namespace(&ns.name, why)))
            .collect();
        (
            collected,
            self.counts.into_inner().unwrap_or_else(|e| e.into_inner()),
        )
    }
}

/// A worker: wait for namespaces' tools and parse their output, until the visitor is done.
fn finish_queued(rx: &Mutex<mpsc::Receiver<Job<'_>>>, batch: &Batch, cache: Option<&RuleCache>) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((i, pending)) = next else { break };
        let (collected, spawned) = finish(*pending, cache);
        batch.count(|c| {
            c.with_tools += 1;
            c.tool_runs += spawned;
        });
        batch.store(i, collected);
    }
}

/// The visitor: enter each namespace in turn on this thread, check its tables and start its
/// tools there; what needs no tool is stored at once, the rest is queued for the workers.
fn visit_all<'a>(
    nss: &'a [NsHandle],
    tools: &'a Tools,
    cache: Option<&RuleCache>,
    batch: &Batch,
    tx: mpsc::SyncSender<Job<'a>>,
) {
    for (i, ns) in nss.iter().enumerate() {
        if let Err(e) = netns::enter(ns.fd()) {
            batch.store(i, unreachable_namespace(&ns.name, &e.to_string()));
            continue;
        }
        let probe = probe_current_thread();
        if let (Some(cache), Some(generation)) = (cache, probe.generation) {
            cache.mark_seen(generation.netns_cookie);
        }
        let spawn = |tool: &str, program: &std::path::Path, args: &[&str]| {
            run::start_here(tool, program, args, &ns.name)
        };
        match begin(ns, &probe, tools, cache, &spawn) {
            Stage::Cached(collected) => {
                batch.count(|c| c.cached += 1);
                batch.store(i, collected);
            }
            Stage::Empty(collected) => {
                batch.count(|c| c.empty += 1);
                batch.store(i, collected);
            }
            Stage::Started(pending) => {
                if tx.send((i, pending)).is_err() {
                    break;
                }
            }
        }
    }
}
