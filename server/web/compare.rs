//! `/compare`: two nodes side by side, from the live state or saved snapshots, and
//! `/api/compare`: their differences as JSON.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::compare::{self, panes, Comparison, Presence, SideSpec};
use crate::layout::View;

use super::assets::version;
use super::error::ApiError;
use super::extract::Query;
use super::state::AppState;

/// The two sides of a comparison, as asked: `NODE` (live) or `ID:NODE` (a saved snapshot).
#[derive(Debug, Default, Deserialize)]
pub struct CompareParams {
    /// The left side.
    left: Option<String>,
    /// The right side.
    right: Option<String>,
}

/// Open one side: its snapshot (live or saved) and its node.
async fn open_side(state: &AppState, raw: &str) -> Result<compare::Side, ApiError> {
    let spec = SideSpec::parse(raw).ok_or_else(|| {
        ApiError::bad(format!(
            "{raw:?} is not a side: give NODE (live) or ID:NODE (a saved snapshot)"
        ))
    })?;
    let cur = match state.current_for(spec.snapshot.as_deref()).await? {
        Some(c) => c,
        None => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no snapshot yet",
            ))
        }
    };
    let raw = raw.to_owned();
    tokio::task::spawn_blocking(move || compare::side(&cur.data.snapshots, &spec.node, &raw))
        .await?
        .map_err(|e| {
            // A name several nodes share picks none: the question is wrong, not the node missing.
            let status = match &e {
                compare::CompareError::NoSuchNode(crate::graph::NodeLookupError::Ambiguous {
                    ..
                }) => StatusCode::BAD_REQUEST,
                _ => StatusCode::NOT_FOUND,
            };
            ApiError::new(status, e.to_string())
        })
}

async fn comparison(state: &AppState, p: &CompareParams) -> Result<Comparison, ApiError> {
    let (Some(l), Some(r)) = (&p.left, &p.right) else {
        return Err(ApiError::bad(
            "give both sides: ?left=NODE&right=NODE (ID:NODE for a saved snapshot)",
        ));
    };
    let left = open_side(state, l).await?;
    let right = open_side(state, r).await?;
    Ok(tokio::task::spawn_blocking(move || compare::compare(left, right)).await?)
}

/// `GET /api/compare?left=SIDE&right=SIDE`.
pub async fn api(
    State(state): State<AppState>,
    Query(p): Query<CompareParams>,
) -> Result<Response, ApiError> {
    let c = comparison(&state, &p).await?;
    let body = serde_json::to_vec(&c.report())?;
    let mut r = Response::new(axum::body::Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// One listed difference, as the page shows it.
pub struct Row {
    /// The element's key.
    pub key: String,
    /// Its kind.
    pub kind: String,
    /// Its label.
    pub label: String,
    /// `left`, `right` or `both`.
    pub presence: &'static str,
    /// In words.
    pub what: String,
    /// The facts behind it.
    pub details: Vec<String>,
}

/// The compare page.
#[derive(Template, WebTemplate)]
#[template(path = "compare.html")]
pub struct ComparePage {
    /// The left side as asked.
    pub left: String,
    /// The right side as asked.
    pub right: String,
    /// Nodes of the live state, for the pickers.
    pub nodes: Vec<String>,
    /// Why there is nothing to compare (empty when there is).
    pub error: String,
    /// The left drawing (escaped by the SVG writer).
    pub left_svg: String,
    /// The right drawing.
    pub right_svg: String,
    /// When each side's snapshot was taken.
    pub left_taken: String,
    /// Same.
    pub right_taken: String,
    /// The view drawn, as a query string.
    pub view: String,
    /// The differences.
    pub rows: Vec<Row>,
    /// Counts: both, left only, right only.
    pub both: usize,
    /// Left only.
    pub left_only: usize,
    /// Right only.
    pub right_only: usize,
    /// Asset versions.
    pub app_css_v: String,
    /// Asset versions.
    pub map_css_v: String,
    /// Asset versions.
    pub compare_css_v: String,
    /// Asset versions.
    pub compare_js_v: String,
    /// Asset versions.
    pub panzoom_js_v: String,
}

/// `GET /compare?left=SIDE&right=SIDE[&<view>]`.
pub async fn page(
    State(state): State<AppState>,
    params: Result<Query<CompareParams>, ApiError>,
    view: View,
) -> Response {
    // A query that cannot be read is said on the page, as a side that cannot be shown is.
    let (params, refused) = match params {
        Ok(Query(p)) => (p, None),
        Err(e) => (CompareParams::default(), Some(e)),
    };
    let left = params.left.clone().unwrap_or_default();
    let right = params.right.clone().unwrap_or_default();
    let nodes = state
        .current()
        .map(|c| {
            let refs: Vec<&crate::snapshot::NodeSnapshot> = c.data.snapshots.iter().collect();
            crate::graph::NodeNames::new(&refs)
                .all()
                .iter()
                .map(|n| n.label.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut p = ComparePage {
        left: left.clone(),
        right: right.clone(),
        nodes,
        error: String::new(),
        left_svg: String::new(),
        right_svg: String::new(),
        left_taken: String::new(),
        right_taken: String::new(),
        view: String::new(),
        rows: Vec::new(),
        both: 0,
        left_only: 0,
        right_only: 0,
        app_css_v: version("app.css"),
        map_css_v: version("map.css"),
        compare_css_v: version("compare.css"),
        compare_js_v: version("compare.js"),
        panzoom_js_v: version("panzoom.js"),
    };
    let mut status = StatusCode::OK;
    if let Some(e) = refused {
        status = e.status();
        p.error = e.message().to_owned();
    } else if left.is_empty() || right.is_empty() {
        p.error = "Pick two nodes: NODE for the live state, ID:NODE for a saved snapshot.".into();
    } else {
        match comparison(&state, &params).await {
            Ok(c) => {
                let drawn = tokio::task::spawn_blocking(move || {
                    let panes = panes::panes(&c, &view);
                    (c, panes)
                })
                .await;
                match drawn {
                    Ok((c, panes)) => fill(&mut p, &c, panes),
                    Err(e) => {
                        status = StatusCode::INTERNAL_SERVER_ERROR;
                        p.error = e.to_string();
                    }
                }
            }
            Err(e) => {
                status = e.status();
                p.error = e.message().to_owned();
            }
        }
    }
    let mut r = p.into_response();
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn fill(p: &mut ComparePage, c: &Comparison, panes: panes::Panes) {
    p.left_svg = panes.left.svg;
    p.right_svg = panes.right.svg;
    p.view = panes.view;
    p.left_taken = c.left.snapshot.taken_at.clone();
    p.right_taken = c.right.snapshot.taken_at.clone();
    for v in compare::presence(c).values() {
        match v {
            Presence::Both => p.both += 1,
            Presence::Left => p.left_only += 1,
            Presence::Right => p.right_only += 1,
        }
    }
    p.rows = c
        .differences
        .iter()
        .map(|d| Row {
            key: d.key.clone(),
            kind: d.kind.as_str().to_owned(),
            label: d.label.clone(),
            presence: match d.presence {
                Presence::Both => "both",
                Presence::Left => "left",
                Presence::Right => "right",
            },
            what: d.what.clone(),
            details: d.details.clone(),
        })
        .collect();
}
