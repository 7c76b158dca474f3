//! Errors of task operations and of loading the configuration.

use crate::model::{ClockKind, Role};

/// The reason a task operation was rejected. The task is unchanged when any of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// An input value broke a validation rule.
    #[error("invalid {what} {value:?}: {rule}")]
    Invalid {
        /// The kind of value, such as "task id" or "media type".
        what: &'static str,
        /// The rejected input, truncated to 64 characters.
        value: String,
        /// The rule it broke, phrased as the fix.
        rule: &'static str,
    },
    /// The configuration has no action of this name.
    #[error("unknown action {action:?}; the configured actions are {known}")]
    UnknownAction {
        /// The requested action.
        action: String,
        /// The configured action names, comma-separated.
        known: String,
    },
    /// The action exists but cannot start from the task's state.
    #[error(
        "action {action:?} is not allowed in state {state:?}; from {state:?} the allowed actions are {allowed}"
    )]
    IllegalTransition {
        /// The task's current state.
        state: String,
        /// The requested action.
        action: String,
        /// The actions the configuration allows from this state, comma-separated, or "none".
        allowed: String,
    },
    /// The actor's role may not perform the action.
    #[error("role {role} may not perform {action:?}; it is allowed to {allowed}")]
    RoleNotPermitted {
        /// The action.
        action: String,
        /// The actor's role.
        role: Role,
        /// The roles allowed, comma-separated.
        allowed: String,
    },
    /// Department staff acted on a task of another department.
    #[error(
        "{person} of department {actor_department} may not act on task {task}, which belongs to {task_department}"
    )]
    WrongDepartment {
        /// The acting person.
        person: String,
        /// The actor's department, or "none".
        actor_department: String,
        /// The task.
        task: String,
        /// The task's lead department, or "none" before routing.
        task_department: String,
    },
    /// The action requires a reason and none was given.
    #[error("action {action:?} requires a reason; send one with the request")]
    ReasonRequired {
        /// The action.
        action: String,
    },
    /// The action needs an input that the command lacks.
    #[error("action {action:?} requires {input}")]
    MissingInput {
        /// The action.
        action: String,
        /// The missing input, such as "an outcome".
        input: &'static str,
    },
    /// The command carries an input that the action does not use.
    #[error("action {action:?} does not take {input}; remove it from the request")]
    UnexpectedInput {
        /// The action.
        action: String,
        /// The unused input.
        input: &'static str,
    },
    /// A lead task cannot be replied while co-operating child tasks are open.
    #[error(
        "task {task} cannot be replied before its co-operating tasks are done: {pending} (done means one of the states {done_states})"
    )]
    ChildrenNotDone {
        /// The lead task.
        task: String,
        /// The child tasks not yet done, as `id (state)`, comma-separated.
        pending: String,
        /// The states that count as done, comma-separated.
        done_states: String,
    },
    /// The command's list of child tasks does not match the task's children.
    #[error("task {task} has child tasks {expected}, but the request supplied {supplied}")]
    ChildrenMismatch {
        /// The lead task.
        task: String,
        /// The task's child ids, comma-separated.
        expected: String,
        /// The supplied ids, comma-separated.
        supplied: String,
    },
    /// The extension would take the task past the configured maximum.
    #[error(
        "extension of {requested} working days exceeds the limit: {granted} already granted, at most {max} in total"
    )]
    ExtensionLimit {
        /// Working days requested.
        requested: u32,
        /// Working days already granted.
        granted: u32,
        /// The configured maximum.
        max: u32,
    },
    /// An approval granted more days than were requested.
    #[error("the approval grants {granted} working days but only {requested} were requested")]
    ExtensionAboveRequest {
        /// Working days in the approval.
        granted: u32,
        /// Working days in the pending request.
        requested: u32,
    },
    /// An effect needs a clock's deadline that was never set.
    #[error("task {task} has no {} deadline yet", clock.as_str())]
    NoDeadline {
        /// The task.
        task: String,
        /// The missing clock.
        clock: ClockKind,
    },
    /// Routing found no rule for the area and category.
    #[error(
        "no routing rule matches area {area} and category {category}; add a [[routing]] rule whose area is a prefix of {area}"
    )]
    NoRoute {
        /// The task's area code.
        area: String,
        /// The task's category.
        category: String,
    },
    /// The department is not configured.
    #[error("unknown department {department:?}; add it under [[departments]]")]
    UnknownDepartment {
        /// The department id.
        department: String,
    },
    /// Deadline arithmetic reached a year that the holiday calendar does not cover.
    #[error(
        "the holiday calendar has no entry for {year}; add the State Council's announcement for {year} to the calendar file, or set outside_known_years = \"weekends_only\""
    )]
    YearNotCovered {
        /// The year.
        year: i16,
    },
    /// Deadline arithmetic left the range of representable dates.
    #[error("deadline arithmetic overflowed: {detail}")]
    DateOverflow {
        /// What overflowed.
        detail: String,
    },
    /// The first-violation outcome was rejected.
    #[error("no penalty for a first violation is not available: {reason}")]
    NotFirstViolation {
        /// The reason the subject or item is not eligible.
        reason: String,
    },
    /// The store's violation history could not be read.
    #[error("reading the violation history failed: {0}")]
    History(String),
}

impl TaskError {
    pub(crate) fn invalid(what: &'static str, value: &str, rule: &'static str) -> Self {
        Self::Invalid {
            what,
            value: value.chars().take(64).collect(),
            rule,
        }
    }
}

/// The reason a configuration, holiday calendar or item list was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not match the schema.
    #[error("invalid {file}: {message}")]
    Parse {
        /// The kind of file, such as "task configuration".
        file: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value broke a rule.
    #[error("invalid {field} {value:?}: {rule}")]
    Invalid {
        /// The field's path, such as `workflow.actions[3].to`.
        field: String,
        /// The rejected value.
        value: String,
        /// The rule it broke, phrased as the fix.
        rule: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        rule: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            field: field.into(),
            value: value.into(),
            rule: rule.into(),
        }
    }
}
