//! The write operations, each run inside the writer's group transaction,
//! either directly or in a savepoint of its own.
//!
//! Counters and last-seen times are not written per request: each request
//! records them in [`Effects`], and the writer applies the merged effects of
//! every successful request once before it commits.

use std::collections::{BTreeMap, HashMap};

use oversight_core::{Actor, Area, Mn, MonitoringPoint, PasswordMatch, Reading};
use oversight_store::{
    NewLedgerEntry, QuarantineLimits, QuarantineOutcome, QuarantinedUpload, StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{hour_of, kind_code, micros};
use crate::error::{SqliteError, backend, corrupt};
use crate::ledger;
use crate::packed::{self, FactorEntry, Merged};

/// Ids of points and factors already looked up, valid while no transaction
/// that created one of them was rolled back.
#[derive(Debug, Default)]
pub(crate) struct IdCache {
    points: HashMap<Mn, i64>,
    factors: HashMap<String, u32>,
}

impl IdCache {
    /// Forgets every id, after a rollback that may have removed some.
    pub(crate) fn clear(&mut self) {
        self.points.clear();
        self.factors.clear();
    }

    /// Returns the id of a registered point, or `None`.
    pub(crate) fn point_id(&mut self, conn: &Connection, mn: &Mn) -> StoreResult<Option<i64>> {
        if let Some(&id) = self.points.get(mn) {
            return Ok(Some(id));
        }
        let id = conn
            .prepare_cached("SELECT id FROM points WHERE mn = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([mn.as_str()], |row| row.get::<_, i64>(0))
                    .optional()
            })
            .map_err(backend("look up monitoring point"))?;
        if let Some(id) = id {
            self.points.insert(mn.clone(), id);
        }
        Ok(id)
    }

    /// Returns the id of a factor code, numbering it if it is new.
    fn factor_id(&mut self, conn: &Connection, code: &str) -> StoreResult<u32> {
        if let Some(&id) = self.factors.get(code) {
            return Ok(id);
        }
        let id: u32 = conn
            .prepare_cached(
                "INSERT INTO factors (code) VALUES (?1) \
                 ON CONFLICT (code) DO UPDATE SET code = excluded.code RETURNING id",
            )
            .and_then(|mut statement| statement.query_row([code], |row| row.get(0)))
            .map_err(backend("number factor code"))?;
        self.factors.insert(code.to_owned(), id);
        Ok(id)
    }
}

/// Counter and last-seen changes made by successful requests, applied once
/// per transaction.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// New readings per (receive hour, point id).
    counts: HashMap<(i64, i64), u64>,
    /// Latest (data time, receive time) per point id, in microseconds.
    last_seen: HashMap<i64, (i64, i64)>,
}

impl Effects {
    fn count_new(&mut self, point_id: i64, received_at: i64) {
        *self
            .counts
            .entry((hour_of(received_at), point_id))
            .or_default() += 1;
    }

    fn seen(&mut self, point_id: i64, data_time: i64, received_at: i64) {
        let seen = self
            .last_seen
            .entry(point_id)
            .or_insert((data_time, received_at));
        seen.0 = seen.0.max(data_time);
        seen.1 = seen.1.max(received_at);
    }

    /// Adds the effects of another request.
    pub(crate) fn merge(&mut self, other: Effects) {
        for (key, count) in other.counts {
            *self.counts.entry(key).or_default() += count;
        }
        for (point_id, (data_time, received_at)) in other.last_seen {
            self.seen(point_id, data_time, received_at);
        }
    }

    /// Writes the counters and last-seen times.
    pub(crate) fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut count = conn.prepare_cached(
            "INSERT INTO reading_counts (hour, point_id, readings) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hour, point_id) DO UPDATE SET readings = readings + excluded.readings",
        )?;
        for (&(hour, point_id), &readings) in &self.counts {
            count.execute(params![hour, point_id, to_i64(readings)])?;
        }
        let mut seen = conn.prepare_cached(
            "UPDATE points SET \
             last_data_time = max(coalesce(last_data_time, ?2), ?2), \
             last_received_at = max(coalesce(last_received_at, ?3), ?3) \
             WHERE id = ?1",
        )?;
        for (&point_id, &(data_time, received_at)) in &self.last_seen {
            seen.execute(params![point_id, data_time, received_at])?;
        }
        Ok(())
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).expect("usize fits u64")
}

