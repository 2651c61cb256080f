//! Reading one namespace in two steps: start its tools, then gather and parse what they print.
//!
//! Split so that a caller can start the tools of many namespaces before
//! waiting for any of them.

use std::path::Path;

use super::cache::RuleCache;
use super::iptables_save::{parse_header, parse_iptables_save, SaveHeader};
use super::nft_json;
use super::plan::{
    only_iptables_nft, plan_family, plan_nftables, FamilyPlan, IpFamily, NativePlan, Report,
};
use super::probe::{NftGeneration, NftTable, TableProbe};
use super::run::{self, Running, Tools};
use super::{Collected, NO_RULES};
use crate::collect::netns::NsHandle;
use crate::collect::CollectError;
use crate::snapshot::{Firewall, SourceKind, SourceStatus, Table};

/// Starts a tool in the namespace being read: (tool name for messages, program, arguments).
pub(super) type Spawn<'a> = dyn Fn(&str, &Path, &[&str]) -> Result<Running, CollectError> + 'a;

/// Where reading a namespace stands after [`begin`].
pub(super) enum Stage<'a> {
    /// Unchanged since the cached read: nothing run.
    Cached(Collected),
    /// Proven to hold no tables: nothing run.
    Empty(Collected),
    /// Tools are running.
    Started(Box<Pending<'a>>),
}

/// A namespace whose tools are running.
pub(super) struct Pending<'a> {
    ns: &'a NsHandle,
    tools: &'a Tools,
    report: Report,
    families: Vec<(FamilyPlan, Result<Running, CollectError>)>,
    native: NativePlan,
    nft: Option<Result<Running, CollectError>>,
    cache_as: Option<NftGeneration>,
    /// Tool processes started so far.
    spawned: usize,
}

/// Decide from the table check what to run, and start it.
pub(super) fn begin<'a>(
    handle: &'a NsHandle,
    probe: &TableProbe,
    tools: &'a Tools,
    cache: Option<&RuleCache>,
    spawn: &Spawn<'_>,
) -> Stage<'a> {
    let ns = handle.name.as_str();
    let cache_as = probe
        .generation
        .filter(|_| cache.is_some() && only_iptables_nft(probe));
    if let (Some(cache), Some(generation)) = (cache, cache_as) {
        if let Some(firewall) = cache.get(generation) {
            return Stage::Cached((
                Some(firewall),
                vec![SourceStatus::ok(SourceKind::Iptables, Some(ns))],
            ));
        }
    }
    let mut report = Report::default();
    let plans: Vec<FamilyPlan> = [IpFamily::V4, IpFamily::V6]
        .into_iter()
        .filter_map(|family| plan_family(probe, family, &mut report))
        .collect();
    let native = plan_nftables(probe);
    if plans.is_empty() && matches!(native, NativePlan::None) {
        report.notes.push(NO_RULES.to_owned());
        return Stage::Empty((
            Some(Firewall::default()),
            vec![report.status(SourceKind::Iptables, ns)],
        ));
    }
    // Everything starts before anything is waited for: the tools run side by side.
    let families: Vec<(FamilyPlan, Result<Running, CollectError>)> = plans
        .into_iter()
        .map(|plan| {
            let names: Vec<&str> = plan.candidates.iter().map(String::as_str).collect();
            let started = match tools.find_any(&names) {
                Some(path) => spawn(&plan.tool(), &path, &[]),
                None => Err(CollectError::ToolMissing(plan.tool())),
            };
            (plan, started)
        })
        .collect();
    let nft = match native {
        NativePlan::None => None,
        NativePlan::Tables(_) | NativePlan::Unknown => Some(match tools.find("nft") {
            Some(path) => spawn("nft", &path, &["-j", "list", "ruleset"]),
            None => Err(CollectError::ToolMissing("nft".to_owned())),
        }),
    };
    let spawned = families
        .iter()
        .map(|(_, started)| started)
        .chain(nft.iter())
        .filter(|started| started.is_ok())
        .count();
    Stage::Started(Box::new(Pending {
        ns: handle,
        tools,
        report,
        families,
        native,
        nft,
        cache_as,
        spawned,
    }))
}

