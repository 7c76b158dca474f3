//! Audits of exported logs against stored leaf hashes and signed checkpoints: each kind
//! of tampering is reported at the first entry it touched.

use std::convert::Infallible;

use oversight_ledger::{
    Checkpoint, CheckpointVerifier, Finding, Hash, Hasher, MemoryNodeSource, MerkleTree,
    NodeSource, SignatureAlgorithm, SignerKey, VerifiedCheckpoint, audit_entries,
};

const ORIGIN: &str = "audit.example/ledger";
const HASHER: Hasher = Hasher::Sm3;

/// Entries of the original log.
fn original(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| format!("{{\"seq\":{index},\"action\":\"alert.ack\"}}").into_bytes())
        .collect()
}

fn store(entries: &[Vec<u8>]) -> MemoryNodeSource {
    let mut log = MemoryNodeSource::new(HASHER);
    for entry in entries {
        log.append(entry);
    }
    log
}

/// Signs and verifies checkpoints of `log` at each size.
fn checkpoints(log: &MemoryNodeSource, sizes: &[u64]) -> Vec<VerifiedCheckpoint> {
    let key = SignerKey::generate(ORIGIN, SignatureAlgorithm::Sm2).expect("random");
    let verifier = CheckpointVerifier::new(ORIGIN, key.verifier_key().clone());
    let tree = MerkleTree::new(HASHER, log);
    sizes
        .iter()
        .map(|&size| {
            let root = tree.root(size).expect("stored");
            let signed = Checkpoint::new(ORIGIN, size, root, None)
                .sign(&key)
                .expect("log key");
            verifier.verify(&signed).expect("own signature verifies")
        })
        .collect()
}

struct Fixture {
    entries: Vec<Vec<u8>>,
    stored: MemoryNodeSource,
    checkpoints: Vec<VerifiedCheckpoint>,
}

fn fixture() -> Fixture {
    let entries = original(100);
    let stored = store(&entries);
    let checkpoints = checkpoints(&stored, &[10, 40, 64, 100]);
    Fixture {
        entries,
        stored,
        checkpoints,
    }
}

fn audit(fixture: &Fixture, export: &[Vec<u8>]) -> oversight_ledger::AuditReport {
    audit_entries(
        HASHER,
        export,
        &fixture.stored,
        fixture.stored.size(),
        &fixture.checkpoints,
    )
    .expect("memory source is infallible")
}

#[test]
fn intact_export_passes() {
    let fixture = fixture();
    let report = audit(&fixture, &fixture.entries);
    assert_eq!(report.finding, None);
    assert_eq!(report.verified_size, 100);
    assert_eq!(report.entries, 100);
    assert_eq!(report.failed_checkpoint, None);
}

#[test]
fn altered_entry_is_found() {
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export[47] = b"{\"seq\":47,\"action\":\"alert.delete\"}".to_vec();
    let report = audit(&fixture, &export);
    assert_eq!(report.finding, Some(Finding::Altered { index: 47 }));
    assert_eq!(report.verified_size, 40);
    assert_eq!(report.failed_checkpoint, Some(64));
}

#[test]
fn removed_entries_are_found() {
    let fixture = fixture();
    for count in [1usize, 3, 20] {
        let mut export = fixture.entries.clone();
        export.drain(12..12 + count);
        let report = audit(&fixture, &export);
        let expected = Finding::Removed {
            index: 12,
            count: count as u64,
        };
        assert_eq!(report.finding, Some(expected), "{count} removed");
        assert_eq!(report.verified_size, 10);
    }
}

#[test]
fn inserted_entries_are_found() {
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export.insert(33, b"{\"seq\":33,\"action\":\"backdated\"}".to_vec());
    export.insert(34, b"{\"seq\":34,\"action\":\"backdated\"}".to_vec());
    let report = audit(&fixture, &export);
    assert_eq!(
        report.finding,
        Some(Finding::Inserted {
            index: 33,
            count: 2
        })
    );
    assert_eq!(report.failed_checkpoint, Some(40));
}

#[test]
fn swapped_entries_are_reordered() {
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export.swap(70, 71);
    let report = audit(&fixture, &export);
    assert_eq!(
        report.finding,
        Some(Finding::Reordered {
            index: 70,
            stored_index: Some(71)
        })
    );
    assert_eq!(report.verified_size, 64);
}

#[test]
fn swapped_last_entries_are_reordered() {
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export.swap(98, 99);
    let report = audit(&fixture, &export);
    assert_eq!(
        report.finding,
        Some(Finding::Reordered {
            index: 98,
            stored_index: Some(99)
        })
    );
}

#[test]
fn truncated_export_is_found() {
    let fixture = fixture();
    let export = &fixture.entries[..97];
    let report = audit(&fixture, export);
    assert_eq!(
        report.finding,
        Some(Finding::Removed {
            index: 97,
            count: 3
        })
    );
    assert_eq!(report.verified_size, 64);
}

#[test]
fn rewritten_entries_and_hashes_fail_checkpoint() {
    // The attacker rewrote entry 50 and its stored leaf hash. Only the checkpoint
    // catches it, and it bounds the change to entries 40..64.
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export[50] = b"{\"seq\":50,\"action\":\"rewritten\"}".to_vec();
    let forged = store(&export);
    let report = audit_entries(
        HASHER,
        &export,
        &forged,
        forged.size(),
        &fixture.checkpoints,
    )
    .expect("memory source is infallible");
    let expected = Finding::CheckpointMismatch {
        verified_size: 40,
        checkpoint_size: 64,
    };
    assert_eq!(report.finding, Some(expected));
}

