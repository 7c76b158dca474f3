use oversight_core::ValidationError;

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A referenced record does not exist, such as a reading's MN or a point's area.
    #[error("{what} {key:?} not found")]
    NotFound {
        /// The kind of record, such as "monitoring point" or "area".
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// The request does not fit the record's current state, such as
    /// acknowledging a resolved alert.
    #[error("{0}")]
    Conflict(String),
    /// The input or a stored value broke a domain rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A request argument is out of range for the stored data, such as a
    /// proof for a tree size larger than the ledger.
    #[error("{0}")]
    InvalidArgument(String),
    /// A paging cursor that this store did not issue, or that belongs to another query.
    #[error("invalid cursor {0:?}: pass the next_cursor of the previous page unchanged")]
    InvalidCursor(String),
    /// The backend failed; the message names the operation.
    #[error("{operation} failed: {source}")]
    Backend {
        /// What the store was doing, such as "insert readings".
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store was shut down.
    #[error("store is closed")]
    Closed,
}