/// Inserts or renames areas; see [`oversight_store::Store::upsert_areas`].
pub(crate) fn upsert_areas(conn: &Connection, areas: &[Area]) -> StoreResult<u64> {
    const OPERATION: &str = "upsert areas";
    let mut exists = conn
        .prepare_cached("SELECT 1 FROM areas WHERE code = ?1")
        .map_err(backend(OPERATION))?;
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO areas (code, name, parent) VALUES (?1, ?2, ?3) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE name <> excluded.name",
        )
        .map_err(backend(OPERATION))?;
    let mut changed = 0;
    for area in areas {
        let parent = area.parent();
        if let Some(parent) = &parent
            && !exists
                .exists([parent.as_str()])
                .map_err(backend(OPERATION))?
        {
            return Err(StoreError::NotFound {
                what: "parent area",
                key: parent.to_string(),
            });
        }
        let parent = parent.as_ref().map(|code| code.as_str());
        changed += upsert
            .execute(params![area.code.as_str(), area.name, parent])
            .map_err(backend(OPERATION))?;
    }
    Ok(to_u64(changed))
}

/// Inserts or replaces points; see [`oversight_store::Store::upsert_points`].
pub(crate) fn upsert_points(
    conn: &Connection,
    points: &[MonitoringPoint],
    actor: &Actor,
) -> StoreResult<u64> {
    const OPERATION: &str = "upsert monitoring points";
    let mut area_exists = conn
        .prepare_cached("SELECT 1 FROM areas WHERE code = ?1")
        .map_err(backend(OPERATION))?;
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO points (mn, name, area, system_code, password, longitude, latitude, \
             limits, interval_secs, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (mn) DO UPDATE SET name = excluded.name, area = excluded.area, \
             system_code = excluded.system_code, password = excluded.password, \
             longitude = excluded.longitude, latitude = excluded.latitude, \
             limits = excluded.limits, interval_secs = excluded.interval_secs, \
             attributes = excluded.attributes, \
             previous_password = CASE WHEN password = excluded.password \
             THEN previous_password END, \
             previous_password_until = CASE WHEN password = excluded.password \
             THEN previous_password_until END",
        )
        .map_err(backend(OPERATION))?;
    for point in points {
        if !area_exists
            .exists([point.area.as_str()])
            .map_err(backend(OPERATION))?
        {
            return Err(StoreError::NotFound {
                what: "area",
                key: point.area.to_string(),
            });
        }
        record_point(conn, point, actor)?;
        let limits = serde_json::to_string(&point.limits).map_err(backend(OPERATION))?;
        let attributes = serde_json::to_string(&point.attributes).map_err(backend(OPERATION))?;
        upsert
            .execute(params![
                point.mn.as_str(),
                point.name,
                point.area.as_str(),
                point.system_code.as_str(),
                point.password.expose(),
                point.location.map(|location| location.longitude),
                point.location.map(|location| location.latitude),
                limits,
                point.interval_secs,
                attributes,
            ])
            .map_err(backend(OPERATION))?;
    }
    Ok(to_u64(points.len()))
}

