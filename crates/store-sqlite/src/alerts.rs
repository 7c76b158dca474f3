//! Alert rows: applying updates, recording transitions, and decoding rows;
//! silences, rule changes and tasks.
//!
//! The partial unique index `alerts_open_fingerprint` rejects a second open
//! alert for a fingerprint, and the single writer applies updates one at a
//! time, so concurrent triggers of one condition update a single alert.
//! Every update that changes an alert's state inserts one row into
//! `alert_transitions` in the same transaction.

use jiff::Timestamp;
use oversight_core::{
    Actor, Alert, AlertEvent, AlertId, AlertStatus, AlertTransition, AreaCode, Explanation,
    FactorCode, Mn, Severity,
};
use oversight_store::{
    AlertChange, AlertUpdate, NewLedgerEntry, NewSilence, RuleChange, Silence, SilenceMatcher,
    StoreError, StoreResult, TransitionRecord, Trigger,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{micros, optional_timestamp, parse_stored, timestamp};
use crate::error::{SqliteError, backend, corrupt};
use crate::ledger;

/// The columns [`decode_alert`] reads, in order.
pub(crate) const ALERT_COLUMNS: &str = "id, fingerprint, mn, factor, rule_id, severity, status, \
     area, first_at, last_at, resolved_at, trigger_value, last_value, peak_value, limit_value, \
     count, rule_version, category, department, fired_at, acknowledged_at, acknowledged_by, \
     resolution, flapping, escalated_at, explanation";

/// Decodes a row selected with [`ALERT_COLUMNS`].
pub(crate) fn decode_alert(row: &Row<'_>) -> rusqlite::Result<Result<Alert, SqliteError>> {
    let text = |index: usize| row.get::<_, String>(index);
    let mn = text(2)?;
    let factor: Option<String> = row.get(3)?;
    let severity = text(5)?;
    let status = text(6)?;
    let area = text(7)?;
    let first_at: i64 = row.get(8)?;
    let last_at: i64 = row.get(9)?;
    let resolved_at: Option<i64> = row.get(10)?;
    let count: i64 = row.get(15)?;
    let fired_at: Option<i64> = row.get(19)?;
    let acknowledged_at: Option<i64> = row.get(20)?;
    let escalated_at: Option<i64> = row.get(24)?;
    let explanation: Option<String> = row.get(25)?;
    let alert = Alert {
        id: AlertId(row.get(0)?),
        fingerprint: text(1)?,
        rule_id: text(4)?,
        rule_version: text(16)?,
        category: text(17)?,
        department: row.get(18)?,
        mn: Mn::parse("placeholder").expect("a constant MN is valid"),
        factor: None,
        severity: Severity::Info,
        status: AlertStatus::Resolved,
        area: AreaCode::parse("11").expect("a constant area code is valid"),
        first_at: Timestamp::UNIX_EPOCH,
        last_at: Timestamp::UNIX_EPOCH,
        fired_at: None,
        acknowledged_at: None,
        acknowledged_by: row.get(21)?,
        resolved_at: None,
        resolution: row.get(22)?,
        trigger_value: row.get(11)?,
        last_value: row.get(12)?,
        peak_value: row.get(13)?,
        limit: row.get(14)?,
        count: u64::try_from(count).unwrap_or(0),
        flapping: row.get::<_, i64>(23)? != 0,
        escalated_at: None,
        explanation: None,
    };
    Ok((|| {
        Ok(Alert {
            mn: parse_stored("alert MN", &mn, Mn::parse)?,
            factor: factor
                .map(|factor| parse_stored("alert factor", &factor, FactorCode::parse))
                .transpose()?,
            severity: parse_stored("alert severity", &severity, Severity::parse)?,
            status: parse_stored("alert status", &status, AlertStatus::parse)?,
            area: parse_stored("alert area", &area, AreaCode::parse)?,
            first_at: timestamp(first_at)?,
            last_at: timestamp(last_at)?,
            resolved_at: optional_timestamp(resolved_at)?,
            fired_at: optional_timestamp(fired_at)?,
            acknowledged_at: optional_timestamp(acknowledged_at)?,
            escalated_at: optional_timestamp(escalated_at)?,
            explanation: explanation
                .map(|json| {
                    serde_json::from_str::<Explanation>(&json)
                        .map_err(|error| corrupt("alert explanation", &json, &error))
                })
                .transpose()?,
            ..alert
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
        AlertUpdate::Trigger(trigger) => match open_alert(conn, &trigger.fingerprint)? {
            None => open(conn, trigger).map(Some),
            Some(alert) => update_open(conn, alert, trigger),
        },
        AlertUpdate::Resolve {
            fingerprint,
            at,
            reason,
        } => match open_alert(conn, fingerprint)? {
            None => Ok(None),
            Some(alert) => resolve(conn, alert, *at, &Actor::Engine, reason).map(Some),
        },
        AlertUpdate::Acknowledge {
            id,
            at,
            actor,
            reason,
        } => acknowledge(conn, *id, *at, actor, reason.as_deref()).map(Some),
        AlertUpdate::ResolveById {
            id,
            at,
            actor,
            reason,
        } => {
            let alert = open_by_id(conn, *id, "resolve")?;
            resolve(conn, alert, *at, actor, reason).map(Some)
        }
        AlertUpdate::SetFlapping {
            fingerprint,
            flapping,
        } => {
            let id: Option<i64> = conn
                .prepare_cached(
                    "UPDATE alerts SET flapping = ?2 WHERE fingerprint = ?1 \
                     AND status <> 'resolved' AND flapping <> ?2 RETURNING id",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![fingerprint, *flapping], |row| row.get(0))
                        .optional()
                })
                .map_err(backend("set alert flapping"))?;
            if let Some(id) = id {
                let kind = if *flapping {
                    "alert.flapping_started"
                } else {
                    "alert.flapping_stopped"
                };
                let payload = serde_json::json!({"fingerprint": fingerprint, "flapping": flapping});
                ledger::append_one(
                    conn,
                    NewLedgerEntry::new(kind, format!("alert:{id}"), "engine", payload),
                )?;
            }
            Ok(None)
        }
        AlertUpdate::Escalate { id, .. } => Err(StoreError::Conflict(format!(
            "alert {id} cannot be escalated without its task: store the task and the \
             escalation together with write_tasks"
        ))),
    }
}

fn select_one(
    conn: &Connection,
    operation: &'static str,
    filter: &str,
    key: &dyn rusqlite::ToSql,
) -> StoreResult<Option<Alert>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE {filter}");
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([key], decode_alert).optional())
        .map_err(backend(operation))?;
    decoded.transpose().map_err(backend(operation))
}

fn open_alert(conn: &Connection, fingerprint: &str) -> StoreResult<Option<Alert>> {
    select_one(
        conn,
        "look up open alert",
        "fingerprint = ?1 AND status <> 'resolved'",
        &fingerprint,
    )
}

/// Returns the open alert `id`, or why `action` cannot apply to it.
fn open_by_id(conn: &Connection, id: AlertId, action: &str) -> StoreResult<Alert> {
    let Some(alert) = select_one(conn, "look up alert", "id = ?1", &id.0)? else {
        return Err(StoreError::NotFound {
            what: "alert",
            key: id.to_string(),
        });
    };
    if !alert.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "cannot {action} alert {id}: it is already resolved"
        )));
    }
    Ok(alert)
}

