//! Every integration test, as modules of one test binary (`cargo test --test it`; one module:
//! `cargo test --test it kernel_graph::`). One binary links the library once instead of once per
//! file, which was most of a cold CI build. Tests of all modules run in parallel threads of one
//! process: nothing here may change process-wide state (environment, working directory).

mod support;

mod agent_cluster;
mod agent_faults;
mod browser_access;
mod browser_diff;
mod browser_engine;
mod browser_export;
mod browser_legible;
mod browser_live;
mod browser_page;
mod browser_path;
mod browser_reveal;
mod browser_store;
mod browser_tools;
mod browser_view;
mod cli_access;
mod cli_cluster;
mod cli_faults;
mod engine_api_versions;
mod engine_diff;
mod engine_docker;
mod engine_firewall_cache;
mod engine_snapshot;
mod firewall_collect;
mod firewall_parse;
mod firewall_published_ports;
mod fuzz_replay;
mod ipvs_collect;
mod ipvs_decode;
mod kernel_graph;
mod kernel_link;
mod kernel_switches;
mod kernel_xfrm;
mod live_cluster_parts;
mod live_counters;
mod live_engine;
mod live_kernel;
mod live_reuse;
mod path_engine;
mod path_ipv6;
mod path_mesh;
mod path_nftables;
mod path_walk;
mod readonly_proof;
mod store_crash;
mod store_faults;
mod swarm_cluster;
mod swarm_compare;
mod swarm_identity;
mod swarm_lab;
mod swarm_path;
mod swarm_stack;
mod web_access;
mod web_api;
mod web_compare;
mod web_paths;
mod web_scripts;
mod web_store_limits;
mod xfrm_decode;
