//! Inbox ordering and the definition of overdue.
//!
//! A task's active deadline is the deadline of the clock its state runs (the
//! sign-for deadline while dispatched, the handling deadline while signed or
//! in progress). A task is overdue from the instant of its active deadline.
//! An inbox lists overdue tasks first, then the rest by active deadline,
//! soonest first, and tasks without a running clock last. Ties go by creation
//! time and then id, so the order is total and stable.
//! The store runs the query; this module defines the order and the filter.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{Assignee, DepartmentId, Task};
use crate::workflow::Workflow;

/// The selection of tasks an inbox shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxFilter {
    /// The states to show; empty means every state that is not terminal.
    pub states: Vec<String>,
    /// Only tasks whose lead department is this one.
    pub department: Option<DepartmentId>,
    /// Only tasks assigned to this person or group.
    pub assignee: Option<Assignee>,
}

impl InboxFilter {
    /// Returns true if `task` passes the filter.
    pub fn matches(&self, workflow: &Workflow, task: &Task) -> bool {
        let state_ok = if self.states.is_empty() {
            !workflow.is_terminal(&task.state)
        } else {
            self.states.contains(&task.state)
        };
        let department_ok = self
            .department
            .as_ref()
            .is_none_or(|d| task.lead_department.as_ref() == Some(d));
        let assignee_ok = self
            .assignee
            .as_ref()
            .is_none_or(|a| task.assignee.as_ref() == Some(a));
        state_ok && department_ok && assignee_ok
    }
}

/// Returns the deadline of the clock that runs in the task's state, if any.
pub fn active_deadline(workflow: &Workflow, task: &Task) -> Option<Timestamp> {
    workflow
        .clock_in(&task.state)
        .and_then(|clock| task.deadlines.of(clock))
}

/// Returns true if the task's active deadline is at or before `now`.
pub fn is_overdue(workflow: &Workflow, task: &Task, now: Timestamp) -> bool {
    active_deadline(workflow, task).is_some_and(|deadline| deadline <= now)
}

/// Filters `tasks` and orders them: overdue first, then by active deadline.
pub fn order_inbox<'a>(
    workflow: &Workflow,
    tasks: impl IntoIterator<Item = &'a Task>,
    filter: &InboxFilter,
    now: Timestamp,
) -> Vec<&'a Task> {
    let mut shown: Vec<&Task> = tasks
        .into_iter()
        .filter(|task| filter.matches(workflow, task))
        .collect();
    shown.sort_by_cached_key(|task| {
        let deadline = active_deadline(workflow, task);
        (
            !is_overdue(workflow, task, now),
            deadline.is_none(),
            deadline,
            task.created_at,
            task.id.clone(),
        )
    });
    shown
}