/// Wait for the tools of a namespace and parse what they printed; also how many tools were started in all.
pub(super) fn finish(pending: Pending<'_>, cache: Option<&RuleCache>) -> (Collected, usize) {
    let Pending {
        ns: handle,
        tools,
        mut report,
        families,
        mut native,
        mut nft,
        cache_as,
        mut spawned,
    } = pending;
    let ns = handle.name.as_str();
    let mut firewall = Firewall::default();
    let mut read_any = false;
    let mut read_families = Vec::new();
    let mut incompatible: Vec<NftTable> = Vec::new();
    for (plan, started) in families {
        let Some((tables, header)) = finish_family(started, &plan, &mut report) else {
            continue;
        };
        incompatible.extend(header.incompatible_tables.iter().map(|name| NftTable {
            family: plan.family.nfproto(),
            name: name.clone(),
        }));
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
    if !incompatible.is_empty() {
        // Native rules in a table named like an iptables one: only nft shows them.
        let names: Vec<String> = incompatible.iter().map(ToString::to_string).collect();
        report.notes.push(format!(
            "iptables-save cannot show {} (native nftables rules): read with nft",
            names.join(", ")
        ));
        if nft.is_none() {
            let started = match tools.find("nft") {
                Some(path) => run::start(handle, "nft", &path, &["-j", "list", "ruleset"]),
                None => Err(CollectError::ToolMissing("nft".to_owned())),
            };
            spawned += usize::from(started.is_ok());
            nft = Some(started);
            native = NativePlan::Tables(incompatible.clone());
        }
    }
    let keep: Vec<(String, String)> = incompatible
        .iter()
        .map(|t| (t.family_name(), t.name.clone()))
        .collect();
    let mut statuses = vec![];
    if let Some(started) = nft {
        let (ruleset, status) = finish_nftables(started, &native, &read_families, &keep, ns);
        read_any |= ruleset.is_some();
        firewall.nftables = ruleset;
        statuses.extend(status);
    }
    statuses.insert(0, report.status(SourceKind::Iptables, ns));
    firewall.normalize();
    if let (Some(cache), Some(generation)) = (cache, cache_as) {
        // nft JSON carries live counters: never serve it from the cache.
        if read_any && report.errors.is_empty() && firewall.nftables.is_none() {
            cache.put(generation, &firewall);
        }
    }
    ((read_any.then_some(firewall), statuses), spawned)
}

/// Wait for a save tool and parse its output; failures go into the report.
fn finish_family(
    started: Result<Running, CollectError>,
    plan: &FamilyPlan,
    report: &mut Report,
) -> Option<(Vec<Table>, SaveHeader)> {
    let output = match started.and_then(Running::finish) {
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

fn finish_nftables(
    started: Result<Running, CollectError>,
    plan: &NativePlan,
    read_families: &[IpFamily],
    keep: &[(String, String)],
    ns: &str,
) -> (Option<serde_json::Value>, Option<SourceStatus>) {
    let tables_said = match plan {
        NativePlan::Tables(t) => t
            .iter()
            .map(ToString::to_string)
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
    let output = match started.and_then(Running::finish) {
        Ok(o) => o,
        Err(e) => return (None, fail(e.to_string())),
    };
    let mut value: serde_json::Value = match serde_json::from_str(&output.stdout) {
        Ok(v) => v,
        Err(e) => return (None, fail(format!("nft -j printed no valid JSON: {e}"))),
    };
    nft_json::drop_iptables_tables(
        &mut value,
        read_families.contains(&IpFamily::V4),
        read_families.contains(&IpFamily::V6),
        keep,
    );
    (
        Some(value),
        Some(SourceStatus::ok(SourceKind::Nftables, Some(ns))),
    )
}
