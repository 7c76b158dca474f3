//! The background checkpointer: copies WAL frames into the database file
//! from its own thread, so the writer thread spends its time on commits.
//!
//! It runs `PRAGMA wal_checkpoint(PASSIVE)`, which according to the SQLite
//! documentation of `sqlite3_wal_checkpoint_v2` does not wait for readers
//! or the writer. The writer still checkpoints by itself once the WAL exceeds
//! `wal_autocheckpoint_pages`, which bounds the WAL when this thread falls
//! behind; SQLite restarts the WAL only after a checkpoint copied every frame.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;
use tracing::{debug, info, warn};

/// Checkpoints every `interval` until the sender of `stop` is dropped.
pub(crate) fn run(conn: &Connection, interval: Duration, stop: &Receiver<()>) {
    let mut failures: u64 = 0;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        checkpoint(conn, &mut failures);
    }
    debug!("sqlite checkpointer stopped");
}

/// Runs one checkpoint. A failure loses nothing, because the frames stay in
/// the WAL, so repeated failures are logged once per 100.
fn checkpoint(conn: &Connection, failures: &mut u64) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((wal_frames, checkpointed)) => {
            if *failures > 0 {
                info!(failures = *failures, "sqlite wal checkpoint recovered");
            }
            *failures = 0;
            debug!(wal_frames, checkpointed, "sqlite wal checkpointed");
        }
        Err(error) => {
            if failures.is_multiple_of(100) {
                warn!(%error, failures = *failures + 1, "sqlite wal checkpoint failed");
            }
            *failures += 1;
        }
    }
}