/// Inserts the transition row and returns the event.
fn record(
    conn: &Connection,
    alert: Alert,
    transition: AlertTransition,
    at: Timestamp,
    actor: &Actor,
    reason: Option<&str>,
) -> StoreResult<AlertEvent> {
    conn.prepare_cached(
        "INSERT INTO alert_transitions (alert_id, transition, at, actor, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            alert.id.0,
            transition.as_str(),
            micros(at),
            actor.to_string(),
            reason
        ])
    })
    .map_err(backend("record alert transition"))?;
    let payload = serde_json::json!({
        "transition": transition.as_str(),
        "at": at,
        "reason": reason,
        "alert": alert,
    });
    ledger::append_one(
        conn,
        NewLedgerEntry::new(
            format!("alert.{}", transition.as_str()),
            format!("alert:{}", alert.id),
            actor.to_string(),
            payload,
        ),
    )?;
    Ok(AlertEvent {
        alert,
        transition,
        at,
        actor: actor.clone(),
        reason: reason.map(str::to_owned),
        suppressed: None,
    })
}

fn explanation_json(explanation: Option<&Explanation>) -> StoreResult<Option<String>> {
    explanation
        .map(serde_json::to_string)
        .transpose()
        .map_err(backend("encode alert explanation"))
}

fn open(conn: &Connection, trigger: &Trigger) -> StoreResult<AlertEvent> {
    const OPERATION: &str = "open alert";
    let (status, transition) = if trigger.firing {
        (AlertStatus::Firing, AlertTransition::Firing)
    } else {
        (AlertStatus::Pending, AlertTransition::Pending)
    };
    let sql = format!(
        "INSERT INTO alerts (fingerprint, mn, factor, kind, severity, status, area, first_at, \
         last_at, trigger_value, last_value, peak_value, limit_value, count, rule_id, \
         rule_version, category, department, fired_at, explanation, peak_is_max) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?9, ?9, ?10, 1, ?11, ?12, ?4, ?13, ?14, \
         ?15, ?16) RETURNING {ALERT_COLUMNS}"
    );
    let fired_at = trigger.firing.then(|| micros(trigger.at));
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    trigger.fingerprint,
                    trigger.mn.as_str(),
                    trigger.factor.as_ref().map(FactorCode::as_str),
                    trigger.category,
                    trigger.severity.as_str(),
                    status.as_str(),
                    trigger.area.as_str(),
                    micros(trigger.at),
                    trigger.value,
                    trigger.limit,
                    trigger.rule_id,
                    trigger.rule_version,
                    trigger.department,
                    fired_at,
                    explanation_json(trigger.explanation.as_ref()).map_err(|error| {
                        rusqlite::Error::ToSqlConversionFailure(Box::new(error))
                    })?,
                    trigger.peak_is_max,
                ],
                decode_alert,
            )
        })
        .map_err(backend(OPERATION))?;
    let alert = decoded.map_err(backend(OPERATION))?;
    record(conn, alert, transition, trigger.at, &Actor::Engine, None)
}

