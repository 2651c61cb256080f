//! Packet-filter rules per namespace (iptables-save, ip6tables-save, nft).
//!
//! First a cheap look at which tables exist (see [`probe`]); the tools run only
//! where there is something to read, all of them at once, each entering the
//! namespace itself.

pub mod cache;
pub mod iptables_save;
pub mod nft_json;
pub mod probe;
pub mod run;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::collect::netns::{self, NsHandle};
use crate::collect::CollectError;
use crate::snapshot::{Firewall, SourceKind, SourceState, SourceStatus, Table};

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
        Err(e) => unreachable_namespace(ns, &e.to_string()),
    }
}

fn unreachable_namespace(ns: &NsHandle, why: &str) -> Collected {
    (
        None,
        vec![SourceStatus::error(
            SourceKind::Iptables,
            Some(&ns.name),
            format!(
                "namespace {} vanished or could not be entered: {why}",
                ns.name
            ),
        )],
    )
}

/// Read many namespaces at once, results in the order given.
///
/// One thread visits every namespace in turn for the table check (no thread
/// per namespace), then the tools of the namespaces that hold rules run a few
/// at a time, so their start-up costs overlap.
pub fn collect_many(nss: &[NsHandle], tools: &Tools, cache: Option<&RuleCache>) -> Vec<Collected> {
    let probes = probe_all(nss);
    if let Some(cache) = cache {
        let alive: HashSet<u64> = probes
            .iter()
            .filter_map(|p| p.as_ref().ok()?.generation.map(|g| g.netns_cookie))
            .collect();
        cache.retain(&alive);
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8)
        .min(nss.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Collected)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let (Some(ns), Some(probe)) = (nss.get(i), probes.get(i)) else {
                            break;
                        };
                        let collected = match probe {
                            Ok(probe) => collect_probed(ns, probe, tools, cache),
                            Err(e) => unreachable_namespace(ns, e),
                        };
                        done.push((i, collected));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let mut results = results.into_iter().peekable();
    // A worker that panicked leaves holes: say so rather than shift the others.
    (0..nss.len())
        .map(|i| match results.next_if(|(j, _)| *j == i) {
            Some((_, collected)) => collected,
            None => unreachable_namespace(&nss[i], "the collector thread failed"),
        })
        .collect()
}

