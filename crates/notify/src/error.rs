//! The notifier's error type.

use oversight_store::StoreError;

/// An error of the notifier's configuration or store.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A `[notify]` setting is invalid.
    #[error("invalid notify.{field} {value:?}: {rule}")]
    Config {
        /// The setting.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The rule the value broke.
        rule: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    pub(crate) fn config(field: &'static str, value: impl std::fmt::Display, rule: &str) -> Self {
        Self::Config {
            field,
            value: value.to_string().chars().take(64).collect(),
            rule: rule.to_owned(),
        }
    }
}
