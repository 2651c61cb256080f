//! `dockmap serve`'s access settings as a user gives them: the real binary (on a saved file, so
//! no root is needed), refusing an open non-loopback address, a token file anyone may read, and
//! with tokens asking for them without ever printing one.

use crate::support::store as support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const READ: &str = "cli-read-token-0123456789";
const WRITE: &str = "cli-write-token-0123456789";

/// A child process killed (and reaped) on drop, also when the test fails.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn snapshot_file(dir: &Path) -> std::path::PathBuf {
    let snaps = dockmap::synthetic::snapshots(&dockmap::synthetic::SyntheticOptions {
        hosts: 1,
        containers: 2,
        hostile_names: false,
    });
    let p = dir.join("snap.json");
    std::fs::write(&p, serde_json::to_vec(&snaps).unwrap()).unwrap();
    p
}

fn token_file(dir: &Path, mode: u32) -> std::path::PathBuf {
    let p = dir.join(format!("tokens-{mode:o}"));
    std::fs::write(&p, format!("# the team\nread {READ}\nwrite {WRITE}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `dockmap serve --open FILE --data-dir DIR ARGS`, its stderr lines sent to the receiver.
fn serve(dir: &Path, args: &[&str]) -> (Proc, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockmap"))
        .arg("serve")
        .arg("--open")
        .arg(snapshot_file(dir))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Proc(child), rx)
}

/// It exits on its own with a failure: everything it said.
fn refused(p: &mut Proc, rx: &mpsc::Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "it started anyway");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(100));
    rx.try_iter().collect::<Vec<_>>().join("\n")
}

/// Wait for "serving on http://ADDR/": the port.
fn port(rx: &mpsc::Receiver<String>, said: &mut Vec<String>) -> u16 {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("it started listening");
        said.push(line.clone());
        if let Some(rest) = line.split("serving on http://").nth(1) {
            return rest
                .trim()
                .trim_end_matches('/')
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    }
}

#[test]
fn an_open_server_on_a_shared_address_is_refused_and_told_how() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-cliacc-")
        .tempdir()
        .unwrap();
    let (mut p, rx) = serve(dir.path(), &["--listen", "0.0.0.0:0"]);
    let err = refused(&mut p, &rx);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0")
            && err.contains("--tokens FILE")
            && err.contains("--no-auth"),
        "{err}"
    );
    // A token file anyone may read is refused, with the fix.
    let open = token_file(dir.path(), 0o644);
    let (mut p, rx) = serve(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            open.to_str().unwrap(),
        ],
    );
    let err = refused(&mut p, &rx);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(READ) && !err.contains(WRITE), "{err}");
}

#[tokio::test]
async fn with_tokens_it_asks_for_them_and_never_prints_one() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-cliacc-")
        .tempdir()
        .unwrap();
    let tokens = token_file(dir.path(), 0o600);
    // A non-loopback address is fine with tokens (asked over loopback all the same).
    let (_p, rx) = serve(
        dir.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    let mut said = Vec::new();
    let port = port(&rx, &mut said);
    let base = format!("http://127.0.0.1:{port}");
    let c = support::client();
    assert_eq!(
        c.get(format!("{base}/api/status"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(format!("{base}/api/status"))
            .bearer_auth(READ)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let save = |tok: &'static str| {
        c.post(format!("{base}/api/snapshots"))
            .bearer_auth(tok)
            .json(&serde_json::json!({ "label": "cli" }))
            .send()
    };
    assert_eq!(save(READ).await.unwrap().status(), 403);
    let r = save(WRITE).await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(format!("{base}/login"))
        .form(&[("token", WRITE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The link's secret is kept beside the snapshots, private.
    let key = dir.path().join("data/link.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let link: serde_json::Value = c
        .get(format!("{base}/api/snapshots/{id}/link"))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = link["link"].as_str().unwrap();
    assert_eq!(
        c.get(format!("{base}{link}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Nothing it wrote names a token.
    std::thread::sleep(Duration::from_millis(200));
    said.extend(rx.try_iter());
    let all = said.join("\n");
    assert!(all.contains("tokens from"), "{all}");
    for t in [READ, WRITE] {
        assert!(!all.contains(t), "a token in the log: {all}");
    }
}

#[tokio::test]
async fn no_auth_serves_a_shared_address_open_and_says_so() {
    let dir = tempfile::Builder::new()
        .prefix("dmt-cliacc-")
        .tempdir()
        .unwrap();
    let (_p, rx) = serve(dir.path(), &["--listen", "0.0.0.0:0", "--no-auth"]);
    let mut said = Vec::new();
    let port = port(&rx, &mut said);
    let c = support::client();
    let r = c
        .get(format!("http://127.0.0.1:{port}/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        said.join("\n").contains("--no-auth: every route is open"),
        "{said:?}"
    );
}
