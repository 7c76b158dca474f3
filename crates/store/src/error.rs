use std::error::Error;
use std::fmt;

use oversight_core::ValidationError;

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store operation failed.
///
/// Each cause appears once in an error chain (`{:#}` of `anyhow`, or a walk
/// over [`Error::source`]). [`StoreError::Backend`] prints its cause in its
/// own message, because logs often show only that message, so its `source`
/// is the cause's own source.
#[derive(Debug)]
pub enum StoreError {
    /// A referenced record does not exist, such as a reading's MN or a point's area.
    NotFound {
        /// The kind of record, such as "monitoring point" or "area".
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// The request does not fit the record's current state, such as
    /// acknowledging a resolved alert.
    Conflict(String),
    /// The input or a stored value broke a domain rule.
    Invalid(ValidationError),
    /// A request argument is out of range for the stored data, such as a
    /// proof for a tree size larger than the ledger.
    InvalidArgument(String),
    /// A paging cursor that this store did not issue, or that belongs to another query.
    InvalidCursor(String),
    /// The backend failed. The message names the operation and the cause.
    Backend {
        /// What the store was doing, such as "insert readings".
        operation: &'static str,
        /// The backend's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The store was shut down.
    Closed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { what, key } => write!(f, "{what} {key:?} not found"),
            Self::Conflict(message) | Self::InvalidArgument(message) => f.write_str(message),
            Self::Invalid(error) => error.fmt(f),
            Self::InvalidCursor(cursor) => write!(
                f,
                "invalid cursor {cursor:?}: pass the next_cursor of the previous page unchanged"
            ),
            Self::Backend { operation, source } => write!(f, "{operation} failed: {source}"),
            Self::Closed => f.write_str("store is closed"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            // The validation error is the whole message, as with
            // `#[error(transparent)]`, so the chain continues below it.
            Self::Invalid(error) => error.source(),
            // The message contains the cause already.
            Self::Backend { source, .. } => source.source(),
            _ => None,
        }
    }
}

impl From<ValidationError> for StoreError {
    fn from(error: ValidationError) -> Self {
        Self::Invalid(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cause with a cause of its own, as a database error wrapping an I/O error.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("disk I/O error")
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    /// Formats `error` and its sources as `anyhow`'s `{:#}` does.
    fn chain(error: &dyn Error) -> String {
        let mut text = error.to_string();
        let mut next = error.source();
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }

    #[test]
    fn backend_chain_names_each_cause_once() {
        let error = StoreError::Backend {
            operation: "insert readings",
            source: Box::new(Wrapped(std::io::Error::other("no space left on device"))),
        };
        assert_eq!(error.to_string(), "insert readings failed: disk I/O error");
        assert_eq!(
            chain(&error),
            "insert readings failed: disk I/O error: no space left on device"
        );
    }

    #[test]
    fn backend_chain_with_plain_cause() {
        let error = StoreError::Backend {
            operation: "open ledger",
            source: "the ledger uses sm3".into(),
        };
        assert_eq!(chain(&error), "open ledger failed: the ledger uses sm3");
    }

    #[test]
    fn other_variants_keep_their_messages() {
        let not_found = StoreError::NotFound {
            what: "area",
            key: "35".to_owned(),
        };
        assert_eq!(chain(&not_found), "area \"35\" not found");
        let cursor = StoreError::InvalidCursor("zz".to_owned());
        assert_eq!(
            chain(&cursor),
            "invalid cursor \"zz\": pass the next_cursor of the previous page unchanged"
        );
        assert_eq!(chain(&StoreError::Closed), "store is closed");
        assert_eq!(
            chain(&StoreError::Conflict("alert 7 is resolved".to_owned())),
            "alert 7 is resolved"
        );
    }
}
