//! Which agents to ask: a list given by hand, or every node a swarm manager knows.

use std::time::Duration;

use crate::collect::docker;
use crate::collect::node::NodeOptions;
use crate::snapshot::node_address;

/// The agents to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentList {
    /// Agents by URL (`http://198.18.0.2:7879`).
    Urls(Vec<String>),
    /// Every node of the swarm the local engine manages, at this port and scheme.
    Auto {
        /// Agent port on every node.
        port: u16,
        /// `http` or `https`.
        scheme: String,
    },
}

impl AgentList {
    /// Parse the `--agents` value: `auto`, `auto:PORT`, `https-auto:PORT`, or comma-separated URLs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        for (prefix, scheme) in [("auto", "http"), ("https-auto", "https")] {
            if text == prefix {
                return Ok(AgentList::Auto {
                    port: DEFAULT_AGENT_PORT,
                    scheme: scheme.into(),
                });
            }
            if let Some(port) = text.strip_prefix(prefix).and_then(|r| r.strip_prefix(':')) {
                let port = port
                    .parse()
                    .map_err(|_| format!("bad port in --agents {text:?}"))?;
                return Ok(AgentList::Auto {
                    port,
                    scheme: scheme.into(),
                });
            }
        }
        let urls: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for u in &urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!("agent {u:?} is not an http:// or https:// URL"));
            }
        }
        Ok(AgentList::Urls(urls))
    }
}

/// The agent port when none is given.
pub const DEFAULT_AGENT_PORT: u16 = 7879;

/// One agent to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTarget {
    /// The node's name, when known before asking (swarm hostname); empty otherwise.
    pub name: String,
    /// The node's swarm ID, when known before asking; empty otherwise.
    pub node_id: String,
    /// Base URL.
    pub url: String,
}

/// Resolve the list to targets; with `auto`, a discovery failure (or no answer within
/// `deadline`) is said in words.
pub(super) async fn targets(
    list: &AgentList,
    local: &NodeOptions,
    deadline: Duration,
) -> Result<Vec<AgentTarget>, String> {
    match list {
        AgentList::Urls(urls) => Ok(urls
            .iter()
            .map(|u| AgentTarget {
                name: String::new(),
                node_id: String::new(),
                url: u.clone(),
            })
            .collect()),
        AgentList::Auto { port, scheme } => {
            let nodes = swarm_nodes(local, deadline)
                .await
                .map_err(|why| format!("cannot list the swarm's nodes: {why}"))?;
            Ok(nodes
                .into_iter()
                .map(|n| AgentTarget {
                    name: n.hostname,
                    node_id: n.id,
                    url: format!("{scheme}://{}:{port}", bracketed(&n.addr)),
                })
                .collect())
        }
    }
}

/// An address as the host part of a URL (IPv6 literals in brackets).
fn bracketed(addr: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_owned()
    }
}

/// Ask the engine for its node list, all within `deadline`: a hung engine must not hold up the
/// gather (bollard's own timeout is per request, and the connection probe blocks a thread).
async fn swarm_nodes(local: &NodeOptions, deadline: Duration) -> Result<Vec<Listed>, String> {
    let url = local.docker.clone();
    let listing = async move {
        // connect() pings the engine with blocking I/O: on a thread of its own the deadline can
        // give up on it (the thread ends by itself within the probe's own timeout).
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("dockmap-discover".into())
            .spawn(move || {
                let _ = tx.send(docker::connect(url.as_deref()));
            })
            .map_err(|e| format!("cannot start a thread to reach the engine: {e}"))?;
        let client = rx
            .await
            .map_err(|_| "the engine probe ended without an answer".to_owned())?
            .map_err(|e| e.to_string())?;
        client
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| format!("{e} (is this engine a swarm manager?)"))
    };
    let nodes = tokio::time::timeout(deadline, listing)
        .await
        .map_err(|_| {
            format!(
                "the engine did not list them within {} s",
                deadline.as_secs_f64()
            )
        })??;
    Ok(node_addresses(&nodes))
}

/// A node as the manager lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    hostname: String,
    id: String,
    /// Where to reach its agent.
    addr: String,
}

/// Every node with a usable address, sorted (by hostname, then ID: hostnames can be shared).
fn node_addresses(nodes: &[bollard::models::Node]) -> Vec<Listed> {
    let mut out: Vec<Listed> = nodes
        .iter()
        .filter_map(|n| {
            let hostname = n
                .description
                .as_ref()
                .and_then(|d| d.hostname.clone())
                .unwrap_or_default();
            let status = n.status.as_ref().and_then(|s| s.addr.as_deref());
            let manager = n.manager_status.as_ref().and_then(|m| m.addr.as_deref());
            let addr = node_address(status.unwrap_or(""), manager.unwrap_or(""))?;
            Some(Listed {
                hostname,
                id: n.id.clone().unwrap_or_default(),
                addr,
            })
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agent_lists() {
        assert_eq!(
            AgentList::parse("auto"),
            Ok(AgentList::Auto {
                port: 7879,
                scheme: "http".into()
            })
        );
        assert_eq!(
            AgentList::parse("https-auto:9000"),
            Ok(AgentList::Auto {
                port: 9000,
                scheme: "https".into()
            })
        );
        assert_eq!(
            AgentList::parse("http://198.18.0.2:7879, https://198.18.0.3:7879"),
            Ok(AgentList::Urls(vec![
                "http://198.18.0.2:7879".into(),
                "https://198.18.0.3:7879".into()
            ]))
        );
        assert!(AgentList::parse("198.18.0.2:7879").is_err());
        assert!(AgentList::parse("auto:x").is_err());
    }

    fn parsed(v: serde_json::Value) -> bollard::models::Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_manager_reporting_an_unusable_address_is_reached_at_its_manager_address() {
        let nodes = [
            parsed(
                serde_json::json!({"ID": "m1", "Description": {"Hostname": "node1"},
                "Status": {"State": "ready", "Addr": "0.0.0.0"},
                "ManagerStatus": {"Leader": true, "Addr": "198.18.0.11:2377"}}),
            ),
            parsed(
                serde_json::json!({"ID": "m2", "Description": {"Hostname": "node2"},
                "Status": {"State": "ready", "Addr": "127.0.0.1"},
                "ManagerStatus": {"Addr": "198.18.0.12:2377"}}),
            ),
            parsed(
                serde_json::json!({"ID": "w3", "Description": {"Hostname": "node3"},
                "Status": {"State": "ready", "Addr": "198.18.0.13"}}),
            ),
            parsed(
                serde_json::json!({"ID": "w4", "Description": {"Hostname": "node4"},
                "Status": {"State": "down", "Addr": "0.0.0.0"}}),
            ),
        ];
        assert_eq!(
            node_addresses(&nodes),
            [
                ("node1", "m1", "11"),
                ("node2", "m2", "12"),
                ("node3", "w3", "13")
            ]
            .map(|(h, id, a)| Listed {
                hostname: h.into(),
                id: id.into(),
                addr: format!("198.18.0.{a}"),
            })
            .to_vec(),
            "node4 has no usable address and is left out"
        );
        assert_eq!(
            node_address("", "[fd00::2]:2377").as_deref(),
            Some("fd00::2")
        );
        assert_eq!(node_address("::", "[::1]:2377"), None);
        assert_eq!(node_address("", ""), None);
    }
}
