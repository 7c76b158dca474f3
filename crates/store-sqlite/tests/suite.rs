//! The shared storage test suite, run against a fresh SQLite database per case.

use oversight_store::testsuite::TestStore;
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store(options: SqliteOptions) -> TestStore {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    TestStore::new(store, dir)
}

oversight_store::store_test_suite!(fresh_store(SqliteOptions::default()));

/// The suite again with tiny write groups, one reader, no background
/// checkpoint and a move of recent uploads after every group, so that group
/// limits, waiting for a reader and readings in `uploads` are exercised.
mod small_groups {
    use super::*;

    fn options() -> SqliteOptions {
        SqliteOptions {
            readers: 1,
            max_group_requests: 2,
            max_group_records: 3,
            checkpoint_interval: None,
            move_interval: std::time::Duration::ZERO,
            ..SqliteOptions::default()
        }
    }

    oversight_store::store_test_suite!(fresh_store(options()));
}
