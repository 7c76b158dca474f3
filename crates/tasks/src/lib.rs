//! Supervision tasks (监管任务 / 工单): the domain logic, without I/O.
//!
//! An alert, a public report, an inspection plan or a higher authority gives
//! rise to a [`Task`]. The [`Engine`] contains the validated configuration: the
//! state machine ([`Workflow`], states and actions with roles, reasons and
//! effects, read from TOML), the routing of a task by area and category to a
//! lead department ([`Directory`]), working-day deadlines over a holiday
//! calendar ([`WorkCalendar`]), reminders and escalations ([`Engine::due_actions`]),
//! and the no-penalty-for-a-first-violation list ([`FirstViolationList`]).
//!
//! Every operation takes the current task and the time from the caller and
//! returns the new task with a [`TransitionRecord`] (who, when, from, to,
//! reason, changes) for the store to persist and append to the ledger. Nothing
//! here reads a clock, a file or a database: the store implements
//! [`ViolationHistory`] and runs the inbox query in the order [`order_inbox`]
//! defines.
//!
//! ```
//! use jiff::Timestamp;
//! use oversight_core::AreaCode;
//! use oversight_tasks::*;
//!
//! let config = TasksConfig::parse(r#"
//!     [[departments]]
//!     id = "sm-eeb"
//!     name = "厦门市思明生态环境局"
//!     [[routing]]
//!     area = "350203"
//!     department = "sm-eeb"
//! "#)?;
//! let engine = Engine::new(config, Holidays::china(), FirstViolationList::empty())?;
//! let dispatcher = Actor {
//!     person: PersonId::parse("d1")?,
//!     role: Role::Dispatcher,
//!     department: None,
//! };
//! let now: Timestamp = "2025-09-26T02:00:00Z".parse()?;
//! let created = engine.create(
//!     &NewTask {
//!         id: TaskId::parse("T1")?,
//!         origin: Origin::Manual,
//!         subject: None,
//!         area: AreaCode::parse("350203001")?,
//!         category: Category::parse("water")?,
//!         title: "排放口异味".into(),
//!         description: "群众反映排放口有异味".into(),
//!         lead_department: None,
//!         co_departments: vec![],
//!         evidence: vec![],
//!         reporter: None,
//!     },
//!     &dispatcher,
//!     now,
//! )?;
//! let applied = engine.apply(
//!     &created.lead.task,
//!     &Command::new("dispatch"),
//!     &Context::new(&dispatcher, now),
//! )?;
//! assert_eq!(applied.task.state, "dispatched");
//! assert_eq!(applied.task.lead_department.unwrap().as_str(), "sm-eeb");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calendar;
mod config;
mod deadline;
mod engine;
mod error;
mod evidence;
mod inbox;
mod model;
mod outcome;
mod record;
mod routing;
mod workflow;

pub use calendar::{
    CalendarSettings, HolidayEntry, Holidays, MAX_WORKING_DAYS, MAX_WORKING_HOURS,
    OutsideKnownYears, WorkCalendar, YearEntry,
};
pub use config::{DEFAULT_CONFIG, TasksConfig};
pub use deadline::{Action, DeadlineSettings, HoursKind, NoticeKind, Recipient};
pub use engine::{Command, Context, Engine, NewTask};
pub use error::{ConfigError, TaskError};
pub use evidence::{
    Attachment, ContentDigest, Evidence, EvidenceKind, HashAlgorithm, MAX_ATTACHMENT_BYTES,
    SiteCheck,
};
pub use inbox::{InboxFilter, active_deadline, is_overdue, order_inbox};
pub use model::{
    Actor, Assignee, Category, ClockKind, Deadlines, DepartmentId, GrantedExtension,
    MAX_NAME_CHARS, MAX_TEXT_CHARS, Origin, PendingExtension, PersonId, Role, SubjectId, Task,
    TaskId,
};
pub use outcome::{
    EligibleItem, FirstViolationList, FirstViolationSettings, Outcome, OutcomeInput, OutcomeKind,
    OutcomeRecord, PriorViolation, ViolationHistory,
};
pub use record::{Applied, Change, Created, CreatedTasks, TransitionRecord};
pub use routing::{Department, Directory, RouteRule};
pub use workflow::{ActionConfig, Effect, RESERVED_ACTIONS, StateConfig, Workflow, WorkflowConfig};
