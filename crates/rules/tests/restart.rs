//! The rules service on a real SQLite store across a restart: `for` and
//! window state survive, and no alert is opened twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, AlertStatus, Area, AreaCode, DataKind, FactorCode, FactorLimit, FactorValues,
    ManualClock, Mn, MonitoringPoint, Reading, Secret, SystemCode,
};
use oversight_rules::{
    EngineConfig, LogEventSink, ReadingBatch, RulesConfig, RulesHandle, RulesService,
};
use oversight_store::{AlertQuery, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const START: &str = "2026-03-01T00:00:00Z";

const PACK: &str = r#"
[pack]
id = "site"
version = "1"

[[rule]]
id = "site.cod.for"
category = "exceedance"
factors = ["w01018"]
condition = "value > 50.0"
for = "5m"

[[rule]]
id = "site.ph.window"
category = "exceedance"
factors = ["w01001"]
condition = "value > 8.0"
window = { size = "10m", aggregate = "avg", min_count = 3 }
"#;

fn at(minutes: i64) -> Timestamp {
    let start: Timestamp = START.parse().expect("literal time");
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

fn point() -> MonitoringPoint {
    MonitoringPoint {
        mn: Mn::parse("MN0001").expect("valid MN"),
        name: "outlet".to_owned(),
        area: AreaCode::parse("350203").expect("valid area"),
        system_code: SystemCode::parse("32").expect("valid system code"),
        password: Secret::new("123456".to_owned()),
        previous_password: None,
        location: None,
        limits: vec![
            FactorLimit::new(
                FactorCode::parse("w01018").expect("code"),
                None,
                Some(100.0),
                None,
            )
            .expect("valid limit"),
        ],
        interval_secs: 60,
        attributes: BTreeMap::new(),
    }
}

/// Builds a reading of `factor` with data time `minute`, received `delay` minutes later.
fn reading(factor: &str, minute: i64, delay: i64, value: f64) -> Reading {
    Reading {
        mn: Mn::parse("MN0001").expect("valid MN"),
        kind: DataKind::Realtime,
        factor: FactorCode::parse(factor).expect("valid code"),
        data_time: at(minute),
        received_at: at(minute + delay),
        values: FactorValues {
            rtd: Some(value),
            ..FactorValues::default()
        },
        flag: None,
    }
}

struct Running {
    handle: RulesHandle,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Starts the rules service with the test pack on `store`.
fn start(store: &Arc<dyn Store>, rules_dir: &std::path::Path, now: Timestamp) -> Running {
    let config = RulesConfig {
        dir: Some(rules_dir.to_owned()),
        ..RulesConfig::default()
    };
    let clock = Arc::new(ManualClock::new(now));
    let (service, handle) = RulesService::new(
        config,
        Arc::clone(store),
        clock,
        Arc::new(LogEventSink),
        EngineConfig::default(),
    )
    .expect("rules service starts");
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            service.run(cancel).await.expect("rules service runs");
        }
    });
    Running {
        handle,
        cancel,
        task,
    }
}

impl Running {
    /// Stores `readings` as a source would, then submits them.
    async fn feed(&self, store: &Arc<dyn Store>, readings: Vec<Reading>) {
        store
            .insert_readings(&readings)
            .await
            .expect("readings stored");
        let batch = ReadingBatch {
            point: Arc::new(point()),
            readings,
        };
        self.handle.submit(batch).await.expect("batch submitted");
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("rules service task");
    }
}

async fn alerts_of(store: &Arc<dyn Store>, rule: &str) -> Vec<oversight_core::Alert> {
    let query = AlertQuery {
        rule_id: Some(rule.to_owned()),
        ..AlertQuery::default()
    };
    store.alerts(&query).await.expect("alerts listed").items
}

/// Waits until the alerts of `rule` satisfy `check`, and returns them.
async fn wait_for_alerts(
    store: &Arc<dyn Store>,
    rule: &str,
    check: impl Fn(&[oversight_core::Alert]) -> bool,
) -> Vec<oversight_core::Alert> {
    for _ in 0..200 {
        let alerts = alerts_of(store, rule).await;
        if check(&alerts) {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "alerts of {rule} never reached the expected state: {:?}",
        alerts_of(store, rule).await
    );
}

/// Creates a data directory with the test pack in `rules/` and a store
/// holding the test point.
async fn prepared() -> (tempfile::TempDir, Arc<dyn Store>) {
    let data = tempfile::tempdir().expect("temporary directory");
    let rules_dir = data.path().join("rules");
    std::fs::create_dir_all(&rules_dir).expect("rules directory");
    std::fs::write(rules_dir.join("site.toml"), PACK).expect("pack written");
    let store = open_store(data.path()).await;
    (data, store)
}

async fn open_store(dir: &std::path::Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir, SqliteOptions::default()).expect("store opens");
    let store: Arc<dyn Store> = Arc::new(store);
    let areas = [("35", "福建省"), ("3502", "厦门市"), ("350203", "思明区")].map(|(code, name)| {
        Area::new(AreaCode::parse(code).expect("valid area"), name).expect("valid area name")
    });
    store.upsert_areas(&areas).await.expect("areas stored");
    store
        .upsert_points(&[point()], &Actor::System)
        .await
        .expect("point stored");
    store
}

