//! The engine: creates tasks and applies actions to them.
//!
//! Every operation takes the current task by reference and returns the new
//! task with a [`TransitionRecord`], so on error the caller's task is untouched.
//! The checks run in a fixed order and each rejection names the first rule
//! broken. First the action must exist and may start from the task's state.
//! Then the actor's role must be allowed, and department staff must belong to
//! the task's department. Then a required reason must be present, the command
//! must carry no input the action does not use, and the evidence must be
//! valid. Last, each effect checks its own inputs.

use std::fmt;

use jiff::Timestamp;
use oversight_core::AreaCode;
use oversight_core::personal::{Contact, Text};
use serde::{Deserialize, Serialize};

use crate::calendar::{Holidays, WorkCalendar};
use crate::config::TasksConfig;
use crate::deadline::{self, Action, DeadlineSettings};
use crate::evidence::{Evidence, EvidenceKind};
use crate::model::{
    Actor, Assignee, Category, DepartmentId, MAX_NAME_CHARS, MAX_TEXT_CHARS, Origin, Role,
    SubjectId, Task, TaskId, validate_text,
};
use crate::outcome::{FirstViolationList, FirstViolationSettings, OutcomeInput, ViolationHistory};
use crate::record::{Applied, Change, Created, CreatedTasks, TransitionRecord};
use crate::routing::Directory;
use crate::workflow::{Effect, Workflow};
use crate::{ConfigError, TaskError};

mod effects;

/// An actor's request to perform an action on a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Command {
    /// The action's name, such as `sign`.
    pub action: String,
    /// The reason, required by some actions.
    pub reason: Option<String>,
    /// The lead department, for an action that sets it (dispatch); without one, routing decides.
    pub department: Option<DepartmentId>,
    /// The assignee, for an action that assigns.
    pub assignee: Option<Assignee>,
    /// Working days, for an extension request, or fewer days for an approval.
    pub extension_working_days: Option<u32>,
    /// The outcome, for an action that records one (reply).
    pub outcome: Option<OutcomeInput>,
    /// Evidence to attach; any action may carry some.
    pub evidence: Vec<EvidenceKind>,
}

impl Command {
    /// Creates a command for `action` with no inputs.
    pub fn new(action: &str) -> Self {
        Self {
            action: action.to_owned(),
            ..Self::default()
        }
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }
}

/// The circumstances of an action besides the command.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Who acts.
    pub actor: &'a Actor,
    /// The current time, from the caller's clock.
    pub now: Timestamp,
    /// The task's child tasks as currently stored; needed by `require_children_done`.
    pub children: &'a [Task],
    /// The subject's violation history; needed to record a first-violation outcome.
    pub history: Option<&'a dyn ViolationHistory>,
}

impl<'a> Context<'a> {
    /// Creates a context without children or history.
    pub fn new(actor: &'a Actor, now: Timestamp) -> Self {
        Self {
            actor,
            now,
            children: &[],
            history: None,
        }
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.actor)
            .field("now", &self.now)
            .field("children", &self.children.len())
            .field("history", &self.history.is_some())
            .finish()
    }
}

/// A task to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// The id the store chose.
    pub id: TaskId,
    /// The task's origin.
    pub origin: Origin,
    /// The regulated subject, if any.
    pub subject: Option<SubjectId>,
    /// The area concerned.
    pub area: AreaCode,
    /// The category.
    pub category: Category,
    /// A short title, at most 200 characters.
    pub title: String,
    /// The description, at most 4000 characters.
    pub description: String,
    /// The lead department if already known; otherwise dispatch routes the task.
    pub lead_department: Option<DepartmentId>,
    /// The co-operating departments; each gets a child task.
    pub co_departments: Vec<DepartmentId>,
    /// Evidence that came with the task, such as the photos of a public report.
    pub evidence: Vec<EvidenceKind>,
    /// The reporter's contact; only a task whose origin is a public report has one.
    pub reporter: Option<Contact>,
}

