//! What packet-filter collection costs here (needs root; run with `cargo bench --bench iptables_parse`).
//!
//! Prints figures, asserts nothing about time: one iptables-save spawn, the parse of a
//! ≥1,000-published-port host, the empty-namespace check, and 200 namespaces against
//! the nsenter + iptables-save shell loop people write by hand.

#[path = "../support/firewall.rs"]
mod firewall_support;
#[path = "../support/netlab.rs"]
mod netlab;

use std::process::Command;
use std::time::{Duration, Instant};

use dockmap::collect::firewall::{
    self, parse_iptables_save, probe_current_thread, run, RuleCache, Tools,
};
use dockmap::collect::{ipvs, netns};
use firewall_support::{published_ports_ruleset, TestNs};

const PORTS: usize = 1200;
const NAMESPACES: usize = 200;

/// The nat rules Docker puts inside a container on a user-defined network (embedded DNS).
const EMBEDDED_DNS: &str = include_str!("../fixtures/embedded_dns.iptables-restore.txt");

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    (samples[n / 2], mean)
}

/// CPU time of the calling thread: steadier than wall time on a busy machine.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn show(what: &str, (median, mean): (Duration, Duration)) {
    println!("{what:<62} median {median:>10.3?}  mean {mean:>10.3?}");
}

