//! Shared fixtures for the integration tests.
#![allow(dead_code)]

pub mod agents;
pub mod browser;
pub mod diffcase;
pub mod engine;
pub mod fake_engine;
pub mod netlab;
pub mod store;
pub mod swarm;
