//! The rules service: runs the [`Engine`] against the store.
//!
//! One task owns the engine, so the updates of one fingerprint are applied
//! in the order they were produced, and commands from the API (acknowledge,
//! resolve, enable, reload) are ordered with the readings. Sources submit
//! stored readings through a bounded queue; when it is full,
//! [`RulesHandle::submit`] waits, which slows the sources down instead of
//! dropping evaluations.
//!
//! Every alert write goes through [`RulesService::apply`]: the store applies
//! the updates in one transaction and records each transition, the engine
//! learns the alert ids and asks for escalations, and the events go to the
//! [`AlertEventSink`] with their suppression (flapping, silence,
//! inhibition). When the store rejects a set of updates they are lost: the
//! service logs the failure and reloads the open alerts, so the engine's
//! state matches the store again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oversight_core::{
    Actor, Alert, AlertEvent, AlertId, Clock, MonitoringPoint, Reading, Suppression,
};
use oversight_store::{
    AlertChange, AlertUpdate, NewTask, PointQuery, ReadingQuery, RuleChange, Silence, SortOrder,
    Store, StoreError,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::pack::{self, PackError};
use crate::task_sink::{StoreTaskSink, default_task_engine};
use crate::{
    Engine, EngineConfig, PackSummary, Rule, RuleErrors, RuleSet, RulesConfig, RulesError,
};

/// How many queued batches one store transaction covers at most.
const MAX_BATCHES_PER_WRITE: usize = 256;

/// How often the registered points are read again for the missing rules.
const POINT_REFRESH: Duration = Duration::from_secs(60);

/// Readings of one point that a source has stored.
#[derive(Debug, Clone)]
pub struct ReadingBatch {
    /// The point, with the limits and area in force when the readings arrived.
    pub point: Arc<MonitoringPoint>,
    /// The stored readings, in the order they were received.
    pub readings: Vec<Reading>,
}

/// Receives every alert transition after it is stored, in order.
#[async_trait]
pub trait AlertEventSink: Send + Sync + std::fmt::Debug {
    /// Takes the events of one store transaction.
    async fn alert_events(&self, events: &[AlertEvent]);
}

/// Creates supervision tasks from alerts.
#[async_trait]
pub trait TaskSink: Send + Sync + std::fmt::Debug {
    /// Creates `task` for its origin alert and records the alert's
    /// escalation, returning the alert's `Escalated` event.
    async fn create_task(&self, task: NewTask) -> Result<AlertChange, StoreError>;
}

/// The rules as the API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    /// The packs, in load order.
    pub packs: Vec<PackSummary>,
    /// The digest of the active rule set.
    pub digest: String,
    /// Every active rule.
    #[serde(skip)]
    pub rules: Vec<Arc<Rule>>,
    /// The active rule set, for backtests of the rules that run.
    #[serde(skip)]
    pub rule_set: Arc<RuleSet>,
    /// Whether each rule runs, by id.
    pub enabled: BTreeMap<String, bool>,
    /// Run-time errors by rule id.
    pub errors: BTreeMap<String, RuleErrors>,
    /// The errors of the latest rejected reload, if the latest reload failed.
    pub rejected: Vec<String>,
}

/// A request to the service.
#[derive(Debug)]
pub enum Command {
    /// Acknowledge an open alert.
    Acknowledge {
        /// The alert.
        id: AlertId,
        /// Who.
        actor: String,
        /// An optional comment.
        reason: Option<String>,
        /// The alert afterwards.
        reply: oneshot::Sender<Result<Alert, RulesError>>,
    },
    /// Resolve an open alert by hand.
    Resolve {
        /// The alert.
        id: AlertId,
        /// Who.
        actor: String,
        /// Why.
        reason: String,
        /// The alert afterwards.
        reply: oneshot::Sender<Result<Alert, RulesError>>,
    },
    /// Enable or disable a rule.
    SetEnabled {
        /// The rule.
        rule_id: String,
        /// Run it or not.
        enabled: bool,
        /// Who.
        actor: String,
        /// Done.
        reply: oneshot::Sender<Result<(), RulesError>>,
    },
    /// Reload the operator's packs now.
    Reload {
        /// The new digest, or the packs' errors.
        reply: oneshot::Sender<Result<String, RulesError>>,
    },
    /// Report the rules.
    Status {
        /// The status.
        reply: oneshot::Sender<RuleStatus>,
    },
    /// Silences changed; read them again.
    SilencesChanged,
}