/// Replaces a point's HJ 212 password; see
/// [`oversight_store::Store::set_point_password`].
pub(crate) fn set_point_password(
    conn: &Connection,
    ids: &mut IdCache,
    mn: &Mn,
    password: &str,
    previous_valid_until: Option<i64>,
    actor: &Actor,
) -> StoreResult<()> {
    const OPERATION: &str = "set point password";
    if ids.point_id(conn, mn)?.is_none() {
        return Err(StoreError::NotFound {
            what: "monitoring point",
            key: mn.to_string(),
        });
    }
    // The right-hand sides read the row as it was before the update, so
    // `password` there is the replaced one.
    conn.prepare_cached(
        "UPDATE points SET password = ?2, \
         previous_password = CASE WHEN ?3 IS NULL OR password = ?2 THEN NULL ELSE password END, \
         previous_password_until = CASE WHEN ?3 IS NULL OR password = ?2 THEN NULL ELSE ?3 END \
         WHERE mn = ?1",
    )
    .and_then(|mut statement| {
        statement.execute(params![mn.as_str(), password, previous_valid_until])
    })
    .map_err(backend(OPERATION))?;
    let payload = serde_json::json!({
        "previous_valid_until": previous_valid_until.map(crate::codec::timestamp).transpose().map_err(backend(OPERATION))?,
    });
    ledger::append_one(
        conn,
        NewLedgerEntry::new(
            "point.password_changed",
            format!("point:{mn}"),
            actor.to_string(),
            payload,
        ),
    )
    .map(drop)
}

/// Records contact times; see [`oversight_store::Store::record_contacts`].
pub(crate) fn record_contacts(
    conn: &Connection,
    contacts: &[(Mn, jiff::Timestamp)],
) -> StoreResult<u64> {
    const OPERATION: &str = "record point contacts";
    let mut update = conn
        .prepare_cached(
            "UPDATE points SET last_contact_at = ?2 \
             WHERE mn = ?1 AND (last_contact_at IS NULL OR last_contact_at < ?2)",
        )
        .map_err(backend(OPERATION))?;
    let mut changed = 0;
    for (mn, at) in contacts {
        changed += update
            .execute(params![mn.as_str(), micros(*at)])
            .map_err(backend(OPERATION))?;
    }
    Ok(to_u64(changed))
}

/// Ends the validity of a point's replaced password; see
/// [`oversight_store::Store::retire_previous_password`].
pub(crate) fn retire_previous_password(conn: &Connection, mn: &Mn) -> StoreResult<u64> {
    const OPERATION: &str = "retire previous point password";
    let changed = conn
        .prepare_cached(
            "UPDATE points SET previous_password = NULL, previous_password_until = NULL \
             WHERE mn = ?1 AND previous_password IS NOT NULL",
        )
        .and_then(|mut statement| statement.execute([mn.as_str()]))
        .map_err(backend(OPERATION))?;
    if changed > 0 {
        ledger::append_one(
            conn,
            NewLedgerEntry::new(
                "point.previous_password_retired",
                format!("point:{mn}"),
                Actor::Device(mn.to_string()).to_string(),
                serde_json::json!({}),
            ),
        )?;
    }
    Ok(to_u64(changed))
}

/// Appends a point's configuration to the ledger, with its HJ 212 password
/// replaced by whether it is set, because the ledger is exported.
fn record_point(conn: &Connection, point: &MonitoringPoint, actor: &Actor) -> StoreResult<()> {
    const OPERATION: &str = "record monitoring point in ledger";
    let mut payload = serde_json::to_value(point).map_err(backend(OPERATION))?;
    if let Some(fields) = payload.as_object_mut() {
        fields.remove("password");
        fields.remove("previous_password");
        fields.insert(
            "password_set".to_owned(),
            (!point.password.expose().is_empty()).into(),
        );
    }
    ledger::append_one(
        conn,
        NewLedgerEntry::new(
            "point.upserted",
            format!("point:{}", point.mn),
            actor.to_string(),
            payload,
        ),
    )
    .map(drop)
}

/// Inserts readings of registered points, recording `peer` with each
/// revision; see [`oversight_store::Store::insert_readings_from`]. Returns
/// how many were new.
pub(crate) fn insert_readings(
    conn: &Connection,
    ids: &mut IdCache,
    effects: &mut Effects,
    readings: &[Reading],
    peer: Option<&str>,
) -> StoreResult<u64> {
    let new = insert_readings_new_mask(conn, ids, effects, readings, peer)?;
    Ok(to_u64(new.iter().filter(|new| **new).count()))
}

