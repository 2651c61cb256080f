//! Snapshot files, read one way wherever they come from (`serve --open`, `graph --from`,
//! `path --snapshot`, `diff`, `export --snapshot`, the agent's `--serve-file`, uploads): a node
//! snapshot, a JSON array of them, or a cluster snapshot, gzipped or not, of bounded size,
//! checked against the schema this build reads, each refusal saying what is wrong.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;
use serde_json::Value;

use super::{ClusterSnapshot, NodeSnapshot, CLUSTER_SCHEMA, NODE_SCHEMA};

/// The largest snapshot file read from disk (inflated): far above any real swarm's, low
/// enough that a wrong file (a disk image, a gzip bomb) is refused instead of exhausting memory.
pub const FILE_LIMIT: usize = 1 << 30;

/// Why a snapshot file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("reading {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error (in the message, not a source: said once).
        reason: std::io::Error,
    },
    /// The file is not a snapshot this build reads.
    #[error("{path}: {fault}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (in the message, not a source: said once).
        fault: FileError,
    },
    /// A snapshot, but not of the one node the command needs.
    #[error("{path} holds {found}; this needs one node snapshot ({NODE_SCHEMA:?})")]
    NotOneNode {
        /// The file.
        path: PathBuf,
        /// What it holds instead.
        found: &'static str,
    },
}

/// Read and check a snapshot file of at most [`FILE_LIMIT`] bytes (inflated).
pub fn read(path: &Path) -> Result<SnapshotFile, ReadError> {
    read_limited(path, FILE_LIMIT)
}

/// [`read`] with another size limit.
pub fn read_limited(path: &Path, limit: usize) -> Result<SnapshotFile, ReadError> {
    let io = |reason| ReadError::Io {
        path: path.to_owned(),
        reason,
    };
    let content = |fault| ReadError::Content {
        path: path.to_owned(),
        fault,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // A file above the limit is refused before it is read.
    if file.metadata().map_err(io)?.len() > limit as u64 {
        return Err(content(FileError::TooLarge { limit }));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1) as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    parse(&bytes, limit).map_err(content)
}

/// Read a snapshot file of any shape as a cluster snapshot (node snapshots become fresh nodes
/// whose source is `file`).
pub fn read_cluster(path: &Path) -> Result<ClusterSnapshot, ReadError> {
    read(path).map(|f| f.into_cluster("file"))
}

/// Read a file that must hold one node snapshot.
pub fn read_node(path: &Path) -> Result<NodeSnapshot, ReadError> {
    match read(path)? {
        SnapshotFile::Node(n) => Ok(*n),
        SnapshotFile::Nodes(_) => Err(ReadError::NotOneNode {
            path: path.to_owned(),
            found: "an array of node snapshots",
        }),
        SnapshotFile::Cluster(_) => Err(ReadError::NotOneNode {
            path: path.to_owned(),
            found: "a cluster snapshot",
        }),
    }
}

/// Whether a file is gzipped (one served as it is must not be).
pub fn is_gzipped(path: &Path) -> Result<bool, ReadError> {
    let mut head = Vec::with_capacity(GZIP_MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(GZIP_MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|reason| ReadError::Io {
            path: path.to_owned(),
            reason,
        })?;
    Ok(head.starts_with(&GZIP_MAGIC))
}

/// Why the bytes of a snapshot file were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Larger than the limit.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Nothing at all.
    #[error("the file is empty")]
    Empty,
    /// Gzipped, but the stream is damaged or cut short.
    #[error("the file is gzipped but does not inflate: {0}")]
    Gzip(String),
    /// JSON that stops before its end.
    #[error("the file is truncated: its JSON ends early ({0})")]
    Truncated(String),
    /// Not JSON.
    #[error("the file is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a dockmap snapshot (no schema, or the wrong shape).
    #[error("not a dockmap snapshot: {0}")]
    NotSnapshot(String),
    /// A dockmap snapshot of a schema this build does not read.
    #[error("unknown schema {found:?}: this dockmap reads {NODE_SCHEMA:?} and {CLUSTER_SCHEMA:?}")]
    Schema {
        /// The schema the file declares.
        found: String,
    },
    /// The schema is right but the content does not fit the model.
    #[error("the snapshot does not match the {schema} model: {message}")]
    Model {
        /// The schema it claims.
        schema: &'static str,
        /// What the parser said.
        message: String,
    },
}

impl FileError {
    /// A short token for the kind of fault (`too-large`, `truncated`, `not-json`, `schema`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too-large",
            Self::Empty => "empty",
            Self::Gzip(_) => "gzip",
            Self::Truncated(_) => "truncated",
            Self::NotJson(_) => "not-json",
            Self::NotSnapshot(_) => "not-snapshot",
            Self::Schema { .. } => "schema",
            Self::Model { .. } => "model",
        }
    }
}