/// Returns the value further beyond the limit in the trigger's direction.
fn peak(peak_is_max: bool, old: Option<f64>, new: Option<f64>) -> Option<f64> {
    match (old, new) {
        (Some(old), Some(new)) => Some(if peak_is_max {
            old.max(new)
        } else {
            old.min(new)
        }),
        (old, new) => old.or(new),
    }
}

fn update_open(conn: &Connection, mut alert: Alert, trigger: &Trigger) -> StoreResult<AlertChange> {
    const OPERATION: &str = "update alert";
    let fires = trigger.firing && alert.status == AlertStatus::Pending;
    alert.severity = alert.severity.max(trigger.severity);
    alert.last_at = alert.last_at.max(trigger.at);
    alert.last_value = trigger.value.or(alert.last_value);
    alert.peak_value = peak(trigger.peak_is_max, alert.peak_value, trigger.value);
    alert.limit = trigger.limit.or(alert.limit);
    alert.count += 1;
    alert.rule_version.clone_from(&trigger.rule_version);
    if fires {
        alert.status = AlertStatus::Firing;
        alert.fired_at = Some(trigger.at);
        alert.explanation.clone_from(&trigger.explanation);
    }
    conn.prepare_cached(
        "UPDATE alerts SET severity = ?2, last_at = ?3, last_value = ?4, peak_value = ?5, \
         limit_value = ?6, count = ?7, status = ?8, fired_at = ?9, explanation = ?10, \
         rule_version = ?11 WHERE id = ?1",
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
            alert.status.as_str(),
            alert.fired_at.map(micros),
            explanation_json(alert.explanation.as_ref())
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?,
            alert.rule_version,
        ])
    })
    .map_err(backend(OPERATION))?;
    let transition = match (fires, alert.status) {
        (true, _) => AlertTransition::Firing,
        (false, AlertStatus::Pending) => return Ok(None),
        (false, _) => AlertTransition::Repeated,
    };
    record(conn, alert, transition, trigger.at, &Actor::Engine, None).map(Some)
}

