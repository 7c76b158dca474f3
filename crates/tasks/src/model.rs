//! The task record and the identifiers and people it refers to.
//!
//! A [`Task`] is plain data: the engine ([`crate::Engine`]) is the only code
//! that changes its state, deadlines or outcome, and it returns a new value
//! together with a [`crate::TransitionRecord`] instead of mutating in place.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use oversight_core::personal::{Contact, Text};
use oversight_core::{AlertId, AreaCode};
use serde::{Deserialize, Serialize};

use crate::TaskError;
use crate::evidence::Evidence;
use crate::outcome::Outcome;

/// Maximum length of an identifier, title or name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Maximum length of a description, reason or note, in characters. Open311
/// GeoReport v2 sets the same maximum for a service request's description.
pub const MAX_TEXT_CHARS: usize = 4000;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier: 1 to 200 characters, no whitespace or control characters.
            pub fn parse(input: &str) -> Result<Self, TaskError> {
                validate_id($what, input).map(|()| Self(input.to_owned()))
            }

            /// Returns the identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TaskError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

string_id!(
    /// A task's identifier, chosen by the store. Child tasks derive theirs from the parent's.
    TaskId,
    "task id"
);
string_id!(
    /// A department's identifier, as configured in `[[departments]]`.
    DepartmentId,
    "department id"
);
string_id!(
    /// A person's identifier: a login name or staff number.
    PersonId,
    "person id"
);
string_id!(
    /// A task category, such as `water` or `noise`, used by routing and deadlines.
    Category,
    "category"
);
string_id!(
    /// A regulated subject: a Unified Social Credit Code, an MN or a site id.
    SubjectId,
    "subject id"
);

fn validate_id(what: &'static str, input: &str) -> Result<(), TaskError> {
    let rule = if input.is_empty() {
        "must not be empty"
    } else if input.chars().count() > MAX_NAME_CHARS {
        "must be at most 200 characters"
    } else if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "must not contain whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(TaskError::invalid(what, input, rule))
}

/// Checks free text: not blank after trimming and at most `max` characters.
pub(crate) fn validate_text(what: &'static str, input: &str, max: usize) -> Result<(), TaskError> {
    if input.trim().is_empty() {
        return Err(TaskError::invalid(what, input, "must not be blank"));
    }
    // Tabs and line breaks are text, but other control characters such as NUL
    // cannot be shown and are altered by the XLSX export.
    if input
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(TaskError::invalid(
            what,
            input,
            "must not contain control characters other than tab and line breaks",
        ));
    }
    // Embedding, override and isolate characters make text display in
    // another order than it is stored, so a title could show one thing to
    // the reader and another to search and export.
    if input.chars().any(is_bidi_control) {
        return Err(TaskError::invalid(
            what,
            input,
            "must not contain Unicode bidirectional control characters (U+202A to U+202E, \
             U+2066 to U+2069): remove them and write the text in reading order",
        ));
    }
    if input.chars().count() > max {
        return Err(TaskError::invalid(
            what,
            input,
            if max == MAX_NAME_CHARS {
                "must be at most 200 characters"
            } else {
                "must be at most 4000 characters"
            },
        ));
    }
    Ok(())
}

/// Returns true for the Unicode bidirectional embedding, override and
/// isolate characters: U+202A to U+202E and U+2066 to U+2069.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The roles that the workflow configuration grants actions to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 派单员: creates, routes and dispatches tasks, approves extensions.
    Dispatcher,
    /// 承办人员: staff of the lead department, who sign for and handle a task.
    DepartmentStaff,
    /// 督办: supervises departments, receives escalations, may reopen or cancel.
    Supervisor,
    /// 审核: checks replies before a task is closed.
    Reviewer,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 4] = [
        Role::Dispatcher,
        Role::DepartmentStaff,
        Role::Supervisor,
        Role::Reviewer,
    ];

    /// Returns the role's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dispatcher => "dispatcher",
            Role::DepartmentStaff => "department_staff",
            Role::Supervisor => "supervisor",
            Role::Reviewer => "reviewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person performing an action, and the role they act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The person acting.
    pub person: PersonId,
    /// The role the person acts in for this action.
    pub role: Role,
    /// The person's department. Department staff act only on their own department's tasks.
    pub department: Option<DepartmentId>,
}

