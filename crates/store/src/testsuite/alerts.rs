//! Cases for alerts.

use std::sync::Arc;

use oversight_core::{Alert, AlertKind, AlertStatus, Severity};

use super::fixtures::{code, factor, minute, mn};
use crate::{AlertChange, AlertQuery, AlertUpdate, Store, StoreError};

fn trigger(kind: AlertKind, mn_text: &str, area: &str, at_minute: i64, value: f64) -> AlertUpdate {
    let point = mn(mn_text);
    let factor_code = factor("w01018");
    AlertUpdate::Trigger {
        fingerprint: Alert::fingerprint_of(kind, &point, Some(&factor_code)),
        mn: point,
        factor: Some(factor_code),
        kind,
        severity: Severity::Warning,
        area: code(area),
        at: minute(at_minute),
        value: Some(value),
        limit: Some(100.0),
    }
}

fn resolve(kind: AlertKind, mn_text: &str, at_minute: i64) -> AlertUpdate {
    AlertUpdate::Resolve {
        fingerprint: Alert::fingerprint_of(kind, &mn(mn_text), Some(&factor("w01018"))),
        at: minute(at_minute),
    }
}

async fn apply_one(store: &Arc<dyn Store>, update: AlertUpdate) -> AlertChange {
    let mut changes = store
        .apply_alert_updates(&[update])
        .await
        .expect("apply alert update");
    assert_eq!(changes.len(), 1);
    changes.remove(0)
}

/// The first trigger opens an alert from the update's values.
pub async fn alerts_trigger_opens(store: Arc<dyn Store>) {
    let change = apply_one(
        &store,
        trigger(AlertKind::AboveUpper, "MN001", "350203", 5, 150.0),
    )
    .await;
    let AlertChange::Opened(alert) = change else {
        panic!("expected Opened, got {change:?}")
    };
    assert_eq!(alert.fingerprint, "above_upper:MN001:w01018");
    assert_eq!(alert.mn, mn("MN001"));
    assert_eq!(alert.factor, Some(factor("w01018")));
    assert_eq!(alert.kind, AlertKind::AboveUpper);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.status, AlertStatus::Open);
    assert_eq!(alert.area, code("350203"));
    assert_eq!(alert.first_at, minute(5));
    assert_eq!(alert.last_at, minute(5));
    assert_eq!(alert.resolved_at, None);
    assert_eq!(alert.trigger_value, Some(150.0));
    assert_eq!(alert.last_value, Some(150.0));
    assert_eq!(alert.peak_value, Some(150.0));
    assert_eq!(alert.limit, Some(100.0));
    assert_eq!(alert.count, 1);
    assert_eq!(store.open_alerts().await.expect("open alerts"), vec![alert]);
}

/// Further triggers update the open alert: count, last time and value, the
/// maximum as peak for an upper limit, and the higher severity.
pub async fn alerts_second_trigger_updates(store: Arc<dyn Store>) {
    let kind = AlertKind::AboveUpper;
    let updates = [
        trigger(kind, "MN001", "350203", 1, 150.0),
        trigger(kind, "MN001", "350203", 2, 180.0),
    ];
    let changes = store
        .apply_alert_updates(&updates)
        .await
        .expect("apply in one call");
    assert!(matches!(changes[0], AlertChange::Opened(_)), "{changes:?}");
    let mut critical = trigger(kind, "MN001", "350203", 3, 120.0);
    if let AlertUpdate::Trigger { severity, .. } = &mut critical {
        *severity = Severity::Critical;
    }
    let change = apply_one(&store, critical).await;
    let AlertChange::Updated(alert) = change else {
        panic!("expected Updated, got {change:?}")
    };
    assert_eq!(alert.count, 3);
    assert_eq!(alert.first_at, minute(1));
    assert_eq!(alert.last_at, minute(3));
    assert_eq!(alert.trigger_value, Some(150.0));
    assert_eq!(alert.last_value, Some(120.0));
    assert_eq!(alert.peak_value, Some(180.0));
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(store.open_alerts().await.expect("open alerts"), vec![alert]);
}

/// For a lower limit the peak is the minimum value.
pub async fn alerts_peak_below_lower_is_min(store: Arc<dyn Store>) {
    let kind = AlertKind::BelowLower;
    let updates = [
        trigger(kind, "MN001", "350203", 1, 5.0),
        trigger(kind, "MN001", "350203", 2, 4.0),
        trigger(kind, "MN001", "350203", 3, 5.5),
    ];
    let changes = store.apply_alert_updates(&updates).await.expect("apply");
    let AlertChange::Updated(alert) = &changes[2] else {
        panic!("expected Updated: {changes:?}")
    };
    assert_eq!(alert.peak_value, Some(4.0));
    assert_eq!(alert.last_value, Some(5.5));
}

/// Resolving closes the alert; a later trigger opens a new one.
pub async fn alerts_resolve_and_reopen(store: Arc<dyn Store>) {
    let kind = AlertKind::AboveUpper;
    let AlertChange::Opened(first) =
        apply_one(&store, trigger(kind, "MN001", "350203", 1, 150.0)).await
    else {
        panic!("expected Opened");
    };
    let change = apply_one(&store, resolve(kind, "MN001", 4)).await;
    let AlertChange::Resolved(resolved) = change else {
        panic!("expected Resolved: {change:?}")
    };
    assert_eq!(resolved.id, first.id);
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(minute(4)));
    assert_eq!(
        apply_one(&store, resolve(kind, "MN001", 5)).await,
        AlertChange::Unchanged
    );
    assert!(store.open_alerts().await.expect("open alerts").is_empty());

    let change = apply_one(&store, trigger(kind, "MN001", "350203", 6, 130.0)).await;
    let AlertChange::Opened(second) = change else {
        panic!("expected Opened: {change:?}")
    };
    assert_ne!(second.id, first.id);
    assert_eq!(second.count, 1);
    let page = store
        .alerts(&AlertQuery::default())
        .await
        .expect("list alerts");
    assert_eq!(page.items, vec![second, resolved]);
}

