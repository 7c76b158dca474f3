//! Transition records: what the store persists and appends to the ledger for
//! every change of a task.

use jiff::Timestamp;
use oversight_core::personal::Text;
use serde::{Deserialize, Serialize};

use crate::deadline::Recipient;
use crate::evidence::Evidence;
use crate::model::{Actor, Assignee, ClockKind, DepartmentId, Task, TaskId};
use crate::outcome::{Outcome, OutcomeKind, OutcomeRecord};

/// One change that an operation made besides the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The lead department was set or changed.
    LeadDepartment {
        /// The previous department.
        from: Option<DepartmentId>,
        /// The new department.
        to: DepartmentId,
    },
    /// The assignee was set; a change of department clears it.
    Assignee {
        /// The new assignee, or none.
        to: Option<Assignee>,
    },
    /// A deadline was set or moved.
    Deadline {
        /// Which clock.
        clock: ClockKind,
        /// The previous deadline.
        from: Option<Timestamp>,
        /// The new deadline.
        to: Timestamp,
    },
    /// An extension was requested.
    ExtensionRequested {
        /// Working days requested.
        working_days: u32,
    },
    /// An extension was approved.
    ExtensionApproved {
        /// Working days granted.
        working_days: u32,
    },
    /// An extension request was rejected.
    ExtensionRejected {
        /// Working days that had been requested.
        working_days: u32,
    },
    /// A pending extension request was dropped because the task left its state
    /// without a decision on it, such as by being cancelled.
    ExtensionDropped {
        /// Working days that had been requested.
        working_days: u32,
    },
    /// Evidence was added.
    EvidenceAdded {
        /// The evidence, as stored on the task.
        evidence: Vec<Evidence>,
    },
    /// An outcome was recorded with the reply.
    OutcomeRecorded {
        /// The outcome.
        outcome: Outcome,
    },
    /// The outcome became final on closing.
    OutcomeFinalized {
        /// Its kind.
        kind: OutcomeKind,
    },
    /// A co-operating department's child task was created.
    ChildCreated {
        /// The child task.
        task: TaskId,
        /// Its department.
        department: DepartmentId,
    },
    /// A follow-up task (re-check) was created.
    FollowUpCreated {
        /// The follow-up task.
        task: TaskId,
    },
    /// A reminder or escalation was sent.
    NoticeSent {
        /// The action's key.
        key: String,
        /// Its recipients.
        recipients: Vec<Recipient>,
    },
}

/// The record of one operation on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// The task.
    pub task: TaskId,
    /// The task's version after the operation; the first record has version 1.
    pub version: u64,
    /// The action: a configured action name, or `create`, `remind` or `escalate`.
    pub action: String,
    /// The state before, or none for creation.
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// The actor, or none for the scheduler's reminders and escalations.
    pub actor: Option<Actor>,
    /// When.
    pub at: Timestamp,
    /// The reason given, if any.
    pub reason: Option<Text>,
    /// The other changes.
    pub changes: Vec<Change>,
}

/// A task created by an operation, with its creation record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    /// The new task.
    pub task: Task,
    /// Its creation record.
    pub record: TransitionRecord,
}

/// The result of creating a task: the lead task and one child per co-operating department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedTasks {
    /// The lead task.
    pub lead: Created,
    /// The co-operating departments' child tasks, in the order of `co_departments`.
    pub children: Vec<Created>,
}

/// The result of an operation on an existing task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// The task after the operation.
    pub task: Task,
    /// The record to persist and append to the ledger.
    pub record: TransitionRecord,
    /// The outcome record, when the operation finalised an outcome.
    pub outcome_record: Option<OutcomeRecord>,
    /// Tasks the operation created, such as the re-check of an ordered rectification.
    pub follow_ups: Vec<Created>,
}
