//! Rendering a notification: the zh-CN subject and text used by email and
//! the inbox, and the JSON body of webhooks.

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use oversight_core::{AlertTransition, Severity};
use oversight_store::{Notification, NotificationItem};
use serde::Serialize;

/// Returns the Chinese name of a severity.
fn severity_zh(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "提示",
        Severity::Warning => "警告",
        Severity::Critical => "严重",
    }
}

/// Returns the Chinese name of a transition.
fn transition_zh(transition: AlertTransition) -> &'static str {
    match transition {
        AlertTransition::Pending => "待确认",
        AlertTransition::Firing => "触发",
        AlertTransition::Repeated => "持续",
        AlertTransition::Acknowledged => "已确认",
        AlertTransition::Resolved => "解除",
        AlertTransition::Escalated => "转为监管任务",
    }
}

/// Renders the subject line, such as
/// `【严重】预警提醒：350203 exceedance 共 3 条（触发 2，解除 1）`.
pub fn subject(notification: &Notification) -> String {
    let items = &notification.items;
    let severity = items
        .iter()
        .map(|item| item.severity)
        .max()
        .unwrap_or(Severity::Info);
    let mut counts: Vec<(AlertTransition, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(kind, _)| *kind == item.transition) {
            Some((_, count)) => *count += 1,
            None => counts.push((item.transition, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(transition, count)| format!("{} {count}", transition_zh(*transition)))
        .collect();
    format!(
        "【{}】预警提醒：{} 共 {} 条（{}）",
        severity_zh(severity),
        notification.group_key,
        items.len(),
        counts.join("，")
    )
}

/// Renders the plain-text body: one line per alert, times in `time_zone`.
pub fn text(notification: &Notification, time_zone: &TimeZone) -> String {
    let mut body = String::new();
    body.push_str("您好，以下预警需要关注：\n\n");
    for (index, item) in notification.items.iter().enumerate() {
        let _ = writeln!(body, "{}. {}", index + 1, item_line(item, time_zone));
    }
    let _ = write!(
        body,
        "\n通知编号 {}。请登录 Oversight 查看详情并及时处置。\n",
        notification.id
    );
    body
}

fn item_line(item: &NotificationItem, time_zone: &TimeZone) -> String {
    let time = item
        .at
        .to_zoned(time_zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S");
    let mut line = format!(
        "[{}] {} 监测点 {}",
        severity_zh(item.severity),
        transition_zh(item.transition),
        item.mn
    );
    if let Some(factor) = &item.factor {
        let _ = write!(line, " 因子 {factor}");
    }
    let _ = write!(line, "，规则 {}（{}）", item.rule_id, item.category);
    if let Some(value) = item.value {
        let _ = write!(line, "，当前值 {value}");
    }
    if let Some(limit) = item.limit {
        let _ = write!(line, "，限值 {limit}");
    }
    let _ = write!(line, "，区域 {}，时间 {time}", item.area);
    line
}

/// The JSON body of a webhook request.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    /// The notification id; the same on every attempt.
    pub id: i64,
    /// The value of the `Idempotency-Key` header.
    pub idempotency_key: String,
    /// The recipient's configured id.
    pub recipient: &'a str,
    /// The group the alerts belong to.
    pub group_key: &'a str,
    /// The zh-CN subject line.
    pub subject: String,
    /// When the notification was created.
    pub created_at: jiff::Timestamp,
    /// The alert transitions, oldest first.
    pub items: &'a [NotificationItem],
}

/// Returns the idempotency key of a notification, the same on every attempt.
pub fn idempotency_key(notification: &Notification) -> String {
    format!("oversight-notification-{}", notification.id)
}

/// Serializes the webhook body of `notification`.
pub fn webhook_body(notification: &Notification) -> Vec<u8> {
    let body = WebhookBody {
        id: notification.id,
        idempotency_key: idempotency_key(notification),
        recipient: &notification.recipient,
        group_key: &notification.group_key,
        subject: subject(notification),
        created_at: notification.created_at,
        items: &notification.items,
    };
    serde_json::to_vec(&body).expect("the webhook body serializes to JSON")
}