fn resolve(
    conn: &Connection,
    mut alert: Alert,
    at: Timestamp,
    actor: &Actor,
    reason: &str,
) -> StoreResult<AlertEvent> {
    alert.status = AlertStatus::Resolved;
    alert.resolved_at = Some(at);
    alert.resolution = Some(reason.to_owned());
    conn.prepare_cached(
        "UPDATE alerts SET status = 'resolved', resolved_at = ?2, resolution = ?3 WHERE id = ?1",
    )
    .and_then(|mut statement| statement.execute(params![alert.id.0, micros(at), reason]))
    .map_err(backend("resolve alert"))?;
    record(
        conn,
        alert,
        AlertTransition::Resolved,
        at,
        actor,
        Some(reason),
    )
}

fn acknowledge(
    conn: &Connection,
    id: AlertId,
    at: Timestamp,
    actor: &Actor,
    reason: Option<&str>,
) -> StoreResult<AlertEvent> {
    let mut alert = open_by_id(conn, id, "acknowledge")?;
    if alert.status == AlertStatus::Acknowledged {
        return Err(StoreError::Conflict(format!(
            "alert {id} is already acknowledged by {}",
            alert.acknowledged_by.as_deref().unwrap_or("someone")
        )));
    }
    let name = match actor {
        Actor::User(name) => name.clone(),
        other => other.to_string(),
    };
    alert.status = AlertStatus::Acknowledged;
    alert.acknowledged_at = Some(at);
    alert.acknowledged_by = Some(name.clone());
    conn.prepare_cached(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3 \
         WHERE id = ?1",
    )
    .and_then(|mut statement| statement.execute(params![id.0, micros(at), name]))
    .map_err(backend("acknowledge alert"))?;
    record(
        conn,
        alert,
        AlertTransition::Acknowledged,
        at,
        actor,
        reason,
    )
}

/// Marks an open alert escalated and records the transition; `reason`
/// names the tasks created for it.
pub(crate) fn escalate(
    conn: &Connection,
    id: AlertId,
    at: Timestamp,
    reason: &str,
) -> StoreResult<AlertEvent> {
    let mut alert = open_by_id(conn, id, "escalate")?;
    if alert.escalated_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "alert {id} is already escalated"
        )));
    }
    alert.escalated_at = Some(at);
    conn.prepare_cached("UPDATE alerts SET escalated_at = ?2 WHERE id = ?1")
        .and_then(|mut statement| statement.execute(params![id.0, micros(at)]))
        .map_err(backend("escalate alert"))?;
    record(
        conn,
        alert,
        AlertTransition::Escalated,
        at,
        &Actor::Engine,
        Some(reason),
    )
}

