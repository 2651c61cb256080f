//! What the server holds: the current snapshots, their graph, and the state of collection.
//!
//! Collection runs on its own thread with its own runtime, so a slow engine or
//! a big host never holds up a request; requests read the last complete
//! snapshot until a new one is swapped in whole.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cluster::{FollowedCluster, Gatherer};
use crate::collect::node::{self, NodeOptions};
use crate::graph;
use crate::snapshot::file::{self, SnapshotFile};
use crate::snapshot::{
    ClusterNode, ClusterSnapshot, NodeSnapshot, NodeState, SourceState, CLUSTER_SCHEMA,
};
use crate::store::SavedSnapshots;

use super::cache::RenderCache;
use super::error::{OpenError, WebError};
use super::worker::{Data, Worker};

/// Where snapshots come from.
#[derive(Debug, Clone)]
enum Source {
    /// Given once (tests, benches): refresh rebuilds from the same data.
    Fixed(Arc<Vec<NodeSnapshot>>, bool),
    /// A saved file, read again on refresh.
    File(PathBuf),
    /// This node, collected live.
    Collect(NodeOptions),
    /// Every node through its agent; the gatherer remembers each node's last good snapshot.
    Cluster(Arc<Gatherer>),
}

/// A node's entry as gathered, and where its snapshot is among the state's snapshots (nodes can
/// share a hostname, so only the position ties them).
pub type NodeEntry = (ClusterNode, Option<usize>);

/// Where a watched path's counters are read.
#[derive(Clone)]
pub enum CounterReader {
    /// On this host (the server collects its own node).
    Local,
    /// From each node's agent.
    Agents(Arc<Gatherer>),
    /// Nowhere, and why.
    Nowhere(&'static str),
}

/// How many saved snapshots stay open (graph and workers built) at once.
const KEEP_OPEN: usize = 4;

/// Key of the live snapshot in caches and ETags (saved ones use their ID).
pub const LIVE: &str = "live";

/// One complete, immutable state of the world.
pub struct Current {
    /// [`LIVE`], or the saved snapshot's ID: part of every cache key and ETag.
    pub key: String,
    /// Increases with every new snapshot; part of every cache key and ETag.
    pub generation: u64,
    /// The snapshots and their graph.
    pub data: Arc<Data>,
    /// Whether the source was a single snapshot object (so `/api/snapshot` answers in the same shape).
    pub single: bool,
    /// The newest `taken_at` among the snapshots.
    pub taken_at: String,
    /// Lays out views (slow for big views: kept apart from the quick questions).
    pub layouts: Worker,
    /// Answers panel and search questions.
    pub queries: Worker,
    /// Nodes of a cluster that did not answer fresh (stale, unreachable, unauthorized).
    pub node_problems: Vec<SourceReport>,
    /// Every node's entry as gathered, without its snapshot (that is in `data`, at the index
    /// given: nodes can share a hostname, so only the position ties them).
    pub nodes: Vec<NodeEntry>,
}

impl Current {
    /// The cluster snapshot this state was made from (what a save stores).
    pub fn cluster(&self) -> ClusterSnapshot {
        let nodes = self
            .nodes
            .iter()
            .map(|(n, at)| {
                let mut n = n.clone();
                n.snapshot = at.and_then(|i| self.data.snapshots.get(i)).cloned();
                n
            })
            .collect();
        ClusterSnapshot {
            schema: CLUSTER_SCHEMA.into(),
            taken_at: self.taken_at.clone(),
            duration_ms: 0,
            nodes,
        }
    }
}

/// What collection is doing, for the status bar.
#[derive(Debug, Clone, Default)]
struct Progress {
    running_since: Option<Instant>,
    last_duration: Option<Duration>,
    last_error: Option<String>,
}

struct Shared {
    source: Source,
    /// The local node followed live (`dockmap serve` without agents).
    feed: Mutex<Option<crate::live::NodeFeed>>,
    /// The agents' change streams are followed (`dockmap serve --agents`).
    following: Mutex<bool>,
    /// What changed with each new generation, for the pages following it (`/api/live`).
    updates: tokio::sync::broadcast::Sender<Arc<LiveUpdate>>,
    current: RwLock<Option<Arc<Current>>>,
    progress: Mutex<Progress>,
    cache: RenderCache,
    saved: RwLock<Option<Arc<dyn SavedSnapshots>>>,
    /// Saved snapshots opened lately, most recent last.
    opened: Mutex<Vec<Arc<Current>>>,
}

/// The server's state, cheap to clone into handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

/// What changed with one new generation of the live state, as `/api/live` sends it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveUpdate {
    /// The new generation.
    pub generation: u64,
    /// When its snapshot was taken.
    pub taken_at: String,
    /// The element changes (at most [`CHANGES_LISTED`]; `total` says how many there were).
    pub changes: Vec<crate::live::LiveChange>,
    /// How many elements changed in all.
    pub total: usize,
}

