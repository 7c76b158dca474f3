//! Planning: turning alert events into notification items with their
//! recipients, groups and earliest send times.
//!
//! The timings follow Alertmanager's: a new group waits `group_wait` for
//! siblings, a group that was notified waits `group_interval` before the
//! next notification, and a still-firing alert is repeated after
//! `repeat_interval`. On top of that each recipient and channel may start at
//! most `rate_limit_max` notifications per window; a notification over the
//! limit is delayed until the window has room, never dropped, and collects
//! the group's alerts in the meantime.
//!
//! The planner keeps its timing state in memory. After a restart, the first
//! notification of each group waits `group_wait` again and repeats count
//! from the alert's firing time.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{AlertEvent, AlertStatus, AlertTransition};
use oversight_store::{Channel, NewNotification, NotificationItem};

use crate::config::{GroupField, NotifyConfig, RecipientConfig};
use crate::routing::Routing;

/// How often stale timing state is dropped, counted in planned events.
const PRUNE_EVERY: u64 = 10_000;

/// The planner's timings.
#[derive(Debug, Clone)]
pub struct Timings {
    group_by: Vec<GroupField>,
    group_wait: SignedDuration,
    group_interval: SignedDuration,
    repeat_interval: SignedDuration,
    notify_resolved: bool,
    rate_limit_max: usize,
    rate_limit_window: SignedDuration,
}

impl Timings {
    /// Takes the timings from a validated configuration.
    pub fn from_config(config: &NotifyConfig) -> Self {
        let seconds = |secs: u64| {
            SignedDuration::try_from(Duration::from_secs(secs)).unwrap_or(SignedDuration::MAX)
        };
        Self {
            group_by: config.group_by.clone(),
            group_wait: seconds(config.group_wait_secs),
            group_interval: seconds(config.group_interval_secs),
            repeat_interval: seconds(config.repeat_interval_secs),
            notify_resolved: config.notify_resolved,
            rate_limit_max: config.rate_limit_max as usize,
            rate_limit_window: seconds(config.rate_limit_window_secs),
        }
    }
}

type GroupId = (String, Channel, String, String);

/// Turns alert events into notification items.
#[derive(Debug)]
pub struct Planner {
    timings: Timings,
    routing: Routing,
    /// The send time of the latest notification started for each group.
    group_sends: HashMap<GroupId, Timestamp>,
    /// Event time of the latest notified firing or repeat, by recipient and fingerprint.
    last_notified: HashMap<(String, String), Timestamp>,
    /// Send times of the notifications started per recipient and channel in
    /// the current rate-limit window, oldest first.
    sends: HashMap<(String, Channel), VecDeque<Timestamp>>,
    planned: u64,
}

impl Planner {
    /// Creates a planner.
    pub fn new(timings: Timings, routing: Routing) -> Self {
        Self {
            timings,
            routing,
            group_sends: HashMap::new(),
            last_notified: HashMap::new(),
            sends: HashMap::new(),
            planned: 0,
        }
    }

    /// Returns the items `event` adds to the outbox at clock time `now`:
    /// one per recipient and channel, or none when the event is suppressed
    /// or not worth a notification.
    pub fn plan(&mut self, event: &AlertEvent, now: Timestamp) -> Vec<NewNotification> {
        self.planned += 1;
        if self.planned.is_multiple_of(PRUNE_EVERY) {
            self.prune(now);
        }
        if !event.notifies() {
            return Vec::new();
        }
        let recipients: Vec<RecipientConfig> = self
            .routing
            .recipients(&event.alert)
            .into_iter()
            .cloned()
            .collect();
        let mut planned = Vec::new();
        for recipient in recipients {
            if !self.notifies(event, &recipient.id) {
                continue;
            }
            let group_key = self.group_key(event);
            let item = item_of(event);
            for (channel, target) in channels(&recipient) {
                let group = (
                    recipient.id.clone(),
                    channel,
                    target.clone(),
                    group_key.clone(),
                );
                let send_after = self.schedule(group, now);
                planned.push(NewNotification {
                    recipient: recipient.id.clone(),
                    channel,
                    target,
                    group_key: group_key.clone(),
                    item: item.clone(),
                    send_after,
                    queued_at: now,
                });
            }
        }
        planned
    }

