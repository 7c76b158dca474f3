//! Measures end-to-end ingest through `SqliteStore`, as the HJ 212 source
//! drives it.
//!
//! Concurrent shape: `TASKS` tasks (default 1,000, one per datalogger) each
//! insert one upload of `FACTORS` readings (default 10) at a time and await
//! it before sending the next, for `SECONDS` seconds (default 20). Group
//! commit is what lets this shape reach a high rate, because every awaited
//! insert needs a committed transaction. Bulk shape: one task inserting
//! batches of 10,000 readings (one minute of every point). After the
//! concurrent run it also times the dashboard summary over every point.
//! During the concurrent run one more task queries one point's factor over
//! 60 minutes in a loop, and `RETRANSMIT=1` sends every upload twice, so
//! that half of the inserts replace stored readings.
//!
//! Run: `cargo bench -p oversight-store-sqlite --bench ingest`
//! Environment: `SYNCHRONOUS` (`FULL` or `NORMAL`, default both), `TASKS`, `RETRANSMIT`,
//! `FACTORS`, `SECONDS`, `WAL_AUTOCHECKPOINT` (pages), `CHECKPOINT_MS`
//! (background checkpoint interval, 0 for none), `MOVE_MS` (interval of
//! moves out of `recent_uploads`), `BENCH_DIR` (default the system's
//! temporary directory).

#![expect(
    clippy::print_stdout,
    reason = "the benchmark prints its results table"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, Area, AreaCode, DataFlag, DataKind, FactorCode, FactorValues, Mn, MonitoringPoint,
    Reading, Secret, SystemCode,
};
use oversight_store::{ReadingQuery, SortOrder, Store, SummaryQuery};
use oversight_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

struct Settings {
    tasks: usize,
    factors: usize,
    duration: Duration,
    retransmit: bool,
    dir: std::path::PathBuf,
}

fn settings() -> Settings {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    Settings {
        tasks: number("TASKS", 1_000),
        factors: number("FACTORS", 10),
        duration: Duration::from_secs(u64::try_from(number("SECONDS", 20)).unwrap_or(20)),
        retransmit: std::env::var("RETRANSMIT").is_ok_and(|value| value == "1"),
        dir: std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into),
    }
}

fn mn_of(task: usize) -> Mn {
    Mn::parse(&format!("BENCH{task:06}")).expect("benchmark MNs are valid")
}

fn factor_codes(count: usize) -> Vec<FactorCode> {
    (0..count)
        .map(|factor| FactorCode::parse(&format!("w{:05}", 1000 + factor)).expect("valid code"))
        .collect()
}

/// Builds one upload: every factor of one point at one minute.
fn upload(mn: &Mn, factors: &[FactorCode], step: i64, start: Timestamp) -> Vec<Reading> {
    let data_time = start + SignedDuration::from_mins(step);
    factors
        .iter()
        .enumerate()
        .map(|(index, factor)| Reading {
            mn: mn.clone(),
            kind: DataKind::Minute,
            factor: factor.clone(),
            data_time,
            received_at: data_time + SignedDuration::from_secs(5),
            values: FactorValues {
                rtd: None,
                avg: Some(step as f64 + index as f64),
                min: Some(step as f64),
                max: Some(step as f64 + 10.0),
                cou: None,
            },
            flag: Some(DataFlag::NORMAL),
        })
        .collect()
}

/// Returns the store options, with the overrides the environment sets.
fn options(synchronous: Synchronous) -> SqliteOptions {
    let millis = |name: &str| -> Option<u64> {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
    };
    let mut options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    if let Some(interval) = millis("CHECKPOINT_MS") {
        options.checkpoint_interval = (interval > 0).then(|| Duration::from_millis(interval));
    }
    if let Some(interval) = millis("MOVE_MS") {
        options.move_interval = Duration::from_millis(interval);
    }
    if let Some(pages) = millis("WAL_AUTOCHECKPOINT") {
        options.wal_autocheckpoint_pages = u32::try_from(pages).unwrap_or(u32::MAX);
    }
    options
}

