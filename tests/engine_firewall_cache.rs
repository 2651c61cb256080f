//! A warm collection of an unchanged host runs no firewall tool; a changed namespace is read again.
//!
//! Runs the real binary against the real engine with containers on a user-defined network (each
//! holds Docker's embedded-DNS NAT rules). The firewall tools are found first in a directory of
//! counting shims, which log the namespace they ran in and start the real tool: an exec count that
//! does not depend on what dockmap says about itself, checked against its own status line.

use crate::support;
use crate::support::engine;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use dockmap::snapshot::{NodeSnapshot, SourceKind};
use engine::{TestContainer, TestNetwork};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");
const CONTAINERS: usize = 6;
/// Every tool the firewall collector may start.
const TOOLS: [&str; 7] = [
    "iptables-nft-save",
    "ip6tables-nft-save",
    "iptables-save",
    "ip6tables-save",
    "iptables-legacy-save",
    "ip6tables-legacy-save",
    "nft",
];
const NEW_RULE: &str = "-A INPUT -s 198.18.7.7/32 -j DROP";

/// A directory of shims that log "<tool> <netns inode>" to `log` and exec the real tool.
fn counting_shims(dir: &Path, log: &Path) {
    std::fs::create_dir_all(dir).expect("shim dir");
    for tool in TOOLS {
        let Some(real) = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
        else {
            continue;
        };
        let script = format!(
            "#!/bin/sh\nino=$(stat -L -c %i /proc/self/ns/net)\necho \"{tool} $ino\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        );
        let shim = dir.join(tool);
        std::fs::write(&shim, script).expect("write shim");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// What one run of `dockmap snapshot` did.
struct Run {
    snap: NodeSnapshot,
    /// Tool runs per namespace inode, from the shims.
    execs: BTreeMap<u64, usize>,
    /// The node-wide firewall line's numbers: namespaces, read with tools, tool runs, cached, empty.
    said: [usize; 5],
}

struct Host {
    dir: PathBuf,
    shims: PathBuf,
    log: PathBuf,
    cache: PathBuf,
    elsewhere: PathBuf,
}

impl Host {
    /// `dockmap snapshot`, with the shims first on PATH and a rule cache of this test's own.
    ///
    /// `--netns-dir` names an empty directory: every container namespace then comes from the
    /// engine's SandboxKeys, after a first read of the namespaces found up front, as on a host
    /// whose engine keeps its namespaces outside the directories dockmap looks in first.
    fn snapshot(&self) -> Run {
        let _ = std::fs::remove_file(&self.log);
        let out_file = self.dir.join("snap.json");
        let path = format!(
            "{}:{}",
            self.shims.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new(BIN)
            .args(["snapshot", "--netns-dir"])
            .arg(&self.elsewhere)
            .arg("--rule-cache")
            .arg(&self.cache)
            .arg("--out")
            .arg(&out_file)
            .env("PATH", path)
            .output()
            .expect("run dockmap");
        assert!(
            out.status.success(),
            "dockmap snapshot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let snap: NodeSnapshot =
            serde_json::from_slice(&std::fs::read(&out_file).expect("snapshot file"))
                .expect("snapshot JSON");
        let mut execs = BTreeMap::new();
        for line in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            let ino = line
                .rsplit(' ')
                .next()
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("shim log line '{line}'"));
            *execs.entry(ino).or_default() += 1;
        }
        let said = firewall_line(&snap);
        Run { snap, execs, said }
    }
}

/// The numbers of the node-wide line "firewall: read N namespaces: A read with tools (B tool runs),
/// C unchanged since read (cached rules), D without tables".
fn firewall_line(snap: &NodeSnapshot) -> [usize; 5] {
    let line = snap
        .sources
        .iter()
        .find(|s| s.source == SourceKind::Iptables && s.namespace.is_none())
        .unwrap_or_else(|| panic!("no node-wide iptables status: {:#?}", snap.sources));
    let (_, read) = line
        .message
        .split_once("firewall: read ")
        .unwrap_or_else(|| panic!("no read counts in '{}'", line.message));
    let numbers: Vec<usize> = read
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers
        .try_into()
        .unwrap_or_else(|n| panic!("five numbers expected in '{read}', got {n:?}"))
}

/// Rule texts of one namespace's IPv4 table.
fn rules(snap: &NodeSnapshot, ino: u64, table: &str) -> BTreeSet<String> {
    let ns = snap
        .namespaces
        .iter()
        .find(|n| n.id.ino == ino)
        .unwrap_or_else(|| panic!("namespace {ino} not in the snapshot"));
    let fw = ns
        .firewall
        .as_ref()
        .unwrap_or_else(|| panic!("namespace {} has no firewall", ns.name));
    fw.ipv4
        .iter()
        .filter(|t| t.name == table)
        .flat_map(|t| t.rules.iter().map(|r| r.text.clone()))
        .collect()
}

#[test]
fn a_warm_collection_runs_no_tool_and_a_changed_namespace_alone_is_read_again() {
    if !engine::available() {
        return;
    }
    let tmp = support::temp_dir("rulecache");
    let host = Host {
        dir: tmp.path().to_path_buf(),
        shims: tmp.path().join("shims"),
        log: tmp.path().join("execs.log"),
        cache: tmp.path().join("firewall-cache.json"),
        elsewhere: tmp.path().join("no-namespaces-here"),
    };
    std::fs::create_dir_all(&host.elsewhere).expect("empty netns dir");
    counting_shims(&host.shims, &host.log);

    let net = TestNetwork::bridge(&engine::unique("net"), &[]);
    let containers: Vec<TestContainer> = (0..CONTAINERS)
        .map(|i| TestContainer::run(&engine::unique(&format!("c{i}")), &["--network", &net.id]))
        .collect();
    let sandboxes: Vec<(String, u64)> = containers
        .iter()
        .map(|c| {
            let key = c.inspect("{{.NetworkSettings.SandboxKey}}");
            let ino = std::fs::metadata(&key)
                .unwrap_or_else(|e| panic!("sandbox {key}: {e}"))
                .ino();
            (key, ino)
        })
        .collect();
    let mine: BTreeSet<u64> = sandboxes.iter().map(|(_, ino)| *ino).collect();

    // Cold: no rules kept yet, so every container namespace (embedded-DNS rules) is read with a tool.
    let cold = host.snapshot();
    for (key, ino) in &sandboxes {
        assert!(
            cold.execs.contains_key(ino),
            "cold: no tool ran in {key}: {:?}",
            cold.execs
        );
        assert!(
            rules(&cold.snap, *ino, "nat")
                .iter()
                .any(|r| r.starts_with("-A DOCKER_OUTPUT")),
            "cold: {key} lacks the embedded-DNS rules"
        );
    }
    assert_eq!(cold.said[1], cold.execs.len(), "cold: {:?}", cold.said);
    assert_eq!(
        cold.said[2],
        cold.execs.values().sum::<usize>(),
        "cold: {:?}",
        cold.said
    );

    // Warm, nothing changed: not one tool in the test's namespaces, and the same rules.
    let warm = host.snapshot();
    let ran_in_mine: Vec<&u64> = warm.execs.keys().filter(|i| mine.contains(i)).collect();
    assert!(
        ran_in_mine.is_empty(),
        "warm: tools ran again in unchanged namespaces {ran_in_mine:?} (all runs: {:?})",
        warm.execs
    );
    // Other engineers' containers on the shared engine may change between runs; dockmap's own
    // count must still agree with the shims', and cover at least the test's namespaces as cached.
    assert_eq!(warm.said[1], warm.execs.len(), "warm: {:?}", warm.said);
    assert_eq!(
        warm.said[2],
        warm.execs.values().sum::<usize>(),
        "warm: {:?}",
        warm.said
    );
    assert!(warm.said[3] >= CONTAINERS, "warm: {:?}", warm.said);
    for (_, ino) in &sandboxes {
        assert_eq!(
            rules(&warm.snap, *ino, "nat"),
            rules(&cold.snap, *ino, "nat")
        );
    }

    // A rule added in one container's namespace: that namespace, and no other of the test's, is read again.
    let (changed_key, changed) = &sandboxes[0];
    let added = Command::new("nsenter")
        .arg(format!("--net={changed_key}"))
        .args([
            "iptables",
            "-t",
            "filter",
            "-A",
            "INPUT",
            "-s",
            "198.18.7.7",
            "-j",
            "DROP",
        ])
        .status()
        .expect("nsenter iptables");
    assert!(added.success(), "adding the rule failed");
    let after = host.snapshot();
    let reread: BTreeSet<u64> = after
        .execs
        .keys()
        .filter(|i| mine.contains(i))
        .copied()
        .collect();
    assert_eq!(reread, BTreeSet::from([*changed]), "{:?}", after.execs);
    assert!(
        rules(&after.snap, *changed, "filter").contains(NEW_RULE),
        "the new rule is missing: {:?}",
        rules(&after.snap, *changed, "filter")
    );
    assert_eq!(after.said[1], after.execs.len(), "after: {:?}", after.said);

    // And the changed ruleset, once read, is served from the cache like the rest.
    let again = host.snapshot();
    assert!(
        again.execs.keys().all(|i| !mine.contains(i)),
        "{:?}",
        again.execs
    );
    assert!(rules(&again.snap, *changed, "filter").contains(NEW_RULE));
}
