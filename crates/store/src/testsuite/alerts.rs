//! Cases for alerts, their transitions, silences, rule changes and tasks.

use std::sync::Arc;

use oversight_core::{Actor, Alert, AlertEvent, AlertId, AlertStatus, AlertTransition, Severity};

use super::fixtures::{code, factor, minute, mn};
use crate::{
    AlertChange, AlertQuery, AlertUpdate, NewSilence, RuleChange, SilenceMatcher, Store,
    StoreError, Trigger,
};

pub(super) const UPPER: &str = "env.limit.upper";
const LOWER: &str = "env.limit.lower";

pub(super) fn trigger(
    rule: &str,
    mn_text: &str,
    area: &str,
    at_minute: i64,
    value: f64,
) -> AlertUpdate {
    let point = mn(mn_text);
    let factor_code = factor("w01018");
    AlertUpdate::Trigger(Box::new(Trigger {
        fingerprint: Alert::fingerprint_of(rule, &point, Some(&factor_code)),
        rule_id: rule.to_owned(),
        rule_version: "1.0.0".to_owned(),
        category: "exceedance".to_owned(),
        department: Some("ecology-environment".to_owned()),
        mn: point,
        factor: Some(factor_code),
        severity: Severity::Warning,
        area: code(area),
        at: minute(at_minute),
        value: Some(value),
        limit: Some(100.0),
        peak_is_max: rule != LOWER,
        firing: true,
        explanation: None,
    }))
}

fn pending(rule: &str, mn_text: &str, at_minute: i64, value: f64) -> AlertUpdate {
    let AlertUpdate::Trigger(mut inner) = trigger(rule, mn_text, "350203", at_minute, value) else {
        unreachable!("trigger builds a trigger");
    };
    inner.firing = false;
    AlertUpdate::Trigger(inner)
}

fn resolve(rule: &str, mn_text: &str, at_minute: i64) -> AlertUpdate {
    AlertUpdate::Resolve {
        fingerprint: Alert::fingerprint_of(rule, &mn(mn_text), Some(&factor("w01018"))),
        at: minute(at_minute),
        reason: "clear condition met".to_owned(),
    }
}

pub(super) async fn apply_one(store: &Arc<dyn Store>, update: AlertUpdate) -> AlertChange {
    let mut changes = store
        .apply_alert_updates(&[update])
        .await
        .expect("apply alert update");
    assert_eq!(changes.len(), 1);
    changes.remove(0)
}

/// Returns the event of a change, failing when there is none or it is another transition.
pub(super) fn expect_event(change: AlertChange, transition: AlertTransition) -> AlertEvent {
    let Some(event) = change else {
        panic!("expected a {transition} event, got none");
    };
    assert_eq!(event.transition, transition, "{event:?}");
    event
}

/// The first trigger opens an alert from the update's values.
pub async fn alerts_trigger_opens(store: Arc<dyn Store>) {
    let change = apply_one(&store, trigger(UPPER, "MN001", "350203", 5, 150.0)).await;
    let event = expect_event(change, AlertTransition::Firing);
    assert_eq!(event.actor, Actor::Engine);
    let alert = event.alert;
    assert_eq!(alert.fingerprint, "env.limit.upper:MN001:w01018");
    assert_eq!(alert.rule_id, UPPER);
    assert_eq!(alert.rule_version, "1.0.0");
    assert_eq!(alert.category, "exceedance");
    assert_eq!(alert.department.as_deref(), Some("ecology-environment"));
    assert_eq!(alert.fired_at, Some(minute(5)));
    assert_eq!(alert.mn, mn("MN001"));
    assert_eq!(alert.factor, Some(factor("w01018")));
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.status, AlertStatus::Firing);
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
    let updates = [
        trigger(UPPER, "MN001", "350203", 1, 150.0),
        trigger(UPPER, "MN001", "350203", 2, 180.0),
    ];
    let changes = store
        .apply_alert_updates(&updates)
        .await
        .expect("apply in one call");
    let first = changes[0].clone().expect("first trigger opens");
    assert_eq!(first.transition, AlertTransition::Firing);
    let mut critical = trigger(UPPER, "MN001", "350203", 3, 120.0);
    if let AlertUpdate::Trigger(inner) = &mut critical {
        inner.severity = Severity::Critical;
    }
    let alert = expect_event(apply_one(&store, critical).await, AlertTransition::Repeated).alert;
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
    let updates = [
        trigger(LOWER, "MN001", "350203", 1, 5.0),
        trigger(LOWER, "MN001", "350203", 2, 4.0),
        trigger(LOWER, "MN001", "350203", 3, 5.5),
    ];
    let mut changes = store.apply_alert_updates(&updates).await.expect("apply");
    let alert = expect_event(changes.remove(2), AlertTransition::Repeated).alert;
    assert_eq!(alert.peak_value, Some(4.0));
    assert_eq!(alert.last_value, Some(5.5));
}

