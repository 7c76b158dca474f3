//! Cases for the quarantine of uploads from unregistered MNs.

use std::sync::Arc;

use super::fixtures::{minute, mn, point, reading, seed_tree};
use crate::{QuarantinedUpload, ReadingQuery, SortOrder, Store, StoreError, SummaryQuery};

fn upload(mn_text: &str, received_minute: i64, peer: &str, factors: &[&str]) -> QuarantinedUpload {
    let readings = if oversight_core::Mn::parse(mn_text).is_ok() {
        factors
            .iter()
            .map(|factor| {
                let mut reading = reading(mn_text, factor, received_minute - 1, 3.0);
                reading.received_at = minute(received_minute);
                reading
            })
            .collect()
    } else {
        Vec::new()
    };
    QuarantinedUpload {
        mn: mn_text.to_owned(),
        peer: Some(peer.to_owned()),
        received_at: minute(received_minute),
        raw: format!("QN=1;ST=32;CN=2051;MN={mn_text};CP=&&&&"),
        readings,
    }
}

/// Summaries list each MN once, most recently seen first, with counts and
/// the latest peer; uploads come oldest first, at most `limit`.
pub async fn quarantine_summaries_and_uploads(store: Arc<dyn Store>) {
    let uploads = [
        upload("MNQ1", 1, "127.0.0.1:5001", &["w01018", "w01001"]),
        upload("MNQ2", 2, "127.0.0.1:6001", &["w01018"]),
        upload("MNQ1", 3, "127.0.0.1:5002", &["w01018", "w01001"]),
        upload("bad;mn", 4, "127.0.0.1:7001", &[]),
    ];
    store.quarantine(&uploads[..2]).await.expect("quarantine");
    store
        .quarantine(&uploads[2..])
        .await
        .expect("quarantine more");

    let summaries = store.quarantine_summaries().await.expect("summaries");
    let order: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.mn.as_str())
        .collect();
    assert_eq!(order, ["bad;mn", "MNQ1", "MNQ2"]);
    let first = &summaries[1];
    assert_eq!(first.uploads, 2);
    assert_eq!(first.readings, 4);
    assert_eq!(first.first_received_at, minute(1));
    assert_eq!(first.last_received_at, minute(3));
    assert_eq!(first.last_peer.as_deref(), Some("127.0.0.1:5002"));
    assert_eq!(summaries[0].readings, 0);

    let stored = store
        .quarantined_uploads("MNQ1", 10)
        .await
        .expect("uploads");
    assert_eq!(stored, vec![uploads[0].clone(), uploads[2].clone()]);
    let limited = store
        .quarantined_uploads("MNQ1", 1)
        .await
        .expect("one upload");
    assert_eq!(limited, vec![uploads[0].clone()]);
    let invalid = store
        .quarantined_uploads("bad;mn", 10)
        .await
        .expect("invalid MN");
    assert_eq!(invalid, vec![uploads[3].clone()]);
}

/// Releasing after registration moves the readings, counts them and
/// empties the quarantine of that MN.
pub async fn quarantine_release_after_registration(store: Arc<dyn Store>) {
    let uploads = [
        upload("MNQ1", 1, "127.0.0.1:5001", &["w01018", "w01001"]),
        upload("MNQ1", 3, "127.0.0.1:5001", &["w01018"]),
        upload("MNQ2", 2, "127.0.0.1:6001", &["w01018"]),
    ];
    store.quarantine(&uploads).await.expect("quarantine");
    seed_tree(&store).await;
    store
        .upsert_points(&[point("MNQ1", "350203")])
        .await
        .expect("register");

    let moved = store
        .release_quarantine(&mn("MNQ1"))
        .await
        .expect("release");
    assert_eq!(moved, 3);

    let query = ReadingQuery {
        mn: mn("MNQ1"),
        factor: None,
        kind: None,
        from: None,
        to: None,
        order: SortOrder::Ascending,
        limit: 100,
        cursor: None,
    };
    let page = store.readings(&query).await.expect("released readings");
    let mut expected: Vec<_> = uploads[..2]
        .iter()
        .flat_map(|upload| upload.readings.clone())
        .collect();
    expected.sort_by_key(|reading| reading.data_time);
    assert_eq!(page.items.len(), 3);
    for reading in &expected {
        assert!(page.items.contains(reading), "missing {reading:?}");
    }

    let summaries = store.quarantine_summaries().await.expect("summaries");
    let left: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.mn.as_str())
        .collect();
    assert_eq!(left, ["MNQ2"]);
    let counted = store
        .summary(&SummaryQuery {
            area: None,
            readings_since: minute(0),
            online_since: minute(0),
        })
        .await
        .expect("summary");
    assert_eq!(counted.readings, 3);
    assert_eq!(counted.points_online, 1);
}

/// Releasing an MN that is not registered fails, names it and keeps its data.
pub async fn quarantine_release_before_registration_fails(store: Arc<dyn Store>) {
    store
        .quarantine(&[upload("MNQ1", 1, "127.0.0.1:5001", &["w01018"])])
        .await
        .expect("quarantine");
    let error = store
        .release_quarantine(&mn("MNQ1"))
        .await
        .expect_err("not registered");
    match &error {
        StoreError::NotFound { key, .. } => assert_eq!(key, "MNQ1", "{error}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let summaries = store.quarantine_summaries().await.expect("summaries");
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].readings, 1);
}

/// Discarding deletes one MN's uploads, including an invalid MN's.
pub async fn quarantine_discard(store: Arc<dyn Store>) {
    let uploads = [
        upload("MNQ1", 1, "127.0.0.1:5001", &["w01018"]),
        upload("MNQ1", 2, "127.0.0.1:5001", &["w01018"]),
        upload("", 3, "127.0.0.1:7001", &[]),
    ];
    store.quarantine(&uploads).await.expect("quarantine");
    assert_eq!(store.discard_quarantine("MNQ1").await.expect("discard"), 2);
    assert_eq!(
        store
            .discard_quarantine("MNQ1")
            .await
            .expect("discard again"),
        0
    );
    assert_eq!(
        store
            .discard_quarantine("")
            .await
            .expect("discard empty MN"),
        1
    );
    let summaries = store.quarantine_summaries().await.expect("summaries");
    assert!(summaries.is_empty(), "{summaries:?}");
}
