//! Translation of SQLite and encoding errors into [`StoreError`].

use oversight_store::StoreError;

/// Failures of this backend that are not SQLite's own errors.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    /// The database was written by a newer build of Oversight.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}): \
         run a newer Oversight or open another data directory"
    )]
    TooNew {
        /// The version found in the database.
        found: u32,
        /// The latest version this build supports.
        supported: u32,
    },
    /// The ledger was created with another hash function than the configured one.
    #[error(
        "the ledger in this data directory has {size} {noun} hashed with {stored}, but the \
         configuration selects {configured} ([ledger] hash, or OVERSIGHT_LEDGER__HASH). Remove \
         the setting or set it to \"{stored}\" for this data directory, because a ledger's hash \
         function cannot change once it has entries. To hash with {configured}, start with a new \
         data directory",
        noun = if *size == 1 { "entry" } else { "entries" }
    )]
    LedgerHashMismatch {
        /// The hash function the ledger uses.
        stored: String,
        /// The hash function the configuration selects.
        configured: &'static str,
        /// Entries in the ledger.
        size: u64,
    },
    /// A SQLite error inside a larger operation.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value that this build cannot decode.
    #[error("stored {what} {value:?} is invalid: {reason}")]
    Corrupt {
        /// The column or kind of value.
        what: &'static str,
        /// The stored value.
        value: String,
        /// The reason for the rejection.
        reason: String,
    },
    /// The writer thread stopped before it sent the result.
    #[error("the writer thread stopped before it sent the result: reopen the store")]
    WriterGone,
    /// Opening the database file failed before SQLite could report.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A background task panicked or was cancelled. The message contains
    /// the task's error, so it is not chained as a source as well.
    #[error("background task failed: {0}")]
    Join(tokio::task::JoinError),
}

/// Returns a function that wraps a backend error into [`StoreError::Backend`]
/// naming `operation`.
pub(crate) fn backend<E>(operation: &'static str) -> impl Fn(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| StoreError::Backend {
        operation,
        source: Box::new(error),
    }
}

/// Builds the error for a stored value that fails to decode.
pub(crate) fn corrupt(
    what: &'static str,
    value: &dyn std::fmt::Display,
    reason: &dyn std::fmt::Display,
) -> SqliteError {
    SqliteError::Corrupt {
        what,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}
