//! Retention: only the newest N scheduled snapshots stay, and the store stays under its byte
//! limit by deleting scheduled snapshots oldest first; manual and uploaded ones are never
//! deleted by it (a save that cannot fit otherwise is refused).

use rusqlite::{params, Connection, Transaction};

use super::StoreError;

/// Bytes stored in blobs (compressed snapshots).
pub fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let used: i64 = conn.query_row(
        "SELECT COALESCE(SUM(LENGTH(bytes)), 0) FROM blobs",
        [],
        |r| r.get(0),
    )?;
    Ok(used.max(0) as u64)
}

/// Make room for `needed` more bytes under `max`, deleting the oldest scheduled snapshots as
/// far as needed, inside the caller's transaction; [`StoreError::Full`] when even deleting them
/// all would not do (then nothing is deleted: the caller's transaction rolls back). Returns how
/// many snapshots went.
pub fn make_room(tx: &Transaction<'_>, needed: u64, max: u64) -> Result<usize, StoreError> {
    let used = used_bytes(tx)?;
    if used.saturating_add(needed) <= max {
        return Ok(0);
    }
    let oldest: Vec<(i64, i64)> = {
        let mut st = tx.prepare(
            "SELECT s.seq, LENGTH(b.bytes) FROM snapshots s JOIN blobs b ON b.id = s.id
             WHERE s.kind = 'scheduled' ORDER BY s.seq ASC",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut freed = 0u64;
    let mut upto = None;
    for (seq, len) in &oldest {
        if used.saturating_sub(freed).saturating_add(needed) <= max {
            break;
        }
        freed += (*len).max(0) as u64;
        upto = Some(*seq);
    }
    if used.saturating_sub(freed).saturating_add(needed) > max {
        return Err(StoreError::Full {
            needed,
            used,
            max,
            freeable: freed,
        });
    }
    let Some(upto) = upto else {
        return Ok(0);
    };
    let gone = tx.execute(
        "DELETE FROM snapshots WHERE kind = 'scheduled' AND seq <= ?1",
        params![upto],
    )?;
    tx.execute(
        "DELETE FROM blobs WHERE id NOT IN (SELECT id FROM snapshots)",
        [],
    )?;
    Ok(gone)
}

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
