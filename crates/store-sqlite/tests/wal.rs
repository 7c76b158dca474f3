//! The WAL file stays bounded under steady ingest: checkpoints restart it,
//! and `journal_size_limit` truncates it after a restart.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, Area, AreaCode, DataKind, FactorCode, FactorValues, Mn, MonitoringPoint, Reading,
    Secret, SystemCode,
};
use oversight_store::Store;
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

const WAL_LIMIT: u64 = 512 * 1024;

fn wal_size(store: &SqliteStore) -> u64 {
    let mut name = store.path().as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(std::path::PathBuf::from(name)).map_or(0, |metadata| metadata.len())
}

fn batch(points: usize, minute: i64) -> Vec<Reading> {
    let start: Timestamp = "2026-12-04T00:00:00Z".parse().expect("valid timestamp");
    let data_time = start + SignedDuration::from_mins(minute);
    let mut readings = Vec::new();
    for point in 0..points {
        for factor in ["w01018", "w21003", "w01001", "w00000"] {
            readings.push(Reading {
                mn: Mn::parse(&format!("WAL{point:04}")).expect("valid MN"),
                kind: DataKind::Realtime,
                factor: FactorCode::parse(factor).expect("valid factor"),
                data_time,
                received_at: data_time,
                values: FactorValues {
                    rtd: Some(minute as f64),
                    ..FactorValues::default()
                },
                flag: None,
            });
        }
    }
    readings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_under_steady_ingest() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let options = SqliteOptions {
        wal_autocheckpoint_pages: 100,
        wal_size_limit_bytes: WAL_LIMIT,
        checkpoint_interval: Some(Duration::from_millis(10)),
        move_interval: Duration::from_millis(50),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    let code = AreaCode::parse("35").expect("valid area code");
    store
        .upsert_areas(&[Area::new(code.clone(), "福建省").expect("area")])
        .await
        .expect("area");
    let points: Vec<MonitoringPoint> = (0..200)
        .map(|point| MonitoringPoint {
            mn: Mn::parse(&format!("WAL{point:04}")).expect("valid MN"),
            name: format!("outlet {point}"),
            area: code.clone(),
            system_code: SystemCode::parse("32").expect("valid system code"),
            password: Secret::new("123456".to_owned()),
            previous_password: None,
            location: None,
            limits: Vec::new(),
            interval_secs: 60,
            attributes: Default::default(),
        })
        .collect();
    store
        .upsert_points(&points, &Actor::System)
        .await
        .expect("points");

    let mut peak = 0;
    for minute in 0..300 {
        store
            .insert_readings(&batch(points.len(), minute))
            .await
            .expect("insert");
        peak = peak.max(wal_size(&store));
    }
    let database = std::fs::metadata(store.path()).expect("database").len();
    // About 240,000 readings went through the WAL. A WAL that never restarts
    // grows at least as large as the database, so a peak well below it shows
    // the restarts. The peak grows with the time the checkpointer waits for a
    // core. Two runs at a load average of 9 on two cores peaked at 2.0 and
    // 4.6 MB, against a database of 8.6 MB.
    assert!(
        database > 8 * WAL_LIMIT,
        "the test wrote too little to show a bound: database {database} bytes"
    );
    assert!(
        peak < database / 4 * 3,
        "WAL reached {peak} bytes while the database grew to {database}"
    );

    // Once the checkpointer caught up, the next write restarts the WAL and
    // truncates it to the limit. How long the checkpointer takes depends on
    // the machine's load, so write small batches until the WAL is truncated,
    // up to a bound that only a stuck checkpointer reaches.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut minute = 10_000;
    let settled = loop {
        store
            .insert_readings(&batch(1, minute))
            .await
            .expect("insert after idle");
        let size = wal_size(&store);
        if size <= WAL_LIMIT || std::time::Instant::now() >= deadline {
            break size;
        }
        minute += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        settled <= WAL_LIMIT,
        "WAL is {settled} bytes 60 s after ingest stopped, limit {WAL_LIMIT}"
    );
}
