//! The shared storage test suite, run against a fresh SQLite database per case.

use oversight_store::testsuite::TestStore;
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    TestStore::new(store, dir)
}

oversight_store::store_test_suite!(fresh_store());
