//! Scheduled snapshots (`dockmap serve --snapshot-every 10m --keep N`): on each tick, collect
//! again, then save what is shown as a `scheduled` snapshot; only the newest N are kept.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;

use super::state::AppState;

/// How often to look whether a refresh has finished.
const POLL: Duration = Duration::from_millis(100);

/// Take a snapshot every `every`, the first one an interval after the start.
pub fn start(
    app: AppState,
    store: Arc<Store>,
    every: Duration,
    keep: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        // A slow collection delays the next tick rather than firing a burst after it.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = take(&app, &store, keep).await {
                eprintln!("dockmap: scheduled snapshot: {e}");
            }
        }
    })
}

/// Refresh, wait for it, save.
async fn take(app: &AppState, store: &Arc<Store>, keep: usize) -> Result<(), String> {
    // If a collection is already running (a user's refresh), its result is as fresh as ours.
    app.refresh();
    while app.is_collecting() {
        tokio::time::sleep(POLL).await;
    }
    if let Some(e) = app.status().error {
        return Err(format!("not saved: the refresh failed: {e}"));
    }
    let cur = app.current().ok_or("not saved: nothing collected yet")?;
    let store = store.clone();
    let saved = tokio::task::spawn_blocking(move || store.save_scheduled(cur.cluster(), keep))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if saved.created {
        eprintln!("dockmap: scheduled snapshot {}", saved.meta.id);
    }
    Ok(())
}
