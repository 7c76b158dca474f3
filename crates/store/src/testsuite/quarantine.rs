//! Cases for the quarantine of uploads from unregistered MNs.

use std::sync::Arc;

use oversight_core::Actor;

use super::fixtures::{minute, mn, point, reading, seed_tree};
use crate::{
    QuarantineLimits, QuarantineOutcome, QuarantineQuery, QuarantineReason, QuarantineSummary,
    QuarantinedUpload, ReadingQuery, SortOrder, Store, StoreError, SummaryQuery,
};

/// Quarantines `uploads` without caps.
async fn hold(store: &Arc<dyn Store>, uploads: &[QuarantinedUpload]) {
    store
        .quarantine(uploads, &QuarantineLimits::default())
        .await
        .expect("quarantine");
}

/// Returns every summary, from pages of at most 1000.
async fn summaries(store: &Arc<dyn Store>) -> Vec<QuarantineSummary> {
    let query = QuarantineQuery::default();
    store
        .quarantine_summaries(&query)
        .await
        .expect("summaries")
        .items
}

/// Returns the held uploads of `mn`, at most `limit`.
async fn held(store: &Arc<dyn Store>, mn: &str, limit: u32) -> Vec<QuarantinedUpload> {
    let query = QuarantineQuery {
        limit,
        cursor: None,
    };
    store
        .quarantined_uploads(mn, &query)
        .await
        .expect("uploads")
        .items
}

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
        reason: QuarantineReason::Unregistered,
        peer: Some(peer.to_owned()),
        received_at: minute(received_minute),
        raw: format!("QN=1;ST=32;CN=2051;PW=123456;MN={mn_text};CP=&&&&"),
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
    hold(&store, &uploads[..2]).await;
    hold(&store, &uploads[2..]).await;

    let summaries = summaries(&store).await;
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

    assert_eq!(first.reasons, [QuarantineReason::Unregistered]);
    let stored = held(&store, "MNQ1", 10).await;
    assert_eq!(stored, vec![uploads[0].clone(), uploads[2].clone()]);
    let limited = held(&store, "MNQ1", 1).await;
    assert_eq!(limited, vec![uploads[0].clone()]);
    let invalid = held(&store, "bad;mn", 10).await;
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
    hold(&store, &uploads).await;
    seed_tree(&store).await;
    store
        .upsert_points(&[point("MNQ1", "350203")], &Actor::System)
        .await
        .expect("register");

    let moved = store
        .release_quarantine(&mn("MNQ1"), &Actor::User("li".to_owned()))
        .await
        .expect("release");
    assert_eq!(moved, 3);
    assert_eq!(
        super::fixtures::last_ledger_entry(&store).await,
        ("quarantine.released".to_owned(), "user:li".to_owned())
    );

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

    let summaries = summaries(&store).await;
    let left: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.mn.as_str())
        .collect();
    assert_eq!(left, ["MNQ2"]);
    let counted = store
        .summary(&SummaryQuery {
            areas: None,
            points: None,
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
    hold(&store, &[upload("MNQ1", 1, "127.0.0.1:5001", &["w01018"])]).await;
    let error = store
        .release_quarantine(&mn("MNQ1"), &Actor::System)
        .await
        .expect_err("not registered");
    match &error {
        StoreError::NotFound { key, .. } => assert_eq!(key, "MNQ1", "{error}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let summaries = summaries(&store).await;
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
    hold(&store, &uploads).await;
    let operator = Actor::User("li".to_owned());
    assert_eq!(
        store
            .discard_quarantine("MNQ1", &operator)
            .await
            .expect("discard"),
        2
    );
    assert_eq!(
        super::fixtures::last_ledger_entry(&store).await,
        ("quarantine.discarded".to_owned(), "user:li".to_owned())
    );
    assert_eq!(
        store
            .discard_quarantine("MNQ1", &Actor::System)
            .await
            .expect("discard again"),
        0
    );
    assert_eq!(
        store
            .discard_quarantine("", &Actor::System)
            .await
            .expect("discard empty MN"),
        1
    );
    let summaries = summaries(&store).await;
    assert!(summaries.is_empty(), "{summaries:?}");
}

/// Uploads past the per-MN or the total cap are skipped and counted, and
/// the uploads within the caps are stored.
pub async fn quarantine_limits(store: Arc<dyn Store>) {
    let limits = QuarantineLimits {
        per_mn: 2,
        total: 3,
    };
    let first = [
        upload("MNQ1", 1, "127.0.0.1:5001", &["w01018"]),
        upload("MNQ1", 2, "127.0.0.1:5001", &["w01018"]),
        upload("MNQ1", 3, "127.0.0.1:5001", &["w01018"]),
    ];
    let outcome = store.quarantine(&first, &limits).await.expect("first");
    let expected = QuarantineOutcome {
        stored: 2,
        over_mn_limit: 1,
        over_total_limit: 0,
    };
    assert_eq!(outcome, expected);

    let second = [
        upload("MNQ2", 4, "127.0.0.1:6001", &["w01018"]),
        upload("MNQ3", 5, "127.0.0.1:6001", &["w01018"]),
    ];
    let outcome = store.quarantine(&second, &limits).await.expect("second");
    let expected = QuarantineOutcome {
        stored: 1,
        over_mn_limit: 0,
        over_total_limit: 1,
    };
    assert_eq!(outcome, expected);
    let held_mns: Vec<String> = summaries(&store)
        .await
        .into_iter()
        .map(|summary| summary.mn)
        .collect();
    assert_eq!(held_mns, ["MNQ2", "MNQ1"]);

    // Discarding frees room under the total cap.
    store
        .discard_quarantine("MNQ1", &Actor::System)
        .await
        .expect("discard");
    let outcome = store
        .quarantine(&second[1..], &limits)
        .await
        .expect("after discard");
    assert_eq!(outcome.stored, 1);
}

/// Summaries and uploads page with cursors that cover every row once.
pub async fn quarantine_paging(store: Arc<dyn Store>) {
    let mut uploads = Vec::new();
    for index in 0..5 {
        uploads.push(upload(
            &format!("MNP{index}"),
            index,
            "127.0.0.1:5001",
            &["w01018"],
        ));
    }
    for index in 0..5 {
        uploads.push(upload("MNP9", 10 + index, "127.0.0.1:5001", &["w01018"]));
    }
    hold(&store, &uploads).await;

    let mut query = QuarantineQuery {
        limit: 2,
        cursor: None,
    };
    let mut listed = Vec::new();
    loop {
        let page = store.quarantine_summaries(&query).await.expect("page");
        assert!(page.items.len() <= 2, "page larger than its limit");
        listed.extend(page.items.into_iter().map(|summary| summary.mn));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.cursor = Some(cursor);
    }
    assert_eq!(listed, ["MNP9", "MNP4", "MNP3", "MNP2", "MNP1", "MNP0"]);

    let mut query = QuarantineQuery {
        limit: 2,
        cursor: None,
    };
    let mut times = Vec::new();
    loop {
        let page = store
            .quarantined_uploads("MNP9", &query)
            .await
            .expect("page");
        times.extend(page.items.iter().map(|upload| upload.received_at));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.cursor = Some(cursor);
    }
    let expected: Vec<_> = (10..15).map(minute).collect();
    assert_eq!(times, expected);

    let bad = QuarantineQuery {
        limit: 2,
        cursor: Some("q.not-a-number.x".to_owned()),
    };
    let error = store
        .quarantine_summaries(&bad)
        .await
        .expect_err("bad cursor");
    assert!(matches!(error, StoreError::InvalidCursor(_)), "{error:?}");
}

/// An upload held for its future DataTime keeps its reason, and releasing
/// it stores its readings for the registered point.
pub async fn quarantine_future_data_time(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    store
        .upsert_points(&[point("MNQ1", "350203")], &Actor::System)
        .await
        .expect("register");
    let mut future = upload("MNQ1", 1, "127.0.0.1:5001", &["w01018"]);
    future.reason = QuarantineReason::FutureDataTime;
    hold(&store, std::slice::from_ref(&future)).await;

    let listed = summaries(&store).await;
    assert_eq!(listed[0].reasons, [QuarantineReason::FutureDataTime]);
    assert_eq!(held(&store, "MNQ1", 10).await, vec![future]);
    let moved = store
        .release_quarantine(&mn("MNQ1"), &Actor::System)
        .await
        .expect("release");
    assert_eq!(moved, 1);
    assert!(summaries(&store).await.is_empty());
}
