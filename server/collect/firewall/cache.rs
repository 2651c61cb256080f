//! Parsed rules of namespaces whose nf_tables ruleset has not changed since they were read.
//!
//! A long-lived collector (agent, server) reads the same namespaces again and
//! again; their rules rarely change. The kernel bumps a per-namespace
//! generation id on every ruleset change, and a namespace's cookie is never
//! reused within a boot, so (cookie, generation) names one ruleset exactly and
//! the spawn of iptables-save can be skipped when both are unchanged.
//! Only namespaces whose tables are all iptables-nft ones are kept: legacy
//! tables have no generation, and native nftables JSON carries live counters.
//!
//! Entries are forgotten only by [`RuleCache::sweep`], which the owner of a
//! whole collection calls once it knows every namespace: a collection may read
//! its namespaces in more than one batch, and a batch must not evict the
//! namespaces of another.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::probe::NftGeneration;
use crate::collect::runfile::{boot_id, write_private};
use crate::snapshot::Firewall;

/// More namespaces than any node holds; past this the cache starts over.
const MAX_ENTRIES: usize = 16_384;

/// Rules read earlier, by namespace cookie, with the generation they were read at.
#[derive(Debug, Default)]
pub struct RuleCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<u64, (u32, Firewall)>,
    /// Namespaces visited since the last sweep.
    seen: HashSet<u64>,
    /// Changed since loaded or saved: an unchanged cache is not written again.
    dirty: bool,
}

impl RuleCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave an entry half-written: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rules read at exactly this generation of this namespace, if kept.
    pub fn get(&self, generation: NftGeneration) -> Option<Firewall> {
        self.lock()
            .entries
            .get(&generation.netns_cookie)
            .filter(|(genid, _)| *genid == generation.genid)
            .map(|(_, fw)| fw.clone())
    }

    /// Keep rules read at this generation (read before the tools ran).
    pub fn put(&self, generation: NftGeneration, firewall: &Firewall) {
        let mut inner = self.lock();
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(
            generation.netns_cookie,
            (generation.genid, firewall.clone()),
        );
        inner.seen.insert(generation.netns_cookie);
        inner.dirty = true;
    }

    /// Note that this namespace still exists: [`RuleCache::sweep`] keeps its entry.
    pub fn mark_seen(&self, netns_cookie: u64) {
        self.lock().seen.insert(netns_cookie);
    }

    /// Forget every namespace not seen since the last sweep (they are gone), and start a new round.
    ///
    /// Call it once per whole collection, after every namespace of it was visited.
    pub fn sweep(&self) {
        let mut inner = self.lock();
        let Inner {
            entries,
            seen,
            dirty,
        } = &mut *inner;
        let before = entries.len();
        entries.retain(|cookie, _| seen.contains(cookie));
        *dirty |= entries.len() != before;
        seen.clear();
    }

    /// How many namespaces are kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
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
                inner: Mutex::new(Inner {
                    entries: saved
                        .entries
                        .into_iter()
                        .map(|(c, g, fw)| (c, (g, fw)))
                        .collect(),
                    ..Inner::default()
                }),
            },
            _ => Self::default(),
        }
    }

    /// Save for the next run of this boot (a one-shot CLI run then skips unchanged namespaces too).
    ///
    /// Nothing is written when nothing changed since the load or the last save (an agent polled
    /// on an unchanged host writes nothing). Written to a private temporary file and renamed, so
    /// a reader never sees half a file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let Some(boot_id) = boot_id() else {
            return Ok(());
        };
        let bytes = {
            let mut inner = self.lock();
            if !inner.dirty && path.exists() {
                return Ok(());
            }
            let entries = inner
                .entries
                .iter()
                .map(|(c, (g, fw))| (*c, *g, fw.clone()))
                .collect();
            let bytes =
                serde_json::to_vec(&Saved { boot_id, entries }).map_err(std::io::Error::other)?;
            inner.dirty = false;
            bytes
        };
        let written = write_private(path, &bytes);
        if written.is_err() {
            // Try again at the next save.
            self.lock().dirty = true;
        }
        written
    }
}

/// The cache as saved on disk.
#[derive(Serialize, Deserialize)]
struct Saved {
    boot_id: String,
    entries: Vec<(u64, u32, Firewall)>,
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

    fn gen(netns_cookie: u64) -> NftGeneration {
        NftGeneration {
            netns_cookie,
            genid: 1,
        }
    }

    #[test]
    fn only_a_sweep_forgets_and_only_namespaces_unseen_in_its_round() {
        let cache = RuleCache::new();
        cache.put(gen(1), &fw());
        cache.put(gen(2), &fw());
        cache.sweep();
        assert_eq!(cache.len(), 2, "both were read in the first round");
        // A collection that reads namespace 1 in one batch and 2 in another keeps both.
        cache.mark_seen(1);
        cache.mark_seen(2);
        cache.sweep();
        assert_eq!(cache.len(), 2);
        cache.mark_seen(1);
        cache.sweep();
        assert_eq!(cache.get(gen(1)), Some(fw()));
        assert_eq!(cache.get(gen(2)), None, "namespace 2 is gone");
    }

    #[test]
    fn an_unchanged_cache_is_not_written_again() {
        let dir = std::env::temp_dir().join(format!("dockmap-cache-dirty-{}", std::process::id()));
        let path = dir.join("cache.json");
        let cache = RuleCache::new();
        cache.put(gen(1), &fw());
        cache.save(&path).unwrap();
        std::fs::write(&path, b"marker").unwrap();
        cache.mark_seen(1);
        cache.sweep();
        cache.save(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"marker");
        cache.put(gen(2), &fw());
        cache.save(&path).unwrap();
        assert_eq!(RuleCache::load(&path).len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
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
