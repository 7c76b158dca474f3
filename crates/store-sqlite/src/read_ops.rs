//! The read queries, each run on a connection of the reader pool.

use std::collections::HashMap;

use oversight_core::{
    Alert, AlertId, Area, AreaCode, FactorCode, FactorLimit, GeoPoint, Mn, MonitoringPoint,
    PreviousPassword, Reading, Secret, SystemCode,
};
use oversight_store::{
    AlertQuery, Page, PointQuery, PointStatus, QuarantineQuery, QuarantineReason,
    QuarantineSummary, QuarantinedUpload, ReadingQuery, SortOrder, StoreError, StoreResult,
    Summary, SummaryQuery,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::alerts::{ALERT_COLUMNS, decode_alert};
use crate::codec::{
    ReadingCursor, areas_condition, decode_alert_cursor, decode_point_cursor, encode_alert_cursor,
    encode_point_cursor, hour_of, kind_code, kind_from_code, micros, optional_timestamp, page_size,
    parse_stored, timestamp,
};
use crate::error::{SqliteError, backend, corrupt};
use crate::packed;

/// The largest page of points or alerts.
const MAX_PAGE: u32 = 1_000;
/// The largest page of readings.
const MAX_READING_PAGE: u32 = 10_000;

/// Runs a query whose rows decode into `T`, translating both kinds of failure.
fn collect<T>(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnMut(&Row<'_>) -> rusqlite::Result<Result<T, SqliteError>>,
) -> StoreResult<Vec<T>> {
    let rows: Vec<Result<T, SqliteError>> = conn
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_map(params, decode)?.collect())
        .map_err(backend(operation))?;
    rows.into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(operation))
}

/// Runs `read` in one read transaction, so that all its statements see the
/// same snapshot even when the writer commits in between. Without it a
/// query of `uploads` and one of `recent_uploads` could miss rows that a
/// move committed between the two, and uploads could name a factor id
/// committed after the query read `factors`.
pub(crate) fn in_snapshot<T>(
    conn: &Connection,
    operation: &'static str,
    read: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn.unchecked_transaction().map_err(backend(operation))?;
    let result = read(&tx)?;
    tx.commit().map_err(backend(operation))?;
    Ok(result)
}

/// Splits one extra row off `items` and turns it into the next page's cursor.
fn page<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).expect("u32 fits usize");
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next_cursor }
}

// --- areas -------------------------------------------------------------------

fn decode_area(row: &Row<'_>) -> rusqlite::Result<Result<Area, SqliteError>> {
    let code: String = row.get(0)?;
    let name: String = row.get(1)?;
    Ok((|| {
        let code = parse_stored("area code", &code, AreaCode::parse)?;
        Area::new(code, &name).map_err(|error| corrupt("area name", &name, &error))
    })())
}

pub(crate) fn area(conn: &Connection, code: &AreaCode) -> StoreResult<Option<Area>> {
    let areas = collect(
        conn,
        "get area",
        "SELECT code, name FROM areas WHERE code = ?1",
        [code.as_str()],
        decode_area,
    )?;
    Ok(areas.into_iter().next())
}

pub(crate) fn area_children(
    conn: &Connection,
    parent: Option<&AreaCode>,
) -> StoreResult<Vec<Area>> {
    const OPERATION: &str = "list child areas";
    match parent {
        Some(parent) => collect(
            conn,
            OPERATION,
            "SELECT code, name FROM areas WHERE parent = ?1 ORDER BY code",
            [parent.as_str()],
            decode_area,
        ),
        None => collect(
            conn,
            OPERATION,
            "SELECT code, name FROM areas WHERE parent IS NULL ORDER BY code",
            [],
            decode_area,
        ),
    }
}

// --- points ------------------------------------------------------------------

const POINT_COLUMNS: &str = "mn, name, area, system_code, password, longitude, latitude, limits, interval_secs, \
     attributes, previous_password, previous_password_until";

