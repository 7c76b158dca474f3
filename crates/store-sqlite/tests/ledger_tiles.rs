//! Proofs from the hash tiles across tile boundaries and tile levels.
//!
//! Tiles hold 256 hashes of every eighth tree level, so sizes around 256 and
//! 65,536 entries cross from one tile and one tile level to the next. A
//! batch with an invalid identifier must leave the tiles and bundles as
//! they were.
//!
//! Readers accept a bundle compressed or not, whether it is full or partial,
//! so the store must keep such a ledger readable when it appends to it, and
//! a damaged bundle must be reported in a message of bounded size.

use std::path::Path;

use oversight_ledger::{Hash, Hasher};
use oversight_store::{NewLedgerEntry, Store};
use oversight_store_sqlite::{LedgerReader, SqliteOptions, SqliteStore};
use serde_json::json;

/// Builds `rule.enabled` entries whose subject and payload carry each number.
fn rule_entries(numbers: std::ops::Range<u64>) -> Vec<NewLedgerEntry> {
    numbers
        .map(|number| {
            NewLedgerEntry::new(
                "rule.enabled",
                format!("rule:{number}"),
                "engine",
                json!({"number": number}),
            )
        })
        .collect()
}

/// Batch sizes whose running totals land on both sides of tile boundaries.
const BATCHES: [u64; 8] = [1, 255, 1, 255, 65_024, 1, 1, 463];

/// Indexes whose inclusion is proved in every tree that contains them.
const INDEXES: [u64; 7] = [0, 1, 255, 256, 511, 65_535, 65_536];

#[tokio::test]
async fn proofs_cross_tiles_and_tile_levels() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let mut heads: Vec<(u64, Hash)> = Vec::new();
    let mut next = 0;
    for batch in BATCHES {
        let entries = rule_entries(next..next + batch);
        store.append_ledger(entries).await.expect("append");
        next += batch;
        let head = store.ledger_head().await.expect("head");
        assert_eq!(head.size, next);
        heads.push((head.size, head.root));
    }

    for &(size, root) in &heads {
        for index in INDEXES.into_iter().filter(|index| *index < size) {
            let entry = store
                .ledger_entry(index)
                .await
                .expect("entry")
                .expect("entry exists");
            assert_eq!(entry.subject, format!("rule:{index}"));
            let proof = store
                .ledger_inclusion_proof(index, size)
                .await
                .expect("inclusion proof");
            proof
                .verify(Hasher::Sha256, &entry.leaf_hash, &root)
                .unwrap_or_else(|error| panic!("entry {index} in size {size}: {error}"));
        }
    }
    for (position, &(first, first_root)) in heads.iter().enumerate() {
        for &(second, second_root) in &heads[position..] {
            let proof = store
                .ledger_consistency_proof(first, second)
                .await
                .expect("consistency proof");
            proof
                .verify(Hasher::Sha256, &first_root, &second_root)
                .unwrap_or_else(|error| panic!("size {first} to {second}: {error}"));
        }
    }
}

#[tokio::test]
async fn entry_pages_cross_bundles() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    for start in [0_u64, 300] {
        let entries = rule_entries(start..start + 300);
        store.append_ledger(entries).await.expect("append");
    }
    let page = store.ledger_entries(250, 300).await.expect("page");
    let indexes: Vec<u64> = page.iter().map(|entry| entry.index).collect();
    assert_eq!(indexes, (250..550).collect::<Vec<_>>());
    for entry in &page {
        assert_eq!(entry.subject, format!("rule:{}", entry.index));
        assert_eq!(entry.leaf_hash, entry.computed_leaf_hash(Hasher::Sha256));
    }
    assert_eq!(
        store.ledger_entries(590, 100).await.expect("tail").len(),
        10
    );
    assert!(
        store
            .ledger_entries(600, 100)
            .await
            .expect("end")
            .is_empty()
    );
    assert!(store.ledger_entry(600).await.expect("entry").is_none());
    assert!(store.ledger_entry(u64::MAX).await.expect("entry").is_none());
}

