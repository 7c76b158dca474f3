//! Kills a writing process with SIGKILL and checks that every reading it
//! acknowledged is stored.
//!
//! The test re-executes this test binary to run `crash_child`, which writes
//! uploads from many concurrent tasks and prints `ack <task> <step>` after
//! each insert returned `Ok`. The parent kills it mid-stream, reopens the
//! database and looks up every acknowledged upload, three times per
//! `synchronous` setting. Restarted children write the same uploads again,
//! which the store treats as retransmissions.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, Area, AreaCode, DataKind, FactorCode, FactorValues, Mn, MonitoringPoint, Reading,
    Secret, SystemCode,
};
use oversight_store::{ReadingQuery, SortOrder, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

const CHILD_DIR_VAR: &str = "OVERSIGHT_CRASH_CHILD_DIR";
const CHILD_SYNCHRONOUS_VAR: &str = "OVERSIGHT_CRASH_CHILD_SYNCHRONOUS";
const TASKS: usize = 40;
const FACTORS: usize = 10;
/// Acknowledgements the parent waits for before it kills the child.
const ACKS_BEFORE_KILL: usize = 400;

fn start() -> Timestamp {
    "2024-05-01T00:00:00Z".parse().expect("valid timestamp")
}

fn mn_of(task: usize) -> Mn {
    Mn::parse(&format!("CRASH{task:03}")).expect("valid MN")
}

fn factor_of(index: usize) -> FactorCode {
    FactorCode::parse(&format!("w{:05}", 1000 + index)).expect("valid factor code")
}

/// Builds the upload of `task` at `step`; its values identify both.
fn upload(task: usize, step: i64) -> Vec<Reading> {
    let data_time = start() + SignedDuration::from_mins(step);
    (0..FACTORS)
        .map(|index| Reading {
            mn: mn_of(task),
            kind: DataKind::Minute,
            factor: factor_of(index),
            data_time,
            received_at: data_time,
            values: FactorValues {
                avg: Some(step as f64 * 100.0 + index as f64),
                ..Default::default()
            },
            flag: None,
        })
        .collect()
}

fn options(synchronous: Synchronous) -> SqliteOptions {
    SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    }
}

async fn register(store: &SqliteStore) {
    let code = |text: &str| AreaCode::parse(text).expect("valid area code");
    let areas = [
        Area::new(code("35"), "福建省").expect("area"),
        Area::new(code("3502"), "厦门市").expect("area"),
    ];
    store.upsert_areas(&areas).await.expect("store areas");
    let points: Vec<MonitoringPoint> = (0..TASKS)
        .map(|task| MonitoringPoint {
            mn: mn_of(task),
            name: format!("crash point {task}"),
            area: code("3502"),
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
}

/// The child process: writes until it is killed. Does nothing when run
/// without the parent's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by sigkill_keeps_acknowledged_readings"]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return;
    };
    let synchronous = match std::env::var(CHILD_SYNCHRONOUS_VAR).as_deref() {
        Ok("NORMAL") => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let store = Arc::new(SqliteStore::open(&dir, options(synchronous)).expect("open store"));
    register(&store).await;
    writeln!(std::io::stdout(), "ready").expect("write to parent");
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for step in 0.. {
                store
                    .insert_readings(&upload(task, step))
                    .await
                    .expect("insert upload");
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "ack {task} {step}").expect("write to parent");
                stdout.flush().expect("flush to parent");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs the child until it acknowledged enough uploads, kills it, and
/// returns the acknowledged steps per task.
fn run_and_kill_child(dir: &std::path::Path, synchronous: &str) -> BTreeMap<usize, BTreeSet<i64>> {
    let mut acked: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
    common::run_and_kill(
        "crash_child",
        &[
            (CHILD_DIR_VAR, dir.as_os_str()),
            (CHILD_SYNCHRONOUS_VAR, OsStr::new(synchronous)),
        ],
        ACKS_BEFORE_KILL,
        |line| {
            let Some((task, step)) = parse_ack(line) else {
                return false;
            };
            acked.entry(task).or_default().insert(step);
            true
        },
    );
    acked
}

fn parse_ack(line: &str) -> Option<(usize, i64)> {
    let rest = line.strip_prefix("ack ")?;
    let (task, step) = rest.split_once(' ')?;
    Some((task.parse().ok()?, step.parse().ok()?))
}

async fn check_acknowledged(store: &SqliteStore, acked: &BTreeMap<usize, BTreeSet<i64>>) {
    for (task, steps) in acked {
        let query = ReadingQuery {
            mn: mn_of(*task),
            factor: None,
            kind: None,
            from: None,
            to: None,
            order: SortOrder::Ascending,
            limit: 10_000,
            cursor: None,
        };
        let page = store.readings(&query).await.expect("query readings");
        assert!(
            page.next_cursor.is_none(),
            "one page holds every reading of the test"
        );
        let stored: BTreeSet<(Timestamp, String)> = page
            .items
            .iter()
            .map(|reading| (reading.data_time, reading.factor.to_string()))
            .collect();
        for &step in steps {
            for expected in upload(*task, step) {
                let key = (expected.data_time, expected.factor.to_string());
                assert!(
                    stored.contains(&key),
                    "acknowledged reading lost: task {task}, {key:?}"
                );
            }
        }
        for reading in &page.items {
            let step = reading.data_time.duration_since(start()).as_mins();
            let index: usize = reading.factor.as_str()[1..]
                .parse::<usize>()
                .expect("numeric")
                - 1000;
            assert_eq!(
                reading.values.avg,
                Some(step as f64 * 100.0 + index as f64),
                "{reading:?}"
            );
        }
    }
}

/// Kills a child writing to one database three times, and checks after
/// each kill that every reading acknowledged so far is stored.
async fn kill_and_check(synchronous: Synchronous, name: &str) {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let mut all_acked: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
    for round in 0..3 {
        let acked = tokio::task::spawn_blocking({
            let path = dir.path().to_owned();
            let name = name.to_owned();
            move || run_and_kill_child(&path, &name)
        })
        .await
        .expect("child runner finishes");
        let total: usize = acked.values().map(BTreeSet::len).sum();
        assert!(
            total >= ACKS_BEFORE_KILL,
            "round {round}: {total} acknowledgements"
        );
        for (task, steps) in acked {
            all_acked.entry(task).or_default().extend(steps);
        }

        let store = SqliteStore::open(dir.path(), options(synchronous)).expect("reopen after kill");
        check_acknowledged(&store, &all_acked).await;
    }
    let store = SqliteStore::open(dir.path(), options(synchronous)).expect("reopen after kills");
    let new = store
        .insert_readings(&upload(0, 1_000_000))
        .await
        .expect("write after reopen");
    assert_eq!(new, FACTORS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_acknowledged_readings() {
    kill_and_check(Synchronous::Full, "FULL").await;
    kill_and_check(Synchronous::Normal, "NORMAL").await;
}
