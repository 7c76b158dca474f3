//! A ledger stored one row per entry and per node (schema version 14) is
//! converted to entry bundles and hash tiles when the store opens it.
//!
//! `data/ledger-v14.db` was written by `SqliteStore` at schema version 14.
//! It contains 700 entries appended in batches of 1, 1, 300, 2, 299 and 97,
//! entry N with subject `alert:N` and the payload of [`payload`], then a checkpoint
//! of all 700 with the note `fixture\n700\n`.

use oversight_ledger::{CompactRange, Hasher};
use oversight_store::Store;
use oversight_store_sqlite::{LedgerReader, SqliteOptions, SqliteStore};
use serde_json::json;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ledger-v14.db");

/// Entries in the fixture.
const SIZE: u64 = 700;

/// The root the schema version 14 store reported for the fixture.
const ROOT: &str = "e60b92bc9e53f9ef46890c0eb576378a9acfa37cf67d70b5cb1ccbef06fa549e";

fn payload(number: u64) -> serde_json::Value {
    json!({"count": number, "reason": "on site\nsecond line", "ratio": 0.25,
           "nested": {"b": 1, "a": [1, "二"]}})
}

/// Copies the fixture into a fresh directory, so the test never changes it.
fn copied_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(FIXTURE, dir.path().join("oversight.db")).expect("copy fixture");
    dir
}

#[tokio::test]
async fn old_ledger_converts_to_tiles() {
    let dir = copied_fixture();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open and migrate");

    let head = store.ledger_head().await.expect("head");
    assert_eq!(head.size, SIZE);
    assert_eq!(head.root.to_hex(), ROOT);

    let entries = store.ledger_entries(0, 1000).await.expect("entries");
    assert_eq!(entries.len() as u64, SIZE);
    let mut range = CompactRange::new(Hasher::Sha256);
    for (number, entry) in entries.iter().enumerate() {
        let number = number as u64;
        assert_eq!(entry.index, number);
        assert_eq!(entry.subject, format!("alert:{number}"));
        assert_eq!(entry.payload, payload(number));
        assert_eq!(entry.leaf_hash, entry.computed_leaf_hash(Hasher::Sha256));
        range.append(&entry.leaf_data());
    }
    assert_eq!(
        range.root(),
        head.root,
        "the converted entries reproduce the root"
    );

    let checkpoint = store
        .latest_ledger_checkpoint()
        .await
        .expect("checkpoint")
        .expect("the fixture has a checkpoint");
    assert_eq!(checkpoint.size, SIZE);
    assert_eq!(checkpoint.root, head.root);
}

#[tokio::test]
async fn converted_ledger_proves_and_grows() {
    let dir = copied_fixture();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open and migrate");
    let old_root = store.ledger_head().await.expect("head").root;

    for index in [0, 255, 256, 511, 699] {
        let entry = store
            .ledger_entry(index)
            .await
            .expect("entry")
            .expect("entry exists");
        let proof = store
            .ledger_inclusion_proof(index, SIZE)
            .await
            .expect("inclusion proof");
        proof
            .verify(Hasher::Sha256, &entry.leaf_hash, &old_root)
            .unwrap_or_else(|error| panic!("proof of entry {index}: {error}"));
    }

    let more: Vec<_> = (SIZE..SIZE + 400)
        .map(|number| {
            oversight_store::NewLedgerEntry::new(
                "alert.acknowledged",
                format!("alert:{number}"),
                "user:inspector-li",
                payload(number),
            )
        })
        .collect();
    store
        .append_ledger(more)
        .await
        .expect("append after conversion");
    let head = store.ledger_head().await.expect("head");
    assert_eq!(head.size, SIZE + 400);
    let proof = store
        .ledger_consistency_proof(SIZE, head.size)
        .await
        .expect("consistency proof");
    proof
        .verify(Hasher::Sha256, &old_root, &head.root)
        .expect("the grown ledger extends the converted one");

    let entries = store.ledger_entries(0, 2000).await.expect("entries");
    let mut range = CompactRange::new(Hasher::Sha256);
    for entry in &entries {
        range.append(&entry.leaf_data());
    }
    assert_eq!(range.root(), head.root);
}

#[test]
fn reader_rejects_old_layout() {
    let dir = copied_fixture();
    let error = LedgerReader::open(dir.path()).expect_err("old layout is not read");
    let message = error.to_string();
    assert!(message.contains("older Oversight"), "{message}");
    assert!(
        message.contains("open it once with this version"),
        "{message}"
    );
}
