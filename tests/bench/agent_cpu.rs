//! What a `dockmap agent` costs the node it runs on while it is polled: CPU seconds per minute.
//!
//!     sudo -E cargo bench --bench agent_cpu
//!
//! Needs root and the test engine (tests/engine-up.sh). Starts the release `dockmap agent` on a
//! loopback port of the bench host (bench_host.rs: N containers, most on one user-defined network),
//! asks it for `GET /v1/snapshot` every POLL seconds for DOCKMAP_BENCH_SECONDS (default 60), and
//! reports its CPU time (utime + stime from /proc/PID/stat) per minute of polling, the first
//! (cold) answer's time, the median of the others, and how many firewall tools the polled
//! collections started (the snapshots' own count). The goal is under 1 s of CPU per minute.
//! Settings: DOCKMAP_BENCH_CONTAINERS (default 200), DOCKMAP_BENCH_SECONDS, DOCKMAP_BENCH_KEEP=1
//! (keep the containers). Under `cargo test --all-targets` (no `--bench`) it only says how to run it.

#[path = "bench_host.rs"]
mod bench_host;
#[path = "../support/engine.rs"]
mod engine;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench_host::{ensure_containers, env_usize, firewall_counts, remove_all};

/// How often the agent is asked, as `serve --agents` would.
const POLL: Duration = Duration::from_secs(2);

fn main() {
    if !bench_host::ready("agent_cpu") {
        return;
    }
    let n = env_usize("DOCKMAP_BENCH_CONTAINERS", 200);
    let seconds = env_usize("DOCKMAP_BENCH_SECONDS", 60).max(4);
    let keep = std::env::var("DOCKMAP_BENCH_KEEP").is_ok_and(|v| v == "1");
    ensure_containers(n);
    println!(
        "{n} bench containers ready ({} containers on the engine in all)",
        engine::docker(&["ps", "-q"]).lines().count()
    );
    let outcome = measure(Duration::from_secs(seconds as u64));
    if !keep {
        remove_all();
    }
    if let Err(why) = outcome {
        eprintln!("FAILED: {why}");
        std::process::exit(1);
    }
}

/// Kills the agent when the bench ends, also on a panic.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure(polling: Duration) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("dmbench-agent-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let rule_cache = work.join("firewall-cache.json");
    let addr = free_loopback_addr()?;
    let agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_dockmap"))
            .args(["agent", "--insecure-no-auth", "--listen", &addr.to_string()])
            .arg("--rule-cache")
            .arg(&rule_cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the agent: {e}"))?,
    );
    let pid = agent.0.id();
    wait_listening(addr)?;

    // The first answer is cold: no rules kept yet in the agent's own cache file.
    let t = Instant::now();
    let first = get_snapshot(addr)?;
    let cold = t.elapsed();
    let cold_runs = tool_runs(&first)?;
    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut warm_runs = Vec::new();
    while started.elapsed() < polling {
        let tick = Instant::now();
        let body = get_snapshot(addr)?;
        answers.push(tick.elapsed());
        warm_runs.push(tool_runs(&body)?);
        if let Some(rest) = POLL.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let cpu = cpu_seconds(pid)? - cpu_before;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    drop(agent);
    let _ = std::fs::remove_dir_all(&work);

    answers.sort();
    let median = answers[answers.len() / 2];
    println!(
        "dockmap agent polled every {}s for {:.0}s ({} answers):",
        POLL.as_secs(),
        minutes * 60.0,
        answers.len()
    );
    println!(
        "  first answer (cold, every namespace's rules read): {:>8.1} ms, {cold_runs} firewall tools started",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "  later answers (warm): median {:>8.1} ms; firewall tools started per answer: {:?}",
        median.as_secs_f64() * 1000.0,
        warm_runs
    );
    println!(
        "  agent CPU while polled: {cpu:.2} s in {:.1} min = {:.2} s CPU per minute (goal < 1 s)",
        minutes,
        cpu / minutes
    );
    Ok(())
}

/// A loopback address nobody listens on now.
fn free_loopback_addr() -> Result<SocketAddr, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map_err(|e| e.to_string())
}

fn wait_listening(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("the agent never listened on {addr}"))
}

/// `GET /v1/snapshot` over plain HTTP/1.1, the body.
fn get_snapshot(addr: SocketAddr) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /v1/snapshot HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "the agent answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return dechunk(&body);
    }
    Ok(body)
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size '{size_text}': {e}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(raw.get(..size).ok_or("short chunk")?);
        raw = raw.get(size + 2..).ok_or("short chunk")?;
    }
}

/// The firewall tools one snapshot's collection started, by its own count.
fn tool_runs(body: &[u8]) -> Result<usize, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    firewall_counts(&v)
        .map(|c| c[2])
        .ok_or_else(|| "the snapshot has no firewall counts".to_owned())
}

/// utime + stime of a process, in seconds (all its threads; waited-for children are not counted,
/// so the tools it runs are added from cutime + cstime).
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .map_err(|e| format!("agent stat: {e}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(") ").ok_or("bad stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14-17 of stat(5); `after` starts at field 3.
    let ticks: f64 = fields
        .get(11..15)
        .ok_or("short stat")?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}