#[tokio::test]
async fn for_duration_survives_restart() {
    let (data, store) = prepared().await;
    let rules_dir = data.path().join("rules");

    let running = start(&store, &rules_dir, at(0));
    let before: Vec<Reading> = (0..3)
        .map(|minute| reading("w01018", minute, 0, 80.0))
        .collect();
    running.feed(&store, before).await;
    wait_for_alerts(&store, "site.cod.for", |alerts| {
        alerts.first().is_some_and(|alert| alert.count == 3)
    })
    .await;
    running.stop().await;

    let running = start(&store, &rules_dir, at(3));
    let after: Vec<Reading> = (3..7)
        .map(|minute| reading("w01018", minute, 0, 80.0))
        .collect();
    running.feed(&store, after).await;
    let alerts = wait_for_alerts(&store, "site.cod.for", |alerts| {
        alerts.first().is_some_and(|alert| alert.count == 7)
    })
    .await;
    running.stop().await;

    assert_eq!(alerts.len(), 1, "one alert across the restart: {alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.first_at, at(0), "pending since the first reading");
    assert_eq!(
        alert.fired_at,
        Some(at(5)),
        "fired 5 minutes after it began"
    );
}

#[tokio::test]
async fn window_is_rebuilt_after_restart() {
    let (data, store) = prepared().await;
    let rules_dir = data.path().join("rules");

    let running = start(&store, &rules_dir, at(0));
    running
        .feed(
            &store,
            vec![reading("w01001", 0, 0, 9.0), reading("w01001", 1, 0, 9.0)],
        )
        .await;
    // The service signals no completion, so the test gives it time to evaluate.
    tokio::time::sleep(Duration::from_millis(200)).await;
    running.stop().await;
    assert!(
        alerts_of(&store, "site.ph.window").await.is_empty(),
        "two readings are below min_count"
    );

    let running = start(&store, &rules_dir, at(2));
    running
        .feed(&store, vec![reading("w01001", 2, 0, 9.0)])
        .await;
    let alerts = wait_for_alerts(&store, "site.ph.window", |alerts| !alerts.is_empty()).await;
    running.stop().await;

    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let explanation = alerts[0].explanation.as_ref().expect("explanation stored");
    let window = explanation.window.as_ref().expect("window explained");
    assert_eq!(
        window.count, 3,
        "the window holds the readings stored before the restart"
    );
    assert_eq!(window.from, at(0));
    assert_eq!(window.to, at(2));
}

#[tokio::test]
async fn firing_alert_is_not_reopened_after_restart() {
    let (data, store) = prepared().await;
    let rules_dir = data.path().join("rules");

    let running = start(&store, &rules_dir, at(0));
    let before: Vec<Reading> = (0..6)
        .map(|minute| reading("w01018", minute, 0, 80.0))
        .collect();
    running.feed(&store, before).await;
    wait_for_alerts(&store, "site.cod.for", |alerts| {
        alerts
            .first()
            .is_some_and(|alert| alert.status == AlertStatus::Firing)
    })
    .await;
    running.stop().await;

    let running = start(&store, &rules_dir, at(6));
    // The first reading after the restart repeats one already evaluated:
    // a retransmission that must not count twice.
    let after = vec![reading("w01018", 5, 1, 80.0), reading("w01018", 6, 0, 90.0)];
    running.feed(&store, after).await;
    let alerts = wait_for_alerts(&store, "site.cod.for", |alerts| {
        alerts.first().is_some_and(|alert| alert.count == 7)
    })
    .await;
    running.stop().await;

    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].count, 7,
        "the retransmitted reading is not counted"
    );
}

#[tokio::test]
async fn late_readings_use_event_time() {
    let (data, store) = prepared().await;
    let rules_dir = data.path().join("rules");

    // A datalogger that was cut off uploads six minutes of backlog an hour late.
    let running = start(&store, &rules_dir, at(60));
    let backlog: Vec<Reading> = (0..6)
        .map(|minute| reading("w01018", minute, 60, 80.0))
        .collect();
    running.feed(&store, backlog).await;
    let alerts = wait_for_alerts(&store, "site.cod.for", |alerts| {
        alerts
            .first()
            .is_some_and(|alert| alert.status == AlertStatus::Firing)
    })
    .await;
    running.stop().await;

    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].first_at, at(0), "first_at is event time");
    assert_eq!(
        alerts[0].fired_at,
        Some(at(5)),
        "for is counted in event time"
    );
}
