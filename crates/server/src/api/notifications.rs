//! Notifications with their delivery status, the retry of dead letters, and
//! the in-app inbox of each account.
//!
//! Recipients are configured in `[notify]`, not stored as accounts. A person
//! recipient's `account` names the login that reads its inbox, and
//! `department_id` ties a recipient to an account department. A system
//! administrator may read every notification, and a department
//! administrator those of the department's recipients. The inbox of an
//! account contains the delivered inbox notifications of its own person
//! recipients and of its department's department recipients.

use axum::{Extension, Json};
use oversight_auth::{Principal, Role};
use oversight_core::{AlertId, Mn};
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

/// Returns the recipients whose notifications the principal may manage:
/// `None` for every recipient, else the recipients of the principal's department.
fn managed_recipients(state: &SharedState, principal: &Principal) -> Option<Vec<String>> {
    if principal.role == Role::SystemAdmin {
        return None;
    }
    Some(
        principal
            .department_id
            .map(|department| state.notify.department_recipients(department))
            .unwrap_or_default(),
    )
}

/// Keeps the items of a notification whose point lies in the principal's
/// scope, and returns `None` when no item is left. Routes may send alerts of
/// any area to a department's recipients, so the reader's jurisdiction
/// limits the items returned.
fn scoped_notification(
    principal: &Principal,
    mut notification: Notification,
) -> Option<Notification> {
    let scope = principal.scope();
    notification
        .items
        .retain(|item| Mn::parse(&item.mn).is_ok_and(|mn| scope.contains_point(&mn, &item.area)));
    (!notification.items.is_empty()).then_some(notification)
}