/// What a snapshot file held.
#[derive(Debug, Clone)]
pub enum SnapshotFile {
    /// One node snapshot (boxed: the other variants are small handles).
    Node(Box<NodeSnapshot>),
    /// A JSON array of node snapshots.
    Nodes(Vec<NodeSnapshot>),
    /// A cluster snapshot.
    Cluster(ClusterSnapshot),
}

impl SnapshotFile {
    /// The cluster snapshot it stands for (node snapshots become fresh nodes whose source is `source`).
    pub fn into_cluster(self, source: &str) -> ClusterSnapshot {
        match self {
            Self::Cluster(c) => c,
            Self::Node(s) => ClusterSnapshot::of_nodes(vec![*s], source),
            Self::Nodes(v) => ClusterSnapshot::of_nodes(v, source),
        }
    }
}

/// Check and read a snapshot file (a node snapshot, an array of them, or a cluster snapshot;
/// gzipped or not) of at most `limit` bytes, inflated.
///
/// Read straight into the model (no JSON tree in between): a 60 MiB file once took ten times
/// its size as a `serde_json::Value` before it was even checked.
pub fn parse(bytes: &[u8], limit: usize) -> Result<SnapshotFile, FileError> {
    if bytes.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    if bytes.starts_with(&GZIP_MAGIC) {
        return parse_json(&inflate(bytes, limit)?, limit);
    }
    parse_json(bytes, limit)
}

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A gzip stream inflated, refused as soon as it passes `limit` bytes (a small file can
/// inflate to anything).
fn inflate(bytes: &[u8], limit: usize) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit.saturating_add(1) as u64)
        .read_to_end(&mut out)
        .map_err(|e| FileError::Gzip(e.to_string()))?;
    if out.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(out)
}

/// [`parse`] of bytes that are JSON (or nothing dockmap reads).
fn parse_json(bytes: &[u8], limit: usize) -> Result<SnapshotFile, FileError> {
    if bytes.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(FileError::Empty),
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(bytes).map_err(not_json)?;
            if items.is_empty() {
                return Err(FileError::NotSnapshot("an empty array".into()));
            }
            let nodes = items
                .into_iter()
                .enumerate()
                .map(|(i, raw)| {
                    item(raw).map_err(|e| match e {
                        FileError::Model { schema, message } => FileError::Model {
                            schema,
                            message: format!("item {i}: {message}"),
                        },
                        other => other,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SnapshotFile::Nodes(nodes))
        }
        Some(b'{') => {
            let probe: Probe = serde_json::from_slice(bytes).map_err(not_json)?;
            match probe.schema() {
                Some(NODE_SCHEMA) => serde_json::from_slice(bytes)
                    .map(|n| SnapshotFile::Node(Box::new(n)))
                    .map_err(model(NODE_SCHEMA)),
                Some(CLUSTER_SCHEMA) => serde_json::from_slice(bytes)
                    .map_err(model(CLUSTER_SCHEMA))
                    .and_then(cluster)
                    .map(SnapshotFile::Cluster),
                Some(other) => Err(FileError::Schema {
                    found: other.to_owned(),
                }),
                None => Err(FileError::NotSnapshot(
                    "an object without a \"schema\" field".into(),
                )),
            }
        }
        Some(_) => {
            let v: Value = serde_json::from_slice(bytes).map_err(not_json)?;
            Err(FileError::NotSnapshot(format!(
                "a JSON {}, not an object or an array",
                kind_of(&v)
            )))
        }
    }
}

/// Only the `schema` field of an object; everything else is skipped without being kept.
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(default)]
    schema: Option<Value>,
}

