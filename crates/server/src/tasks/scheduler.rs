//! The scheduler: sends the reminders (催办) and escalations (督办) that are due.
//!
//! Every pass reads the open tasks whose running deadline is at most
//! [`HORIZON`] ahead of the server's clock, gets from the engine the actions
//! that are due and not yet sent, and stores each as a `remind` or `escalate`
//! transition record, which marks it sent. A failure on one task is logged
//! and the pass goes on with the others; the next pass retries it.

use std::time::Duration;

use jiff::SignedDuration;
use oversight_store::{TaskQuery, TaskWrite};
use oversight_tasks::Task;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{TaskService, TaskServiceError};

/// How far ahead of a deadline the scheduler looks for reminders.
// NOTE: a reminder configured more than 31 calendar days before its deadline
// is sent only once the deadline is 31 days away.
const HORIZON: SignedDuration = SignedDuration::from_hours(31 * 24);

/// Tasks read per page.
const PAGE: u32 = 500;

/// Runs a scheduler pass every `interval` until `cancel` fires.
pub async fn run_scheduler(service: TaskService, interval: Duration, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    info!(interval_secs = interval.as_secs(), "task scheduler started");
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {
                match service.send_due_notices().await {
                    Ok(0) => {}
                    Ok(sent) => info!(sent, "task notices sent"),
                    Err(failure) => error!(error = %failure, "task scheduler pass failed"),
                }
            }
        }
    }
    info!("task scheduler stopped");
}

impl TaskService {
    /// Sends every reminder and escalation due now. Returns how many were sent.
    pub async fn send_due_notices(&self) -> Result<usize, TaskServiceError> {
        let now = self.now();
        let mut query = TaskQuery {
            due_before: Some(now.saturating_add(HORIZON).unwrap_or(now)),
            limit: PAGE,
            ..TaskQuery::default()
        };
        let mut sent = 0;
        loop {
            let page = self.store.tasks(&query).await?;
            for task in &page.items {
                match self.send_notices_of(task, now).await {
                    Ok(count) => sent += count,
                    Err(failure) => {
                        metrics::counter!("oversight_task_notice_failures_total").increment(1);
                        warn!(error = %failure, task = %task.id, "failed to send task notices");
                    }
                }
            }
            let Some(cursor) = page.next_cursor else {
                break;
            };
            query.cursor = Some(cursor);
        }
        Ok(sent)
    }

    async fn send_notices_of(
        &self,
        task: &Task,
        now: jiff::Timestamp,
    ) -> Result<usize, TaskServiceError> {
        let actions = self.engine.due_actions(task, now)?;
        let mut current = task.clone();
        let mut writes = Vec::with_capacity(actions.len());
        for action in &actions {
            let applied = self.engine.record_notice(&current, action, now);
            writes.push(TaskWrite::new(
                self.engine.workflow(),
                applied.task.clone(),
                applied.record,
                None,
            ));
            current = applied.task;
        }
        if writes.is_empty() {
            return Ok(0);
        }
        self.store.write_tasks(&writes, None).await?;
        for action in &actions {
            metrics::counter!("oversight_task_notices_total", "kind" => action.kind.as_str())
                .increment(1);
            info!(
                task = %task.id,
                kind = action.kind.as_str(),
                clock = action.clock.as_str(),
                deadline = %action.deadline,
                "task notice recorded"
            );
        }
        Ok(writes.len())
    }
}
