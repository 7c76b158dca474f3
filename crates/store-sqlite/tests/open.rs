//! Opening databases: paths, reopening, schema versions and the ledger's
//! hash function.

use oversight_core::{Area, AreaCode};
use oversight_ledger::Hasher;
use oversight_store::{NewLedgerEntry, Store};
use oversight_store_sqlite::{DATABASE_FILE_NAME, SqliteOptions, SqliteStore};

fn province() -> Area {
    Area::new(AreaCode::parse("35").expect("valid code"), "福建省").expect("valid area")
}

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open with rusqlite");
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("read user_version")
}

#[tokio::test]
async fn directory_gets_default_file() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    assert_eq!(store.path(), dir.path().join(DATABASE_FILE_NAME));
    assert!(store.path().exists());
}

#[tokio::test]
async fn file_path_creates_parents() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let path = dir.path().join("nested/data/store.sqlite3");
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    assert_eq!(store.path(), path);
    assert!(path.exists());
}

#[tokio::test]
async fn reopen_keeps_data_and_version() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    store.upsert_areas(&[province()]).await.expect("store area");
    let path = store.path().to_owned();
    drop(store);
    let first_version = user_version(&path);
    assert!(first_version >= 1, "user_version {first_version}");

    for _ in 0..2 {
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
        let area = store.area(&province().code).await.expect("get area");
        assert_eq!(area, Some(province()));
        drop(store);
        assert_eq!(user_version(&path), first_version);
    }
}

#[tokio::test]
async fn newer_schema_rejected() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let path = store.path().to_owned();
    drop(store);
    let newer = user_version(&path) + 1;
    rusqlite::Connection::open(&path)
        .and_then(|conn| conn.pragma_update(None, "user_version", newer))
        .expect("set a newer user_version");

    let error = SqliteStore::open(dir.path(), SqliteOptions::default()).expect_err("newer schema");
    let message = error.to_string();
    assert!(
        message.contains(&format!("version {newer} is newer")),
        "{message}"
    );
    assert!(message.contains("run a newer Oversight"), "{message}");
    assert_eq!(
        user_version(&path),
        newer,
        "the rejected database is left unchanged"
    );
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
fn sibling(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[cfg(unix)]
#[tokio::test]
async fn new_database_files_are_private() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    store.upsert_areas(&[province()]).await.expect("store area");
    let path = store.path().to_owned();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&sibling(&path, "-wal")), 0o600);
    assert_eq!(mode(&sibling(&path, "-shm")), 0o600);
}

#[cfg(unix)]
#[tokio::test]
async fn existing_database_is_restricted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    store.upsert_areas(&[province()]).await.expect("store area");
    let path = store.path().to_owned();
    drop(store);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
    assert_eq!(mode(&path), 0o600);
    let area = store.area(&province().code).await.expect("get area");
    assert_eq!(area, Some(province()), "data kept");
}

fn hash_options(hash: Option<Hasher>) -> SqliteOptions {
    SqliteOptions {
        ledger_hash: hash,
        ..SqliteOptions::default()
    }
}

fn entry() -> NewLedgerEntry {
    NewLedgerEntry::new("rule.enabled", "rule:pm25", "engine", serde_json::json!({}))
}

/// Formats an error and its sources as `anyhow`'s `{:#}` does.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[tokio::test]
async fn unset_hash_adopts_stored_one() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), hash_options(Some(Hasher::Sm3))).expect("open");
    store.append_ledger(vec![entry()]).await.expect("append");
    drop(store);

    let store = SqliteStore::open(dir.path(), hash_options(None)).expect("reopen unset");
    store.append_ledger(vec![entry()]).await.expect("append");
    let head = store.ledger_head().await.expect("head");
    assert_eq!(head.hasher, Hasher::Sm3);
    assert_eq!(head.size, 2);
    drop(store);

    let store = SqliteStore::open(dir.path(), hash_options(Some(Hasher::Sm3))).expect("same");
    assert_eq!(store.ledger_head().await.expect("head").size, 2);
}

#[tokio::test]
async fn unset_hash_on_new_ledger_is_sha256() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), hash_options(None)).expect("open");
    assert_eq!(
        store.ledger_head().await.expect("head").hasher,
        Hasher::Sha256
    );
}

#[tokio::test]
async fn hash_setting_may_change_while_empty() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    drop(SqliteStore::open(dir.path(), hash_options(None)).expect("open"));
    let store = SqliteStore::open(dir.path(), hash_options(Some(Hasher::Sm3))).expect("reopen");
    assert_eq!(store.ledger_head().await.expect("head").hasher, Hasher::Sm3);
}

#[tokio::test]
async fn contradicting_hash_is_rejected_once() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), hash_options(Some(Hasher::Sm3))).expect("open");
    store.append_ledger(vec![entry()]).await.expect("append");
    drop(store);

    let error = SqliteStore::open(dir.path(), hash_options(Some(Hasher::Sha256)))
        .expect_err("a SHA-256 setting contradicts the SM3 ledger");
    let text = chain(&error);
    assert!(text.starts_with("open ledger failed: "), "{text}");
    assert_eq!(text.matches("hashed with sm3").count(), 1, "{text}");
    assert!(text.contains("selects sha256"), "{text}");
    assert!(
        text.contains(r#"Remove the setting or set it to "sm3""#),
        "{text}"
    );

    // The rejected open changed nothing.
    let store = SqliteStore::open(dir.path(), hash_options(None)).expect("reopen unset");
    let head = store.ledger_head().await.expect("head");
    assert_eq!(head.hasher, Hasher::Sm3);
    assert_eq!(head.size, 1);
}
