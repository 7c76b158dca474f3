//! Cases for readings, last-seen times and the summary.

use std::net::SocketAddr;
use std::sync::Arc;

use oversight_core::{DataFlag, DataKind, Reading};

use super::fixtures::{at, code, factor, minute, mn, reading, seed_points};
use crate::{
    AlertUpdate, Page, ReadingQuery, Revision, RevisionQuery, SortOrder, Store, StoreError,
    SummaryQuery,
};

fn query(mn_text: &str) -> ReadingQuery {
    ReadingQuery {
        mn: mn(mn_text),
        factor: None,
        kind: None,
        from: None,
        to: None,
        order: SortOrder::Ascending,
        limit: 100,
        cursor: None,
    }
}

fn times(page: &Page<Reading>) -> Vec<jiff::Timestamp> {
    page.items.iter().map(|reading| reading.data_time).collect()
}

/// Stored readings come back unchanged, filtered by factor and ordered by time.
pub async fn readings_insert_and_query(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350206")]).await;
    let mut batch = Vec::new();
    for data_minute in [2, 0, 1] {
        batch.push(reading(
            "MN001",
            "w01018",
            data_minute,
            50.0 + data_minute as f64,
        ));
        batch.push(reading("MN001", "w01001", data_minute, 7.0));
    }
    batch.push(reading("MN002", "w01018", 0, 10.0));
    let new = store
        .insert_readings(&batch)
        .await
        .expect("insert readings");
    assert_eq!(new, 7);

    let cod = ReadingQuery {
        factor: Some(factor("w01018")),
        ..query("MN001")
    };
    let page = store.readings(&cod).await.expect("query COD");
    let mut expected: Vec<Reading> = batch
        .iter()
        .filter(|r| r.mn.as_str() == "MN001" && r.factor.as_str() == "w01018")
        .cloned()
        .collect();
    expected.sort_by_key(|r| r.data_time);
    assert_eq!(page.items, expected);
    assert_eq!(page.next_cursor, None);

    let all = store
        .readings(&query("MN001"))
        .await
        .expect("query all factors");
    assert_eq!(all.items.len(), 6);
    let sorted = {
        let mut sorted = times(&all);
        sorted.sort();
        sorted
    };
    assert_eq!(times(&all), sorted, "readings must be ordered by data time");

    let unknown = ReadingQuery {
        factor: Some(factor("a34004")),
        ..query("MN001")
    };
    let page = store
        .readings(&unknown)
        .await
        .expect("query unknown factor");
    assert!(page.items.is_empty(), "{:?}", page.items);
}

/// `kind`, `from` (inclusive) and `to` (exclusive) narrow the result.
pub async fn readings_filter_by_kind_and_time(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let mut batch: Vec<Reading> = (0..6)
        .map(|data_minute| reading("MN001", "w01018", data_minute, 1.0))
        .collect();
    let mut hourly = reading("MN001", "w01018", 0, 2.0);
    hourly.kind = DataKind::Hour;
    batch.push(hourly.clone());
    store
        .insert_readings(&batch)
        .await
        .expect("insert readings");

    let minutes = ReadingQuery {
        kind: Some(DataKind::Minute),
        ..query("MN001")
    };
    let page = store.readings(&minutes).await.expect("minute data");
    assert_eq!(page.items.len(), 6);

    let hours = ReadingQuery {
        kind: Some(DataKind::Hour),
        ..query("MN001")
    };
    let page = store.readings(&hours).await.expect("hourly data");
    assert_eq!(page.items, vec![hourly]);

    let range = ReadingQuery {
        kind: Some(DataKind::Minute),
        from: Some(minute(2)),
        to: Some(minute(4)),
        ..query("MN001")
    };
    let page = store.readings(&range).await.expect("time range");
    assert_eq!(times(&page), [minute(2), minute(3)]);
}

/// Descending order returns the newest first, and pages continue downwards.
pub async fn readings_descending_order(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let batch: Vec<Reading> = (0..5)
        .map(|data_minute| reading("MN001", "w01018", data_minute, 1.0))
        .collect();
    store
        .insert_readings(&batch)
        .await
        .expect("insert readings");

    let mut newest_first = ReadingQuery {
        order: SortOrder::Descending,
        limit: 3,
        ..query("MN001")
    };
    let first = store.readings(&newest_first).await.expect("first page");
    assert_eq!(times(&first), [minute(4), minute(3), minute(2)]);
    newest_first.cursor = first.next_cursor;
    let second = store.readings(&newest_first).await.expect("second page");
    assert_eq!(times(&second), [minute(1), minute(0)]);
    assert_eq!(second.next_cursor, None);
}

