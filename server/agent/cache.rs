//! The agent's snapshot: collected on demand, shared by requests that arrive together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::collect::node::{self, NodeOptions};

/// Requests within this long of a collection get its result instead of a new one.
const REUSE_FOR: Duration = Duration::from_secs(2);

/// Where the agent's snapshot comes from.
#[derive(Debug, Clone)]
pub enum SnapshotSource {
    /// Collect this node live.
    Live(NodeOptions),
    /// Serve a saved snapshot file (demos, scale tests).
    File(PathBuf),
}

pub(super) struct SnapshotCache {
    source: SnapshotSource,
    last: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl SnapshotCache {
    pub(super) fn new(source: SnapshotSource) -> Self {
        Self {
            source,
            last: Mutex::new(None),
        }
    }

    /// The serialized snapshot; holding the lock while collecting makes concurrent callers share one collection.
    pub(super) async fn get(&self) -> Result<Arc<Vec<u8>>, String> {
        let mut last = self.last.lock().await;
        if let Some((at, body)) = last.as_ref() {
            if at.elapsed() < REUSE_FOR {
                return Ok(body.clone());
            }
        }
        let body = match &self.source {
            SnapshotSource::Live(opts) => {
                let snap = node::collect(opts).await;
                serde_json::to_vec(&snap).map_err(|e| format!("serializing the snapshot: {e}"))?
            }
            SnapshotSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| format!("reading {}: {e}", path.display()))?,
        };
        let body = Arc::new(body);
        *last = Some((Instant::now(), body.clone()));
        Ok(body)
    }
}
