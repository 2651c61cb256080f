//! One engine request: `GET <path>`, answered as plain JSON.
//!
//! bollard's typed models are not used for reading: they drop what the engine's
//! swagger leaves out (a task's `NetworksAttachments`, the addresses of every
//! task) and their closed enums turn a value newer than the model (a new
//! container state) into an error for the whole list. bollard has no call for a
//! raw GET, so one is made from the call that hands back a body untouched: on a
//! clone of the client, a request modifier turns `export_container` of a name no
//! container can have into a GET of `path` under the negotiated `/v1.xx`. bollard's socket
//! and timeout stay in force. Should bollard ever build that request differently,
//! the engine answers 404 for the impossible name: a clear error, never an export.

use std::fmt;

use bollard::errors::Error as BollardError;
use bollard::Docker;
use futures::TryStreamExt;
use serde_json::Value;

use super::connect::REQUEST_TIMEOUT;

/// A container name the engine rejects (names cannot start with '-'), so the unredirected call is harmless.
const CARRIER: &str = "-dockmap-raw-get-";

/// The largest answer read (a host with thousands of containers stays far below).
const MAX_BYTES: usize = 256 * 1024 * 1024;

/// Why an engine request gave nothing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// 404: the object went away between listing and inspecting it.
    Gone,
    /// 503: swarm control calls on a node that is not a manager.
    NotManager,
    /// Anything else, in words.
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Gone => f.write_str("no such object"),
            Failure::NotManager => f.write_str("this node is not a swarm manager"),
            Failure::Other(why) => f.write_str(why),
        }
    }
}

/// `GET path` (with its query, e.g. `/containers/json?all=1`) and the answer as JSON.
pub(super) async fn get(docker: &Docker, path: &str) -> Result<Value, Failure> {
    let carrier_path = format!("/containers/{CARRIER}/export");
    let v = docker.client_version();
    // bollard 0.21 builds `/v1.xx/` and then drops it (it joins an absolute path), so every
    // request would go unversioned: answered in whatever the engine's newest shape is, and an
    // unversioned API is deprecated (moby's swagger.yaml). The negotiated version is put back here.
    let target = format!("/v{}.{}{}", v.major_version, v.minor_version, path);
    let client = docker.clone().with_request_modifier(move |mut req| {
        let uri = req.uri().to_string();
        if let Some(at) = uri.find(&carrier_path) {
            // Keep scheme and socket (and no version bollard may have left); replace the path.
            if let Ok(redirected) = format!("{}{}", strip_version(&uri[..at]), target).parse() {
                *req.uri_mut() = redirected;
            }
        }
        req
    });
    let read = async {
        let mut body = Vec::new();
        let mut chunks = client.export_container(CARRIER);
        while let Some(chunk) = chunks.try_next().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(Failure::Other(format!(
                    "{path}: answer larger than {MAX_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| timed_out())??;
    if body.is_empty() {
        return Err(Failure::Other(format!(
            "{path}: empty answer (the request was not redirected?)"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| Failure::Other(format!("{path}: the engine's answer is not JSON: {e}")))
}

/// `unix://x/v1.41` -> `unix://x`: the prefix without a trailing version segment.
fn strip_version(prefix: &str) -> &str {
    match prefix.rsplit_once("/v") {
        Some((head, v))
            if v.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            }) =>
        {
            head
        }
        _ => prefix,
    }
}

/// Percent-encodes one path segment (an ID or name taken from the engine).
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn timed_out() -> Failure {
    Failure::Other(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()))
}

/// Sorts a bollard error into what the collector does with it.
pub(super) fn classify(e: BollardError) -> Failure {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404,
            message,
        } if !message.contains(CARRIER) => Failure::Gone,
        BollardError::DockerResponseServerError {
            status_code: 503, ..
        } => Failure::NotManager,
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => Failure::Other(format!("engine answered {status_code}: {message}")),
        BollardError::RequestTimeoutError => timed_out(),
        other => Failure::Other(other.to_string()),
    }
}

/// What [`list_and_inspect`] read: the objects, what could not be read, how many were inspected.
pub(super) struct Listed<T> {
    /// The objects listed (inspected or kept), in no particular order.
    pub items: Vec<T>,
    /// What could not be read, in words.
    pub problems: Vec<String>,
    /// How many inspect requests were made.
    pub inspected: usize,
}

/// List objects, then inspect each (concurrently, bounded) and decode it; an object for which
/// `keep` gives its earlier answer (decided from its list entry) is not inspected again.
///
/// An object removed between the list and its inspect is a race, not an error: it is
/// skipped. Anything else that fails is said in the returned problems; the rest is kept.
pub(super) async fn list_and_inspect<T>(
    docker: &bollard::Docker,
    what: &str,
    list_path: &str,
    inspect_path: impl Fn(&str) -> String,
    decode: impl Fn(&serde_json::Value) -> T,
    keep: impl Fn(&serde_json::Value) -> Option<T>,
) -> Listed<T> {
    use futures::stream::{self, StreamExt};

    let mut problems = Vec::new();
    let list = match get(docker, list_path).await {
        Ok(list) => list,
        Err(why) => {
            problems.push(format!("{what}s could not be listed: {why}"));
            return Listed {
                items: Vec::new(),
                problems,
                inspected: 0,
            };
        }
    };
    let mut out = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for o in super::json::array(&list, "") {
        let id = super::json::text(o, "/Id");
        if id.is_empty() {
            continue;
        }
        match keep(o) {
            Some(earlier) => out.push(earlier),
            None => ids.push(id),
        }
    }
    let inspected = ids.len();
    let inspect_path = &inspect_path;
    let answers: Vec<(String, Result<serde_json::Value, Failure>)> = stream::iter(ids)
        .map(|id| async move {
            let answer = get(docker, &inspect_path(&segment(&id))).await;
            (id, answer)
        })
        .buffer_unordered(super::CONCURRENCY)
        .collect()
        .await;
    for (id, answer) in answers {
        match answer {
            Ok(v) => out.push(decode(&v)),
            Err(Failure::Gone) => {}
            Err(why) => problems.push(format!("{what} {id} could not be inspected: {why}")),
        }
    }
    Listed {
        items: out,
        problems,
        inspected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_sort_into_failures() {
        let server = |code: u16, message: &str| BollardError::DockerResponseServerError {
            status_code: code,
            message: message.into(),
        };
        assert_eq!(
            classify(server(404, "no such container: abc")),
            Failure::Gone
        );
        // A 404 for the carrier means the redirect failed: not a vanished object.
        let unredirected = classify(server(404, &format!("No such container: {CARRIER}")));
        assert!(matches!(unredirected, Failure::Other(_)));
        assert_eq!(classify(server(503, "m")), Failure::NotManager);
        assert_eq!(
            classify(server(500, "m")),
            Failure::Other("engine answered 500: m".into())
        );
        assert!(classify(BollardError::RequestTimeoutError)
            .to_string()
            .contains("no answer"));
    }

    #[test]
    fn a_version_left_in_the_prefix_is_dropped() {
        assert_eq!(strip_version("unix://abc/v1.41"), "unix://abc");
        assert_eq!(strip_version("unix://abc"), "unix://abc");
        assert_eq!(strip_version("http://h:2375/vx.1"), "http://h:2375/vx.1");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("abc-1_2.3"), "abc-1_2.3");
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
