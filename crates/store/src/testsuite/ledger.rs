//! Cases for the ledger: appends in the transaction of each change, proofs
//! and checkpoints.

use std::sync::Arc;

use oversight_core::{Actor, AlertId};
use oversight_ledger::{Hash, verify_consistency, verify_inclusion};
use serde_json::json;

use super::alerts::trigger;
use super::fixtures::{minute, point, seed_points, seed_tree};
use crate::{
    AlertUpdate, AuditContext, NewDepartment, NewLedgerEntry, PayloadObject, RuleChange, Store,
    StoreError, StoredCheckpoint,
};

fn entry(kind: &'static str, number: u64) -> NewLedgerEntry {
    NewLedgerEntry::new(
        kind,
        format!("test:{number}"),
        "user:tester",
        json!({"number": number, "nested": {"b": [1, 2], "a": "文本"}}),
    )
}

async fn append_count(store: &Arc<dyn Store>, count: u64) {
    let entries: Vec<NewLedgerEntry> = (0..count)
        .map(|number| entry("test.append", number))
        .collect();
    store
        .append_ledger(entries)
        .await
        .expect("append ledger entries");
}

/// An empty ledger has size 0 and the root of the empty tree.
pub async fn ledger_starts_empty(store: Arc<dyn Store>) {
    let head = store.ledger_head().await.expect("ledger head");
    assert_eq!(head.size, 0);
    assert_eq!(head.root, head.hasher.empty_root());
    assert!(store.ledger_entry(0).await.expect("entry 0").is_none());
    assert!(
        store
            .latest_ledger_checkpoint()
            .await
            .expect("latest")
            .is_none()
    );
}

/// Checks that a payload built with `PayloadObject` is stored and hashed
/// exactly as the same JSON given as a value.
pub async fn ledger_payload_forms_hash_alike(store: Arc<dyn Store>) {
    let value = NewLedgerEntry::new(
        "test.payload",
        "test:1",
        "user:tester",
        json!({"text": "a\"b\n文本", "number": 7, "nested": {"b": [1, 2], "a": null}}),
    );
    let built = NewLedgerEntry::new(
        "test.payload",
        "test:1",
        "user:tester",
        PayloadObject::new()
            .value("nested", &json!({"a": null, "b": [1, 2]}))
            .unsigned("number", 7)
            .string("text", "a\"b\n文本"),
    );
    store
        .append_ledger(vec![value, built])
        .await
        .expect("append both forms");
    let entries = store.ledger_entries(0, 2).await.expect("list");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].payload, entries[1].payload);
    assert_eq!(entries[0].leaf_data(), entries[1].leaf_data());
    assert_eq!(entries[0].leaf_hash, entries[1].leaf_hash);
    let hasher = store.ledger_head().await.expect("head").hasher;
    assert_eq!(entries[1].leaf_hash, entries[1].computed_leaf_hash(hasher));
}

/// Appended entries come back with their indexes, fields and a leaf hash
/// that matches their canonical encoding.
pub async fn ledger_append_and_read(store: Arc<dyn Store>) {
    let first = store
        .append_ledger(vec![entry("test.one", 1), entry("test.two", 2)])
        .await
        .expect("append");
    assert_eq!(first, vec![0, 1]);
    let second = store
        .append_ledger(vec![entry("test.three", 3)])
        .await
        .expect("append");
    assert_eq!(second, vec![2]);

    let head = store.ledger_head().await.expect("head");
    assert_eq!(head.size, 3);
    let stored = store
        .ledger_entry(1)
        .await
        .expect("get")
        .expect("entry 1 exists");
    assert_eq!(stored.index, 1);
    assert_eq!(stored.kind, "test.two");
    assert_eq!(stored.subject, "test:2");
    assert_eq!(stored.actor, "user:tester");
    assert_eq!(stored.payload, entry("test.two", 2).payload.to_value());
    assert_eq!(stored.leaf_hash, stored.computed_leaf_hash(head.hasher));

    let page = store.ledger_entries(1, 10).await.expect("list");
    let indexes: Vec<u64> = page.iter().map(|entry| entry.index).collect();
    assert_eq!(indexes, vec![1, 2]);
    assert!(store.ledger_entries(3, 10).await.expect("list").is_empty());
}