    /// Decides whether `recipient` hears of `event` at all, and records
    /// the repeat timing.
    fn notifies(&mut self, event: &AlertEvent, recipient: &str) -> bool {
        let key = (recipient.to_owned(), event.alert.fingerprint.clone());
        match event.transition {
            AlertTransition::Firing => {
                self.last_notified.insert(key, event.at);
                true
            }
            AlertTransition::Repeated => {
                if event.alert.status != AlertStatus::Firing {
                    return false;
                }
                let since = self
                    .last_notified
                    .get(&key)
                    .copied()
                    .or(event.alert.fired_at)
                    .unwrap_or(event.at);
                if event.at.duration_since(since) < self.timings.repeat_interval {
                    self.last_notified.entry(key).or_insert(since);
                    return false;
                }
                self.last_notified.insert(key, event.at);
                true
            }
            AlertTransition::Resolved => {
                self.last_notified.remove(&key);
                self.timings.notify_resolved && event.alert.fired_at.is_some()
            }
            AlertTransition::Escalated => true,
            AlertTransition::Pending | AlertTransition::Acknowledged => false,
        }
    }

    fn group_key(&self, event: &AlertEvent) -> String {
        let alert = &event.alert;
        let values: Vec<&str> = self
            .timings
            .group_by
            .iter()
            .map(|field| match field {
                GroupField::Area => alert.area.as_str(),
                GroupField::Category => alert.category.as_str(),
                GroupField::Severity => alert.severity.as_str(),
                GroupField::Rule => alert.rule_id.as_str(),
                GroupField::Department => alert.department.as_deref().unwrap_or("-"),
                GroupField::Mn => alert.mn.as_str(),
            })
            .collect();
        values.join(":")
    }

    /// Returns the send time of a new notification of `group`, or the one
    /// still pending, and records it against the group and the rate limit.
    fn schedule(&mut self, group: GroupId, now: Timestamp) -> Timestamp {
        if let Some(pending) = self.group_sends.get(&group)
            && *pending > now
        {
            // The group's notification has not gone out yet: the item joins it.
            return *pending;
        }
        let mut send_after = later(now, self.timings.group_wait);
        if let Some(previous) = self.group_sends.get(&group) {
            send_after = send_after.max(later(*previous, self.timings.group_interval));
        }
        let sends = self.sends.entry((group.0.clone(), group.1)).or_default();
        let window = self.timings.rate_limit_window;
        while sends
            .front()
            .is_some_and(|oldest| later(*oldest, window) <= send_after)
        {
            sends.pop_front();
        }
        if sends.len() >= self.timings.rate_limit_max {
            let room_at = later(sends[sends.len() - self.timings.rate_limit_max], window);
            send_after = send_after.max(room_at);
            metrics::counter!("oversight_notifications_rate_limited_total").increment(1);
        }
        sends.push_back(send_after);
        self.group_sends.insert(group, send_after);
        send_after
    }

    fn prune(&mut self, now: Timestamp) {
        let interval = self.timings.group_interval;
        self.group_sends
            .retain(|_, send_after| later(*send_after, interval) > now);
        let window = self.timings.rate_limit_window;
        self.sends.retain(|_, sends| {
            sends
                .back()
                .is_some_and(|latest| later(*latest, window) > now)
        });
    }
}

fn later(time: Timestamp, duration: SignedDuration) -> Timestamp {
    time.saturating_add(duration).unwrap_or(Timestamp::MAX)
}