/// Pages that end between factors of one data time return every reading
/// exactly once, in both orders.
pub async fn readings_paging_splits_one_time(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let factors = ["w01018", "w01001", "w00000", "w21003"];
    let batch: Vec<Reading> = (0..3)
        .flat_map(|data_minute| {
            factors.map(|factor_code| reading("MN001", factor_code, data_minute, 1.0))
        })
        .collect();
    store
        .insert_readings(&batch)
        .await
        .expect("insert readings");

    for order in [SortOrder::Ascending, SortOrder::Descending] {
        let mut paged = ReadingQuery {
            order,
            limit: 3,
            ..query("MN001")
        };
        let mut seen = Vec::new();
        for _ in 0..10 {
            let page = store.readings(&paged).await.expect("page");
            assert!(page.items.len() <= 3, "page of {}", page.items.len());
            seen.extend(page.items);
            paged.cursor = page.next_cursor;
            if paged.cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), batch.len(), "{order:?}");
        for reading in &batch {
            let copies = seen.iter().filter(|seen| *seen == reading).count();
            assert_eq!(copies, 1, "{order:?}: {reading:?}");
        }
        let mut expected_times = times(&Page {
            items: seen.clone(),
            next_cursor: None,
        });
        match order {
            SortOrder::Ascending => expected_times.sort(),
            SortOrder::Descending => expected_times.sort_by(|a, b| b.cmp(a)),
        }
        assert_eq!(
            times(&Page {
                items: seen,
                next_cursor: None
            }),
            expected_times,
            "{order:?}"
        );
    }
}

/// Readings inserted between pages neither repeat nor hide stored ones.
pub async fn readings_paging_survives_inserts(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let batch: Vec<Reading> = (0..10)
        .map(|data_minute| reading("MN001", "w01018", data_minute * 2, 1.0))
        .collect();
    store
        .insert_readings(&batch)
        .await
        .expect("insert readings");

    let mut paged = ReadingQuery {
        limit: 4,
        ..query("MN001")
    };
    let first = store.readings(&paged).await.expect("first page");
    assert_eq!(times(&first), [minute(0), minute(2), minute(4), minute(6)]);

    // One reading before the cursor, one after it, one past the end.
    let late = [
        reading("MN001", "w01018", 1, 1.0),
        reading("MN001", "w01018", 9, 1.0),
        reading("MN001", "w01018", 30, 1.0),
    ];
    store
        .insert_readings(&late)
        .await
        .expect("insert between pages");

    let mut rest = Vec::new();
    paged.cursor = first.next_cursor;
    for _ in 0..10 {
        let page = store.readings(&paged).await.expect("next page");
        rest.extend(times(&page));
        paged.cursor = page.next_cursor;
        if paged.cursor.is_none() {
            break;
        }
    }
    let expected: Vec<_> = [8, 9, 10, 12, 14, 16, 18, 30]
        .into_iter()
        .map(minute)
        .collect();
    assert_eq!(rest, expected);
}

/// Checks that a retransmission of the same (MN, kind, factor, data time)
/// keeps the first stored reading and is not counted again.
pub async fn readings_retransmission_first_wins(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let original = reading("MN001", "w01018", 0, 50.0);
    assert_eq!(
        store
            .insert_readings(std::slice::from_ref(&original))
            .await
            .expect("insert"),
        1
    );

    let mut again = reading("MN001", "w01018", 0, 55.0);
    again.received_at = minute(5);
    let new = store
        .insert_readings(&[again.clone()])
        .await
        .expect("retransmit");
    assert_eq!(new, 0, "a retransmission is not new");

    let duplicate_in_batch = [original.clone(), original.clone()];
    let new = store
        .insert_readings(&duplicate_in_batch)
        .await
        .expect("duplicate in batch");
    assert_eq!(new, 0);

    let page = store.readings(&query("MN001")).await.expect("query");
    assert_eq!(page.items, vec![original]);

    let summary = store
        .summary(&SummaryQuery {
            areas: None,
            points: None,
            readings_since: at("2024-05-01T00:00:00Z"),
            online_since: at("2024-05-01T00:00:00Z"),
        })
        .await
        .expect("summary");
    assert_eq!(summary.readings, 1);
}

