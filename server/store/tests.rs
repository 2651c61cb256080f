//! The store on a temporary directory: content addressing, labels, order, retention, uploads.

use super::*;
use crate::snapshot::file::SnapshotFile;
use crate::snapshot::{NodeSnapshot, CLUSTER_SCHEMA};
use crate::synthetic::{snapshots, SyntheticOptions};

fn nodes(hosts: usize, taken_at: &str) -> Vec<NodeSnapshot> {
    let mut v = snapshots(&SyntheticOptions {
        hosts,
        containers: 6,
        hostile_names: false,
    });
    for s in &mut v {
        s.taken_at = taken_at.into();
    }
    v
}

fn cluster(taken_at: &str) -> ClusterSnapshot {
    SnapshotFile::Nodes(nodes(2, taken_at)).into_cluster("fixed")
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("data")).unwrap();
    (dir, s)
}

fn blob_count(s: &Store) -> i64 {
    s.conn()
        .unwrap()
        .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_same_state_saved_twice_is_stored_once() {
    let (_d, s) = store();
    let a = s
        .save(cluster("2026-01-01T00:00:00Z"), Kind::Manual, "")
        .unwrap();
    assert!(a.created);
    // The same facts listed in another order are the same state.
    let mut shuffled = cluster("2026-01-01T00:00:00Z");
    shuffled.nodes.reverse();
    for n in &mut shuffled.nodes {
        n.snapshot.as_mut().unwrap().namespaces.reverse();
    }
    let b = s.save(shuffled, Kind::Manual, "").unwrap();
    assert!(!b.created, "the second save should find the first");
    assert_eq!(a.meta.id, b.meta.id);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(blob_count(&s), 1);
    // Another state is another snapshot.
    let c = s
        .save(cluster("2026-01-01T00:10:00Z"), Kind::Manual, "")
        .unwrap();
    assert!(c.created);
    assert_ne!(c.meta.id, a.meta.id);
    assert_eq!(blob_count(&s), 2);
}

#[test]
fn the_id_is_the_hash_of_the_stored_bytes_and_loads_back_equal() {
    let (_d, s) = store();
    let mut original = cluster("2026-01-01T00:00:00Z");
    let saved = s.save(original.clone(), Kind::Manual, "x").unwrap();
    let bytes = s.bytes(&saved.meta.id).unwrap().unwrap();
    assert_eq!(content_id(&bytes), saved.meta.id);
    assert_eq!(saved.meta.size, bytes.len() as u64);
    original.normalize();
    assert_eq!(s.get(&saved.meta.id).unwrap().unwrap(), original);
    assert_eq!(
        SavedSnapshots::load(&s, &saved.meta.id).unwrap().unwrap(),
        original
    );
    assert_eq!(saved.meta.nodes, vec!["node-00", "node-01"]);
    assert_eq!(saved.meta.taken_at, "2026-01-01T00:00:00Z");
    assert!(!saved.meta.saved_at.is_empty());
    // Unknown and malformed IDs are simply absent.
    assert_eq!(s.get(&content_id(b"nothing")).unwrap(), None);
    assert_eq!(s.get("../../etc/passwd").unwrap(), None);
}

#[test]
fn a_second_save_with_a_label_sets_it_and_an_empty_one_keeps_it() {
    let (_d, s) = store();
    let c = cluster("2026-01-01T00:00:00Z");
    let id = s
        .save(c.clone(), Kind::Manual, "before\nupgrade")
        .unwrap()
        .meta
        .id;
    assert_eq!(s.meta(&id).unwrap().unwrap().label, "before upgrade");
    s.save(c.clone(), Kind::Manual, "").unwrap();
    assert_eq!(s.meta(&id).unwrap().unwrap().label, "before upgrade");
    let again = s.save(c, Kind::Manual, "  renamed ").unwrap();
    assert_eq!(again.meta.label, "renamed");
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(clean_label(&"x".repeat(500)).len(), MAX_LABEL);
}

#[test]
fn the_list_is_newest_first() {
    let (_d, s) = store();
    let ids: Vec<String> = (0..4)
        .map(|i| {
            s.save(
                cluster(&format!("2026-01-01T00:0{i}:00Z")),
                Kind::Manual,
                &format!("n{i}"),
            )
            .unwrap()
            .meta
            .id
        })
        .collect();
    let listed: Vec<String> = s.list().unwrap().into_iter().map(|m| m.id).collect();
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(listed, expected);
}

#[test]
fn retention_keeps_the_newest_scheduled_and_every_manual_or_uploaded_one() {
    let (_d, s) = store();
    let manual = s
        .save(cluster("2026-01-01T00:00:00Z"), Kind::Manual, "keep me")
        .unwrap();
    let upload_bytes = serde_json::to_vec(&nodes(1, "2026-01-01T00:00:30Z")).unwrap();
    let uploaded = s.upload(&upload_bytes, DEFAULT_UPLOAD_LIMIT, "").unwrap();
    assert_eq!(uploaded.meta.kind, Kind::Uploaded);
    let sched: Vec<String> = (1..=5)
        .map(|i| {
            s.save_scheduled(cluster(&format!("2026-01-01T00:0{i}:00Z")), 2)
                .unwrap()
                .meta
                .id
        })
        .collect();
    let list = s.list().unwrap();
    let kept: Vec<&str> = list
        .iter()
        .filter(|m| m.kind == Kind::Scheduled)
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(kept, vec![sched[4].as_str(), sched[3].as_str()]);
    assert!(list.iter().any(|m| m.id == manual.meta.id));
    assert!(list.iter().any(|m| m.id == uploaded.meta.id));
    assert_eq!(list.len(), 4);
    // The pruned ones' bytes went too.
    assert_eq!(s.bytes(&sched[0]).unwrap(), None);
    assert_eq!(blob_count(&s), 4);
}

#[test]
fn a_manual_save_of_scheduled_content_makes_it_permanent() {
    let (_d, s) = store();
    let c = cluster("2026-01-01T00:00:00Z");
    let id = s.save_scheduled(c.clone(), 5).unwrap().meta.id;
    let saved = s.save(c, Kind::Manual, "incident").unwrap();
    assert_eq!(saved.meta.id, id);
    assert_eq!(saved.meta.kind, Kind::Manual);
    for i in 1..=3 {
        s.save_scheduled(cluster(&format!("2026-01-01T00:0{i}:00Z")), 1)
            .unwrap();
    }
    assert!(
        s.meta(&id).unwrap().is_some(),
        "retention deleted a manual save"
    );
}

/// The store's whole observable content: every row and every stored byte.
fn everything(s: &Store) -> Vec<(SnapshotMeta, Vec<u8>)> {
    s.list()
        .unwrap()
        .into_iter()
        .map(|m| {
            let b = s.bytes(&m.id).unwrap().unwrap();
            (m, b)
        })
        .collect()
}

#[test]
fn every_bad_upload_is_refused_with_its_reason_and_changes_nothing() {
    let (_d, s) = store();
    s.save(cluster("2026-01-01T00:00:00Z"), Kind::Manual, "first")
        .unwrap();
    let before = everything(&s);
    let good = serde_json::to_vec(&nodes(1, "2026-02-02T00:00:00Z")[0]).unwrap();
    let mut wrong_schema: serde_json::Value = serde_json::from_slice(&good).unwrap();
    wrong_schema["schema"] = "dockmap.node-snapshot/99".into();
    let mut wrong_shape: serde_json::Value = serde_json::from_slice(&good).unwrap();
    wrong_shape["namespaces"] = "not a list".into();
    let mut cluster_bad_node = serde_json::to_value(cluster("2026-01-01T00:00:00Z")).unwrap();
    cluster_bad_node["nodes"][0]["snapshot"]["schema"] = "dockmap.node-snapshot/0".into();
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            DEFAULT_UPLOAD_LIMIT,
            "truncated",
        ),
        (
            "not JSON",
            b"<html>hello</html>".to_vec(),
            DEFAULT_UPLOAD_LIMIT,
            "not-json",
        ),
        ("empty", Vec::new(), DEFAULT_UPLOAD_LIMIT, "empty"),
        ("oversized", good.clone(), good.len() - 1, "too-large"),
        (
            "wrong schema",
            serde_json::to_vec(&wrong_schema).unwrap(),
            DEFAULT_UPLOAD_LIMIT,
            "schema",
        ),
        (
            "no schema",
            b"{\"hello\": 1}".to_vec(),
            DEFAULT_UPLOAD_LIMIT,
            "not-snapshot",
        ),
        (
            "a number",
            b"42".to_vec(),
            DEFAULT_UPLOAD_LIMIT,
            "not-snapshot",
        ),
        (
            "empty array",
            b"[]".to_vec(),
            DEFAULT_UPLOAD_LIMIT,
            "not-snapshot",
        ),
        (
            "wrong shape",
            serde_json::to_vec(&wrong_shape).unwrap(),
            DEFAULT_UPLOAD_LIMIT,
            "model",
        ),
        (
            "cluster with a bad node",
            serde_json::to_vec(&cluster_bad_node).unwrap(),
            DEFAULT_UPLOAD_LIMIT,
            "schema",
        ),
    ];
    for (what, bytes, limit, reason) in cases {
        match s.upload(&bytes, limit, "bad") {
            Err(UploadFailure::Refused(e)) => {
                assert_eq!(e.reason(), reason, "{what}: {e}");
                assert!(!e.to_string().is_empty());
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
        assert_eq!(everything(&s), before, "{what} changed the store");
    }
    // The same file, whole and within the limit, is taken: the refusals were about the faults.
    let ok = s.upload(&good, good.len(), "good").unwrap();
    assert!(ok.created);
    assert_eq!(s.list().unwrap().len(), 2);
}

#[test]
fn uploads_take_a_node_an_array_or_a_cluster() {
    let (_d, s) = store();
    let one = serde_json::to_vec(&nodes(1, "2026-03-03T00:00:00Z")[0]).unwrap();
    let arr = serde_json::to_vec(&nodes(2, "2026-03-03T00:00:00Z")).unwrap();
    let mut c = cluster("2026-03-03T00:00:00Z");
    c.nodes[1].state = crate::snapshot::NodeState::Stale;
    let clu = serde_json::to_vec(&c).unwrap();
    let a = s.upload(&one, DEFAULT_UPLOAD_LIMIT, "").unwrap();
    let b = s.upload(&arr, DEFAULT_UPLOAD_LIMIT, "").unwrap();
    let k = s.upload(&clu, DEFAULT_UPLOAD_LIMIT, "").unwrap();
    assert_eq!(a.meta.nodes, vec!["node-00"]);
    assert_eq!(b.meta.nodes, vec!["node-00", "node-01"]);
    let got = s.get(&k.meta.id).unwrap().unwrap();
    assert_eq!(got.schema, CLUSTER_SCHEMA);
    assert_eq!(got.nodes[1].state, crate::snapshot::NodeState::Stale);
    assert_eq!(s.list().unwrap().len(), 3);
}

#[test]
fn a_file_that_is_not_a_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(DB_FILE),
        b"this is not sqlite, just text that is long enough to look like a header block",
    )
    .unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
}

