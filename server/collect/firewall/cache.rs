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
use std::sync::{Mutex, MutexGuard};

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
}
