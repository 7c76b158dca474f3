//! Settings of the rule engine, with their defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RulesError;

/// Settings of the rule engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// The operator's rule packs: every `*.toml` file below this directory,
    /// loaded after the built-in packs. A rule with the id of a built-in
    /// rule replaces it. Default: none, only the built-in packs.
    pub dir: Option<PathBuf>,
    /// How often the directory is checked for changed packs, in seconds.
    /// Default 5.
    pub reload_interval_secs: u64,
    /// A point counts as online while its latest upload or other contact,
    /// such as an HJ 212 heartbeat, is younger than this many of its upload
    /// intervals. Default 3.
    pub missing_after_intervals: u32,
    /// How often missing data and unacknowledged alerts are checked, in
    /// seconds. Default 10.
    pub tick_interval_secs: u64,
    /// How many stored batches of readings may wait for evaluation before
    /// the sources are slowed down. Default 4096.
    pub queue_capacity: usize,
    /// Flapping starts when the percent state change of the last 21
    /// evaluations exceeds this. Default 50.
    pub flap_high_percent: f64,
    /// Flapping stops when it falls below this. Default 25.
    pub flap_low_percent: f64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            dir: None,
            reload_interval_secs: 5,
            missing_after_intervals: 3,
            tick_interval_secs: 10,
            queue_capacity: 4096,
            flap_high_percent: 50.0,
            flap_low_percent: 25.0,
        }
    }
}

impl RulesConfig {
    /// Checks the settings, naming the first invalid one.
    pub fn validate(&self) -> Result<(), RulesError> {
        let invalid = |field: &'static str, value: String, rule: &'static str| {
            Err(RulesError::InvalidConfig { field, value, rule })
        };
        if self.missing_after_intervals == 0 {
            return invalid(
                "missing_after_intervals",
                "0".to_owned(),
                "must be at least 1",
            );
        }
        if self.tick_interval_secs == 0 {
            return invalid(
                "tick_interval_secs",
                "0".to_owned(),
                "must be at least 1 second",
            );
        }
        if self.reload_interval_secs == 0 {
            return invalid(
                "reload_interval_secs",
                "0".to_owned(),
                "must be at least 1 second",
            );
        }
        if self.queue_capacity == 0 {
            return invalid("queue_capacity", "0".to_owned(), "must be at least 1");
        }
        let percent = |value: f64| value.is_finite() && (0.0..=100.0).contains(&value);
        if !percent(self.flap_high_percent) || !percent(self.flap_low_percent) {
            return invalid(
                "flap_high_percent",
                format!("{} (low {})", self.flap_high_percent, self.flap_low_percent),
                "both flapping thresholds must be percentages from 0 to 100",
            );
        }
        if self.flap_low_percent > self.flap_high_percent {
            return invalid(
                "flap_low_percent",
                self.flap_low_percent.to_string(),
                "must not exceed flap_high_percent",
            );
        }
        Ok(())
    }

    /// Returns the period of the missing-data and escalation checks.
    pub fn tick_interval(&self) -> Duration {
        Duration::from_secs(self.tick_interval_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(RulesConfig::default().validate().is_ok());
    }

    #[test]
    fn validate_names_the_field() {
        let config = RulesConfig {
            flap_low_percent: 80.0,
            ..RulesConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("flap_low_percent"), "{error}");

        let config = RulesConfig {
            missing_after_intervals: 0,
            ..RulesConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(
            error.to_string().contains("missing_after_intervals"),
            "{error}"
        );
    }
}