async fn open_store(
    settings: &Settings,
    synchronous: Synchronous,
) -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir_in(&settings.dir).expect("create benchmark directory");
    let options = options(synchronous);
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    let area = Area::new(AreaCode::parse("350203").expect("valid code"), "思明区").expect("area");
    let parents = [
        Area::new(AreaCode::parse("35").expect("valid code"), "福建省").expect("area"),
        Area::new(AreaCode::parse("3502").expect("valid code"), "厦门市").expect("area"),
        area.clone(),
    ];
    store.upsert_areas(&parents).await.expect("store areas");
    let points: Vec<MonitoringPoint> = (0..settings.tasks)
        .map(|task| MonitoringPoint {
            mn: mn_of(task),
            name: format!("benchmark point {task}"),
            area: area.code.clone(),
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
        .expect("store points");
    (Arc::new(store), dir)
}

/// Returns the mean time of the dashboard summary over every point, in ms.
async fn time_summary(store: &SqliteStore, start: Timestamp) -> f64 {
    const RUNS: u32 = 20;
    let query = SummaryQuery {
        areas: None,
        points: None,
        readings_since: start - SignedDuration::from_hours(24),
        online_since: start,
    };
    let began = Instant::now();
    for _ in 0..RUNS {
        std::hint::black_box(store.summary(&query).await.expect("summary"));
    }
    began.elapsed().as_secs_f64() * 1000.0 / f64::from(RUNS)
}

/// Returns the size of the WAL file at the end of a run, in MiB.
fn wal_mib(dir: &tempfile::TempDir) -> f64 {
    let wal = dir.path().join(format!(
        "{}-wal",
        oversight_store_sqlite::DATABASE_FILE_NAME
    ));
    std::fs::metadata(wal).map_or(0.0, |metadata| metadata.len() as f64 / (1024.0 * 1024.0))
}

/// Runs the concurrent shape and prints one table row.
async fn concurrent(settings: &Settings, synchronous: Synchronous) {
    let (store, dir) = open_store(settings, synchronous).await;
    let factors = Arc::new(factor_codes(settings.factors));
    let start = Timestamp::now();
    let deadline = Instant::now() + settings.duration;
    let began = Instant::now();
    let sends = if settings.retransmit { 2 } else { 1 };
    let queries = tokio::spawn(query_while_ingesting(
        Arc::clone(&store),
        settings.tasks,
        Arc::clone(&factors),
        start,
        deadline,
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..settings.tasks {
        let store = Arc::clone(&store);
        let factors = Arc::clone(&factors);
        tasks.spawn(async move {
            let mn = mn_of(task);
            let mut latencies = Histogram::<u64>::new(3).expect("valid histogram precision");
            let mut step = 0;
            while Instant::now() < deadline {
                let readings = upload(&mn, &factors, step, start);
                for _ in 0..sends {
                    let sent = Instant::now();
                    store
                        .insert_readings(&readings)
                        .await
                        .expect("insert upload");
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latencies
                        .record(micros)
                        .expect("auto-resizing histogram records any value");
                }
                step += 1;
            }
            latencies
        });
    }
    let mut latencies = Histogram::<u64>::new(3).expect("valid histogram precision");
    while let Some(joined) = tasks.join_next().await {
        latencies
            .add(joined.expect("task finishes"))
            .expect("histograms of equal precision");
    }
    let elapsed = began.elapsed().as_secs_f64();
    let uploads = latencies.len() as f64;
    let summary_time = time_summary(&store, start).await;
    let queries = queries.await.expect("query task finishes");
    let shape = if settings.retransmit {
        ", each upload sent twice"
    } else {
        ""
    };
    println!(
        "| concurrent, {} tasks × {} readings{shape} | {:?} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.2} | {:.1} / {:.1} |",
        settings.tasks,
        settings.factors,
        synchronous,
        uploads * settings.factors as f64 / elapsed,
        uploads / elapsed,
        latencies.value_at_quantile(0.5) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        latencies.max() as f64 / 1000.0,
        wal_mib(&dir),
        summary_time,
        queries.value_at_quantile(0.5) as f64 / 1000.0,
        queries.value_at_quantile(0.99) as f64 / 1000.0,
    );
}

/// Queries one point's factor over the first 60 minutes in a loop until
/// `deadline`, and returns the latencies in microseconds.
async fn query_while_ingesting(
    store: Arc<SqliteStore>,
    points: usize,
    factors: Arc<Vec<FactorCode>>,
    start: Timestamp,
    deadline: Instant,
) -> Histogram<u64> {
    let mut latencies = Histogram::<u64>::new(3).expect("valid histogram precision");
    let mut round = 0usize;
    while Instant::now() < deadline {
        let query = ReadingQuery {
            mn: mn_of(round * 397 % points.max(1)),
            factor: factors.get(round % factors.len().max(1)).cloned(),
            kind: Some(DataKind::Minute),
            from: Some(start),
            to: Some(start + SignedDuration::from_mins(60)),
            order: SortOrder::Ascending,
            limit: 1_000,
            cursor: None,
        };
        let sent = Instant::now();
        std::hint::black_box(store.readings(&query).await.expect("query readings"));
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        latencies
            .record(micros)
            .expect("auto-resizing histogram records any value");
        round += 1;
    }
    latencies
}

/// Runs the bulk shape and prints one table row.
async fn bulk(settings: &Settings, synchronous: Synchronous) {
    let (store, dir) = open_store(settings, synchronous).await;
    let factors = factor_codes(settings.factors);
    let mns: Vec<Mn> = (0..settings.tasks).map(mn_of).collect();
    let start = Timestamp::now();
    let mut latencies = Histogram::<u64>::new(3).expect("valid histogram precision");
    let began = Instant::now();
    let mut readings_stored = 0usize;
    let mut step = 0;
    while began.elapsed() < settings.duration {
        let batch: Vec<Reading> = mns
            .iter()
            .flat_map(|mn| upload(mn, &factors, step, start))
            .collect();
        let sent = Instant::now();
        store.insert_readings(&batch).await.expect("insert batch");
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        latencies
            .record(micros)
            .expect("auto-resizing histogram records any value");
        readings_stored += batch.len();
        step += 1;
    }
    let elapsed = began.elapsed().as_secs_f64();
    println!(
        "| bulk, batches of {} readings | {:?} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | - | - |",
        settings.tasks * settings.factors,
        synchronous,
        readings_stored as f64 / elapsed,
        (readings_stored / settings.factors.max(1)) as f64 / elapsed,
        latencies.value_at_quantile(0.5) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        latencies.max() as f64 / 1000.0,
        wal_mib(&dir),
    );
}

fn main() {
    let settings = settings();
    let modes = match std::env::var("SYNCHRONOUS").as_deref() {
        Ok("FULL") => vec![Synchronous::Full],
        Ok("NORMAL") => vec![Synchronous::Normal],
        _ => vec![Synchronous::Full, Synchronous::Normal],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime");
    println!(
        "{} s per row, 2 tokio worker threads",
        settings.duration.as_secs()
    );
    println!(
        "| shape | synchronous | readings/s | uploads/s | p50 ms | p99 ms | max ms | WAL MiB \
         | summary ms | query p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for synchronous in modes {
        runtime.block_on(concurrent(&settings, synchronous));
        runtime.block_on(bulk(&settings, synchronous));
    }
}
