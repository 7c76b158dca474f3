//! Queries of `reading_revisions`: resends whose values or flag differ from
//! the stored reading.

use oversight_core::{DataFlag, FactorCode, FactorValues, Mn, Reading};
use oversight_store::{Page, Revision, RevisionCount, RevisionQuery, StoreError, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::codec::{kind_code, kind_from_code, micros, page_size, parse_stored, timestamp};
use crate::error::{SqliteError, backend, corrupt};

/// The largest page of revisions.
const MAX_REVISION_PAGE: u32 = 10_000;

fn point_id(conn: &Connection, operation: &'static str, mn: &Mn) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT id FROM points WHERE mn = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([mn.as_str()], |row| row.get(0))
                .optional()
        })
        .map_err(backend(operation))
}

/// Encodes the position after the revision with `data_time` and `id`.
fn encode_cursor(data_time: i64, id: i64) -> String {
    format!("v.{data_time}.{id}")
}

fn decode_cursor(cursor: &str) -> StoreResult<(i64, i64)> {
    let invalid = || StoreError::InvalidCursor(cursor.to_owned());
    let rest = cursor.strip_prefix("v.").ok_or_else(invalid)?;
    let (data_time, id) = rest.split_once('.').ok_or_else(invalid)?;
    let data_time = data_time.parse().map_err(|_| invalid())?;
    let id = id.parse().map_err(|_| invalid())?;
    Ok((data_time, id))
}

fn decode_flag(text: Option<String>) -> Result<Option<DataFlag>, SqliteError> {
    text.map(|text| parse_stored("data flag", &text, DataFlag::parse))
        .transpose()
}

/// A revision row and its position for the cursor.
struct RevisionRow {
    id: i64,
    data_time: i64,
    revision: Revision,
}

fn decode_revision(mn: &Mn, row: &Row<'_>) -> rusqlite::Result<Result<RevisionRow, SqliteError>> {
    let id: i64 = row.get(0)?;
    let data_time: i64 = row.get(1)?;
    let kind: i64 = row.get(2)?;
    let factor: String = row.get(3)?;
    let received_at: i64 = row.get(4)?;
    let values = FactorValues {
        rtd: row.get(5)?,
        avg: row.get(6)?,
        min: row.get(7)?,
        max: row.get(8)?,
        cou: row.get(9)?,
    };
    let flag: Option<String> = row.get(10)?;
    let peer: Option<String> = row.get(11)?;
    Ok((|| {
        let reading = Reading {
            mn: mn.clone(),
            kind: kind_from_code(kind)?,
            factor: parse_stored("factor code", &factor, FactorCode::parse)?,
            data_time: timestamp(data_time)?,
            received_at: timestamp(received_at)?,
            values,
            flag: decode_flag(flag)?,
        };
        Ok(RevisionRow {
            id,
            data_time,
            revision: Revision { reading, peer },
        })
    })())
}

/// Returns a page of one point's revisions, ordered by data time, then id.
pub(crate) fn reading_revisions(
    conn: &Connection,
    query: &RevisionQuery,
) -> StoreResult<Page<Revision>> {
    const OPERATION: &str = "query reading revisions";
    let limit = page_size(query.limit, MAX_REVISION_PAGE);
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let Some(point_id) = point_id(conn, OPERATION, &query.mn)? else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let mut sql = String::from(
        "SELECT r.id, r.data_time, r.kind, f.code, r.received_at, \
         r.rtd, r.avg, r.min, r.max, r.cou, r.flag, r.peer \
         FROM reading_revisions r JOIN factors f ON f.id = r.factor_id \
         WHERE r.point_id = ?",
    );
    let mut values = vec![Value::Integer(point_id)];
    if let Some(factor) = &query.factor {
        sql.push_str(" AND f.code = ?");
        values.push(Value::Text(factor.as_str().to_owned()));
    }
    if let Some(kind) = query.kind {
        sql.push_str(" AND r.kind = ?");
        values.push(Value::Integer(kind_code(kind)));
    }
    if let Some(from) = query.from {
        sql.push_str(" AND r.data_time >= ?");
        values.push(Value::Integer(micros(from)));
    }
    if let Some(to) = query.to {
        sql.push_str(" AND r.data_time < ?");
        values.push(Value::Integer(micros(to)));
    }
    if let Some((data_time, id)) = after {
        sql.push_str(" AND (r.data_time > ? OR (r.data_time = ? AND r.id > ?))");
        values.extend([
            Value::Integer(data_time),
            Value::Integer(data_time),
            Value::Integer(id),
        ]);
    }
    sql.push_str(" ORDER BY r.data_time, r.id LIMIT ?");
    values.push(Value::Integer(i64::from(limit) + 1));

    let rows: Vec<Result<RevisionRow, SqliteError>> = conn
        .prepare(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(values), |row| {
                    decode_revision(&query.mn, row)
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    let mut rows: Vec<RevisionRow> = rows
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(OPERATION))?;
    let limit = usize::try_from(limit).expect("u32 fits usize");
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| encode_cursor(row.data_time, row.id))
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(|row| row.revision).collect(),
        next_cursor,
    })
}

/// Returns the revision count of each reading of `mn` with data time in
/// `from..=to` that has revisions.
pub(crate) fn revision_counts(
    conn: &Connection,
    mn: &Mn,
    from: i64,
    to: i64,
) -> StoreResult<Vec<RevisionCount>> {
    const OPERATION: &str = "count reading revisions";
    let Some(point_id) = point_id(conn, OPERATION, mn)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<Result<RevisionCount, SqliteError>> = conn
        .prepare_cached(
            "SELECT r.kind, f.code, r.data_time, count(*) \
             FROM reading_revisions r JOIN factors f ON f.id = r.factor_id \
             WHERE r.point_id = ?1 AND r.data_time BETWEEN ?2 AND ?3 \
             GROUP BY r.data_time, r.kind, r.factor_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![point_id, from, to], |row| {
                    let kind: i64 = row.get(0)?;
                    let factor: String = row.get(1)?;
                    let data_time: i64 = row.get(2)?;
                    let revisions: i64 = row.get(3)?;
                    Ok((|| {
                        Ok(RevisionCount {
                            kind: kind_from_code(kind)?,
                            factor: parse_stored("factor code", &factor, FactorCode::parse)?,
                            data_time: timestamp(data_time)?,
                            revisions: u64::try_from(revisions)
                                .map_err(|error| corrupt("revision count", &revisions, &error))?,
                        })
                    })())
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(OPERATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let text = encode_cursor(-5, 42);
        assert_eq!(
            decode_cursor(&text).expect("issued cursor decodes"),
            (-5, 42)
        );
    }

    #[test]
    fn cursor_rejects_foreign_text() {
        for text in ["", "v.", "v.1", "v.x.2", "a.1.2", "v.1.2.3"] {
            assert!(decode_cursor(text).is_err(), "{text:?}");
        }
    }
}
