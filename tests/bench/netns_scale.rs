//! Bench: collect_all over many namespaces vs the by-hand way (`ip netns exec` + ip/bridge).
//!
//! `cargo bench --bench netns_scale` (root). Builds DOCKMAP_BENCH_NETNS (default 1,000)
//! namespaces, each with `eth0`, a veth whose other end is a port of `br0` in one hub
//! namespace (like containers on docker0, but in a namespace of its own so the host is
//! not flooded with 1,000 links). Every leaf gets lo up, an address and a default route.
//! Then, in one run: collect_all over host + hub + leaves, and the by-hand script doing
//! `ip netns exec NS ip -d -j link`, `ip -j addr`, `bridge -j fdb` per namespace.
//! Also times the whole command, `dockmap snapshot --no-engine --netns-dir /run/netns --out F`.
//! Prints the times and the ratios, and removes everything it made.
//!
//! Knobs: DOCKMAP_BENCH_ROUNDS (collect_all rounds, default 3, the best counts),
//! DOCKMAP_BENCH_ONLY_OURS (set: skip the slow by-hand runs, for profiling).

#[path = "../support/netlab.rs"]
mod netlab;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockmap::collect::link::collect_all;
use dockmap::collect::netns::NsHandle;
use netlab::{require_root, run_batch, Lab};