/// The sending side of the rules service; cheap to clone.
#[derive(Debug, Clone)]
pub struct RulesHandle {
    sender: mpsc::Sender<ReadingBatch>,
    commands: mpsc::Sender<Command>,
}

impl RulesHandle {
    /// Queues stored readings for evaluation, waiting while the queue is full.
    pub async fn submit(&self, batch: ReadingBatch) -> Result<(), RulesError> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| RulesError::Stopped)
    }

    /// Sends a command built around its reply channel and waits for the reply.
    pub async fn request<T>(
        &self,
        build: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, RulesError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(build(reply))
            .await
            .map_err(|_| RulesError::Stopped)?;
        answer.await.map_err(|_| RulesError::Stopped)
    }

    /// Tells the service that silences changed.
    pub async fn silences_changed(&self) {
        // A stopped service has no silences to refresh.
        let _ = self.commands.send(Command::SilencesChanged).await;
    }
}

/// Evaluates submitted readings, runs the timers and applies commands.
#[derive(Debug)]
pub struct RulesService {
    config: RulesConfig,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Engine,
    builtin: Vec<pack::RulePack>,
    events: Arc<dyn AlertEventSink>,
    tasks: Arc<dyn TaskSink>,
    receiver: mpsc::Receiver<ReadingBatch>,
    commands: mpsc::Receiver<Command>,
    silences: Vec<Silence>,
    loaded_files: Option<String>,
    rejected: Vec<String>,
}