/// Returns the transitions of one alert, oldest first.
pub(crate) fn transitions(conn: &Connection, id: AlertId) -> StoreResult<Vec<TransitionRecord>> {
    const OPERATION: &str = "list alert transitions";
    let rows: Vec<(String, i64, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT transition, at, actor, reason FROM alert_transitions WHERE alert_id = ?1 \
             ORDER BY id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([id.0], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .map(|(transition, at, actor, reason)| {
            Ok(TransitionRecord {
                alert_id: id,
                transition: parse_stored("alert transition", &transition, AlertTransition::parse)
                    .map_err(backend(OPERATION))?,
                at: timestamp(at).map_err(backend(OPERATION))?,
                actor: parse_stored("actor", &actor, Actor::parse).map_err(backend(OPERATION))?,
                reason,
            })
        })
        .collect()
}

const SILENCE_COLUMNS: &str =
    "id, mn, area, rule_id, starts_at, ends_at, created_by, comment, created_at";

fn decode_silence(row: &Row<'_>) -> rusqlite::Result<Result<Silence, SqliteError>> {
    let mn: Option<String> = row.get(1)?;
    let area: Option<String> = row.get(2)?;
    let (starts_at, ends_at, created_at): (i64, i64, i64) = (row.get(4)?, row.get(5)?, row.get(8)?);
    let id: i64 = row.get(0)?;
    let rule_id: Option<String> = row.get(3)?;
    let created_by: String = row.get(6)?;
    let comment: String = row.get(7)?;
    Ok((|| {
        Ok(Silence {
            id,
            matcher: SilenceMatcher {
                mn: mn
                    .map(|mn| parse_stored("silence MN", &mn, Mn::parse))
                    .transpose()?,
                area: area
                    .map(|area| parse_stored("silence area", &area, AreaCode::parse))
                    .transpose()?,
                rule_id,
            },
            starts_at: timestamp(starts_at)?,
            ends_at: timestamp(ends_at)?,
            created_by,
            comment,
            created_at: timestamp(created_at)?,
        })
    })())
}

/// Stores a silence.
pub(crate) fn create_silence(
    conn: &Connection,
    silence: &NewSilence,
    now: Timestamp,
) -> StoreResult<Silence> {
    const OPERATION: &str = "create silence";
    let matcher = &silence.matcher;
    let sql = format!(
        "INSERT INTO silences (mn, area, rule_id, starts_at, ends_at, created_by, comment, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {SILENCE_COLUMNS}"
    );
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    matcher.mn.as_ref().map(Mn::as_str),
                    matcher.area.as_ref().map(AreaCode::as_str),
                    matcher.rule_id,
                    micros(silence.starts_at),
                    micros(silence.ends_at),
                    silence.created_by,
                    silence.comment,
                    micros(now),
                ],
                decode_silence,
            )
        })
        .map_err(backend(OPERATION))?;
    let stored = decoded.map_err(backend(OPERATION))?;
    record_silence(
        conn,
        "silence.created",
        format!("user:{}", stored.created_by),
        &stored,
    )?;
    Ok(stored)
}

fn record_silence(
    conn: &Connection,
    kind: &'static str,
    actor: String,
    silence: &Silence,
) -> StoreResult<()> {
    let payload = serde_json::to_value(silence).map_err(backend("record silence in ledger"))?;
    ledger::append_one(
        conn,
        NewLedgerEntry::new(kind, format!("silence:{}", silence.id), actor, payload),
    )
    .map(drop)
}

/// Ends a silence at `at` unless it ends earlier.
pub(crate) fn expire_silence(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<Silence> {
    const OPERATION: &str = "expire silence";
    let sql = format!(
        "UPDATE silences SET ends_at = min(ends_at, ?2) WHERE id = ?1 RETURNING {SILENCE_COLUMNS}"
    );
    let decoded = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_row(params![id, micros(at)], decode_silence)
                .optional()
        })
        .map_err(backend(OPERATION))?;
    match decoded {
        Some(silence) => {
            let silence = silence.map_err(backend(OPERATION))?;
            record_silence(conn, "silence.expired", Actor::System.to_string(), &silence)?;
            Ok(silence)
        }
        None => Err(StoreError::NotFound {
            what: "silence",
            key: id.to_string(),
        }),
    }
}

