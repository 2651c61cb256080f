//! The cluster, live: each agent's change stream (`/v1/events`) is followed, and a node's
//! snapshot is fetched only when its agent says it changed. An agent whose stream goes silent for
//! longer than the deadline (it sends a heartbeat every 2 s) is shown stale at once, without
//! holding up the others; it comes back when its stream does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};

use crate::agent::{Token, EVENTS_PATH};
use crate::snapshot::{ClusterNode, ClusterSnapshot, CLUSTER_SCHEMA};

use super::{discover, fetch, settle, AgentTarget, FetchError, Gatherer, DISCOVERY};

/// How long to wait before connecting again to an agent whose stream ended.
const RECONNECT: Duration = Duration::from_secs(1);
/// How often `--agents auto` asks the manager for its node list again.
const REDISCOVER: Duration = Duration::from_secs(30);
/// How often an agent without a change stream is asked for its snapshot.
const POLL_OLD_AGENT: Duration = Duration::from_secs(2);
/// The longest line of a change stream: its events are a few dozen bytes.
const MAX_EVENT_LINE: usize = 4096;
/// Changes of several nodes within this long become one new picture.
const GATHER_BURST: Duration = Duration::from_millis(50);

/// Every node's latest entry, by agent URL, with its stamp.
type Entries = Arc<Mutex<BTreeMap<String, (ClusterNode, u64)>>>;

/// The last stamp given: each entry recorded gets a new one, unique in the process.
static STAMPS: AtomicU64 = AtomicU64::new(0);

fn new_stamp() -> u64 {
    STAMPS.fetch_add(1, Ordering::Relaxed) + 1
}

/// The cluster as followed, and each node's stamp by its source (agent URL): a node's stamp
/// changes whenever its entry is recorded anew, so an unchanged stamp means an unchanged
/// snapshot (what lets the graph keep that node's part).
pub struct FollowedCluster {
    /// Every node's latest entry; their snapshots are normalized already.
    pub cluster: ClusterSnapshot,
    /// Each node's stamp, by `ClusterNode::source`.
    pub stamps: HashMap<String, u64>,
}

