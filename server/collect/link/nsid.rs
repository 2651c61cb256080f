//! The nsid map: which namespace each `link_netnsid` of a namespace stands for.
//!
//! An nsid means something only inside the namespace that reported it, and only the
//! kernel knows the answer: we ask namespace A (RTM_GETNSID on A's socket, NETNSA_FD
//! = a candidate B) which id A gives B. A mapping is recorded only from such an answer.
//! To avoid N² questions on hosts with many namespaces, the likely B are asked first:
//! the namespaces holding the other end of one of A's veths (same ifindex pair seen
//! from both sides), then the host; the rest only for ids still unresolved.

use std::collections::{BTreeSet, HashMap};

use futures::stream::{self, StreamExt};
use netlink_packet_route::{
    nsid::{NsidAttribute, NsidMessage},
    RouteNetlinkMessage,
};

use super::socket::RtConn;
use crate::collect::netns::NsHandle;
use crate::snapshot::{Link, NsIdMapping};

/// How many nsid questions one namespace has in flight at once.
const QUERY_CONCURRENCY: usize = 32;
/// How many namespaces the blind fallback asks before checking whether it is done.
const FALLBACK_CHUNK: usize = 64;

/// The nsids a namespace's links refer to.
pub fn referenced(links: &[Link]) -> BTreeSet<i32> {
    links
        .iter()
        .filter_map(|l| l.link_netnsid)
        .filter(|n| *n >= 0)
        .collect()
}

/// Every namespace's links indexed by (ifindex, IFLA_LINK) for links that point into another namespace.
pub struct PeerIndex {
    by_pair: HashMap<(u32, u32), Vec<usize>>,
}

impl PeerIndex {
    /// Index the links of every namespace (`None` for namespaces that could not be read).
    pub fn build(all: &[Option<&[Link]>]) -> Self {
        let mut by_pair: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
        for (i, links) in all.iter().enumerate() {
            for l in links.iter().flat_map(|l| l.iter()) {
                if let (Some(peer), Some(_)) = (l.link, l.link_netnsid) {
                    by_pair.entry((l.ifindex, peer)).or_default().push(i);
                }
            }
        }
        Self { by_pair }
    }

    /// Namespaces that hold the far end of one of `links` (namespace `me`): a link whose
    /// ifindex is our link's IFLA_LINK and whose own IFLA_LINK is our link's ifindex.
    pub fn candidates(&self, me: usize, links: &[Link]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for l in links {
            let (Some(peer), Some(_)) = (l.link, l.link_netnsid) else {
                continue;
            };
            for &b in self.by_pair.get(&(peer, l.ifindex)).into_iter().flatten() {
                if b != me && seen.insert(b) {
                    out.push(b);
                }
            }
        }
        out
    }
}

/// The order in which namespace `me` asks about the others: `first` (likely) and `rest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlan {
    /// Namespaces likely to be the targets: veth far ends, then the host(s).
    pub first: Vec<usize>,
    /// Every other namespace (itself included), asked only while ids stay unresolved.
    pub rest: Vec<usize>,
}

/// Plan the questions for namespace `me` among `count` namespaces.
pub fn plan(me: usize, count: usize, candidates: Vec<usize>, hosts: &[usize]) -> QueryPlan {
    let mut asked = vec![false; count];
    let mut first = Vec::new();
    for i in candidates.into_iter().chain(hosts.iter().copied()) {
        if i < count && i != me && !asked[i] {
            asked[i] = true;
            first.push(i);
        }
    }
    let rest = (0..count).filter(|i| !asked[*i]).collect();
    QueryPlan { first, rest }
}

/// Ask namespace A (over `conn`) which nsid it gives each planned namespace.
///
/// Returns the confirmed mappings and what went wrong; stops asking once every id in
/// `wanted` is known.
pub async fn resolve(
    conn: &RtConn,
    handles: &[NsHandle],
    wanted: &BTreeSet<i32>,
    plan: &QueryPlan,
) -> (Vec<NsIdMapping>, Vec<String>) {
    let mut found: Vec<NsIdMapping> = Vec::new();
    let mut problems = Vec::new();
    let missing =
        |found: &Vec<NsIdMapping>| wanted.iter().any(|w| !found.iter().any(|m| m.nsid == *w));

    ask(conn, handles, &plan.first, &mut found, &mut problems).await;
    for chunk in plan.rest.chunks(FALLBACK_CHUNK) {
        if !missing(&found) {
            break;
        }
        ask(conn, handles, chunk, &mut found, &mut problems).await;
    }
    // An nsid left unresolved is a fact, not a failed read: its namespace is one nobody
    // asked dockmap to read (or already gone). The veth keeps its raw nsid and the graph
    // says its peer is unseen; counting it as a read error would blame the collector.
    found.sort_by_key(|m| (m.nsid, m.target));
    found.dedup();
    (found, problems)
}