#[test]
fn a_reopened_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = Store::open(dir.path()).unwrap();
        s.save(cluster("2026-01-01T00:00:00Z"), Kind::Manual, "kept")
            .unwrap()
            .meta
            .id
    };
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert_eq!(s.meta(&id).unwrap().unwrap().label, "kept");
    let mode: String = s
        .conn()
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn blobs_are_kept_compressed_and_come_back_as_the_json_saved() {
    let (_d, s) = store();
    let saved = s
        .save(cluster("2026-01-01T00:00:00Z"), Kind::Manual, "")
        .unwrap();
    let raw: Vec<u8> = s
        .conn()
        .unwrap()
        .query_row(
            "SELECT bytes FROM blobs WHERE id = ?1",
            [&saved.meta.id],
            |r| r.get(0),
        )
        .unwrap();
    let json = s.bytes(&saved.meta.id).unwrap().unwrap();
    assert!(raw.starts_with(&[0x1f, 0x8b]), "the blob is gzip");
    assert!(
        raw.len() * 3 < json.len(),
        "{} vs {}",
        raw.len(),
        json.len()
    );
    assert_eq!(
        saved.meta.size,
        json.len() as u64,
        "size is what a download gives"
    );
    assert_eq!(content_id(&json), saved.meta.id);
}

