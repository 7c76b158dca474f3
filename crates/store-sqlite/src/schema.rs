//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Migration N (counting from 1) is `MIGRATIONS[N - 1]`; `user_version` is
//! the number of migrations applied. Each migration runs in its own
//! transaction together with the `user_version` update, so a crash leaves the
//! database at a whole version and opening again resumes where it stopped.

use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

use crate::error::{SqliteError, backend};
use oversight_store::StoreResult;

/// The migrations, oldest first. Never edit a released one: append a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_recent_uploads.sql"),
    include_str!("../migrations/0003_rule_engine.sql"),
    include_str!("../migrations/0004_ledger.sql"),
    include_str!("../migrations/0005_accounts.sql"),
    include_str!("../migrations/0006_quarantine_reason.sql"),
    include_str!("../migrations/0007_notifications.sql"),
    include_str!("../migrations/0008_supervision_tasks.sql"),
    include_str!("../migrations/0009_reading_revisions.sql"),
    include_str!("../migrations/0010_point_password_rotation.sql"),
    include_str!("../migrations/0011_revision_peer.sql"),
    include_str!("../migrations/0012_task_reporters.sql"),
    include_str!("../migrations/0013_task_state_index.sql"),
    include_str!("../migrations/0014_point_contact.sql"),
    include_str!("../migrations/0015_ledger_tiles.sql"),
    include_str!("../migrations/0016_compressed_ledger_bundles.sql"),
];

/// The schema version whose migration converts the ledger to tiles after its SQL.
const LEDGER_TILES_VERSION: u32 = 15;

/// Returns the schema version this build writes.
pub(crate) fn latest_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).expect("fewer than 2^32 migrations")
}

/// Brings the database to the latest schema version, or rejects a database
/// written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    const OPERATION: &str = "migrate schema";
    let current: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend(OPERATION))?;
    let latest = latest_version();
    if current > latest {
        return Err(backend(OPERATION)(SqliteError::TooNew {
            found: current,
            supported: latest,
        }));
    }
    for version in current + 1..=latest {
        let sql = MIGRATIONS[usize::try_from(version - 1).expect("u32 fits usize")];
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend(OPERATION))?;
        tx.execute_batch(sql).map_err(backend(OPERATION))?;
        if version == LEDGER_TILES_VERSION {
            crate::ledger_migration::convert_to_tiles(&tx).map_err(backend(OPERATION))?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(backend(OPERATION))?;
        tx.commit().map_err(backend(OPERATION))?;
        info!(version, "applied schema migration");
    }
    Ok(())
}
