//! The cluster: find the nodes, fetch every node's snapshot in parallel with a deadline, merge.
//!
//! One slow or broken agent never holds up the others: each fetch has its own
//! deadline, and a node that fails keeps its last good snapshot, marked stale.

mod discover;
mod fetch;
mod follow;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::agent::Token;
use crate::collect::node::{self, NodeOptions};
use crate::snapshot::{
    ClusterNode, ClusterSnapshot, NodeId, NodeSnapshot, NodeState, CLUSTER_SCHEMA,
};

pub use crate::snapshot::{node_address, url_host, DISCOVERY};
pub use discover::{AgentList, AgentTarget};
pub use fetch::{decode_answer, FetchError};
pub use follow::FollowedCluster;

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
    /// The targets of the last discovery that worked: asked again when discovery fails, so
    /// their nodes go stale with their kept snapshots instead of vanishing.
    last_targets: Mutex<Vec<AgentTarget>>,
}

impl Gatherer {
    /// A gatherer for these options.
    pub fn new(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let client = fetch::client(opts.ca_cert.as_deref())?;
        Ok(Self {
            opts,
            client,
            kept: Mutex::new(HashMap::new()),
            last_targets: Mutex::new(Vec::new()),
        })
    }

    /// Whether this gatherer asks agents (rather than collecting the local node).
    pub fn uses_agents(&self) -> bool {
        !matches!(&self.opts.agents, AgentList::Urls(u) if u.is_empty())
    }

