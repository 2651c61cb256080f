//! Stable element IDs: built from names that survive a restart, never from list positions.

use std::collections::HashMap;

use crate::snapshot::{Namespace, NsIdentity};

/// The host element of a node.
pub fn host(hostname: &str) -> String {
    format!("host:{hostname}")
}

/// A namespace on a host.
pub fn netns(hostname: &str, ns_name: &str) -> String {
    format!("netns:{hostname}/{ns_name}")
}

/// An interface, named within its namespace.
pub fn interface(hostname: &str, ns_name: &str, if_name: &str) -> String {
    format!("if:{hostname}/{ns_name}/{if_name}")
}

/// A container on a host, by name (names survive re-creation, so diffs line up).
pub fn container(hostname: &str, name: &str) -> String {
    format!("ctr:{hostname}/{name}")
}

/// A Docker network: swarm-scoped ones are one object across hosts, local ones are per host.
pub fn network(hostname: &str, scope: &str, name: &str) -> String {
    if scope == "swarm" {
        format!("net:{name}")
    } else {
        format!("net:{hostname}/{name}")
    }
}

/// A swarm service.
pub fn service(name: &str) -> String {
    format!("svc:{name}")
}

/// A swarm task.
pub fn task(id: &str) -> String {
    format!("task:{id}")
}

/// A remote underlay address (an FDB destination).
pub fn remote(addr: &str) -> String {
    format!("remote:{addr}")
}

/// An edge between two elements; `n` disambiguates parallel edges of one kind.
pub fn edge(kind: &str, source: &str, target: &str, n: usize) -> String {
    if n == 0 {
        format!("{kind}:{source}->{target}")
    } else {
        format!("{kind}:{source}->{target}#{n}")
    }
}

/// The host part of a node's element IDs when no other node of its picture claims its identity
/// (the short form of its swarm node ID, engine ID or machine ID; see [`super::NodeNames`]).
pub fn host_key(snap: &crate::snapshot::NodeSnapshot) -> String {
    crate::snapshot::NodeId::of(snap).short()
}

/// A display name per namespace, unique within the host (a clash gets the inode appended).
pub fn namespace_names(namespaces: &[Namespace]) -> HashMap<NsIdentity, String> {
    unique_names(
        namespaces,
        |ns| &ns.name,
        |ns| format!("{}@{}", ns.name, ns.id.ino),
    )
    .map(|(ns, name)| (ns.id, name))
    .collect()
}

/// Each item with its name, or where several share that name, the name `clash` makes for it.
pub(super) fn unique_names<'a, T>(
    items: &'a [T],
    name: impl Fn(&T) -> &str + 'a,
    clash: impl Fn(&T) -> String + 'a,
) -> impl Iterator<Item = (&'a T, String)> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for it in items {
        *count.entry(name(it)).or_default() += 1;
    }
    let shared: std::collections::HashSet<String> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k.to_owned())
        .collect();
    items.iter().map(move |it| {
        let own = name(it);
        let unique = if shared.contains(own) {
            clash(it)
        } else {
            own.to_owned()
        };
        (it, unique)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_namespace_names_get_their_inode() {
        let ns = |name: &str, ino: u64| Namespace {
            id: NsIdentity { dev: 4, ino },
            name: name.into(),
            ..Namespace::default()
        };
        let names = namespace_names(&[ns("host", 1), ns("x", 2), ns("x", 3)]);
        assert_eq!(names[&NsIdentity { dev: 4, ino: 1 }], "host");
        assert_eq!(names[&NsIdentity { dev: 4, ino: 2 }], "x@2");
        assert_eq!(names[&NsIdentity { dev: 4, ino: 3 }], "x@3");
    }
}
