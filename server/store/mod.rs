//! The snapshot store: saved cluster snapshots in one SQLite file, content-addressed.
//!
//! A snapshot's ID is a hash of the bytes stored for it (see [`content`]), so saving the same
//! state twice stores it once. A second save of stored content adds nothing but may change the
//! row: a non-empty label replaces the old one, and a manual save or an upload makes a
//! scheduled snapshot permanent (retention never deletes it then). Every save is one
//! transaction (see [`db`]).

pub mod content;
pub mod db;
pub mod dirs;
pub mod every;
pub mod pack;
pub mod retention;
pub mod upload;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::snapshot::file::{self, FileError};
use crate::snapshot::ClusterSnapshot;

pub use content::{content_id, is_id};
pub use dirs::default_data_dir;
pub use every::parse_every;
pub use upload::DEFAULT_UPLOAD_LIMIT;

/// Snapshots kept apart from the live one, opened by ID (permalinks, diffs, comparisons): the
/// store, or whatever a test keeps them in.
pub trait SavedSnapshots: Send + Sync {
    /// The cluster snapshot saved as `id`; `Ok(None)` when there is none.
    fn load(&self, id: &str) -> Result<Option<ClusterSnapshot>, String>;
}

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "dockmap.sqlite";

/// The most bytes the store holds unless told (`--store-max-bytes`): 1 GiB.
pub const DEFAULT_STORE_MAX: u64 = 1 << 30;

/// The longest label kept, in characters.
pub const MAX_LABEL: usize = 200;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be made.
    #[error("cannot create the data directory {path}: {reason}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error (in the message, not a source: said once).
        reason: std::io::Error,
    },
    /// The database could not be opened (or is not a dockmap store).
    #[error("cannot open the snapshot store {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said (in the message, not a source: said once).
        reason: rusqlite::Error,
    },
    /// The database was written by a newer dockmap.
    #[error(
        "the snapshot store {path} has schema version {found}; this dockmap knows {}",
        db::SCHEMA_VERSION
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The file system refused WAL mode, so saves would not be crash-safe.
    #[error("the snapshot store {path} cannot use WAL mode (got {mode:?})")]
    NoWal {
        /// The file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// A query failed.
    #[error("snapshot store: {0}")]
    Db(#[from] rusqlite::Error),
    /// A snapshot could not be encoded.
    #[error("cannot encode the snapshot: {0}")]
    Encode(serde_json::Error),
    /// Stored bytes no longer decode (written by another build?).
    #[error("saved snapshot {id} does not decode: {source}")]
    Decode {
        /// The snapshot.
        id: String,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// The lock around the connection was poisoned by a panic.
    #[error("the snapshot store is unusable after an earlier panic")]
    Poisoned,
    /// A save that does not fit under `--store-max-bytes`, even with every scheduled snapshot
    /// deleted; nothing was stored or deleted.
    #[error(
        "no room in the snapshot store: this snapshot takes {needed} bytes (compressed), \
         {used} of the {max} bytes allowed (--store-max-bytes) are in use, and deleting every \
         scheduled snapshot would free only {freeable}; delete saved snapshots (the list page) \
         or raise --store-max-bytes"
    )]
    Full {
        /// The new snapshot's stored size.
        needed: u64,
        /// Bytes stored now.
        used: u64,
        /// The limit.
        max: u64,
        /// What deleting every scheduled snapshot would free.
        freeable: u64,
    },
    /// Compressing or decompressing a blob failed.
    #[error("saved snapshot {id}: {source}")]
    Pack {
        /// The snapshot.
        id: String,
        /// What the codec said.
        source: std::io::Error,
    },
}

/// Why an upload was not saved.
#[derive(Debug, thiserror::Error)]
pub enum UploadFailure {
    /// The file was refused (nothing stored).
    #[error(transparent)]
    Refused(#[from] FileError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a snapshot came to be saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Saved by a user (UI or API).
    Manual,
    /// Taken by `--snapshot-every`; subject to retention.
    Scheduled,
    /// Uploaded as a file.
    Uploaded,
}

impl Kind {
    /// Its name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Manual => "manual",
            Kind::Scheduled => "scheduled",
            Kind::Uploaded => "uploaded",
        }
    }

    fn parse(s: &str) -> Kind {
        match s {
            "scheduled" => Kind::Scheduled,
            "uploaded" => Kind::Uploaded,
            _ => Kind::Manual,
        }
    }
}

/// What the store knows about one saved snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Content ID (also the permalink's last part).
    pub id: String,
    /// When it was first saved, RFC 3339 UTC.
    pub saved_at: String,
    /// When the state was taken (the newest node's time).
    pub taken_at: String,
    /// The user's label (may be empty).
    pub label: String,
    /// manual, scheduled or uploaded.
    pub kind: Kind,
    /// Node names, in order.
    pub nodes: Vec<String>,
    /// Stored size in bytes.
    pub size: u64,
}

/// The outcome of a save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Saved {
    /// The snapshot's row after the save.
    #[serde(flatten)]
    pub meta: SnapshotMeta,
    /// False when this content was stored already (nothing new was written but the row).
    pub created: bool,
}

