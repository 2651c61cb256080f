//! Links, addresses, routes, neighbours, FDB and nsid map of every namespace over rtnetlink.
//!
//! Two phases. First every namespace is dumped (bounded concurrency, one socket each,
//! opened by [`socket::Opener`] on a dedicated thread). Then the namespaces whose links
//! point into other namespaces get their nsid map resolved ([`nsid`]), which needs
//! every namespace's links to pick likely candidates; they reuse their phase-1 socket
//! (a dup kept while the fd limit allows) rather than entering the namespace again.
//!
//! The caller holds one fd per [`NsHandle`]; this adds at most one socket per
//! namespace between the phases, bounded by RLIMIT_NOFILE minus a reserve.

pub mod decode;
pub mod dump;
pub mod nsid;
pub mod socket;

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::{self, StreamExt};

use crate::collect::netns::NsHandle;
use crate::collect::CollectError;
use crate::snapshot::{Address, FdbEntry, Link, NamespaceRole, Neighbour, NsIdMapping, Route};

use socket::{Opener, RtConn};

/// How many namespaces are read at once.
pub const CONCURRENCY: usize = 16;
/// File descriptors left for the rest of the process when keeping sockets between phases.
const FD_RESERVE: usize = 256 + 4 * CONCURRENCY;
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

    // A namespace whose nsids must be resolved keeps a dup of its socket for phase 2
    // (no second setns + socket), as long as the process's fd limit leaves room.
    let budget = AtomicUsize::new(socket::fd_budget(FD_RESERVE));
    let mut kept: Vec<Option<OwnedFd>> = handles.iter().map(|_| None).collect();
    let mut results: Vec<Result<KernelFacts, CollectError>> =
        handles.iter().map(|_| Ok(KernelFacts::default())).collect();
    // Streams over plain indices: items that borrow trip rustc's Send proof of the future.
    let read: Vec<(usize, Read)> = stream::iter(0..handles.len())
        .map(|i| read_one(&opener, &budget, i, &handles[i]))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, r) in read {
        results[i] = r.map(|(facts, spare)| {
            kept[i] = spare;
            facts
        });
    }

    let jobs = plan_nsid_jobs(handles, &results);
    let jobs: Vec<(NsidJob, Option<OwnedFd>)> = jobs
        .into_iter()
        .map(|job| {
            let spare = kept[job.me].take();
            (job, spare)
        })
        .collect();
    drop(kept);
    let resolved: Vec<(usize, Result<Resolved, CollectError>)> = stream::iter(jobs)
        .map(|(job, spare)| resolve_one(&opener, handles, job, spare))
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

/// Phase 1 for namespace `i`: open its socket, dump it, keep a spare socket if useful.
async fn read_one(opener: &Opener, budget: &AtomicUsize, i: usize, h: &NsHandle) -> (usize, Read) {
    let work = async {
        let fd = opener.open(h).await?;
        let spare = fd.try_clone().ok();
        let conn = RtConn::from_fd(fd, &h.name)?;
        let facts = dump::read_tables(&conn).await?;
        let needs_nsids = !nsid::referenced(&facts.links).is_empty();
        let keep = needs_nsids && take_one(budget);
        Ok((facts, spare.filter(|_| keep)))
    };
    (i, deadline(h, work).await)
}

/// Phase 2 for one namespace: ask it about the others, over its spare socket or a new one.
async fn resolve_one(
    opener: &Opener,
    handles: &[NsHandle],
    job: NsidJob,
    spare: Option<OwnedFd>,
) -> (usize, Result<Resolved, CollectError>) {
    let h = &handles[job.me];
    let work = async {
        let conn = match spare {
            Some(fd) => RtConn::from_fd(fd, &h.name)?,
            None => opener.connect(h).await?,
        };
        Ok(nsid::resolve(&conn, handles, &job.wanted, &job.plan).await)
    };
    (job.me, deadline(h, work).await)
}

/// Phase 1's outcome for one namespace: its facts and, maybe, a spare of its socket.
type Read = Result<(KernelFacts, Option<OwnedFd>), CollectError>;

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

/// Take one unit of `budget` if any is left.
fn take_one(budget: &AtomicUsize) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn collection_can_run_as_a_spawned_task() {
        // The node orchestrator spawns collectors on the runtime: the future must be Send.
        let handles: Vec<NsHandle> = Vec::new();
        let fut = collect_all(&handles);
        assert_send(&fut);
    }

    #[tokio::test]
    async fn no_namespaces_no_results() {
        assert!(collect_all(&[]).await.is_empty());
    }
}