/// The validated configuration, holiday calendar and first-violation list.
#[derive(Debug, Clone)]
pub struct Engine {
    workflow: Workflow,
    calendar: WorkCalendar,
    deadlines: DeadlineSettings,
    first_violation: FirstViolationSettings,
    first_violation_list: FirstViolationList,
    directory: Directory,
}

impl Engine {
    /// Validates a configuration and builds the engine.
    pub fn new(
        config: TasksConfig,
        holidays: Holidays,
        first_violation_list: FirstViolationList,
    ) -> Result<Self, ConfigError> {
        let calendar = WorkCalendar::new(&config.calendar, holidays)?;
        config.deadlines.validate()?;
        if config.first_violation.lookback_months == 0
            || config.first_violation.lookback_months > 120
        {
            return Err(ConfigError::invalid(
                "first_violation.lookback_months",
                config.first_violation.lookback_months.to_string(),
                "must be between 1 and 120",
            ));
        }
        if config.first_violation.correction_working_days > 365 {
            return Err(ConfigError::invalid(
                "first_violation.correction_working_days",
                config.first_violation.correction_working_days.to_string(),
                "must be at most 365",
            ));
        }
        Ok(Self {
            workflow: Workflow::new(config.workflow)?,
            calendar,
            deadlines: config.deadlines,
            first_violation: config.first_violation,
            first_violation_list,
            directory: Directory::new(config.departments, config.routing)?,
        })
    }

    /// Returns the workflow.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Returns the working-day calendar.
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    /// Returns the departments and routing rules.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Returns the deadline settings.
    pub fn deadline_settings(&self) -> &DeadlineSettings {
        &self.deadlines
    }

    /// Returns the first-violation list.
    pub fn first_violation_list(&self) -> &FirstViolationList {
        &self.first_violation_list
    }

