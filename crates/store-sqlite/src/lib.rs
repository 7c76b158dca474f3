//! Embedded SQLite storage backend for Oversight.
//!
//! [`SqliteStore`] keeps everything in one database file in WAL mode. One
//! writer thread owns the only write connection and commits concurrent
//! write requests together in one transaction (group commit). A request's
//! future completes only after that transaction committed, as the
//! durability contract of [`oversight_store::Store`] requires. A background
//! thread copies the WAL into the database file, so checkpoints do not stall
//! the writer. Queries
//! run on a small pool of read connections in tokio's blocking threads.
//!
//! Readings are stored as one row per upload (point, data time, kind) with
//! the factors packed in a blob. New uploads land in `recent_uploads`,
//! indexed by data time first so that commits append to its index, and the
//! writer moves them into `uploads`, indexed by point first for queries,
//! every `move_interval`. Queries merge both tables. New readings are
//! counted per point and hour of receipt, so the dashboard summary does not
//! scan readings.

mod account_store;
mod accounts;
mod alerts;
mod backup;
mod checkpoint;
mod codec;
mod error;
mod ledger;
mod ledger_migration;
mod ledger_tiles;
mod notifications;
mod options;
mod packed;
mod pool;
mod read_ops;
mod reader;
mod revisions;
mod schema;
mod store;
mod tasks;
mod write_ops;
mod writer;

pub use backup::{BackupReport, backup_database};
pub use options::{SqliteOptions, Synchronous};
pub use reader::LedgerReader;
pub use store::{DATABASE_FILE_NAME, SqliteStore};