/// How many changes one update lists: a burst of hundreds is marked on the drawing, not listed.
pub const CHANGES_LISTED: usize = 50;

/// The status of the data, as `/api/status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// `collecting` (nothing to show yet), `refreshing` (showing the last one), `ready` or `failed`.
    pub state: &'static str,
    /// Generation of the snapshot shown (0: none yet).
    pub generation: u64,
    /// When the snapshot shown was taken.
    pub taken_at: String,
    /// How long the running collection has taken so far, in ms.
    pub running_ms: Option<u64>,
    /// How long the last collection took, in ms (to estimate progress).
    pub last_ms: Option<u64>,
    /// Why the last collection or load failed.
    pub error: Option<String>,
    /// Sources that were not read in full, per node.
    pub sources: Vec<SourceReport>,
    /// Element and edge counts.
    pub elements: usize,
    /// Edge count.
    pub edges: usize,
    /// `live`, `live, except: …` (what is not followed), or empty when the picture follows only
    /// refreshes (a saved file, fixed data).
    pub live: String,
}

/// One source that was not read in full, on one or more nodes (identical reports are merged).
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// Host names it was reported on.
    pub nodes: Vec<String>,
    /// Which source (`engine`, `ipvs`, ...).
    pub source: String,
    /// The namespace, when per namespace.
    pub namespace: Option<String>,
    /// `unavailable` or `error`.
    pub state: String,
    /// What happened.
    pub message: String,
}

