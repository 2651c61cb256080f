//! dockmap: collect a Docker host's networking facts, join them into a graph, serve it.
//!
//! Data flows one way: [`collect`] reads the kernel and the engine into a
//! [`snapshot::NodeSnapshot`] (plain data), [`graph`] derives elements, edges
//! and findings from it (pure functions), and [`web`] serves pages and JSON.

#![warn(missing_docs)]

#[macro_use]
mod wire;

pub mod agent;
pub mod assets;
pub mod cluster;
pub mod collect;
pub mod compare;
pub mod diff;
pub mod graph;
pub mod layout;
pub mod live;
pub mod names;
pub mod path;
pub mod query;
pub mod render;
pub mod share;
pub mod snapshot;
pub mod store;
pub mod synthetic;
pub mod web;

#[cfg(test)]
mod layering_tests;
