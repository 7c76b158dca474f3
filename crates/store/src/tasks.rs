//! Supervision tasks as the store keeps them.
//!
//! The store does not know the workflow. The caller, which has the
//! validated [`Workflow`], states for every write whether the task is still
//! open and which deadline is running. The inbox orders by that deadline, so
//! overdue tasks (the earliest deadlines) come first without the store
//! knowing the time.

use jiff::Timestamp;
use oversight_core::{AlertId, AreaCode};
use oversight_tasks::{
    Assignee, Category, DepartmentId, OutcomeRecord, SubjectId, Task, TransitionRecord, Workflow,
    active_deadline,
};
use serde::Serialize;

/// The person id that task records show for tasks the rule engine creates.
/// The colon keeps it apart from every login name, which cannot contain one,
/// so the ledger records these creations with the actor `engine`.
pub const RULE_ENGINE_PERSON: &str = "engine:rules";

/// A task after an operation, with the record of the operation, to store together.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskWrite {
    /// The task after the operation. A task whose version is 1 is inserted;
    /// any other replaces the stored task, which must have the version before.
    pub task: Task,
    /// The operation's record, appended to the task's history.
    pub record: TransitionRecord,
    /// False once the task's state is terminal.
    pub open: bool,
    /// The deadline of the clock that runs in the task's state, if any.
    pub due_at: Option<Timestamp>,
    /// The outcome record, when the operation finalised an outcome.
    pub outcome: Option<OutcomeRecord>,
}

impl TaskWrite {
    /// Builds a write, deriving `open` and `due_at` from the workflow.
    pub fn new(
        workflow: &Workflow,
        task: Task,
        record: TransitionRecord,
        outcome: Option<OutcomeRecord>,
    ) -> Self {
        Self {
            open: !workflow.is_terminal(&task.state),
            due_at: active_deadline(workflow, &task),
            task,
            record,
            outcome,
        }
    }
}

/// The alert whose escalation created the tasks of a [`crate::Store::write_tasks`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The alert, which must be open and not yet escalated.
    pub alert: AlertId,
    /// When it was escalated.
    pub at: Timestamp,
}

/// A filter over tasks for an inbox or a list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskQuery {
    /// Only tasks whose lead department is this one.
    pub department: Option<DepartmentId>,
    /// Only tasks assigned to this person or group.
    pub assignee: Option<Assignee>,
    /// Only tasks in one of these states; when empty, only open tasks.
    pub states: Vec<String>,
    /// Only tasks in one of these areas or below it; every area when
    /// `None`, and no task when `Some` of an empty list.
    pub areas: Option<Vec<AreaCode>>,
    /// Only tasks about one of these subjects; `Some` of an empty list
    /// matches no task.
    pub subjects: Option<Vec<SubjectId>>,
    /// Only tasks of this category.
    pub category: Option<Category>,
    /// Only tasks whose running deadline is at or before this instant,
    /// which is "overdue" when the caller passes the current time.
    pub due_before: Option<Timestamp>,
    /// Page size; 0 or more than 1,000 means 1,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One entry of a task's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskHistoryEntry {
    /// The store's sequence number of the entry, increasing over all tasks.
    pub seq: i64,
    /// The index of the record's ledger entry, whose inclusion proof shows
    /// that the record is in the ledger; none for records older than the ledger.
    pub ledger_index: Option<u64>,
    /// The record.
    #[serde(flatten)]
    pub record: TransitionRecord,
}
