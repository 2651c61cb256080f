//! `GET /api/path/watch`: a path's hop counters as the kernel counts them, streamed every second.
//!
//! The path is traced once on the live state; [`crate::path::watch`] says which counters show its
//! hops; they are read on this host or through each node's agent, and every second the page
//! hears how much each moved and after which hop packets stop. A watch ends by itself after
//! [`MAX_WATCH`], so a forgotten tab does not read counters for ever.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::{Query, SnapParam};
use super::paths::Asked;
use super::state::{CounterReader, Current};
use super::AppState;
use crate::path::watch::{plan, Watch};
use crate::snapshot::counters::Reading;

/// Time between two readings.
const EVERY: Duration = Duration::from_secs(1);
/// How long one watch runs.
pub const MAX_WATCH: Duration = Duration::from_secs(600);

/// `GET /api/path/watch?port=&protocol=[&node=]` or `?from=&to=`: server-sent events, `counters`
/// every second (the first one is the baseline), `end` when the watch stops.
pub async fn watch_handler(
    State(state): State<AppState>,
    Query(snap): Query<SnapParam>,
    asked: Result<Asked, ApiError>,
) -> Result<Response, ApiError> {
    if snap.snap.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "a saved snapshot has no live counters: watch a path on the live picture",
        ));
    }
    let Asked(question) = asked?;
    let reader = state.counter_reader();
    if let CounterReader::Nowhere(why) = reader {
        return Err(ApiError::new(StatusCode::CONFLICT, why));
    }
    let cur = state
        .current()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no snapshot yet"))?;
    let data = cur.data.clone();
    let watch = cur
        .queries
        .run("watch", move |_, _| {
            let answer = crate::path::trace(&question, &data.snapshots, &data.graph);
            plan(&answer, &data.snapshots)
        })
        .await?;
    if watch.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no hop of this path has a counter to watch (no interface or rule of a node that is read)",
        ));
    }
    Ok(stream(cur, reader, Arc::new(watch)))
}

struct Round {
    started: Instant,
    first: Option<Vec<Vec<Reading>>>,
    previous: Vec<Vec<Reading>>,
    done: bool,
}

fn stream(cur: Arc<Current>, reader: CounterReader, watch: Arc<Watch>) -> Response {
    let round = Round {
        started: Instant::now(),
        first: None,
        previous: Vec::new(),
        done: false,
    };
    let events = futures::stream::unfold(round, move |mut r| {
        let (cur, reader, watch) = (cur.clone(), reader.clone(), watch.clone());
        async move {
            if r.done {
                return None;
            }
            if r.first.is_some() {
                tokio::time::sleep(EVERY).await;
            }
            if r.started.elapsed() >= MAX_WATCH {
                r.done = true;
                let end = Event::default().event("end").data(format!(
                    "{{\"why\":\"a watch stops after {} minutes: watch again to go on\"}}",
                    MAX_WATCH.as_secs() / 60
                ));
                return Some((Ok::<_, Infallible>(end), r));
            }
            let now = read(&cur, &reader, &watch).await;
            let first = r.first.get_or_insert_with(|| now.clone()).clone();
            let previous = if r.previous.is_empty() {
                first.clone()
            } else {
                std::mem::take(&mut r.previous)
            };
            let update = watch.update(
                r.started.elapsed().as_millis() as u64,
                &first,
                &previous,
                &now,
            );
            r.previous = now;
            let event = Event::default()
                .event("counters")
                .json_data(&update)
                .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()));
            Some((Ok(event), r))
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response()
}

/// One reading of every probe, node by node in the watch's order (nodes read in parallel).
async fn read(cur: &Arc<Current>, reader: &CounterReader, watch: &Watch) -> Vec<Vec<Reading>> {
    let reads = watch.nodes.iter().map(|n| {
        let cur = cur.clone();
        let reader = reader.clone();
        let probes = n.probes.clone();
        let node = n.node;
        async move {
            let count = probes.len();
            let failed = move |why: String| vec![Reading::failed(why); count];
            match reader {
                CounterReader::Local => {
                    let read = tokio::task::spawn_blocking(move || {
                        let Some(snap) = cur.data.snapshots.get(node) else {
                            return Vec::new();
                        };
                        let names = crate::graph::namespace_names(&snap.namespaces);
                        let tools = crate::collect::firewall::Tools::from_env();
                        crate::collect::counters::read_node(snap, &names, &probes, &tools)
                    })
                    .await;
                    read.unwrap_or_else(|e| failed(e.to_string()))
                }
                CounterReader::Agents(g) => {
                    let url = cur
                        .nodes
                        .iter()
                        .find(|(_, at)| *at == Some(node))
                        .map(|(n, _)| n.source.clone());
                    match url {
                        Some(url) => match g.counters(&url, &probes).await {
                            Ok(r) => r,
                            Err(e) => failed(format!("the node's agent gave no counters: {e}")),
                        },
                        None => failed("no agent for this node".into()),
                    }
                }
                CounterReader::Nowhere(why) => failed(why.into()),
            }
        }
    });
    futures::future::join_all(reads).await
}
