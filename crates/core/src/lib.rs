//! Domain types shared by every Oversight crate.
//!
//! This crate has no I/O and few dependencies. Every constructor that takes
//! untrusted input (device data, CSV rows, API bodies) validates it and returns
//! a [`ValidationError`] naming the value and the rule it broke, never a panic.

mod alert;
mod alert_event;
mod area;
mod clock;
pub mod personal;
mod point;
mod reading;
mod secret;

pub use alert::{Alert, AlertId, AlertStatus, Explanation, Severity, WindowExplanation};
pub use alert_event::{Actor, AlertEvent, AlertTransition, Suppression};
pub use area::{Area, AreaCode, AreaLevel};
pub use clock::{Clock, ManualClock, SystemClock};
pub use point::{
    FactorCode, FactorLimit, GeoPoint, Mn, MonitoringPoint, PasswordMatch, PreviousPassword,
    SystemCode,
};
pub use reading::{DataFlag, DataKind, FactorValues, Reading};
pub use secret::Secret;

/// A value that failed validation, with the offending input and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct ValidationError {
    /// The kind of value, such as "area code" or "MN".
    pub what: &'static str,
    /// The rejected input, truncated to 64 characters.
    pub value: String,
    /// The rule the input broke, phrased so that it tells the caller how to fix it.
    pub rule: &'static str,
}

impl ValidationError {
    pub(crate) fn new(what: &'static str, value: &str, rule: &'static str) -> Self {
        let value = value.chars().take(64).collect();
        Self { what, value, rule }
    }
}