async fn ask(
    conn: &RtConn,
    handles: &[NsHandle],
    targets: &[usize],
    found: &mut Vec<NsIdMapping>,
    problems: &mut Vec<String>,
) {
    // Plain indices as stream items: borrowed items trip rustc's Send proof of the future.
    let targets: Vec<usize> = targets
        .iter()
        .copied()
        .filter(|i| *i < handles.len())
        .collect();
    let answers: Vec<_> = stream::iter(targets)
        .map(|i| ask_one(conn, &handles[i]))
        .buffer_unordered(QUERY_CONCURRENCY)
        .collect()
        .await;
    for (b, answer) in answers {
        match answer {
            Ok(Some(nsid)) => found.push(NsIdMapping { nsid, target: b.id }),
            Ok(None) => {}
            Err(e) => problems.push(format!("nsid of namespace {}: {e}", b.name)),
        }
    }
}

/// One question, answered with the namespace it was about.
async fn ask_one<'a>(
    conn: &RtConn,
    b: &'a NsHandle,
) -> (
    &'a NsHandle,
    Result<Option<i32>, crate::collect::CollectError>,
) {
    (b, query(conn, b).await)
}

/// The id the connection's namespace gives `b`, or `None` when it gives it none.
async fn query(conn: &RtConn, b: &NsHandle) -> Result<Option<i32>, crate::collect::CollectError> {
    let mut msg = NsidMessage::default();
    // NETNSA_FD is resolved in our process's fd table while the kernel handles the request.
    msg.attributes = vec![NsidAttribute::Fd(b.fd() as u32)];
    let answer = conn.get(RouteNetlinkMessage::GetNsId(msg)).await?;
    Ok(nsid_answer(&answer.messages))
}

/// The id an RTM_GETNSID answer gives (none when the namespace has none there).
pub fn nsid_answer(messages: &[RouteNetlinkMessage]) -> Option<i32> {
    messages.iter().find_map(|m| match m {
        RouteNetlinkMessage::NewNsId(n) => n.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn veth(ifindex: u32, peer: u32, nsid: i32) -> Link {
        Link {
            ifindex,
            name: format!("v{ifindex}"),
            kind: "veth".into(),
            link: Some(peer),
            link_netnsid: Some(nsid),
            ..Link::default()
        }
    }

    fn lo() -> Link {
        Link {
            ifindex: 1,
            name: "lo".into(),
            ..Link::default()
        }
    }

    #[test]
    fn referenced_ids_skip_unassigned() {
        let links = vec![lo(), veth(2, 9, 4), veth(3, 9, 4), veth(5, 1, -1)];
        assert_eq!(referenced(&links).into_iter().collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn candidates_are_the_far_ends_seen_from_both_sides() {
        // ns0 (host) has v7 -> peer 2 in ns1 and v8 -> peer 2 in ns2.
        // ns1 has v2 -> peer 7; ns2 has v2 -> peer 8; ns3 has a v2 pointing elsewhere.
        let ns0 = vec![lo(), veth(7, 2, 0), veth(8, 2, 1)];
        let ns1 = vec![lo(), veth(2, 7, 0)];
        let ns2 = vec![lo(), veth(2, 8, 0)];
        let ns3 = vec![lo(), veth(2, 99, 0)];
        let all: Vec<Option<&[Link]>> = vec![Some(&ns0), Some(&ns1), Some(&ns2), Some(&ns3), None];
        let index = PeerIndex::build(&all);
        assert_eq!(index.candidates(0, &ns0), vec![1, 2]);
        assert_eq!(index.candidates(1, &ns1), vec![0]);
        assert_eq!(index.candidates(2, &ns2), vec![0]);
        assert!(index.candidates(3, &ns3).is_empty());
    }

    #[test]
    fn plan_asks_likely_first_then_the_rest_once() {
        let p = plan(2, 6, vec![4, 4, 2], &[0]);
        assert_eq!(p.first, vec![4, 0]);
        assert_eq!(p.rest, vec![1, 2, 3, 5]);
        // No candidate, no host: everyone (itself included) is in the fallback.
        let p = plan(0, 3, vec![], &[]);
        assert!(p.first.is_empty());
        assert_eq!(p.rest, vec![0, 1, 2]);
    }
}
