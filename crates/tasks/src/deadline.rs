//! Deadlines, reminders (催办) and escalations (督办).
//!
//! Dispatch starts the sign-for clock, in office hours or calendar hours;
//! signing for a task starts the handling clock, in working days. A clock runs
//! while the task's state names it. Before the deadline, a reminder is due at
//! each configured distance before it. From the deadline on, an escalation is
//! due at each configured number of working days after it.
//! A task is overdue from the instant of its deadline.
//!
//! [`due_actions`] is a pure function of the task, the configuration and the
//! current time. Each [`Action`] has a [`key`](Action::key) that the task
//! records once the action is sent, so a scheduler calling it every minute
//! sends each reminder and escalation once. A new deadline (an approved
//! extension, a reopened task) has new keys, so its reminders run again.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{MAX_WORKING_DAYS, MAX_WORKING_HOURS, WorkCalendar};
use crate::model::{Category, ClockKind, DepartmentId, Task, TaskId};
use crate::routing::Directory;
use crate::workflow::Workflow;
use crate::{ConfigError, TaskError};

/// The unit of the sign-for hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursKind {
    /// Office hours of working days only.
    #[default]
    Working,
    /// Every hour of the clock.
    Calendar,
}

/// The `[deadlines]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineSettings {
    /// Hours the lead department has to sign for a dispatched task. Default 4.
    pub sign_hours: u32,
    /// Whether `sign_hours` counts office hours or every hour. Default `working`.
    pub sign_hours_kind: HoursKind,
    /// Working days to handle and reply, counted from the day after signing. Default 5.
    pub handle_working_days: u32,
    /// Per-category handling days, overriding `handle_working_days`.
    pub handle_working_days_by_category: BTreeMap<String, u32>,
    /// Working days a co-operating department's child task has. Default 3.
    pub child_handle_working_days: u32,
    /// Most working days that extensions may add to one task in total. Default 10.
    pub max_extension_working_days: u32,
    /// Sign-for reminders, in hours (of the `sign_hours_kind`) before the deadline. Default `[1]`.
    pub remind_sign_hours_before: Vec<u32>,
    /// Handling reminders, in working days left. Default `[1]`.
    pub remind_working_days_before: Vec<u32>,
    /// Escalations, in working days after the deadline; 0 is the deadline itself. Default `[0, 5]`.
    pub escalate_after_working_days: Vec<u32>,
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        Self {
            sign_hours: 4,
            sign_hours_kind: HoursKind::Working,
            handle_working_days: 5,
            handle_working_days_by_category: BTreeMap::new(),
            child_handle_working_days: 3,
            max_extension_working_days: 10,
            remind_sign_hours_before: vec![1],
            remind_working_days_before: vec![1],
            escalate_after_working_days: vec![0, 5],
        }
    }
}

impl DeadlineSettings {
    /// Checks the settings, naming the first invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "deadlines.sign_hours",
            self.sign_hours,
            1,
            MAX_WORKING_HOURS,
        )?;
        check_range(
            "deadlines.handle_working_days",
            self.handle_working_days,
            1,
            365,
        )?;
        check_range(
            "deadlines.child_handle_working_days",
            self.child_handle_working_days,
            1,
            365,
        )?;
        check_range(
            "deadlines.max_extension_working_days",
            self.max_extension_working_days,
            0,
            365,
        )?;
        for (category, &days) in &self.handle_working_days_by_category {
            let field = format!("deadlines.handle_working_days_by_category.{category}");
            Category::parse(category)
                .map_err(|e| ConfigError::invalid(&field, category, e.to_string()))?;
            check_range(&field, days, 1, 365)?;
        }
        check_steps(
            "deadlines.remind_sign_hours_before",
            &self.remind_sign_hours_before,
            1,
            MAX_WORKING_HOURS,
        )?;
        check_steps(
            "deadlines.remind_working_days_before",
            &self.remind_working_days_before,
            1,
            365,
        )?;
        check_steps(
            "deadlines.escalate_after_working_days",
            &self.escalate_after_working_days,
            0,
            MAX_WORKING_DAYS,
        )
    }

    /// Returns the handling days of `task`: the child setting for a child task,
    /// else its category's, else the default.
    pub fn handle_days(&self, task: &Task) -> u32 {
        if task.is_child() {
            return self.child_handle_working_days;
        }
        self.handle_working_days_by_category
            .get(task.category.as_str())
            .copied()
            .unwrap_or(self.handle_working_days)
    }

    /// Returns the sign-for deadline of a task dispatched at `now`.
    pub fn sign_deadline(
        &self,
        calendar: &WorkCalendar,
        now: Timestamp,
    ) -> Result<Timestamp, TaskError> {
        match self.sign_hours_kind {
            HoursKind::Working => calendar.add_working_hours(now, self.sign_hours),
            HoursKind::Calendar => shift(now, i64::from(self.sign_hours)),
        }
    }
}