/// Resolving closes the alert; a later trigger opens a new one.
pub async fn alerts_resolve_and_reopen(store: Arc<dyn Store>) {
    let change = apply_one(&store, trigger(UPPER, "MN001", "350203", 1, 150.0)).await;
    let first = expect_event(change, AlertTransition::Firing).alert;
    let change = apply_one(&store, resolve(UPPER, "MN001", 4)).await;
    let resolved = expect_event(change, AlertTransition::Resolved).alert;
    assert_eq!(resolved.id, first.id);
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(minute(4)));
    assert_eq!(resolved.resolution.as_deref(), Some("clear condition met"));
    assert_eq!(apply_one(&store, resolve(UPPER, "MN001", 5)).await, None);
    assert!(store.open_alerts().await.expect("open alerts").is_empty());

    let change = apply_one(&store, trigger(UPPER, "MN001", "350203", 6, 130.0)).await;
    let second = expect_event(change, AlertTransition::Firing).alert;
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
        let update = trigger(UPPER, "MN001", "350203", task, 150.0 + task as f64);
        tasks.spawn(async move { store.apply_alert_updates(&[update]).await });
    }
    let mut opened = 0;
    while let Some(joined) = tasks.join_next().await {
        let changes = joined.expect("task finishes").expect("apply alert update");
        opened += changes
            .iter()
            .flatten()
            .filter(|event| event.transition == AlertTransition::Firing)
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
    let updates = [
        trigger(UPPER, "MN001", "350203001", 1, 150.0),
        trigger(UPPER, "MN002", "350206", 2, 150.0),
        trigger(UPPER, "MN003", "4403", 3, 150.0),
        trigger(LOWER, "MN001", "350203001", 4, 1.0),
        resolve(UPPER, "MN002", 10),
    ];
    store.apply_alert_updates(&updates).await.expect("apply");
    let fingerprints = |alerts: Vec<Alert>| -> Vec<String> {
        alerts.into_iter().map(|alert| alert.fingerprint).collect()
    };

    let all = store.alerts(&AlertQuery::default()).await.expect("all");
    assert_eq!(
        fingerprints(all.items),
        [
            "env.limit.lower:MN001:w01018",
            "env.limit.upper:MN003:w01018",
            "env.limit.upper:MN002:w01018",
            "env.limit.upper:MN001:w01018",
        ]
    );

    let cases = [
        (
            AlertQuery {
                statuses: vec![AlertStatus::Resolved],
                ..AlertQuery::default()
            },
            1,
        ),
        (
            AlertQuery {
                statuses: AlertStatus::OPEN.to_vec(),
                ..AlertQuery::default()
            },
            3,
        ),
        (
            AlertQuery {
                rule_id: Some(LOWER.to_owned()),
                ..AlertQuery::default()
            },
            1,
        ),
        (
            AlertQuery {
                severity: Some(Severity::Critical),
                ..AlertQuery::default()
            },
            0,
        ),
        (
            AlertQuery {
                areas: Some(vec![code("3502")]),
                ..AlertQuery::default()
            },
            3,
        ),
        (
            AlertQuery {
                areas: Some(vec![code("350203")]),
                ..AlertQuery::default()
            },
            2,
        ),
        (
            AlertQuery {
                areas: Some(vec![code("350203"), code("3502")]),
                ..AlertQuery::default()
            },
            3,
        ),
        (
            AlertQuery {
                areas: Some(Vec::new()),
                ..AlertQuery::default()
            },
            0,
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
        .apply_alert_updates(&[trigger(UPPER, "MN004", "350206", 20, 150.0)])
        .await
        .expect("new");
    let second = store.alerts(&paged).await.expect("second page");
    assert_eq!(fingerprints(second.items), ["env.limit.upper:MN001:w01018"]);
    assert_eq!(second.next_cursor, None);
}

/// An alert is found by its id, and an unknown id finds nothing.
pub async fn alerts_get_by_id(store: Arc<dyn Store>) {
    let updates = [
        trigger(UPPER, "MN001", "350203", 1, 150.0),
        trigger(UPPER, "MN002", "350203", 2, 150.0),
    ];
    let changes = store.apply_alert_updates(&updates).await.expect("apply");
    for change in changes {
        let opened = expect_event(change, AlertTransition::Firing).alert;
        let found = store.alert(opened.id).await.expect("get alert");
        assert_eq!(found, Some(opened));
    }
    let missing = store.alert(AlertId(i64::MAX)).await.expect("get missing");
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

/// A pending alert stays pending until a trigger fires it, with one
/// transition row for each change of state.
pub async fn alerts_pending_then_firing(store: Arc<dyn Store>) {
    let event = expect_event(
        apply_one(&store, pending(UPPER, "MN001", 1, 120.0)).await,
        AlertTransition::Pending,
    );
    assert_eq!(event.alert.status, AlertStatus::Pending);
    assert_eq!(event.alert.fired_at, None);
    assert_eq!(
        apply_one(&store, pending(UPPER, "MN001", 2, 130.0)).await,
        None
    );
    let fired = expect_event(
        apply_one(&store, trigger(UPPER, "MN001", "350203", 3, 125.0)).await,
        AlertTransition::Firing,
    )
    .alert;
    assert_eq!(fired.id, event.alert.id);
    assert_eq!(fired.status, AlertStatus::Firing);
    assert_eq!(fired.fired_at, Some(minute(3)));
    assert_eq!(fired.first_at, minute(1));
    assert_eq!(fired.count, 3);
    let history = store
        .alert_transitions(fired.id)
        .await
        .expect("transitions");
    let transitions: Vec<AlertTransition> =
        history.iter().map(|record| record.transition).collect();
    assert_eq!(
        transitions,
        [AlertTransition::Pending, AlertTransition::Firing]
    );
}

/// A person acknowledges and resolves with a reason; both are stored with
/// who and why, and neither applies to a resolved alert.
pub async fn alerts_acknowledge_and_resolve(store: Arc<dyn Store>) {
    let alert = expect_event(
        apply_one(&store, trigger(UPPER, "MN001", "350203", 1, 150.0)).await,
        AlertTransition::Firing,
    )
    .alert;
    let acknowledge = AlertUpdate::Acknowledge {
        id: alert.id,
        at: minute(2),
        actor: Actor::User("li.wei".to_owned()),
        reason: Some("calling the operator".to_owned()),
    };
    let acked = expect_event(
        apply_one(&store, acknowledge.clone()).await,
        AlertTransition::Acknowledged,
    );
    assert_eq!(acked.alert.status, AlertStatus::Acknowledged);
    assert_eq!(acked.alert.acknowledged_by.as_deref(), Some("li.wei"));
    assert_eq!(acked.alert.acknowledged_at, Some(minute(2)));
    let again = store.apply_alert_updates(&[acknowledge]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let repeated = expect_event(
        apply_one(&store, trigger(UPPER, "MN001", "350203", 3, 160.0)).await,
        AlertTransition::Repeated,
    );
    assert_eq!(repeated.alert.status, AlertStatus::Acknowledged);

    let resolve = AlertUpdate::ResolveById {
        id: alert.id,
        at: minute(4),
        actor: Actor::User("li.wei".to_owned()),
        reason: "valve repaired".to_owned(),
    };
    let resolved = expect_event(
        apply_one(&store, resolve.clone()).await,
        AlertTransition::Resolved,
    );
    assert_eq!(resolved.alert.resolution.as_deref(), Some("valve repaired"));
    let again = store.apply_alert_updates(&[resolve]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let missing = store
        .apply_alert_updates(&[AlertUpdate::ResolveById {
            id: AlertId(i64::MAX),
            at: minute(5),
            actor: Actor::User("li.wei".to_owned()),
            reason: "x".to_owned(),
        }])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    let history = store
        .alert_transitions(alert.id)
        .await
        .expect("transitions");
    let last = history.last().expect("a transition");
    assert_eq!(last.actor, Actor::User("li.wei".to_owned()));
    assert_eq!(last.reason.as_deref(), Some("valve repaired"));
    assert_eq!(history.len(), 4);
}

/// Flapping is stored on the open alert.
pub async fn alerts_flapping_flag(store: Arc<dyn Store>) {
    apply_one(&store, trigger(UPPER, "MN001", "350203", 1, 150.0)).await;
    let fingerprint = Alert::fingerprint_of(UPPER, &mn("MN001"), Some(&factor("w01018")));
    let change = apply_one(
        &store,
        AlertUpdate::SetFlapping {
            fingerprint,
            flapping: true,
        },
    )
    .await;
    assert_eq!(change, None);
    let open = store.open_alerts().await.expect("open alerts");
    assert!(open[0].flapping);
}

/// Silences are stored, listed while in force and expired early.
pub async fn silences_create_list_expire(store: Arc<dyn Store>) {
    let silence = NewSilence {
        matcher: SilenceMatcher {
            mn: Some(mn("MN001")),
            area: None,
            rule_id: Some(UPPER.to_owned()),
        },
        starts_at: minute(0),
        ends_at: minute(60),
        created_by: "li.wei".to_owned(),
        comment: "analyser maintenance".to_owned(),
    };
    let created = store
        .create_silence(&silence)
        .await
        .expect("create silence");
    assert_eq!(created.matcher, silence.matcher);
    assert!(created.matches(minute(30), UPPER, &mn("MN001"), &code("350203")));
    assert!(!created.matches(minute(30), LOWER, &mn("MN001"), &code("350203")));
    assert!(!created.matches(minute(61), UPPER, &mn("MN001"), &code("350203")));
    assert_eq!(
        store.silences(Some(minute(30))).await.expect("list").len(),
        1
    );
    let expired = store
        .expire_silence(created.id, minute(10))
        .await
        .expect("expire");
    assert_eq!(expired.ends_at, minute(10));
    // Expiry is the server's own housekeeping.
    assert_eq!(
        super::fixtures::last_ledger_entry(&store).await,
        ("silence.expired".to_owned(), "system".to_owned())
    );
    assert!(
        store
            .silences(Some(minute(30)))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(store.silences(None).await.expect("list all").len(), 1);
    let missing = store.expire_silence(i64::MAX, minute(10)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

/// Rule changes are recorded; the latest switch of each rule wins.
pub async fn rule_changes_and_switches(store: Arc<dyn Store>) {
    let change = |action: &str, rule: Option<&str>| RuleChange {
        id: 0,
        at: minute(1),
        action: action.to_owned(),
        rule_id: rule.map(str::to_owned),
        actor: Actor::User("li.wei".to_owned()),
        digest: "abc".to_owned(),
        detail: "env.limits 1.0.0".to_owned(),
    };
    for (action, rule) in [
        ("loaded", None),
        ("disabled", Some(UPPER)),
        ("disabled", Some(LOWER)),
        ("enabled", Some(UPPER)),
    ] {
        store
            .record_rule_change(&change(action, rule))
            .await
            .expect("record");
    }
    let changes = store.rule_changes(10).await.expect("changes");
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[0].action, "enabled");
    assert_eq!(changes[0].actor, Actor::User("li.wei".to_owned()));
    let mut switches = store.rule_switches().await.expect("switches");
    switches.sort();
    assert_eq!(
        switches,
        [(LOWER.to_owned(), false), (UPPER.to_owned(), true)]
    );
}