impl StoreError {
    /// Whether the file is damaged (not a database, or SQLite found it corrupt): the server
    /// can go on without it, and the file must be left as it is for the user to look at.
    pub fn is_damaged(&self) -> bool {
        let code = match self {
            StoreError::Open { reason, .. } => reason.sqlite_error_code(),
            StoreError::Db(e) => e.sqlite_error_code(),
            _ => None,
        };
        matches!(
            code,
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
        )
    }

    /// Whether the file system is full (SQLite's SQLITE_FULL): nothing was stored, and the
    /// store works again once there is room.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Db(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DiskFull)
    }
}

/// The store: one SQLite file in a data directory.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    max_bytes: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open the store in `dir` (created, private to its owner, if missing).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|reason| StoreError::Dir {
                path: dir.to_owned(),
                reason,
            })?;
        let path = dir.join(DB_FILE);
        let conn = db::open(&path)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            max_bytes: DEFAULT_STORE_MAX,
        })
    }

    /// The same store holding at most `max` bytes of snapshots (compressed, as stored).
    pub fn with_max_bytes(mut self, max: u64) -> Store {
        self.max_bytes = max;
        self
    }

    /// Bytes of snapshots stored (compressed), what `--store-max-bytes` bounds.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(retention::used_bytes(&*self.conn()?)?)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Save a snapshot (a manual save or an upload); see the module doc for repeated content.
    pub fn save(
        &self,
        cluster: ClusterSnapshot,
        kind: Kind,
        label: &str,
    ) -> Result<Saved, StoreError> {
        self.save_keeping(cluster, kind, label, None)
    }

    /// Save a scheduled snapshot and, in the same transaction, keep only the newest `keep`
    /// scheduled ones.
    pub fn save_scheduled(
        &self,
        cluster: ClusterSnapshot,
        keep: usize,
    ) -> Result<Saved, StoreError> {
        self.save_keeping(cluster, Kind::Scheduled, "", Some(keep))
    }

    fn save_keeping(
        &self,
        cluster: ClusterSnapshot,
        kind: Kind,
        label: &str,
        keep: Option<usize>,
    ) -> Result<Saved, StoreError> {
        // Encoding and hashing a big snapshot takes a while: done before the lock is taken.
        let entry = Entry::prepare(cluster, label)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT kind FROM snapshots WHERE id = ?1",
                params![entry.id],
                |r| r.get(0),
            )
            .optional()?;
        let created = match existing {
            None => {
                self.insert(&tx, &entry, kind)?;
                true
            }
            Some(old) => {
                entry.update(&tx, Kind::parse(&old), kind)?;
                false
            }
        };
        if let Some(keep) = keep {
            retention::prune_scheduled(&tx, keep)?;
        }
        tx.commit()?;
        let meta = match meta_of(&conn, &entry.id)? {
            Some(meta) => meta,
            // Pruned at once (keep = 0): say what was saved all the same.
            None => entry.into_meta(kind),
        };
        Ok(Saved { meta, created })
    }

    /// Store a snapshot not stored yet: its packed bytes, after making room, and its row.
    fn insert(&self, tx: &Transaction<'_>, entry: &Entry, kind: Kind) -> Result<(), StoreError> {
        let packed = pack::pack(&entry.bytes).map_err(|source| StoreError::Pack {
            id: entry.id.clone(),
            source,
        })?;
        // Refused here, the transaction rolls back: nothing stored, nothing pruned.
        retention::make_room(tx, packed.len() as u64, self.max_bytes)?;
        tx.execute(
            "INSERT OR REPLACE INTO blobs (id, bytes) VALUES (?1, ?2)",
            params![entry.id, packed],
        )?;
        tx.execute(
            "INSERT INTO snapshots (id, saved_at, taken_at, label, kind, nodes, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                entry.id,
                crate::snapshot::time::rfc3339_now(),
                entry.taken_at,
                entry.label,
                kind.as_str(),
                entry.nodes_json,
                entry.bytes.len() as i64
            ],
        )?;
        Ok(())
    }

    /// Check an uploaded file and, only if it is sound, save it (kind `uploaded`).
    pub fn upload(&self, bytes: &[u8], limit: usize, label: &str) -> Result<Saved, UploadFailure> {
        let file = file::parse(bytes, limit)?;
        Ok(self.save(file.into_cluster("upload"), Kind::Uploaded, label)?)
    }

    /// [`Store::upload`], letting go of the file's bytes once they are read into the model (a
    /// big upload is not held twice while it is stored).
    pub fn upload_owned(
        &self,
        bytes: Vec<u8>,
        limit: usize,
        label: &str,
    ) -> Result<Saved, UploadFailure> {
        let file = file::parse(&bytes, limit)?;
        drop(bytes);
        Ok(self.save(file.into_cluster("upload"), Kind::Uploaded, label)?)
    }

    /// Every saved snapshot, newest first.
    pub fn list(&self) -> Result<Vec<SnapshotMeta>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn.prepare(&format!("{SELECT_META} ORDER BY seq DESC"))?;
        let rows = st.query_map([], row_meta)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One snapshot's metadata.
    pub fn meta(&self, id: &str) -> Result<Option<SnapshotMeta>, StoreError> {
        if !is_id(id) {
            return Ok(None);
        }
        meta_of(&*self.conn()?, id)
    }

    /// The stored bytes of a snapshot (canonical JSON of its cluster snapshot).
    pub fn bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !is_id(id) {
            return Ok(None);
        }
        let stored: Option<Vec<u8>> = {
            let conn = self.conn()?;
            conn.query_row(
                "SELECT b.bytes FROM blobs b JOIN snapshots s ON s.id = b.id WHERE b.id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?
        };
        stored
            .map(pack::unpack)
            .transpose()
            .map_err(|source| StoreError::Pack {
                id: id.to_owned(),
                source,
            })
    }

    /// A saved snapshot, decoded.
    pub fn get(&self, id: &str) -> Result<Option<ClusterSnapshot>, StoreError> {
        match self.bytes(id)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Decode {
                    id: id.to_owned(),
                    source,
                }),
        }
    }

    /// Delete a snapshot; false when there was none.
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let gone = tx.execute("DELETE FROM snapshots WHERE id = ?1", params![id])?;
        tx.execute("DELETE FROM blobs WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(gone > 0)
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): `"ok"` when sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let conn = self.conn()?;
        let mut st = conn.prepare("PRAGMA integrity_check")?;
        let lines = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(lines.collect::<Result<Vec<_>, _>>()?.join("\n"))
    }
}