/// Inserts readings of registered points, recording `peer` with each
/// revision; see [`oversight_store::Store::insert_readings_new_mask`].
/// Returns whether each reading, in the order given, was new.
pub(crate) fn insert_readings_new_mask(
    conn: &Connection,
    ids: &mut IdCache,
    effects: &mut Effects,
    readings: &[Reading],
    peer: Option<&str>,
) -> StoreResult<Vec<bool>> {
    let mut point_ids = Vec::with_capacity(readings.len());
    for reading in readings {
        let id = ids
            .point_id(conn, &reading.mn)?
            .ok_or_else(|| StoreError::NotFound {
                what: "monitoring point",
                key: reading.mn.to_string(),
            })?;
        point_ids.push(id);
    }

    let mut uploads: BTreeMap<UploadKey, Vec<FactorEntry>> = BTreeMap::new();
    // The first reading given for an upload and factor is the one that can
    // be new, because later ones are resends of it.
    let mut first_of: HashMap<(UploadKey, u32), usize> = HashMap::new();
    for (index, (reading, point_id)) in readings.iter().zip(point_ids).enumerate() {
        let factor_id = ids.factor_id(conn, reading.factor.as_str())?;
        let key = UploadKey {
            point_id,
            data_time: micros(reading.data_time),
            kind: kind_code(reading.kind),
        };
        let received_at = micros(reading.received_at);
        effects.seen(point_id, key.data_time, received_at);
        first_of.entry((key, factor_id)).or_insert(index);
        uploads.entry(key).or_default().push(FactorEntry {
            factor_id,
            received_at,
            values: reading.values,
            flag: reading.flag,
        });
    }

    let mut new = vec![false; readings.len()];
    for (key, entries) in uploads {
        let (first, mut revisions) = packed::sort_keep_first(entries);
        let merged = write_upload(conn, &key, first).map_err(backend("insert readings"))?;
        for (factor_id, received_at) in &merged.added {
            effects.count_new(key.point_id, *received_at);
            if let Some(index) = first_of.get(&(key, *factor_id)) {
                new[*index] = true;
            }
        }
        revisions.extend(merged.revisions);
        insert_revisions(conn, &key, &revisions, peer)
            .map_err(backend("insert reading revisions"))?;
    }
    Ok(new)
}

/// Appends resent entries that differ from the stored reading of their
/// factor to `reading_revisions`, with the address of the sender.
fn insert_revisions(
    conn: &Connection,
    key: &UploadKey,
    revisions: &[FactorEntry],
    peer: Option<&str>,
) -> rusqlite::Result<()> {
    if revisions.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO reading_revisions (point_id, data_time, kind, factor_id, received_at, \
         rtd, avg, min, max, cou, flag, peer) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for entry in revisions {
        let values = &entry.values;
        insert.execute(params![
            key.point_id,
            key.data_time,
            key.kind,
            entry.factor_id,
            entry.received_at,
            values.rtd,
            values.avg,
            values.min,
            values.max,
            values.cou,
            entry.flag.map(|flag| flag.as_char().to_string()),
            peer,
        ])?;
    }
    Ok(())
}

/// The unique key of a row of `uploads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct UploadKey {
    point_id: i64,
    data_time: i64,
    kind: i64,
}

/// Inserts one upload's entries into `recent_uploads`, or merges them into
/// the stored upload with the same key in either table, where stored
/// factors keep their values.
fn write_upload(
    conn: &Connection,
    key: &UploadKey,
    entries: Vec<FactorEntry>,
) -> Result<Merged, WriteUploadError> {
    if let Some(blob) = stored_factors(conn, UploadTable::Moved, key)? {
        return merge_upload(conn, UploadTable::Moved, key, &blob, entries);
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO recent_uploads (point_id, data_time, kind, factors) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (data_time, point_id, kind) DO NOTHING",
        )?
        .execute(params![
            key.point_id,
            key.data_time,
            key.kind,
            packed::encode(&entries)
        ])?;
    if inserted == 1 {
        return Ok(Merged {
            added: entries
                .iter()
                .map(|entry| (entry.factor_id, entry.received_at))
                .collect(),
            revisions: Vec::new(),
        });
    }
    let blob = stored_factors(conn, UploadTable::Recent, key)?.ok_or_else(|| {
        corrupt(
            "recent upload",
            &key.data_time,
            &"conflicting row not found",
        )
    })?;
    merge_upload(conn, UploadTable::Recent, key, &blob, entries)
}