/// Checks that the new mask marks only the readings the store kept as new:
/// not an identical resend, a revision or a second value in one batch.
pub async fn readings_new_mask_marks_kept(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let cod = reading("MN001", "w01018", 0, 50.0);
    let mut cod_again = reading("MN001", "w01018", 0, 80.0);
    cod_again.received_at = minute(1);
    let ph = reading("MN001", "w01001", 0, 7.0);
    let new = store
        .insert_readings_new_mask(&[cod.clone(), cod_again, ph.clone()], None)
        .await
        .expect("insert");
    assert_eq!(new, [true, false, true], "the first value of a batch wins");

    let mut identical = cod.clone();
    identical.received_at = minute(2);
    let mut changed = reading("MN001", "w01018", 0, 55.0);
    changed.received_at = minute(3);
    let later = reading("MN001", "w01018", 1, 60.0);
    let mut new_factor = reading("MN001", "w01003", 0, 1.5);
    new_factor.received_at = minute(4);
    let new = store
        .insert_readings_new_mask(
            &[identical, changed, later.clone(), new_factor.clone()],
            None,
        )
        .await
        .expect("resend");
    assert_eq!(new, [false, false, true, true]);

    let empty = store
        .insert_readings_new_mask(&[], None)
        .await
        .expect("empty");
    assert!(empty.is_empty());
    let page = store.readings(&query("MN001")).await.expect("query");
    assert_eq!(page.items.len(), 4, "{:?}", page.items);
    assert!(page.items.contains(&cod), "first COD value kept");
    assert!(page.items.contains(&later));
    assert!(page.items.contains(&new_factor));
}

/// Checks that a contact time is kept per point, only moves forward, and
/// skips MNs that are not registered.
pub async fn points_contact_times(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350203")]).await;
    let changed = store
        .record_contacts(&[(mn("MN001"), minute(5)), (mn("UNKNOWN"), minute(5))])
        .await
        .expect("record contacts");
    assert_eq!(changed, 1, "the unregistered MN is skipped");
    let changed = store
        .record_contacts(&[(mn("MN001"), minute(3))])
        .await
        .expect("record older contact");
    assert_eq!(changed, 0, "an older contact keeps the stored one");

    let statuses = store.point_statuses(None).await.expect("statuses");
    let contact_of = |text: &str| {
        statuses
            .iter()
            .find(|status| status.mn == mn(text))
            .expect("status of a seeded point")
            .last_contact_at
    };
    assert_eq!(contact_of("MN001"), Some(minute(5)));
    assert_eq!(contact_of("MN002"), None);
    let first = statuses
        .iter()
        .find(|status| status.mn == mn("MN001"))
        .expect("status");
    assert_eq!(first.last_received_at, None, "contact is no data");
}

fn revision_query(mn_text: &str) -> RevisionQuery {
    RevisionQuery {
        mn: mn(mn_text),
        factor: None,
        kind: None,
        from: None,
        to: None,
        limit: 100,
        cursor: None,
    }
}

