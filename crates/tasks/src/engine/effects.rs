//! The built-in effects that configured actions run.

use oversight_core::personal::Text;

use crate::TaskError;
use crate::engine::{Command, Context, Engine, NewTask};
use crate::model::{ClockKind, GrantedExtension, Origin, PendingExtension, Task, TaskId};
use crate::outcome::{
    FirstViolationClaim, Outcome, OutcomeInput, OutcomeRecord, check_first_violation,
};
use crate::record::{Change, Created};
use crate::workflow::Effect;

/// An action in progress: the task being changed and what changed so far.
pub(super) struct Step<'a> {
    engine: &'a Engine,
    command: &'a Command,
    ctx: &'a Context<'a>,
    pub(super) task: Task,
    pub(super) changes: Vec<Change>,
    pub(super) outcome_record: Option<OutcomeRecord>,
    pub(super) follow_ups: Vec<Created>,
}

impl<'a> Step<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        task: &Task,
        command: &'a Command,
        ctx: &'a Context<'a>,
    ) -> Self {
        Self {
            engine,
            command,
            ctx,
            task: task.clone(),
            changes: Vec::new(),
            outcome_record: None,
            follow_ups: Vec::new(),
        }
    }

    pub(super) fn run(&mut self, effect: Effect) -> Result<(), TaskError> {
        match effect {
            Effect::StartSignClock => {
                let due = self
                    .engine
                    .deadlines
                    .sign_deadline(&self.engine.calendar, self.ctx.now)?;
                self.set_deadline(ClockKind::Sign, due);
                Ok(())
            }
            Effect::StartHandleClock => {
                let days = self.engine.deadlines.handle_days(&self.task);
                let due = self.engine.calendar.add_working_days(self.ctx.now, days)?;
                self.set_deadline(ClockKind::Handle, due);
                Ok(())
            }
            Effect::SetLeadDepartment => self.set_lead_department(),
            Effect::Assign => {
                let assignee = self.require(self.command.assignee.clone(), "an assignee")?;
                self.task.assignee = Some(assignee.clone());
                self.changes.push(Change::Assignee { to: Some(assignee) });
                Ok(())
            }
            Effect::RequestExtension => self.request_extension(),
            Effect::ApproveExtension => self.approve_extension(),
            Effect::RejectExtension => {
                let pending = self.pending_extension()?;
                self.task.deadlines.pending_extension = None;
                self.changes.push(Change::ExtensionRejected {
                    working_days: pending.working_days,
                });
                Ok(())
            }
            Effect::RequireChildrenDone => self.require_children_done(),
            Effect::RecordOutcome => self.record_outcome(),
            Effect::FinalizeOutcome => self.finalize_outcome(),
        }
    }

    fn require<T>(&self, value: Option<T>, input: &'static str) -> Result<T, TaskError> {
        value.ok_or_else(|| TaskError::MissingInput {
            action: self.command.action.clone(),
            input,
        })
    }

    fn set_deadline(&mut self, clock: ClockKind, due: jiff::Timestamp) {
        let slot = match clock {
            ClockKind::Sign => &mut self.task.deadlines.sign_by,
            ClockKind::Handle => &mut self.task.deadlines.handle_by,
        };
        let from = slot.replace(due);
        self.changes.push(Change::Deadline {
            clock,
            from,
            to: due,
        });
    }

    fn set_lead_department(&mut self) -> Result<(), TaskError> {
        let directory = &self.engine.directory;
        let department = match (&self.command.department, &self.task.lead_department) {
            (Some(given), _) => directory.department(given)?.id.clone(),
            (None, Some(current)) => current.clone(),
            (None, None) => directory
                .route(&self.task.area, &self.task.category)?
                .clone(),
        };
        if self.task.co_departments.contains(&department) {
            return Err(TaskError::invalid(
                "lead department",
                department.as_str(),
                "is already a co-operating department of this task; choose another",
            ));
        }
        if self.task.lead_department.as_ref() == Some(&department) {
            return Ok(());
        }
        let from = self.task.lead_department.replace(department.clone());
        self.changes.push(Change::LeadDepartment {
            from,
            to: department,
        });
        if self.task.assignee.take().is_some() {
            self.changes.push(Change::Assignee { to: None });
        }
        Ok(())
    }

    fn request_extension(&mut self) -> Result<(), TaskError> {
        let days = self.require(
            self.command.extension_working_days,
            "extension working days",
        )?;
        if days == 0 {
            return Err(TaskError::invalid(
                "extension working days",
                "0",
                "must be at least 1",
            ));
        }
        self.require_deadline(ClockKind::Handle)?;
        self.check_extension_budget(days)?;
        self.task.deadlines.pending_extension = Some(PendingExtension {
            working_days: days,
            requested_by: self.ctx.actor.person.clone(),
            requested_at: self.ctx.now,
            reason: Text::from(self.command.reason.clone().unwrap_or_default()),
        });
        self.changes
            .push(Change::ExtensionRequested { working_days: days });
        Ok(())
    }

    fn approve_extension(&mut self) -> Result<(), TaskError> {
        let pending = self.pending_extension()?;
        let days = self
            .command
            .extension_working_days
            .unwrap_or(pending.working_days);

        if days == 0 {
            return Err(TaskError::invalid(
                "extension working days",
                "0",
                "must be at least 1; reject the request instead",
            ));
        }
        if days > pending.working_days {
            return Err(TaskError::ExtensionAboveRequest {
                granted: days,
                requested: pending.working_days,
            });
        }
        let previous = self.require_deadline(ClockKind::Handle)?;
        self.check_extension_budget(days)?;

        let extended_to = self.engine.calendar.add_working_days(previous, days)?;
        self.task.deadlines.pending_extension = None;
        self.task.deadlines.extensions.push(GrantedExtension {
            working_days: days,
            previous,
            extended_to,
            approved_by: self.ctx.actor.person.clone(),
            approved_at: self.ctx.now,
        });
        self.set_deadline(ClockKind::Handle, extended_to);
        self.changes
            .push(Change::ExtensionApproved { working_days: days });
        Ok(())
    }

    /// Drops an extension request left pending by an action that leaves the
    /// state without deciding it, such as cancelling the task.
    pub(super) fn drop_pending_extension(&mut self) {
        if let Some(pending) = self.task.deadlines.pending_extension.take() {
            self.changes.push(Change::ExtensionDropped {
                working_days: pending.working_days,
            });
        }
    }

    fn pending_extension(&self) -> Result<PendingExtension, TaskError> {
        self.require(
            self.task.deadlines.pending_extension.clone(),
            "a pending extension request",
        )
    }

    fn require_deadline(&self, clock: ClockKind) -> Result<jiff::Timestamp, TaskError> {
        self.task
            .deadlines
            .of(clock)
            .ok_or_else(|| TaskError::NoDeadline {
                task: self.task.id.to_string(),
                clock,
            })
    }

    fn check_extension_budget(&self, days: u32) -> Result<(), TaskError> {
        let granted = self.task.deadlines.extended_working_days();
        let max = self.engine.deadlines.max_extension_working_days;
        if granted.saturating_add(days) > max {
            return Err(TaskError::ExtensionLimit {
                requested: days,
                granted,
                max,
            });
        }
        Ok(())
    }

    fn require_children_done(&self) -> Result<(), TaskError> {
        let mut supplied: Vec<&TaskId> = self.ctx.children.iter().map(|c| &c.id).collect();
        supplied.sort();
        let mut expected: Vec<&TaskId> = self.task.children.iter().collect();
        expected.sort();
        if supplied != expected {
            let list = |ids: &[&TaskId]| {
                let names: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            };
            return Err(TaskError::ChildrenMismatch {
                task: self.task.id.to_string(),
                expected: list(&expected),
                supplied: list(&supplied),
            });
        }
        let workflow = &self.engine.workflow;
        let pending: Vec<String> = self
            .ctx
            .children
            .iter()
            .filter(|child| !workflow.child_done(&child.state))
            .map(|child| format!("{} ({})", child.id, child.state))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        Err(TaskError::ChildrenNotDone {
            task: self.task.id.to_string(),
            pending: pending.join(", "),
            done_states: workflow.config().children_done_states.join(", "),
        })
    }

    fn record_outcome(&mut self) -> Result<(), TaskError> {
        let input = self.require(self.command.outcome.clone(), "an outcome")?;
        input.validate()?;
        let now = self.ctx.now;
        let mut outcome = Outcome {
            input,
            rectify_by: None,
            history_checked_since: None,
            decided_by: self.ctx.actor.person.clone(),
            decided_at: now,
        };
        match &outcome.input {
            OutcomeInput::Rectification { working_days, .. } => {
                let due = self.engine.calendar.add_working_days(now, *working_days)?;
                outcome.rectify_by = Some(due);
            }
            OutcomeInput::FirstViolationNoPenalty {
                item,
                harm_minor,
                correction_ordered_at,
                corrected_at,
                ..
            } => {
                let history = self.require(self.ctx.history, "the subject's violation history")?;
                let claim = FirstViolationClaim {
                    subject: self.task.subject.as_ref(),
                    item,
                    harm_minor: *harm_minor,
                    correction_ordered_at: *correction_ordered_at,
                    corrected_at: *corrected_at,
                };
                let since = check_first_violation(
                    &self.engine.first_violation_list,
                    &self.engine.first_violation,
                    &self.engine.calendar,
                    history,
                    claim,
                    now,
                )?;
                outcome.history_checked_since = Some(since);
            }
            _ => {}
        }
        self.task.outcome = Some(outcome.clone());
        self.changes.push(Change::OutcomeRecorded { outcome });
        Ok(())
    }

    fn finalize_outcome(&mut self) -> Result<(), TaskError> {
        let outcome = self.require(self.task.outcome.clone(), "a recorded outcome")?;
        let kind = outcome.kind();
        self.outcome_record = Some(OutcomeRecord {
            task: self.task.id.clone(),
            subject: self.task.subject.clone(),
            area: self.task.area.clone(),
            item: outcome.input.item().map(str::to_owned),
            kind,
            violation: kind.is_violation(),
            decided_by: outcome.decided_by.clone(),
            decided_at: outcome.decided_at,
            closed_at: self.ctx.now,
        });
        self.changes.push(Change::OutcomeFinalized { kind });
        if let Some(rectify_by) = outcome.rectify_by {
            self.create_recheck(rectify_by)?;
        }
        Ok(())
    }

    /// Creates the re-check task of an ordered rectification, for the same department.
    // NOTE: the re-check's own clock starts when it is signed for, like any task;
    // the rectification deadline is stated in its description only.
    fn create_recheck(&mut self, rectify_by: jiff::Timestamp) -> Result<(), TaskError> {
        let number = self.task.follow_ups + 1;
        let id = TaskId::parse(&format!("{}-r{number}", self.task.id))?;
        let parent = &self.task;
        let new = NewTask {
            id: id.clone(),
            origin: Origin::Recheck {
                parent: parent.id.clone(),
            },
            subject: parent.subject.clone(),
            area: parent.area.clone(),
            category: parent.category.clone(),
            title: format!("复查：{}", parent.title.as_str())
                .chars()
                .take(200)
                .collect(),
            description: format!(
                "复查整改情况 (re-check the rectification) ordered by task {}, due by {rectify_by}.",
                parent.id
            ),
            lead_department: parent.lead_department.clone(),
            co_departments: Vec::new(),
            evidence: Vec::new(),
            reporter: None,
        };
        let mut recheck = self.engine.blank_task(&new, id.clone(), self.ctx.now);
        recheck.lead_department = new.lead_department;
        self.task.follow_ups = number;
        self.changes.push(Change::FollowUpCreated { task: id });
        let created = self
            .engine
            .creation(recheck, self.ctx.actor, Vec::new(), self.ctx.now);
        self.follow_ups.push(created);
        Ok(())
    }
}