fn decode_point(row: &Row<'_>) -> rusqlite::Result<Result<MonitoringPoint, SqliteError>> {
    let mn: String = row.get(0)?;
    let name: String = row.get(1)?;
    let area: String = row.get(2)?;
    let system_code: String = row.get(3)?;
    let password: String = row.get(4)?;
    let longitude: Option<f64> = row.get(5)?;
    let latitude: Option<f64> = row.get(6)?;
    let limits: String = row.get(7)?;
    let interval_secs: u32 = row.get(8)?;
    let attributes: String = row.get(9)?;
    let previous_password: Option<String> = row.get(10)?;
    let previous_password_until: Option<i64> = row.get(11)?;
    Ok((|| {
        let previous_password = match (previous_password, previous_password_until) {
            (Some(password), Some(until)) => Some(PreviousPassword {
                password: Secret::new(password),
                valid_until: timestamp(until)?,
            }),
            _ => None,
        };
        let location = match (longitude, latitude) {
            (Some(longitude), Some(latitude)) => Some(
                GeoPoint::new(longitude, latitude)
                    .map_err(|error| corrupt("point location", &mn, &error))?,
            ),
            _ => None,
        };
        let limits: Vec<FactorLimit> = serde_json::from_str(&limits)
            .map_err(|error| corrupt("point limits", &limits, &error))?;
        Ok(MonitoringPoint {
            mn: parse_stored("MN", &mn, Mn::parse)?,
            name,
            area: parse_stored("point area", &area, AreaCode::parse)?,
            system_code: parse_stored("system code", &system_code, SystemCode::parse)?,
            password: Secret::new(password),
            previous_password,
            location,
            limits,
            interval_secs,
            attributes: serde_json::from_str(&attributes)
                .map_err(|error| corrupt("point attributes", &attributes, &error))?,
        })
    })())
}

pub(crate) fn point(conn: &Connection, mn: &Mn) -> StoreResult<Option<MonitoringPoint>> {
    let sql = format!("SELECT {POINT_COLUMNS} FROM points WHERE mn = ?1");
    let points = collect(
        conn,
        "get monitoring point",
        &sql,
        [mn.as_str()],
        decode_point,
    )?;
    Ok(points.into_iter().next())
}

pub(crate) fn points(conn: &Connection, query: &PointQuery) -> StoreResult<Page<MonitoringPoint>> {
    let limit = page_size(query.limit, MAX_PAGE);
    let after = query
        .cursor
        .as_deref()
        .map(decode_point_cursor)
        .transpose()?;
    let mut values: Vec<Value> = Vec::new();
    let areas = areas_condition("area", query.areas.as_deref(), |bound| {
        values.push(Value::Text(bound));
        "?".to_owned()
    });
    let mut sql = format!("SELECT {POINT_COLUMNS} FROM points WHERE {areas}");
    if let Some(after) = after {
        sql.push_str(" AND mn > ?");
        values.push(Value::Text(after));
    }
    sql.push_str(" ORDER BY mn LIMIT ?");
    values.push(Value::Integer(i64::from(limit) + 1));
    let items = collect(
        conn,
        "list monitoring points",
        &sql,
        params_from_iter(values),
        decode_point,
    )?;
    Ok(page(items, limit, |point| {
        encode_point_cursor(point.mn.as_str())
    }))
}

