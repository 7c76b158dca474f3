//! The rules service: runs the [`Evaluator`] against the store.
//!
//! One task owns the evaluator, so updates for one fingerprint are applied
//! in the order they were produced. Sources submit stored readings through a
//! bounded queue; when it is full, [`RulesHandle::submit`] waits, which slows
//! the sources down instead of dropping evaluations.
//!
//! When the store rejects a set of updates, they are lost: the service logs
//! the failure and reloads the open alerts, so the evaluator's state matches
//! the store again and the next reading that meets a condition reopens it.

use std::sync::Arc;

use oversight_core::{Clock, MonitoringPoint, Reading};
use oversight_store::{AlertChange, AlertUpdate, Store};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{Evaluator, RulesConfig, RulesError};

/// How many queued batches one store transaction covers at most.
const MAX_BATCHES_PER_WRITE: usize = 256;

/// Readings of one point that a source has stored.
#[derive(Debug, Clone)]
pub struct ReadingBatch {
    /// The point, with the limits and area in force when the readings arrived.
    pub point: Arc<MonitoringPoint>,
    /// The stored readings, in the order they were received.
    pub readings: Vec<Reading>,
}

/// The sending side of the rules service's queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct RulesHandle {
    sender: mpsc::Sender<ReadingBatch>,
}

impl RulesHandle {
    /// Queues stored readings for evaluation, waiting while the queue is full.
    pub async fn submit(&self, batch: ReadingBatch) -> Result<(), RulesError> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| RulesError::Stopped)
    }
}

/// Evaluates submitted readings and the data-missing check, and writes the
/// resulting alert updates to the store.
#[derive(Debug)]
pub struct RulesService {
    config: RulesConfig,
    store: Arc<dyn Store>,
    evaluator: Evaluator,
    receiver: mpsc::Receiver<ReadingBatch>,
}

impl RulesService {
    /// Creates the service and the handle that sources submit readings through.
    pub fn new(
        config: RulesConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, RulesHandle), RulesError> {
        config.validate()?;
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let evaluator = Evaluator::new(config.clone(), clock);
        let service = Self {
            config,
            store,
            evaluator,
            receiver,
        };
        Ok((service, RulesHandle { sender }))
    }

    /// Loads the open alerts, then evaluates until `cancel` fires or every
    /// handle is dropped. Batches still queued at that point are evaluated
    /// before returning. Fails only when the open alerts cannot be loaded.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), RulesError> {
        let open = self
            .store
            .open_alerts()
            .await
            .map_err(RulesError::LoadOpenAlerts)?;
        self.evaluator.restore(&open);
        info!(open_alerts = open.len(), "rules started");

        let mut ticker = tokio::time::interval(self.config.tick_interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                _ = ticker.tick() => self.check_missing().await,
                batch = self.receiver.recv() => match batch {
                    Some(batch) => self.evaluate_queued(batch).await,
                    None => break,
                },
            }
        }
        self.receiver.close();
        while let Some(batch) = self.receiver.recv().await {
            self.evaluate_queued(batch).await;
        }
        info!("rules stopped");
        Ok(())
    }

    /// Evaluates `first` and whatever else is queued, up to
    /// [`MAX_BATCHES_PER_WRITE`], and applies the updates in one call.
    async fn evaluate_queued(&mut self, first: ReadingBatch) {
        let mut updates = Vec::new();
        let mut batch = Some(first);
        let mut batches = 0;
        while let Some(current) = batch.take() {
            metrics::counter!("oversight_rules_readings_evaluated_total")
                .increment(current.readings.len() as u64);
            updates.extend(self.evaluator.evaluate(&current.point, &current.readings));
            batches += 1;
            if batches < MAX_BATCHES_PER_WRITE {
                batch = self.receiver.try_recv().ok();
            }
        }
        self.apply(updates).await;
    }

    async fn check_missing(&mut self) {
        match self.store.point_statuses(None).await {
            Ok(statuses) => {
                let updates = self.evaluator.check_missing(&statuses);
                self.apply(updates).await;
            }
            Err(error) => {
                warn!(error = %error, "failed to read point statuses, data-missing check skipped");
            }
        }
    }

    async fn apply(&mut self, updates: Vec<AlertUpdate>) {
        if updates.is_empty() {
            return;
        }
        match self.store.apply_alert_updates(&updates).await {
            Ok(changes) => changes.iter().for_each(record_change),
            Err(error) => {
                metrics::counter!("oversight_rules_store_failures_total").increment(1);
                error!(error = %error, updates = updates.len(), "failed to apply alert updates, reloading open alerts");
                self.reload().await;
            }
        }
    }

    async fn reload(&mut self) {
        match self.store.open_alerts().await {
            Ok(open) => self.evaluator.restore(&open),
            Err(error) => error!(error = %error, "failed to reload open alerts"),
        }
    }
}

/// Logs and counts what one update did.
fn record_change(change: &AlertChange) {
    match change {
        AlertChange::Opened(alert) => {
            metrics::counter!("oversight_alerts_opened_total", "kind" => alert.kind.as_str())
                .increment(1);
            info!(
                fingerprint = %alert.fingerprint,
                severity = alert.severity.as_str(),
                value = ?alert.trigger_value,
                "alert opened"
            );
        }
        AlertChange::Resolved(alert) => {
            metrics::counter!("oversight_alerts_resolved_total", "kind" => alert.kind.as_str())
                .increment(1);
            info!(fingerprint = %alert.fingerprint, "alert resolved");
        }
        AlertChange::Updated(alert) => {
            debug!(fingerprint = %alert.fingerprint, count = alert.count, "alert updated");
        }
        AlertChange::Unchanged => {}
    }
}