impl AppState {
    fn new(source: Source) -> Self {
        Self {
            inner: Arc::new(Shared {
                source,
                feed: Mutex::new(None),
                following: Mutex::new(false),
                updates: tokio::sync::broadcast::channel(64).0,
                current: RwLock::new(None),
                progress: Mutex::new(Progress::default()),
                cache: RenderCache::default(),
                saved: RwLock::new(None),
                opened: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Serve these snapshots as they are (tests, benchmarks, saved files already read).
    pub fn fixed(snapshots: Vec<NodeSnapshot>) -> Self {
        let single = snapshots.len() == 1;
        let s = Self::new(Source::Fixed(Arc::new(snapshots.clone()), single));
        s.install(snapshots, single);
        s
    }

    /// Serve a saved snapshot file (a node snapshot, a JSON array of them, or a cluster
    /// snapshot); read it now.
    pub fn from_file(path: &Path) -> Result<Self, WebError> {
        let file = file::read(path)?;
        let s = Self::new(Source::File(path.to_owned()));
        s.install_file(file);
        Ok(s)
    }

    fn install_file(&self, file: SnapshotFile) {
        match file {
            SnapshotFile::Node(n) => self.install(vec![*n], true),
            SnapshotFile::Nodes(v) => self.install(v, false),
            SnapshotFile::Cluster(c) => self.install_cluster(c),
        }
    }

    /// Collect this node live; nothing to show until the first collection (start it with [`AppState::refresh`]).
    pub fn collecting(opts: NodeOptions) -> Self {
        Self::new(Source::Collect(opts))
    }

    /// Follow this node live (kernel and engine notifications): each change of the picture is
    /// installed as a new generation, and pages following `/api/live` hear what changed. Call
    /// inside a tokio runtime.
    pub fn live(opts: NodeOptions) -> Self {
        let s = Self::new(Source::Collect(opts.clone()));
        let feed = crate::live::NodeFeed::start(opts);
        let mut rx = feed.subscribe();
        if let Ok(mut f) = s.inner.feed.lock() {
            *f = Some(feed);
        }
        let me = s.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let published = rx.borrow_and_update().clone();
                if let Some(p) = published {
                    let me = me.clone();
                    // Building the graph and its workers is CPU work: off the async workers.
                    let _ = tokio::task::spawn_blocking(move || {
                        me.install(vec![(*p.snapshot).clone()], true);
                    })
                    .await;
                }
            }
        });
        s
    }

    /// Pages following the live state hear each update here.
    pub fn updates(&self) -> tokio::sync::broadcast::Receiver<Arc<LiveUpdate>> {
        self.inner.updates.subscribe()
    }

    /// State that follows the whole cluster through its agents' change streams: a node is
    /// fetched when its agent says it changed, and shown stale when its stream goes silent.
    /// Call inside a tokio runtime.
    pub fn gathering_live(gatherer: Gatherer) -> Self {
        let gatherer = Arc::new(gatherer);
        let s = Self::new(Source::Cluster(gatherer.clone()));
        // One install at a time, of the cluster as it is when the last one ended: installs
        // started side by side piled up on a big swarm (each builds the whole graph) and could
        // finish out of order.
        let mut followed = gatherer.clone().follow();
        let me = s.clone();
        tokio::spawn(async move {
            // Each node's part of the graph, kept between installs: a change on one node
            // rebuilds that node's part only.
            let mut parts = graph::NodeParts::default();
            while let Some(followed) = followed.next().await {
                let me = me.clone();
                let started = std::time::Instant::now();
                let mut kept = std::mem::take(&mut parts);
                // Building the graph and its workers is CPU work: off the async workers.
                let built = tokio::task::spawn_blocking(move || {
                    me.install_followed(followed, &mut kept);
                    kept
                })
                .await;
                // A panicked install loses the parts: the next builds every node.
                parts = built.unwrap_or_default();
                // At most two thirds of a core: on a big swarm an install (whole graph, changes)
                // takes a good part of a second, and installing back to back kept 1.5 cores busy
                // while changes queued anyway. What arrives meanwhile joins the next install; a
                // small swarm's installs take milliseconds, so its pause is as short.
                tokio::time::sleep(started.elapsed() / 2).await;
            }
        });
        if let Ok(mut f) = s.inner.following.lock() {
            *f = true;
        }
        s
    }

    /// State that gathers the whole cluster through its agents on every refresh.
    pub fn gathering(gatherer: Gatherer) -> Self {
        Self::new(Source::Cluster(Arc::new(gatherer)))
    }

    /// Where the counters of a path on the live state are read.
    pub fn counter_reader(&self) -> CounterReader {
        match &self.inner.source {
            Source::Collect(_) => CounterReader::Local,
            Source::Cluster(g) if g.uses_agents() => CounterReader::Agents(g.clone()),
            Source::Cluster(_) => CounterReader::Local,
            Source::Fixed(..) | Source::File(_) => CounterReader::Nowhere(
                "this server shows snapshot files: counters are read from running nodes (dockmap serve, or serve --agents)",
            ),
        }
    }

    /// The current state of the world, if any.
    pub fn current(&self) -> Option<Arc<Current>> {
        self.inner.current.read().ok().and_then(|c| c.clone())
    }

    /// The cache of rendered views.
    pub fn cache(&self) -> &RenderCache {
        &self.inner.cache
    }

    fn install(&self, snapshots: Vec<NodeSnapshot>, single: bool) {
        let source = match &self.inner.source {
            Source::File(_) => "file",
            Source::Fixed(..) => "fixed",
            _ => "local",
        };
        let (data, nodes, problems) = local_data(snapshots, source);
        self.swap_in(data, single, nodes, problems);
    }

    /// Install a gathered cluster: its graph carries the cross-node joins and node states.
    fn install_cluster(&self, mut cluster: ClusterSnapshot) {
        cluster.normalize();
        let (data, nodes, problems) = cluster_data(cluster, graph::build_cluster);
        self.swap_in(data, false, nodes, problems);
    }

    /// Install the followed cluster (its snapshots normalized when fetched), reusing the graph
    /// parts of the nodes whose snapshot did not change since the last install.
    fn install_followed(&self, followed: FollowedCluster, parts: &mut graph::NodeParts) {
        let FollowedCluster { cluster, stamps } = followed;
        let (data, nodes, problems) = cluster_data(cluster, |c| {
            parts.build(c, |n| stamps.get(&n.source).copied())
        });
        self.swap_in(data, false, nodes, problems);
    }

    fn swap_in(
        &self,
        data: Data,
        single: bool,
        nodes: Vec<NodeEntry>,
        node_problems: Vec<SourceReport>,
    ) {
        let mut update = None;
        // What changed is listed before the lock is taken (on a big swarm it takes a good part
        // of an install), against the generation shown now; again under the lock only if another
        // swap came in between.
        let shown = self.current();
        let listed = shown.as_ref().map(|before| {
            crate::live::changes::list(&before.data.graph, &data.graph, CHANGES_LISTED)
        });
        // The generation replaced, dropped once the lock is released: freeing a big swarm's
        // snapshots and graph takes long enough to stall every reader waiting on the lock.
        let mut replaced = None;
        if let Ok(mut cur) = self.inner.current.write() {
            let generation = cur.as_ref().map_or(1, |c| c.generation + 1);
            let next = Arc::new(make_current(
                LIVE.into(),
                generation,
                data,
                single,
                nodes,
                node_problems,
            ));
            if let Some(before) = cur.as_ref() {
                let (changes, total) = match (&shown, listed) {
                    (Some(s), Some(l)) if Arc::ptr_eq(s, before) => l,
                    _ => crate::live::changes::list(
                        &before.data.graph,
                        &next.data.graph,
                        CHANGES_LISTED,
                    ),
                };
                update = Some(LiveUpdate {
                    generation,
                    taken_at: next.taken_at.clone(),
                    changes,
                    total,
                });
            }
            replaced = cur.replace(next);
        }
        self.inner.cache.new_generation();
        if let Some(u) = update {
            // Nobody listening is fine.
            let _ = self.inner.updates.send(Arc::new(u));
        }
        // Freed after the pages heard: on a big swarm that takes a good part of an install.
        drop(shown);
        drop(replaced);
    }

    /// Let this server open saved snapshots by ID (permalinks, diffs, comparisons).
    pub fn set_saved(&self, saved: Arc<dyn SavedSnapshots>) {
        if let Ok(mut s) = self.inner.saved.write() {
            *s = Some(saved);
        }
    }

    /// The saved snapshots this server can open, if any.
    pub fn saved(&self) -> Option<Arc<dyn SavedSnapshots>> {
        self.inner.saved.read().ok().and_then(|s| s.clone())
    }

    /// The live state (`None`) or a saved snapshot opened by ID (its graph built once, then
    /// kept among the few opened last).
    pub async fn current_for(&self, id: Option<&str>) -> Result<Option<Arc<Current>>, OpenError> {
        let Some(id) = id.filter(|i| !i.is_empty() && *i != LIVE) else {
            return Ok(self.current());
        };
        if let Ok(mut open) = self.inner.opened.lock() {
            if let Some(pos) = open.iter().position(|c| c.key == id) {
                let hit = open.remove(pos);
                open.push(hit.clone());
                return Ok(Some(hit));
            }
        }
        let saved = self.saved().ok_or(OpenError::NoStore)?;
        let key = id.to_owned();
        let built = tokio::task::spawn_blocking(move || {
            let cluster = saved
                .load(&key)
                .map_err(|e| OpenError::Failed(key.clone(), e))?
                .ok_or_else(|| OpenError::NotFound(key.clone()))?;
            let mut cluster = cluster;
            cluster.normalize();
            let (data, nodes, problems) = cluster_data(cluster, graph::build_cluster);
            Ok::<_, OpenError>(make_current(key, 1, data, false, nodes, problems))
        })
        .await
        .map_err(|e| OpenError::Failed(id.to_owned(), e.to_string()))??;
        let cur = Arc::new(built);
        if let Ok(mut open) = self.inner.opened.lock() {
            open.retain(|c| c.key != id);
            if open.len() >= KEEP_OPEN {
                open.remove(0);
            }
            open.push(cur.clone());
        }
        Ok(Some(cur))
    }

    /// Start a new collection (or re-read) in the background; false when one is already running.
    pub fn refresh(&self) -> bool {
        if let Some(feed) = self.inner.feed.lock().ok().and_then(|f| f.clone()) {
            feed.resync();
            return true;
        }
        {
            let Ok(mut p) = self.inner.progress.lock() else {
                return false;
            };
            if p.running_since.is_some() {
                return false;
            }
            p.running_since = Some(Instant::now());
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("dockmap-collect".into())
            .spawn(move || me.run_refresh());
        if let Err(e) = spawned {
            self.finish(Some(format!("cannot start the collector thread: {e}")));
            return false;
        }
        true
    }

    fn run_refresh(&self) {
        let outcome: Result<(Vec<NodeSnapshot>, bool), String> = match &self.inner.source {
            Source::Fixed(snaps, single) => Ok(((**snaps).clone(), *single)),
            Source::File(path) => match file::read(path) {
                Ok(file) => {
                    self.install_file(file);
                    self.finish(None);
                    return;
                }
                Err(e) => Err(e.to_string()),
            },
            Source::Cluster(gatherer) => {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        let cluster = rt.block_on(gatherer.gather());
                        self.install_cluster(cluster);
                        self.finish(None);
                        return;
                    }
                    Err(e) => Err(format!("cannot start a runtime for gathering: {e}")),
                }
            }
            Source::Collect(opts) => {
                // A runtime of its own: collection may block, and must never stall request handling.
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => Ok((vec![rt.block_on(node::collect(opts))], true)),
                    Err(e) => Err(format!("cannot start a runtime for collection: {e}")),
                }
            }
        };
        match outcome {
            Ok((snaps, single)) => {
                self.install(snaps, single);
                self.finish(None);
            }
            Err(e) => self.finish(Some(e)),
        }
    }

    fn finish(&self, error: Option<String>) {
        if let Ok(mut p) = self.inner.progress.lock() {
            p.last_duration = p.running_since.map(|t| t.elapsed());
            p.running_since = None;
            p.last_error = error;
        }
    }

    /// Whether a collection is running.
    pub fn is_collecting(&self) -> bool {
        self.inner
            .progress
            .lock()
            .map(|p| p.running_since.is_some())
            .unwrap_or(false)
    }

    /// Sources not read in full in `cur`, identical reports merged across nodes.
    pub fn sources_of(&self, c: &Current) -> Vec<SourceReport> {
        let mut sources: Vec<SourceReport> = c.node_problems.clone();
        let refs: Vec<&NodeSnapshot> = c.data.snapshots.iter().collect();
        let names = graph::NodeNames::new(&refs);
        for s in &c.data.snapshots {
            let label = names.label(s).to_owned();
            for st in s.sources.iter().filter(|x| x.state != SourceState::Ok) {
                let (source, state) = (st.source.as_str().to_owned(), st.state.as_str().to_owned());
                let same = sources.iter_mut().find(|r| {
                    r.source == source
                        && r.state == state
                        && r.namespace == st.namespace
                        && r.message == st.message
                });
                match same {
                    Some(r) => r.nodes.push(label.clone()),
                    None => sources.push(SourceReport {
                        nodes: vec![label.clone()],
                        source,
                        namespace: st.namespace.clone(),
                        state,
                        message: st.message.clone(),
                    }),
                }
            }
        }
        sources
    }

    /// `live`, `live, except: …`, or empty where the picture follows only refreshes.
    fn live_summary(&self, cur: Option<&Current>) -> String {
        if let Some(feed) = self.inner.feed.lock().ok().and_then(|f| f.clone()) {
            return feed.status().summary();
        }
        if !self.inner.following.lock().is_ok_and(|f| *f) {
            return String::new();
        }
        let behind: Vec<String> = cur
            .map(|c| {
                c.nodes
                    .iter()
                    .filter(|(n, _)| n.state != NodeState::Fresh)
                    .map(|(n, _)| n.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if behind.is_empty() {
            "live".into()
        } else {
            format!("live, except: no stream from {}", behind.join(", "))
        }
    }

    /// The status for the status bar.
    pub fn status(&self) -> StatusReport {
        let p = self
            .inner
            .progress
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        let cur = self.current();
        let state = match (&cur, p.running_since.is_some(), &p.last_error) {
            (None, true, _) => "collecting",
            (Some(_), true, _) => "refreshing",
            (_, false, Some(_)) => "failed",
            (Some(_), false, None) => "ready",
            (None, false, None) => "collecting",
        };
        let sources = cur.as_ref().map(|c| self.sources_of(c)).unwrap_or_default();
        StatusReport {
            state,
            generation: cur.as_ref().map_or(0, |c| c.generation),
            taken_at: cur.as_ref().map(|c| c.taken_at.clone()).unwrap_or_default(),
            running_ms: p.running_since.map(|t| t.elapsed().as_millis() as u64),
            last_ms: p.last_duration.map(|d| d.as_millis() as u64),
            error: p.last_error,
            sources,
            elements: cur.as_ref().map_or(0, |c| c.data.graph.elements.len()),
            edges: cur.as_ref().map_or(0, |c| c.data.graph.edges.len()),
            live: self.live_summary(cur.as_deref()),
        }
    }
}

/// The data of snapshots read or collected here: every node fresh.
fn local_data(
    mut snapshots: Vec<NodeSnapshot>,
    source: &str,
) -> (Data, Vec<NodeEntry>, Vec<SourceReport>) {
    let graph = graph::derive(&mut snapshots);
    let nodes = snapshots
        .iter()
        .enumerate()
        .map(|(i, s)| (ClusterNode::fresh(s, source), Some(i)))
        .collect();
    (Data { snapshots, graph }, nodes, Vec::new())
}

/// The data of a gathered (or saved) cluster, normalized: its graph (by `build`) carries the
/// cross-node joins and node states; nodes that did not answer fresh become status-bar reports.
fn cluster_data(
    cluster: ClusterSnapshot,
    build: impl FnOnce(&ClusterSnapshot) -> graph::Graph,
) -> (Data, Vec<NodeEntry>, Vec<SourceReport>) {
    let graph = build(&cluster);
    let names = graph::NodeNames::of_cluster(&cluster);
    let problems = cluster
        .nodes
        .iter()
        .filter(|n| n.state != NodeState::Fresh)
        .map(|n| SourceReport {
            nodes: vec![names
                .entry(n)
                .map_or_else(|| n.name.clone(), |x| x.label.clone())],
            source: "agent".into(),
            namespace: None,
            state: n.state.as_str().to_owned(),
            message: node_message(n),
        })
        .collect();
    let mut nodes = Vec::new();
    let mut snapshots = Vec::new();
    for mut n in cluster.nodes {
        let at = n.snapshot.take().map(|s| {
            snapshots.push(s);
            snapshots.len() - 1
        });
        nodes.push((n, at));
    }
    (Data { snapshots, graph }, nodes, problems)
}

/// Why a node is not fresh, for the status bar; a stale node says how old its picture is.
fn node_message(n: &ClusterNode) -> String {
    match (n.state, n.age_s) {
        (NodeState::Stale, Some(age)) => {
            format!("stale: last good snapshot {age} s old: {}", n.error)
        }
        _ => n.error.clone(),
    }
}

/// A state of the world with its workers started.
fn make_current(
    key: String,
    generation: u64,
    data: Data,
    single: bool,
    nodes: Vec<NodeEntry>,
    node_problems: Vec<SourceReport>,
) -> Current {
    let taken_at = data
        .snapshots
        .iter()
        .map(|s| s.taken_at.clone())
        .max()
        .unwrap_or_default();
    let data = Arc::new(data);
    let layouts = Worker::new(data.clone(), "layout");
    let queries = Worker::new(data.clone(), "query");
    Current {
        key,
        generation,
        data,
        single,
        taken_at,
        layouts,
        queries,
        node_problems,
        nodes,
    }
}
