//! Shared fixtures for the integration tests.
#![allow(dead_code)]

pub mod agents;
pub mod browser;
pub mod diffcase;
pub mod engine;
pub mod fake_engine;
pub mod firewall;
pub mod netlab;
pub mod standin;
pub mod store;
pub mod swarm;

/// A fresh temporary directory (`dmt-<tag>-…` under the system's), removed on drop.
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("dmt-{tag}-"))
        .tempdir()
        .expect("a temporary directory")
}