    /// Gather every node once.
    pub async fn gather(&self) -> ClusterSnapshot {
        let started = Instant::now();
        let taken_at = crate::snapshot::time::rfc3339_now();
        let nodes = if self.uses_agents() {
            let discovered =
                discover::targets(&self.opts.agents, &self.opts.local, self.opts.deadline).await;
            self.gather_agents(discovered).await
        } else {
            let snap = node::collect(&self.opts.local).await;
            let mut n = ClusterNode::fresh(&snap, "local");
            n.snapshot = Some(snap);
            vec![n]
        };
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

impl Gatherer {
    /// Read a watched path's counters on the node whose agent is at `url`, within a second or
    /// the deadline, whichever is shorter (a watch reads every second).
    pub async fn counters(
        &self,
        url: &str,
        probes: &[crate::snapshot::counters::Probe],
    ) -> Result<Vec<crate::snapshot::counters::Reading>, FetchError> {
        let token = self.opts.token.as_deref().and_then(Token::new);
        let deadline = self.opts.deadline.min(Duration::from_secs(1));
        fetch::counters(&self.client, url, token.as_ref(), deadline, probes).await
    }

    /// Fetch every target found (or, when discovery failed, every target of the last discovery
    /// that worked, with an entry saying why discovery failed).
    async fn gather_agents(
        &self,
        discovered: Result<Vec<AgentTarget>, String>,
    ) -> Vec<ClusterNode> {
        let (targets, failed) = self.targets_or_last(discovered).await;
        let mut nodes: Vec<ClusterNode> = failed.into_iter().collect();
        let token = self.opts.token.as_deref().and_then(Token::new);
        let fetches = targets
            .iter()
            .map(|t| fetch::fetch(&self.client, t, token.as_ref(), self.opts.deadline));
        let results = futures::future::join_all(fetches).await;
        let mut kept = self.kept.lock().await;
        for (target, result) in targets.into_iter().zip(results) {
            nodes.push(settle(&mut kept, target, result));
        }
        name_silent_nodes(&mut nodes);
        nodes
    }
}

impl Gatherer {
    /// The targets discovery found (kept as the last good list), or, when it failed, the last
    /// good list and the entry that says why.
    async fn targets_or_last(
        &self,
        discovered: Result<Vec<AgentTarget>, String>,
    ) -> (Vec<AgentTarget>, Option<ClusterNode>) {
        match discovered {
            Ok(targets) => {
                *self.last_targets.lock().await = targets.clone();
                (targets, None)
            }
            Err(why) => {
                let failed = ClusterNode {
                    name: DISCOVERY.into(),
                    source: "auto".into(),
                    identity: String::new(),
                    state: NodeState::Unreachable,
                    error: why,
                    snapshot_taken_at: None,
                    age_s: None,
                    snapshot: None,
                };
                (self.last_targets.lock().await.clone(), Some(failed))
            }
        }
    }
}

/// Name nodes that never answered (so far called by their URL's `host:port`) by the hostname a
/// manager that did answer gives the node at that address: the graph then draws one host for
/// the node, and tunnels to its address end there.
fn name_silent_nodes(nodes: &mut [ClusterNode]) {
    let mut known: HashMap<String, (String, String)> = HashMap::new();
    for s in nodes.iter().filter_map(|n| n.snapshot.as_ref()) {
        for n in s.engine.iter().flat_map(|e| &e.nodes) {
            if let Some(addr) = node_address(&n.addr, &n.manager_addr) {
                if !n.hostname.is_empty() {
                    known
                        .entry(addr)
                        .or_insert_with(|| (n.hostname.clone(), n.id.clone()));
                }
            }
        }
    }
    for n in nodes.iter_mut().filter(|n| n.snapshot.is_none()) {
        let Some((name, id)) = url_host(&n.source).and_then(|h| known.get(&h)) else {
            continue;
        };
        if n.identity.is_empty() {
            if let Some(id) = NodeId::swarm(id) {
                n.identity = id.recorded();
            }
        }
        if n.name == url_authority(&n.source) {
            n.name = name.clone();
        }
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
                identity: String::new(),
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
            // Keyed as when it answered (or as its manager lists it), so its elements keep their IDs.
            let identity = previous
                .map(|k| NodeId::of(&k.snapshot))
                .or_else(|| NodeId::swarm(&target.node_id))
                .map(|id| id.recorded())
                .unwrap_or_default();
            let name = match (target.name.is_empty(), previous) {
                (false, _) => target.name.clone(),
                (true, Some(k)) => k.snapshot.node.hostname.clone(),
                (true, None) => url_authority(&target.url),
            };
            match previous {
                Some(k) if state == NodeState::Unreachable => ClusterNode {
                    name,
                    source: target.url.clone(),
                    identity: identity.clone(),
                    state: NodeState::Stale,
                    error: e.to_string(),
                    snapshot_taken_at: Some(k.snapshot.taken_at.clone()),
                    age_s: Some(k.fetched.elapsed().as_secs()),
                    snapshot: Some(k.snapshot.clone()),
                },
                _ => ClusterNode {
                    name,
                    source: target.url.clone(),
                    identity: identity.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{self, SnapshotSource};
    use crate::snapshot::{EngineFacts, NodeIdentity, SwarmNode, NODE_SCHEMA};

    /// A file removed on drop.
    struct TempFile(std::path::PathBuf);
    impl TempFile {
        fn new(tag: &str) -> Self {
            TempFile(std::env::temp_dir().join(format!("dmt-cluster-{tag}-{}", std::process::id())))
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn snapshot(host: &str) -> NodeSnapshot {
        NodeSnapshot {
            schema: NODE_SCHEMA.into(),
            node: NodeIdentity {
                hostname: host.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn auto() -> ClusterOptions {
        ClusterOptions {
            agents: AgentList::Auto {
                port: discover::DEFAULT_AGENT_PORT,
                scheme: "http".into(),
            },
            deadline: Duration::from_millis(300),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_failed_discovery_keeps_the_nodes_found_before_as_stale() {
        let file = TempFile::new("discovery-stale.json");
        std::fs::write(&file.0, serde_json::to_vec(&snapshot("n1")).unwrap()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = agent::router(None, SnapshotSource::File(file.0.clone()));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let g = Gatherer::new(auto()).unwrap();
        let found = vec![AgentTarget {
            name: "n1".into(),
            node_id: String::new(),
            url: format!("http://{addr}"),
        }];
        let first = g.gather_agents(Ok(found)).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].state, NodeState::Fresh);
        server.abort();
        let _ = server.await;
        let second = g
            .gather_agents(Err("cannot list the swarm's nodes: engine gone".into()))
            .await;
        let names: Vec<(&str, NodeState)> =
            second.iter().map(|n| (n.name.as_str(), n.state)).collect();
        assert_eq!(
            names,
            vec![
                (DISCOVERY, NodeState::Unreachable),
                ("n1", NodeState::Stale)
            ]
        );
        assert!(second[0].error.contains("engine gone"));
        assert_eq!(
            second[1]
                .snapshot
                .as_ref()
                .map(|s| s.node.hostname.as_str()),
            Some("n1"),
            "the kept snapshot is shown"
        );
    }

    #[tokio::test]
    async fn discovery_gives_up_on_a_hung_engine_at_the_deadline() {
        // An engine socket that takes connections and never answers.
        let sock = TempFile::new("hung-engine.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock.0).unwrap();
        let mut opts = auto();
        opts.local.docker = Some(format!("unix://{}", sock.0.display()));
        let c = Gatherer::new(opts).unwrap().gather().await;
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.nodes[0].name, DISCOVERY);
        // The engine probe's own timeout (5 s) would say "no answer within 5s".
        assert!(
            c.nodes[0].error.contains("did not list them within 0.3 s"),
            "{}",
            c.nodes[0].error
        );
    }

    #[test]
    fn a_node_that_never_answered_is_named_as_the_managers_list_names_its_address() {
        let mut manager = snapshot("node1");
        manager.engine = Some(EngineFacts {
            nodes: vec![SwarmNode {
                id: "n3".into(),
                hostname: "node3".into(),
                addr: "0.0.0.0".into(),
                manager_addr: "198.19.0.13:2377".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let silent = |url: &str| ClusterNode {
            name: url_authority(url),
            source: url.into(),
            identity: String::new(),
            state: NodeState::Unreachable,
            error: "unreachable".into(),
            snapshot_taken_at: None,
            age_s: None,
            snapshot: None,
        };
        let mut nodes = vec![
            ClusterNode {
                snapshot: Some(manager),
                state: NodeState::Fresh,
                name: "node1".into(),
                ..silent("http://198.19.0.11:7879")
            },
            silent("http://198.19.0.13:7879"),
            silent("http://198.19.0.14:7879"),
        ];
        name_silent_nodes(&mut nodes);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, vec!["node1", "node3", "198.19.0.14:7879"]);
        assert_eq!(
            url_host("https://[fd00::2]:7879/x").as_deref(),
            Some("fd00::2")
        );
        assert_eq!(url_host("auto"), None);
    }
}
