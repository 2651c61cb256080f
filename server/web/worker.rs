//! A thread that holds one snapshot's graph index and answers questions about it.
//!
//! Building the index of a big graph takes tens of milliseconds; every layout,
//! panel and search needs it. A worker builds it once per snapshot and keeps it
//! on its own stack (so it can borrow the graph), and requests send it closures.
//! When the snapshot is replaced the worker's channel closes and it ends.

use std::sync::mpsc;
use std::sync::Arc;

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

/// A worker thread bound to one generation.
pub struct Worker {
    tx: mpsc::Sender<Job>,
}

/// The worker is gone (its thread could not start or panicked).
#[derive(Debug, thiserror::Error)]
#[error("the {0} worker is not running")]
pub struct WorkerGone(pub &'static str);

impl Worker {
    /// Start a worker over `data`, named for the thread list.
    pub fn start(data: Arc<Data>, name: &'static str) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name(format!("dockmap-{name}"))
            .spawn(move || {
                let ix = GraphIndex::new(&data.graph);
                while let Ok(job) = rx.recv() {
                    job(&data, &ix);
                }
            });
        if let Err(e) = spawned {
            // The receiver died with the closure: every `run` will answer WorkerGone.
            eprintln!("dockmap: cannot start the {name} worker: {e}");
        }
        Self { tx }
    }

    /// Run `f` on the worker and wait (asynchronously) for its answer.
    pub async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T, WorkerGone>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Data, &GraphIndex<'a>) -> T + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |d, ix| {
                let _ = otx.send(f(d, ix));
            }))
            .map_err(|_| WorkerGone(what))?;
        orx.await.map_err(|_| WorkerGone(what))
    }
}
