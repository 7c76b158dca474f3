//! The notification outbox: queueing items into pending notifications,
//! claiming due ones, recording attempts, and the inbox.
//!
//! The partial unique index `notifications_open_group` keeps at most one
//! pending, never-attempted notification per recipient, channel, target and
//! group key. New items join that row until a sender claims it. A claimed
//! or retried notification never changes its items, so every attempt sends
//! the same body under the same id.

use jiff::Timestamp;
use oversight_store::{
    Channel, DeliveryOutcome, DeliveryStatus, NewNotification, Notification, NotificationItem,
    NotificationQuery, Page, StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{micros, optional_timestamp, parse_stored, timestamp};
use crate::error::{SqliteError, backend, corrupt};

const COLUMNS: &str = "id, recipient, channel, target, group_key, items, status, created_at, \
     send_after, next_attempt_at, attempts, last_error, delivered_at, read_at";

/// Largest page of notifications.
const MAX_PAGE: u32 = 1000;

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Notification, SqliteError>> {
    let channel: String = row.get(2)?;
    let items: String = row.get(5)?;
    let status: String = row.get(6)?;
    let created_at: i64 = row.get(7)?;
    let send_after: i64 = row.get(8)?;
    let next_attempt_at: i64 = row.get(9)?;
    let attempts: i64 = row.get(10)?;
    let delivered_at: Option<i64> = row.get(12)?;
    let read_at: Option<i64> = row.get(13)?;
    let id: i64 = row.get(0)?;
    let recipient: String = row.get(1)?;
    let target: String = row.get(3)?;
    let group_key: String = row.get(4)?;
    let last_error: Option<String> = row.get(11)?;
    Ok((|| {
        Ok(Notification {
            id,
            recipient,
            channel: parse_stored("notification channel", &channel, Channel::parse)?,
            target,
            group_key,
            items: serde_json::from_str(&items)
                .map_err(|error| corrupt("notification items", &id, &error))?,
            status: parse_stored("delivery status", &status, DeliveryStatus::parse)?,
            created_at: timestamp(created_at)?,
            send_after: timestamp(send_after)?,
            next_attempt_at: timestamp(next_attempt_at)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error,
            delivered_at: optional_timestamp(delivered_at)?,
            read_at: optional_timestamp(read_at)?,
        })
    })())
}

fn collect(
    operation: &'static str,
    rows: Vec<Result<Notification, SqliteError>>,
) -> StoreResult<Vec<Notification>> {
    rows.into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(operation))
}

/// Queues items; see [`oversight_store::Store::queue_notifications`].
pub(crate) fn queue(conn: &Connection, items: &[NewNotification]) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        ids.push(queue_one(conn, item)?);
    }
    Ok(ids)
}

