//! Deciding which node this is: the engine's swarm node ID or engine ID, else the machine ID.
//!
//! When the engine does not answer, the identity it gave earlier in this boot is used (kept in
//! `/run/dockmap`), so a node whose engine is restarting keeps its element IDs and is not drawn as
//! a new node beside its old self.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::runfile::{boot_id, write_private};
use crate::snapshot::{identity, EngineFacts, IdentityKind};

/// Where identities learnt from engines are kept for the boot (tmpfs; private to root).
pub const REMEMBERED_FILE: &str = "/run/dockmap/node-identity.json";

/// The machine ID, hashed with an application key (systemd's advice: the raw ID is confidential
/// and must not leave the machine); empty where there is none.
pub fn machine_id() -> String {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|raw| hash_machine_id(raw.trim()))
        .unwrap_or_default()
}

/// sha256("dockmap node identity\0" + id), first 32 hex digits; empty for an empty id.
fn hash_machine_id(raw: &str) -> String {
    if raw.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    h.update(b"dockmap node identity\0");
    h.update(raw.as_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The identity to record (`swarm:…`, `engine:…`, `machine:…`) and, when it is not the engine's
/// own answer, why, for the snapshot's sources.
///
/// `engine_url` and the host namespace name the engine: several engines on one machine (each in
/// its own network namespace) must not take each other's remembered identity.
pub fn decide(
    engine: Option<&EngineFacts>,
    machine_id: &str,
    engine_url: &str,
    remembered: &Path,
) -> (String, Option<String>) {
    let key = engine_key(engine_url);
    if let Some(id) = engine.and_then(|e| identity::derive(&e.swarm.node_id, &e.id, "")) {
        let recorded = id.recorded();
        remember(remembered, &key, &recorded);
        return (recorded, None);
    }
    if let Some(kept) = recall(remembered, &key) {
        return (
            kept,
            Some("engine not answering: the identity it gave earlier in this boot is used".into()),
        );
    }
    match identity::derive("", "", machine_id) {
        Some(id) => (id.recorded(), None),
        None => (
            String::new(),
            Some(format!(
                "no engine and no machine ID: this node is known by its {} only",
                IdentityKind::Hostname.as_str()
            )),
        ),
    }
}

/// The engine a remembered identity belongs to: its URL as asked, in this network namespace.
fn engine_key(engine_url: &str) -> String {
    let ns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_default();
    format!("{ns} {engine_url}")
}

/// Identities by engine key, tagged with the boot they were learnt in.
#[derive(Default, Serialize, Deserialize)]
struct Remembered {
    boot_id: String,
    identities: BTreeMap<String, String>,
}

fn load(path: &Path) -> Remembered {
    let boot = boot_id().unwrap_or_default();
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Remembered>(&b).ok())
        .filter(|r| !boot.is_empty() && r.boot_id == boot)
        .unwrap_or(Remembered {
            boot_id: boot,
            identities: BTreeMap::new(),
        })
}

fn recall(path: &Path, key: &str) -> Option<String> {
    load(path).identities.get(key).cloned()
}

/// Best effort: a node that cannot write here only loses the fallback, never the snapshot.
fn remember(path: &Path, key: &str, recorded: &str) {
    let mut all = load(path);
    if all.boot_id.is_empty() || all.identities.get(key).map(String::as_str) == Some(recorded) {
        return;
    }
    all.identities.insert(key.to_owned(), recorded.to_owned());
    if let Ok(bytes) = serde_json::to_vec(&all) {
        let _ = write_private(path, &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(swarm: &str, id: &str) -> EngineFacts {
        let mut e = EngineFacts {
            id: id.into(),
            ..Default::default()
        };
        e.swarm.node_id = swarm.into();
        e
    }

    #[test]
    fn the_machine_id_is_never_recorded_raw() {
        let h = hash_machine_id("4c4c4544003510478033b4c04f585331");
        assert_eq!(h.len(), 32);
        assert!(!h.contains("4c4c4544"));
        assert_eq!(h, hash_machine_id("4c4c4544003510478033b4c04f585331"));
        assert_eq!(hash_machine_id(""), "");
    }

    #[test]
    fn an_engine_that_stops_answering_keeps_the_identity_it_gave_per_engine() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("ids.json");
        let (id, why) = decide(Some(&engine("abc123", "E:1")), "m1", "unix:///a", &file);
        assert_eq!(id, "swarm:abc123");
        assert!(why.is_none());
        let (id, _) = decide(Some(&engine("", "E:2")), "m1", "unix:///b", &file);
        assert_eq!(id, "engine:e2");

        let (id, why) = decide(None, "m1", "unix:///a", &file);
        assert_eq!(id, "swarm:abc123", "engine a's node, not engine b's");
        assert!(why.is_some_and(|w| w.contains("earlier in this boot")));
        let (id, _) = decide(None, "m1", "unix:///b", &file);
        assert_eq!(id, "engine:e2");

        let (id, why) = decide(None, "m1", "unix:///never-answered", &file);
        assert_eq!(id, "machine:m1");
        assert!(why.is_none());
        let (id, why) = decide(None, "", "unix:///never-answered", &file);
        assert_eq!(id, "");
        assert!(why.is_some());
    }
}