pub(crate) fn point_statuses(
    conn: &Connection,
    areas: Option<&[AreaCode]>,
) -> StoreResult<Vec<PointStatus>> {
    let mut values: Vec<Value> = Vec::new();
    let areas = areas_condition("area", areas, |bound| {
        values.push(Value::Text(bound));
        "?".to_owned()
    });
    collect(
        conn,
        "list point statuses",
        &format!(
            "SELECT mn, area, interval_secs, last_data_time, last_received_at, \
             last_contact_at FROM points WHERE {areas} ORDER BY mn"
        ),
        params_from_iter(values),
        |row| {
            let mn: String = row.get(0)?;
            let area: String = row.get(1)?;
            let interval_secs: u32 = row.get(2)?;
            let last_data_time: Option<i64> = row.get(3)?;
            let last_received_at: Option<i64> = row.get(4)?;
            let last_contact_at: Option<i64> = row.get(5)?;
            Ok((|| {
                Ok(PointStatus {
                    mn: parse_stored("MN", &mn, Mn::parse)?,
                    area: parse_stored("point area", &area, AreaCode::parse)?,
                    interval_secs,
                    last_data_time: optional_timestamp(last_data_time)?,
                    last_received_at: optional_timestamp(last_received_at)?,
                    last_contact_at: optional_timestamp(last_contact_at)?,
                })
            })())
        },
    )
}

// --- readings ----------------------------------------------------------------

fn lookup_id(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    key: &str,
) -> StoreResult<Option<i64>> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
        .map_err(backend(operation))
}

pub(crate) fn readings(conn: &Connection, query: &ReadingQuery) -> StoreResult<Page<Reading>> {
    const OPERATION: &str = "query readings";
    let limit = page_size(query.limit, MAX_READING_PAGE);
    let empty = Page {
        items: Vec::new(),
        next_cursor: None,
    };
    let point_sql = "SELECT id FROM points WHERE mn = ?1";
    let Some(point_id) = lookup_id(conn, OPERATION, point_sql, query.mn.as_str())? else {
        if let Some(cursor) = &query.cursor {
            return Err(StoreError::InvalidCursor(cursor.clone()));
        }
        return Ok(empty);
    };
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| ReadingCursor::decode(cursor, point_id, query.order))
        .transpose()?;
    let factors = factor_codes(conn)?;
    let factor_id = match &query.factor {
        Some(code) => match factors.iter().find(|(_, known)| *known == code) {
            Some((&id, _)) => Some(id),
            None => return Ok(empty),
        },
        None => None,
    };

    let (moved_sql, values) = uploads_sql("uploads", point_id, query, after.as_ref());
    let (recent_sql, _) = uploads_sql("recent_uploads", point_id, query, after.as_ref());
    let scan = UploadScan {
        mn: &query.mn,
        point_id,
        order: query.order,
        factor_id,
        after,
        wanted: usize::try_from(limit).expect("u32 fits usize") + 1,
        factors: &factors,
    };
    let mut moved = conn
        .prepare_cached(&moved_sql)
        .map_err(backend(OPERATION))?;
    let mut recent = conn
        .prepare_cached(&recent_sql)
        .map_err(backend(OPERATION))?;
    let items = scan.collect(&mut moved, &mut recent, values)?;
    let order = query.order;
    let page = page(items, limit, |(cursor, _)| cursor.encode(order));
    Ok(Page {
        items: page.items.into_iter().map(|(_, reading)| reading).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Returns every factor code by id.
fn factor_codes(conn: &Connection) -> StoreResult<HashMap<i64, FactorCode>> {
    let pairs = collect(
        conn,
        "list factor codes",
        "SELECT id, code FROM factors",
        [],
        |row| {
            let id: i64 = row.get(0)?;
            let code: String = row.get(1)?;
            Ok(parse_stored("factor code", &code, FactorCode::parse).map(|code| (id, code)))
        },
    )?;
    Ok(pairs.into_iter().collect())
}

/// Builds the query of the uploads that may hold a page of readings.
fn uploads_sql(
    table: &str,
    point_id: i64,
    query: &ReadingQuery,
    after: Option<&ReadingCursor>,
) -> (String, Vec<Value>) {
    let (comparison, direction) = match query.order {
        SortOrder::Ascending => (">=", "ASC"),
        SortOrder::Descending => ("<=", "DESC"),
    };
    let mut sql = format!("SELECT data_time, kind, factors FROM {table} WHERE point_id = ?");
    let mut values = vec![Value::Integer(point_id)];
    if let Some(kind) = query.kind {
        sql.push_str(" AND kind = ?");
        values.push(Value::Integer(kind_code(kind)));
    }
    if let Some(from) = query.from {
        sql.push_str(" AND data_time >= ?");
        values.push(Value::Integer(micros(from)));
    }
    if let Some(to) = query.to {
        sql.push_str(" AND data_time < ?");
        values.push(Value::Integer(micros(to)));
    }
    // The cursor's upload is read again, because the page may have ended
    // inside it; `UploadScan` skips the factors already returned.
    if let Some(after) = after {
        sql.push_str(&format!(" AND (data_time, kind) {comparison} (?, ?)"));
        values.extend([Value::Integer(after.data_time), Value::Integer(after.kind)]);
    }
    sql.push_str(&format!(
        " ORDER BY data_time {direction}, kind {direction}"
    ));
    (sql, values)
}

/// An upload row: data time, kind and packed factors.
type UploadRow = (i64, i64, Vec<u8>);

fn next_upload(rows: &mut rusqlite::Rows<'_>) -> rusqlite::Result<Option<UploadRow>> {
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some((row.get(0)?, row.get(1)?, row.get(2)?)))
}

/// Unpacks uploads into readings until a page and one more are found.
struct UploadScan<'a> {
    mn: &'a Mn,
    point_id: i64,
    order: SortOrder,
    factor_id: Option<i64>,
    after: Option<ReadingCursor>,
    wanted: usize,
    factors: &'a HashMap<i64, FactorCode>,
}