fn queue_one(conn: &Connection, new: &NewNotification) -> StoreResult<i64> {
    const OPERATION: &str = "queue notification";
    let open: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, items FROM notifications WHERE recipient = ?1 AND channel = ?2 \
             AND target = ?3 AND group_key = ?4 AND status = 'pending' AND attempts = 0",
        )
        .and_then(|mut statement| {
            statement
                .query_row(
                    params![
                        new.recipient,
                        new.channel.as_str(),
                        new.target,
                        new.group_key
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
        })
        .map_err(backend(OPERATION))?;
    let id = match open {
        Some((id, items)) => {
            let mut items: Vec<NotificationItem> = serde_json::from_str(&items)
                .map_err(|error| backend(OPERATION)(corrupt("notification items", &id, &error)))?;
            merge_item(&mut items, &new.item);
            conn.prepare_cached("UPDATE notifications SET items = ?2 WHERE id = ?1")
                .and_then(|mut statement| statement.execute(params![id, encode_items(&items)]))
                .map_err(backend(OPERATION))?;
            id
        }
        None => {
            let items = encode_items(std::slice::from_ref(&new.item));
            conn.prepare_cached(
                "INSERT INTO notifications (recipient, channel, target, group_key, items, \
                 status, created_at, send_after, next_attempt_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?7) RETURNING id",
            )
            .and_then(|mut statement| {
                statement.query_row(
                    params![
                        new.recipient,
                        new.channel.as_str(),
                        new.target,
                        new.group_key,
                        items,
                        micros(new.queued_at),
                        micros(new.send_after)
                    ],
                    |row| row.get(0),
                )
            })
            .map_err(backend(OPERATION))?
        }
    };
    conn.prepare_cached(
        "INSERT OR IGNORE INTO notification_alerts (notification_id, alert_id) VALUES (?1, ?2)",
    )
    .and_then(|mut statement| statement.execute(params![id, new.item.alert_id.0]))
    .map_err(backend(OPERATION))?;
    Ok(id)
}

/// Replaces the item of the same alert and transition, so a storm of
/// repeats lists each alert once with its latest values, or appends.
fn merge_item(items: &mut Vec<NotificationItem>, item: &NotificationItem) {
    match items
        .iter_mut()
        .find(|old| old.alert_id == item.alert_id && old.transition == item.transition)
    {
        Some(old) => *old = item.clone(),
        None => items.push(item.clone()),
    }
}

fn encode_items(items: &[NotificationItem]) -> String {
    serde_json::to_string(items).expect("notification items serialize to JSON")
}

/// Claims due notifications; see [`oversight_store::Store::claim_notifications`].
pub(crate) fn claim(
    conn: &Connection,
    now: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    const OPERATION: &str = "claim notifications";
    let sql = format!(
        "UPDATE notifications SET status = 'sending' WHERE id IN (\
         SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?1 \
         AND send_after <= ?1 ORDER BY next_attempt_at, id LIMIT ?2) RETURNING {COLUMNS}"
    );
    let rows = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params![micros(now), limit.clamp(1, MAX_PAGE)], decode)?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    let mut claimed = collect(OPERATION, rows)?;
    claimed.sort_by_key(|notification| (notification.next_attempt_at, notification.id));
    Ok(claimed)
}

/// Records an attempt; see [`oversight_store::Store::record_delivery`].
pub(crate) fn record(conn: &Connection, id: i64, outcome: &DeliveryOutcome) -> StoreResult<()> {
    const OPERATION: &str = "record delivery";
    let changed = match outcome {
        DeliveryOutcome::Delivered { at } => conn
            .prepare_cached(
                "UPDATE notifications SET status = 'delivered', attempts = attempts + 1, \
                 delivered_at = ?2, last_error = NULL WHERE id = ?1 AND status = 'sending'",
            )
            .and_then(|mut statement| statement.execute(params![id, micros(*at)])),
        DeliveryOutcome::Failed {
            at,
            error,
            retry_at,
        } => {
            let (status, next) = match retry_at {
                Some(retry_at) => ("pending", *retry_at),
                None => ("dead", *at),
            };
            conn.prepare_cached(
                "UPDATE notifications SET status = ?2, attempts = attempts + 1, \
                 last_error = ?3, next_attempt_at = ?4 WHERE id = ?1 AND status = 'sending'",
            )
            .and_then(|mut statement| statement.execute(params![id, status, error, micros(next)]))
        }
    }
    .map_err(backend(OPERATION))?;
    if changed == 0 {
        return Err(not_claimed(conn, id)?);
    }
    Ok(())
}

fn not_claimed(conn: &Connection, id: i64) -> StoreResult<StoreError> {
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM notifications WHERE id = ?1")
        .and_then(|mut statement| statement.query_row([id], |row| row.get(0)).optional())
        .map_err(backend("record delivery"))?;
    Ok(match status {
        None => StoreError::NotFound {
            what: "notification",
            key: id.to_string(),
        },
        Some(status) => StoreError::Conflict(format!(
            "notification {id} is {status}, not sending; only a claimed notification takes a delivery outcome"
        )),
    })
}

/// Releases claimed notifications after a restart.
pub(crate) fn release_claimed(conn: &Connection) -> StoreResult<u64> {
    conn.prepare_cached("UPDATE notifications SET status = 'pending' WHERE status = 'sending'")
        .and_then(|mut statement| statement.execute([]))
        .map(|count| count as u64)
        .map_err(backend("release claimed notifications"))
}

