//! Settings of a [`SqliteStore`](crate::SqliteStore).

use std::time::Duration;

use oversight_ledger::Hasher;

/// The durability of each commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `FULL`: a commit survives a power loss or an operating system crash.
    #[default]
    Full,
    /// `NORMAL`: in WAL mode a commit survives a crash of the process, but
    /// the latest commits may be lost on a power loss.
    Normal,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Settings of a [`SqliteStore`](crate::SqliteStore).
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// Number of read connections; queries beyond it wait for a free one.
    pub readers: usize,
    /// Page cache size of each connection, in KiB.
    pub cache_size_kib: u32,
    /// How long a connection waits for a lock held by another process
    /// before the operation fails.
    pub busy_timeout: Duration,
    /// Upper bound on the write requests committed together in one transaction.
    pub max_group_requests: usize,
    /// The writer adds no further request to a transaction once the
    /// requests in it carry this many records (readings, points, uploads or
    /// alert updates). A single larger request still runs whole.
    pub max_group_records: usize,
    /// Capacity of the queue of write requests; callers wait when it is full.
    pub queue_capacity: usize,
    /// WAL size, in pages, after which the writer checkpoints the WAL into
    /// the database file itself (`PRAGMA wal_autocheckpoint`). It bounds the
    /// WAL when the background checkpointer falls behind.
    pub wal_autocheckpoint_pages: u32,
    /// Size in bytes that the WAL file is truncated to when SQLite restarts
    /// it after a complete checkpoint (`PRAGMA journal_size_limit`). Without
    /// it the file keeps the largest size it ever reached.
    pub wal_size_limit_bytes: u64,
    /// How often a background thread checkpoints the WAL; `None` leaves
    /// all checkpoints to the writer.
    pub checkpoint_interval: Option<Duration>,
    /// How often the writer moves new uploads from the time-ordered table
    /// `recent_uploads` into `uploads`. A longer interval means fewer index
    /// pages written per upload but more rows for queries to scan in
    /// `recent_uploads`, and longer moves, which hold up the commits queued
    /// behind them. The default of 250 ms gave a lower p99 commit latency
    /// than 500 ms and 1 s in the ingest benchmark (docs/benchmarks.md).
    pub move_interval: Duration,
    /// Hash function of the ledger's Merkle tree. `None` uses the hash
    /// function recorded in the database, and SHA-256 for a new ledger. A
    /// hash function given here is recorded on an empty ledger, and opening
    /// a ledger with entries under another one fails.
    pub ledger_hash: Option<Hasher>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            readers: 4,
            cache_size_kib: 64 * 1024,
            busy_timeout: Duration::from_secs(5),
            max_group_requests: 4096,
            max_group_records: 100_000,
            queue_capacity: 8192,
            wal_autocheckpoint_pages: 10_000,
            wal_size_limit_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Some(Duration::from_millis(100)),
            move_interval: Duration::from_millis(250),
            ledger_hash: None,
        }
    }
}
