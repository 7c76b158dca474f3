//! Errors of the rules crate.

use oversight_store::StoreError;

/// An error that stops the rules from being set up or run.
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
    /// Reading the open alerts on start failed.
    #[error("failed to load open alerts: {0}")]
    LoadOpenAlerts(#[source] StoreError),
    /// The rules service has stopped, so no more readings can be submitted.
    #[error("rules service has stopped")]
    Stopped,
}
