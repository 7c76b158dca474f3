//! Latency of the task inbox query for a department with a million tasks.
//!
//! The tasks are written with plain SQL into the store's own schema, because
//! a million writes through the task engine would take far longer than the
//! query under test. Each row carries the JSON of a real task, so the query
//! decodes what it would in production. 70 % of the department's tasks are
//! closed. Of the open ones, a sixth have no running deadline, and the others
//! have deadlines spread over 60 days around the query time, so about a third
//! of those are overdue. Another 100,000
//! tasks belong to other departments.
//!
//! The run then opens the store and times `Store::tasks` for the first page
//! (50 tasks) of the department's open inbox, of its overdue tasks, of one
//! state, of one assignee, of one subject (every task is about the same
//! point), and of the 20th page by cursor, and prints p50, p95 and p99 of
//! each.
//!
//! Run: `cargo bench -p oversight-store-sqlite --bench task_inbox`
//! Environment: `TASKS` (default 1000000), `QUERIES` (default 200),
//! `BENCH_DIR` (default the system's temporary directory).

#![expect(
    clippy::print_stdout,
    reason = "the benchmark prints its results table"
)]

use std::time::Instant;

use hdrhistogram::Histogram;
use jiff::Timestamp;
use oversight_store::{Store, TaskQuery};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use oversight_tasks::{Assignee, DepartmentId, PersonId, SubjectId, Task};
use rusqlite::{Connection, params};

const HOUR_MICROS: i64 = 3_600_000_000;
/// 2026-12-07T02:00:00Z, the time the inbox is read at.
const NOW_MICROS: i64 = 1_796_608_800_000_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Returns a real task, which `fill` varies per row.
fn template() -> Task {
    let json = serde_json::json!({
        "id": "T1",
        "version": 3,
        "origin": {"kind": "alert", "alert_id": 1},
        "subject": "MN350203000001",
        "area": "350203001",
        "category": "water",
        "title": "COD above the limit at outlet MN350203000001",
        "description": "The rule env.limit.upper fired with COD 250 mg/L against a limit of 100 mg/L; check the outlet and the analyser.",
        "lead_department": "dept-0",
        "co_departments": [],
        "parent": null,
        "children": [],
        "assignee": {"kind": "person", "id": "staff-1"},
        "state": "in_progress",
        "created_at": "2026-11-30T02:00:00Z",
        "updated_at": "2026-12-01T02:00:00Z",
        "deadlines": {"sign_by": "2026-11-30T06:00:00Z", "handle_by": "2026-12-08T09:30:00Z", "pending_extension": null, "extensions": []},
        "evidence": [],
        "outcome": null,
        "notices_sent": [],
        "follow_ups": 0
    });
    serde_json::from_value(json).expect("the template is a valid task")
}

/// Writes `count` tasks of dept-0 and 100,000 of other departments with plain SQL.
fn fill(path: &std::path::Path, count: u64) {
    let mut conn = Connection::open(path).expect("open database");
    conn.pragma_update(None, "synchronous", "OFF")
        .expect("set synchronous");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tasks (id, version, state, open, lead_department, assignee, parent, \
                 area, category, subject, due_key, created_at, updated_at, body) \
                 VALUES (?1, 3, ?2, ?3, ?4, ?5, NULL, '350203001', 'water', 'MN350203000001', \
                 ?6, ?7, ?7, ?8)",
            )
            .expect("prepare insert");
        let mut task = template();
        let others = 100_000;
        for n in 0..count + others {
            let id = format!("T{n}");
            let department = if n < count {
                "dept-0".to_owned()
            } else {
                format!("dept-{}", 1 + n % 4)
            };
            // A simple scramble so that states and deadlines do not follow the ids.
            let mix = n.wrapping_mul(2_654_435_761) % 1000;
            let (state, open) = match mix {
                0..700 => ("closed", false),
                700..800 => ("dispatched", true),
                800..950 => ("in_progress", true),
                _ => ("created", true),
            };
            let due_key = if state == "created" || !open {
                i64::MAX
            } else {
                // From 20 days before the query time to 40 days after it.
                let offset = i64::try_from(n.wrapping_mul(7919) % 1440).expect("small") - 480;
                NOW_MICROS + offset * HOUR_MICROS
            };
            let assignee = format!("person:staff-{}", n % 50);
            let created_at = NOW_MICROS - i64::try_from(n % 100_000).expect("small") * 60_000_000;
            task.id = oversight_tasks::TaskId::parse(&id).expect("valid id");
            task.state = state.to_owned();
            task.lead_department = Some(DepartmentId::parse(&department).expect("valid id"));
            let body = serde_json::to_string(&task).expect("serialise task");
            insert
                .execute(params![
                    id, state, open, department, assignee, due_key, created_at, body
                ])
                .expect("insert task");
        }
    }
    tx.commit().expect("commit");
    conn.execute_batch("ANALYZE").expect("analyze");
}

fn main() {
    let count = env_number("TASKS", 1_000_000);
    let queries = env_number("QUERIES", 200);
    let dir = match std::env::var("BENCH_DIR") {
        Ok(dir) => tempfile::tempdir_in(dir),
        Err(_) => tempfile::tempdir(),
    }
    .expect("temporary directory");
    let path = dir.path().join("oversight.db");
    drop(SqliteStore::open(&path, SqliteOptions::default()).expect("create schema"));
    let started = Instant::now();
    fill(&path, count);
    println!(
        "filled {count} tasks of dept-0 and 100000 of other departments in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open store");
        let department = Some(DepartmentId::parse("dept-0").expect("valid id"));
        let now = Timestamp::from_microsecond(NOW_MICROS).expect("valid time");
        let inbox = TaskQuery {
            department: department.clone(),
            limit: 50,
            ..TaskQuery::default()
        };
        let mut page_20 = inbox.clone();
        for _ in 0..19 {
            let page = store.tasks(&page_20).await.expect("page");
            page_20.cursor = page.next_cursor;
        }
        let cases = [
            ("open inbox, first page", inbox.clone()),
            (
                "overdue, first page",
                TaskQuery {
                    due_before: Some(now),
                    ..inbox.clone()
                },
            ),
            (
                "state in_progress, first page",
                TaskQuery {
                    states: vec!["in_progress".to_owned()],
                    ..inbox.clone()
                },
            ),
            (
                "assignee, first page",
                TaskQuery {
                    department: None,
                    assignee: Some(Assignee::Person(
                        PersonId::parse("staff-7").expect("valid id"),
                    )),
                    ..inbox.clone()
                },
            ),
            (
                "one subject (a regulated party's view), first page",
                TaskQuery {
                    department: None,
                    subjects: Some(vec![SubjectId::parse("MN350203000001").expect("valid id")]),
                    ..inbox.clone()
                },
            ),
            ("open inbox, 20th page", page_20),
        ];
        println!("| query | p50 | p95 | p99 | max |");
        println!("|---|---|---|---|---|");
        for (name, query) in cases {
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            for _ in 0..queries {
                let started = Instant::now();
                let page = store.tasks(&query).await.expect("inbox query");
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                histogram.record(micros).expect("record latency");
                assert_eq!(page.items.len(), 50, "{name}");
            }
            let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
            println!(
                "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                ms(0.5),
                ms(0.95),
                ms(0.99),
                histogram.max() as f64 / 1000.0
            );
        }
    });
}
