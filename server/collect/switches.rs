//! The kernel's switches of every namespace (sysctls) and the host's listening sockets, read on
//! one thread that enters each namespace in turn.

use std::path::Path;

use crate::collect::netns::{self, NsHandle};
use crate::collect::sockdiag::{self, SockDiagError};
use crate::collect::sysctl;
use crate::snapshot::{Listener, NamespaceRole, SourceKind, SourceStatus, Sysctls};

/// What was read in one namespace, and how it went (a status per source tried).
pub type SwitchesRead = (Option<Sysctls>, Option<Vec<Listener>>, Vec<SourceStatus>);

/// Sysctls of every namespace, listening sockets of the host's. Blocking.
pub fn collect_many(nss: &[NsHandle]) -> Vec<SwitchesRead> {
    netns::visit_each(
        nss,
        "netns-switches",
        |ns, entered| match entered {
            Ok(()) => read_here(ns),
            Err(e) => unread(
                ns,
                &format!("namespace {} could not be entered: {e}", ns.name),
            ),
        },
        unread,
    )
}

fn unread(ns: &NsHandle, why: &str) -> SwitchesRead {
    (
        None,
        None,
        vec![SourceStatus::error(SourceKind::Sysctl, Some(&ns.name), why)],
    )
}

/// Read the calling thread's namespace (which must be `ns`).
fn read_here(ns: &NsHandle) -> SwitchesRead {
    let mut st = Vec::new();
    let sysctls = match sysctl::read(Path::new(sysctl::PROC_SYS_NET)) {
        Ok(s) => Some(s),
        Err(e) => {
            st.push(SourceStatus::error(
                SourceKind::Sysctl,
                Some(&ns.name),
                e.to_string(),
            ));
            None
        }
    };
    let listeners = if ns.role == NamespaceRole::Host {
        match sockdiag::read_current_thread(Path::new("/proc")) {
            Ok(l) => Some(l),
            Err(SockDiagError::Unsupported) => {
                st.push(SourceStatus::unavailable(
                    SourceKind::Sockets,
                    Some(&ns.name),
                    SockDiagError::Unsupported.to_string(),
                ));
                None
            }
            Err(e) => {
                st.push(SourceStatus::error(
                    SourceKind::Sockets,
                    Some(&ns.name),
                    e.to_string(),
                ));
                None
            }
        }
    } else {
        None
    };
    (sysctls, listeners, st)
}