impl SavedSnapshots for Store {
    fn load(&self, id: &str) -> Result<Option<ClusterSnapshot>, String> {
        self.get(id).map_err(|e| e.to_string())
    }
}

const SELECT_META: &str = "SELECT id, saved_at, taken_at, label, kind, nodes, size FROM snapshots";

/// A snapshot ready to store: everything the rows need, taken from the model before the lock.
struct Entry {
    id: String,
    bytes: Vec<u8>,
    label: String,
    taken_at: String,
    nodes: Vec<String>,
    nodes_json: String,
}

impl Entry {
    /// Encode, hash and describe `cluster`, then let go of it: the model is not held while the
    /// bytes are packed.
    fn prepare(mut cluster: ClusterSnapshot, label: &str) -> Result<Entry, StoreError> {
        let bytes = content::canonical_bytes(&mut cluster).map_err(StoreError::Encode)?;
        let id = content_id(&bytes);
        let label = clean_label(label);
        let taken_at = if cluster.taken_at.is_empty() {
            cluster
                .snapshots()
                .iter()
                .map(|s| s.taken_at.clone())
                .max()
                .unwrap_or_default()
        } else {
            cluster.taken_at.clone()
        };
        // Labels, not bare names: nodes can share a hostname.
        let names = crate::graph::NodeNames::of_cluster(&cluster);
        let nodes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| {
                names
                    .entry(n)
                    .map_or_else(|| n.name.clone(), |x| x.label.clone())
            })
            .collect();
        let nodes_json = serde_json::to_string(&nodes).map_err(StoreError::Encode)?;
        Ok(Entry {
            id,
            bytes,
            label,
            taken_at,
            nodes,
            nodes_json,
        })
    }

    /// Saved again: a new label replaces the old, and a scheduled row saved by hand or uploaded
    /// takes the new kind (so retention of scheduled snapshots no longer prunes it).
    fn update(&self, tx: &Transaction<'_>, old: Kind, kind: Kind) -> Result<(), StoreError> {
        if !self.label.is_empty() {
            tx.execute(
                "UPDATE snapshots SET label = ?2 WHERE id = ?1",
                params![self.id, self.label],
            )?;
        }
        if old == Kind::Scheduled && kind != Kind::Scheduled {
            tx.execute(
                "UPDATE snapshots SET kind = ?2 WHERE id = ?1",
                params![self.id, kind.as_str()],
            )?;
        }
        Ok(())
    }

    /// The row this entry would have, for a save whose row is already gone.
    fn into_meta(self, kind: Kind) -> SnapshotMeta {
        SnapshotMeta {
            size: self.bytes.len() as u64,
            id: self.id,
            saved_at: String::new(),
            taken_at: self.taken_at,
            label: self.label,
            kind,
            nodes: self.nodes,
        }
    }
}

fn meta_of(conn: &Connection, id: &str) -> Result<Option<SnapshotMeta>, StoreError> {
    Ok(conn
        .query_row(
            &format!("{SELECT_META} WHERE id = ?1"),
            params![id],
            row_meta,
        )
        .optional()?)
}

fn row_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotMeta> {
    let nodes: String = r.get(5)?;
    Ok(SnapshotMeta {
        id: r.get(0)?,
        saved_at: r.get(1)?,
        taken_at: r.get(2)?,
        label: r.get(3)?,
        kind: Kind::parse(&r.get::<_, String>(4)?),
        nodes: serde_json::from_str(&nodes).unwrap_or_default(),
        size: r.get::<_, i64>(6)?.max(0) as u64,
    })
}

/// A label as kept: one line, no control characters, at most [`MAX_LABEL`] characters.
pub fn clean_label(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_LABEL)
        .collect()
}

#[cfg(test)]
mod tests;