fn check_range(field: &str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        value.to_string(),
        format!("must be between {min} and {max}"),
    ))
}

fn check_steps(field: &str, steps: &[u32], min: u32, max: u32) -> Result<(), ConfigError> {
    for &step in steps {
        check_range(field, step, min, max)?;
    }
    let mut sorted = steps.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != steps.len() {
        return Err(ConfigError::invalid(
            field,
            format!("{steps:?}"),
            "each value may appear only once",
        ));
    }
    Ok(())
}

fn shift(t: Timestamp, hours: i64) -> Result<Timestamp, TaskError> {
    t.checked_add(SignedDuration::from_hours(hours))
        .map_err(|e| TaskError::DateOverflow {
            detail: e.to_string(),
        })
}

/// Whether an action reminds before a deadline or escalates after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// 催办: the deadline is near.
    Remind,
    /// 督办: the deadline has passed.
    Escalate,
}

impl NoticeKind {
    /// Returns the kind's name, which is also the action name in transition records.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Remind => "remind",
            NoticeKind::Escalate => "escalate",
        }
    }
}

/// The recipient of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Recipient {
    /// The department handling the task, and its assignee.
    Department(DepartmentId),
    /// The department that supervises the handling department.
    Supervisor(DepartmentId),
    /// The dispatchers, for a department without a supervisor or a task not yet routed.
    Dispatchers,
    /// The lead task of an overdue co-operating child task.
    LeadTask(TaskId),
}

/// A reminder or escalation that is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Reminder or escalation.
    pub kind: NoticeKind,
    /// The clock concerned.
    pub clock: ClockKind,
    /// The deadline concerned.
    pub deadline: Timestamp,
    /// When the action became due.
    pub due_at: Timestamp,
    /// The configured step: hours or working days before, or working days after.
    pub step: u32,
    /// The recipients.
    pub recipients: Vec<Recipient>,
}

impl Action {
    /// Returns the key that identifies this action on this task, such as
    /// `escalate:handle:5:2025-10-10T16:00:00Z`.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.kind.as_str(),
            self.clock.as_str(),
            self.step,
            self.deadline
        )
    }
}

/// Returns the reminders and escalations due for `task` at `now` and not yet sent.
///
/// Of the reminders due, only the one nearest the deadline is returned, because
/// it supersedes the earlier ones. Every escalation due is returned, oldest first.
pub(crate) fn due_actions(
    workflow: &Workflow,
    calendar: &WorkCalendar,
    settings: &DeadlineSettings,
    directory: &Directory,
    task: &Task,
    now: Timestamp,
) -> Result<Vec<Action>, TaskError> {
    let Some(clock) = workflow.clock_in(&task.state) else {
        return Ok(Vec::new());
    };
    let Some(deadline) = task.deadlines.of(clock) else {
        return Ok(Vec::new());
    };
    let mut actions = Vec::new();
    if now < deadline {
        let mut latest: Option<Action> = None;
        for &step in reminder_steps(settings, clock) {
            let due_at = remind_at(settings, calendar, clock, deadline, step)?;
            if due_at <= now && latest.as_ref().is_none_or(|l| due_at > l.due_at) {
                let recipients = department_recipient(task);
                latest = Some(Action {
                    kind: NoticeKind::Remind,
                    clock,
                    deadline,
                    due_at,
                    step,
                    recipients,
                });
            }
        }
        actions.extend(latest);
    } else {
        let mut steps = settings.escalate_after_working_days.clone();
        steps.sort_unstable();
        for step in steps {
            let due_at = if step == 0 {
                deadline
            } else {
                calendar.add_working_days(deadline, step)?
            };
            if due_at <= now {
                actions.push(Action {
                    kind: NoticeKind::Escalate,
                    clock,
                    deadline,
                    due_at,
                    step,
                    recipients: escalation_recipients(directory, task)?,
                });
            }
        }
    }
    actions.retain(|a| !task.notices_sent.contains(&a.key()));
    Ok(actions)
}

