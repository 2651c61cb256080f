//! Retention: only the newest N scheduled snapshots stay; manual and uploaded ones always do.

use rusqlite::{params, Transaction};

/// Delete the scheduled snapshots older than the newest `keep`, and bytes no row names any
/// more; inside the caller's transaction. Returns how many snapshots went.
pub fn prune_scheduled(tx: &Transaction<'_>, keep: usize) -> rusqlite::Result<usize> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    let gone = tx.execute(
        "DELETE FROM snapshots WHERE kind = 'scheduled' AND seq NOT IN
           (SELECT seq FROM snapshots WHERE kind = 'scheduled' ORDER BY seq DESC LIMIT ?1)",
        params![keep],
    )?;
    if gone > 0 {
        tx.execute(
            "DELETE FROM blobs WHERE id NOT IN (SELECT id FROM snapshots)",
            [],
        )?;
    }
    Ok(gone)
}
