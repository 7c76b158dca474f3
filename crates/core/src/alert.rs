//! Alerts (预警): a condition that holds for one point, factor and kind.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AreaCode, FactorCode, Mn, ValidationError};

/// An alert's identifier, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(pub i64);

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A reading above the factor's upper limit (超标).
    AboveUpper,
    /// A reading below the factor's lower limit.
    BelowLower,
    /// No upload from the point for longer than the configured number of intervals (数据缺失).
    DataMissing,
}

impl AlertKind {
    /// Returns the kind's name as used in the API and in fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AboveUpper => "above_upper",
            Self::BelowLower => "below_lower",
            Self::DataMissing => "data_missing",
        }
    }

    /// Parses a kind's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "above_upper" => Ok(Self::AboveUpper),
            "below_lower" => Ok(Self::BelowLower),
            "data_missing" => Ok(Self::DataMissing),
            _ => Err(ValidationError::new(
                "alert kind",
                input,
                "expected above_upper, below_lower or data_missing",
            )),
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Needs attention today.
    Warning,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// Returns the severity's name as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// Parses a severity's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "info" => Ok(Self::Info),
            "warning" => Ok(Self::Warning),
            "critical" => Ok(Self::Critical),
            _ => Err(ValidationError::new(
                "severity",
                input,
                "expected info, warning or critical",
            )),
        }
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The condition holds.
    Open,
    /// The condition no longer holds.
    Resolved,
}

impl AlertStatus {
    /// Returns the status's name as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a status's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            _ => Err(ValidationError::new(
                "alert status",
                input,
                "expected open or resolved",
            )),
        }
    }
}

/// An alert with the values that triggered it.
///
/// At most one alert per fingerprint is open at a time; the store enforces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The store's identifier.
    pub id: AlertId,
    /// `kind:mn:factor`, identifying the condition the alert tracks.
    pub fingerprint: String,
    /// The point the alert is about.
    pub mn: Mn,
    /// The factor, for limit alerts.
    pub factor: Option<FactorCode>,
    /// What the alert is about.
    pub kind: AlertKind,
    /// How urgent it is.
    pub severity: Severity,
    /// Open or resolved.
    pub status: AlertStatus,
    /// The point's area, copied so that alerts filter by area without a join.
    pub area: AreaCode,
    /// Event time of the first reading that met the condition.
    pub first_at: Timestamp,
    /// Event time of the latest reading that met the condition.
    pub last_at: Timestamp,
    /// Event time at which the condition stopped holding.
    pub resolved_at: Option<Timestamp>,
    /// The value that opened the alert.
    pub trigger_value: Option<f64>,
    /// The latest value that met the condition.
    pub last_value: Option<f64>,
    /// The value furthest beyond the limit while the alert was open.
    pub peak_value: Option<f64>,
    /// The limit that was crossed.
    pub limit: Option<f64>,
    /// How many readings met the condition while the alert was open.
    pub count: u64,
}

impl Alert {
    /// Builds the fingerprint of the condition `kind` for `mn` and `factor`.
    pub fn fingerprint_of(kind: AlertKind, mn: &Mn, factor: Option<&FactorCode>) -> String {
        match factor {
            Some(factor) => format!("{}:{mn}:{factor}", kind.as_str()),
            None => format!("{}:{mn}", kind.as_str()),
        }
    }
}
