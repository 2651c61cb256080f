//! One node, live: collect when the kernel or the engine says something changed (debounced),
//! publish a new generation only when the picture changed, and resync on a slow timer.
//!
//! Every publication is a collection of the whole node, so what is shown live is what a fresh
//! `dockmap snapshot` shows; what woke the round decides what the engine is asked again
//! ([`Reread`]): nothing after kernel-only changes, only the named containers' inspects after
//! engine events, everything on start, resync, lost notifications and a lost event stream. With
//! the rule cache a collection of an unchanged host starts no process, and at rest (no events)
//! nothing is collected at all but the slow resync.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::collect::node::{self, EngineReuse, NodeOptions};
use crate::graph;
use crate::snapshot::{EngineFacts, NodeSnapshot};

use super::reread::Reread;
use super::watch::{KernelWatch, Wake};

/// After a wake-up, wait this long for the rest of a burst before collecting.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// ...but never longer than this after the first wake-up: a steady stream still gets drawn.
const MAX_DELAY: Duration = Duration::from_millis(1000);
/// A full collection this often, with or without events: catches what sends none (legacy
/// iptables rules, a missed notification).
const RESYNC: Duration = Duration::from_secs(60);
/// Without kernel notifications, poll this often instead.
const POLL_WITHOUT_NOTIFICATIONS: Duration = Duration::from_secs(5);

/// One published state of the node.
#[derive(Debug)]
pub struct Published {
    /// Increases with every change of the picture (1 for the first collection).
    pub generation: u64,
    /// The snapshot.
    pub snapshot: Arc<NodeSnapshot>,
    /// The snapshot as JSON, serialized once for every reader.
    pub json: Arc<Vec<u8>>,
}

/// Why the feed is not fully live, in words; empty when it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveStatus {
    /// Why kernel changes are not followed (then it polls), if so.
    pub kernel: String,
    /// Why engine events are not followed, if so.
    pub engine: String,
    /// How many collections ran.
    pub collections: u64,
    /// How many of them published a new generation.
    pub published: u64,
    /// How many of them asked the engine for everything (no facts taken over).
    pub full: u64,
    /// How many containers the collections inspected, in all.
    pub inspected: u64,
}

impl LiveStatus {
    /// `live`, or why not.
    pub fn summary(&self) -> String {
        let why: Vec<&str> = [self.kernel.as_str(), self.engine.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if why.is_empty() {
            "live".into()
        } else {
            format!("live, except: {}", why.join("; "))
        }
    }
}

/// A node followed live; clones share one feed.
#[derive(Clone)]
pub struct NodeFeed {
    rx: watch::Receiver<Option<Arc<Published>>>,
    poke: UnboundedSender<Wake>,
    status: Arc<Mutex<LiveStatus>>,
    engine_status: Arc<Mutex<String>>,
}

impl NodeFeed {
    /// Start following this node on the current tokio runtime.
    pub fn start(opts: NodeOptions) -> NodeFeed {
        let (tx, rx) = watch::channel(None);
        let (poke, wakes) = unbounded_channel();
        let status = Arc::new(Mutex::new(LiveStatus::default()));
        let engine_status = Arc::new(Mutex::new(String::new()));
        if !opts.no_engine {
            tokio::spawn(super::engine::follow(
                opts.docker.clone(),
                poke.clone(),
                engine_status.clone(),
            ));
        }
        tokio::spawn(run(
            opts,
            tx,
            poke.clone(),
            wakes,
            status.clone(),
            engine_status.clone(),
        ));
        NodeFeed {
            rx,
            poke,
            status,
            engine_status,
        }
    }

    /// The latest publication, if any yet.
    pub fn latest(&self) -> Option<Arc<Published>> {
        self.rx.borrow().clone()
    }

    /// The first publication: waits for the first collection.
    pub async fn first(&self) -> Option<Arc<Published>> {
        let mut rx = self.rx.clone();
        rx.wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|p| p.clone())
    }

    /// A receiver that sees every new generation.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Published>>> {
        self.rx.clone()
    }

    /// Collect again now (a user's refresh).
    pub fn resync(&self) {
        let _ = self.poke.send(Wake::Overflow);
    }

    /// Why the feed is not fully live.
    pub fn status(&self) -> LiveStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        s.engine = self
            .engine_status
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        s
    }
}

