//! IPVS collection on a real namespace of this kernel (needs root).

use crate::support::firewall as firewall_support;

use std::os::fd::AsRawFd;

use dockmap::collect::ipvs::{self, reader, UNAVAILABLE_REASON};
use dockmap::snapshot::{IpvsState, SourceKind, SourceState};
use firewall_support::{have_root, run, TestNs};

/// Whether the kernel lists the generic netlink family IPVS, asked through iproute2's genl.
fn kernel_lists_ipvs() -> bool {
    run("genl", &["ctrl", "list"])
        .lines()
        .any(|l| l.trim() == "Name: IPVS")
}

#[test]
fn collect_reports_what_this_kernel_has() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    let (state, status) = ipvs::collect(&ns.handle());
    assert_eq!(status.source, SourceKind::Ipvs);
    assert_eq!(status.namespace.as_deref(), Some(ns.name.as_str()));
    if kernel_lists_ipvs() {
        // A fresh namespace has no virtual services.
        assert_eq!(state, IpvsState::Services { services: vec![] });
        assert_eq!(status.state, SourceState::Ok);
    } else {
        assert_eq!(
            state,
            IpvsState::Unavailable {
                reason: UNAVAILABLE_REASON.to_owned()
            }
        );
        assert_eq!(status.state, SourceState::Unavailable);
        assert_eq!(status.message, UNAVAILABLE_REASON);
    }
}

#[test]
fn family_lookup_finds_families_that_exist() {
    if !have_root() {
        return;
    }
    // The controller always has id 0x10; a made-up name has none. This shows the
    // request is well formed, so the IPVS answer above is the kernel's, not ours.
    assert_eq!(reader::family_id("nlctrl").unwrap(), Some(0x10));
    assert_eq!(reader::family_id("dmtnofamily").unwrap(), None);
    assert_eq!(
        reader::family_id("IPVS").unwrap().is_some(),
        kernel_lists_ipvs()
    );
}

#[test]
fn a_namespace_that_cannot_be_entered_is_said() {
    if !have_root() {
        return;
    }
    let ns = TestNs::new();
    let handle = ns.handle();
    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: dup2 onto an fd this test owns; the handle closes it on drop.
    assert!(unsafe { libc::dup2(null.as_raw_fd(), handle.fd()) } >= 0);
    let (state, status) = ipvs::collect(&handle);
    assert_eq!(state, IpvsState::NotRead);
    assert_eq!(status.state, SourceState::Error);
    assert!(status.message.contains("vanished"), "{}", status.message);
}

#[test]
fn many_namespaces_agree_with_one_by_one() {
    if !have_root() {
        return;
    }
    let a = TestNs::new();
    let b = TestNs::new();
    let handles = vec![a.handle(), b.handle()];
    let many = ipvs::collect_many(&handles);
    assert_eq!(many.len(), 2);
    for (h, (state, status)) in handles.iter().zip(&many) {
        assert_eq!(status.namespace.as_deref(), Some(h.name.as_str()));
        assert_eq!((state, status), (&ipvs::collect(h).0, &ipvs::collect(h).1));
    }
    let expected = if kernel_lists_ipvs() {
        SourceState::Ok
    } else {
        SourceState::Unavailable
    };
    assert_eq!(many[0].1.state, expected);
}
