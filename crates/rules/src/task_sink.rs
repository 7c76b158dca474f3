//! The escalation hook: turns an escalated alert into a supervision task.
//!
//! The task engine of `oversight-tasks` creates the task (and a child task per
//! co-operating department) in the workflow's initial state, with the alert
//! as its origin, and the store writes the tasks and the alert's `Escalated`
//! transition in one transaction, so an alert is never marked escalated
//! without its task or the other way round.

use std::sync::Arc;

use async_trait::async_trait;
use oversight_core::{Alert, Clock};
use oversight_store::{
    AlertChange, Escalation, NewTask, RULE_ENGINE_PERSON, Store, StoreError, TaskWrite,
};
use oversight_tasks::{
    Actor, Category, DepartmentId, Engine, FirstViolationList, Holidays, MAX_NAME_CHARS, Origin,
    PersonId, Role, SubjectId, TasksConfig,
};

use crate::service::TaskSink;

/// The category of an escalated alert whose rule names none.
const FALLBACK_CATEGORY: &str = "exceedance";

/// Returns a task engine with the built-in workflow and deadlines, no
/// departments and the built-in holiday calendar.
pub fn default_task_engine() -> Engine {
    Engine::new(
        TasksConfig::default(),
        Holidays::china(),
        FirstViolationList::empty(),
    )
    .expect("the built-in task configuration is valid")
}

/// The stored task sink: creates the task with the task engine and writes
/// it together with the alert's escalation.
#[derive(Debug, Clone)]
pub struct StoreTaskSink {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Arc<Engine>,
}

impl StoreTaskSink {
    /// Creates the sink.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, engine: Arc<Engine>) -> Self {
        Self {
            store,
            clock,
            engine,
        }
    }

    fn new_task(
        &self,
        id: oversight_tasks::TaskId,
        alert: &Alert,
        request: &NewTask,
    ) -> oversight_tasks::NewTask {
        // A department the task configuration does not know is left to
        // routing when the task is dispatched.
        let lead_department = DepartmentId::parse(&request.department)
            .ok()
            .filter(|department| self.engine.directory().department(department).is_ok());
        let category = Category::parse(&alert.category).unwrap_or_else(|_| {
            Category::parse(FALLBACK_CATEGORY).expect("the fallback category is valid")
        });
        let title: String = request.title.chars().take(MAX_NAME_CHARS).collect();
        let description = format!(
            "{} The escalation policy asks for handling by {} (department {}).",
            request.title, request.deadline, request.department
        );
        oversight_tasks::NewTask {
            id,
            origin: Origin::Alert { alert_id: alert.id },
            subject: SubjectId::parse(alert.mn.as_str()).ok(),
            area: alert.area.clone(),
            category,
            title,
            description,
            lead_department,
            co_departments: Vec::new(),
            evidence: Vec::new(),
            reporter: None,
        }
    }
}

#[async_trait]
impl TaskSink for StoreTaskSink {
    async fn create_task(&self, request: NewTask) -> Result<AlertChange, StoreError> {
        let Some(alert) = self.store.alert(request.origin_alert).await? else {
            return Err(StoreError::NotFound {
                what: "alert",
                key: request.origin_alert.to_string(),
            });
        };
        let id = self.store.next_task_id().await?;
        let new = self.new_task(id, &alert, &request);
        let role = self
            .engine
            .workflow()
            .config()
            .create_roles
            .first()
            .copied()
            .unwrap_or(Role::Dispatcher);
        let actor = Actor {
            person: PersonId::parse(RULE_ENGINE_PERSON).expect("the rule engine's id is valid"),
            role,
            department: None,
        };
        let now = self.clock.now();
        let created = self
            .engine
            .create(&new, &actor, now)
            .map_err(|error| StoreError::Conflict(format!("cannot create the task: {error}")))?;
        let workflow = self.engine.workflow();
        let writes: Vec<TaskWrite> = std::iter::once(created.lead)
            .chain(created.children)
            .map(|c| TaskWrite::new(workflow, c.task, c.record, None))
            .collect();
        let escalation = Escalation {
            alert: request.origin_alert,
            at: now,
        };
        self.store.write_tasks(&writes, Some(&escalation)).await
    }
}