async fn run(
    opts: NodeOptions,
    tx: watch::Sender<Option<Arc<Published>>>,
    poke: UnboundedSender<Wake>,
    mut wakes: UnboundedReceiver<Wake>,
    status: Arc<Mutex<LiveStatus>>,
    engine_status: Arc<Mutex<String>>,
) {
    let kernel = start_kernel_watch(poke, &status);
    let idle = if kernel.is_some() {
        RESYNC
    } else {
        POLL_WITHOUT_NOTIFICATIONS
    };
    let mut rounds = Rounds::new();
    let mut reread = Reread::Everything;
    loop {
        let followed = engine_status.lock().map(|s| s.is_empty()).unwrap_or(false);
        let reuse = rounds.reuse(reread, followed, idle);
        let full = matches!(reuse, EngineReuse::Nothing);
        let (snap, inspected) = node::collect_reusing(&opts, reuse).await;
        // Only facts read in full are taken over; after a partial read the next round asks again.
        rounds.last_engine = snap.engine.clone().filter(|e| e.problems.is_empty());
        if let Some(k) = &kernel {
            follow_namespaces(k, &opts, &snap, &status).await;
        }
        let g = graph::build(std::slice::from_ref(&snap));
        let changed = rounds
            .shown
            .as_ref()
            .is_none_or(|old| super::changes::differ(old, &g));
        if let Ok(mut st) = status.lock() {
            st.collections += 1;
            st.published += u64::from(changed);
            st.full += u64::from(full);
            st.inspected += inspected as u64;
        }
        if changed && !rounds.publish(snap, g, &tx) {
            return;
        }
        match next_round(&mut wakes, idle).await {
            Some(woke) => reread = Reread::of(&woke),
            None => return,
        }
    }
}

/// Follow the kernel's notifications, or say in `status` why the feed polls instead.
fn start_kernel_watch(
    poke: UnboundedSender<Wake>,
    status: &Mutex<LiveStatus>,
) -> Option<Arc<KernelWatch>> {
    match KernelWatch::start(poke) {
        Ok(k) => Some(Arc::new(k)),
        Err(e) => {
            if let Ok(mut s) = status.lock() {
                s.kernel = format!("kernel notifications unavailable ({e}): polling");
            }
            None
        }
    }
}

/// Watch the namespaces of this snapshot (off the runtime: it enters namespaces), and say in
/// `status` which could not be watched.
async fn follow_namespaces(
    kernel: &Arc<KernelWatch>,
    opts: &NodeOptions,
    snap: &NodeSnapshot,
    status: &Mutex<LiveStatus>,
) {
    let (k, s, dirs) = (kernel.clone(), snap.clone(), watch_dirs(opts, snap));
    let problems = tokio::task::spawn_blocking(move || {
        k.follow(&s, &dirs);
        k.problems.lock().map(|p| p.clone()).unwrap_or_default()
    })
    .await
    .unwrap_or_default();
    if let Ok(mut st) = status.lock() {
        st.kernel = if problems.is_empty() {
            String::new()
        } else {
            format!("not watched: {}", problems.join(", "))
        };
    }
}

/// What the feed carries from one round to the next.
struct Rounds {
    /// The last generation published.
    generation: u64,
    /// The graph of the last publication, to tell whether a new collection changed the picture.
    shown: Option<graph::Graph>,
    /// The engine's facts of the last round, when read in full.
    last_engine: Option<EngineFacts>,
    /// When the engine was last asked for everything.
    last_full: tokio::time::Instant,
}

impl Rounds {
    /// Before the first round.
    fn new() -> Rounds {
        Rounds {
            generation: 0,
            shown: None,
            last_engine: None,
            last_full: tokio::time::Instant::now(),
        }
    }