/// The two tables an upload can be stored in.
#[derive(Debug, Clone, Copy)]
enum UploadTable {
    /// `recent_uploads`, where new uploads land.
    Recent,
    /// `uploads`, where the writer moves them.
    Moved,
}

impl UploadTable {
    fn name(self) -> &'static str {
        match self {
            Self::Recent => "recent_uploads",
            Self::Moved => "uploads",
        }
    }
}

/// Returns the packed factors stored under `key` in `table`.
fn stored_factors(
    conn: &Connection,
    table: UploadTable,
    key: &UploadKey,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let sql = format!(
        "SELECT factors FROM {} WHERE point_id = ?1 AND data_time = ?2 AND kind = ?3",
        table.name()
    );
    conn.prepare_cached(&sql)?
        .query_row(params![key.point_id, key.data_time, key.kind], |row| {
            row.get(0)
        })
        .optional()
}

/// Merges `entries` into the stored upload `blob` under `key` in `table`.
fn merge_upload(
    conn: &Connection,
    table: UploadTable,
    key: &UploadKey,
    blob: &[u8],
    entries: Vec<FactorEntry>,
) -> Result<Merged, WriteUploadError> {
    let mut stored = packed::decode(blob)?;
    let merged = packed::merge(&mut stored, entries);
    if merged.added.is_empty() {
        return Ok(merged);
    }
    let sql = format!(
        "UPDATE {} SET factors = ?4 WHERE point_id = ?1 AND data_time = ?2 AND kind = ?3",
        table.name()
    );
    conn.prepare_cached(&sql)?.execute(params![
        key.point_id,
        key.data_time,
        key.kind,
        packed::encode(&stored)
    ])?;
    Ok(merged)
}

/// Moves every row of `recent_uploads` into `uploads`, in key order so that
/// each point's index page changes once. Returns how many rows moved.
pub(crate) fn move_recent_uploads(conn: &Connection) -> rusqlite::Result<usize> {
    let moved = conn.execute(
        "INSERT INTO uploads (point_id, data_time, kind, factors) \
         SELECT point_id, data_time, kind, factors FROM recent_uploads \
         ORDER BY point_id, data_time, kind",
        [],
    )?;
    conn.execute("DELETE FROM recent_uploads", [])?;
    Ok(moved)
}

/// A failure to write an upload.
#[derive(Debug, thiserror::Error)]
enum WriteUploadError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Stored(#[from] SqliteError),
}