impl Gatherer {
    /// Follow every agent's change stream until the process ends; [`Followed::next`] gives the
    /// cluster as it is once a node changed, went stale or came back.
    pub fn follow(self: Arc<Self>) -> Followed {
        let entries: Entries = Arc::default();
        let (changed_tx, changed_rx) = mpsc::unbounded_channel::<()>();
        let followed = Followed {
            entries: entries.clone(),
            changed: changed_rx,
        };
        tokio::spawn(async move {
            let mut followed: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
            loop {
                let found =
                    discover::targets(&self.opts.agents, &self.opts.local, self.opts.deadline)
                        .await;
                let (targets, failed) = self.targets_or_last(found).await;
                match failed {
                    Some(entry) => {
                        entries
                            .lock()
                            .await
                            .insert(DISCOVERY.into(), (entry, new_stamp()));
                        let _ = changed_tx.send(());
                    }
                    // Discovery works again: the picture drops its failure now, not at the next change.
                    None => {
                        if entries.lock().await.remove(DISCOVERY).is_some() {
                            let _ = changed_tx.send(());
                        }
                    }
                }
                // Nodes that left the swarm are no longer followed (nor drawn).
                let urls: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
                followed.retain(|url, task| {
                    let keep = urls.contains(url);
                    if !keep {
                        task.abort();
                    }
                    keep
                });
                {
                    let mut e = entries.lock().await;
                    e.retain(|url, _| url == DISCOVERY || urls.contains(url));
                }
                for t in targets {
                    if followed.contains_key(&t.url) {
                        continue;
                    }
                    let task = tokio::spawn(self.clone().follow_one(
                        t.clone(),
                        entries.clone(),
                        changed_tx.clone(),
                    ));
                    followed.insert(t.url.clone(), task);
                }
                if matches!(self.opts.agents, discover::AgentList::Urls(_)) {
                    // A fixed list never changes: nothing more to discover.
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(REDISCOVER).await;
            }
        });
        followed
    }

    /// Follow one agent: fetch when it says it changed, mark it stale when it goes silent.
    async fn follow_one(
        self: Arc<Self>,
        target: AgentTarget,
        entries: Entries,
        changed: mpsc::UnboundedSender<()>,
    ) {
        let token = self.opts.token.as_deref().and_then(Token::new);
        loop {
            let why = match self.stream(&target, token.as_ref()).await {
                Ok(mut resp) => {
                    let mut pending = String::new();
                    loop {
                        match tokio::time::timeout(self.opts.deadline, resp.chunk()).await {
                            Ok(Ok(Some(chunk))) => {
                                pending.push_str(&String::from_utf8_lossy(&chunk));
                                let wants = pending.contains("event: snapshot");
                                // Keep only an unfinished last line: events are small.
                                pending = pending.rsplit('\n').next().unwrap_or("").to_owned();
                                // An agent that never ends a line would grow it without bound.
                                if pending.len() > MAX_EVENT_LINE {
                                    break FetchError::Unreachable(format!(
                                        "change stream sent a line over {MAX_EVENT_LINE} bytes"
                                    ));
                                }
                                if wants {
                                    let r = fetch::fetch(
                                        &self.client,
                                        &target,
                                        token.as_ref(),
                                        self.opts.deadline,
                                    )
                                    .await;
                                    self.record(&target, r, &entries).await;
                                    let _ = changed.send(());
                                }
                            }
                            Ok(Err(e)) => {
                                break FetchError::Unreachable(format!("change stream broke: {e}"))
                            }
                            Ok(Ok(None)) => {
                                break FetchError::Unreachable("change stream ended".into())
                            }
                            Err(_) => break FetchError::Timeout(self.opts.deadline.as_secs_f64()),
                        }
                    }
                }
                // An agent from before change streams: ask it on a short cadence instead.
                Err(FetchError::Status(404, _)) => {
                    let r = fetch::fetch(&self.client, &target, token.as_ref(), self.opts.deadline)
                        .await;
                    self.record(&target, r, &entries).await;
                    let _ = changed.send(());
                    tokio::time::sleep(POLL_OLD_AGENT).await;
                    continue;
                }
                Err(e) => e,
            };
            self.record(&target, Err(why), &entries).await;
            let _ = changed.send(());
            tokio::time::sleep(RECONNECT).await;
        }
    }

    /// Open the agent's change stream.
    async fn stream(
        &self,
        target: &AgentTarget,
        token: Option<&Token>,
    ) -> Result<reqwest::Response, FetchError> {
        let url = format!("{}{EVENTS_PATH}", target.url.trim_end_matches('/'));
        let mut req = self.client.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t.as_str());
        }
        let resp = tokio::time::timeout(self.opts.deadline, req.send())
            .await
            .map_err(|_| FetchError::Timeout(self.opts.deadline.as_secs_f64()))?
            .map_err(|e| FetchError::Unreachable(e.to_string()))?;
        match resp.status().as_u16() {
            200 => Ok(resp),
            s @ (401 | 403) => Err(FetchError::Unauthorized(s)),
            s => Err(FetchError::Status(s, "no change stream".into())),
        }
    }

    /// Settle a node's outcome as a gather does (stale with its last good snapshot on failure).
    /// A snapshot is normalized here, once, not at each install of the cluster.
    async fn record(
        &self,
        target: &AgentTarget,
        result: Result<crate::snapshot::NodeSnapshot, FetchError>,
        entries: &Entries,
    ) {
        let result = result.map(|mut s| {
            s.normalize();
            s
        });
        let node = {
            let mut kept = self.kept.lock().await;
            settle(&mut kept, target.clone(), result)
        };
        entries
            .lock()
            .await
            .insert(target.url.clone(), (node, new_stamp()));
    }
}

/// The followed cluster, assembled when its reader asks: a big swarm's every node copied for each
/// burst of changes cost more than the installs that used a few of those copies.
pub struct Followed {
    entries: Entries,
    changed: mpsc::UnboundedReceiver<()>,
}

impl Followed {
    /// Wait for the next change (and the burst it starts), then the cluster as it is now; `None`
    /// once nothing follows the agents any more.
    pub async fn next(&mut self) -> Option<FollowedCluster> {
        self.changed.recv().await?;
        tokio::time::sleep(GATHER_BURST).await;
        while self.changed.try_recv().is_ok() {}
        let (mut nodes, stamps): (Vec<ClusterNode>, HashMap<String, u64>) = {
            let entries = self.entries.lock().await;
            let stamps = entries
                .values()
                .map(|(n, stamp)| (n.source.clone(), *stamp))
                .collect();
            (entries.values().map(|(n, _)| n.clone()).collect(), stamps)
        };
        super::name_silent_nodes(&mut nodes);
        // The order `ClusterSnapshot::normalize` gives; each snapshot was normalized when recorded.
        nodes.sort_by(|a, b| (&a.name, &a.source).cmp(&(&b.name, &b.source)));
        let cluster = ClusterSnapshot {
            schema: CLUSTER_SCHEMA.into(),
            taken_at: crate::snapshot::time::rfc3339_now(),
            duration_ms: 0,
            nodes,
        };
        Some(FollowedCluster { cluster, stamps })
    }
}