/// The head's root is the root of the stored leaf hashes, and every
/// inclusion and consistency proof verifies against the roots.
pub async fn ledger_proofs_verify(store: Arc<dyn Store>) {
    let mut roots: Vec<Hash> = Vec::new();
    for _ in 0..13 {
        append_count(&store, 1).await;
        roots.push(store.ledger_head().await.expect("head").root);
    }
    let head = store.ledger_head().await.expect("head");
    let entries = store.ledger_entries(0, 100).await.expect("entries");
    assert_eq!(entries.len(), 13);
    for size in 1..=13u64 {
        let root = roots[usize::try_from(size - 1).expect("small")];
        for entry in &entries[..usize::try_from(size).expect("small")] {
            let proof = store
                .ledger_inclusion_proof(entry.index, size)
                .await
                .expect("inclusion proof");
            verify_inclusion(
                head.hasher,
                entry.index,
                size,
                &entry.leaf_hash,
                &proof.path,
                &root,
            )
            .unwrap_or_else(|error| panic!("entry {} in size {size}: {error}", entry.index));
        }
        for first in 1..=size {
            let first_root = roots[usize::try_from(first - 1).expect("small")];
            let proof = store
                .ledger_consistency_proof(first, size)
                .await
                .expect("consistency proof");
            verify_consistency(head.hasher, first, size, &first_root, &root, &proof.path)
                .unwrap_or_else(|error| panic!("{first} to {size}: {error}"));
        }
    }
}

/// Proof requests with sizes the tree cannot answer are rejected with a
/// message naming the value.
pub async fn ledger_proof_sizes_rejected(store: Arc<dyn Store>) {
    append_count(&store, 5).await;
    let cases: [(u64, u64, &str); 3] = [(0, 0, "tree size 0"), (5, 5, "index 5"), (0, 6, "size 6")];
    for (index, size, expected) in cases {
        let error = store
            .ledger_inclusion_proof(index, size)
            .await
            .expect_err("invalid inclusion request");
        assert!(
            matches!(error, StoreError::InvalidArgument(_)),
            "inclusion ({index}, {size}): {error:?}"
        );
        assert!(
            error.to_string().contains(expected),
            "inclusion ({index}, {size}): {error}"
        );
    }
    let cases: [(u64, u64, &str); 3] = [(0, 3, "size 0"), (4, 3, "4 is larger"), (2, 6, "size 6")];
    for (first, second, expected) in cases {
        let error = store
            .ledger_consistency_proof(first, second)
            .await
            .expect_err("invalid consistency request");
        assert!(
            matches!(error, StoreError::InvalidArgument(_)),
            "consistency ({first}, {second}): {error:?}"
        );
        assert!(
            error.to_string().contains(expected),
            "consistency ({first}, {second}): {error}"
        );
    }
    let equal = store
        .ledger_consistency_proof(5, 5)
        .await
        .expect("equal sizes");
    assert!(equal.path.is_empty());
}

/// Alert transitions, rule changes, silences, point configuration and
/// quarantine decisions each append an entry in their own transaction.
pub async fn ledger_records_state_changes(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let after_points = store.ledger_head().await.expect("head").size;
    assert_eq!(after_points, 1, "one point upsert");
    let point_entry = store.ledger_entry(0).await.expect("get").expect("entry 0");
    assert_eq!(point_entry.kind, "point.upserted");
    assert_eq!(point_entry.subject, "point:MN001");
    assert_eq!(point_entry.actor, "system");
    assert!(
        point_entry.payload.get("password").is_none(),
        "{:?}",
        point_entry.payload
    );
    assert_eq!(point_entry.payload["password_set"], json!(true));

    let changes = store
        .apply_alert_updates(&[trigger("env.limit.upper", "MN001", "350203", 5, 150.0)])
        .await
        .expect("trigger");
    let alert = changes[0].as_ref().expect("alert fired").alert.clone();
    store
        .apply_alert_updates(&[AlertUpdate::Acknowledge {
            id: alert.id,
            at: minute(6),
            actor: Actor::User("wang".to_owned()),
            reason: Some("on site".to_owned()),
        }])
        .await
        .expect("acknowledge");
    store
        .record_rule_change(&RuleChange {
            id: 0,
            at: minute(7),
            action: "disabled".to_owned(),
            rule_id: Some("env.limit.upper".to_owned()),
            actor: Actor::User("li".to_owned()),
            digest: "abc".to_owned(),
            detail: "maintenance".to_owned(),
        })
        .await
        .expect("rule change");
    store
        .discard_quarantine("MN999", &Actor::System)
        .await
        .expect("discard nothing");

    let entries = store
        .ledger_entries(after_points, 10)
        .await
        .expect("entries");
    let kinds: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|entry| {
            (
                entry.kind.as_str(),
                entry.subject.as_str(),
                entry.actor.as_str(),
            )
        })
        .collect();
    let subject = format!("alert:{}", alert.id);
    assert_eq!(
        kinds,
        vec![
            ("alert.firing", subject.as_str(), "engine"),
            ("alert.acknowledged", subject.as_str(), "user:wang"),
            ("rule.disabled", "rule:env.limit.upper", "user:li"),
        ]
    );
    assert_eq!(entries[1].payload["reason"], json!("on site"));
    assert_eq!(entries[1].payload["alert"]["status"], json!("acknowledged"));
}