fn reminder_steps(settings: &DeadlineSettings, clock: ClockKind) -> &[u32] {
    match clock {
        ClockKind::Sign => &settings.remind_sign_hours_before,
        ClockKind::Handle => &settings.remind_working_days_before,
    }
}

fn remind_at(
    settings: &DeadlineSettings,
    calendar: &WorkCalendar,
    clock: ClockKind,
    deadline: Timestamp,
    step: u32,
) -> Result<Timestamp, TaskError> {
    match (clock, settings.sign_hours_kind) {
        (ClockKind::Sign, HoursKind::Working) => calendar.sub_working_hours(deadline, step),
        (ClockKind::Sign, HoursKind::Calendar) => shift(deadline, -i64::from(step)),
        (ClockKind::Handle, _) => calendar.sub_working_days(deadline, step),
    }
}

fn department_recipient(task: &Task) -> Vec<Recipient> {
    match &task.lead_department {
        Some(department) => vec![Recipient::Department(department.clone())],
        None => vec![Recipient::Dispatchers],
    }
}

fn escalation_recipients(directory: &Directory, task: &Task) -> Result<Vec<Recipient>, TaskError> {
    let mut recipients = department_recipient(task);
    let supervisor = match &task.lead_department {
        Some(id) => directory.department(id)?.supervisor.clone(),
        None => None,
    };
    recipients.push(match supervisor {
        Some(supervisor) => Recipient::Supervisor(supervisor),
        None => Recipient::Dispatchers,
    });
    recipients.dedup();
    if let Some(parent) = &task.parent {
        recipients.push(Recipient::LeadTask(parent.clone()));
    }
    Ok(recipients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        DeadlineSettings::default().validate().unwrap();
    }

    #[test]
    fn zero_handle_days_is_rejected() {
        let settings = DeadlineSettings {
            handle_working_days: 0,
            ..DeadlineSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("deadlines.handle_working_days"), "{err}");
        assert!(err.contains("between 1 and 365"), "{err}");
    }

    #[test]
    fn duplicate_steps_are_rejected() {
        let settings = DeadlineSettings {
            escalate_after_working_days: vec![0, 5, 5],
            ..DeadlineSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("only once"), "{err}");
    }

    #[test]
    fn zero_reminder_is_rejected() {
        let settings = DeadlineSettings {
            remind_working_days_before: vec![0],
            ..DeadlineSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("remind_working_days_before"), "{err}");
    }

    #[test]
    fn bad_category_override_is_named() {
        let mut settings = DeadlineSettings::default();
        settings
            .handle_working_days_by_category
            .insert("no ise".into(), 3);
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("handle_working_days_by_category"), "{err}");
    }

    #[test]
    fn calendar_sign_hours_count_every_hour() {
        let cal = WorkCalendar::china();
        let settings = DeadlineSettings {
            sign_hours: 2,
            sign_hours_kind: HoursKind::Calendar,
            ..DeadlineSettings::default()
        };
        let now = Timestamp::from_second(1_759_250_000).unwrap();
        let due = settings.sign_deadline(&cal, now).unwrap();
        assert_eq!(due.duration_since(now), SignedDuration::from_hours(2));
    }

    #[test]
    fn action_key_names_kind_clock_step_and_deadline() {
        let action = Action {
            kind: NoticeKind::Escalate,
            clock: ClockKind::Handle,
            deadline: Timestamp::from_second(0).unwrap(),
            due_at: Timestamp::from_second(0).unwrap(),
            step: 5,
            recipients: vec![Recipient::Dispatchers],
        };
        assert_eq!(action.key(), "escalate:handle:5:1970-01-01T00:00:00Z");
    }
}
