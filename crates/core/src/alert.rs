//! Alerts (预警): one rule's condition for one point, and their lifecycle.

use std::collections::BTreeMap;
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
    /// The condition is met but not yet for the rule's `for` duration.
    Pending,
    /// The condition was met long enough; nobody has acknowledged it yet.
    Firing,
    /// A person acknowledged the firing alert.
    Acknowledged,
    /// The clear condition was met, a person resolved it, or the condition
    /// stopped while the alert was pending.
    Resolved,
}

impl AlertStatus {
    /// The statuses of an open alert, of which each fingerprint has at most one.
    pub const OPEN: [Self; 3] = [Self::Pending, Self::Firing, Self::Acknowledged];

    /// Returns the status's name as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a status's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "pending" => Ok(Self::Pending),
            "firing" => Ok(Self::Firing),
            "acknowledged" => Ok(Self::Acknowledged),
            "resolved" => Ok(Self::Resolved),
            _ => Err(ValidationError::new(
                "alert status",
                input,
                "expected pending, firing, acknowledged or resolved",
            )),
        }
    }

    /// Returns true unless the alert is resolved.
    pub fn is_open(self) -> bool {
        self != Self::Resolved
    }
}

/// The window aggregate that made an alert trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowExplanation {
    /// The aggregate, such as `avg`.
    pub aggregate: String,
    /// The window's length, such as `1h`.
    pub size: String,
    /// Data time of the oldest reading in the window.
    pub from: Timestamp,
    /// Data time of the newest reading in the window.
    pub to: Timestamp,
    /// How many readings the window held.
    pub count: u64,
}

/// Why an alert triggered: the rule's conditions and the values they saw.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Explanation {
    /// The condition as written in the rule.
    pub condition: String,
    /// The clear condition, when the rule has one.
    pub clear: Option<String>,
    /// The numeric variables the condition saw, such as `value` and `upper`.
    pub values: BTreeMap<String, f64>,
    /// The data flag of the reading, when it had one.
    pub flag: Option<String>,
    /// The window, for rules with a window aggregate.
    pub window: Option<WindowExplanation>,
    /// Data time of the reading that was evaluated.
    pub reading_at: Option<Timestamp>,
}

/// An alert: one rule's condition for one point, and one factor where the
/// rule is per factor.
///
/// At most one alert per fingerprint is open at a time; the store enforces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The store's identifier.
    pub id: AlertId,
    /// `rule:mn` or `rule:mn:factor`, identifying the condition the alert tracks.
    pub fingerprint: String,
    /// The rule's id.
    pub rule_id: String,
    /// The version of the rule's pack when the alert last triggered.
    pub rule_version: String,
    /// The rule's category, such as `exceedance` or `data_missing`.
    pub category: String,
    /// The point the alert is about.
    pub mn: Mn,
    /// The factor, for rules evaluated per factor.
    pub factor: Option<FactorCode>,
    /// How urgent it is.
    pub severity: Severity,
    /// Where it is in its lifecycle.
    pub status: AlertStatus,
    /// The point's area, copied so that alerts filter by area without a join.
    pub area: AreaCode,
    /// The department the rule routes to.
    pub department: Option<String>,
    /// Event time at which the condition was first met.
    pub first_at: Timestamp,
    /// Event time at which the condition was last met.
    pub last_at: Timestamp,
    /// Event time at which the alert fired.
    pub fired_at: Option<Timestamp>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was resolved: event time for the engine, the clock's time for a person.
    pub resolved_at: Option<Timestamp>,
    /// Why it was resolved.
    pub resolution: Option<String>,
    /// The value that first met the condition.
    pub trigger_value: Option<f64>,
    /// The latest value that met the condition.
    pub last_value: Option<f64>,
    /// The worst value while the alert was open.
    pub peak_value: Option<f64>,
    /// The limit that was crossed, when the condition names one.
    pub limit: Option<f64>,
    /// How many evaluations met the condition while the alert was open.
    pub count: u64,
    /// True while the alert changes state too often; notifications are held back.
    pub flapping: bool,
    /// When the alert became a supervision task.
    pub escalated_at: Option<Timestamp>,
    /// Why the alert fired.
    pub explanation: Option<Explanation>,
}

impl Alert {
    /// Builds the fingerprint of rule `rule_id` for `mn` and `factor`.
    pub fn fingerprint_of(rule_id: &str, mn: &Mn, factor: Option<&FactorCode>) -> String {
        match factor {
            Some(factor) => format!("{rule_id}:{mn}:{factor}"),
            None => format!("{rule_id}:{mn}"),
        }
    }
}
