//! The shared storage test suite, run against a fresh SQLite database per case.

use oversight_store::testsuite::TestStore;
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store(options: SqliteOptions) -> TestStore {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    TestStore::new(store, dir)
}

oversight_store::store_test_suite!(fresh_store(SqliteOptions::default()));

/// The suite again with tiny write groups, one reader and no background
/// checkpoint, so that group limits and waiting for a reader are exercised.
mod small_groups {
    use super::*;

    fn options() -> SqliteOptions {
        SqliteOptions {
            readers: 1,
            max_group_requests: 2,
            max_group_records: 3,
            checkpoint_interval: None,
            ..SqliteOptions::default()
        }
    }

    oversight_store::store_test_suite!(fresh_store(options()));
}