impl RulesService {
    /// Loads the built-in and operator packs and creates the service and the
    /// handle that sources and the API use. Fails on an invalid pack.
    pub fn new(
        config: RulesConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn AlertEventSink>,
        engine_config: EngineConfig,
    ) -> Result<(Self, RulesHandle), RulesError> {
        config.validate()?;
        let builtin = crate::builtin_packs().map_err(RulesError::Packs)?;
        let operator = load_operator(config.dir.as_ref())?;
        let rules = RuleSet::build(builtin.clone(), operator)?;
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let (command_sender, commands) = mpsc::channel(64);
        let engine_config = EngineConfig {
            flap_high: config.flap_high_percent,
            flap_low: config.flap_low_percent,
            ..engine_config
        };
        let engine = Engine::new(Arc::new(rules), engine_config, Arc::clone(&clock));
        let tasks: Arc<dyn TaskSink> = Arc::new(StoreTaskSink::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::new(default_task_engine()),
        ));
        let loaded_files = config.dir.as_ref().and_then(|dir| files_digest(dir).ok());
        let service = Self {
            config,
            store,
            clock,
            engine,
            builtin,
            events,
            tasks,
            receiver,
            commands,
            silences: Vec::new(),
            loaded_files,
            rejected: Vec::new(),
        };
        Ok((
            service,
            RulesHandle {
                sender,
                commands: command_sender,
            },
        ))
    }

    /// Replaces the task sink.
    pub fn with_task_sink(mut self, tasks: Arc<dyn TaskSink>) -> Self {
        self.tasks = tasks;
        self
    }

    /// Loads the open alerts, switches and silences, records the loaded
    /// rules, then evaluates until `cancel` fires or every handle is
    /// dropped. Batches still queued then are evaluated before returning.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), RulesError> {
        self.start().await?;
        let mut ticker = tokio::time::interval(self.config.tick_interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_reload_check = Instant::now();
        let mut last_point_refresh = Instant::now();
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(command) = self.commands.recv() => self.command(command).await,
                _ = ticker.tick() => {
                    if last_point_refresh.elapsed() >= POINT_REFRESH {
                        self.refresh_points().await;
                        self.refresh_silences().await;
                        last_point_refresh = Instant::now();
                    }
                    if last_reload_check.elapsed() >= Duration::from_secs(self.config.reload_interval_secs) {
                        self.reload_if_changed().await;
                        last_reload_check = Instant::now();
                    }
                    self.tick().await;
                }
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

    async fn start(&mut self) -> Result<(), RulesError> {
        let switches = self.store.rule_switches().await?;
        self.engine.set_switches(switches);
        self.refresh_points().await;
        self.refresh_silences().await;
        let open = self.store.open_alerts().await?;
        self.engine.restore(&open);
        self.record_change("loaded", None, Actor::Engine, self.pack_detail())
            .await;
        info!(
            open_alerts = open.len(),
            rules = self.engine.rules().rules().len(),
            digest = %self.engine.rules().digest(),
            "rules started"
        );
        Ok(())
    }

    fn pack_detail(&self) -> String {
        self.engine
            .rules()
            .packs()
            .iter()
            .map(|pack| {
                format!(
                    "{} {} ({}, sha256 {})",
                    pack.id, pack.version, pack.origin, pack.sha256
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn record_change(
        &self,
        action: &str,
        rule_id: Option<&str>,
        actor: Actor,
        detail: String,
    ) {
        let change = RuleChange {
            id: 0,
            at: self.clock.now(),
            action: action.to_owned(),
            rule_id: rule_id.map(str::to_owned),
            actor,
            digest: self.engine.rules().digest(),
            detail,
        };
        if let Err(failure) = self.store.record_rule_change(&change).await {
            error!(error = %failure, action, "failed to record rule change");
        }
    }

    async fn refresh_points(&mut self) {
        let mut query = PointQuery {
            limit: 1000,
            ..PointQuery::default()
        };
        loop {
            match self.store.points(&query).await {
                Ok(page) => {
                    self.engine
                        .register_points(page.items.into_iter().map(Arc::new));
                    let Some(cursor) = page.next_cursor else {
                        return;
                    };
                    query.cursor = Some(cursor);
                }
                Err(failure) => {
                    warn!(error = %failure, "failed to read points for the missing-data rules");
                    return;
                }
            }
        }
    }

    async fn refresh_silences(&mut self) {
        match self.store.silences(Some(self.clock.now())).await {
            Ok(silences) => self.silences = silences,
            Err(failure) => warn!(error = %failure, "failed to read silences"),
        }
    }

    /// Evaluates `first` and whatever else is queued, up to
    /// [`MAX_BATCHES_PER_WRITE`], and applies the updates in one call.
    async fn evaluate_queued(&mut self, first: ReadingBatch) {
        let mut updates = Vec::new();
        // Receive times of the batches that met a rule, for the detection latency.
        let mut triggered = Vec::new();
        let mut batch = Some(first);
        let mut batches = 0;
        while let Some(current) = batch.take() {
            metrics::counter!("oversight_rules_readings_evaluated_total")
                .increment(current.readings.len() as u64);
            self.prime_if_needed(&current).await;
            let before = updates.len();
            updates.extend(self.engine.evaluate(&current.point, &current.readings));
            let met = updates[before..]
                .iter()
                .any(|update| matches!(update, AlertUpdate::Trigger(_)));
            if met && let Some(received) = current.readings.iter().map(|r| r.received_at).min() {
                triggered.push(received);
            }
            batches += 1;
            if batches < MAX_BATCHES_PER_WRITE {
                batch = self.receiver.try_recv().ok();
            }
        }
        if self.apply(updates).await {
            let now = self.clock.now();
            for received in triggered {
                let latency = now.duration_since(received).as_secs_f64().max(0.0);
                metrics::histogram!("oversight_detection_latency_seconds").record(latency);
            }
        }
    }

    /// Replays the point's stored readings before its first evaluation since
    /// the start or a reload, so windows, runs and previous values survive.
    async fn prime_if_needed(&mut self, batch: &ReadingBatch) {
        let Some(lookback) = self.engine.needs_priming(&batch.point.mn) else {
            return;
        };
        let Some(oldest) = batch.readings.iter().map(|reading| reading.data_time).min() else {
            return;
        };
        let query = ReadingQuery {
            mn: batch.point.mn.clone(),
            factor: None,
            kind: None,
            from: oldest.checked_sub(lookback).ok(),
            to: Some(oldest),
            order: SortOrder::Ascending,
            limit: 10_000,
            cursor: None,
        };
        match self.store.readings(&query).await {
            Ok(page) => self.engine.prime(&batch.point, &page.items),
            Err(failure) => {
                warn!(error = %failure, mn = %batch.point.mn, "failed to read history, windows start empty");
                self.engine.prime(&batch.point, &[]);
            }
        }
    }

    async fn tick(&mut self) {
        match self.store.point_statuses(None).await {
            Ok(statuses) => {
                let updates = self.engine.check_missing(&statuses);
                self.apply(updates).await;
            }
            Err(failure) => {
                warn!(error = %failure, "failed to read point statuses, missing-data check skipped");
            }
        }
        let escalations = self.engine.check_escalations();
        self.escalate(escalations).await;
    }

    /// Applies updates, records what they did and emits the events. Returns
    /// false when the store refused the updates.
    async fn apply(&mut self, updates: Vec<AlertUpdate>) -> bool {
        if updates.is_empty() {
            return true;
        }
        match self.store.apply_alert_updates(&updates).await {
            Ok(changes) => {
                let events: Vec<AlertEvent> = changes.into_iter().flatten().collect();
                let escalations = self.engine.observe(&events);
                self.emit(events).await;
                self.escalate(escalations).await;
                true
            }
            Err(failure) => {
                metrics::counter!("oversight_rules_store_failures_total").increment(1);
                error!(error = %failure, updates = updates.len(), "failed to apply alert updates, reloading open alerts");
                match self.store.open_alerts().await {
                    Ok(open) => self.engine.restore(&open),
                    Err(failure) => error!(error = %failure, "failed to reload open alerts"),
                }
                false
            }
        }
    }

    async fn escalate(&mut self, escalations: Vec<AlertUpdate>) {
        let mut events = Vec::new();
        for update in escalations {
            let AlertUpdate::Escalate { task, .. } = update else {
                continue;
            };
            let alert = task.origin_alert;
            match self.tasks.create_task(task).await {
                Ok(Some(event)) => {
                    metrics::counter!("oversight_alerts_escalated_total").increment(1);
                    info!(alert = %alert, "alert escalated to a task");
                    events.push(event);
                }
                Ok(None) => {}
                Err(failure) => {
                    error!(error = %failure, alert = %alert, "failed to create task for alert");
                }
            }
        }
        self.emit(events).await;
    }

    /// Marks each event's suppression and hands the events to the sink.
    async fn emit(&self, mut events: Vec<AlertEvent>) {
        if events.is_empty() {
            return;
        }
        let now = self.clock.now();
        for event in &mut events {
            event.suppressed = self.suppression(event, now);
            record_event(event);
        }
        self.events.alert_events(&events).await;
    }

    fn suppression(&self, event: &AlertEvent, now: jiff::Timestamp) -> Option<Suppression> {
        let alert = &event.alert;
        if alert.flapping {
            return Some(Suppression::Flapping);
        }
        if let Some(silence) = self
            .silences
            .iter()
            .find(|silence| silence.matches(now, &alert.rule_id, &alert.mn, &alert.area))
        {
            return Some(Suppression::Silenced {
                silence_id: silence.id,
            });
        }
        self.engine
            .inhibitor(&alert.mn, &alert.rule_id)
            .map(|by| Suppression::Inhibited { by })
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Acknowledge {
                id,
                actor,
                reason,
                reply,
            } => {
                let update = AlertUpdate::Acknowledge {
                    id,
                    at: self.clock.now(),
                    actor: Actor::User(actor),
                    reason,
                };
                let _ = reply.send(self.apply_one(update, id).await);
            }
            Command::Resolve {
                id,
                actor,
                reason,
                reply,
            } => {
                let update = AlertUpdate::ResolveById {
                    id,
                    at: self.clock.now(),
                    actor: Actor::User(actor),
                    reason,
                };
                let _ = reply.send(self.apply_one(update, id).await);
            }
            Command::SetEnabled {
                rule_id,
                enabled,
                actor,
                reply,
            } => {
                let actor = Actor::User(actor);
                let _ = reply.send(self.set_enabled(&rule_id, enabled, actor).await);
            }
            Command::Reload { reply } => {
                let _ = reply.send(self.reload().await);
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::SilencesChanged => self.refresh_silences().await,
        }
    }

    /// Applies one update from a person and returns the alert afterwards.
    async fn apply_one(&mut self, update: AlertUpdate, id: AlertId) -> Result<Alert, RulesError> {
        let changes = self.store.apply_alert_updates(&[update]).await?;
        let events: Vec<AlertEvent> = changes.into_iter().flatten().collect();
        let escalations = self.engine.observe(&events);
        let alert = events.first().map(|event| event.alert.clone());
        self.emit(events).await;
        self.escalate(escalations).await;
        match alert {
            Some(alert) => Ok(alert),
            None => self.store.alert(id).await?.ok_or_else(|| {
                RulesError::Store(StoreError::NotFound {
                    what: "alert",
                    key: id.to_string(),
                })
            }),
        }
    }

    async fn set_enabled(
        &mut self,
        rule_id: &str,
        enabled: bool,
        actor: Actor,
    ) -> Result<(), RulesError> {
        if self.engine.rules().rule(rule_id).is_none() {
            return Err(RulesError::UnknownRule(rule_id.to_owned()));
        }
        let action = if enabled { "enabled" } else { "disabled" };
        let change = RuleChange {
            id: 0,
            at: self.clock.now(),
            action: action.to_owned(),
            rule_id: Some(rule_id.to_owned()),
            digest: self.engine.rules().digest(),
            detail: format!("rule {rule_id} {action} by {actor}"),
            actor,
        };
        self.store.record_rule_change(&change).await?;
        self.engine.set_enabled(rule_id, enabled);
        info!(rule = rule_id, enabled, actor = %change.actor, "rule switched");
        Ok(())
    }

    async fn reload_if_changed(&mut self) {
        let Some(dir) = self.config.dir.clone() else {
            return;
        };
        let Ok(digest) = files_digest(&dir) else {
            return;
        };
        if self.loaded_files.as_deref() == Some(digest.as_str()) {
            return;
        }
        self.loaded_files = Some(digest);
        if let Err(failure) = self.reload().await {
            error!(error = %failure, "rule packs rejected, the previous rules keep running");
        }
    }

    /// Loads the operator's packs again; on any error the active rules stay.
    async fn reload(&mut self) -> Result<String, RulesError> {
        let built = load_operator(self.config.dir.as_ref())
            .and_then(|operator| Ok(RuleSet::build(self.builtin.clone(), operator)?));
        match built {
            Ok(rules) => {
                let digest = rules.digest();
                if digest != self.engine.rules().digest() {
                    self.engine.replace_rules(Arc::new(rules));
                    self.record_change("reloaded", None, Actor::Engine, self.pack_detail())
                        .await;
                    info!(digest = %digest, "rule packs reloaded");
                }
                self.rejected.clear();
                Ok(digest)
            }
            Err(failure) => {
                let detail = failure.to_string();
                self.rejected = detail.lines().map(str::to_owned).collect();
                metrics::counter!("oversight_rule_reloads_rejected_total").increment(1);
                self.record_change("rejected", None, Actor::Engine, detail)
                    .await;
                Err(failure)
            }
        }
    }

    fn status(&self) -> RuleStatus {
        let rules = self.engine.rules();
        RuleStatus {
            packs: rules.packs().to_vec(),
            digest: rules.digest(),
            rules: rules.rules().to_vec(),
            rule_set: Arc::clone(rules),
            enabled: rules
                .rules()
                .iter()
                .map(|rule| (rule.id.clone(), self.engine.is_enabled(rule)))
                .collect(),
            errors: self.engine.errors().clone(),
            rejected: self.rejected.clone(),
        }
    }
}

/// Builds the rule set a server with `config` runs: the built-in packs and
/// the packs of `config.dir`. Rules switched on or off through the API are
/// stored apart, in [`Store::rule_switches`].
pub fn load_rule_set(config: &RulesConfig) -> Result<RuleSet, RulesError> {
    let builtin = crate::builtin_packs().map_err(RulesError::Packs)?;
    let operator = load_operator(config.dir.as_ref())?;
    Ok(RuleSet::build(builtin, operator)?)
}

fn load_operator(dir: Option<&PathBuf>) -> Result<Vec<pack::RulePack>, RulesError> {
    match dir {
        Some(dir) => pack::load_dir(dir).map_err(RulesError::Packs),
        None => Ok(Vec::new()),
    }
}

/// Returns a digest of the names, sizes and modification times of the pack
/// files, to notice changes without reading them.
fn files_digest(dir: &std::path::Path) -> Result<String, PackError> {
    let files = pack::toml_files(dir).map_err(|message| PackError {
        file: dir.display().to_string(),
        rule: None,
        line: None,
        column: None,
        message,
    })?;
    let mut digest = String::new();
    for file in files {
        let metadata = std::fs::metadata(&file).ok();
        let modified = metadata
            .as_ref()
            .and_then(|metadata| metadata.modified().ok())
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos());
        let size = metadata.map_or(0, |metadata| metadata.len());
        digest.push_str(&format!("{}:{size}:{modified};", file.display()));
    }
    Ok(digest)
}

/// Logs and counts one transition.
fn record_event(event: &AlertEvent) {
    let transition = event.transition.as_str();
    metrics::counter!("oversight_alert_transitions_total", "transition" => transition).increment(1);
    if event.transition == oversight_core::AlertTransition::Repeated {
        return;
    }
    info!(
        fingerprint = %event.alert.fingerprint,
        transition,
        severity = event.alert.severity.as_str(),
        actor = %event.actor,
        suppressed = event.suppressed.is_some(),
        "alert transition"
    );
}

/// The event sink that only logs, for tools that run the service without
/// notification delivery.
#[derive(Debug, Default)]
pub struct LogEventSink;

#[async_trait]
impl AlertEventSink for LogEventSink {
    async fn alert_events(&self, _events: &[AlertEvent]) {}
}