/// Lists the channels of a recipient and the target on each.
fn channels(recipient: &RecipientConfig) -> Vec<(Channel, String)> {
    let mut channels = Vec::new();
    if let Some(webhook) = &recipient.webhook {
        channels.push((Channel::Webhook, webhook.clone()));
    }
    if let Some(email) = &recipient.email {
        channels.push((Channel::Email, email.clone()));
    }
    if recipient.inbox {
        channels.push((Channel::Inbox, recipient.id.clone()));
    }
    channels
}

fn item_of(event: &AlertEvent) -> NotificationItem {
    let alert = &event.alert;
    NotificationItem {
        alert_id: alert.id,
        fingerprint: alert.fingerprint.clone(),
        transition: event.transition,
        rule_id: alert.rule_id.clone(),
        category: alert.category.clone(),
        severity: alert.severity,
        mn: alert.mn.as_str().to_owned(),
        factor: alert
            .factor
            .as_ref()
            .map(|factor| factor.as_str().to_owned()),
        area: alert.area.clone(),
        department: alert.department.clone(),
        value: alert.last_value,
        limit: alert.limit,
        count: alert.count,
        at: event.at,
    }
}

#[cfg(test)]
mod tests {
    use oversight_core::{Actor, Alert, AlertId, AreaCode, Mn, Severity};

    use super::*;

    fn planner(extra: &str) -> Planner {
        let config: NotifyConfig = toml::from_str(&format!(
            r#"
group_wait_secs = 30
group_interval_secs = 300
repeat_interval_secs = 3600
rate_limit_window_secs = 3600
{extra}

[[recipients]]
id = "wang"
inbox = true

[[recipients]]
id = "ecology-environment"
kind = "department"

[[routes]]
area = "3502"
recipients = ["wang"]
"#
        ))
        .expect("valid config");
        let routes = config.validate().expect("valid routes");
        Planner::new(
            Timings::from_config(&config),
            Routing::new(routes, &config.recipients),
        )
    }

    fn event(id: i64, area: &str, transition: AlertTransition, minute: i64) -> AlertEvent {
        let at = Timestamp::UNIX_EPOCH + SignedDuration::from_mins(minute);
        let mn = Mn::parse(&format!("MN{id:04}")).expect("MN");
        AlertEvent {
            alert: Alert {
                id: AlertId(id),
                fingerprint: Alert::fingerprint_of("r", &mn, None),
                rule_id: "r".to_owned(),
                rule_version: "1".to_owned(),
                category: "exceedance".to_owned(),
                mn,
                factor: None,
                severity: Severity::Warning,
                status: if transition == AlertTransition::Resolved {
                    AlertStatus::Resolved
                } else {
                    AlertStatus::Firing
                },
                area: AreaCode::parse(area).expect("area"),
                department: Some("ecology-environment".to_owned()),
                first_at: Timestamp::UNIX_EPOCH,
                last_at: at,
                fired_at: Some(Timestamp::UNIX_EPOCH),
                acknowledged_at: None,
                acknowledged_by: None,
                resolved_at: None,
                resolution: None,
                trigger_value: None,
                last_value: Some(1.0),
                peak_value: None,
                limit: None,
                count: 1,
                flapping: false,
                escalated_at: None,
                explanation: None,
            },
            transition,
            at,
            actor: Actor::Engine,
            reason: None,
            suppressed: None,
        }
    }

    fn minute(minute: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_mins(minute)
    }

    #[test]
    fn routes_person_and_department() {
        let mut planner = planner("");
        let items = planner.plan(&event(1, "350203", AlertTransition::Firing, 0), minute(0));
        let recipients: Vec<&str> = items.iter().map(|item| item.recipient.as_str()).collect();
        assert_eq!(recipients, ["ecology-environment", "wang"]);
        assert!(items.iter().all(|item| item.channel == Channel::Inbox));
        assert_eq!(items[0].group_key, "350203:exceedance");
    }

