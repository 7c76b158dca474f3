//! Readings split between `recent_uploads` and `uploads`: queries merge the
//! two tables, and retransmissions keep the first reading in either of them.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, Area, AreaCode, DataKind, FactorCode, FactorValues, Mn, MonitoringPoint, Reading,
    Secret, SystemCode,
};
use oversight_store::{ReadingQuery, RevisionQuery, SortOrder, Store, SummaryQuery};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

fn minute(minutes: i64) -> Timestamp {
    "2024-05-01T00:00:00Z"
        .parse::<Timestamp>()
        .expect("valid timestamp")
        + SignedDuration::from_mins(minutes)
}

fn mn() -> Mn {
    Mn::parse("MN001").expect("valid MN")
}

fn reading(factor: &str, data_minute: i64, value: f64) -> Reading {
    Reading {
        mn: mn(),
        kind: DataKind::Minute,
        factor: FactorCode::parse(factor).expect("valid factor code"),
        data_time: minute(data_minute),
        received_at: minute(data_minute + 1),
        values: FactorValues {
            avg: Some(value),
            ..FactorValues::default()
        },
        flag: None,
    }
}

/// Opens a store whose first write group is moved at once and whose later
/// groups stay in `recent_uploads` for an hour.
async fn store_with_point(dir: &tempfile::TempDir) -> SqliteStore {
    let options = SqliteOptions {
        move_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    let code = |text: &str| AreaCode::parse(text).expect("valid area code");
    let point = MonitoringPoint {
        mn: mn(),
        name: "outlet".to_owned(),
        area: code("35"),
        system_code: SystemCode::parse("32").expect("valid system code"),
        password: Secret::new("123456".to_owned()),
        previous_password: None,
        location: None,
        limits: Vec::new(),
        interval_secs: 60,
        attributes: Default::default(),
    };
    store
        .upsert_areas(&[Area::new(code("35"), "福建省").expect("area")])
        .await
        .expect("area");
    store
        .upsert_points(&[point], &Actor::System)
        .await
        .expect("point");
    store
}

fn query(order: SortOrder, limit: u32) -> ReadingQuery {
    ReadingQuery {
        mn: mn(),
        factor: None,
        kind: None,
        from: None,
        to: None,
        order,
        limit,
        cursor: None,
    }
}

async fn all_pages(store: &SqliteStore, order: SortOrder) -> Vec<Reading> {
    let mut paged = query(order, 3);
    let mut readings = Vec::new();
    for _ in 0..20 {
        let page = store.readings(&paged).await.expect("page");
        readings.extend(page.items);
        paged.cursor = page.next_cursor;
        if paged.cursor.is_none() {
            break;
        }
    }
    readings
}

/// Writes even minutes in the first group, which the writer moves, and odd
/// minutes afterwards, which stay in `recent_uploads`.
async fn split_store(dir: &tempfile::TempDir) -> SqliteStore {
    drop(store_with_point(dir).await);
    let options = SqliteOptions {
        move_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let store = SqliteStore::open(dir.path(), options).expect("reopen store");
    let even: Vec<Reading> = [0, 2, 4]
        .into_iter()
        .flat_map(|m| [reading("w01018", m, m as f64), reading("w01001", m, 7.0)])
        .collect();
    store
        .insert_readings(&even)
        .await
        .expect("insert even minutes");
    let odd: Vec<Reading> = [1, 3, 5]
        .into_iter()
        .flat_map(|m| [reading("w01018", m, m as f64), reading("w01001", m, 7.0)])
        .collect();
    store
        .insert_readings(&odd)
        .await
        .expect("insert odd minutes");
    store
}

fn data_minutes(readings: &[Reading]) -> Vec<i64> {
    readings
        .iter()
        .map(|reading| reading.data_time.duration_since(minute(0)).as_mins())
        .collect()
}

#[tokio::test]
async fn pages_merge_both_tables() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = split_store(&dir).await;
    let conn = rusqlite::Connection::open(store.path()).expect("open with rusqlite");
    for table in ["uploads", "recent_uploads"] {
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .expect("count rows");
        assert_eq!(rows, 3, "{table}");
    }

    let ascending = all_pages(&store, SortOrder::Ascending).await;
    assert_eq!(
        data_minutes(&ascending),
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    );
    let descending = all_pages(&store, SortOrder::Descending).await;
    assert_eq!(
        data_minutes(&descending),
        [5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
    );
    for reading in &ascending {
        assert_eq!(
            descending.iter().filter(|other| *other == reading).count(),
            1,
            "{reading:?}"
        );
    }
}

#[tokio::test]
async fn retransmissions_keep_first_in_both_tables() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = split_store(&dir).await;

    // Minute 2 was moved, minute 3 is recent; w00000 is a factor not sent before.
    let again = [
        reading("w01018", 2, 20.0),
        reading("w01018", 3, 30.0),
        reading("w00000", 2, 1.0),
        reading("w00000", 3, 1.0),
    ];
    let new = store.insert_readings(&again).await.expect("retransmit");
    assert_eq!(new, 2, "only the two w00000 readings are new");

    let readings = all_pages(&store, SortOrder::Ascending).await;
    assert_eq!(readings.len(), 14);
    let expected = [
        reading("w01018", 2, 2.0),
        reading("w01018", 3, 3.0),
        reading("w00000", 2, 1.0),
        reading("w00000", 3, 1.0),
    ];
    for expected in &expected {
        let stored: Vec<&Reading> = readings
            .iter()
            .filter(|reading| {
                reading.data_time == expected.data_time && reading.factor == expected.factor
            })
            .collect();
        assert_eq!(stored, [expected], "{expected:?}");
    }
    let revisions = store
        .reading_revisions(&RevisionQuery {
            mn: mn(),
            factor: None,
            kind: None,
            from: None,
            to: None,
            limit: 100,
            cursor: None,
        })
        .await
        .expect("revisions");
    let revised: Vec<Reading> = revisions
        .items
        .into_iter()
        .map(|revision| revision.reading)
        .collect();
    assert_eq!(revised, again[..2].to_vec());
    let summary = store
        .summary(&SummaryQuery {
            areas: None,
            points: None,
            readings_since: minute(-60),
            online_since: minute(0),
        })
        .await
        .expect("summary");
    assert_eq!(summary.readings, 14);
}

#[tokio::test]
async fn reopening_moves_recent_uploads() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = split_store(&dir).await;
    let before = all_pages(&store, SortOrder::Ascending).await;
    let path = store.path().to_owned();
    drop(store);

    // The writer moves what is left when it stops; wait for it to finish.
    let conn = rusqlite::Connection::open(&path).expect("open with rusqlite");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("set busy timeout");
    let mut recent = 1;
    for _ in 0..100 {
        recent = conn
            .query_row("SELECT count(*) FROM recent_uploads", [], |row| {
                row.get::<_, i64>(0)
            })
            .expect("count recent uploads");
        if recent == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(recent, 0, "recent uploads left after the writer stopped");

    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
    let after = all_pages(&store, SortOrder::Ascending).await;
    assert_eq!(after, before);
}

/// Queries during constant writes and moves return every acknowledged
/// reading and no error, because a query reads `factors`, `uploads` and
/// `recent_uploads` from one snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_during_moves_miss_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    let dir = tempfile::tempdir().expect("create temporary directory");
    drop(store_with_point(&dir).await);
    let options = SqliteOptions {
        move_interval: Duration::ZERO,
        ..Default::default()
    };
    let store = Arc::new(SqliteStore::open(dir.path(), options).expect("reopen store"));
    let acknowledged = Arc::new(AtomicI64::new(0));

    let writer = tokio::spawn({
        let store = Arc::clone(&store);
        let acknowledged = Arc::clone(&acknowledged);
        async move {
            for data_minute in 0..400 {
                let upload = [reading("w01018", data_minute, 1.0)];
                store.insert_readings(&upload).await.expect("insert");
                acknowledged.store(data_minute + 1, Ordering::SeqCst);
            }
        }
    });
    let mut queries = 0;
    while !writer.is_finished() {
        let before = acknowledged.load(Ordering::SeqCst);
        let page = store
            .readings(&query(SortOrder::Ascending, 10_000))
            .await
            .expect("query");
        let found = i64::try_from(page.items.len()).expect("small page");
        assert!(
            found >= before,
            "query {queries} found {found} of {before} acknowledged readings"
        );
        queries += 1;
    }
    writer.await.expect("writer finishes");
    assert!(queries > 10, "only {queries} queries ran during the writes");
}