    /// Creates a task in the initial state, with a child task per co-operating department.
    pub fn create(
        &self,
        new: &NewTask,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<CreatedTasks, TaskError> {
        if !self.workflow.config().create_roles.contains(&actor.role) {
            return Err(TaskError::RoleNotPermitted {
                action: "create".into(),
                role: actor.role,
                allowed: role_list(&self.workflow.config().create_roles),
            });
        }
        validate_text("title", &new.title, MAX_NAME_CHARS)?;
        validate_text("description", &new.description, MAX_TEXT_CHARS)?;
        if new.reporter.is_some() && !matches!(new.origin, Origin::PublicReport { .. }) {
            return Err(TaskError::invalid(
                "reporter",
                "",
                "only a task whose origin is public_report has a reporter; leave reporter out",
            ));
        }
        if let Some(lead) = &new.lead_department {
            self.directory.department(lead)?;
        }
        self.check_co_departments(new.lead_department.as_ref(), &new.co_departments)?;
        let evidence = collect_evidence(&new.evidence, actor, now)?;

        let child_ids = (1..=new.co_departments.len())
            .map(|n| TaskId::parse(&format!("{}-c{n}", new.id)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut children = Vec::with_capacity(child_ids.len());
        let mut changes = Vec::new();
        for (child_id, department) in child_ids.iter().zip(&new.co_departments) {
            let child = self.blank_task(new, child_id.clone(), now);
            let child = Task {
                origin: Origin::CoOperation {
                    parent: new.id.clone(),
                },
                lead_department: Some(department.clone()),
                parent: Some(new.id.clone()),
                ..child
            };
            changes.push(Change::ChildCreated {
                task: child_id.clone(),
                department: department.clone(),
            });
            children.push(self.creation(child, actor, Vec::new(), now));
        }
        let mut lead = self.blank_task(new, new.id.clone(), now);
        lead.lead_department = new.lead_department.clone();
        lead.co_departments = new.co_departments.clone();
        lead.children = child_ids;
        lead.reporter = new.reporter.clone();
        if !evidence.is_empty() {
            lead.evidence = evidence.clone();
            changes.push(Change::EvidenceAdded { evidence });
        }
        Ok(CreatedTasks {
            lead: self.creation(lead, actor, changes, now),
            children,
        })
    }

    fn check_co_departments(
        &self,
        lead: Option<&DepartmentId>,
        co_departments: &[DepartmentId],
    ) -> Result<(), TaskError> {
        for (i, department) in co_departments.iter().enumerate() {
            self.directory.department(department)?;
            if Some(department) == lead {
                return Err(TaskError::invalid(
                    "co-operating department",
                    department.as_str(),
                    "must differ from the lead department",
                ));
            }
            if co_departments[..i].contains(department) {
                return Err(TaskError::invalid(
                    "co-operating department",
                    department.as_str(),
                    "each department may be listed once",
                ));
            }
        }
        Ok(())
    }

    fn blank_task(&self, new: &NewTask, id: TaskId, now: Timestamp) -> Task {
        Task {
            id,
            version: 1,
            origin: new.origin.clone(),
            subject: new.subject.clone(),
            area: new.area.clone(),
            category: new.category.clone(),
            title: Text::from(new.title.as_str()),
            description: Text::from(new.description.as_str()),
            reporter: None,
            lead_department: None,
            co_departments: Vec::new(),
            parent: None,
            children: Vec::new(),
            assignee: None,
            state: self.workflow.initial().to_owned(),
            created_at: now,
            updated_at: now,
            deadlines: Default::default(),
            evidence: Vec::new(),
            outcome: None,
            notices_sent: Default::default(),
            follow_ups: 0,
        }
    }

    fn creation(&self, task: Task, actor: &Actor, changes: Vec<Change>, now: Timestamp) -> Created {
        let record = TransitionRecord {
            task: task.id.clone(),
            version: task.version,
            action: "create".into(),
            from: None,
            to: task.state.clone(),
            actor: Some(actor.clone()),
            at: now,
            reason: None,
            changes,
        };
        Created { task, record }
    }

    /// Applies `command` to `task`, or returns why it is not allowed.
    pub fn apply(
        &self,
        task: &Task,
        command: &Command,
        ctx: &Context<'_>,
    ) -> Result<Applied, TaskError> {
        let action = self.workflow.action(&command.action).ok_or_else(|| {
            let known: Vec<&str> = self
                .workflow
                .actions()
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            TaskError::UnknownAction {
                action: command.action.clone(),
                known: known.join(", "),
            }
        })?;
        if !action.from.contains(&task.state) {
            let allowed = self.workflow.allowed_from(&task.state);
            return Err(TaskError::IllegalTransition {
                state: task.state.clone(),
                action: action.name.clone(),
                allowed: if allowed.is_empty() {
                    "none".into()
                } else {
                    allowed.join(", ")
                },
            });
        }
        self.check_actor(task, &action.name, &action.roles, ctx.actor)?;
        if let Some(reason) = &command.reason {
            validate_text("reason", reason, MAX_TEXT_CHARS)?;
        } else if action.reason_required {
            return Err(TaskError::ReasonRequired {
                action: action.name.clone(),
            });
        }
        check_inputs(&action.name, &action.effects, command)?;
        let evidence = collect_evidence(&command.evidence, ctx.actor, ctx.now)?;

        let mut step = effects::Step::new(self, task, command, ctx);
        if !evidence.is_empty() {
            step.task.evidence.extend(evidence.iter().cloned());
            step.changes.push(Change::EvidenceAdded { evidence });
        }
        for &effect in &action.effects {
            step.run(effect)?;
        }
        let leaves_state = action.to.as_ref().is_some_and(|to| *to != task.state);
        if leaves_state && !action.effects.contains(&Effect::RequestExtension) {
            step.drop_pending_extension();
        }
        let effects::Step {
            mut task,
            changes,
            outcome_record,
            follow_ups,
            ..
        } = step;
        let from = task.state.clone();
        if let Some(to) = &action.to {
            task.state.clone_from(to);
        }
        task.version += 1;
        task.updated_at = ctx.now;
        let record = TransitionRecord {
            task: task.id.clone(),
            version: task.version,
            action: action.name.clone(),
            from: Some(from),
            to: task.state.clone(),
            actor: Some(ctx.actor.clone()),
            at: ctx.now,
            reason: command.reason.as_deref().map(Text::from),
            changes,
        };
        Ok(Applied {
            task,
            record,
            outcome_record,
            follow_ups,
        })
    }

    // NOTE: the engine trusts the role and department in `Actor`; the server must
    // check that the person holds them. Dispatchers, supervisors and reviewers
    // are not yet limited to their own areas or departments.
    fn check_actor(
        &self,
        task: &Task,
        action: &str,
        roles: &[Role],
        actor: &Actor,
    ) -> Result<(), TaskError> {
        if !roles.contains(&actor.role) {
            return Err(TaskError::RoleNotPermitted {
                action: action.to_owned(),
                role: actor.role,
                allowed: role_list(roles),
            });
        }
        let own_department =
            task.lead_department.is_some() && actor.department == task.lead_department;
        if actor.role == Role::DepartmentStaff && !own_department {
            let name = |d: Option<&DepartmentId>| d.map_or("none".to_owned(), ToString::to_string);
            return Err(TaskError::WrongDepartment {
                person: actor.person.to_string(),
                actor_department: name(actor.department.as_ref()),
                task: task.id.to_string(),
                task_department: name(task.lead_department.as_ref()),
            });
        }
        Ok(())
    }

    /// Returns the reminders and escalations due for `task` at `now` and not yet sent.
    pub fn due_actions(&self, task: &Task, now: Timestamp) -> Result<Vec<Action>, TaskError> {
        deadline::due_actions(
            &self.workflow,
            &self.calendar,
            &self.deadlines,
            &self.directory,
            task,
            now,
        )
    }

    /// Records that `action` was sent, so [`Engine::due_actions`] does not return it again.
    pub fn record_notice(&self, task: &Task, action: &Action, now: Timestamp) -> Applied {
        let mut task = task.clone();
        let key = action.key();
        task.notices_sent.insert(key.clone());
        task.version += 1;
        task.updated_at = now;
        let record = TransitionRecord {
            task: task.id.clone(),
            version: task.version,
            action: action.kind.as_str().to_owned(),
            from: Some(task.state.clone()),
            to: task.state.clone(),
            actor: None,
            at: now,
            reason: None,
            changes: vec![Change::NoticeSent {
                key,
                recipients: action.recipients.clone(),
            }],
        };
        Applied {
            task,
            record,
            outcome_record: None,
            follow_ups: Vec::new(),
        }
    }
}

/// Rejects inputs that no effect of the action would use, so nothing is silently dropped.
fn check_inputs(action: &str, effects: &[Effect], command: &Command) -> Result<(), TaskError> {
    let uses = |e: Effect| effects.contains(&e);
    let unexpected = |input: &'static str| TaskError::UnexpectedInput {
        action: action.to_owned(),
        input,
    };
    if command.department.is_some() && !uses(Effect::SetLeadDepartment) {
        return Err(unexpected("a department"));
    }
    if command.assignee.is_some() && !uses(Effect::Assign) {
        return Err(unexpected("an assignee"));
    }
    if command.extension_working_days.is_some()
        && !uses(Effect::RequestExtension)
        && !uses(Effect::ApproveExtension)
    {
        return Err(unexpected("extension working days"));
    }
    if command.outcome.is_some() && !uses(Effect::RecordOutcome) {
        return Err(unexpected("an outcome"));
    }
    Ok(())
}

fn collect_evidence(
    items: &[EvidenceKind],
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<Evidence>, TaskError> {
    items
        .iter()
        .map(|kind| {
            kind.validate(now)?;
            Ok(Evidence {
                kind: kind.clone(),
                added_by: actor.person.clone(),
                added_at: now,
            })
        })
        .collect()
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