fn main() {
    if !require_root() {
        return;
    }
    let count: usize = std::env::var("DOCKMAP_BENCH_NETNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    raise_fd_limit();

    let mut lab = Lab::new();
    let t = Instant::now();
    let (hub, leaves) = build(&mut lab, count);
    println!(
        "built {count} namespaces + hub in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut handles = vec![NsHandle::host().expect("host namespace")];
    handles.push(lab.handle(&hub));
    handles.extend(leaves.iter().map(|n| lab.handle(n)));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut ours = Vec::new();
    let rounds: usize = std::env::var("DOCKMAP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds.max(1) {
        let (t, cpu) = (Instant::now(), cpu_time(libc::RUSAGE_SELF));
        let results = runtime.block_on(collect_all(&handles));
        let (took, cpu) = (t.elapsed(), cpu_time(libc::RUSAGE_SELF) - cpu);
        ours.push((took, cpu));
        check(&handles, &results, count);
        println!(
            "collect_all round {round}: {:.3} s wall, {:.3} s cpu ({} namespaces)",
            took.as_secs_f64(),
            cpu.as_secs_f64(),
            handles.len()
        );
    }
    let best = ours.iter().map(|o| o.0).min().unwrap_or_default();
    let best_cpu = ours.iter().map(|o| o.1).min().unwrap_or_default();

    let cli = time_cli(count, rounds.max(1));

    if std::env::var_os("DOCKMAP_BENCH_ONLY_OURS").is_some() {
        return;
    }
    let names: Vec<Option<&str>> = std::iter::once(None)
        .chain(std::iter::once(Some(hub.as_str())))
        .chain(leaves.iter().map(|n| Some(n.as_str())))
        .collect();
    let (exec, exec_cpu) = time_script(&by_hand_script(&names, true));
    println!(
        "by hand (ip netns exec NS ip -d -j link / ip -j addr / bridge -j fdb): {:.3} s wall, {:.3} s cpu",
        exec.as_secs_f64(),
        exec_cpu.as_secs_f64()
    );
    let (dash_n, dash_n_cpu) = time_script(&by_hand_script(&names, false));
    println!(
        "by hand, faster variant (ip -n NS / bridge -n NS, no exec wrapper): {:.3} s wall, {:.3} s cpu",
        dash_n.as_secs_f64(),
        dash_n_cpu.as_secs_f64()
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "RESULT namespaces={} collect_all_best={:.3}s by_hand={:.3}s ratio={:.1}x cpu_ratio={:.1}x | by_hand_dash_n={:.3}s ratio={:.1}x cpu_ratio={:.1}x",
        handles.len(),
        best.as_secs_f64(),
        exec.as_secs_f64(),
        ratio(exec, best),
        ratio(exec_cpu, best_cpu),
        dash_n.as_secs_f64(),
        ratio(dash_n, best),
        ratio(dash_n_cpu, best_cpu)
    );
    println!(
        "RESULT whole command: dockmap snapshot --no-engine best={:.3}s, by hand {:.1}x slower",
        cli.as_secs_f64(),
        ratio(exec, cli)
    );
    drop(handles);
    let t = Instant::now();
    drop(lab);
    println!("cleaned up in {:.1} s", t.elapsed().as_secs_f64());
}

/// The whole command a user runs (discovery, links, firewall probe, IPVS, JSON written), best of
/// `rounds`; checks that every namespace made is in its output.
fn time_cli(count: usize, rounds: usize) -> Duration {
    let out = std::env::temp_dir().join(format!("dmbench-netns-{}.json", std::process::id()));
    let mut best = Duration::MAX;
    for round in 0..rounds {
        let t = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_dockmap"))
            .args([
                "snapshot",
                "--no-engine",
                "--netns-dir",
                "/run/netns",
                "--out",
            ])
            .arg(&out)
            .stderr(Stdio::null())
            .status()
            .expect("run dockmap");
        let took = t.elapsed();
        assert!(status.success(), "dockmap snapshot failed: {status}");
        best = best.min(took);
        let text = std::fs::read(&out).expect("snapshot written");
        let snap: serde_json::Value = serde_json::from_slice(&text).expect("snapshot JSON");
        let seen = snap["namespaces"].as_array().map_or(0, Vec::len);
        assert!(
            seen > count,
            "dockmap snapshot saw {seen} namespaces, {count} leaves + hub were made"
        );
        println!(
            "dockmap snapshot --no-engine --netns-dir /run/netns round {round}: {:.3} s wall ({seen} namespaces)",
            took.as_secs_f64()
        );
    }
    let _ = std::fs::remove_file(&out);
    best
}

/// The hub with br0, and `count` leaves each holding an `eth0` whose peer is a br0 port.
fn build(lab: &mut Lab, count: usize) -> (String, Vec<String>) {
    let hub = lab.netns("hub");
    let shorts: Vec<String> = (0..count).map(|i| format!("l{i}")).collect();
    let leaves = lab.netns_many(&shorts);

    let mut veths = String::new();
    for (i, leaf) in leaves.iter().enumerate() {
        veths.push_str(&format!(
            "link add eth0 netns {leaf} type veth peer name h{i} netns {hub}\n"
        ));
    }
    run_batch("ip", None, &veths);

    let mut hub_script =
        String::from("link add br0 type bridge\naddr add 198.18.0.1/16 dev br0\nlink set br0 up\n");
    for i in 0..count {
        hub_script.push_str(&format!("link set h{i} master br0 up\n"));
    }
    run_batch("ip", Some(&hub), &hub_script);

    // Leaves are configured from inside each (one ip process each), a few at a time.
    let mut running = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let n = i + 2;
        let script = format!(
            "link set lo up\naddr add 198.18.{}.{}/16 dev eth0\nlink set eth0 up\nroute add default via 198.18.0.1\n",
            n >> 8,
            n & 255
        );
        let mut child = Command::new("ip")
            .args(["-n", leaf, "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("ip");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        running.push(child);
        if running.len() >= 8 {
            for mut c in running.drain(..) {
                assert!(c.wait().unwrap().success(), "leaf setup failed");
            }
        }
    }
    for mut c in running {
        assert!(c.wait().unwrap().success(), "leaf setup failed");
    }
    (hub, leaves)
}

/// The collection must be complete, or the timing means nothing.
fn check(
    handles: &[NsHandle],
    results: &[Result<dockmap::collect::link::KernelFacts, dockmap::collect::CollectError>],
    count: usize,
) {
    assert_eq!(results.len(), handles.len());
    let hub = results[1].as_ref().expect("hub read");
    assert_eq!(
        hub.links
            .iter()
            .filter(|l| l.kind == dockmap::snapshot::LinkKind::Veth)
            .count(),
        count,
        "hub veths"
    );
    for (h, r) in handles.iter().zip(results).skip(2) {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{} failed: {e}", h.name));
        let eth0 = f.links.iter().find(|l| l.name == "eth0").expect("eth0");
        let nsid = eth0.link_netnsid.expect("eth0 link_netnsid");
        let target = f.nsids.iter().find(|m| m.nsid == nsid).map(|m| m.target);
        assert_eq!(
            target,
            Some(handles[1].id),
            "{}: peer not resolved to the hub",
            h.name
        );
        assert!(f.addresses.iter().any(|a| a.address.starts_with("198.18.")));
        assert!(f
            .routes
            .iter()
            .any(|r| r.gateway.as_deref() == Some("198.18.0.1")));
    }
    // Dumps interrupted by IPv6 DAD still settling on 1,000 fresh ports may be noted;
    // an unresolved nsid may not.
    for (h, r) in handles.iter().zip(results).skip(1) {
        let f = r.as_ref().expect("read");
        assert!(
            f.problems.iter().all(|p| !p.contains("nsid")),
            "{}: {:?}",
            h.name,
            f.problems
        );
    }
}

/// The shell way: per namespace, link details, addresses and the bridge FDB as JSON.
fn by_hand_script(names: &[Option<&str>], exec: bool) -> String {
    let mut s = String::new();
    for ns in names {
        match (ns, exec) {
            (None, _) => s.push_str("ip -d -j link\nip -j addr\nbridge -j fdb\n"),
            (Some(n), true) => s.push_str(&format!(
                "ip netns exec {n} ip -d -j link\nip netns exec {n} ip -j addr\nip netns exec {n} bridge -j fdb\n"
            )),
            (Some(n), false) => s.push_str(&format!(
                "ip -n {n} -d -j link\nip -n {n} -j addr\nbridge -n {n} -j fdb\n"
            )),
        }
    }
    s
}

/// Wall time and CPU time (of the script and every process it ran).
fn time_script(script: &str) -> (Duration, Duration) {
    let (t, cpu) = (Instant::now(), cpu_time(libc::RUSAGE_CHILDREN));
    let mut child = Command::new("bash")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "by-hand script failed");
    (t.elapsed(), cpu_time(libc::RUSAGE_CHILDREN) - cpu)
}

/// User + system CPU time of this process (RUSAGE_SELF) or its waited-for children.
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes into the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// 1,000 namespace handles plus their sockets exceed the common soft limit of 1,024 fds.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
