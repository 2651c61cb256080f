//! The `dockmap agent` and `dockmap serve --agents` commands as a user runs them, on loopback
//! (agents serve saved snapshot files, so no root is needed).

use crate::support::agents;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agents::{empty_node, free_port, write_node, FileAgent};
use serde_json::Value;

fn snapshot_file(dir: &std::path::Path, host: &str) -> std::path::PathBuf {
    write_node(dir, host, &empty_node(host))
}

/// A child process killed (and reaped) on drop, also when the test fails.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dockmap(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dockmap"));
    c.args(args).stdin(Stdio::null());
    c
}

fn spawn(c: &mut Command) -> Proc {
    Proc(
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn an_agent_without_a_token_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = snapshot_file(dir.path(), "cli-n");
    let mut child = Proc(
        dockmap(&["agent", "--listen", "127.0.0.1:0", "--serve-file"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // An agent that starts anyway would serve until killed: give it a bounded time to refuse.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the agent started without a token"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("no token configured") && stderr.contains("--insecure-no-auth"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_gathers_two_agents_started_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "cli-token\n").unwrap();
    let agents: Vec<FileAgent> = ["cli-a", "cli-b"]
        .iter()
        .map(|host| {
            let file = snapshot_file(dir.path(), host);
            FileAgent::start(&file, &token, &dir.path().join(format!("{host}.log")))
        })
        .collect();
    let urls: Vec<&str> = agents.iter().map(|a| a.url.as_str()).collect();
    let listen = format!("127.0.0.1:{}", free_port());
    let _server = spawn(
        dockmap(&["serve", "--listen", &listen, "--agents", &urls.join(",")])
            .arg("--token-file")
            .arg(&token)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--deadline", "3"]),
    );
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let req = client.get(format!("http://{listen}{path}"));
        async move {
            let resp = req.send().await.ok()?;
            resp.json::<Value>().await.ok()
        }
    };
    // The first gather may find an agent not listening yet: refresh until both answered.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    loop {
        assert!(Instant::now() < deadline, "never both fresh: {seen}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(status) = get("/api/status").await else {
            continue;
        };
        if status["state"] != "ready" {
            continue;
        }
        let graph = get("/api/graph").await.unwrap_or_default();
        let states: Vec<(String, String)> = graph["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == "host")
            .map(|e| {
                (
                    e["id"].as_str().unwrap_or("").to_owned(),
                    e["attrs"]["node_state"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let agent_problems = status["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["source"] == "agent")
            .count();
        let both_fresh = states
            == vec![
                ("host:cli-a".to_owned(), "fresh".to_owned()),
                ("host:cli-b".to_owned(), "fresh".to_owned()),
            ];
        if both_fresh && agent_problems == 0 {
            break;
        }
        seen = format!("{states:?} {}", status["sources"]);
        let _ = client
            .post(format!("http://{listen}/api/refresh"))
            .send()
            .await;
    }
    drop(agents);
}
