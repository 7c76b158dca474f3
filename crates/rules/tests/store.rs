//! The rules service against the real SQLite store: alerts open, update and
//! resolve in the store, a restart opens no duplicates, and silent points
//! get a data_missing alert.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Alert, AlertKind, AlertStatus, Area, AreaCode, DataFlag, DataKind, FactorCode, FactorLimit,
    FactorValues, ManualClock, Mn, MonitoringPoint, Reading, Secret, SystemCode,
};
use oversight_rules::{ReadingBatch, RulesConfig, RulesHandle, RulesService};
use oversight_store::{AlertQuery, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const MN: &str = "010000A8900016F000169DC0";

fn at(seconds: i64) -> Timestamp {
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().expect("literal timestamp");
    start
        .checked_add(SignedDuration::from_secs(seconds))
        .expect("small offset")
}

fn point() -> MonitoringPoint {
    MonitoringPoint {
        mn: Mn::parse(MN).expect("MN"),
        name: "outlet".to_owned(),
        area: AreaCode::parse("350203").expect("area"),
        system_code: SystemCode::parse("32").expect("system code"),
        password: Secret::new("123456".to_owned()),
        location: None,
        limits: vec![
            FactorLimit::new(
                FactorCode::parse("w01018").expect("factor"),
                None,
                Some(100.0),
                None,
            )
            .expect("limit"),
        ],
        interval_secs: 30,
    }
}

fn cod(seconds: i64, value: f64) -> Reading {
    Reading {
        mn: Mn::parse(MN).expect("MN"),
        kind: DataKind::Realtime,
        factor: FactorCode::parse("w01018").expect("factor"),
        data_time: at(seconds),
        received_at: at(seconds + 1),
        values: FactorValues {
            rtd: Some(value),
            ..FactorValues::default()
        },
        flag: Some(DataFlag::NORMAL),
    }
}

async fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir.path().join("oversight.db"), SqliteOptions::default())
        .expect("sqlite store opens");
    let store: Arc<dyn Store> = Arc::new(store);
    let areas = ["35", "3502", "350203"]
        .map(|code| Area::new(AreaCode::parse(code).expect("area code"), code).expect("area"));
    store.upsert_areas(&areas).await.expect("areas stored");
    store.upsert_points(&[point()]).await.expect("point stored");
    store
}

struct Running {
    handle: RulesHandle,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), oversight_rules::RulesError>>,
}

fn start(store: &Arc<dyn Store>, clock: &Arc<ManualClock>) -> Running {
    let config = RulesConfig {
        tick_interval_secs: 1,
        ..RulesConfig::default()
    };
    let (service, handle) =
        RulesService::new(config, Arc::clone(store), clock.clone()).expect("valid rules config");
    let cancel = CancellationToken::new();
    let task = tokio::spawn(service.run(cancel.clone()));
    Running {
        handle,
        cancel,
        task,
    }
}

impl Running {
    async fn submit(&self, readings: Vec<Reading>) {
        let batch = ReadingBatch {
            point: Arc::new(point()),
            readings,
        };
        self.handle.submit(batch).await.expect("rules service runs");
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task
            .await
            .expect("rules task does not panic")
            .expect("rules service stops cleanly");
    }
}

/// Polls the store until `check` accepts its alerts; fails after 5 s.
async fn alerts_until(store: &dyn Store, check: impl Fn(&[Alert]) -> bool) -> Vec<Alert> {
    let query = AlertQuery {
        limit: 100,
        ..AlertQuery::default()
    };
    let mut alerts = Vec::new();
    for _ in 0..50 {
        alerts = store.alerts(&query).await.expect("alerts query").items;
        if check(&alerts) {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("alerts never reached the expected state: {alerts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_survives_restart_without_duplicate() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(&dir).await;
    let clock = Arc::new(ManualClock::new(at(10)));

    let rules = start(&store, &clock);
    store
        .insert_readings(&[cod(0, 150.0)])
        .await
        .expect("readings stored");
    rules.submit(vec![cod(0, 150.0)]).await;
    let alerts = alerts_until(&*store, |alerts| alerts.len() == 1).await;
    assert_eq!(alerts[0].kind, AlertKind::AboveUpper);
    assert_eq!(alerts[0].status, AlertStatus::Open);
    assert_eq!(alerts[0].trigger_value, Some(150.0));
    rules.stop().await;

    // After a restart the open alert is known: a late normal reading does
    // not resolve it and a new exceedance updates it instead of opening another.
    let rules = start(&store, &clock);
    rules.submit(vec![cod(-30, 50.0), cod(30, 180.0)]).await;
    let alerts = alerts_until(&*store, |alerts| {
        alerts.first().is_some_and(|alert| alert.count == 2)
    })
    .await;
    assert_eq!(
        alerts.len(),
        1,
        "one alert for the fingerprint: {alerts:#?}"
    );
    assert_eq!(alerts[0].status, AlertStatus::Open);
    assert_eq!(alerts[0].peak_value, Some(180.0));

    rules.submit(vec![cod(60, 40.0)]).await;
    let alerts = alerts_until(&*store, |alerts| alerts[0].status == AlertStatus::Resolved).await;
    assert_eq!(alerts[0].resolved_at, Some(at(60)));
    rules.stop().await;

    let open = store.open_alerts().await.expect("open alerts");
    assert!(open.is_empty(), "{open:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_point_opens_data_missing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(&dir).await;
    store
        .insert_readings(&[cod(0, 20.0)])
        .await
        .expect("readings stored");
    // Three intervals of 30 s after the upload received at 1 s is 91 s.
    let clock = Arc::new(ManualClock::new(at(60)));
    let rules = start(&store, &clock);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let query = AlertQuery {
        limit: 10,
        ..AlertQuery::default()
    };
    let alerts = store.alerts(&query).await.expect("alerts query").items;
    assert!(alerts.is_empty(), "missing too early: {alerts:#?}");

    clock.set(at(200));
    let alerts = alerts_until(&*store, |alerts| !alerts.is_empty()).await;
    assert_eq!(alerts[0].kind, AlertKind::DataMissing);
    assert_eq!(alerts[0].first_at, at(91));

    store
        .insert_readings(&[cod(200, 20.0)])
        .await
        .expect("readings stored");
    rules.submit(vec![cod(200, 20.0)]).await;
    let alerts = alerts_until(&*store, |alerts| alerts[0].status == AlertStatus::Resolved).await;
    assert_eq!(alerts.len(), 1);
    rules.stop().await;
}
