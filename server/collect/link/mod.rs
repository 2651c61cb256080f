//! Links, addresses, routes, neighbours, FDB and nsid map of every namespace over rtnetlink.
//!
//! Two phases. First every namespace is dumped (bounded concurrency, one socket each,
//! opened by [`socket::Opener`] on a dedicated thread). Then the namespaces whose links
//! point into other namespaces get their nsid map resolved ([`nsid`]), which needs
//! every namespace's links to pick likely candidates.

pub mod decode;
pub mod dump;
pub mod nsid;
pub mod socket;

use std::time::Duration;

use futures::stream::{self, StreamExt};

use crate::collect::netns::NsHandle;
use crate::collect::CollectError;
use crate::snapshot::{Address, FdbEntry, Link, NamespaceRole, Neighbour, NsIdMapping, Route};

use socket::Opener;

/// How many namespaces are read at once.
pub const CONCURRENCY: usize = 16;
/// How long one namespace may take per phase before it is given up.
const NS_DEADLINE: Duration = Duration::from_secs(20);

/// Kernel facts of one namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelFacts {
    /// Links (interfaces).
    pub links: Vec<Link>,
    /// IPv4 and IPv6 addresses.
    pub addresses: Vec<Address>,
    /// IPv4 and IPv6 routes of every table.
    pub routes: Vec<Route>,
    /// IPv4 and IPv6 neighbour entries.
    pub neighbours: Vec<Neighbour>,
    /// Bridge / VXLAN forwarding entries.
    pub fdb: Vec<FdbEntry>,
    /// The kernel-confirmed meaning of this namespace's nsids.
    pub nsids: Vec<NsIdMapping>,
    /// What was read only in part (undecodable messages, unresolved nsids); the rest is kept.
    pub problems: Vec<String>,
}

/// Read every namespace's kernel facts; one result per handle, in the same order.
pub async fn collect_all(handles: &[NsHandle]) -> Vec<Result<KernelFacts, CollectError>> {
    let opener = match Opener::start() {
        Ok(o) => o,
        Err(e) => {
            return handles
                .iter()
                .map(|_| Err(CollectError::Netlink(format!("no namespace reader: {e}"))))
                .collect()
        }
    };

    let mut results: Vec<Result<KernelFacts, CollectError>> =
        handles.iter().map(|_| Ok(KernelFacts::default())).collect();
    let read: Vec<(usize, Result<KernelFacts, CollectError>)> =
        stream::iter(handles.iter().enumerate())
            .map(|(i, h)| {
                let opener = &opener;
                async move {
                    let work = async {
                        let conn = opener.connect(h).await?;
                        dump::read_tables(&conn).await
                    };
                    (i, deadline(h, work).await)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    for (i, r) in read {
        results[i] = r;
    }

    let jobs = plan_nsid_jobs(handles, &results);
    let resolved: Vec<(usize, Result<Resolved, CollectError>)> = stream::iter(jobs)
        .map(|job| {
            let opener = &opener;
            async move {
                let h = &handles[job.me];
                let work = async {
                    let conn = opener.connect(h).await?;
                    Ok(nsid::resolve(&conn, handles, &job.wanted, &job.plan).await)
                };
                (job.me, deadline(h, work).await)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, r) in resolved {
        if let Ok(facts) = results[i].as_mut() {
            match r {
                Ok((map, problems)) => {
                    facts.nsids = map;
                    facts.problems.extend(problems);
                }
                Err(e) => facts.problems.push(format!("nsid map not read: {e}")),
            }
        }
    }
    results
}

/// A namespace's confirmed nsid mappings and what stayed unresolved.
type Resolved = (Vec<NsIdMapping>, Vec<String>);

/// One namespace's nsid questions.
struct NsidJob {
    me: usize,
    wanted: std::collections::BTreeSet<i32>,
    plan: nsid::QueryPlan,
}

fn plan_nsid_jobs(
    handles: &[NsHandle],
    results: &[Result<KernelFacts, CollectError>],
) -> Vec<NsidJob> {
    let links: Vec<Option<&[Link]>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|f| f.links.as_slice()))
        .collect();
    let index = nsid::PeerIndex::build(&links);
    let hosts: Vec<usize> = handles
        .iter()
        .enumerate()
        .filter(|(_, h)| h.role == NamespaceRole::Host)
        .map(|(i, _)| i)
        .collect();
    links
        .iter()
        .enumerate()
        .filter_map(|(me, l)| {
            let l = (*l)?;
            let wanted = nsid::referenced(l);
            if wanted.is_empty() {
                return None;
            }
            let plan = nsid::plan(me, handles.len(), index.candidates(me, l), &hosts);
            Some(NsidJob { me, wanted, plan })
        })
        .collect()
}

async fn deadline<T>(
    h: &NsHandle,
    work: impl std::future::Future<Output = Result<T, CollectError>>,
) -> Result<T, CollectError> {
    match tokio::time::timeout(NS_DEADLINE, work).await {
        Ok(r) => r,
        Err(_) => Err(CollectError::Netlink(format!(
            "namespace {}: no answer within {} s",
            h.name,
            NS_DEADLINE.as_secs()
        ))),
    }
}
