//! Fetch one agent's snapshot with a deadline.

use std::path::Path;
use std::time::Duration;

use crate::agent::{CounterExchange, Token, COUNTERS_PATH, SNAPSHOT_PATH};
use crate::snapshot::counters::{Probe, Reading};
use crate::snapshot::{NodeSnapshot, NODE_SCHEMA};

use super::{AgentTarget, ClusterError};

/// Why an agent gave no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within the deadline (seconds, fractional).
    #[error("no answer within {0} s")]
    Timeout(f64),
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
    fetch_limited(client, target, token, deadline, MAX_SNAPSHOT_BYTES).await
}

/// [`fetch`], refusing answers over `limit` bytes.
async fn fetch_limited(
    client: &reqwest::Client,
    target: &AgentTarget,
    token: Option<&Token>,
    deadline: Duration,
    limit: usize,
) -> Result<NodeSnapshot, FetchError> {
    match tokio::time::timeout(deadline, fetch_inner(client, target, token, limit)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(deadline.as_secs_f64())),
    }
}

async fn fetch_inner(
    client: &reqwest::Client,
    target: &AgentTarget,
    token: Option<&Token>,
    limit: usize,
) -> Result<NodeSnapshot, FetchError> {
    let url = format!("{}{SNAPSHOT_PATH}", target.url.trim_end_matches('/'));
    let mut req = client.get(&url);
    if let Some(t) = token {
        req = req.bearer_auth(t.as_str());
    }
    let resp = answered(req).await?;
    let bytes = read_capped(resp, limit).await?;
    decode_answer(&bytes)
}

/// An agent's answer body as a node snapshot of this version's schema.
pub fn decode_answer(bytes: &[u8]) -> Result<NodeSnapshot, FetchError> {
    let snap: NodeSnapshot =
        serde_json::from_slice(bytes).map_err(|e| FetchError::Invalid(e.to_string()))?;
    if snap.schema != NODE_SCHEMA {
        return Err(FetchError::Invalid(format!(
            "schema {:?}, expected {NODE_SCHEMA:?}",
            snap.schema
        )));
    }
    Ok(snap)
}

/// Send a request to an agent; its response when it says 200, else why not.
async fn answered(req: reqwest::RequestBuilder) -> Result<reqwest::Response, FetchError> {
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
    Ok(resp)
}

/// Readings are a few hundred bytes per probe.
const MAX_COUNTERS_BYTES: usize = 1024 * 1024;

/// Ask the agent at `url` to read `probes` (a watched path's counters on its node).
pub(super) async fn counters(
    client: &reqwest::Client,
    url: &str,
    token: Option<&Token>,
    deadline: Duration,
    probes: &[Probe],
) -> Result<Vec<Reading>, FetchError> {
    let ask = async {
        let url = format!("{}{COUNTERS_PATH}", url.trim_end_matches('/'));
        let body = CounterExchange {
            probes: probes.to_vec(),
            readings: Vec::new(),
        };
        let mut req = client.post(&url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t.as_str());
        }
        let resp = answered(req).await?;
        let bytes = read_capped(resp, MAX_COUNTERS_BYTES).await?;
        let got: CounterExchange =
            serde_json::from_slice(&bytes).map_err(|e| FetchError::Invalid(e.to_string()))?;
        if got.readings.len() != probes.len() {
            return Err(FetchError::Invalid(format!(
                "{} readings for {} probes",
                got.readings.len(),
                probes.len()
            )));
        }
        Ok(got.readings)
    };
    match tokio::time::timeout(deadline, ask).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(deadline.as_secs_f64())),
    }
}

/// The body, read piece by piece and refused as soon as it is over `limit` bytes (or says it
/// will be): a broken or hostile agent must not make the server hold gigabytes.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, FetchError> {
    let too_big = |n: u64| {
        FetchError::Invalid(format!(
            "the answer is over the {limit}-byte limit (at least {n} bytes)"
        ))
    };
    if let Some(n) = resp.content_length().filter(|&n| n > limit as u64) {
        return Err(too_big(n));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Unreachable(error_chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_big((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback peer that answers every request with `head` and then `body_len` bytes of `x`.
    async fn serve(head: String, body_len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let head = head.clone();
                tokio::spawn(async move {
                    let mut req = [0u8; 4096];
                    let _ = sock.read(&mut req).await;
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&vec![b'x'; body_len]).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        format!("http://{addr}")
    }

    async fn get(url: String, limit: usize) -> Result<NodeSnapshot, FetchError> {
        let target = AgentTarget {
            name: String::new(),
            node_id: String::new(),
            url,
        };
        let c = client(None).unwrap();
        fetch_limited(&c, &target, None, Duration::from_secs(5), limit).await
    }

    #[tokio::test]
    async fn an_answer_that_says_it_is_too_big_is_refused_before_reading_it() {
        // Claims 10 GB and sends nothing: refused on the header alone, not after a wait.
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n".into(),
            0,
        )
        .await;
        let err = get(url, 1000).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Invalid(m) if m.contains("1000-byte limit") && m.contains("10000000000")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_answer_that_grows_past_the_limit_is_cut_off() {
        // No length given (read until close): the cap applies while streaming.
        let url = serve(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into(),
            64 * 1024,
        )
        .await;
        let err = get(url.clone(), 1000).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Invalid(m) if m.contains("1000-byte limit")),
            "{err}"
        );
        // Under a big enough limit the same answer is read in full (and then is no snapshot).
        let err = get(url, 1 << 20).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Invalid(m) if !m.contains("limit")),
            "{err}"
        );
    }
}