/// Checks that a resend with other values or flag is kept as a revision,
/// and an identical resend is not.
pub async fn readings_revisions_kept(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350203")]).await;
    let cod = reading("MN001", "w01018", 0, 50.0);
    let ph = reading("MN001", "w01001", 0, 7.0);
    store
        .insert_readings(&[cod.clone(), ph.clone()])
        .await
        .expect("insert");

    let mut identical = cod.clone();
    identical.received_at = minute(3);
    let mut changed = reading("MN001", "w01018", 0, 55.0);
    changed.received_at = minute(4);
    let mut flagged = ph.clone();
    flagged.flag = Some(DataFlag::FAULT);
    flagged.received_at = minute(5);
    // The same change twice in one batch is stored once per arrival.
    let mut changed_again = changed.clone();
    changed_again.received_at = minute(6);
    let new = store
        .insert_readings(&[
            identical,
            changed.clone(),
            flagged.clone(),
            changed_again.clone(),
        ])
        .await
        .expect("resend");
    assert_eq!(new, 0);

    let page = store
        .readings(&query("MN001"))
        .await
        .expect("query readings");
    assert_eq!(page.items.len(), 2);
    assert!(page.items.contains(&cod), "first COD value kept");
    assert!(page.items.contains(&ph), "first pH flag kept");

    let revisions = store
        .reading_revisions(&revision_query("MN001"))
        .await
        .expect("query revisions");
    assert_eq!(revisions.next_cursor, None);
    assert!(
        revisions
            .items
            .iter()
            .all(|revision| revision.peer.is_none()),
        "stored without a connection: {:?}",
        revisions.items
    );
    let revised = revision_readings(revisions.items);
    assert_eq!(revised.len(), 3, "{revised:?}");
    assert!(revised.contains(&changed));
    assert!(revised.contains(&changed_again));
    assert!(revised.contains(&flagged));

    let cod_only = RevisionQuery {
        factor: Some(factor("w01018")),
        ..revision_query("MN001")
    };
    let page = store.reading_revisions(&cod_only).await.expect("filter");
    assert_eq!(
        revision_readings(page.items),
        vec![changed.clone(), changed_again.clone()]
    );

    let other = store
        .reading_revisions(&revision_query("MN002"))
        .await
        .expect("other point");
    assert!(other.items.is_empty());

    let counts = store
        .revision_counts(&mn("MN001"), minute(0), minute(0))
        .await
        .expect("count revisions");
    let mut counts: Vec<(String, u64)> = counts
        .into_iter()
        .map(|count| (count.factor.as_str().to_owned(), count.revisions))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![("w01001".to_owned(), 1), ("w01018".to_owned(), 2)]
    );

    // Paging walks every revision once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .reading_revisions(&RevisionQuery {
                limit: 1,
                cursor,
                ..revision_query("MN001")
            })
            .await
            .expect("page");
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
}

/// Checks that a revision records the address of the connection that sent it.
pub async fn readings_revision_peer_kept(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let first = reading("MN001", "w01018", 0, 50.0);
    let mut resent = reading("MN001", "w01018", 0, 55.0);
    resent.received_at = minute(4);
    let peer: SocketAddr = "192.0.2.7:40001".parse().expect("literal address");
    store
        .insert_readings_from(&[first], Some(peer))
        .await
        .expect("insert");
    store
        .insert_readings_from(&[resent.clone()], Some(peer))
        .await
        .expect("resend");

    let revisions = store
        .reading_revisions(&revision_query("MN001"))
        .await
        .expect("query revisions");
    assert_eq!(revisions.items.len(), 1, "{:?}", revisions.items);
    assert_eq!(revisions.items[0].reading, resent);
    assert_eq!(revisions.items[0].peer.as_deref(), Some("192.0.2.7:40001"));
}

fn revision_readings(revisions: Vec<Revision>) -> Vec<Reading> {
    revisions
        .into_iter()
        .map(|revision| revision.reading)
        .collect()
}

/// Checks that a revision cursor the store did not issue is rejected.
pub async fn readings_revisions_bad_cursor(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let error = store
        .reading_revisions(&RevisionQuery {
            cursor: Some("junk".to_owned()),
            ..revision_query("MN001")
        })
        .await
        .expect_err("bad cursor");
    assert!(matches!(error, StoreError::InvalidCursor(_)), "{error}");
}

/// A batch with an unregistered MN fails, names the MN and writes nothing.
pub async fn readings_unregistered_mn_writes_nothing(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    let batch = [
        reading("MN001", "w01018", 0, 1.0),
        reading("MN404", "w01018", 0, 1.0),
    ];
    let error = store
        .insert_readings(&batch)
        .await
        .expect_err("unregistered MN");
    match &error {
        StoreError::NotFound { key, .. } => assert_eq!(key, "MN404", "{error}"),
        other => panic!("expected NotFound, got {other:?}"),
    }

    let page = store.readings(&query("MN001")).await.expect("query");
    assert!(page.items.is_empty(), "{:?}", page.items);
    let statuses = store.point_statuses(None).await.expect("statuses");
    assert_eq!(statuses[0].last_received_at, None);
    let summary = store
        .summary(&SummaryQuery {
            areas: None,
            points: None,
            readings_since: minute(-600),
            online_since: minute(-600),
        })
        .await
        .expect("summary");
    assert_eq!(summary.readings, 0);
    assert_eq!(summary.points_online, 0);
}

