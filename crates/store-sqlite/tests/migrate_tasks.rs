//! Tasks of the first task table become workflow tasks when the schema moves on.

use oversight_store::{Store, TaskQuery};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use oversight_tasks::{Origin, TaskId};
use rusqlite::Connection;

/// Builds a database at schema version 7 with one escalated alert and its task.
fn version_7_database(path: &std::path::Path) {
    let conn = Connection::open(path).expect("create database");
    for sql in [
        include_str!("../migrations/0001_initial.sql"),
        include_str!("../migrations/0002_recent_uploads.sql"),
        include_str!("../migrations/0003_rule_engine.sql"),
        include_str!("../migrations/0004_ledger.sql"),
        include_str!("../migrations/0005_accounts.sql"),
        include_str!("../migrations/0006_quarantine_reason.sql"),
        include_str!("../migrations/0007_notifications.sql"),
    ] {
        conn.execute_batch(sql).expect("apply old migration");
    }
    conn.execute_batch(
        "INSERT INTO areas (code, name, parent) VALUES ('35', '福建省', NULL);
         INSERT INTO alerts (id, fingerprint, mn, factor, kind, severity, status, area, first_at,
                             last_at, count, rule_id, category, escalated_at)
             VALUES (7, 'env.limit.upper:MN001:w01018', 'MN001', 'w01018', 'above_upper',
                     'critical', 'firing', '35', 1714521600000000, 1714521600000000, 1,
                     'env.limit.upper', 'exceedance', 1714521660000000);
         INSERT INTO tasks (id, origin, department, title, deadline, state, created_at)
             VALUES (3, 'alert:7', 'ecology-environment', 'COD above limit', 1714780860000000,
                     'created', 1714521660000000);
         PRAGMA user_version = 7;",
    )
    .expect("insert version 7 rows");
}

#[tokio::test]
async fn legacy_task_becomes_workflow_task() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("oversight.db");
    version_7_database(&path);
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open and migrate");

    let id = TaskId::parse("T3").expect("valid id");
    let task = store
        .task(&id)
        .await
        .expect("get task")
        .expect("task migrated");
    assert_eq!(
        task.origin,
        Origin::Alert {
            alert_id: oversight_core::AlertId(7)
        }
    );
    assert_eq!(task.state, "created");
    assert_eq!(task.version, 1);
    assert_eq!(task.title, "COD above limit");
    assert!(
        task.description.contains("2024-05-04T00:01:00Z"),
        "{}",
        task.description.as_str()
    );
    assert_eq!(
        task.lead_department.as_ref().map(|d| d.as_str()),
        Some("ecology-environment")
    );
    assert_eq!(task.subject.as_ref().map(|s| s.as_str()), Some("MN001"));
    assert_eq!(task.area.as_str(), "35");
    assert_eq!(task.created_at.to_string(), "2024-05-01T00:01:00Z");

    let history = store.task_history(&id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].record.action, "create");

    let inbox = store.tasks(&TaskQuery::default()).await.expect("list");
    assert_eq!(inbox.items, vec![task]);
    let next = store.next_task_id().await.expect("allocate id");
    assert_eq!(
        next.as_str(),
        "T4",
        "new ids continue after the migrated ones"
    );
}