    #[test]
    fn unmatched_area_reaches_department_only() {
        let mut planner = planner("");
        let items = planner.plan(&event(1, "440305", AlertTransition::Firing, 0), minute(0));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].recipient, "ecology-environment");
    }

    #[test]
    fn group_wait_then_group_interval() {
        let mut planner = planner("rate_limit_max = 10");
        let first = planner.plan(&event(1, "350203", AlertTransition::Firing, 0), minute(0));
        assert_eq!(
            first[0].send_after,
            minute(0) + SignedDuration::from_secs(30)
        );
        let joined = planner.plan(&event(2, "350203", AlertTransition::Firing, 0), minute(0));
        assert_eq!(
            joined[0].send_after, first[0].send_after,
            "joins the pending group"
        );
        let next = planner.plan(&event(3, "350203", AlertTransition::Firing, 1), minute(1));
        assert_eq!(
            next[0].send_after,
            first[0].send_after + SignedDuration::from_secs(300),
            "waits the group interval after the previous send"
        );
        let other = planner.plan(&event(4, "350206", AlertTransition::Firing, 1), minute(1));
        assert_eq!(
            other[0].send_after,
            minute(1) + SignedDuration::from_secs(30)
        );
    }

    #[test]
    fn rate_limit_delays_third_group() {
        let mut planner = planner("rate_limit_max = 2\ngroup_by = [\"mn\"]");
        let sends: Vec<Timestamp> = (1..=3)
            .map(|id| {
                let items =
                    planner.plan(&event(id, "350203", AlertTransition::Firing, 0), minute(0));
                items
                    .iter()
                    .find(|item| item.recipient == "wang")
                    .expect("wang is routed")
                    .send_after
            })
            .collect();
        let wait = minute(0) + SignedDuration::from_secs(30);
        assert_eq!(sends[0], wait);
        assert_eq!(sends[1], wait);
        assert_eq!(
            sends[2],
            wait + SignedDuration::from_secs(3600),
            "delayed, not dropped"
        );
    }

    #[test]
    fn repeats_only_after_repeat_interval() {
        let mut planner = planner("rate_limit_max = 2");
        assert!(
            !planner
                .plan(&event(1, "350203", AlertTransition::Firing, 0), minute(0))
                .is_empty()
        );
        let soon = planner.plan(
            &event(1, "350203", AlertTransition::Repeated, 30),
            minute(30),
        );
        assert!(soon.is_empty(), "within the repeat interval");
        let later = planner.plan(
            &event(1, "350203", AlertTransition::Repeated, 61),
            minute(61),
        );
        assert_eq!(later.len(), 2);
        let again = planner.plan(
            &event(1, "350203", AlertTransition::Repeated, 62),
            minute(62),
        );
        assert!(again.is_empty(), "the interval restarts at the repeat");
    }

    #[test]
    fn acknowledged_alert_does_not_repeat() {
        let mut planner = planner("");
        let mut repeated = event(1, "350203", AlertTransition::Repeated, 120);
        repeated.alert.status = AlertStatus::Acknowledged;
        assert!(planner.plan(&repeated, minute(120)).is_empty());
    }

    #[test]
    fn resolved_notifies_unless_disabled() {
        let mut planner = planner("");
        let resolved = event(1, "350203", AlertTransition::Resolved, 5);
        assert_eq!(planner.plan(&resolved, minute(5)).len(), 2);
        let mut quiet = tests::planner("notify_resolved = false");
        assert!(quiet.plan(&resolved, minute(5)).is_empty());
        let mut never_fired = resolved.clone();
        never_fired.alert.fired_at = None;
        assert!(planner.plan(&never_fired, minute(5)).is_empty());
    }

    #[test]
    fn suppressed_and_pending_send_nothing() {
        let mut planner = planner("");
        let mut flapping = event(1, "350203", AlertTransition::Firing, 0);
        flapping.suppressed = Some(oversight_core::Suppression::Flapping);
        assert!(planner.plan(&flapping, minute(0)).is_empty());
        let pending = event(2, "350203", AlertTransition::Pending, 0);
        assert!(planner.plan(&pending, minute(0)).is_empty());
    }
}