    /// What this round takes over from the engine's last facts; a round that takes nothing
    /// restarts the resync period.
    fn reuse(&mut self, reread: Reread, followed: bool, idle: Duration) -> EngineReuse {
        // Facts are taken over only while the engine's events are followed (a lost stream also
        // wakes with Overflow), and never past the resync period, however busy the node.
        let due = self.last_full.elapsed() >= idle;
        let reuse = match (reread, self.last_engine.take()) {
            (Reread::Kernel, Some(e)) if followed && !due => EngineReuse::All(e),
            (Reread::Engine(named), Some(e)) if followed && !due => {
                EngineReuse::Containers(e, named)
            }
            _ => EngineReuse::Nothing,
        };
        if matches!(reuse, EngineReuse::Nothing) {
            self.last_full = tokio::time::Instant::now();
        }
        reuse
    }

    /// Publish `snap` as the next generation; false when nobody can receive it any more.
    fn publish(
        &mut self,
        snap: NodeSnapshot,
        g: graph::Graph,
        tx: &watch::Sender<Option<Arc<Published>>>,
    ) -> bool {
        self.generation += 1;
        let json = serde_json::to_vec(&snap).unwrap_or_default();
        self.shown = Some(g);
        let published = Published {
            generation: self.generation,
            snapshot: Arc::new(snap),
            json: Arc::new(json),
        };
        !(tx.send(Some(Arc::new(published))).is_err() && tx.is_closed())
    }
}

/// Wait for a wake-up (or the idle timer), then for the rest of its burst; the wake-ups taken in
/// (none: the idle timer), or None when nobody can wake the feed any more.
async fn next_round(wakes: &mut UnboundedReceiver<Wake>, idle: Duration) -> Option<Vec<Wake>> {
    let mut woke = Vec::new();
    match tokio::time::timeout(idle, wakes.recv()).await {
        Ok(None) => return None,
        Ok(Some(w)) => woke.push(w),
        Err(_) => return Some(woke),
    }
    let until = tokio::time::Instant::now() + MAX_DELAY;
    loop {
        let quiet = tokio::time::Instant::now() + DEBOUNCE;
        match tokio::time::timeout_at(quiet.min(until), wakes.recv()).await {
            Ok(Some(w)) => {
                woke.push(w);
                if tokio::time::Instant::now() >= until {
                    return Some(woke);
                }
            }
            Ok(None) => return None,
            Err(_) => return Some(woke),
        }
    }
}

/// Where new namespace files appear: the user's directories, else the engine's and `ip netns`'s.
fn watch_dirs(opts: &NodeOptions, snap: &NodeSnapshot) -> Vec<PathBuf> {
    if !opts.netns_dirs.is_empty() {
        return opts.netns_dirs.clone();
    }
    let mut dirs = vec![PathBuf::from("/run/netns")];
    if let Some(d) = snap.engine.as_ref().and_then(|e| e.netns_dir.as_deref()) {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_a_thousand_wake_ups_is_one_round() {
        let (tx, mut rx) = unbounded_channel();
        for _ in 0..1000 {
            tx.send(Wake::Kernel).unwrap();
        }
        tx.send(Wake::Engine(Some("c1".into()))).unwrap();
        let woke = next_round(&mut rx, RESYNC).await.expect("a round");
        assert!(rx.is_empty(), "the whole burst was taken in by one round");
        assert_eq!(
            woke.len(),
            1001,
            "every wake-up of the burst decides what is read"
        );
        // Nothing more: the next round is the idle resync (no wake-ups: read everything), not a
        // redraw per event.
        let started = tokio::time::Instant::now();
        assert_eq!(next_round(&mut rx, RESYNC).await, Some(Vec::new()));
        assert!(started.elapsed() >= RESYNC);
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_is_still_collected_within_the_maximum_delay() {
        let (tx, mut rx) = unbounded_channel();
        let sender = tokio::spawn(async move {
            loop {
                if tx.send(Wake::Kernel).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let started = tokio::time::Instant::now();
        assert!(next_round(&mut rx, RESYNC).await.is_some());
        let took = started.elapsed();
        assert!(took <= MAX_DELAY + Duration::from_millis(60), "{took:?}");
        sender.abort();
    }

    #[tokio::test]
    async fn a_closed_channel_ends_the_feed() {
        let (tx, mut rx) = unbounded_channel::<Wake>();
        drop(tx);
        assert!(next_round(&mut rx, RESYNC).await.is_none());
    }
}
