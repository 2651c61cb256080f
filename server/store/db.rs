//! The SQLite file: its schema, and the settings that make every save all-or-nothing.
//!
//! Two tables: `blobs` holds each snapshot's bytes once (keyed by content ID), `snapshots`
//! one row of metadata per saved snapshot. Listing reads only the small rows.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blobs (
    id    TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE REFERENCES blobs(id),
    saved_at TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    label    TEXT NOT NULL DEFAULT '',
    kind     TEXT NOT NULL CHECK (kind IN ('manual', 'scheduled', 'uploaded')),
    nodes    TEXT NOT NULL,
    size     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_kind ON snapshots(kind, seq);
";

/// Open (creating if needed) the database file, in WAL mode with full syncs: a process killed
/// in the middle of a save leaves the last committed state, never a torn one.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let at = |reason| StoreError::Open {
        path: path.to_owned(),
        reason,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(at)?;
    // Another process (a second server on the same directory) may hold the write lock briefly.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(at)?;
    // Not a database at all shows here, on the first read.
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(at)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: path.to_owned(),
            found,
        });
    }
    // An existing store whose tables cannot be walked is damaged: found here, before anything
    // is written to it, so the server can go on without it and leave the file as it was.
    // (Counting walks the tables' pages but not the snapshots' bytes: cheap on a big store.)
    if found >= 1 {
        conn.query_row(
            "SELECT (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM blobs)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(at)?;
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(at)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(at)?;
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
    .map_err(at)?;
    Ok(conn)
}