/// The table check of every namespace, made by one thread that enters each in turn.
fn probe_all(nss: &[NsHandle]) -> Vec<Result<TableProbe, String>> {
    let visit = || -> Vec<Result<TableProbe, String>> {
        nss.iter()
            .map(|ns| {
                netns::enter(ns.fd())
                    .map(|()| probe_current_thread())
                    .map_err(|e| format!("namespace {}: {e}", ns.name))
            })
            .collect()
    };
    let visited = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("netns-probe".to_owned())
            .spawn_scoped(scope, visit)
            .map_err(|e| e.to_string())
            .and_then(|h| h.join().map_err(|_| "the probe thread panicked".to_owned()))
    });
    match visited {
        Ok(probes) => probes,
        Err(e) => nss.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// [`collect`] for a caller that already probed the tables from a thread inside the namespace.
pub fn collect_probed(
    ns: &NsHandle,
    probe: &TableProbe,
    tools: &Tools,
    cache: Option<&RuleCache>,
) -> Collected {
    let cacheable = cache
        .zip(probe.generation)
        .filter(|_| only_iptables_nft(probe));
    if let Some((cache, generation)) = cacheable {
        if let Some(firewall) = cache.get(generation) {
            return (
                Some(firewall),
                vec![SourceStatus::ok(SourceKind::Iptables, Some(&ns.name))],
            );
        }
    }
    let mut report = Report::default();
    let v4 = plan_family(probe, IpFamily::V4, &mut report);
    let v6 = plan_family(probe, IpFamily::V6, &mut report);
    let native = plan_nftables(probe);
    if v4.is_none() && v6.is_none() && matches!(native, NativePlan::None) {
        report.notes.push(NO_RULES.to_owned());
        return (
            Some(Firewall::default()),
            vec![report.status(SourceKind::Iptables, &ns.name)],
        );
    }

    // Start everything first: the tools then run side by side.
    let v4_run = v4.as_ref().map(|p| start_family(ns, tools, p));
    let v6_run = v6.as_ref().map(|p| start_family(ns, tools, p));
    let nft_run = match &native {
        NativePlan::None => None,
        NativePlan::Tables(_) | NativePlan::Unknown => Some(match tools.find("nft") {
            Some(path) => run::start(ns, "nft", &path, &["-j", "list", "ruleset"]),
            None => Err(CollectError::ToolMissing("nft".to_owned())),
        }),
    };

    let mut firewall = Firewall::default();
    let mut read_any = false;
    let mut read_families: Vec<IpFamily> = Vec::new();
    for (plan, started) in [(v4, v4_run), (v6, v6_run)] {
        let (Some(plan), Some(started)) = (plan, started) else {
            continue;
        };
        let Some((tables, header)) = finish_family(started, &plan, &mut report) else {
            continue;
        };
        read_any = true;
        read_families.push(plan.family);
        if firewall.backend.is_empty() {
            firewall.backend = header.backend.clone().unwrap_or_default();
        }
        match plan.family {
            IpFamily::V4 => firewall.ipv4 = tables,
            IpFamily::V6 => firewall.ipv6 = tables,
        }
    }

    let mut statuses = Vec::new();
    if let Some(started) = nft_run {
        let (ruleset, status) = finish_nftables(started, &native, &read_families, &ns.name);
        read_any |= ruleset.is_some();
        firewall.nftables = ruleset;
        statuses.extend(status);
    }
    statuses.insert(0, report.status(SourceKind::Iptables, &ns.name));
    firewall.normalize();
    if let Some((cache, generation)) = cacheable {
        if read_any && report.errors.is_empty() {
            cache.put(generation, &firewall);
        }
    }
    (read_any.then_some(firewall), statuses)
}

/// Every table is an iptables-nft one: nothing legacy, nothing native.
fn only_iptables_nft(probe: &TableProbe) -> bool {
    let nft = probe
        .nftables
        .as_ref()
        .is_ok_and(|t| t.iter().all(NftTable::is_iptables_nft));
    let no_legacy = |l: &Result<Vec<String>, String>| l.as_ref().is_ok_and(Vec::is_empty);
    nft && no_legacy(&probe.legacy_ipv4) && no_legacy(&probe.legacy_ipv6)
}

/// The notes and errors that become one namespace's Iptables status.
#[derive(Default)]
struct Report {
    errors: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    fn status(&self, source: SourceKind, ns: &str) -> SourceStatus {
        let mut words = self.errors.clone();
        words.extend(self.notes.iter().cloned());
        SourceStatus {
            source,
            namespace: Some(ns.to_owned()),
            state: if self.errors.is_empty() {
                SourceState::Ok
            } else {
                SourceState::Error
            },
            message: words.join("; "),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    fn base(self) -> &'static str {
        match self {
            IpFamily::V4 => "iptables",
            IpFamily::V6 => "ip6tables",
        }
    }
}

/// Which save tool to run for one family.
struct FamilyPlan {
    family: IpFamily,
    /// Candidate programs, best first; the last is the plain `*-save`.
    candidates: Vec<String>,
    /// Tables of the backend the chosen tool may not show, when both backends hold some.
    other_backend: Option<(Vec<String>, Vec<String>)>,
}

impl FamilyPlan {
    fn tool(&self) -> String {
        format!("{}-save", self.family.base())
    }
}

/// `None` when the family is proven to hold no iptables tables.
fn plan_family(probe: &TableProbe, family: IpFamily, report: &mut Report) -> Option<FamilyPlan> {
    let base = family.base();
    let nft = probe.nftables.as_ref().map(|tables| {
        tables
            .iter()
            .filter(|t| t.is_iptables_nft() && t.is_ipv4() == (family == IpFamily::V4))
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    });
    let legacy = match family {
        IpFamily::V4 => &probe.legacy_ipv4,
        IpFamily::V6 => &probe.legacy_ipv6,
    };
    let plain = format!("{base}-save");
    let (candidates, other_backend) = match (nft, legacy) {
        (Ok(n), Ok(l)) if n.is_empty() && l.is_empty() => return None,
        (Ok(_), Ok(l)) if l.is_empty() => (vec![format!("{base}-nft-save"), plain], None),
        (Ok(n), Ok(_)) if n.is_empty() => (vec![format!("{base}-legacy-save"), plain], None),
        (Ok(n), Ok(l)) => (vec![plain], Some((n, l.clone()))),
        (nft, legacy) => {
            // Could not prove it empty: run the default tool and say why.
            let failures = [nft.err().cloned(), legacy.as_ref().err().cloned()];
            for e in failures.into_iter().flatten() {
                report
                    .notes
                    .push(format!("table check failed ({e}); ran {base}-save"));
            }
            (vec![plain], None)
        }
    };
    Some(FamilyPlan {
        family,
        candidates,
        other_backend,
    })
}

fn start_family(
    ns: &NsHandle,
    tools: &Tools,
    plan: &FamilyPlan,
) -> Result<run::Running, CollectError> {
    let names: Vec<&str> = plan.candidates.iter().map(String::as_str).collect();
    let tool = plan.tool();
    match tools.find_any(&names) {
        Some(path) => run::start(ns, &tool, &path, &[]),
        None => Err(CollectError::ToolMissing(tool)),
    }
}

/// Wait for a save tool and parse its output; failures go into the report.
fn finish_family(
    started: Result<run::Running, CollectError>,
    plan: &FamilyPlan,
    report: &mut Report,
) -> Option<(Vec<Table>, SaveHeader)> {
    let output = match started.and_then(run::Running::finish) {
        Ok(o) => o,
        Err(e) => {
            report.errors.push(e.to_string());
            return None;
        }
    };
    let tables = match parse_iptables_save(&output.stdout) {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(format!("{}: {e}", plan.tool()));
            return None;
        }
    };
    let mut header = parse_header(&output.stdout);
    header.legacy_tables_present |= parse_header(&output.stderr).legacy_tables_present;
    let read_backend = header.backend.as_deref().unwrap_or("nf_tables");
    if let Some((nft, legacy)) = &plan.other_backend {
        let (other, names) = if read_backend == "legacy" {
            ("nf_tables", nft)
        } else {
            ("legacy", legacy)
        };
        report.errors.push(format!(
            "{} read the {read_backend} tables only; {other} tables are present as well ({}) and were not read",
            plan.tool(),
            names.join(", ")
        ));
    } else if header.legacy_tables_present {
        report.errors.push(format!(
            "{} warns that iptables-legacy tables are present as well; they were not read",
            plan.tool()
        ));
    }
    Some((tables, header))
}

/// Whether `nft -j list ruleset` is needed.
enum NativePlan {
    /// No table beyond iptables-nft's own.
    None,
    /// These native nftables tables exist.
    Tables(Vec<NftTable>),
    /// The table check failed: run nft if it is installed.
    Unknown,
}

fn plan_nftables(probe: &TableProbe) -> NativePlan {
    match &probe.nftables {
        Ok(tables) => {
            let native: Vec<NftTable> = tables
                .iter()
                .filter(|t| !t.is_iptables_nft())
                .cloned()
                .collect();
            if native.is_empty() {
                NativePlan::None
            } else {
                NativePlan::Tables(native)
            }
        }
        Err(_) => NativePlan::Unknown,
    }
}

fn finish_nftables(
    started: Result<run::Running, CollectError>,
    plan: &NativePlan,
    read_families: &[IpFamily],
    ns: &str,
) -> (Option<serde_json::Value>, Option<SourceStatus>) {
    let tables_said = match plan {
        NativePlan::Tables(t) => t
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let fail = |why: String| {
        // Without a proof that native tables exist, a missing nft is no failure.
        if matches!(plan, NativePlan::Unknown) {
            return None;
        }
        Some(SourceStatus::error(
            SourceKind::Nftables,
            Some(ns),
            format!("{why}; native nftables tables present: {tables_said}"),
        ))
    };
    let output = match started.and_then(run::Running::finish) {
        Ok(o) => o,
        Err(e) => return (None, fail(e.to_string())),
    };
    let mut value: serde_json::Value = match serde_json::from_str(&output.stdout) {
        Ok(v) => v,
        Err(e) => return (None, fail(format!("nft -j printed no valid JSON: {e}"))),
    };
    let v4 = read_families.contains(&IpFamily::V4);
    let v6 = read_families.contains(&IpFamily::V6);
    nft_json::drop_iptables_tables(&mut value, v4, v6);
    (
        Some(value),
        Some(SourceStatus::ok(SourceKind::Nftables, Some(ns))),
    )
}
