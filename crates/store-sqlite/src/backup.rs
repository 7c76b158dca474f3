//! Online backup of a database file with `VACUUM INTO`.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is
//! a consistent snapshot as of its start, while a running server keeps
//! committing to the WAL. SQLite documents that it works on a read-only
//! connection and that the target must not exist or be empty.

use std::path::{Path, PathBuf};

use oversight_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::error::{SqliteError, backend, corrupt};
use crate::store::DATABASE_FILE_NAME;

/// The outcome of a backup: the source, the size of the copy and what its check read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The database file that was copied.
    pub source: PathBuf,
    /// Size of the copy in bytes.
    pub bytes: u64,
    /// Schema version (`PRAGMA user_version`) of the copy.
    pub schema_version: u32,
    /// Ledger entries in the copy.
    pub ledger_entries: u64,
}

/// Copies the database at `path` (a data directory or a database file) to
/// the new file `out`, then opens the copy and checks it with
/// `PRAGMA integrity_check`. The copy is readable and writable by its owner
/// only. Fails without touching `out` if it exists, and removes a partial
/// copy when the backup fails.
pub fn backup_database(path: &Path, out: &Path) -> StoreResult<BackupReport> {
    const OPERATION: &str = "back up database";
    let source = if path.is_dir() {
        path.join(DATABASE_FILE_NAME)
    } else {
        path.to_owned()
    };
    if !source.is_file() {
        return Err(StoreError::NotFound {
            what: "database file",
            key: source.display().to_string(),
        });
    }
    create_private(out).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            StoreError::InvalidArgument(format!(
                "backup file {} exists already; choose a new file with --out or remove it",
                out.display()
            ))
        } else {
            backend(OPERATION)(SqliteError::Io(error))
        }
    })?;
    let result = copy_and_check(&source, out);
    if result.is_err() {
        // A partial copy is useless and would block the next attempt.
        let _ = std::fs::remove_file(out);
    }
    result.map_err(backend(OPERATION))
}

/// Creates the empty file `out` with mode 0600, failing if it exists.
fn create_private(out: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(out).map(drop)
}

fn copy_and_check(source: &Path, out: &Path) -> Result<BackupReport, SqliteError> {
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = out.to_str().ok_or_else(|| {
        corrupt(
            "backup path",
            &out.display(),
            &"is not valid UTF-8; choose another --out",
        )
    })?;
    conn.execute("VACUUM INTO ?1", [target])?;
    drop(conn);

    let copy = Connection::open_with_flags(
        out,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let integrity: String = copy.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    if integrity != "ok" {
        return Err(corrupt(
            "backup integrity check",
            &integrity,
            &"the copy is damaged; run the backup again",
        ));
    }
    let schema_version: u32 = copy.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let ledger_entries: i64 =
        copy.query_row("SELECT size FROM ledger_state WHERE id = 1", [], |row| {
            row.get(0)
        })?;
    let bytes = std::fs::metadata(out)?.len();
    Ok(BackupReport {
        source: source.to_owned(),
        bytes,
        schema_version,
        ledger_entries: u64::try_from(ledger_entries).unwrap_or(0),
    })
}
