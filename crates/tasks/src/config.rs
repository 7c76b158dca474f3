//! The task configuration file and its defaults.
//!
//! One TOML file contains `[calendar]`, `[deadlines]`, `[first_violation]`,
//! `[workflow]`, `[[departments]]` and `[[routing]]`. Sections left out take
//! the defaults of `config/default.toml`, which [`TasksConfig::default`]
//! returns; a `[workflow]` section replaces the default workflow as a whole.
//! Unknown fields are rejected. The holiday calendar and the first-violation
//! list are separate files, read by the caller and passed to
//! [`crate::Engine::new`], because the crate does no I/O.

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::calendar::CalendarSettings;
use crate::deadline::DeadlineSettings;
use crate::outcome::FirstViolationSettings;
use crate::routing::{Department, RouteRule};
use crate::workflow::WorkflowConfig;

/// The default configuration, with the 12345-style workflow.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// The whole task configuration, as parsed; [`crate::Engine::new`] validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// Time zone, rest days and office hours.
    #[serde(default)]
    pub calendar: CalendarSettings,
    /// Sign-for and handling deadlines, reminders and escalations.
    #[serde(default)]
    pub deadlines: DeadlineSettings,
    /// No penalty for a first violation.
    #[serde(default)]
    pub first_violation: FirstViolationSettings,
    /// The state machine.
    #[serde(default = "default_workflow")]
    pub workflow: WorkflowConfig,
    /// The departments that handle tasks.
    #[serde(default)]
    pub departments: Vec<Department>,
    /// The routing rules.
    #[serde(default)]
    pub routing: Vec<RouteRule>,
}

impl TasksConfig {
    /// Parses a configuration file; sections left out take their defaults.
    pub fn parse(toml_text: &str) -> Result<Self, ConfigError> {
        toml::from_str(toml_text).map_err(|e| ConfigError::Parse {
            file: "task configuration",
            message: e.to_string(),
        })
    }
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self::parse(DEFAULT_CONFIG).expect("the built-in default configuration parses")
    }
}

/// Returns the default workflow. The default file has a `[workflow]` section,
/// so parsing it never calls this function again.
fn default_workflow() -> WorkflowConfig {
    TasksConfig::default().workflow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_matches_documented_values() {
        let config = TasksConfig::default();
        assert_eq!(config.calendar.utc_offset_hours, 8);
        assert_eq!(config.deadlines.handle_working_days, 5);
        assert_eq!(config.deadlines.max_extension_working_days, 10);
        assert_eq!(config.first_violation.lookback_months, 12);
        assert_eq!(config.workflow.initial, "created");
        assert!(config.departments.is_empty());
    }

    #[test]
    fn empty_file_takes_defaults() {
        let config = TasksConfig::parse("").unwrap();
        assert_eq!(config, TasksConfig::default());
    }

    #[test]
    fn sections_override_defaults() {
        let config = TasksConfig::parse(
            r#"
            [deadlines]
            handle_working_days = 13
            [[departments]]
            id = "xm-eeb"
            name = "厦门市生态环境局"
            "#,
        )
        .unwrap();
        assert_eq!(config.deadlines.handle_working_days, 13);
        assert_eq!(config.deadlines.sign_hours, 4);
        assert_eq!(config.departments.len(), 1);
        assert_eq!(config.workflow, TasksConfig::default().workflow);
    }

    #[test]
    fn unknown_field_is_named() {
        let err = TasksConfig::parse("[deadlines]\nhandle_days = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("task configuration"), "{text}");
        assert!(text.contains("handle_days"), "{text}");
    }

    #[test]
    fn unknown_role_is_named() {
        let text = DEFAULT_CONFIG.replacen("roles = [\"dispatcher\"]", "roles = [\"janitor\"]", 1);
        let err = TasksConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("janitor"), "{err}");
    }
}
