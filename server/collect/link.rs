//! Links, addresses, routes, neighbours, FDB and nsid map of a namespace over rtnetlink.

use crate::snapshot::{Address, FdbEntry, Link, Neighbour, NsIdMapping, Route};

use super::netns::NsHandle;
use super::CollectError;

/// Kernel facts of one namespace.
#[derive(Debug, Default)]
pub struct KernelFacts {
    /// Links.
    pub links: Vec<Link>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Neighbours.
    pub neighbours: Vec<Neighbour>,
    /// FDB entries.
    pub fdb: Vec<FdbEntry>,
    /// nsid map.
    pub nsids: Vec<NsIdMapping>,
}

/// Read every namespace's kernel facts; one result per handle, in the same order.
pub async fn collect_all(handles: &[NsHandle]) -> Vec<Result<KernelFacts, CollectError>> {
    handles
        .iter()
        .map(|_| Err(CollectError::Netlink("not implemented yet".into())))
        .collect()
}
