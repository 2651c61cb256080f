//! The agent's snapshot: followed live (collected when the node changes, never per request), or
//! read from a file.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::collect::node::NodeOptions;
use crate::live::NodeFeed;

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
    feed: OnceCell<NodeFeed>,
}

impl SnapshotCache {
    pub(super) fn new(source: SnapshotSource) -> Self {
        Self {
            source,
            feed: OnceCell::new(),
        }
    }

    /// The live feed (started on first use, on the caller's runtime); `None` for a file.
    pub(super) async fn feed(&self) -> Option<&NodeFeed> {
        match &self.source {
            SnapshotSource::Live(opts) => Some(
                self.feed
                    .get_or_init(|| async { NodeFeed::start(opts.clone()) })
                    .await,
            ),
            SnapshotSource::File(_) => None,
        }
    }

    /// The latest live snapshot; `None` when serving a file or before the first collection.
    pub(super) async fn live_snapshot(&self) -> Option<Arc<crate::snapshot::NodeSnapshot>> {
        let feed = self.feed().await?;
        feed.first().await.map(|p| p.snapshot.clone())
    }

    /// The serialized snapshot and its generation: the feed's latest (the first request waits
    /// for the first collection), or the file as it is now (generation 0).
    pub(super) async fn get(&self) -> Result<(u64, Arc<Vec<u8>>), String> {
        match (&self.source, self.feed().await) {
            (_, Some(feed)) => {
                let p = feed
                    .first()
                    .await
                    .ok_or("the collector stopped before its first snapshot")?;
                Ok((p.generation, p.json.clone()))
            }
            (SnapshotSource::File(path), None) => tokio::fs::read(path)
                .await
                .map(|b| (0, Arc::new(b)))
                .map_err(|e| format!("reading {}: {e}", path.display())),
            (SnapshotSource::Live(_), None) => Err("no feed".into()),
        }
    }
}
