//! Settings of the early-warning rules, with their defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RulesError;

/// Settings of the limit check and the data-missing check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// A point is missing data when its latest upload arrived longer ago than
    /// this many of its upload intervals. Default 3.
    pub missing_after_intervals: u32,
    /// A limit alert is critical when the value is at least this many times
    /// the upper limit, or at most the lower limit divided by it. Below that
    /// it is a warning. Default 2.0, so twice the upper limit or half the
    /// lower limit is critical. Must be greater than 1.
    pub critical_ratio: f64,
    /// How often the data-missing check runs, in seconds. Default 10.
    pub tick_interval_secs: u64,
    /// How many stored batches of readings may wait for evaluation before
    /// the sources are slowed down. Default 4096.
    pub queue_capacity: usize,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            missing_after_intervals: 3,
            critical_ratio: 2.0,
            tick_interval_secs: 10,
            queue_capacity: 4096,
        }
    }
}

impl RulesConfig {
    /// Checks the settings, naming the first invalid one.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.missing_after_intervals == 0 {
            return Err(RulesError::InvalidConfig {
                field: "missing_after_intervals",
                value: self.missing_after_intervals.to_string(),
                rule: "must be at least 1",
            });
        }
        if !self.critical_ratio.is_finite() || self.critical_ratio <= 1.0 {
            return Err(RulesError::InvalidConfig {
                field: "critical_ratio",
                value: self.critical_ratio.to_string(),
                rule: "must be a finite number greater than 1, such as 2.0",
            });
        }
        if self.tick_interval_secs == 0 {
            return Err(RulesError::InvalidConfig {
                field: "tick_interval_secs",
                value: self.tick_interval_secs.to_string(),
                rule: "must be at least 1 second",
            });
        }
        if self.queue_capacity == 0 {
            return Err(RulesError::InvalidConfig {
                field: "queue_capacity",
                value: self.queue_capacity.to_string(),
                rule: "must be at least 1",
            });
        }
        Ok(())
    }

    /// Returns the data-missing check's period.
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
            critical_ratio: 0.5,
            ..RulesConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("critical_ratio"), "{error}");

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