type CursorReading = (ReadingCursor, Reading);

impl UploadScan<'_> {
    /// Merges the uploads of both tables, which hold disjoint keys, in the
    /// query's order and unpacks them until a page and one more are found.
    fn collect(
        &self,
        moved: &mut rusqlite::CachedStatement<'_>,
        recent: &mut rusqlite::CachedStatement<'_>,
        values: Vec<Value>,
    ) -> StoreResult<Vec<CursorReading>> {
        const OPERATION: &str = "query readings";
        let mut moved_rows = moved
            .query(params_from_iter(values.clone()))
            .map_err(backend(OPERATION))?;
        let mut recent_rows = recent
            .query(params_from_iter(values))
            .map_err(backend(OPERATION))?;
        let mut next_moved = next_upload(&mut moved_rows).map_err(backend(OPERATION))?;
        let mut next_recent = next_upload(&mut recent_rows).map_err(backend(OPERATION))?;
        let mut items = Vec::new();
        loop {
            let take_moved = match (&next_moved, &next_recent) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(moved), Some(recent)) => match self.order {
                    SortOrder::Ascending => (moved.0, moved.1) < (recent.0, recent.1),
                    SortOrder::Descending => (moved.0, moved.1) > (recent.0, recent.1),
                },
            };
            let upload = if take_moved {
                let upload = next_moved.take();
                next_moved = next_upload(&mut moved_rows).map_err(backend(OPERATION))?;
                upload
            } else {
                let upload = next_recent.take();
                next_recent = next_upload(&mut recent_rows).map_err(backend(OPERATION))?;
                upload
            };
            let Some((data_time, kind, blob)) = upload else {
                break;
            };
            self.unpack(data_time, kind, &blob, &mut items)
                .map_err(backend(OPERATION))?;
            if items.len() >= self.wanted {
                items.truncate(self.wanted);
                break;
            }
        }
        Ok(items)
    }

    fn unpack(
        &self,
        data_time: i64,
        kind: i64,
        blob: &[u8],
        items: &mut Vec<CursorReading>,
    ) -> Result<(), SqliteError> {
        let mut entries = packed::decode(blob)?;
        if self.order == SortOrder::Descending {
            entries.reverse();
        }
        for entry in entries {
            let factor_id = i64::from(entry.factor_id);
            if self.factor_id.is_some_and(|wanted| wanted != factor_id) {
                continue;
            }
            if let Some(after) = &self.after
                && (after.data_time, after.kind) == (data_time, kind)
            {
                let returned = match self.order {
                    SortOrder::Ascending => factor_id <= after.factor_id,
                    SortOrder::Descending => factor_id >= after.factor_id,
                };
                if returned {
                    continue;
                }
            }
            let factor =
                self.factors.get(&factor_id).cloned().ok_or_else(|| {
                    corrupt("factor id", &factor_id, &"missing from table factors")
                })?;
            let reading = Reading {
                mn: self.mn.clone(),
                kind: kind_from_code(kind)?,
                factor,
                data_time: timestamp(data_time)?,
                received_at: timestamp(entry.received_at)?,
                values: entry.values,
                flag: entry.flag,
            };
            let cursor = ReadingCursor {
                point_id: self.point_id,
                data_time,
                kind,
                factor_id,
            };
            items.push((cursor, reading));
        }
        Ok(())
    }
}

