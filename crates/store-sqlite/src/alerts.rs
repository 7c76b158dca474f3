//! Alert rows: applying trigger and resolve updates, and decoding rows.
//!
//! The partial unique index `alerts_open_fingerprint` rejects a second open
//! alert for a fingerprint, and the single writer applies updates one at a
//! time, so concurrent triggers of one condition update a single alert.

use jiff::Timestamp;
use oversight_core::{Alert, AlertId, AlertKind, AlertStatus, AreaCode, FactorCode, Mn, Severity};
use oversight_store::{AlertChange, AlertUpdate, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{micros, optional_timestamp, parse_stored, timestamp};
use crate::error::{SqliteError, backend};

/// The columns [`decode_alert`] reads, in order.
pub(crate) const ALERT_COLUMNS: &str = "id, fingerprint, mn, factor, kind, severity, status, \
     area, first_at, last_at, resolved_at, trigger_value, last_value, peak_value, limit_value, \
     count";

/// Decodes a row selected with [`ALERT_COLUMNS`].
pub(crate) fn decode_alert(row: &Row<'_>) -> rusqlite::Result<Result<Alert, SqliteError>> {
    let text = |index: usize| row.get::<_, String>(index);
    let mn = text(2)?;
    let factor: Option<String> = row.get(3)?;
    let kind = text(4)?;
    let severity = text(5)?;
    let status = text(6)?;
    let area = text(7)?;
    let first_at: i64 = row.get(8)?;
    let last_at: i64 = row.get(9)?;
    let resolved_at: Option<i64> = row.get(10)?;
    let count: i64 = row.get(15)?;
    let id = AlertId(row.get(0)?);
    let fingerprint = text(1)?;
    let trigger_value = row.get(11)?;
    let last_value = row.get(12)?;
    let peak_value = row.get(13)?;
    let limit = row.get(14)?;
    Ok((|| {
        Ok(Alert {
            id,
            fingerprint,
            mn: parse_stored("alert MN", &mn, Mn::parse)?,
            factor: factor
                .map(|factor| parse_stored("alert factor", &factor, FactorCode::parse))
                .transpose()?,
            kind: parse_stored("alert kind", &kind, AlertKind::parse)?,
            severity: parse_stored("alert severity", &severity, Severity::parse)?,
            status: parse_stored("alert status", &status, AlertStatus::parse)?,
            area: parse_stored("alert area", &area, AreaCode::parse)?,
            first_at: timestamp(first_at)?,
            last_at: timestamp(last_at)?,
            resolved_at: optional_timestamp(resolved_at)?,
            trigger_value,
            last_value,
            peak_value,
            limit,
            count: u64::try_from(count).unwrap_or(0),
        })
    })())
}

/// Applies updates in order; see [`oversight_store::Store::apply_alert_updates`].
pub(crate) fn apply_updates(
    conn: &Connection,
    updates: &[AlertUpdate],
) -> StoreResult<Vec<AlertChange>> {
    updates
        .iter()
        .map(|update| apply_update(conn, update))
        .collect()
}

fn apply_update(conn: &Connection, update: &AlertUpdate) -> StoreResult<AlertChange> {
    match update {
        AlertUpdate::Trigger {
            fingerprint,
            mn,
            factor,
            kind,
            severity,
            area,
            at,
            value,
            limit,
        } => {
            let trigger = Trigger {
                fingerprint,
                mn,
                factor: factor.as_ref(),
                kind: *kind,
                severity: *severity,
                area,
                at: *at,
                value: *value,
                limit: *limit,
            };
            match open_alert(conn, fingerprint)? {
                None => open(conn, &trigger).map(AlertChange::Opened),
                Some(alert) => update_open(conn, alert, &trigger).map(AlertChange::Updated),
            }
        }
        AlertUpdate::Resolve { fingerprint, at } => match open_alert(conn, fingerprint)? {
            None => Ok(AlertChange::Unchanged),
            Some(alert) => resolve(conn, alert, *at).map(AlertChange::Resolved),
        },
    }
}

fn open_alert(conn: &Connection, fingerprint: &str) -> StoreResult<Option<Alert>> {
    const OPERATION: &str = "look up open alert";
    let sql =
        format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = ?1 AND status = 'open'");
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([fingerprint], decode_alert).optional())
        .map_err(backend(OPERATION))?;
    decoded.transpose().map_err(backend(OPERATION))
}

