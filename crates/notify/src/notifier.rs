//! The notifier: takes alert events off the rule path, queues them in the
//! store's outbox, and delivers due notifications.
//!
//! Two tasks share the store and nothing else. The intake task receives
//! events from a broadcast channel, plans them and queues the items in one
//! store call per batch. The rule engine only sends on the channel, which
//! does not wait for receivers. The
//! delivery task claims due notifications and sends each on its own task,
//! at most `concurrency` at a time, so a slow endpoint holds one slot and
//! not the queue.
//!
//! Delivery is at least once. A notification is stored before its first
//! attempt; when the process dies during an attempt, the claim is released
//! on the next start and the notification is sent again with the same id
//! and `Idempotency-Key`.
//!
//! Failures are logged per target rather than per attempt (see
//! [`crate::outage`]): the first failure of a target, then one summary
//! when it recovers or its retries give up.
//!
//! NOTE: an event is queued a few milliseconds after its alert change is
//! committed, in a separate transaction. Events still in the broadcast
//! channel when the process dies, or emitted after the notifier stopped
//! during shutdown, are not notified.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use oversight_core::{AlertEvent, Clock};
use oversight_store::{Channel, DeliveryOutcome, NewNotification, Notification, Store};
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::backoff::retry_delay;
use crate::config::{NotifyConfig, WebhookConfig};
use crate::email::Mailer;
use crate::outage::{Counts, Outages, Report};
use crate::plan::{Planner, Timings};
use crate::routing::Routing;
use crate::{NotifyError, webhook};

/// Most events planned and queued in one store call.
const MAX_EVENTS_PER_BATCH: usize = 1024;

/// Sends reminders for alert events.
#[derive(Debug)]
pub struct Notifier {
    planner: Planner,
    sender: Arc<Sender>,
    poll_interval: Duration,
    concurrency: usize,
}

/// The state the delivery tasks share.
#[derive(Debug)]
struct Sender {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    time_zone: TimeZone,
    webhooks: HashMap<String, WebhookConfig>,
    mailer: Option<Mailer>,
    client: reqwest::Client,
    max_attempts: u32,
    retry_initial: Duration,
    retry_max: Duration,
    wake: Notify,
    outages: Outages,
}

