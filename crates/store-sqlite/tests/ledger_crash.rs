//! Kills a process appending to the ledger with SIGKILL and checks that the
//! ledger it leaves is whole.
//!
//! The test re-executes this test binary to run `ledger_crash_child`, which
//! appends batches of entries from several tasks and prints `ack <size>`
//! with the ledger size after each append returned `Ok`. The parent kills it
//! mid-stream and reopens the database. Every acknowledged entry must be
//! there, the stored root must be the root of the stored entries, and the
//! ledger must accept further appends that extend it.

mod common;

use std::io::Write;
use std::sync::Arc;

use oversight_ledger::{CompactRange, Hasher};
use oversight_store::{NewLedgerEntry, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::json;

const CHILD_DIR_VAR: &str = "OVERSIGHT_LEDGER_CRASH_CHILD_DIR";
const TASKS: u64 = 4;
/// Appends the parent waits for before it kills the child.
const ACKS_BEFORE_KILL: usize = 40;

/// Builds a batch whose size varies with `step`, so that appends end at
/// every position of a bundle and tile.
fn batch(task: u64, step: u64) -> Vec<NewLedgerEntry> {
    let size = 1 + (step * 37 + task * 11) % 300;
    (0..size)
        .map(|number| {
            NewLedgerEntry::new(
                "alert.acknowledged",
                format!("alert:{task}-{step}-{number}"),
                "user:inspector-li",
                json!({"reason": "on site \"A\"\n", "task": task, "step": step}),
            )
        })
        .collect()
}

/// Appends until killed, as the child process. Does nothing when run without
/// the parent's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by sigkill_leaves_whole_ledger"]
async fn ledger_crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return;
    };
    let store = Arc::new(SqliteStore::open(&dir, SqliteOptions::default()).expect("open store"));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for step in 0.. {
                let indexes = store
                    .append_ledger(batch(task, step))
                    .await
                    .expect("append batch");
                let size = indexes.last().expect("a batch is not empty") + 1;
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "ack {size}").expect("write to parent");
                stdout.flush().expect("flush to parent");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs the child until it acknowledged enough appends, kills it, and
/// returns the largest ledger size it acknowledged.
fn run_and_kill_child(dir: &std::path::Path) -> u64 {
    let mut acked = 0;
    common::run_and_kill(
        "ledger_crash_child",
        &[(CHILD_DIR_VAR, dir.as_os_str())],
        ACKS_BEFORE_KILL,
        |line| {
            let Some(size) = parse_ack(line) else {
                return false;
            };
            acked = acked.max(size);
            true
        },
    );
    acked
}

fn parse_ack(line: &str) -> Option<u64> {
    line.strip_prefix("ack ")?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_whole_ledger() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let mut previous = None;
    for round in 0..2 {
        let acked = tokio::task::spawn_blocking({
            let path = dir.path().to_owned();
            move || run_and_kill_child(&path)
        })
        .await
        .expect("child runner");
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
        let head = store.ledger_head().await.expect("head");
        assert!(
            head.size >= acked,
            "round {round}: acknowledged ledger size {acked}, stored {}",
            head.size
        );

        // Recompute the root from the stored entries, page by page.
        let mut range = CompactRange::new(Hasher::Sha256);
        while range.size() < head.size {
            let page = store
                .ledger_entries(range.size(), 1000)
                .await
                .expect("read entries");
            assert!(
                !page.is_empty(),
                "round {round}: entries end at {}",
                range.size()
            );
            for entry in &page {
                assert_eq!(entry.index, range.size(), "round {round}: entry order");
                let leaf = range.append(&entry.leaf_data());
                assert_eq!(leaf, entry.leaf_hash, "round {round}: leaf {}", entry.index);
            }
        }
        assert_eq!(range.size(), head.size, "round {round}: entry count");
        assert_eq!(range.root(), head.root, "round {round}: root");

        // The ledger after the second crash extends the one after the first.
        if let Some((size, root)) = previous {
            store
                .ledger_consistency_proof(size, head.size)
                .await
                .expect("consistency proof")
                .verify(Hasher::Sha256, &root, &head.root)
                .expect("the ledger after a crash extends the earlier one");
        }
        previous = Some((head.size, head.root));
        drop(store);
    }
}
