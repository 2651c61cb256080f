//! Fetch one agent's snapshot with a deadline.

use std::path::Path;
use std::time::Duration;

use crate::agent::{Token, SNAPSHOT_PATH};
use crate::snapshot::{NodeSnapshot, NODE_SCHEMA};

use super::{AgentTarget, ClusterError};

/// Why an agent gave no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within the deadline.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// Could not connect or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The agent refused our token.
    #[error("unauthorized: the agent refused the token (HTTP {0})")]
    Unauthorized(u16),
    /// The agent answered with an error status.
    #[error("agent answered HTTP {0}: {1}")]
    Status(u16, String),
    /// The answer was not a snapshot this version reads.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
}

/// Snapshots larger than this are refused (a 2,000-container node is a few MB).
const MAX_SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;

pub(super) fn client(ca: Option<&Path>) -> Result<reqwest::Client, ClusterError> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(3));
    if let Some(path) = ca {
        let err = |why: String| ClusterError::CaCert {
            path: path.display().to_string(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| err(e.to_string()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| ClusterError::Client(e.to_string()))
}

pub(super) async fn fetch(
    client: &reqwest::Client,
    target: &AgentTarget,
    token: Option<&Token>,
    deadline: Duration,
) -> Result<NodeSnapshot, FetchError> {
    match tokio::time::timeout(deadline, fetch_inner(client, target, token)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(deadline.as_secs())),
    }
}

async fn fetch_inner(
    client: &reqwest::Client,
    target: &AgentTarget,
    token: Option<&Token>,
) -> Result<NodeSnapshot, FetchError> {
    let url = format!("{}{SNAPSHOT_PATH}", target.url.trim_end_matches('/'));
    let mut req = client.get(&url);
    if let Some(t) = token {
        req = req.bearer_auth(t.as_str());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| FetchError::Unreachable(error_chain(&e)))?;
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        return Err(FetchError::Unauthorized(status));
    }
    if status != 200 {
        let text = resp.text().await.unwrap_or_default();
        return Err(FetchError::Status(status, text.chars().take(200).collect()));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| FetchError::Unreachable(error_chain(&e)))?;
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(FetchError::Invalid(format!(
            "{} bytes is over the {MAX_SNAPSHOT_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let snap: NodeSnapshot =
        serde_json::from_slice(&bytes).map_err(|e| FetchError::Invalid(e.to_string()))?;
    if snap.schema != NODE_SCHEMA {
        return Err(FetchError::Invalid(format!(
            "schema {:?}, expected {NODE_SCHEMA:?}",
            snap.schema
        )));
    }
    Ok(snap)
}

/// reqwest hides the interesting part (connection refused, ...) in the source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