/// Leaf hashes of a store where one leaf hash was overwritten.
struct TamperedStore<'a> {
    inner: &'a MemoryNodeSource,
    index: u64,
}

impl NodeSource for TamperedStore<'_> {
    type Error = Infallible;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Infallible> {
        if index == self.index {
            return Ok(HASHER.hash_leaf(b"overwritten"));
        }
        Ok(self.inner.leaf_hash_slice()[index as usize])
    }
}

#[test]
fn altered_stored_hash_is_found() {
    let fixture = fixture();
    let tampered = TamperedStore {
        inner: &fixture.stored,
        index: 20,
    };
    let report = audit_entries(
        HASHER,
        &fixture.entries,
        tampered,
        100,
        &fixture.checkpoints,
    )
    .expect("infallible");
    assert_eq!(
        report.finding,
        Some(Finding::StoredLeafHashAltered { index: 20 })
    );
    assert_eq!(report.verified_size, 40);
}

#[test]
fn missing_stored_hashes_are_found() {
    // The export matches every checkpoint up to 100, but the log's table lost hashes 60..100.
    let fixture = fixture();
    let report = audit_entries(
        HASHER,
        &fixture.entries,
        &fixture.stored,
        60,
        &fixture.checkpoints,
    )
    .expect("memory source is infallible");
    assert_eq!(
        report.finding,
        Some(Finding::StoredLeafHashesMissing { stored_size: 60 })
    );
    assert_eq!(report.verified_size, 100);
}

#[test]
fn extra_entries_beyond_store_are_inserted() {
    let fixture = fixture();
    let mut export = fixture.entries.clone();
    export.push(b"{\"seq\":100,\"action\":\"unlogged\"}".to_vec());
    let report = audit(&fixture, &export);
    assert_eq!(
        report.finding,
        Some(Finding::Inserted {
            index: 100,
            count: 1
        })
    );
}

#[test]
fn conflicting_checkpoints_are_reported() {
    let fixture = fixture();
    let mut forked = fixture.entries.clone();
    forked[5] = b"fork".to_vec();
    let mut checkpoints = fixture.checkpoints.clone();
    checkpoints.extend(self::checkpoints(&store(&forked), &[40]));
    let report = audit_entries(HASHER, &fixture.entries, &fixture.stored, 100, &checkpoints)
        .expect("infallible");
    assert_eq!(
        report.finding,
        Some(Finding::ConflictingCheckpoints { size: 40 })
    );
}

#[test]
fn findings_read_as_sentences() {
    let finding = Finding::Removed {
        index: 12,
        count: 3,
    };
    assert_eq!(finding.to_string(), "3 entries were removed at entry 12");
    let finding = Finding::Reordered {
        index: 70,
        stored_index: Some(71),
    };
    assert_eq!(
        finding.to_string(),
        "entry 70 was moved: the log stored it at 71"
    );
}

/// One way to tamper with an export.
#[derive(Debug, Clone)]
enum Tamper {
    Alter(usize),
    Remove(usize, usize),
    Insert(usize, usize),
    Swap(usize),
}

fn tamper_strategy() -> impl proptest::strategy::Strategy<Value = (usize, Tamper, Vec<u64>)> {
    use proptest::prelude::*;
    (2usize..200).prop_flat_map(|size| {
        let tamper = prop_oneof![
            (0..size).prop_map(Tamper::Alter),
            (0..size, 1usize..=32)
                .prop_map(move |(at, count)| Tamper::Remove(at, count.min(size - at))),
            (0..=size, 1usize..=32).prop_map(|(at, count)| Tamper::Insert(at, count)),
            (0..size - 1).prop_map(Tamper::Swap),
        ];
        let sizes = proptest::collection::vec(1..=size as u64, 0..4);
        (Just(size), tamper, sizes)
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    #[test]
    fn tampering_is_found_where_it_starts((size, tamper, sizes) in tamper_strategy()) {
        let entries = original(size);
        let stored = store(&entries);
        let signed = checkpoints(&stored, &sizes);
        let mut export = entries;
        let expected = match tamper {
            Tamper::Alter(at) => {
                export[at] = b"altered".to_vec();
                Finding::Altered { index: at as u64 }
            }
            Tamper::Remove(at, count) => {
                export.drain(at..at + count);
                Finding::Removed { index: at as u64, count: count as u64 }
            }
            Tamper::Insert(at, count) => {
                for offset in 0..count {
                    export.insert(at, format!("inserted {offset}").into_bytes());
                }
                Finding::Inserted { index: at as u64, count: count as u64 }
            }
            Tamper::Swap(at) => {
                export.swap(at, at + 1);
                Finding::Reordered { index: at as u64, stored_index: Some(at as u64 + 1) }
            }
        };
        let report = audit_entries(HASHER, &export, &stored, stored.size(), &signed)
            .expect("memory source is infallible");
        proptest::prop_assert_eq!(report.finding, Some(expected));
    }
}
