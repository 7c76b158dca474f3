//! Errors of the rules crate.

use oversight_store::StoreError;

use crate::{DuplicateRule, PackError};

/// An error that stops the rules from being set up or run, or rejects a command.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A setting is out of range.
    #[error("invalid rules setting {field} = {value}: {rule}")]
    InvalidConfig {
        /// The setting's name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The rule the value broke, phrased as the fix.
        rule: &'static str,
    },
    /// One or more rule packs are invalid.
    #[error("invalid rule packs:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Packs(Vec<PackError>),
    /// Two packs define one rule id.
    #[error(transparent)]
    Duplicate(#[from] DuplicateRule),
    /// No active rule has this id.
    #[error("rule {0:?} not found; list the rules with GET /api/v1/rules")]
    UnknownRule(String),
    /// The store failed or rejected the request.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rules service has stopped, so no more readings can be submitted.
    #[error("rules service has stopped")]
    Stopped,
}
