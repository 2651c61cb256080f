//! Two snapshots that differ in known ways, and a saved-snapshot store over a map, for the diff
//! tests: removing a container from a snapshot takes its sandbox, host-side veth and endpoints.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot};
use dockmap::store::SavedSnapshots;

/// Saved snapshots held in memory, by ID.
pub struct MapStore(pub HashMap<String, ClusterSnapshot>);

impl SavedSnapshots for MapStore {
    fn load(&self, id: &str) -> Result<Option<ClusterSnapshot>, String> {
        Ok(self.0.get(id).cloned())
    }
}

/// A store holding these snapshots under these IDs.
pub fn store(items: Vec<(&str, ClusterSnapshot)>) -> Arc<MapStore> {
    Arc::new(MapStore(
        items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

/// The snapshot without the container named `name`: its record, its sandbox namespace, the
/// host end of its veth and its endpoints in the networks' lists.
pub fn without_container(s: &NodeSnapshot, name: &str) -> NodeSnapshot {
    let mut s = s.clone();
    let engine = s.engine.as_mut().expect("engine facts");
    let c = engine
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
        .clone();
    engine.containers.retain(|x| x.id != c.id);
    for n in &mut engine.networks {
        n.endpoints.retain(|e| e.key != c.id);
    }
    let file = c.sandbox_key.trim_start_matches("/var");
    let sandbox = s
        .namespaces
        .iter()
        .find(|ns| {
            ns.paths
                .iter()
                .any(|p| p.trim_start_matches("/var") == file)
        })
        .unwrap_or_else(|| panic!("no sandbox for {name}"))
        .id;
    s.namespaces.retain(|ns| ns.id != sandbox);
    for ns in &mut s.namespaces {
        let nsids: Vec<i32> = ns
            .nsids
            .iter()
            .filter(|m| m.target == sandbox)
            .map(|m| m.nsid)
            .collect();
        let gone: Vec<u32> = ns
            .links
            .iter()
            .filter(|l| l.link_netnsid.is_some_and(|n| nsids.contains(&n)))
            .map(|l| l.ifindex)
            .collect();
        ns.links.retain(|l| !gone.contains(&l.ifindex));
        ns.addresses.retain(|a| !gone.contains(&a.ifindex));
        ns.fdb.retain(|f| !gone.contains(&f.ifindex));
        ns.neighbours.retain(|n| !gone.contains(&n.ifindex));
        ns.routes
            .retain(|r| !r.oif.is_some_and(|o| gone.contains(&o)));
        ns.nsids.retain(|m| m.target != sandbox);
    }
    s
}
