//! Which agents to ask: a list given by hand, or every node a swarm manager knows.

use crate::collect::docker;
use crate::collect::node::NodeOptions;

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
    /// Base URL.
    pub url: String,
}

/// Resolve the list to targets; with `auto`, a discovery failure is said in words.
pub(super) async fn targets(
    list: &AgentList,
    local: &NodeOptions,
) -> (Vec<AgentTarget>, Option<String>) {
    match list {
        AgentList::Urls(urls) => (
            urls.iter()
                .map(|u| AgentTarget {
                    name: String::new(),
                    url: u.clone(),
                })
                .collect(),
            None,
        ),
        AgentList::Auto { port, scheme } => match swarm_nodes(local).await {
            Ok(nodes) => {
                let targets = nodes
                    .into_iter()
                    .map(|(hostname, addr)| {
                        let host = if addr.contains(':') {
                            format!("[{addr}]")
                        } else {
                            addr
                        };
                        AgentTarget {
                            name: hostname,
                            url: format!("{scheme}://{host}:{port}"),
                        }
                    })
                    .collect();
                (targets, None)
            }
            Err(why) => (
                Vec::new(),
                Some(format!("cannot list the swarm's nodes: {why}")),
            ),
        },
    }
}

async fn swarm_nodes(local: &NodeOptions) -> Result<Vec<(String, String)>, String> {
    let client = docker::connect(local.docker.as_deref()).map_err(|e| e.to_string())?;
    let nodes = client
        .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
        .await
        .map_err(|e| format!("{e} (is this engine a swarm manager?)"))?;
    let mut out: Vec<(String, String)> = nodes
        .into_iter()
        .filter_map(|n| {
            let hostname = n.description.and_then(|d| d.hostname).unwrap_or_default();
            let addr = n.status.and_then(|s| s.addr)?;
            (!addr.is_empty()).then_some((hostname, addr))
        })
        .collect();
    out.sort();
    Ok(out)
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
}
