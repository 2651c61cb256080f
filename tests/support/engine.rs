//! Engine fixtures for integration tests: the test engine, the busybox image, and
//! networks, containers and services that are removed when their guard drops (also on panic).
//!
//! Use from a test module with `use crate::support::engine;`.
//! Everything is driven through the `docker` CLI on `DOCKER_HOST` (tests/engine-up.sh
//! starts the engine and builds the image). Every object is labelled
//! `dockmap-test=<pid>` so that tests/run-all.sh can sweep leftovers of a killed run.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The image every test container runs (made by tests/engine-up.sh from busybox-static).
pub const IMAGE: &str = "dockmap-test/busybox:latest";

/// The label put on everything tests create.
pub const LABEL: &str = "dockmap-test";

/// The engine URL the tests use: DOCKER_HOST, else the default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// Whether engine tests can run here. Without root or without an engine: under CI a
/// clear panic, elsewhere a "skipped" line and false.
pub fn available() -> bool {
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("needs root".to_owned())
    } else if let Err(e) = try_docker(&["version", "--format", "{{.Server.Version}}"]) {
        Some(format!(
            "needs a Docker engine at {} (start it with tests/engine-up.sh): {e}",
            docker_host()
        ))
    } else {
        None
    };
    match why {
        None => {
            ensure_image();
            true
        }
        Some(why) if std::env::var_os("CI").is_some() => panic!("engine test cannot run: {why}"),
        Some(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

/// Whether the test engine is a swarm manager; under CI a panic when it is not.
pub fn swarm_manager() -> bool {
    let state = docker(&[
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
    ]);
    if state == "active true" {
        return true;
    }
    let why =
        format!("needs a swarm manager (tests/engine-up.sh makes one), engine says '{state}'");
    if std::env::var_os("CI").is_some() {
        panic!("engine test cannot run: {why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// Runs the docker CLI against [`docker_host`]; Ok(trimmed stdout) or Err(stderr).
pub fn try_docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Runs the docker CLI and panics with its message when it fails.
pub fn docker(args: &[&str]) -> String {
    try_docker(args).unwrap_or_else(|e| panic!("docker {}: {e}", args.join(" ")))
}

/// Makes sure [`IMAGE`] exists, building it from /bin/busybox like tests/engine-up.sh.
pub fn ensure_image() {
    if try_docker(&["image", "inspect", "--format", "{{.Id}}", IMAGE]).is_ok() {
        return;
    }
    let status = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engine-up.sh"))
        .env("DOCKER_HOST", docker_host())
        .status()
        .expect("run tests/engine-up.sh");
    assert!(status.success(), "tests/engine-up.sh failed");
}

/// The image's ID: services given the ID start without asking any registry.
pub fn image_id() -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", IMAGE])
}

/// A name unique to this process and call: `dmt-<pid>-<n>-<what>`.
pub fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("dmt-{}-{n}-{what}", std::process::id())
}

fn label() -> String {
    format!("{LABEL}={}", std::process::id())
}

/// A network removed on drop.
#[derive(Debug)]
pub struct TestNetwork {
    /// Full network ID.
    pub id: String,
    /// Name as created.
    pub name: String,
}

impl TestNetwork {
    /// A bridge network named exactly `name`, with `extra` arguments to `docker network create`
    /// (e.g. `["-o", "com.docker.network.bridge.enable_icc=false"]`). Without `--subnet`, the
    /// engine picks one from its pool (198.18.64.0/18 for the test engine).
    pub fn bridge(name: &str, extra: &[&str]) -> Self {
        Self::create(name, &[&["--driver", "bridge"], extra].concat())
    }

    /// An attachable overlay network (needs a swarm manager).
    pub fn overlay(name: &str, extra: &[&str]) -> Self {
        Self::create(
            name,
            &[&["--driver", "overlay", "--attachable"], extra].concat(),
        )
    }

    /// `docker network create <extra> <name>`.
    pub fn create(name: &str, extra: &[&str]) -> Self {
        let label = label();
        let mut args = vec!["network", "create", "--label", &label];
        args.extend_from_slice(extra);
        args.push(name);
        let id = docker(&args);
        Self {
            id,
            name: name.to_owned(),
        }
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        // Endpoints of just-removed containers can linger a moment.
        for _ in 0..20 {
            match try_docker(&["network", "rm", &self.id]) {
                Ok(_) => return,
                Err(e) if e.contains("No such network") || e.contains("not found") => return,
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
        eprintln!("warning: network {} could not be removed", self.id);
    }
}

/// A container removed (with its anonymous volumes) on drop.
#[derive(Debug)]
pub struct TestContainer {
    /// Full container ID.
    pub id: String,
    /// Name as created.
    pub name: String,
}

impl TestContainer {
    /// `docker run -d --name <name> <args> IMAGE sleep 3600`.
    pub fn run(name: &str, args: &[&str]) -> Self {
        Self::run_cmd(name, args, &["sleep", "3600"])
    }

    /// `docker run -d --name <name> <args> IMAGE <cmd>`.
    pub fn run_cmd(name: &str, args: &[&str], cmd: &[&str]) -> Self {
        let label = label();
        let mut all = vec!["run", "-d", "--name", name, "--label", &label];
        all.extend_from_slice(args);
        all.push(IMAGE);
        all.extend_from_slice(cmd);
        let id = docker(&all);
        Self {
            id,
            name: name.to_owned(),
        }
    }

    /// `docker create --name <name> <args> IMAGE sleep 3600`: a container that is not started.
    pub fn create(name: &str, args: &[&str]) -> Self {
        let label = label();
        let mut all = vec!["create", "--name", name, "--label", &label];
        all.extend_from_slice(args);
        all.extend_from_slice(&[IMAGE, "sleep", "3600"]);
        let id = docker(&all);
        Self {
            id,
            name: name.to_owned(),
        }
    }

    /// `docker inspect --format <format>` of this container.
    pub fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "--format", format, &self.id])
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        if let Err(e) = try_docker(&["rm", "-f", "-v", &self.id]) {
            if !e.contains("No such container") {
                eprintln!("warning: container {} could not be removed: {e}", self.id);
            }
        }
    }
}

/// A swarm service removed on drop.
#[derive(Debug)]
pub struct TestService {
    /// Service ID.
    pub id: String,
    /// Name as created.
    pub name: String,
}

impl TestService {
    /// `docker service create --detach --no-resolve-image --name <name> <args> <image id> sleep 3600`.
    ///
    /// The image is given by ID and not resolved, so the engine never looks for a registry.
    pub fn create(name: &str, args: &[&str]) -> Self {
        let label = label();
        let image = image_id();
        let mut all = vec![
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            name,
            "--label",
            &label,
            "--container-label",
            &label,
            // `sleep` as PID 1 ignores SIGTERM: do not wait 10 s for it on removal.
            "--stop-grace-period",
            "0s",
        ];
        all.extend_from_slice(args);
        all.extend_from_slice(&[&image, "sleep", "3600"]);
        let id = docker(&all);
        Self {
            id,
            name: name.to_owned(),
        }
    }

    /// Waits until `want` tasks run; panics after `timeout`.
    pub fn wait_running(&self, want: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let states = docker(&[
                "service",
                "ps",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.CurrentState}}",
                &self.id,
            ]);
            let running = states.lines().filter(|l| l.starts_with("Running")).count();
            if running >= want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service {} has {running} of {want} tasks running: {states}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        if let Err(e) = try_docker(&["service", "rm", &self.id]) {
            if !e.contains("not found") {
                eprintln!("warning: service {} could not be removed: {e}", self.id);
            }
        }
        // The task containers go away asynchronously; wait so that networks can be removed next.
        let filter = format!("label=com.docker.swarm.service.id={}", self.id);
        for _ in 0..50 {
            match try_docker(&["ps", "-aq", "--filter", &filter]) {
                Ok(ids) if ids.is_empty() => return,
                Err(_) => return,
                Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// A tokio runtime for one test.
/// A server state over the test engine, after its first collection has finished.
pub async fn collected_state() -> dockmap::web::AppState {
    let state = dockmap::web::AppState::collecting(dockmap::collect::node::NodeOptions {
        docker: Some(docker_host()),
        ..Default::default()
    });
    assert!(state.refresh());
    let deadline = Instant::now() + Duration::from_secs(90);
    while state.current().is_none() || state.is_collecting() {
        assert!(Instant::now() < deadline, "collection did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
