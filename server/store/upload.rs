//! Checking a snapshot file before anything is stored: well-formed JSON, a schema this build
//! reads, and content that fits the model. Also what `dockmap serve --open FILE` reads.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::snapshot::{ClusterSnapshot, NodeSnapshot, CLUSTER_SCHEMA, NODE_SCHEMA};

/// The largest upload `dockmap serve` accepts unless told otherwise (`--upload-limit`).
pub const DEFAULT_UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Parse a size: bytes, or with a unit `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{text:?}: expected a number of bytes, e.g. 64MiB"));
    }
    let n: usize = t[..digits]
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let mult: usize = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        u => return Err(format!("{text:?}: unknown unit {u:?} (use K, M or G)")),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("{text:?}: the limit must be above 0")),
        Some(v) => Ok(v),
        None => Err(format!("{text:?} is too large")),
    }
}

/// Why a snapshot file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Larger than the limit.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Nothing at all.
    #[error("the file is empty")]
    Empty,
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

impl UploadError {
    /// A short token for the kind of fault (`too-large`, `truncated`, `not-json`, `schema`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too-large",
            Self::Empty => "empty",
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

/// Read and check a snapshot file of any of the three shapes, with no size limit (a local file
/// the user named), as a cluster snapshot whose node sources are `file`.
pub fn read_cluster_file(path: &std::path::Path) -> Result<ClusterSnapshot, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&bytes, usize::MAX)
        .map(|f| f.into_cluster("file"))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Check and read a snapshot file (a node snapshot, an array of them, or a cluster snapshot).
///
/// Read straight into the model (no JSON tree in between): a 60 MiB file once took ten times
/// its size as a `serde_json::Value` before it was even checked.
pub fn parse(bytes: &[u8], limit: usize) -> Result<SnapshotFile, UploadError> {
    if bytes.len() > limit {
        return Err(UploadError::TooLarge { limit });
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(UploadError::Empty),
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(bytes).map_err(not_json)?;
            if items.is_empty() {
                return Err(UploadError::NotSnapshot("an empty array".into()));
            }
            let nodes = items
                .into_iter()
                .enumerate()
                .map(|(i, raw)| {
                    item(raw).map_err(|e| match e {
                        UploadError::Model { schema, message } => UploadError::Model {
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
                Some(other) => Err(UploadError::Schema {
                    found: other.to_owned(),
                }),
                None => Err(UploadError::NotSnapshot(
                    "an object without a \"schema\" field".into(),
                )),
            }
        }
        Some(_) => {
            let v: Value = serde_json::from_slice(bytes).map_err(not_json)?;
            Err(UploadError::NotSnapshot(format!(
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
fn not_json(e: serde_json::Error) -> UploadError {
    match e.classify() {
        serde_json::error::Category::Eof => UploadError::Truncated(e.to_string()),
        serde_json::error::Category::Data => UploadError::NotSnapshot(e.to_string()),
        _ => UploadError::NotJson(e.to_string()),
    }
}

fn model(schema: &'static str) -> impl Fn(serde_json::Error) -> UploadError {
    move |e| UploadError::Model {
        schema,
        message: e.to_string(),
    }
}

/// One node snapshot of an array.
fn item(raw: &RawValue) -> Result<NodeSnapshot, UploadError> {
    let probe: Probe = serde_json::from_str(raw.get())
        .map_err(|_| UploadError::NotSnapshot("an array item without a \"schema\" field".into()))?;
    match probe.schema() {
        Some(NODE_SCHEMA) => serde_json::from_str(raw.get()).map_err(model(NODE_SCHEMA)),
        Some(other) => Err(UploadError::Schema {
            found: other.to_owned(),
        }),
        None => Err(UploadError::NotSnapshot(
            "an array item without a \"schema\" field".into(),
        )),
    }
}

/// A cluster snapshot whose every node is of the schema this build reads.
fn cluster(c: ClusterSnapshot) -> Result<ClusterSnapshot, UploadError> {
    if let Some(bad) = c
        .nodes
        .iter()
        .filter_map(|n| n.snapshot.as_ref())
        .find(|s| s.schema != NODE_SCHEMA)
    {
        return Err(UploadError::Schema {
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
    use super::parse_size;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert!(parse_size("MiB").unwrap_err().contains("expected a number"));
        assert!(parse_size("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
    }
}
