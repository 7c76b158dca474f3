//! Supervision tasks in the server: the operations of the API and the
//! scheduler, over the task engine and the store.
//!
//! Every operation reads the task, lets [`oversight_tasks::Engine`] decide
//! (which rejects illegal transitions and records every change), and stores
//! the new task with its transition record in one write. The store rejects a
//! write based on an outdated version, so two concurrent operations on one
//! task cannot both succeed.

mod evidence;
mod scheduler;

pub use evidence::{EvidenceError, EvidenceFiles, EvidenceUpload};
pub use scheduler::run_scheduler;

use std::sync::Arc;

use oversight_core::Clock;
use oversight_store::{Store, StoreError, TaskWrite};
use oversight_tasks::{
    Actor, Applied, Command, Context, CreatedTasks, Engine, NewTask, OutcomeInput, OutcomeRecord,
    Task, TaskError, TaskId,
};

/// The reason a task operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskServiceError {
    /// The engine rejected the operation; the task is unchanged.
    #[error(transparent)]
    Rejected(#[from] TaskError),
    /// The store failed or rejected the write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task does not exist.
    #[error("task {0:?} not found")]
    NotFound(String),
    /// The client's version is not the stored one.
    #[error(
        "task {task} is at version {stored}, not {expected}: it changed meanwhile; reload it and retry"
    )]
    VersionMismatch {
        /// The task.
        task: TaskId,
        /// The version the client expected.
        expected: u64,
        /// The stored version.
        stored: u64,
    },
}

/// The task operations shared by the API and the scheduler.
#[derive(Debug, Clone)]
pub struct TaskService {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    evidence: EvidenceFiles,
}

impl TaskService {
    /// Creates the service.
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        evidence: EvidenceFiles,
    ) -> Self {
        Self {
            engine,
            store,
            clock,
            evidence,
        }
    }

    /// Returns the task engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Returns the evidence file store.
    pub fn evidence(&self) -> &EvidenceFiles {
        &self.evidence
    }

    /// Returns the server's current time.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Returns one task, or [`TaskServiceError::NotFound`].
    pub async fn task(&self, id: &TaskId) -> Result<Task, TaskServiceError> {
        self.store
            .task(id)
            .await?
            .ok_or_else(|| TaskServiceError::NotFound(id.to_string()))
    }

    /// Creates a task, with the id the store allocates, and its child tasks.
    pub async fn create(
        &self,
        build: impl FnOnce(TaskId) -> NewTask,
        actor: &Actor,
    ) -> Result<CreatedTasks, TaskServiceError> {
        let id = self.store.next_task_id().await?;
        let new = build(id);
        let created = self.engine.create(&new, actor, self.clock.now())?;
        let workflow = self.engine.workflow();
        let writes: Vec<TaskWrite> = std::iter::once(&created.lead)
            .chain(&created.children)
            .map(|c| TaskWrite::new(workflow, c.task.clone(), c.record.clone(), None))
            .collect();
        self.store.write_tasks(&writes, None).await?;
        Ok(created)
    }

    /// Applies `command` to a task as `actor`. With `expected_version`, the
    /// operation fails unless the stored task has that version.
    pub async fn apply(
        &self,
        id: &TaskId,
        command: &Command,
        actor: &Actor,
        expected_version: Option<u64>,
    ) -> Result<Applied, TaskServiceError> {
        let task = self.task(id).await?;
        if let Some(expected) = expected_version
            && expected != task.version
        {
            return Err(TaskServiceError::VersionMismatch {
                task: task.id,
                expected,
                stored: task.version,
            });
        }
        let mut children = Vec::with_capacity(task.children.len());
        for child in &task.children {
            children.push(self.task(child).await?);
        }
        let history: Option<Vec<OutcomeRecord>> = match (&task.subject, &command.outcome) {
            (Some(subject), Some(OutcomeInput::FirstViolationNoPenalty { .. })) => {
                Some(self.store.outcome_records(subject).await?)
            }
            _ => None,
        };
        // The context borrows the history as a trait object, which is not
        // Send, so it must be gone before the next await.
        let applied = {
            let context = Context {
                actor,
                now: self.clock.now(),
                children: &children,
                history: history
                    .as_ref()
                    .map(|records| records as &dyn oversight_tasks::ViolationHistory),
            };
            self.engine.apply(&task, command, &context)?
        };
        self.store_applied(&applied).await?;
        Ok(applied)
    }

    /// Stores an applied operation with the tasks it created.
    async fn store_applied(&self, applied: &Applied) -> Result<(), TaskServiceError> {
        let workflow = self.engine.workflow();
        let mut writes = vec![TaskWrite::new(
            workflow,
            applied.task.clone(),
            applied.record.clone(),
            applied.outcome_record.clone(),
        )];
        writes.extend(
            applied
                .follow_ups
                .iter()
                .map(|c| TaskWrite::new(workflow, c.task.clone(), c.record.clone(), None)),
        );
        self.store.write_tasks(&writes, None).await?;
        Ok(())
    }
}
