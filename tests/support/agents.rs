//! `dockmap agent` processes serving saved snapshot files on loopback (no root needed), and the
//! files they serve.
#![allow(dead_code)] // each test binary uses its own part of it

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dockmap::snapshot::{NodeIdentity, NodeSnapshot, NODE_SCHEMA};

/// The `dockmap` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A node snapshot with nothing but its host name.
pub fn empty_node(host: &str) -> NodeSnapshot {
    NodeSnapshot {
        schema: NODE_SCHEMA.into(),
        taken_at: "2026-11-26T10:00:00.000Z".into(),
        node: NodeIdentity {
            hostname: host.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Writes `snap` to `dir/NAME.json`; the path.
pub fn write_node(dir: &Path, name: &str, snap: &NodeSnapshot) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(
        &path,
        serde_json::to_vec(snap).expect("a snapshot serialises"),
    )
    .expect("write a snapshot file");
    path
}

/// A `dockmap agent --serve-file` process on a free loopback port; killed (and reaped) on drop,
/// also when the test fails.
pub struct FileAgent {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl FileAgent {
    /// Serves `file` to callers with the token in `token_file`; its output goes to `log`.
    pub fn start(file: &Path, token_file: &Path, log: &Path) -> FileAgent {
        Self::start_on(free_port(), file, token_file, log)
    }

    /// The same on a port the caller chose (many agents at once: ports held while choosing).
    pub fn start_on(port: u16, file: &Path, token_file: &Path, log: &Path) -> FileAgent {
        let listen = format!("127.0.0.1:{port}");
        let out = File::create(log).expect("create the agent's log");
        let child = Command::new(BIN)
            .args(["agent", "--listen", &listen, "--serve-file"])
            .arg(file)
            .arg("--token-file")
            .arg(token_file)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log's handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {BIN} agent: {e}"));
        FileAgent {
            child,
            url: format!("http://{listen}"),
            log: log.to_owned(),
        }
    }

    /// SIGKILL it (no chance to finish what it is sending) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the agent printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FileAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake agent's change stream (`/v1/events`): a `snapshot` event with the generation now, then
/// one each time `generation` changes, with the agent's heartbeats between.
pub fn generation_events(
    mut generation: tokio::sync::watch::Receiver<u64>,
) -> axum::response::Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse;
    use futures::StreamExt;
    generation.mark_changed();
    let stream = futures::stream::unfold(generation, |mut rx| async move {
        rx.changed().await.ok()?;
        let g = *rx.borrow_and_update();
        let ev = Event::default()
            .event("snapshot")
            .data(format!("{{\"generation\":{g}}}"));
        Some((Ok::<_, std::convert::Infallible>(ev), rx))
    });
    Sse::new(stream.boxed())
        .keep_alive(
            KeepAlive::new()
                .interval(dockmap::agent::HEARTBEAT)
                .text("alive"),
        )
        .into_response()
}
