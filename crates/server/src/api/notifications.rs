//! Notifications with their delivery state, the retry of dead letters, and
//! the in-app inbox of each person and department.
//!
//! NOTE: the API has no caller identity yet, so the inbox routes trust the
//! `recipient` they are given.

use axum::Json;
use oversight_core::AlertId;
use oversight_notify::message;
use oversight_store::{
    Channel, DeliveryStatus, Notification, NotificationItem, NotificationQuery, Page,
};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::params::{ApiJson, ApiPath, ApiQuery, LIST_PAGE, parse_limit};
use crate::error::ApiError;

/// Maximum number of ids in one mark-read request.
const MAX_MARK_READ: usize = 1000;

/// A notification as the API shows it: the stored record and its rendered subject.
#[derive(Debug, Serialize)]
pub(super) struct NotificationView {
    #[serde(flatten)]
    notification: Notification,
    subject: String,
}

impl From<Notification> for NotificationView {
    fn from(notification: Notification) -> Self {
        Self {
            subject: message::subject(&notification),
            notification,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    recipient: Option<String>,
    channel: Option<String>,
    alert: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of notifications, newest first.
pub(super) async fn list(
    state: SharedState,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    let status = params
        .status
        .as_deref()
        .map(|value| {
            DeliveryStatus::parse(value)
                .map_err(|error| ApiError::invalid_param("status", value, error.rule))
        })
        .transpose()?;
    let channel = params
        .channel
        .as_deref()
        .map(|value| {
            Channel::parse(value)
                .map_err(|error| ApiError::invalid_param("channel", value, error.rule))
        })
        .transpose()?;
    let alert_id = params
        .alert
        .as_deref()
        .map(|value| parse_id("alert", value).map(AlertId))
        .transpose()?;
    let query = NotificationQuery {
        status,
        recipient: params.recipient.filter(|recipient| !recipient.is_empty()),
        channel,
        alert_id,
        unread: false,
        limit: parse_limit(params.limit.as_deref(), LIST_PAGE)?,
        cursor: params.cursor,
    };
    let page = state.store.notifications(&query).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(NotificationView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Returns one notification.
pub(super) async fn one(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationView>, ApiError> {
    let id = parse_id("id", &id)?;
    match state.store.notification(id).await? {
        Some(notification) => Ok(Json(notification.into())),
        None => Err(ApiError::not_found(format!("notification {id} not found"))),
    }
}

/// Makes a dead notification pending again, due now.
pub(super) async fn retry(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationView>, ApiError> {
    let id = parse_id("id", &id)?;
    let notification = state
        .store
        .retry_notification(id, state.clock.now())
        .await?;
    tracing::info!(notification = id, "dead notification queued for retry");
    Ok(Json(notification.into()))
}

fn parse_id(name: &str, value: &str) -> Result<i64, ApiError> {
    match value.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::invalid_param(
            name,
            value,
            "expected a positive whole number",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InboxParams {
    recipient: Option<String>,
    unread: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// One delivered inbox notification.
#[derive(Debug, Serialize)]
pub(super) struct InboxEntry {
    id: i64,
    recipient: String,
    subject: String,
    text: String,
    items: Vec<NotificationItem>,
    created_at: jiff::Timestamp,
    delivered_at: Option<jiff::Timestamp>,
    read_at: Option<jiff::Timestamp>,
}

/// Returns a page of one recipient's delivered inbox notifications, newest first.
pub(super) async fn inbox(
    state: SharedState,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> Result<Json<Page<InboxEntry>>, ApiError> {
    let recipient = required_recipient(params.recipient)?;
    let unread = match params.unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(value) => {
            return Err(ApiError::invalid_param(
                "unread",
                value,
                "expected true or false",
            ));
        }
    };
    let query = NotificationQuery {
        status: Some(DeliveryStatus::Delivered),
        recipient: Some(recipient),
        channel: Some(Channel::Inbox),
        alert_id: None,
        unread,
        limit: parse_limit(params.limit.as_deref(), LIST_PAGE)?,
        cursor: params.cursor,
    };
    let page = state.store.notifications(&query).await?;
    let items = page
        .items
        .into_iter()
        .map(|notification| InboxEntry {
            id: notification.id,
            subject: message::subject(&notification),
            text: message::text(&notification, &state.time_zone),
            recipient: notification.recipient,
            items: notification.items,
            created_at: notification.created_at,
            delivered_at: notification.delivered_at,
            read_at: notification.read_at,
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

fn required_recipient(recipient: Option<String>) -> Result<String, ApiError> {
    match recipient.map(|recipient| recipient.trim().to_owned()) {
        Some(recipient) if !recipient.is_empty() => Ok(recipient),
        _ => Err(ApiError::invalid(
            "missing recipient: name the person or department whose inbox to use, such as recipient=ecology-environment",
        )),
    }
}

/// The body of `POST /inbox/read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MarkReadBody {
    recipient: String,
    ids: Vec<i64>,
}

/// The result of `POST /inbox/read`.
#[derive(Debug, Serialize)]
pub(super) struct MarkReadResult {
    /// How many notifications changed from unread to read.
    marked: u64,
}

/// Marks inbox notifications of one recipient read.
pub(super) async fn mark_read(
    state: SharedState,
    ApiJson(body): ApiJson<MarkReadBody>,
) -> Result<Json<MarkReadResult>, ApiError> {
    let recipient = required_recipient(Some(body.recipient))?;
    if body.ids.is_empty() || body.ids.len() > MAX_MARK_READ {
        return Err(ApiError::invalid(format!(
            "ids has {} entries; list from 1 to {MAX_MARK_READ} notification ids",
            body.ids.len()
        )));
    }
    let marked = state
        .store
        .mark_inbox_read(&recipient, &body.ids, state.clock.now())
        .await?;
    Ok(Json(MarkReadResult { marked }))
}
