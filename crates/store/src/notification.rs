//! Notification outbox records: what is queued for a recipient, its delivery
//! state, and the in-app inbox built on it.

use std::fmt;

use jiff::Timestamp;
use oversight_core::{AlertId, AlertTransition, AreaCode, Severity, ValidationError};
use serde::{Deserialize, Serialize};

/// The channel a notification is delivered over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An HTTP POST of a signed JSON body to a configured endpoint.
    Webhook,
    /// An email over SMTP.
    Email,
    /// The in-app inbox of a person or department.
    Inbox,
}

impl Channel {
    /// Returns the channel's name as used in the API and in stored rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Email => "email",
            Self::Inbox => "inbox",
        }
    }

    /// Parses a channel's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "webhook" => Ok(Self::Webhook),
            "email" => Ok(Self::Email),
            "inbox" => Ok(Self::Inbox),
            _ => Err(invalid(
                "notification channel",
                input,
                "expected webhook, email or inbox",
            )),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The delivery state of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its send time or its next attempt; alerts of its group
    /// are still added to it until a sender claims it.
    Pending,
    /// A sender claimed it and is delivering it now.
    Sending,
    /// The channel accepted it.
    Delivered,
    /// Every attempt failed; it waits for a retry through the API.
    Dead,
}

impl DeliveryStatus {
    /// Returns the status's name as used in the API and in stored rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Parses a status's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "pending" => Ok(Self::Pending),
            "sending" => Ok(Self::Sending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            _ => Err(invalid(
                "delivery status",
                input,
                "expected pending, sending, delivered or dead",
            )),
        }
    }
}

/// One alert transition listed in a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationItem {
    /// The alert.
    pub alert_id: AlertId,
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// The transition.
    pub transition: AlertTransition,
    /// The rule that raised it.
    pub rule_id: String,
    /// The rule's category, such as `exceedance`.
    pub category: String,
    /// The alert's severity.
    pub severity: Severity,
    /// The point's MN.
    pub mn: String,
    /// The factor, for rules evaluated per factor.
    pub factor: Option<String>,
    /// The point's area.
    pub area: AreaCode,
    /// The department the rule routes to.
    pub department: Option<String>,
    /// The latest value that met the condition.
    pub value: Option<f64>,
    /// The limit that was crossed.
    pub limit: Option<f64>,
    /// How many evaluations met the condition while the alert was open.
    pub count: u64,
    /// The time of the transition.
    pub at: Timestamp,
}

/// A notification to queue for one recipient over one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The recipient's configured id.
    pub recipient: String,
    /// The channel.
    pub channel: Channel,
    /// The address on the channel: a webhook endpoint id, an email address,
    /// or the inbox owner's id.
    pub target: String,
    /// Items with the same recipient, channel and group key join one
    /// pending notification.
    pub group_key: String,
    /// The alert transition to list.
    pub item: NotificationItem,
    /// When a new notification may be sent at the earliest; ignored when
    /// the item joins a pending one.
    pub send_after: Timestamp,
    /// When the item was queued.
    pub queued_at: Timestamp,
}

/// A stored notification and its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// The store's identifier, also sent as the idempotency key.
    pub id: i64,
    /// The recipient's configured id.
    pub recipient: String,
    /// The channel.
    pub channel: Channel,
    /// The address on the channel.
    pub target: String,
    /// The group the items belong to, such as `110105:exceedance`.
    pub group_key: String,
    /// The alert transitions it lists, oldest first, at most one per alert
    /// and transition.
    pub items: Vec<NotificationItem>,
    /// The delivery state.
    pub status: DeliveryStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it may be sent at the earliest.
    pub send_after: Timestamp,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
    /// How many delivery attempts failed or ran.
    pub attempts: u32,
    /// The error of the latest failed attempt.
    pub last_error: Option<String>,
    /// When the channel accepted it.
    pub delivered_at: Option<Timestamp>,
    /// When its inbox owner marked it read; inbox notifications only.
    pub read_at: Option<Timestamp>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The channel accepted the notification.
    Delivered {
        /// When.
        at: Timestamp,
    },
    /// The attempt failed.
    Failed {
        /// When.
        at: Timestamp,
        /// The failure, as the API shows it.
        error: String,
        /// When to try again, or `None` to make the notification a dead letter.
        retry_at: Option<Timestamp>,
    },
}

/// A filter over notifications, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationQuery {
    /// Only this delivery status.
    pub status: Option<DeliveryStatus>,
    /// Only these recipients; `None` means every recipient, and an empty
    /// list matches nothing.
    pub recipients: Option<Vec<String>>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only notifications listing this alert.
    pub alert_id: Option<AlertId>,
    /// Only unread notifications; meaningful for the inbox channel.
    pub unread: bool,
    /// Page size; 0 or more than 1,000 means 1,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn invalid(what: &'static str, input: &str, rule: &'static str) -> ValidationError {
    ValidationError {
        what,
        value: input.chars().take(64).collect(),
        rule,
    }
}