fn sh(script: &str) -> Duration {
    let t = Instant::now();
    let status = Command::new("sh").arg("-c").arg(script).status().unwrap();
    assert!(status.success(), "{script}");
    t.elapsed()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("iptables_parse: run with `cargo bench --bench iptables_parse`");
        return;
    }
    if !firewall_support::have_root() {
        return;
    }
    let tools = Tools::from_env();
    let save = tools.find("iptables-save").expect("iptables-save");
    let save6 = tools.find("ip6tables-save").expect("ip6tables-save");

    println!("== one spawn");
    let dns = TestNs::new();
    dns.exec_stdin(&["iptables-restore"], EMBEDDED_DNS);
    let h = dns.handle();
    show(
        "iptables-save, setns in pre_exec (embedded-DNS namespace)",
        time(100, || {
            run::start(&h, "iptables-save", &save, &[])
                .unwrap()
                .finish()
                .unwrap()
        }),
    );
    show(
        "ip6tables-save, setns in pre_exec (no IPv6 tables)",
        time(100, || {
            run::start(&h, "ip6tables-save", &save6, &[])
                .unwrap()
                .finish()
                .unwrap()
        }),
    );
    let path = dns.path().display().to_string();
    show(
        "nsenter --net=... iptables-save",
        time(100, || {
            Command::new("nsenter")
                .args([&format!("--net={path}"), "iptables-save"])
                .output()
                .unwrap()
        }),
    );
    show(
        "collect() of that namespace (check + one spawn + parse)",
        time(100, || firewall::collect_with(&h, &tools)),
    );

    println!("== {PORTS} published ports");
    let big = TestNs::new();
    big.exec_stdin(&["iptables-restore"], &published_ports_ruleset(PORTS));
    let bh = big.handle();
    let text = run::start(&bh, "iptables-save", &save, &[])
        .unwrap()
        .finish()
        .unwrap()
        .stdout;
    let tables = parse_iptables_save(&text).unwrap();
    let rules: usize = tables.iter().map(|t| t.rules.len()).sum();
    println!(
        "iptables-save output: {} lines, {} bytes, {rules} rules",
        text.lines().count(),
        text.len()
    );
    show(
        "iptables-save spawn",
        time(10, || {
            run::start(&bh, "iptables-save", &save, &[])
                .unwrap()
                .finish()
                .unwrap()
        }),
    );
    show(
        "parse_iptables_save",
        time(50, || parse_iptables_save(&text).unwrap()),
    );
    let cpu = thread_cpu();
    for _ in 0..50 {
        std::hint::black_box(parse_iptables_save(&text).unwrap());
    }
    println!(
        "parse_iptables_save, CPU time of this thread per parse: {:.3?}",
        (thread_cpu() - cpu) / 50
    );
    show(
        "collect() of that namespace",
        time(10, || firewall::collect_with(&bh, &tools)),
    );

    println!("== empty-namespace check");
    let empty = TestNs::new();
    let eh = empty.handle();
    show(
        "netns::run_in(no-op) (thread + setns only)",
        time(500, || netns::run_in(&eh, || ()).unwrap()),
    );
    show(
        "netns::run_in(probe_current_thread) (thread + setns + check)",
        time(500, || netns::run_in(&eh, probe_current_thread).unwrap()),
    );
    let inside = {
        let eh = eh.try_clone().unwrap();
        std::thread::spawn(move || {
            netns::enter(eh.fd()).unwrap();
            time(500, probe_current_thread)
        })
        .join()
        .unwrap()
    };
    show("probe_current_thread on a thread already inside", inside);
    show(
        "collect() of an empty namespace",
        time(500, || firewall::collect_with(&eh, &tools)),
    );
    show(
        "shell: nsenter iptables-save + ip6tables-save (empty)",
        time(50, || {
            sh(&format!(
                "nsenter --net={p} iptables-save >/dev/null; nsenter --net={p} ip6tables-save >/dev/null",
                p = empty.path().display()
            ))
        }),
    );
    drop((dns, big, empty));

    for (label, rules) in [("empty", None), ("embedded-DNS rules", Some(EMBEDDED_DNS))] {
        println!("== {NAMESPACES} namespaces, {label}");
        let spaces: Vec<TestNs> = (0..NAMESPACES).map(|_| TestNs::new()).collect();
        if let Some(r) = rules {
            for ns in &spaces {
                ns.exec_stdin(&["iptables-restore"], r);
            }
        }
        let handles: Vec<_> = spaces.iter().map(TestNs::handle).collect();
        let t = Instant::now();
        let mut read = 0;
        for h in &handles {
            let (fw, _) = firewall::collect_with(h, &tools);
            read += fw.map_or(0, |f| f.ipv4.len());
        }
        let one_by_one = t.elapsed();
        let t = Instant::now();
        let many = firewall::collect_many(&handles, &tools, None);
        let at_once = t.elapsed();
        assert_eq!(
            many.iter()
                .filter_map(|(f, _)| f.as_ref())
                .map(|f| f.ipv4.len())
                .sum::<usize>(),
            read
        );
        let cache = RuleCache::new();
        firewall::collect_many(&handles, &tools, Some(&cache));
        let t = Instant::now();
        firewall::collect_many(&handles, &tools, Some(&cache));
        let warm = t.elapsed();
        let t = Instant::now();
        let ipvs_states = ipvs::collect_many(&handles);
        let ipvs_many = t.elapsed();
        let t = Instant::now();
        for h in &handles {
            std::hint::black_box(ipvs::collect(h));
        }
        let ipvs_one_by_one = t.elapsed();
        let script: String = spaces
            .iter()
            .map(|ns| {
                format!(
                    "nsenter --net={p} iptables-save >/dev/null; nsenter --net={p} ip6tables-save >/dev/null\n",
                    p = ns.path().display()
                )
            })
            .collect();
        let shell = sh(&script);
        let ratio = |d: Duration| shell.as_secs_f64() / d.as_secs_f64();
        println!("shell nsenter iptables-save + ip6tables-save, each namespace: {shell:>10.3?}");
        println!("collect_with, one namespace after the other ({read} tables): {one_by_one:>10.3?}  {:>6.1}x", ratio(one_by_one));
        println!(
            "collect_many:                                          {at_once:>10.3?}  {:>6.1}x",
            ratio(at_once)
        );
        println!(
            "collect_many, RuleCache warm ({} kept):               {warm:>10.3?}  {:>6.1}x",
            cache.len(),
            ratio(warm)
        );
        println!(
            "ipvs::collect_many ({:?}):        {ipvs_many:>10.3?}",
            ipvs_states[0].1.state
        );
        println!("ipvs::collect, one namespace after the other:          {ipvs_one_by_one:>10.3?}");
    }
}