/// Stores uploads in quarantine, skipping those past `limits`; see
/// [`oversight_store::Store::quarantine`].
pub(crate) fn quarantine(
    conn: &Connection,
    uploads: &[QuarantinedUpload],
    limits: &QuarantineLimits,
) -> StoreResult<QuarantineOutcome> {
    const OPERATION: &str = "quarantine uploads";
    let mut outcome = QuarantineOutcome::default();
    // Counting is done on the quarantine path only: uploads of registered
    // points never come here, and `quarantine_mn` serves the count per MN.
    let mut total: u64 = conn
        .query_row("SELECT count(*) FROM quarantine", [], |row| row.get(0))
        .map_err(backend(OPERATION))?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO quarantine (mn, peer, received_at, raw, readings, reading_count, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(backend(OPERATION))?;
    let mut count_mn = conn
        .prepare_cached("SELECT count(*) FROM quarantine WHERE mn = ?1")
        .map_err(backend(OPERATION))?;
    for upload in uploads {
        if total >= limits.total {
            outcome.over_total_limit += 1;
            continue;
        }
        let held_for_mn: u64 = count_mn
            .query_row([&upload.mn], |row| row.get(0))
            .map_err(backend(OPERATION))?;
        if held_for_mn >= limits.per_mn {
            outcome.over_mn_limit += 1;
            continue;
        }
        let readings = serde_json::to_string(&upload.readings).map_err(backend(OPERATION))?;
        insert
            .execute(params![
                upload.mn,
                upload.peer,
                micros(upload.received_at),
                upload.raw,
                readings,
                to_i64(to_u64(upload.readings.len())),
                upload.reason.as_str(),
            ])
            .map_err(backend(OPERATION))?;
        total += 1;
        outcome.stored += 1;
    }
    Ok(outcome)
}

/// Moves the quarantined readings of a now registered MN into its readings.
/// Only uploads sent with a password of the point, as valid when each was
/// received, are moved; the others stay in quarantine. Returns how many
/// readings were moved.
pub(crate) fn release_quarantine(
    conn: &Connection,
    ids: &mut IdCache,
    effects: &mut Effects,
    mn: &Mn,
    actor: &Actor,
) -> StoreResult<u64> {
    const OPERATION: &str = "release quarantine";
    let not_found = || StoreError::NotFound {
        what: "monitoring point",
        key: mn.to_string(),
    };
    if ids.point_id(conn, mn)?.is_none() {
        return Err(not_found());
    }
    let point = crate::read_ops::point(conn, mn)?.ok_or_else(not_found)?;
    // Each upload's revisions keep the address it was received from.
    let uploads: Vec<(i64, String, Option<String>, i64, String)> = conn
        .prepare_cached(
            "SELECT id, readings, peer, received_at, raw FROM quarantine \
             WHERE mn = ?1 ORDER BY received_at, id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([mn.as_str()], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    let mut moved = 0;
    let mut delete = conn
        .prepare_cached("DELETE FROM quarantine WHERE id = ?1")
        .map_err(backend(OPERATION))?;
    let mut deleted = 0;
    for (id, batch, peer, received_at, raw) in uploads {
        let received_at = crate::codec::timestamp(received_at).map_err(backend(OPERATION))?;
        let sent = upload_password(&raw).unwrap_or_default();
        if point.check_password(sent, received_at) == PasswordMatch::Wrong {
            continue;
        }
        let readings: Vec<Reading> = serde_json::from_str(&batch).map_err(backend(OPERATION))?;
        insert_readings(conn, ids, effects, &readings, peer.as_deref())?;
        moved += to_u64(readings.len());
        deleted += delete.execute([id]).map_err(backend(OPERATION))?;
    }
    let payload = serde_json::json!({"uploads": deleted, "readings": moved});
    ledger::append_one(
        conn,
        NewLedgerEntry::new(
            "quarantine.released",
            format!("point:{mn}"),
            actor.to_string(),
            payload,
        ),
    )?;
    Ok(moved)
}

/// Returns the value of the `PW` field of a raw HJ 212 packet, which comes
/// before the data area (`CP=&&`).
fn upload_password(raw: &str) -> Option<&str> {
    // A frame starts with `##` and the four digits of the segment length.
    let segment = raw
        .strip_prefix("##")
        .and_then(|rest| rest.get(4..))
        .unwrap_or(raw);
    let header = segment.split("CP=&&").next()?;
    header
        .split(';')
        .find_map(|field| field.strip_prefix("PW="))
}

/// Deletes the quarantine entries of `mn`. Returns how many uploads were deleted.
pub(crate) fn discard_quarantine(conn: &Connection, mn: &str, actor: &Actor) -> StoreResult<u64> {
    let deleted = conn
        .prepare_cached("DELETE FROM quarantine WHERE mn = ?1")
        .and_then(|mut statement| statement.execute([mn]))
        .map_err(backend("discard quarantine"))?;
    if deleted > 0 {
        let payload = serde_json::json!({"uploads": deleted});
        ledger::append_one(
            conn,
            NewLedgerEntry::new(
                "quarantine.discarded",
                format!("point:{mn}"),
                actor.to_string(),
                payload,
            ),
        )?;
    }
    Ok(to_u64(deleted))
}