/// Returns the notification `id`, limited to the alerts in the principal's
/// scope, if the principal may manage it. Returns 404 otherwise, so that
/// notifications of other departments and areas look like missing ones.
async fn visible_notification(
    state: &SharedState,
    principal: &Principal,
    id: i64,
) -> Result<Notification, ApiError> {
    let notification = state.store.notification(id).await?;
    let allowed = managed_recipients(state, principal);
    let visible = notification
        .filter(|notification| {
            allowed
                .as_ref()
                .is_none_or(|recipients| recipients.contains(&notification.recipient))
        })
        .and_then(|notification| scoped_notification(principal, notification));
    visible.ok_or_else(|| {
        ApiError::not_found(format!(
            "notification {id} not found; list notifications with GET /api/v1/notifications"
        ))
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// `pending`, `sending`, `delivered` or `dead`.
    status: Option<String>,
    /// A recipient id from `[[notify.recipients]]`.
    recipient: Option<String>,
    /// `webhook`, `email` or `inbox`.
    channel: Option<String>,
    /// An alert id: only notifications that list this alert.
    alert: Option<String>,
    /// Page size, 1 to 1000; default 100.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Returns a page of notifications with their delivery status, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(ListParams),
    responses(
        (status = 200, description = "A page of notifications, newest first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated or forbidden.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
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
    let limit = parse_limit(params.limit.as_deref(), LIST_PAGE)?;
    let requested = params
        .recipient
        .map(|recipient| recipient.trim().to_owned())
        .filter(|recipient| !recipient.is_empty());
    let recipients = match (managed_recipients(&state, &principal), requested) {
        (None, requested) => requested.map(|recipient| vec![recipient]),
        (Some(allowed), None) => Some(allowed),
        (Some(allowed), Some(recipient)) if allowed.contains(&recipient) => Some(vec![recipient]),
        (Some(allowed), Some(recipient)) => {
            return Err(ApiError::forbidden(format!(
                "recipient {recipient:?} does not belong to the department of {:?}; \
                 its recipients are: {}",
                principal.username,
                list_or_none(&allowed)
            )));
        }
    };
    let query = NotificationQuery {
        status,
        recipients,
        channel,
        alert_id,
        unread: false,
        limit,
        cursor: params.cursor,
    };
    let page = state.store.notifications(&query).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .filter_map(|notification| scoped_notification(&principal, notification))
            .map(NotificationView::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Returns one notification with its delivery status.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/{id}",
    tag = "notifications",
    params(("id" = String, Path, description = "The notification's id.")),
    responses(
        (status = 200, description = "One notification.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationView>, ApiError> {
    let id = parse_id("id", &id)?;
    let notification = visible_notification(&state, &principal, id).await?;
    Ok(Json(notification.into()))
}

/// Makes a dead notification pending again, due now, with its attempts reset.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/retry",
    tag = "notifications",
    params(("id" = String, Path, description = "The notification's id.")),
    responses(
        (status = 200, description = "The notification, pending again.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden, names a record that does not exist, or the notification is not a dead letter.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn retry(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationView>, ApiError> {
    let id = parse_id("id", &id)?;
    let visible = visible_notification(&state, &principal, id).await?;
    let mut notification = state
        .store
        .retry_notification(id, state.clock.now())
        .await?;
    notification.items = visible.items;
    tracing::info!(
        notification = id,
        username = %principal.username,
        "dead notification queued for retry"
    );
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

fn list_or_none(recipients: &[String]) -> String {
    if recipients.is_empty() {
        "none".to_owned()
    } else {
        recipients.join(", ")
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct InboxParams {
    /// One of the caller's inbox recipients; all of them when absent. A
    /// system administrator may name any recipient.
    recipient: Option<String>,
    /// `true` for unread notifications only.
    unread: Option<String>,
    /// Page size, 1 to 1000; default 100.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
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

/// Returns the recipients whose inbox the principal reads.
fn inbox_recipients(state: &SharedState, principal: &Principal) -> Vec<String> {
    state
        .notify
        .inbox_recipients(&principal.username, principal.department_id)
}

/// Returns a page of the caller's delivered inbox notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "notifications",
    params(InboxParams),
    responses(
        (status = 200, description = "A page of inbox notifications, newest first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated or forbidden.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn inbox(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> Result<Json<Page<InboxEntry>>, ApiError> {
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
    let limit = parse_limit(params.limit.as_deref(), LIST_PAGE)?;
    let own = inbox_recipients(&state, &principal);
    let requested = params
        .recipient
        .map(|recipient| recipient.trim().to_owned())
        .filter(|recipient| !recipient.is_empty());
    let recipients = match requested {
        None => own,
        Some(recipient) if own.contains(&recipient) => vec![recipient],
        Some(recipient) if principal.role == Role::SystemAdmin => vec![recipient],
        Some(recipient) => {
            return Err(ApiError::forbidden(format!(
                "the inbox of {recipient:?} is not one {:?} reads; its inboxes are: {}",
                principal.username,
                list_or_none(&own)
            )));
        }
    };
    let query = NotificationQuery {
        status: Some(DeliveryStatus::Delivered),
        recipients: Some(recipients),
        channel: Some(Channel::Inbox),
        alert_id: None,
        unread,
        limit,
        cursor: params.cursor,
    };
    let page = state.store.notifications(&query).await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|notification| scoped_notification(&principal, notification))
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

/// The body of `POST /inbox/read`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MarkReadBody {
    /// Ids of notifications in the caller's inbox, 1 to 1000 of them.
    ids: Vec<i64>,
}

/// The result of `POST /inbox/read`.
#[derive(Debug, Serialize)]
pub(super) struct MarkReadResult {
    /// The number of notifications that changed from unread to read.
    marked: u64,
}

/// Marks notifications of the caller's inbox read. Ids of other inboxes,
/// of unknown notifications and of read ones are left alone and not counted.
#[utoipa::path(
    post,
    path = "/api/v1/inbox/read",
    tag = "notifications",
    request_body = MarkReadBody,
    responses(
        (status = 200, description = "How many notifications were marked read.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated or forbidden.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn mark_read(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<MarkReadBody>,
) -> Result<Json<MarkReadResult>, ApiError> {
    if body.ids.is_empty() || body.ids.len() > MAX_MARK_READ {
        return Err(ApiError::invalid(format!(
            "ids has {} entries; list from 1 to {MAX_MARK_READ} notification ids",
            body.ids.len()
        )));
    }
    let now = state.clock.now();
    let mut marked = 0;
    for recipient in inbox_recipients(&state, &principal) {
        marked += state
            .store
            .mark_inbox_read(&recipient, &body.ids, now)
            .await?;
    }
    Ok(Json(MarkReadResult { marked }))
}
