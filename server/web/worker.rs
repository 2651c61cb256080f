//! A thread that holds one snapshot's graph index and answers questions about it.
//!
//! Building the index of a big graph takes tens of milliseconds; every layout,
//! panel and search needs it. A worker builds it once per snapshot and keeps it
//! on its own stack (so it can borrow the graph), and requests send it closures.
//! When the snapshot is replaced the worker's channel closes and it ends.
//!
//! The thread and the index are made on the first question, not with the generation: a live
//! swarm installs many generations a second that nobody asks anything of, and each one started
//! two threads that each indexed the whole graph.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use crate::graph::Graph;
use crate::layout::GraphIndex;
use crate::snapshot::NodeSnapshot;

/// The facts of one generation, shared with its workers.
#[derive(Debug)]
pub struct Data {
    /// The node snapshots.
    pub snapshots: Vec<NodeSnapshot>,
    /// The derived graph.
    pub graph: Graph,
}

type Job = Box<dyn for<'a> FnOnce(&'a Data, &GraphIndex<'a>) + Send>;

/// A worker thread bound to one generation, started by its first question.
pub struct Worker {
    data: Arc<Data>,
    name: &'static str,
    tx: OnceLock<mpsc::Sender<Job>>,
}

/// The worker is gone (its thread could not start or panicked).
#[derive(Debug, thiserror::Error)]
#[error("the {0} worker is not running")]
pub struct WorkerGone(pub &'static str);

impl Worker {
    /// A worker over `data`, named for the thread list; its thread starts with the first `run`.
    pub fn new(data: Arc<Data>, name: &'static str) -> Self {
        Self {
            data,
            name,
            tx: OnceLock::new(),
        }
    }

    /// The channel to the worker's thread, started now if it is not running yet.
    fn sender(&self) -> &mpsc::Sender<Job> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let data = self.data.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("dockmap-{}", self.name))
                .spawn(move || {
                    let ix = GraphIndex::new(&data.graph);
                    while let Ok(job) = rx.recv() {
                        job(&data, &ix);
                    }
                });
            if let Err(e) = spawned {
                // The receiver died with the closure: every `run` will answer WorkerGone.
                eprintln!("dockmap: cannot start the {} worker: {e}", self.name);
            }
            tx
        })
    }

    /// Run `f` on the worker and wait (asynchronously) for its answer.
    pub async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T, WorkerGone>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Data, &GraphIndex<'a>) -> T + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.sender()
            .send(Box::new(move |d, ix| {
                let _ = otx.send(f(d, ix));
            }))
            .map_err(|_| WorkerGone(what))?;
        orx.await.map_err(|_| WorkerGone(what))
    }
}
