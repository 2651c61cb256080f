//! `dockmap snapshot` against the by-hand way (tests/bench/by-hand-collect.sh), on a host with N containers.
//!
//!     sudo -E cargo bench --bench snapshot_vs_script
//!
//! Needs root and the test engine (tests/engine-up.sh). cargo builds the release `dockmap` binary
//! for the bench (target/release/dockmap). Settings, from the environment:
//! - DOCKMAP_BENCH_CONTAINERS: how many containers (default 200, at most 350): 80 % on one user
//!   bridge, 10 % on another, 10 % on the default bridge, every 25th with a published port (see
//!   bench_host.rs). Containers and networks labelled `dockmap-bench` from an earlier run are reused.
//! - DOCKMAP_BENCH_RUNS: timed runs of each (default 5; the median is reported).
//! - DOCKMAP_BENCH_KEEP=1: keep the containers afterwards (the next run starts at once).
//!
//! Prints the median time of the script, of `dockmap snapshot --out` (cold: first of the boot, with
//! no parsed rules kept; warm: again, on the unchanged host), and of the engine collector alone (in
//! process), the ratios, and how many firewall tools each dockmap run started (its own count);
//! then checks that dockmap's JSON holds every container, network, namespace, link (with its kind),
//! address and FDB entry the script saw, the same number of rules per iptables table, and no
//! failed source. Exits non-zero when something is missing.
//! Under `cargo test --all-targets` (no `--bench` argument) it only says how to run it.

#[path = "bench_host.rs"]
mod bench_host;
#[path = "../support/engine.rs"]
mod engine;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bench_host::{ensure_containers, env_usize, firewall_counts, remove_all};
use serde_json::Value;

fn main() {
    if !bench_host::ready("snapshot_vs_script") {
        return;
    }

    let n = env_usize("DOCKMAP_BENCH_CONTAINERS", 200);
    let runs = env_usize("DOCKMAP_BENCH_RUNS", 5).max(1);
    let keep = std::env::var("DOCKMAP_BENCH_KEEP").is_ok_and(|v| v == "1");

    let started = Instant::now();
    ensure_containers(n);
    println!(
        "{n} bench containers ready in {:.1}s ({} containers on the engine in all)",
        started.elapsed().as_secs_f64(),
        engine::docker(&["ps", "-q"]).lines().count()
    );

    let outcome = measure(runs);
    if !keep {
        remove_all();
    }
    if let Err(why) = outcome {
        eprintln!("FAILED: {why}");
        std::process::exit(1);
    }
}

fn measure(runs: usize) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/bench/by-hand-collect.sh");
    let dockmap = Path::new(env!("CARGO_BIN_EXE_dockmap"));
    let work = std::env::temp_dir().join(format!("dmbench-{}", std::process::id()));
    let script_out = work.join("script");
    let snapshot = work.join("snapshot.json");
    // A rule cache of the bench's own: removing it times a cold run without touching other runs'.
    let rule_cache = work.join("firewall-cache.json");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    let run_script = || {
        let _ = std::fs::remove_dir_all(&script_out);
        run(Command::new("bash").arg(&script).arg(&script_out))
    };
    // Tool runs [cold, warm] of every dockmap run, as its snapshot's firewall line says.
    let tool_runs: RefCell<[Vec<usize>; 2]> = RefCell::default();
    let run_dockmap_as = |cold: bool| {
        let _ = std::fs::remove_file(&snapshot);
        let took = dockmap_once(dockmap, &snapshot, &rule_cache)?;
        let counts = std::fs::read(&snapshot)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| firewall_counts(&v))
            .ok_or("the snapshot has no firewall counts")?;
        tool_runs.borrow_mut()[usize::from(!cold)].push(counts[2]);
        Ok::<_, String>(took)
    };
    let run_dockmap = || run_dockmap_as(false);
    // The first snapshot of a boot: no parsed rules kept yet, every iptables-save runs.
    let run_cold = || {
        let _ = std::fs::remove_file(&rule_cache);
        run_dockmap_as(true)
    };
    let docker = dockmap::collect::docker::connect(None).map_err(|e| e.to_string())?;
    let rt = engine::runtime();
    let run_collect = || {
        let t = Instant::now();
        rt.block_on(dockmap::collect::docker::collect(&docker))
            .map(|f| (t.elapsed(), f.containers.len()))
            .map_err(|e| e.to_string())
    };

    // One untimed round of each to warm caches, then alternate so drift hits both alike.
    run_script()?;
    let dockmap_works = run_cold();
    run_collect()?;
    let (mut t_script, mut t_dockmap, mut t_collect) = (Vec::new(), Vec::new(), Vec::new());
    let mut t_cold = Vec::new();
    let mut seen = 0;
    for _ in 0..runs {
        t_script.push(run_script()?);
        if dockmap_works.is_ok() {
            t_cold.push(run_cold()?);
            t_dockmap.push(run_dockmap()?);
        }
        let (t, count) = run_collect()?;
        t_collect.push(t);
        seen = count;
    }

    let script_median = median(&mut t_script);
    let collect_median = median(&mut t_collect);
    println!("median of {runs} runs:");
    println!(
        "  by-hand script (docker inspect + ip/bridge/iptables-save per namespace): {:>8.1} ms",
        ms(script_median)
    );
    println!(
        "  engine collector alone (collect(), {seen} containers):                   {:>8.1} ms",
        ms(collect_median)
    );
    match dockmap_works {
        Ok(_) => {
            let cold = median(&mut t_cold);
            let warm = median(&mut t_dockmap);
            let runs = tool_runs.borrow();
            println!(
                "  dockmap snapshot --out, cold (first of the boot, no rules kept):        {:>8.1} ms",
                ms(cold)
            );
            println!(
                "  dockmap snapshot --out, warm (unchanged host, parsed rules kept):       {:>8.1} ms",
                ms(warm)
            );
            println!(
                "  firewall tools started per dockmap run: cold {:?}, warm {:?}",
                runs[0], runs[1]
            );
            println!(
                "  ratio script / dockmap snapshot: {:.1}x cold, {:.1}x warm (goals: 15x, 30x)",
                ms(script_median) / ms(cold),
                ms(script_median) / ms(warm)
            );
        }
        Err(why) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(format!(
                "`{} snapshot --out` failed: {why}",
                dockmap.display()
            ));
        }
    }

    // Run once more, back to back, and compare what each saw.
    run_script()?;
    run_dockmap()?;
    let missing = compare(&script_out, &snapshot)?;
    let _ = std::fs::remove_dir_all(&work);
    if missing.is_empty() {
        println!("dockmap's snapshot holds every container, network, namespace, link, address, FDB entry and rule the script saw");
        Ok(())
    } else {
        Err(format!(
            "dockmap's snapshot misses what the script saw:\n  {}",
            missing.join("\n  ")
        ))
    }
}

