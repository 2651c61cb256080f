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

use std::collections::HashSet;
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
        Stage::Done(collected) => collected,
        Stage::Started(pending) => finish(*pending, cache),
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
/// One std thread visits the namespaces in turn: it makes the table check and
/// starts the tools of the namespaces that hold rules right there, so no
/// thread is made per namespace and no fork copies this process. A few
/// threads wait for the tools and parse; at most a few namespaces' tools run
/// at any time. Blocking: call it from a std thread or `spawn_blocking`.
pub fn collect_many(nss: &[NsHandle], tools: &Tools, cache: Option<&RuleCache>) -> Vec<Collected> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8);
    let results: Mutex<Vec<Option<Collected>>> = Mutex::new(vec![None; nss.len()]);
    let store = |i: usize, collected: Collected| {
        let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
        all[i] = Some(collected);
    };
    let (tx, rx) = mpsc::sync_channel::<(usize, Box<stage::Pending<'_>>)>(workers);
    let rx = Mutex::new(rx);
    let visited = std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((i, pending)) = next else { break };
                store(i, finish(*pending, cache));
            });
        }
        let visit = move || {
            let mut cookies = HashSet::new();
            for (i, ns) in nss.iter().enumerate() {
                if let Err(e) = netns::enter(ns.fd()) {
                    store(i, unreachable_namespace(&ns.name, &e.to_string()));
                    continue;
                }
                let probe = probe_current_thread();
                cookies.extend(probe.generation.map(|g| g.netns_cookie));
                let spawn = |tool: &str, program: &std::path::Path, args: &[&str]| {
                    run::start_here(tool, program, args, &ns.name)
                };
                match begin(ns, &probe, tools, cache, &spawn) {
                    Stage::Done(collected) => store(i, collected),
                    Stage::Started(pending) => {
                        if tx.send((i, pending)).is_err() {
                            break;
                        }
                    }
                }
            }
            cookies
        };
        std::thread::Builder::new()
            .name("netns-firewall".to_owned())
            .spawn_scoped(scope, visit)
            .map_err(|e| e.to_string())
            .and_then(|h| {
                h.join()
                    .map_err(|_| "the visiting thread panicked".to_owned())
            })
    });
    if let (Some(cache), Ok(alive)) = (cache, &visited) {
        cache.retain(alive);
    }
    let why = visited
        .err()
        .unwrap_or_else(|| "the collector thread failed".to_owned());
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .zip(nss)
        .map(|(r, ns)| r.unwrap_or_else(|| unreachable_namespace(&ns.name, &why)))
        .collect()
}