impl Notifier {
    /// Validates `config` and builds the notifier.
    pub fn new(
        config: &NotifyConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        time_zone: TimeZone,
    ) -> Result<Self, NotifyError> {
        let routes = config.validate()?;
        let routing = Routing::new(routes, &config.recipients);
        let mailer = config.smtp.as_ref().map(Mailer::new).transpose()?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("oversight/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| NotifyError::config("webhooks", "client", &error.to_string()))?;
        let sender = Sender {
            store,
            clock,
            time_zone,
            webhooks: config
                .webhooks
                .iter()
                .map(|webhook| (webhook.id.clone(), webhook.clone()))
                .collect(),
            mailer,
            client,
            max_attempts: config.max_attempts,
            retry_initial: Duration::from_millis(config.retry_initial_ms),
            retry_max: Duration::from_secs(config.retry_max_secs),
            wake: Notify::new(),
            outages: Outages::default(),
        };
        Ok(Self {
            planner: Planner::new(Timings::from_config(config), routing),
            sender: Arc::new(sender),
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            concurrency: config.concurrency,
        })
    }

    /// Releases the claims a crash left behind, then queues `events` and
    /// delivers until `cancel` fires. In-flight attempts finish before it
    /// returns.
    pub async fn run(
        self,
        events: broadcast::Receiver<AlertEvent>,
        cancel: CancellationToken,
    ) -> Result<(), NotifyError> {
        let released = self.sender.store.release_claimed_notifications().await?;
        if released > 0 {
            warn!(
                notifications = released,
                "resending notifications whose delivery was interrupted"
            );
        }
        info!("notifier started");
        let intake = tokio::spawn(intake(
            self.planner,
            Arc::clone(&self.sender),
            events,
            cancel.clone(),
        ));
        deliver(
            Arc::clone(&self.sender),
            self.poll_interval,
            self.concurrency,
            cancel,
        )
        .await;
        if let Err(failure) = intake.await {
            error!(error = %failure, "notification intake panicked");
        }
        log_open_outages(&self.sender.outages);
        info!("notifier stopped");
        Ok(())
    }
}

async fn intake(
    mut planner: Planner,
    sender: Arc<Sender>,
    mut events: broadcast::Receiver<AlertEvent>,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = cancel.cancelled() => break,
            received = events.recv() => received,
        };
        match first {
            Ok(event) => {
                let mut batch = vec![event];
                while batch.len() < MAX_EVENTS_PER_BATCH {
                    match events.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(broadcast::error::TryRecvError::Lagged(missed)) => lagged(missed),
                        Err(_) => break,
                    }
                }
                queue(&mut planner, &sender, &batch).await;
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => lagged(missed),
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

fn lagged(missed: u64) {
    metrics::counter!("oversight_notification_events_lost_total").increment(missed);
    error!(
        events = missed,
        "notifier fell behind the alert events, their notifications are lost"
    );
}

async fn queue(planner: &mut Planner, sender: &Sender, events: &[AlertEvent]) {
    let now = sender.clock.now();
    let items: Vec<NewNotification> = events
        .iter()
        .flat_map(|event| planner.plan(event, now))
        .collect();
    if items.is_empty() {
        return;
    }
    match sender.store.queue_notifications(&items).await {
        Ok(_) => {
            metrics::counter!("oversight_notification_items_queued_total")
                .increment(items.len() as u64);
            sender.wake.notify_one();
        }
        Err(failure) => {
            metrics::counter!("oversight_notification_items_lost_total")
                .increment(items.len() as u64);
            error!(error = %failure, items = items.len(), "failed to queue notifications, they are lost");
        }
    }
}

async fn deliver(
    sender: Arc<Sender>,
    poll_interval: Duration,
    concurrency: usize,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut attempts = JoinSet::new();
    loop {
        while attempts.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free > 0 {
            claim_and_start(&sender, &slots, free, &mut attempts).await;
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = sender.wake.notified() => {}
            () = tokio::time::sleep(poll_interval) => {}
        }
    }
    while attempts.join_next().await.is_some() {}
}

async fn claim_and_start(
    sender: &Arc<Sender>,
    slots: &Arc<Semaphore>,
    free: usize,
    attempts: &mut JoinSet<()>,
) {
    let now = sender.clock.now();
    let limit = u32::try_from(free).unwrap_or(u32::MAX);
    let claimed = match sender.store.claim_notifications(now, limit).await {
        Ok(claimed) => claimed,
        Err(failure) => {
            error!(error = %failure, "failed to claim due notifications");
            return;
        }
    };
    for notification in claimed {
        let Ok(slot) = Arc::clone(slots).acquire_owned().await else {
            return;
        };
        let sender = Arc::clone(sender);
        attempts.spawn(async move {
            attempt(&sender, notification).await;
            drop(slot);
            // A freed slot may pick up notifications that are already due.
            sender.wake.notify_one();
        });
    }
}

/// Sends one notification and records the outcome.
async fn attempt(sender: &Sender, notification: Notification) {
    let channel = notification.channel.as_str();
    let result = match notification.channel {
        Channel::Inbox => Ok(()),
        Channel::Webhook => match sender.webhooks.get(&notification.target) {
            Some(endpoint) => {
                webhook::send(&sender.client, endpoint, &notification, sender.clock.now()).await
            }
            None => Err(format!(
                "webhook endpoint {:?} is not configured; add it to [[notify.webhooks]] and retry",
                notification.target
            )),
        },
        Channel::Email => match &sender.mailer {
            Some(mailer) => mailer.send(&notification, &sender.time_zone).await,
            None => Err("no [notify.smtp] server is configured; add one and retry".to_owned()),
        },
    };
    let at = sender.clock.now();
    let outcome = match result {
        Ok(()) => {
            metrics::counter!("oversight_notifications_delivered_total", "channel" => channel)
                .increment(1);
            if let Some(report) = sender.outages.delivered(target_of(&notification)) {
                log_report(report, &notification, None);
            }
            DeliveryOutcome::Delivered { at }
        }
        Err(message) => failed(sender, &notification, at, message),
    };
    if let Err(failure) = sender.store.record_delivery(notification.id, outcome).await {
        error!(error = %failure, notification = notification.id, "failed to record delivery outcome");
    }
}

fn failed(
    sender: &Sender,
    notification: &Notification,
    at: jiff::Timestamp,
    message: String,
) -> DeliveryOutcome {
    let channel = notification.channel.as_str();
    let attempts = notification.attempts + 1;
    let retry_at = (attempts < sender.max_attempts).then(|| {
        let delay = retry_delay(
            attempts,
            sender.retry_initial,
            sender.retry_max,
            &mut rand::rng(),
        );
        at.saturating_add(
            jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX),
        )
        .unwrap_or(at)
    });
    let counter = match retry_at {
        Some(_) => "oversight_notification_attempts_failed_total",
        None => "oversight_notifications_dead_total",
    };
    metrics::counter!(counter, "channel" => channel).increment(1);
    debug!(
        notification = notification.id,
        channel,
        attempts,
        error = %message,
        retry_at = ?retry_at,
        "notification attempt failed"
    );
    let reports = sender.outages.failed(
        target_of(notification),
        notification.id,
        retry_at.is_some(),
        at,
    );
    for report in reports {
        log_report(report, notification, Some((&message, retry_at)));
    }
    DeliveryOutcome::Failed {
        at,
        error: message,
        retry_at,
    }
}

/// Logs one line about a notification's target. `failure` is the attempt's
/// error and next retry, for a failed attempt.
fn log_report(
    report: Report,
    notification: &Notification,
    failure: Option<(&str, Option<jiff::Timestamp>)>,
) {
    let (channel, target) = target_of(notification);
    let channel = channel.as_str();
    match report {
        Report::Started => {
            let (error, retry_at) = failure.unwrap_or_default();
            warn!(
                channel,
                target,
                notification = notification.id,
                error,
                retry_at = ?retry_at,
                "delivery target failed, further failures are counted until it recovers"
            );
        }
        Report::GaveUp { counts, since } => error!(
            channel,
            target,
            failed_attempts = counts.failed_attempts,
            dead_letters = counts.dead_letters,
            since = %since,
            "delivery target still failing, notifications kept as dead letters"
        ),
        Report::Recovered { counts, since } => info!(
            channel,
            target,
            failed_attempts = counts.failed_attempts,
            dead_letters = counts.dead_letters,
            since = %since,
            "delivery target recovered"
        ),
    }
}

/// Logs the failures of still failing targets that no summary covered, so
/// that a stop does not hide them.
fn log_open_outages(outages: &Outages) {
    for (
        (channel, target),
        Counts {
            failed_attempts,
            dead_letters,
        },
        since,
    ) in outages.unreported()
    {
        warn!(
            channel = channel.as_str(),
            target,
            failed_attempts,
            dead_letters,
            since = %since,
            "delivery target still failing at stop"
        );
    }
}

/// Returns the channel and the name of a notification's target: the webhook
/// id, or on other channels the recipient id, which names one address and
/// keeps mail addresses out of the log.
fn target_of(notification: &Notification) -> (Channel, &str) {
    let name = match notification.channel {
        Channel::Webhook => &notification.target,
        Channel::Email | Channel::Inbox => &notification.recipient,
    };
    (notification.channel, name)
}