impl Probe {
    fn schema(&self) -> Option<&str> {
        self.schema.as_ref().and_then(Value::as_str)
    }
}

/// Ill-formed JSON: truncated when it ends early, else not JSON; JSON of the wrong shape for
/// the probe (not an object where one was expected) is no snapshot.
fn not_json(e: serde_json::Error) -> FileError {
    match e.classify() {
        serde_json::error::Category::Eof => FileError::Truncated(e.to_string()),
        serde_json::error::Category::Data => FileError::NotSnapshot(e.to_string()),
        _ => FileError::NotJson(e.to_string()),
    }
}

fn model(schema: &'static str) -> impl Fn(serde_json::Error) -> FileError {
    move |e| FileError::Model {
        schema,
        message: e.to_string(),
    }
}

/// One node snapshot of an array.
fn item(raw: &RawValue) -> Result<NodeSnapshot, FileError> {
    let probe: Probe = serde_json::from_str(raw.get())
        .map_err(|_| FileError::NotSnapshot("an array item without a \"schema\" field".into()))?;
    match probe.schema() {
        Some(NODE_SCHEMA) => serde_json::from_str(raw.get()).map_err(model(NODE_SCHEMA)),
        Some(other) => Err(FileError::Schema {
            found: other.to_owned(),
        }),
        None => Err(FileError::NotSnapshot(
            "an array item without a \"schema\" field".into(),
        )),
    }
}

/// A cluster snapshot whose every node is of the schema this build reads.
fn cluster(c: ClusterSnapshot) -> Result<ClusterSnapshot, FileError> {
    if let Some(bad) = c
        .nodes
        .iter()
        .filter_map(|n| n.snapshot.as_ref())
        .find(|s| s.schema != NODE_SCHEMA)
    {
        return Err(FileError::Schema {
            found: bad.schema.clone(),
        });
    }
    Ok(c)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    fn node() -> Vec<u8> {
        let n = NodeSnapshot {
            schema: NODE_SCHEMA.into(),
            ..NodeSnapshot::default()
        };
        serde_json::to_vec(&n).unwrap()
    }

    #[test]
    fn a_gzipped_file_reads_as_the_plain_one() {
        assert!(matches!(
            parse(&gz(&node()), 1 << 20),
            Ok(SnapshotFile::Node(_))
        ));
        let arr = format!("[{}]", String::from_utf8(node()).unwrap());
        assert!(matches!(
            parse(&gz(arr.as_bytes()), 1 << 20),
            Ok(SnapshotFile::Nodes(v)) if v.len() == 1
        ));
    }

    #[test]
    fn gzip_is_inflated_only_up_to_the_limit() {
        // A megabyte of spaces inflates from about a kilobyte.
        let bomb = gz(&vec![b' '; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert_eq!(
            parse(&bomb, 64 * 1024).unwrap_err(),
            FileError::TooLarge { limit: 64 * 1024 }
        );
        let cut = gz(&node());
        let e = parse(&cut[..cut.len() / 2], 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "gzip", "{e}");
    }

    #[test]
    fn files_say_which_file_and_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let e = read(&missing).unwrap_err().to_string();
        assert!(e.starts_with("reading ") && e.contains("none.json"), "{e}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{not json").unwrap();
        let e = read(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("not JSON"), "{e}");
        let big = dir.path().join("big.json");
        std::fs::write(&big, node()).unwrap();
        let e = read_limited(&big, 10).unwrap_err().to_string();
        assert!(e.contains("larger than the limit of 10 bytes"), "{e}");
        let cluster = dir.path().join("cluster.json.gz");
        let c = ClusterSnapshot::of_nodes(vec![serde_json::from_slice(&node()).unwrap()], "x");
        std::fs::write(&cluster, gz(&serde_json::to_vec(&c).unwrap())).unwrap();
        assert_eq!(read_cluster(&cluster).unwrap().nodes.len(), 1);
        let e = read_node(&cluster).unwrap_err().to_string();
        assert!(
            e.contains("a cluster snapshot") && e.contains("one node snapshot"),
            "{e}"
        );
    }
}