/// `dockmap snapshot --out FILE --rule-cache CACHE`, Ok(wall time) when it wrote the file.
fn dockmap_once(dockmap: &Path, snapshot: &Path, rule_cache: &Path) -> Result<Duration, String> {
    let took = run(Command::new(dockmap)
        .arg("snapshot")
        .arg("--rule-cache")
        .arg(rule_cache)
        .arg("--out")
        .arg(snapshot))?;
    if snapshot.exists() {
        Ok(took)
    } else {
        Err(format!("it wrote no {}", snapshot.display()))
    }
}

/// Runs a command, Ok(wall time) when it succeeds.
fn run(cmd: &mut Command) -> Result<Duration, String> {
    let t = Instant::now();
    let out = cmd
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let took = t.elapsed();
    if out.status.success() {
        Ok(took)
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What the script saw that dockmap's snapshot lacks, one line each.
fn compare(script_out: &Path, snapshot: &Path) -> Result<Vec<String>, String> {
    let read = |p: PathBuf| -> Result<Value, String> {
        let text = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let snap = read(snapshot.to_path_buf())?;
    let mut missing = Vec::new();

    // Containers.
    let have: BTreeSet<&str> = items(&snap["engine"]["containers"])
        .filter_map(|c| c["id"].as_str())
        .collect();
    let script_containers = read(script_out.join("containers.json"))?;
    for c in items(&script_containers) {
        let id = c["Id"].as_str().unwrap_or_default();
        if !have.contains(id) {
            missing.push(format!("container {id}"));
        }
    }

    // Namespaces (by file name; the host's by role) and the bridges in each.
    let mut by_name: BTreeMap<String, &Value> = BTreeMap::new();
    for ns in items(&snap["namespaces"]) {
        if ns["role"].as_str() == Some("host") {
            by_name.insert("host".to_owned(), ns);
        }
        if let Some(name) = ns["name"].as_str() {
            by_name.entry(name.to_owned()).or_insert(ns);
        }
        for p in items(&ns["paths"]).filter_map(Value::as_str) {
            if let Some(file) = Path::new(p).file_name().and_then(|f| f.to_str()) {
                by_name.entry(file.to_owned()).or_insert(ns);
            }
        }
    }
    let ns_dir = script_out.join("ns");
    let entries = std::fs::read_dir(&ns_dir).map_err(|e| format!("{}: {e}", ns_dir.display()))?;
    let mut namespaces = 0;
    let mut compared = Compared::default();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        namespaces += 1;
        let Some(ns) = by_name.get(&name) else {
            missing.push(format!("namespace {name}"));
            continue;
        };
        let here = Facts::of_dockmap(ns);
        let theirs = Facts::of_script(&entry.path())?;
        compared.add(&theirs);
        for (what, item) in theirs.not_in(&here) {
            missing.push(format!("{what} {item} in namespace {name}"));
        }
    }

    // Networks, and no source that failed.
    let networks: BTreeSet<&str> = items(&snap["engine"]["networks"])
        .filter_map(|n| n["id"].as_str())
        .collect();
    let script_networks = read(script_out.join("networks.json"))?;
    for n in items(&script_networks) {
        let id = n["Id"].as_str().unwrap_or_default();
        if !networks.contains(id) {
            missing.push(format!("network {id}"));
        }
    }
    for st in items(&snap["sources"]).filter(|s| s["state"] == "error") {
        missing.push(format!("(a source failed) {st}"));
    }
    println!(
        "compared: {} containers, {} networks, {namespaces} namespaces, {} links, {} addresses, \
         {} FDB entries, {} iptables rules",
        items(&script_containers).count(),
        items(&script_networks).count(),
        compared.links,
        compared.addresses,
        compared.fdb,
        compared.rules
    );
    Ok(missing)
}

/// Totals of what was compared, to print.
#[derive(Default)]
struct Compared {
    links: usize,
    addresses: usize,
    fdb: usize,
    rules: usize,
}

impl Compared {
    fn add(&mut self, f: &Facts) {
        self.links += f.links.len();
        self.addresses += f.addresses.len();
        self.fdb += f.fdb.len();
        self.rules += f.rules.values().sum::<usize>();
    }
}

/// One namespace's facts in a form both sides give: link names (with their kind), addresses,
/// FDB entries (MAC on link name) and the number of rules per iptables table.
#[derive(Default)]
struct Facts {
    links: BTreeSet<String>,
    addresses: BTreeSet<String>,
    fdb: BTreeSet<String>,
    rules: BTreeMap<String, usize>,
}

impl Facts {
    fn of_dockmap(ns: &Value) -> Facts {
        let mut f = Facts::default();
        let mut names = BTreeMap::new();
        for l in items(&ns["links"]) {
            let name = l["name"].as_str().unwrap_or_default();
            names.insert(l["ifindex"].as_i64().unwrap_or(-1), name.to_owned());
            let kind = l["kind"].as_str().unwrap_or("");
            f.links.insert(format!("{name}({kind})"));
        }
        for a in items(&ns["addresses"]) {
            f.addresses.insert(format!(
                "{}/{}",
                a["address"].as_str().unwrap_or_default(),
                a["prefix_len"]
            ));
        }
        for e in items(&ns["fdb"]) {
            let dev = names
                .get(&e["ifindex"].as_i64().unwrap_or(-1))
                .cloned()
                .unwrap_or_default();
            f.fdb.insert(format!(
                "{} dev {dev}",
                e["mac"].as_str().unwrap_or_default()
            ));
        }
        for t in items(&ns["firewall"]["ipv4"]) {
            let n = items(&t["rules"]).count();
            if n > 0 {
                f.rules
                    .insert(t["name"].as_str().unwrap_or_default().to_owned(), n);
            }
        }
        f
    }

    fn of_script(dir: &Path) -> Result<Facts, String> {
        let json = |file: &str| -> Result<Value, String> {
            let p = dir.join(file);
            let text = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", p.display()))
        };
        let mut f = Facts::default();
        for l in items(&json("link.json")?) {
            let kind = l["linkinfo"]["info_kind"].as_str().unwrap_or("");
            f.links.insert(format!(
                "{}({kind})",
                l["ifname"].as_str().unwrap_or_default()
            ));
        }
        for i in items(&json("addr.json")?) {
            for a in items(&i["addr_info"]) {
                f.addresses.insert(format!(
                    "{}/{}",
                    a["local"].as_str().unwrap_or_default(),
                    a["prefixlen"]
                ));
            }
        }
        for e in items(&json("fdb.json")?) {
            f.fdb.insert(format!(
                "{} dev {}",
                e["mac"].as_str().unwrap_or_default(),
                e["ifname"].as_str().unwrap_or_default()
            ));
        }
        let p = dir.join("iptables.txt");
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_owned();
            } else if line.starts_with("-A ") {
                *f.rules.entry(table.clone()).or_default() += 1;
            }
        }
        Ok(f)
    }

    /// What `self` holds that `other` lacks, as (what, item).
    fn not_in(&self, other: &Facts) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let sets = [
            ("link", &self.links, &other.links),
            ("address", &self.addresses, &other.addresses),
            ("FDB entry", &self.fdb, &other.fdb),
        ];
        for (what, mine, theirs) in sets {
            v.extend(mine.difference(theirs).map(|i| (what, i.clone())));
        }
        for (table, n) in &self.rules {
            let have = other.rules.get(table).copied().unwrap_or(0);
            if have != *n {
                v.push((
                    "iptables table",
                    format!("{table}: {n} rules, dockmap has {have}"),
                ));
            }
        }
        v
    }
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