/// Saved at distinct times, so each is its own content.
fn at(i: usize) -> ClusterSnapshot {
    cluster(&format!("2026-02-{:02}T00:00:00Z", i + 1))
}

#[test]
fn under_the_byte_limit_scheduled_ones_go_oldest_first_and_what_cannot_fit_is_refused() {
    let (_d, s) = store();
    // Measure one stored snapshot, then allow a little over three.
    let first = s.save_scheduled(at(0), 100).unwrap();
    let one = s.used_bytes().unwrap();
    assert!(one > 0);
    let s = s.with_max_bytes(one * 3 + one / 2);
    let mut ids = vec![first.meta.id];
    for i in 1..6 {
        ids.push(s.save_scheduled(at(i), 100).unwrap().meta.id);
        assert!(
            s.used_bytes().unwrap() <= one * 3 + one / 2,
            "over the limit after {i}"
        );
    }
    let kept: Vec<String> = s.list().unwrap().into_iter().map(|m| m.id).collect();
    // The newest three stay, newest first; the oldest went.
    assert_eq!(kept, vec![ids[5].clone(), ids[4].clone(), ids[3].clone()]);
    // A manual save makes room by deleting the oldest scheduled one, never a manual one.
    let m1 = s.save(at(10), Kind::Manual, "keep").unwrap();
    let m2 = s.save(at(11), Kind::Manual, "keep too").unwrap();
    let m3 = s.save(at(12), Kind::Uploaded, "and this").unwrap();
    let kinds: Vec<Kind> = s.list().unwrap().into_iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![Kind::Uploaded, Kind::Manual, Kind::Manual]);
    // Now only manual and uploaded ones are left: a fourth cannot fit, is refused with the
    // reason, and nothing is stored or deleted.
    let before = everything(&s);
    let e = s.save(at(13), Kind::Manual, "no room").unwrap_err();
    assert!(matches!(e, StoreError::Full { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("--store-max-bytes") && msg.contains("delete"),
        "{msg}"
    );
    assert_eq!(everything(&s), before);
    // Scheduled ones cannot push them out either.
    assert!(matches!(
        s.save_scheduled(at(14), 100).unwrap_err(),
        StoreError::Full { .. }
    ));
    assert_eq!(everything(&s), before);
    // Stored content saved again needs no room.
    assert!(!s.save(at(10), Kind::Manual, "").unwrap().created);
    // Deleting one makes room again.
    assert!(s.delete(&m2.meta.id).unwrap());
    assert!(s.save(at(13), Kind::Manual, "now").unwrap().created);
    assert!(s.meta(&m1.meta.id).unwrap().is_some() && s.meta(&m3.meta.id).unwrap().is_some());
}