/// The fields of an [`AlertUpdate::Trigger`].
struct Trigger<'a> {
    fingerprint: &'a str,
    mn: &'a Mn,
    factor: Option<&'a FactorCode>,
    kind: AlertKind,
    severity: Severity,
    area: &'a AreaCode,
    at: Timestamp,
    value: Option<f64>,
    limit: Option<f64>,
}

fn open(conn: &Connection, trigger: &Trigger<'_>) -> StoreResult<Alert> {
    const OPERATION: &str = "open alert";
    let sql = format!(
        "INSERT INTO alerts (fingerprint, mn, factor, kind, severity, status, area, first_at, \
         last_at, trigger_value, last_value, peak_value, limit_value, count) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7, ?8, ?8, ?8, ?9, 1) \
         RETURNING {ALERT_COLUMNS}"
    );
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    trigger.fingerprint,
                    trigger.mn.as_str(),
                    trigger.factor.map(FactorCode::as_str),
                    trigger.kind.as_str(),
                    trigger.severity.as_str(),
                    trigger.area.as_str(),
                    micros(trigger.at),
                    trigger.value,
                    trigger.limit,
                ],
                decode_alert,
            )
        })
        .map_err(backend(OPERATION))?;
    decoded.map_err(backend(OPERATION))
}

/// Returns the value further beyond the limit: the larger one for alerts on
/// an upper limit (and for data-missing alerts), the smaller for a lower limit.
fn peak(kind: AlertKind, old: Option<f64>, new: Option<f64>) -> Option<f64> {
    match (old, new) {
        (Some(old), Some(new)) => Some(match kind {
            AlertKind::BelowLower => old.min(new),
            AlertKind::AboveUpper | AlertKind::DataMissing => old.max(new),
        }),
        (old, new) => old.or(new),
    }
}

fn update_open(conn: &Connection, mut alert: Alert, trigger: &Trigger<'_>) -> StoreResult<Alert> {
    const OPERATION: &str = "update alert";
    alert.severity = alert.severity.max(trigger.severity);
    alert.last_at = alert.last_at.max(trigger.at);
    alert.last_value = trigger.value.or(alert.last_value);
    alert.peak_value = peak(alert.kind, alert.peak_value, trigger.value);
    alert.limit = trigger.limit.or(alert.limit);
    alert.count += 1;
    conn.prepare_cached(
        "UPDATE alerts SET severity = ?2, last_at = ?3, last_value = ?4, peak_value = ?5, \
         limit_value = ?6, count = ?7 WHERE id = ?1",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            alert.id.0,
            alert.severity.as_str(),
            micros(alert.last_at),
            alert.last_value,
            alert.peak_value,
            alert.limit,
            i64::try_from(alert.count).unwrap_or(i64::MAX),
        ])
    })
    .map_err(backend(OPERATION))?;
    Ok(alert)
}

fn resolve(conn: &Connection, mut alert: Alert, at: Timestamp) -> StoreResult<Alert> {
    alert.status = AlertStatus::Resolved;
    alert.resolved_at = Some(at);
    conn.prepare_cached("UPDATE alerts SET status = 'resolved', resolved_at = ?2 WHERE id = ?1")
        .and_then(|mut statement| statement.execute(params![alert.id.0, micros(at)]))
        .map_err(backend("resolve alert"))?;
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_direction_follows_kind() {
        assert_eq!(peak(AlertKind::AboveUpper, Some(5.0), Some(7.0)), Some(7.0));
        assert_eq!(peak(AlertKind::AboveUpper, Some(7.0), Some(5.0)), Some(7.0));
        assert_eq!(peak(AlertKind::BelowLower, Some(5.0), Some(3.0)), Some(3.0));
        assert_eq!(peak(AlertKind::BelowLower, Some(3.0), Some(5.0)), Some(3.0));
        assert_eq!(peak(AlertKind::AboveUpper, None, Some(5.0)), Some(5.0));
        assert_eq!(peak(AlertKind::AboveUpper, Some(5.0), None), Some(5.0));
    }
}
