//! The cluster: find the nodes, fetch every node's snapshot in parallel with a deadline, merge.
//!
//! One slow or broken agent never holds up the others: each fetch has its own
//! deadline, and a node that fails keeps its last good snapshot, marked stale.

mod discover;
mod fetch;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::agent::Token;
use crate::collect::node::{self, NodeOptions};
use crate::snapshot::{ClusterNode, ClusterSnapshot, NodeSnapshot, NodeState, CLUSTER_SCHEMA};

pub use discover::{AgentList, AgentTarget};
pub use fetch::FetchError;

/// How the server gathers the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Which agents to ask; empty list: collect only the local node.
    pub agents: AgentList,
    /// How long one agent may take.
    pub deadline: Duration,
    /// The bearer token agents expect.
    pub token: Option<String>,
    /// A PEM CA certificate to trust for https agents (self-signed deployments).
    pub ca_cert: Option<std::path::PathBuf>,
    /// How to collect the local node (used when there are no agents, and for auto discovery's engine).
    pub local: NodeOptions,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            agents: AgentList::Urls(Vec::new()),
            deadline: Duration::from_secs(10),
            token: None,
            ca_cert: None,
            local: NodeOptions::default(),
        }
    }
}

/// Why gathering could not even start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The CA certificate could not be used.
    #[error("CA certificate {path}: {why}")]
    CaCert {
        /// The file.
        path: String,
        /// What was wrong.
        why: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

#[derive(Debug)]
struct Kept {
    snapshot: NodeSnapshot,
    fetched: Instant,
}

/// Gathers the cluster again and again, remembering each node's last good snapshot.
#[derive(Debug)]
pub struct Gatherer {
    opts: ClusterOptions,
    client: reqwest::Client,
    kept: Mutex<HashMap<String, Kept>>,
}

impl Gatherer {
    /// A gatherer for these options.
    pub fn new(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let client = fetch::client(opts.ca_cert.as_deref())?;
        Ok(Self {
            opts,
            client,
            kept: Mutex::new(HashMap::new()),
        })
    }

    /// Whether this gatherer asks agents (rather than collecting the local node).
    pub fn uses_agents(&self) -> bool {
        !matches!(&self.opts.agents, AgentList::Urls(u) if u.is_empty())
    }

    /// Gather every node once.
    pub async fn gather(&self) -> ClusterSnapshot {
        let started = Instant::now();
        let taken_at = node::rfc3339_now();
        let mut nodes = Vec::new();
        if !self.uses_agents() {
            let snap = node::collect(&self.opts.local).await;
            nodes.push(ClusterNode {
                name: snap.node.hostname.clone(),
                source: "local".into(),
                state: NodeState::Fresh,
                error: String::new(),
                snapshot_taken_at: Some(snap.taken_at.clone()),
                age_s: None,
                snapshot: Some(snap),
            });
        } else {
            let (targets, discovery_error) =
                discover::targets(&self.opts.agents, &self.opts.local).await;
            if let Some(why) = discovery_error {
                nodes.push(ClusterNode {
                    name: "(discovery)".into(),
                    source: "auto".into(),
                    state: NodeState::Unreachable,
                    error: why,
                    snapshot_taken_at: None,
                    age_s: None,
                    snapshot: None,
                });
            }
            let token = self.opts.token.as_deref().and_then(Token::new);
            let fetches = targets
                .iter()
                .map(|t| fetch::fetch(&self.client, t, token.as_ref(), self.opts.deadline));
            let results = futures::future::join_all(fetches).await;
            let mut kept = self.kept.lock().await;
            for (target, result) in targets.into_iter().zip(results) {
                nodes.push(settle(&mut kept, target, result));
            }
        }
        let mut cluster = ClusterSnapshot {
            schema: CLUSTER_SCHEMA.into(),
            taken_at,
            duration_ms: 0,
            nodes,
        };
        cluster.normalize();
        cluster.duration_ms = started.elapsed().as_millis() as u64;
        cluster
    }
}

/// `host:port` of an agent URL: what a node that never answered is called.
fn url_authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Turn one fetch's outcome into the node's entry, falling back to its last good snapshot.
fn settle(
    kept: &mut HashMap<String, Kept>,
    target: AgentTarget,
    result: Result<NodeSnapshot, FetchError>,
) -> ClusterNode {
    match result {
        Ok(snap) => {
            let name = if target.name.is_empty() {
                snap.node.hostname.clone()
            } else {
                target.name.clone()
            };
            let node = ClusterNode {
                name,
                source: target.url.clone(),
                state: NodeState::Fresh,
                error: String::new(),
                snapshot_taken_at: Some(snap.taken_at.clone()),
                age_s: None,
                snapshot: Some(snap.clone()),
            };
            kept.insert(
                target.url,
                Kept {
                    snapshot: snap,
                    fetched: Instant::now(),
                },
            );
            node
        }
        Err(e) => {
            let state = match e {
                FetchError::Unauthorized(_) => NodeState::Unauthorized,
                _ => NodeState::Unreachable,
            };
            let previous = kept.get(&target.url);
            let name = match (target.name.is_empty(), previous) {
                (false, _) => target.name.clone(),
                (true, Some(k)) => k.snapshot.node.hostname.clone(),
                (true, None) => url_authority(&target.url),
            };
            match previous {
                Some(k) if state == NodeState::Unreachable => ClusterNode {
                    name,
                    source: target.url.clone(),
                    state: NodeState::Stale,
                    error: e.to_string(),
                    snapshot_taken_at: Some(k.snapshot.taken_at.clone()),
                    age_s: Some(k.fetched.elapsed().as_secs()),
                    snapshot: Some(k.snapshot.clone()),
                },
                _ => ClusterNode {
                    name,
                    source: target.url.clone(),
                    state,
                    error: e.to_string(),
                    snapshot_taken_at: None,
                    age_s: None,
                    snapshot: None,
                },
            }
        }
    }
}