/// The origin of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// An alert (预警) that was escalated into a task.
    Alert {
        /// The alert's id in the store.
        alert_id: AlertId,
    },
    /// A report from the public (线索 / 诉求), such as an Open311 service request.
    PublicReport {
        /// The report's id, such as the Open311 `service_request_id`.
        report_id: String,
    },
    /// An inspection plan (双随机、一公开 draw) that assigned this subject.
    InspectionPlan {
        /// The plan's id.
        plan_id: String,
    },
    /// A task assigned by a higher-level authority (上级交办).
    HigherAssignment {
        /// The authority's document or batch reference, such as 第3批 转办 No. 12.
        reference: String,
    },
    /// A co-operating department's share of a lead task (协办).
    CoOperation {
        /// The lead task.
        parent: TaskId,
    },
    /// The re-check (复查) of a rectification ordered by an earlier task.
    Recheck {
        /// The task whose outcome ordered the rectification.
        parent: TaskId,
    },
    /// Created by hand.
    Manual,
}

/// The person or group a task is assigned to inside its department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Assignee {
    /// One person.
    Person(PersonId),
    /// A group of the department, such as a law-enforcement squad; any member may claim it.
    Group(String),
}

/// The two clocks a task runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// The sign-for deadline (签收时限), started by dispatch.
    Sign,
    /// The handling deadline (办理时限), started by signing for the task.
    Handle,
}

impl ClockKind {
    /// Returns the clock's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Sign => "sign",
            ClockKind::Handle => "handle",
        }
    }
}

/// An extension request (延期申请) waiting for the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExtension {
    /// Working days requested on top of the current handling deadline.
    pub working_days: u32,
    /// The person who requested it.
    pub requested_by: PersonId,
    /// When it was requested.
    pub requested_at: Timestamp,
    /// The reason more time is needed.
    pub reason: Text,
}

/// An approved extension, kept so the history of the deadline can be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedExtension {
    /// Working days granted.
    pub working_days: u32,
    /// The handling deadline before the extension.
    pub previous: Timestamp,
    /// The handling deadline after the extension.
    pub extended_to: Timestamp,
    /// The dispatcher who approved it.
    pub approved_by: PersonId,
    /// When it was approved.
    pub approved_at: Timestamp,
}

/// A task's deadlines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// When the lead department must have signed for the task, set on dispatch.
    pub sign_by: Option<Timestamp>,
    /// When the task must be replied, set on signing and moved by extensions.
    pub handle_by: Option<Timestamp>,
    /// The extension request waiting for approval, if any.
    pub pending_extension: Option<PendingExtension>,
    /// Extensions granted so far, oldest first.
    pub extensions: Vec<GrantedExtension>,
}

impl Deadlines {
    /// Returns the deadline of `clock`, if it has been set.
    pub fn of(&self, clock: ClockKind) -> Option<Timestamp> {
        match clock {
            ClockKind::Sign => self.sign_by,
            ClockKind::Handle => self.handle_by,
        }
    }

    /// Returns the working days granted by extensions so far.
    pub fn extended_working_days(&self) -> u32 {
        self.extensions.iter().map(|e| e.working_days).sum()
    }
}