/// A failing batch does not affect batches inserted concurrently with it.
pub async fn readings_failure_spares_concurrent_batches(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350206")]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..40_i64 {
        let store = Arc::clone(&store);
        let mn_text = match task % 4 {
            0 => "MN404",
            1 => "MN001",
            _ => "MN002",
        };
        let batch = [
            reading(mn_text, "w01018", task, 1.0),
            reading(mn_text, "w01001", task, 7.0),
        ];
        tasks.spawn(async move { (mn_text, store.insert_readings(&batch).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (mn_text, result) = joined.expect("task finishes");
        match mn_text {
            "MN404" => assert!(
                matches!(result, Err(StoreError::NotFound { .. })),
                "unregistered MN: {result:?}"
            ),
            _ => assert_eq!(result.expect("registered MN"), 2, "{mn_text}"),
        }
    }
    let first = store.readings(&query("MN001")).await.expect("query MN001");
    assert_eq!(first.items.len(), 20);
    let second = store.readings(&query("MN002")).await.expect("query MN002");
    assert_eq!(second.items.len(), 40);
}

/// Last-seen times are the latest data and receive times, and older data
/// does not move them back.
pub async fn readings_last_seen_times(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350206")]).await;
    let batch = [
        reading("MN001", "w01018", 10, 1.0),
        reading("MN001", "w01018", 5, 1.0),
    ];
    store.insert_readings(&batch).await.expect("insert");
    let mut old = reading("MN001", "w01018", 1, 1.0);
    old.received_at = minute(2);
    store.insert_readings(&[old]).await.expect("insert older");

    let statuses = store.point_statuses(None).await.expect("statuses");
    assert_eq!(statuses.len(), 2);
    let first = &statuses[0];
    assert_eq!(first.mn, mn("MN001"));
    assert_eq!(first.area, code("350203"));
    assert_eq!(first.interval_secs, 60);
    assert_eq!(first.last_data_time, Some(minute(10)));
    assert_eq!(first.last_received_at, Some(minute(11)));
    let silent = &statuses[1];
    assert_eq!(silent.last_data_time, None);
    assert_eq!(silent.last_received_at, None);
}

/// Cursors that the store did not issue, or issued for another point, are rejected.
pub async fn readings_bad_cursor(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203"), ("MN002", "350203")]).await;
    let batch: Vec<Reading> = (0..3)
        .flat_map(|data_minute| {
            [
                reading("MN001", "w01018", data_minute, 1.0),
                reading("MN002", "w01018", data_minute, 1.0),
            ]
        })
        .collect();
    store.insert_readings(&batch).await.expect("insert");
    let page = store
        .readings(&ReadingQuery {
            limit: 1,
            ..query("MN001")
        })
        .await
        .expect("page");
    let issued = page.next_cursor.expect("more pages");

    let other_point = ReadingQuery {
        cursor: Some(issued),
        ..query("MN002")
    };
    let error = store
        .readings(&other_point)
        .await
        .expect_err("cursor of another point");
    assert!(matches!(error, StoreError::InvalidCursor(_)), "{error:?}");

    for cursor in ["garbage", "", "p.MN001"] {
        let bad = ReadingQuery {
            cursor: Some(cursor.to_owned()),
            ..query("MN001")
        };
        let error = store.readings(&bad).await.expect_err("bad cursor");
        assert!(
            matches!(error, StoreError::InvalidCursor(_)),
            "{cursor:?}: {error:?}"
        );
    }
}

/// The summary counts points, online points, new readings since a time and
/// open alerts, in an area and below it.
pub async fn summary_counts(store: Arc<dyn Store>) {
    seed_points(
        &store,
        &[
            ("MN001", "350203001"),
            ("MN002", "350206"),
            ("MN003", "4403"),
        ],
    )
    .await;
    // Received at minutes 1..=3 of 2024-05-01 and at minute 60 (01:00).
    let mut batch = vec![
        reading("MN001", "w01018", 0, 1.0),
        reading("MN001", "w01001", 0, 7.0),
        reading("MN002", "w01018", 2, 1.0),
        reading("MN003", "w01018", 59, 1.0),
    ];
    let mut yesterday = reading("MN001", "w01018", -120, 1.0);
    yesterday.received_at = at("2024-04-30T22:00:00Z");
    batch.push(yesterday);
    store.insert_readings(&batch).await.expect("insert");
    store
        .insert_readings(&batch[..1])
        .await
        .expect("retransmit one");

    let trigger = AlertUpdate::Trigger(Box::new(crate::Trigger {
        fingerprint: "env.limit.upper:MN002:w01018".to_owned(),
        rule_id: "env.limit.upper".to_owned(),
        rule_version: "1.0.0".to_owned(),
        category: "exceedance".to_owned(),
        department: None,
        mn: mn("MN002"),
        factor: Some(factor("w01018")),
        severity: oversight_core::Severity::Warning,
        area: code("350206"),
        at: minute(2),
        value: Some(150.0),
        limit: Some(100.0),
        peak_is_max: true,
        firing: true,
        explanation: None,
    }));
    store
        .apply_alert_updates(&[trigger])
        .await
        .expect("open alert");

    let day = at("2024-05-01T00:00:00Z");
    let whole = SummaryQuery {
        areas: None,
        points: None,
        readings_since: day,
        online_since: minute(3),
    };
    let summary = store.summary(&whole).await.expect("summary");
    assert_eq!(summary.points, 3);
    assert_eq!(
        summary.points_online, 2,
        "MN002 (minute 3) and MN003 (minute 60)"
    );
    assert_eq!(
        summary.readings, 4,
        "five new readings, one received the day before"
    );
    assert_eq!(summary.open_alerts, 1);

    let xiamen = SummaryQuery {
        areas: Some(vec![code("3502")]),
        points: None,
        ..whole.clone()
    };
    let summary = store.summary(&xiamen).await.expect("summary of Xiamen");
    assert_eq!(summary.points, 2);
    assert_eq!(summary.points_online, 1);
    assert_eq!(summary.readings, 3);
    assert_eq!(summary.open_alerts, 1);

    let siming = SummaryQuery {
        areas: Some(vec![code("350203")]),
        points: None,
        ..whole.clone()
    };
    let summary = store.summary(&siming).await.expect("summary of Siming");
    assert_eq!(summary.points, 1);
    assert_eq!(summary.readings, 2);
    assert_eq!(summary.open_alerts, 0);

    let two_areas = SummaryQuery {
        areas: Some(vec![code("350203"), code("3502")]),
        points: None,
        ..whole.clone()
    };
    let summary = store
        .summary(&two_areas)
        .await
        .expect("summary of overlapping areas");
    assert_eq!(summary.points, 2, "a point in both areas counts once");
    assert_eq!(summary.readings, 3);
    assert_eq!(summary.open_alerts, 1);

    let no_area = SummaryQuery {
        areas: Some(Vec::new()),
        points: None,
        ..whole.clone()
    };
    let summary = store.summary(&no_area).await.expect("summary of no area");
    assert_eq!(summary.points, 0);
    assert_eq!(summary.readings, 0);
    assert_eq!(summary.open_alerts, 0);

    let own = SummaryQuery {
        points: Some(vec![mn("MN002")]),
        ..whole.clone()
    };
    let summary = store.summary(&own).await.expect("summary of MN002");
    assert_eq!(summary.points, 1);
    assert_eq!(summary.points_online, 1);
    assert_eq!(summary.readings, 1);
    assert_eq!(summary.open_alerts, 1);

    let own_in_siming = SummaryQuery {
        areas: Some(vec![code("350203")]),
        points: Some(vec![mn("MN001"), mn("MN002")]),
        ..whole.clone()
    };
    let summary = store
        .summary(&own_in_siming)
        .await
        .expect("summary of two points in Siming");
    assert_eq!(summary.points, 1, "MN002 lies outside Siming");
    assert_eq!(summary.readings, 2);
    assert_eq!(summary.open_alerts, 0);

    let since_one = SummaryQuery {
        readings_since: at("2024-05-01T01:00:00Z"),
        ..whole.clone()
    };
    let summary = store
        .summary(&since_one)
        .await
        .expect("summary since 01:00");
    assert_eq!(summary.readings, 1);

    // MN001's last upload is too old, but a heartbeat since keeps it online.
    store
        .record_contacts(&[(mn("MN001"), minute(4))])
        .await
        .expect("record contact");
    let summary = store.summary(&whole).await.expect("summary after contact");
    assert_eq!(summary.points_online, 3, "MN001 made contact at minute 4");
}
