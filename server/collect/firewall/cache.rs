//! Parsed rules of namespaces whose nf_tables ruleset has not changed since they were read.
//!
//! A long-lived collector (agent, server) reads the same namespaces again and
//! again; their rules rarely change. The kernel bumps a per-namespace
//! generation id on every ruleset change, and a namespace's cookie is never
//! reused within a boot, so (cookie, generation) names one ruleset exactly and
//! the spawn of iptables-save can be skipped when both are unchanged.
//! Only namespaces whose tables are all iptables-nft ones are kept: legacy
//! tables have no generation, and native nftables JSON carries live counters.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::probe::NftGeneration;
use crate::snapshot::Firewall;

/// More namespaces than any node holds; past this the cache starts over.
const MAX_ENTRIES: usize = 16_384;

/// Rules read earlier, by namespace cookie, with the generation they were read at.
#[derive(Debug, Default)]
pub struct RuleCache {
    entries: Mutex<HashMap<u64, (u32, Firewall)>>,
}

impl RuleCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, (u32, Firewall)>> {
        // A panic elsewhere cannot leave an entry half-written: keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rules read at exactly this generation of this namespace, if kept.
    pub fn get(&self, generation: NftGeneration) -> Option<Firewall> {
        self.lock()
            .get(&generation.netns_cookie)
            .filter(|(genid, _)| *genid == generation.genid)
            .map(|(_, fw)| fw.clone())
    }

    /// Keep rules read at this generation (read before the tools ran).
    pub fn put(&self, generation: NftGeneration, firewall: &Firewall) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            generation.netns_cookie,
            (generation.genid, firewall.clone()),
        );
    }

    /// Forget every namespace whose cookie is not in `alive`.
    pub fn retain(&self, alive: &HashSet<u64>) {
        self.lock().retain(|cookie, _| alive.contains(cookie));
    }

    /// How many namespaces are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A cache saved by an earlier run of this boot; empty when there is none, it is
    /// unreadable, or it was written in another boot (cookies restart at every boot,
    /// so an old file could name other namespaces: it is never trusted).
    pub fn load(path: &Path) -> Self {
        let saved: Option<Saved> = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        match (saved, boot_id()) {
            (Some(saved), Some(boot)) if saved.boot_id == boot => Self {
                entries: Mutex::new(
                    saved
                        .entries
                        .into_iter()
                        .map(|(c, g, fw)| (c, (g, fw)))
                        .collect(),
                ),
            },
            _ => Self::default(),
        }
    }

    /// Save for the next run of this boot (a one-shot CLI run then skips unchanged namespaces too).
    ///
    /// Written to a private temporary file and renamed, so a reader never sees half a file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

        let Some(boot_id) = boot_id() else {
            return Ok(());
        };
        let entries = self
            .lock()
            .iter()
            .map(|(c, (g, fw))| (*c, *g, fw.clone()))
            .collect();
        let bytes =
            serde_json::to_vec(&Saved { boot_id, entries }).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// The cache as saved on disk.
#[derive(Serialize, Deserialize)]
struct Saved {
    boot_id: String,
    entries: Vec<(u64, u32, Firewall)>,
}

/// This boot's id: what makes namespace cookies comparable between runs.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Table;

    fn fw() -> Firewall {
        Firewall {
            backend: "nf_tables".into(),
            ipv4: vec![Table {
                name: "nat".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn saved_cache_is_reused_in_the_same_boot_only() {
        let dir = std::env::temp_dir().join(format!("dockmap-cache-test-{}", std::process::id()));
        let path = dir.join("cache.json");
        let gen = NftGeneration {
            netns_cookie: 42,
            genid: 7,
        };
        let cache = RuleCache::new();
        cache.put(gen, &fw());
        cache.save(&path).unwrap();

        let again = RuleCache::load(&path);
        assert_eq!(again.get(gen), Some(fw()));
        assert_eq!(
            again.get(NftGeneration {
                netns_cookie: 42,
                genid: 8
            }),
            None,
            "a changed ruleset is read anew"
        );

        // The same file from another boot names other namespaces: it must not be trusted.
        let text = std::fs::read_to_string(&path).unwrap();
        let boot = boot_id().unwrap();
        std::fs::write(
            &path,
            text.replace(&boot, "00000000-0000-0000-0000-000000000000"),
        )
        .unwrap();
        assert!(RuleCache::load(&path).is_empty());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(RuleCache::load(&path).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