/// Returns silences ending after `after`, newest first.
pub(crate) fn silences(conn: &Connection, after: Option<Timestamp>) -> StoreResult<Vec<Silence>> {
    const OPERATION: &str = "list silences";
    let sql = format!(
        "SELECT {SILENCE_COLUMNS} FROM silences WHERE ends_at > ?1 ORDER BY id DESC LIMIT 1000"
    );
    let after = after.map_or(i64::MIN, micros);
    let rows: Vec<Result<Silence, SqliteError>> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_map([after], decode_silence)?.collect())
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(OPERATION))
}

/// Records a rule change.
pub(crate) fn record_rule_change(conn: &Connection, change: &RuleChange) -> StoreResult<i64> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO rule_changes (at, action, rule_id, actor, digest, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    micros(change.at),
                    change.action,
                    change.rule_id,
                    change.actor.to_string(),
                    change.digest,
                    change.detail
                ],
                |row| row.get(0),
            )
        })
        .map_err(backend("record rule change"))?;
    let stored = RuleChange {
        id,
        ..change.clone()
    };
    let payload = serde_json::to_value(&stored).map_err(backend("record rule change"))?;
    let subject = match &change.rule_id {
        Some(rule_id) => format!("rule:{rule_id}"),
        None => "rules".to_owned(),
    };
    ledger::append_one(
        conn,
        NewLedgerEntry::new(
            format!("rule.{}", change.action),
            subject,
            change.actor.to_string(),
            payload,
        ),
    )?;
    Ok(id)
}

/// Returns the latest rule changes.
pub(crate) fn rule_changes(conn: &Connection, limit: u32) -> StoreResult<Vec<RuleChange>> {
    const OPERATION: &str = "list rule changes";
    type Row6 = (i64, i64, String, Option<String>, String, String, String);
    let rows: Vec<Row6> = conn
        .prepare_cached(
            "SELECT id, at, action, rule_id, actor, digest, detail FROM rule_changes \
             ORDER BY id DESC LIMIT ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([limit.clamp(1, 1000)], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .map(|(id, at, action, rule_id, actor, digest, detail)| {
            Ok(RuleChange {
                id,
                at: timestamp(at).map_err(backend(OPERATION))?,
                action,
                rule_id,
                actor: stored_rule_actor(actor),
                digest,
                detail,
            })
        })
        .collect()
}

/// Decodes the actor of a stored rule change. Switches stored before actors
/// were typed carry the bare login name, which is read as that user.
fn stored_rule_actor(stored: String) -> Actor {
    Actor::parse(&stored).unwrap_or(Actor::User(stored))
}

/// Returns the latest switch of each rule an operator switched.
pub(crate) fn rule_switches(conn: &Connection) -> StoreResult<Vec<(String, bool)>> {
    conn.prepare_cached(
        "SELECT rule_id, action FROM rule_changes WHERE id IN (SELECT max(id) FROM rule_changes \
         WHERE action IN ('enabled', 'disabled') GROUP BY rule_id)",
    )
    .and_then(|mut statement| {
        statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)? == "enabled",
                ))
            })?
            .collect()
    })
    .map_err(backend("list rule switches"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_direction_follows_trigger() {
        assert_eq!(peak(true, Some(5.0), Some(7.0)), Some(7.0));
        assert_eq!(peak(true, Some(7.0), Some(5.0)), Some(7.0));
        assert_eq!(peak(false, Some(5.0), Some(3.0)), Some(3.0));
        assert_eq!(peak(false, Some(3.0), Some(5.0)), Some(3.0));
        assert_eq!(peak(true, None, Some(5.0)), Some(5.0));
        assert_eq!(peak(true, Some(5.0), None), Some(5.0));
    }

    #[test]
    fn rule_actor_reads_bare_name_as_user() {
        let user = |name: &str| Actor::User(name.to_owned());
        assert_eq!(stored_rule_actor("li.wei".to_owned()), user("li.wei"));
        assert_eq!(stored_rule_actor("user:li.wei".to_owned()), user("li.wei"));
        assert_eq!(stored_rule_actor("engine".to_owned()), Actor::Engine);
    }
}
