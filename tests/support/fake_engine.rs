//! A fake Docker engine on a unix socket: answers from a directory of recorded answers
//! (`tests/fixtures/engine-api/<api>/`) and checks the client's API version as moby's
//! version middleware does (`daemon/server/middleware/version.go`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;

/// A running fake engine; the socket lives in a temp dir removed on drop.
pub struct FakeEngine {
    /// `unix:///…/docker.sock`, for `NodeOptions::docker`.
    pub url: String,
    /// Every request path (with query) the engine was asked, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the fake answers.
#[derive(Clone)]
pub struct Answers {
    /// The directory of recorded answers.
    pub dir: PathBuf,
    /// The newest API version it speaks (what `/_ping` says unless `ping_version` overrides).
    pub max: String,
    /// The oldest API version it accepts.
    pub min: String,
    /// What `/_ping`'s `Api-Version` header says, when not `max`.
    pub ping_version: Option<String>,
}

/// The recorded answers of one API version.
pub fn fixture_dir(api: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/engine-api")
        .join(api)
}

/// Starts the engine on a fresh socket.
pub async fn start(answers: Answers) -> FakeEngine {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("docker.sock");
    let listener = tokio::net::UnixListener::bind(&sock).expect("bind the fake engine's socket");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let app = Router::new().fallback(move |req: Request<Body>| {
        let answers = answers.clone();
        let log = log.clone();
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            if let Ok(mut l) = log.lock() {
                l.push(path.clone());
            }
            answer(&answers, &path)
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeEngine {
        url: format!("unix://{}", sock.display()),
        requests,
        _dir: dir,
        task,
    }
}

fn version_tuple(v: &str) -> (u32, u32) {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

fn json(status: StatusCode, body: String, answers: &Answers) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("Api-Version", &answers.max)
        .body(Body::from(body))
        .expect("response")
}

/// moby answers an unsupported version with 400 and `{"message": …}` (an InvalidParameter error).
fn error(status: StatusCode, message: &str, answers: &Answers) -> Response<Body> {
    json(
        status,
        serde_json::json!({ "message": message }).to_string(),
        answers,
    )
}

fn answer(answers: &Answers, path_and_query: &str) -> Response<Body> {
    let (path, _query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    // `/v1.52/info` -> version 1.52, rest `/info`; unversioned paths get the engine's default.
    let (version, rest) = match path.strip_prefix("/v").and_then(|p| p.split_once('/')) {
        Some((v, rest)) if v.contains('.') => (v.to_owned(), format!("/{rest}")),
        _ => (answers.max.clone(), path.to_owned()),
    };
    if rest == "/_ping" {
        let head = std::fs::read_to_string(answers.dir.join("_ping")).unwrap_or_default();
        let mut r = Response::builder().status(StatusCode::OK);
        for line in head.lines() {
            if let Some((k, v)) = line.split_once(':') {
                let v = match (&answers.ping_version, k.eq_ignore_ascii_case("api-version")) {
                    (Some(over), true) => over.clone(),
                    _ => v.trim().to_owned(),
                };
                r = r.header(k.trim(), v);
            }
        }
        return r
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::from("OK"))
            .expect("response");
    }
    if version_tuple(&version) < version_tuple(&answers.min) {
        let m = format!(
            "client version {version} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            answers.min
        );
        return error(StatusCode::BAD_REQUEST, &m, answers);
    }
    if version_tuple(&version) > version_tuple(&answers.max) {
        let m = format!(
            "client version {version} is too new. Maximum supported API version is {}",
            answers.max
        );
        return error(StatusCode::BAD_REQUEST, &m, answers);
    }
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let file = match parts.as_slice() {
        ["version"] => "version.json".to_owned(),
        ["info"] => "info.json".to_owned(),
        ["containers", "json"] => "containers.json".to_owned(),
        ["containers", id, "json"] => format!("containers/{id}.json"),
        ["networks"] => "networks.json".to_owned(),
        ["networks", id] => format!("networks/{id}.json"),
        ["services"] => "services.json".to_owned(),
        ["tasks"] => "tasks.json".to_owned(),
        ["nodes"] => "nodes.json".to_owned(),
        _ => return error(StatusCode::NOT_FOUND, "page not found", answers),
    };
    // IDs come from the fixtures' own lists; anything else (or a path escape) is "no such object".
    if file.contains("..") {
        return error(StatusCode::NOT_FOUND, "no such object", answers);
    }
    match std::fs::read_to_string(answers.dir.join(&file)) {
        Ok(body) => json(StatusCode::OK, body, answers),
        Err(_) => error(
            StatusCode::NOT_FOUND,
            &format!("No such object: {}", parts.get(1).unwrap_or(&"")),
            answers,
        ),
    }
}
