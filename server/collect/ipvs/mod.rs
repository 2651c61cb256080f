//! IPVS services per namespace over generic netlink.
//!
//! The socket is opened on a fresh thread inside the namespace, because IPVS
//! state is per namespace while the generic netlink family is global.

pub mod message;
pub mod reader;

use crate::collect::netns::{self, NsHandle};
use crate::snapshot::{IpvsState, SourceKind, SourceStatus};

pub use reader::{IpvsError, IpvsRead};

/// Why there is nothing to read when the kernel lacks IPVS.
pub const UNAVAILABLE_REASON: &str = "IPVS not available in this kernel (no genetlink family IPVS)";

/// Read the IPVS services and destinations of a namespace.
pub fn collect(ns: &NsHandle) -> (IpvsState, SourceStatus) {
    match netns::run_in(ns, reader::read_current_thread) {
        Ok(read) => state_of(read, &ns.name),
        Err(e) => vanished(ns, &e.to_string()),
    }
}

/// Read many namespaces, results in the order given.
///
/// The family is looked up once (generic netlink families are global); when the
/// kernel has no IPVS no namespace is entered at all. Otherwise one thread
/// visits every namespace in turn. Blocking: call it from a std thread or
/// `spawn_blocking`.
pub fn collect_many(nss: &[NsHandle]) -> Vec<(IpvsState, SourceStatus)> {
    let family = match reader::family_id(message::IPVS_GENL_NAME) {
        Ok(Some(family)) => family,
        Ok(None) => {
            return nss
                .iter()
                .map(|ns| state_of(Ok(IpvsRead::Unavailable), &ns.name))
                .collect()
        }
        Err(e) => {
            let why = e.to_string();
            return nss
                .iter()
                .map(|ns| {
                    (
                        IpvsState::NotRead,
                        SourceStatus::error(SourceKind::Ipvs, Some(&ns.name), why.clone()),
                    )
                })
                .collect();
        }
    };
    let visit = || -> Vec<(IpvsState, SourceStatus)> {
        nss.iter()
            .map(|ns| match netns::enter(ns.fd()) {
                Ok(()) => state_of(
                    reader::read_current_thread_with_family(family).map(IpvsRead::Services),
                    &ns.name,
                ),
                Err(e) => vanished(ns, &e.to_string()),
            })
            .collect()
    };
    let visited = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("netns-ipvs".to_owned())
            .spawn_scoped(scope, visit)
            .map_err(|e| e.to_string())
            .and_then(|h| h.join().map_err(|_| "the IPVS thread panicked".to_owned()))
    });
    visited.unwrap_or_else(|e| nss.iter().map(|ns| vanished(ns, &e)).collect())
}

fn vanished(ns: &NsHandle, why: &str) -> (IpvsState, SourceStatus) {
    (
        IpvsState::NotRead,
        SourceStatus::error(
            SourceKind::Ipvs,
            Some(&ns.name),
            format!(
                "namespace {} vanished or could not be entered: {why}",
                ns.name
            ),
        ),
    )
}

/// [`collect`] for a caller whose thread is already inside the namespace named `ns_name`.
pub fn collect_current_thread(ns_name: &str) -> (IpvsState, SourceStatus) {
    state_of(reader::read_current_thread(), ns_name)
}

fn state_of(read: Result<IpvsRead, IpvsError>, ns: &str) -> (IpvsState, SourceStatus) {
    match read {
        Ok(IpvsRead::Unavailable) => (
            IpvsState::Unavailable {
                reason: UNAVAILABLE_REASON.to_owned(),
            },
            SourceStatus::unavailable(SourceKind::Ipvs, Some(ns), UNAVAILABLE_REASON),
        ),
        Ok(IpvsRead::Services(services)) => {
            let mut state = IpvsState::Services { services };
            state.normalize();
            (state, SourceStatus::ok(SourceKind::Ipvs, Some(ns)))
        }
        Err(e) => (
            IpvsState::NotRead,
            SourceStatus::error(SourceKind::Ipvs, Some(ns), e.to_string()),
        ),
    }
}