/// A unit of supervision work (监管任务 / 工单).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// Bumped by every transition, so the store can reject a stale write.
    pub version: u64,
    /// The task's origin.
    pub origin: Origin,
    /// The regulated subject the task is about, if any.
    pub subject: Option<SubjectId>,
    /// The area the task concerns; routing uses its code.
    pub area: AreaCode,
    /// The category; routing and the handling deadline use it.
    pub category: Category,
    /// A short title.
    pub title: Text,
    /// The full description.
    pub description: Text,
    /// The reporter's contact, for a task whose origin is a public report.
    /// The store keeps it apart from the task's record, so it is never
    /// written to the ledger; serialization skips it.
    #[serde(skip)]
    pub reporter: Option<Contact>,
    /// The lead department (主办), once routed.
    pub lead_department: Option<DepartmentId>,
    /// The co-operating departments (协办); each has a child task.
    pub co_departments: Vec<DepartmentId>,
    /// The lead task, for a co-operating department's child task.
    pub parent: Option<TaskId>,
    /// The child tasks of the co-operating departments, in `co_departments` order.
    pub children: Vec<TaskId>,
    /// The person or group handling the task inside the lead department.
    pub assignee: Option<Assignee>,
    /// The current state, one of the configured workflow states.
    pub state: String,
    /// When the task was created.
    pub created_at: Timestamp,
    /// When the task last changed.
    pub updated_at: Timestamp,
    /// The deadlines and their extensions.
    pub deadlines: Deadlines,
    /// Attachments, notes and on-site checks, oldest first.
    pub evidence: Vec<Evidence>,
    /// The outcome the lead department replied with, if any.
    pub outcome: Option<Outcome>,
    /// Keys of the reminders and escalations already sent; see [`crate::Action::key`].
    pub notices_sent: BTreeSet<String>,
    /// How many follow-up tasks (re-checks) this task has produced.
    pub follow_ups: u32,
}

impl Task {
    /// Returns true if this task is a co-operating department's child task.
    pub fn is_child(&self) -> bool {
        self.parent.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_accepts_plain_identifiers() {
        assert_eq!(
            TaskId::parse("T-2025-0001").unwrap().as_str(),
            "T-2025-0001"
        );
        assert_eq!(
            DepartmentId::parse("厦门市生态环境局").unwrap().as_str(),
            "厦门市生态环境局"
        );
    }

    #[test]
    fn id_rejects_empty_blank_and_long() {
        for bad in ["", "a b", "tab\tid", "line\n"] {
            let err = TaskId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("task id"), "{bad:?}: {err}");
        }
        let long = "x".repeat(201);
        let err = PersonId::parse(&long).unwrap_err();
        assert!(err.to_string().contains("at most 200"), "{err}");
    }

    #[test]
    fn id_deserializes_with_validation() {
        let id: TaskId = serde_json::from_str("\"T1\"").unwrap();
        assert_eq!(id.as_str(), "T1");
        let err = serde_json::from_str::<TaskId>("\"\"").unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn text_rejects_blank_and_overlong() {
        assert!(validate_text("reason", "  ", MAX_TEXT_CHARS).is_err());
        assert!(validate_text("reason", &"字".repeat(4001), MAX_TEXT_CHARS).is_err());
        assert!(validate_text("reason", &"字".repeat(4000), MAX_TEXT_CHARS).is_ok());
    }

    #[test]
    fn text_rejects_control_characters() {
        assert!(validate_text("title", "a\u{0}b", MAX_NAME_CHARS).is_err());
        assert!(validate_text("title", "a\u{1b}[31mb", MAX_NAME_CHARS).is_err());
        assert!(validate_text("reason", "line one\r\nline\ttwo", MAX_TEXT_CHARS).is_ok());
    }

    #[test]
    fn text_rejects_bidi_controls() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let title = format!("invoice{c}fdp.exe");
            let error = validate_text("title", &title, MAX_NAME_CHARS).unwrap_err();
            let message = error.to_string();
            assert!(message.starts_with("invalid title "), "{message}");
            assert!(message.contains("bidirectional"), "{message}");
            assert!(message.contains("remove them"), "{message}");
            // The value is shown escaped, so the message itself displays in order.
            let escaped = format!("\\u{{{:x}}}", u32::from(c));
            assert!(message.contains(&escaped), "{message}");
        }
    }

    #[test]
    fn text_accepts_right_to_left_marks() {
        // Marks and right-to-left letters are text. Only the controls that
        // reorder a run are rejected.
        let text = "\u{200F}שלום\u{200E} and العربية";
        assert!(validate_text("description", text, MAX_TEXT_CHARS).is_ok());
    }

    #[test]
    fn role_names_match_serde() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn origin_serializes_with_kind_tag() {
        let origin = Origin::Alert {
            alert_id: AlertId(7),
        };
        let json = serde_json::to_value(&origin).unwrap();
        assert_eq!(json["kind"], "alert");
        assert_eq!(json["alert_id"], 7);
    }
}
