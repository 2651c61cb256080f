//! The bulk dumps of one namespace: links, addresses, routes, neighbours, bridge FDB.

use netlink_packet_route::{
    address::AddressMessage, link::LinkMessage, neighbour::NeighbourMessage, route::RouteMessage,
    AddressFamily, RouteNetlinkMessage,
};

use super::decode;
use super::socket::{Dumped, RtConn};
use super::KernelFacts;
use crate::collect::CollectError;

/// Read every table of one namespace over its connection (no nsid map yet).
///
/// Dumps run one after another: the kernel serves one dump per socket at a time.
/// Links come first, because dumping a veth whose peer lives elsewhere is what makes
/// the kernel allocate the nsid the nsid queries later look up.
pub async fn read_tables(conn: &RtConn) -> Result<KernelFacts, CollectError> {
    let mut facts = KernelFacts::default();

    let links = conn
        .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
        .await?;
    note(&mut facts.problems, "links", &links);
    facts.links = links
        .messages
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(decode::link(l)),
            _ => None,
        })
        .collect();

    let addrs = conn
        .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
        .await?;
    note(&mut facts.problems, "addresses", &addrs);
    facts.addresses = addrs
        .messages
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => decode::address(a),
            _ => None,
        })
        .collect();

    // AF_UNSPEC asks every family for every table; multicast-routing families are dropped in decoding.
    let routes = conn
        .dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()))
        .await?;
    note(&mut facts.problems, "routes", &routes);
    facts.routes = routes
        .messages
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRoute(r) => decode::route(r),
            _ => None,
        })
        .collect();

    let neigh = conn
        .dump(RouteNetlinkMessage::GetNeighbour(
            NeighbourMessage::default(),
        ))
        .await?;
    note(&mut facts.problems, "neighbours", &neigh);
    facts.neighbours = neigh
        .messages
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => decode::neighbour(n),
            _ => None,
        })
        .collect();

    let mut fdb_req = NeighbourMessage::default();
    fdb_req.header.family = AddressFamily::Bridge;
    let fdb = conn
        .dump(RouteNetlinkMessage::GetNeighbour(fdb_req))
        .await?;
    note(&mut facts.problems, "bridge fdb", &fdb);
    facts.fdb = fdb
        .messages
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => decode::fdb(n),
            _ => None,
        })
        .collect();

    Ok(facts)
}

/// Say what a dump could not deliver cleanly.
fn note(problems: &mut Vec<String>, what: &str, d: &Dumped) {
    for u in &d.undecoded {
        problems.push(format!("{what}: undecodable {u}"));
    }
    if d.interrupted {
        problems.push(format!(
            "{what}: the kernel kept changing it during the dump; it may be inconsistent"
        ));
    }
}