/// Makes a dead notification pending again.
pub(crate) fn retry(conn: &Connection, id: i64, now: Timestamp) -> StoreResult<Notification> {
    const OPERATION: &str = "retry notification";
    let Some(current) = one(conn, id)? else {
        return Err(StoreError::NotFound {
            what: "notification",
            key: id.to_string(),
        });
    };
    if current.status != DeliveryStatus::Dead {
        return Err(StoreError::Conflict(format!(
            "notification {id} is {}; only a dead notification can be retried",
            current.status.as_str()
        )));
    }
    // `attempts` stays above zero, so the retried row never collects new items.
    conn.prepare_cached(
        "UPDATE notifications SET status = 'pending', next_attempt_at = ?2, attempts = 1 \
         WHERE id = ?1",
    )
    .and_then(|mut statement| statement.execute(params![id, micros(now)]))
    .map_err(backend(OPERATION))?;
    one(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "notification",
        key: id.to_string(),
    })
}

/// Marks inbox notifications read.
pub(crate) fn mark_read(
    conn: &Connection,
    owner: &str,
    ids: &[i64],
    at: Timestamp,
) -> StoreResult<u64> {
    let mut changed = 0;
    for id in ids {
        changed += conn
            .prepare_cached(
                "UPDATE notifications SET read_at = ?3 WHERE id = ?1 AND channel = 'inbox' \
                 AND target = ?2 AND status = 'delivered' AND read_at IS NULL",
            )
            .and_then(|mut statement| statement.execute(params![id, owner, micros(at)]))
            .map_err(backend("mark inbox read"))? as u64;
    }
    Ok(changed)
}

/// Returns one notification.
pub(crate) fn one(conn: &Connection, id: i64) -> StoreResult<Option<Notification>> {
    const OPERATION: &str = "get notification";
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([id], decode).optional())
        .map_err(backend(OPERATION))?
        .transpose()
        .map_err(backend(OPERATION))
}

/// Lists notifications, newest first.
pub(crate) fn list(
    conn: &Connection,
    query: &NotificationQuery,
) -> StoreResult<Page<Notification>> {
    const OPERATION: &str = "list notifications";
    let before = match &query.cursor {
        None => i64::MAX,
        Some(cursor) => decode_cursor(cursor)?,
    };
    let limit = if query.limit == 0 || query.limit > MAX_PAGE {
        MAX_PAGE
    } else {
        query.limit
    };
    let mut sql = format!("SELECT {COLUMNS} FROM notifications WHERE id < ?1");
    let mut values: Vec<rusqlite::types::Value> = vec![before.into()];
    let mut filter = |clause: &str, value: rusqlite::types::Value| {
        values.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", values.len()));
    };
    if let Some(status) = query.status {
        filter("status =", status.as_str().to_owned().into());
    }
    if let Some(channel) = query.channel {
        filter("channel =", channel.as_str().to_owned().into());
    }
    if let Some(alert) = query.alert_id {
        filter(
            "id IN (SELECT notification_id FROM notification_alerts WHERE alert_id =",
            alert.0.into(),
        );
        sql.push(')');
    }
    if let Some(recipients) = &query.recipients {
        let mut placeholders = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            values.push(recipient.clone().into());
            placeholders.push(format!("?{}", values.len()));
        }
        if placeholders.is_empty() {
            sql.push_str(" AND 0");
        } else {
            sql.push_str(&format!(" AND recipient IN ({})", placeholders.join(", ")));
        }
    }
    if query.unread {
        sql.push_str(" AND read_at IS NULL");
    }
    values.push(i64::from(limit + 1).into());
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
    let rows = conn
        .prepare(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(rusqlite::params_from_iter(values), decode)?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    let mut items = collect(OPERATION, rows)?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| format!("n{}", last.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

fn decode_cursor(cursor: &str) -> StoreResult<i64> {
    cursor
        .strip_prefix('n')
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))
}
