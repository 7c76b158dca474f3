//! Errors of the simulator.

use oversight_core::ValidationError;

/// An error that stops a simulation from starting.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// A setting is out of range.
    #[error("invalid simulate setting {field} = {value}: {rule}")]
    InvalidConfig {
        /// The setting's name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The rule the value broke, phrased as the fix.
        rule: &'static str,
    },
    /// The target address could not be resolved.
    #[error("invalid target {target:?}: {source}; expected host:port such as 127.0.0.1:9212")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// A device identity or the area is not valid for registration.
    #[error("invalid simulated point: {0}")]
    InvalidPoint(#[from] ValidationError),
    /// Writing the points file failed.
    #[error("failed to write points CSV: {0}")]
    WritePoints(#[from] csv::Error),
}