#[tokio::test]
async fn append_rejects_batch_with_hidden_character() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let entries = vec![
        NewLedgerEntry::new("rule.enabled", "rule:1", "engine", json!(1)),
        NewLedgerEntry::new("rule.enabled", "rule:\u{200B}2", "engine", json!(2)),
    ];
    let error = store
        .append_ledger(entries)
        .await
        .expect_err("invisible character in a subject");
    assert!(
        matches!(error, oversight_store::StoreError::InvalidArgument(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("subject"), "{error}");
    assert_eq!(store.ledger_head().await.expect("head").size, 0);

    let indexes = store
        .append_ledger(vec![NewLedgerEntry::new(
            "rule.enabled",
            "rule:3",
            "engine",
            json!(3),
        )])
        .await
        .expect("append after the rejected batch");
    assert_eq!(indexes, [0]);
    let entry = store
        .ledger_entry(0)
        .await
        .expect("entry")
        .expect("entry exists");
    assert_eq!(entry.subject, "rule:3");
}

/// Full bundles are stored compressed, whichever append fills them, and the
/// partial last bundle as it is; entries read back the same from both.
#[tokio::test]
async fn full_bundles_are_stored_compressed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let mut next = 0;
    // Bundle 0 fills with one entry after 255, and bundle 1 inside a batch
    // of 300 that starts in it. Bundle 2 fills with a batch that ends at its
    // end, bundle 3 with a batch of 256 that starts at its start. Bundle 4
    // stays partial.
    for batch in [255_u64, 1, 3, 300, 209, 256, 10] {
        let entries = rule_entries(next..next + batch);
        store.append_ledger(entries).await.expect("append");
        next += batch;
    }
    let conn = rusqlite::Connection::open(store.path()).expect("open database");
    let first_bytes: Vec<(i64, u8)> = conn
        .prepare("SELECT idx, entries FROM ledger_entry_bundles ORDER BY idx")
        .expect("prepare")
        .query_map([], |row| {
            let stored: Vec<u8> = row.get(1)?;
            Ok((row.get(0)?, stored[0]))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        first_bytes,
        [(0, 0x01), (1, 0x01), (2, 0x01), (3, 0x01), (4, b'{')]
    );

    let all = store.ledger_entries(0, 2_000).await.expect("entries");
    assert_eq!(all.len() as u64, next);
    for entry in &all {
        assert_eq!(entry.subject, format!("rule:{}", entry.index));
        assert_eq!(entry.leaf_hash, entry.computed_leaf_hash(Hasher::Sha256));
    }
    let entry = store
        .ledger_entry(700)
        .await
        .expect("entry")
        .expect("exists");
    assert_eq!(entry.payload, json!({"number": 700}));
}

/// Returns `entries` in the compressed bundle form: the byte 0x01, their
/// length as a 32-bit little-endian number, then one LZ4 block.
fn compressed(entries: &[u8]) -> Vec<u8> {
    let length = u32::try_from(entries.len()).expect("a small bundle");
    let mut stored = vec![0x01];
    stored.extend_from_slice(&length.to_le_bytes());
    stored.extend_from_slice(&lz4_flex::block::compress(entries));
    stored
}

fn read_bundle(database: &Path, index: i64) -> Vec<u8> {
    let conn = rusqlite::Connection::open(database).expect("open database");
    conn.query_row(
        "SELECT entries FROM ledger_entry_bundles WHERE idx = ?1",
        [index],
        |row| row.get(0),
    )
    .expect("bundle")
}

fn write_bundle(database: &Path, index: i64, stored: &[u8]) {
    let conn = rusqlite::Connection::open(database).expect("open database");
    let changed = conn
        .execute(
            "UPDATE ledger_entry_bundles SET entries = ?2 WHERE idx = ?1",
            rusqlite::params![index, stored],
        )
        .expect("rewrite bundle");
    assert_eq!(changed, 1, "bundle {index} exists");
}

/// Reads every entry with `LedgerReader` and returns how many it read and
/// the first error it reported.
fn read_all(database: &Path) -> (u64, Option<String>) {
    let reader = LedgerReader::open(database).expect("open reader");
    let mut count = 0;
    let mut failure = None;
    reader
        .for_each_entry(|entry| match entry {
            Ok(_) => {
                count += 1;
                true
            }
            Err(error) => {
                failure = Some(error);
                false
            }
        })
        .expect("read entries");
    (count, failure)
}

#[tokio::test]
async fn append_to_compressed_partial_bundle() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    store
        .append_ledger(rule_entries(0..10))
        .await
        .expect("append");
    let database = store.path().to_owned();
    let plain = read_bundle(&database, 0);
    assert_eq!(plain[0], b'{', "the partial bundle is stored as it is");

    // The same entries in the compressed form read back unchanged.
    write_bundle(&database, 0, &compressed(&plain));
    assert_eq!(read_all(&database), (10, None));

    // An append to that bundle must keep every entry readable.
    store
        .append_ledger(rule_entries(10..11))
        .await
        .expect("append to the compressed partial bundle");
    let entries = store.ledger_entries(0, 100).await;
    assert!(entries.is_ok(), "entries after the append: {entries:?}");
    assert_eq!(read_all(&database), (11, None));

    // So must the append that fills the bundle.
    store
        .append_ledger(rule_entries(11..300))
        .await
        .expect("append that fills the bundle");
    let entries = store.ledger_entries(0, 1_000).await.expect("entries");
    assert_eq!(entries.len(), 300);
    for entry in &entries {
        assert_eq!(entry.subject, format!("rule:{}", entry.index));
        assert_eq!(entry.leaf_hash, entry.computed_leaf_hash(Hasher::Sha256));
    }
}

#[tokio::test]
async fn oversized_damaged_entry_error_is_short() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    store
        .append_ledger(rule_entries(0..300))
        .await
        .expect("append");
    let database = store.path().to_owned();
    drop(store);

    // 10 MB that are not JSON compress to about 40 KB, so one small row
    // makes the reader decode an entry of 10 MB.
    let mut damaged = vec![b'a'; 10_000_000];
    damaged[0] = b'{';
    write_bundle(&database, 0, &compressed(&damaged));

    let (count, failure) = read_all(&database);
    assert_eq!(count, 0);
    let failure = failure.expect("the damaged entry is reported");
    let start: String = failure.chars().take(200).collect();
    assert!(failure.contains("ledger entry"), "{start}");
    assert!(
        failure.len() < 10_000,
        "the error has {} bytes, which ledger verify prints on one line",
        failure.len()
    );
}