/// Concurrent triggers of one fingerprint leave exactly one open alert that
/// counts every trigger.
pub async fn alerts_concurrent_triggers_one_open(store: Arc<dyn Store>) {
    const TASKS: i64 = 32;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        let update = trigger(
            AlertKind::AboveUpper,
            "MN001",
            "350203",
            task,
            150.0 + task as f64,
        );
        tasks.spawn(async move { store.apply_alert_updates(&[update]).await });
    }
    let mut opened = 0;
    while let Some(joined) = tasks.join_next().await {
        let changes = joined.expect("task finishes").expect("apply alert update");
        opened += changes
            .iter()
            .filter(|change| matches!(change, AlertChange::Opened(_)))
            .count();
    }
    assert_eq!(opened, 1);
    let open = store.open_alerts().await.expect("open alerts");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].count, TASKS as u64);
    assert_eq!(open[0].peak_value, Some(150.0 + (TASKS - 1) as f64));
}

/// Alerts filter by status, area, MN and time, newest first, with paging.
pub async fn alerts_filters_and_paging(store: Arc<dyn Store>) {
    let kind = AlertKind::AboveUpper;
    let updates = [
        trigger(kind, "MN001", "350203001", 1, 150.0),
        trigger(kind, "MN002", "350206", 2, 150.0),
        trigger(kind, "MN003", "4403", 3, 150.0),
        trigger(AlertKind::BelowLower, "MN001", "350203001", 4, 1.0),
        resolve(kind, "MN002", 10),
    ];
    store.apply_alert_updates(&updates).await.expect("apply");
    let fingerprints = |alerts: Vec<Alert>| -> Vec<String> {
        alerts.into_iter().map(|alert| alert.fingerprint).collect()
    };

    let all = store.alerts(&AlertQuery::default()).await.expect("all");
    assert_eq!(
        fingerprints(all.items),
        [
            "below_lower:MN001:w01018",
            "above_upper:MN003:w01018",
            "above_upper:MN002:w01018",
            "above_upper:MN001:w01018",
        ]
    );

    let cases = [
        (
            AlertQuery {
                status: Some(AlertStatus::Resolved),
                ..AlertQuery::default()
            },
            1,
        ),
        (
            AlertQuery {
                status: Some(AlertStatus::Open),
                ..AlertQuery::default()
            },
            3,
        ),
        (
            AlertQuery {
                area: Some(code("3502")),
                ..AlertQuery::default()
            },
            3,
        ),
        (
            AlertQuery {
                area: Some(code("350203")),
                ..AlertQuery::default()
            },
            2,
        ),
        (
            AlertQuery {
                mn: Some(mn("MN001")),
                ..AlertQuery::default()
            },
            2,
        ),
        (
            AlertQuery {
                from: Some(minute(3)),
                ..AlertQuery::default()
            },
            2,
        ),
        (
            AlertQuery {
                to: Some(minute(2)),
                ..AlertQuery::default()
            },
            1,
        ),
    ];
    for (query, expected) in cases {
        let page = store.alerts(&query).await.expect("filtered");
        assert_eq!(page.items.len(), expected, "{query:?}");
    }

    let mut paged = AlertQuery {
        limit: 3,
        ..AlertQuery::default()
    };
    let first = store.alerts(&paged).await.expect("first page");
    assert_eq!(first.items.len(), 3);
    paged.cursor = first.next_cursor;
    // A new alert between pages belongs before the first page, not in the next.
    store
        .apply_alert_updates(&[trigger(kind, "MN004", "350206", 20, 150.0)])
        .await
        .expect("new");
    let second = store.alerts(&paged).await.expect("second page");
    assert_eq!(fingerprints(second.items), ["above_upper:MN001:w01018"]);
    assert_eq!(second.next_cursor, None);
}

/// An alert is found by its id, and an unknown id finds nothing.
pub async fn alerts_get_by_id(store: Arc<dyn Store>) {
    let kind = AlertKind::AboveUpper;
    let updates = [
        trigger(kind, "MN001", "350203", 1, 150.0),
        trigger(kind, "MN002", "350203", 2, 150.0),
    ];
    let changes = store.apply_alert_updates(&updates).await.expect("apply");
    for change in changes {
        let AlertChange::Opened(opened) = change else {
            panic!("expected Opened: {change:?}")
        };
        let found = store.alert(opened.id).await.expect("get alert");
        assert_eq!(found, Some(opened));
    }
    let missing = store
        .alert(oversight_core::AlertId(i64::MAX))
        .await
        .expect("get missing");
    assert_eq!(missing, None);
}

/// A cursor that the store did not issue is rejected.
pub async fn alerts_bad_cursor(store: Arc<dyn Store>) {
    for cursor in ["garbage", "", "p.MN001"] {
        let query = AlertQuery {
            cursor: Some(cursor.to_owned()),
            ..AlertQuery::default()
        };
        let error = store.alerts(&query).await.expect_err("bad cursor");
        assert!(
            matches!(error, StoreError::InvalidCursor(_)),
            "{cursor:?}: {error:?}"
        );
    }
}