pub(crate) fn summary(conn: &Connection, query: &SummaryQuery) -> StoreResult<Summary> {
    const OPERATION: &str = "count summary";
    // The point filter goes in as a JSON array; NULL means every point.
    let points = query
        .points
        .as_ref()
        .map(|points| serde_json::to_string(&points.iter().map(Mn::as_str).collect::<Vec<_>>()))
        .transpose()
        .map_err(backend(OPERATION))?;
    // Each count binds `first` (a time, or nothing), the point filter, then
    // the bounds of the condition on the area `column`, which replaces
    // `{areas}`. Anonymous placeholders number on after `?1` and `?2`.
    let count = |sql: &str, first: Option<i64>, column: &str| -> StoreResult<u64> {
        let mut values: Vec<Value> = first.map(Value::Integer).into_iter().collect();
        values.push(points.clone().map_or(Value::Null, Value::Text));
        let areas = areas_condition(column, query.areas.as_deref(), |bound| {
            values.push(Value::Text(bound));
            "?".to_owned()
        });
        let sql = sql.replace("{areas}", &areas);
        let value: i64 = conn
            .prepare_cached(&sql)
            .and_then(|mut statement| {
                statement.query_row(params_from_iter(values), |row| row.get(0))
            })
            .map_err(backend(OPERATION))?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    let point_count = count(
        "SELECT count(*) FROM points WHERE (?1 IS NULL OR mn IN (SELECT value FROM json_each(?1))) \
         AND {areas}",
        None,
        "area",
    )?;
    let points_online = count(
        "SELECT count(*) FROM points WHERE (last_received_at >= ?1 OR last_contact_at >= ?1) \
         AND (?2 IS NULL OR mn IN (SELECT value FROM json_each(?2))) AND {areas}",
        Some(micros(query.online_since)),
        "area",
    )?;
    let readings = count(
        "SELECT coalesce(sum(c.readings), 0) FROM reading_counts c \
         JOIN points p ON p.id = c.point_id \
         WHERE c.hour >= ?1 AND (?2 IS NULL OR p.mn IN (SELECT value FROM json_each(?2))) \
         AND {areas}",
        Some(hour_of(micros(query.readings_since))),
        "p.area",
    )?;
    let open_alerts = count(
        "SELECT count(*) FROM alerts WHERE status <> 'resolved' \
         AND (?1 IS NULL OR mn IN (SELECT value FROM json_each(?1))) AND {areas}",
        None,
        "area",
    )?;
    Ok(Summary {
        points: point_count,
        points_online,
        readings,
        open_alerts,
    })
}

// --- quarantine ----------------------------------------------------------------

pub(crate) fn quarantine_summaries(
    conn: &Connection,
    query: &QuarantineQuery,
) -> StoreResult<Page<QuarantineSummary>> {
    let limit = page_size(query.limit, MAX_PAGE);
    let after = query
        .cursor
        .as_deref()
        .map(decode_quarantine_cursor)
        .transpose()?;
    let (after_last, after_mn) = after.unzip();
    let items = collect(
        conn,
        "list quarantine",
        "SELECT mn, uploads, readings, first, last, last_peer, reasons FROM ( \
           SELECT q.mn AS mn, count(*) AS uploads, sum(q.reading_count) AS readings, \
             min(q.received_at) AS first, max(q.received_at) AS last, \
             (SELECT latest.peer FROM quarantine latest WHERE latest.mn = q.mn \
              ORDER BY latest.received_at DESC, latest.id DESC LIMIT 1) AS last_peer, \
             group_concat(DISTINCT q.reason) AS reasons \
           FROM quarantine q GROUP BY q.mn) \
         WHERE ?1 IS NULL OR last < ?1 OR (last = ?1 AND mn > ?2) \
         ORDER BY last DESC, mn LIMIT ?3",
        params![after_last, after_mn, i64::from(limit) + 1],
        |row| {
            let mn: String = row.get(0)?;
            let uploads: i64 = row.get(1)?;
            let readings: i64 = row.get(2)?;
            let first: i64 = row.get(3)?;
            let last: i64 = row.get(4)?;
            let last_peer: Option<String> = row.get(5)?;
            let reasons: String = row.get(6)?;
            Ok((|| {
                Ok(QuarantineSummary {
                    reasons: decode_reasons(&mn, &reasons)?,
                    mn,
                    uploads: u64::try_from(uploads).unwrap_or(0),
                    readings: u64::try_from(readings).unwrap_or(0),
                    first_received_at: timestamp(first)?,
                    last_received_at: timestamp(last)?,
                    last_peer,
                })
            })())
        },
    )?;
    Ok(page(items, limit, |summary| {
        encode_quarantine_cursor(micros(summary.last_received_at), &summary.mn)
    }))
}

/// Decodes the comma-separated reasons of one MN's quarantine.
fn decode_reasons(mn: &str, text: &str) -> Result<Vec<QuarantineReason>, SqliteError> {
    let mut reasons = text
        .split(',')
        .map(|name| {
            QuarantineReason::parse(name)
                .ok_or_else(|| corrupt("quarantine reason", &name, &format!("stored for MN {mn}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    reasons.sort_by_key(|reason| reason.as_str());
    Ok(reasons)
}

pub(crate) fn quarantined_uploads(
    conn: &Connection,
    mn: &str,
    query: &QuarantineQuery,
) -> StoreResult<Page<QuarantinedUpload>> {
    let limit = page_size(query.limit, MAX_PAGE);
    let after = query
        .cursor
        .as_deref()
        .map(decode_quarantine_upload_cursor)
        .transpose()?;
    let (after_received, after_id) = after.unzip();
    let items = collect(
        conn,
        "list quarantined uploads",
        "SELECT id, mn, peer, received_at, raw, readings, reason FROM quarantine \
         WHERE mn = ?1 AND (?2 IS NULL OR received_at > ?2 OR (received_at = ?2 AND id > ?3)) \
         ORDER BY received_at, id LIMIT ?4",
        params![mn, after_received, after_id, i64::from(limit) + 1],
        |row| {
            let id: i64 = row.get(0)?;
            let mn: String = row.get(1)?;
            let peer: Option<String> = row.get(2)?;
            let received_at: i64 = row.get(3)?;
            let raw: String = row.get(4)?;
            let readings: String = row.get(5)?;
            let reason: String = row.get(6)?;
            Ok((|| {
                let readings = serde_json::from_str(&readings)
                    .map_err(|error| corrupt("quarantined readings", &mn, &error))?;
                let reason = QuarantineReason::parse(&reason).ok_or_else(|| {
                    corrupt("quarantine reason", &reason, &format!("stored for MN {mn}"))
                })?;
                let upload = QuarantinedUpload {
                    mn,
                    reason,
                    peer,
                    received_at: timestamp(received_at)?,
                    raw,
                    readings,
                };
                Ok((id, received_at, upload))
            })())
        },
    )?;
    let page = page(items, limit, |(id, received_at, _)| {
        encode_quarantine_cursor(*received_at, &id.to_string())
    });
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|(_, _, upload)| upload)
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// Encodes the cursor after a quarantine row: its time in microseconds and
/// its MN (summaries) or its row id (uploads).
fn encode_quarantine_cursor(micros: i64, key: &str) -> String {
    format!("q.{micros}.{key}")
}

/// Decodes a cursor of [`quarantine_summaries`].
fn decode_quarantine_cursor(cursor: &str) -> StoreResult<(i64, String)> {
    cursor
        .strip_prefix("q.")
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(micros, mn)| Some((micros.parse().ok()?, mn.to_owned())))
        .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))
}

/// Decodes a cursor of [`quarantined_uploads`].
fn decode_quarantine_upload_cursor(cursor: &str) -> StoreResult<(i64, i64)> {
    let (micros, id) = decode_quarantine_cursor(cursor)?;
    let id = id
        .parse()
        .map_err(|_| StoreError::InvalidCursor(cursor.to_owned()))?;
    Ok((micros, id))
}

// --- alerts ----------------------------------------------------------------------

pub(crate) fn alerts(conn: &Connection, query: &AlertQuery) -> StoreResult<Page<Alert>> {
    let limit = page_size(query.limit, MAX_PAGE);
    let before = query
        .cursor
        .as_deref()
        .map(decode_alert_cursor)
        .transpose()?;
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();

    if !query.statuses.is_empty() {
        let marks = vec!["?"; query.statuses.len()].join(", ");
        sql.push_str(&format!(" AND status IN ({marks})"));
        values.extend(
            query
                .statuses
                .iter()
                .map(|status| Value::Text(status.as_str().to_owned())),
        );
    }
    if let Some(severity) = query.severity {
        sql.push_str(" AND severity = ?");
        values.push(Value::Text(severity.as_str().to_owned()));
    }
    if let Some(rule_id) = &query.rule_id {
        sql.push_str(" AND rule_id = ?");
        values.push(Value::Text(rule_id.clone()));
    }
    if query.areas.is_some() {
        let areas = areas_condition("area", query.areas.as_deref(), |bound| {
            values.push(Value::Text(bound));
            "?".to_owned()
        });
        sql.push_str(" AND ");
        sql.push_str(&areas);
    }
    if let Some(mn) = &query.mn {
        sql.push_str(" AND mn = ?");
        values.push(Value::Text(mn.to_string()));
    }
    if let Some(from) = query.from {
        sql.push_str(" AND last_at >= ?");
        values.push(Value::Integer(micros(from)));
    }
    if let Some(to) = query.to {
        sql.push_str(" AND first_at < ?");
        values.push(Value::Integer(micros(to)));
    }
    if let Some(before) = before {
        sql.push_str(" AND id < ?");
        values.push(Value::Integer(before));
    }

    sql.push_str(" ORDER BY id DESC LIMIT ?");
    values.push(Value::Integer(i64::from(limit) + 1));
    let items = collect(
        conn,
        "list alerts",
        &sql,
        params_from_iter(values),
        decode_alert,
    )?;
    Ok(page(items, limit, |alert| encode_alert_cursor(alert.id.0)))
}

pub(crate) fn alert(conn: &Connection, id: AlertId) -> StoreResult<Option<Alert>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1");
    let alerts = collect(conn, "get alert", &sql, [id.0], decode_alert)?;
    Ok(alerts.into_iter().next())
}

pub(crate) fn open_alerts(conn: &Connection) -> StoreResult<Vec<Alert>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE status <> 'resolved' ORDER BY id");
    collect(conn, "list open alerts", &sql, [], decode_alert)
}

pub(crate) fn ping(conn: &Connection) -> StoreResult<jiff::Timestamp> {
    const OPERATION: &str = "ping";
    let now: i64 = conn
        .query_row(
            "SELECT CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
            [],
            |row| row.get(0),
        )
        .map_err(backend(OPERATION))?;
    timestamp(now).map_err(backend(OPERATION))
}