/// A write that fails appends nothing, and the next append continues the
/// tree where the last committed one ended.
pub async fn ledger_failed_write_appends_nothing(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    append_count(&store, 2).await;
    let before = store.ledger_head().await.expect("head");
    let error = store
        .apply_alert_updates(&[AlertUpdate::Acknowledge {
            id: AlertId(4242),
            at: minute(1),
            actor: Actor::User("wang".to_owned()),
            reason: None,
        }])
        .await
        .expect_err("missing alert");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    let error = store
        .upsert_points(
            &[point("MN002", "350203"), point("MN003", "999999")],
            &Actor::System,
        )
        .await
        .expect_err("missing area");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    assert_eq!(store.ledger_head().await.expect("head"), before);

    append_count(&store, 1).await;
    let entries = store.ledger_entries(0, 10).await.expect("entries");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].index, 2);
    let head = store.ledger_head().await.expect("head");
    let proof = store.ledger_consistency_proof(2, 3).await.expect("proof");
    verify_consistency(head.hasher, 2, 3, &before.root, &head.root, &proof.path)
        .expect("the tree extends the one before the failed writes");
}

/// Checks that an entry whose kind, subject or actor contains an invisible
/// character is rejected with the value named, and that the change it
/// records is rolled back with it.
pub async fn ledger_hidden_identifier_rejected(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    append_count(&store, 2).await;
    let before = store.ledger_head().await.expect("head");

    let error = store
        .append_ledger(vec![
            entry("test.append", 10),
            NewLedgerEntry::new("test.append", "test:1\u{202E}1", "user:tester", json!({})),
        ])
        .await
        .expect_err("bidirectional override in the subject");
    let StoreError::InvalidArgument(message) = &error else {
        panic!("expected InvalidArgument, got {error:?}");
    };
    assert!(
        message.contains(r#"ledger entry subject "test:1\u{202e}1""#),
        "{message}"
    );
    assert!(message.contains("U+202E"), "{message}");
    assert_eq!(store.ledger_head().await.expect("head"), before);

    let error = store
        .create_department(
            &NewDepartment {
                name: "Bureau\u{200B}".to_owned(),
                areas: Vec::new(),
                categories: Vec::new(),
            },
            &AuditContext {
                at: minute(0),
                actor: "root".to_owned(),
                address: None,
            },
        )
        .await
        .expect_err("zero width space in the department's subject");
    assert!(error.to_string().contains("U+200B"), "{error}");
    assert!(
        store.departments().await.expect("departments").is_empty(),
        "the department is rolled back with its entry"
    );
    assert_eq!(store.ledger_head().await.expect("head"), before);

    append_count(&store, 1).await;
    assert_eq!(
        store.ledger_head().await.expect("head").size,
        before.size + 1
    );
}

/// Checkpoints are stored, listed from a size on, and a second root for a
/// stored size is a conflict.
pub async fn ledger_checkpoints_stored(store: Arc<dyn Store>) {
    append_count(&store, 4).await;
    let head = store.ledger_head().await.expect("head");
    let checkpoint = |size: u64, root: Hash| StoredCheckpoint {
        size,
        root,
        time: minute(i64::try_from(size).expect("small")),
        note: format!("origin\n{size}\nroot\n\n— origin sig\n"),
    };
    store
        .add_ledger_checkpoint(&checkpoint(2, Hash::from_bytes([2; 32])))
        .await
        .expect("add 2");
    store
        .add_ledger_checkpoint(&checkpoint(4, head.root))
        .await
        .expect("add 4");
    store
        .add_ledger_checkpoint(&checkpoint(4, head.root))
        .await
        .expect("adding the same checkpoint again is a no-op");
    let error = store
        .add_ledger_checkpoint(&checkpoint(4, Hash::from_bytes([9; 32])))
        .await
        .expect_err("second root for size 4");
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    let latest = store
        .latest_ledger_checkpoint()
        .await
        .expect("latest")
        .expect("stored");
    assert_eq!(latest, checkpoint(4, head.root));
    let listed = store.ledger_checkpoints(2, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 4);

    store
        .replace_ledger_checkpoint_note(4, "cosigned")
        .await
        .expect("replace note");
    let latest = store
        .latest_ledger_checkpoint()
        .await
        .expect("latest")
        .expect("stored");
    assert_eq!(latest.note, "cosigned");
    let error = store
        .replace_ledger_checkpoint_note(3, "x")
        .await
        .expect_err("no checkpoint of size 3");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
}
