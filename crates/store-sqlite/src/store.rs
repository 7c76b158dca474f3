//! [`SqliteStore`]: opening the database and implementing [`Store`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use oversight_core::{Actor, Alert, AlertId, Area, AreaCode, Mn, MonitoringPoint, Reading, Secret};
use oversight_store::{
    AlertChange, AlertQuery, AlertUpdate, ConsistencyProof, DeliveryOutcome, InclusionProof,
    LedgerEntry, LedgerHead, NewLedgerEntry, NewNotification, NewSilence, Notification,
    NotificationQuery, Page, PointQuery, PointStatus, QuarantineLimits, QuarantineOutcome,
    QuarantineQuery, QuarantineSummary, QuarantinedUpload, ReadingQuery, Revision, RevisionCount,
    RevisionQuery, RuleChange, Silence, Store, StoreError, StoreResult, StoredCheckpoint, Summary,
    SummaryQuery, TransitionRecord,
};
use oversight_store::{Escalation, TaskHistoryEntry, TaskQuery, TaskWrite};
use oversight_tasks::{OutcomeRecord, SubjectId, TaskId};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use crate::alerts;
use crate::checkpoint;
use crate::codec;
use crate::error::{SqliteError, backend};
use crate::ledger;
use crate::notifications;
use crate::options::SqliteOptions;
use crate::pool::ReaderPool;
use crate::read_ops;
use crate::revisions;
use crate::schema;
use crate::tasks;
use crate::writer::{self, GroupLimits, WriteOp, WriteOutput, WriteRequest};

/// The file name used when [`SqliteStore::open`] is given a directory.
pub const DATABASE_FILE_NAME: &str = "oversight.db";

/// An Oversight store in one SQLite database file, in WAL mode, with one
/// writer thread that group-commits and a pool of read connections.
///
/// Cloning is cheap and shares the connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: Arc<PathBuf>,
    options: Arc<SqliteOptions>,
    writer: mpsc::Sender<WriteRequest>,
    readers: Arc<ReaderPool>,
}

impl SqliteStore {
    /// Opens or creates the database at `path`, or `oversight.db` inside it
    /// when `path` is an existing directory, and brings its schema up to date.
    ///
    /// Fails if the database was written by a newer build. Opening blocks
    /// the calling thread while it migrates the schema. A tokio runtime is
    /// needed only for the store's methods, not for opening.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<Self> {
        const OPERATION: &str = "open database";
        let path = resolve_path(path.as_ref()).map_err(backend(OPERATION))?;
        restrict_files(&path).map_err(backend(OPERATION))?;
        let mut conn = open_connection(&path, &options, false).map_err(backend(OPERATION))?;
        schema::migrate(&mut conn)?;
        ledger::init(&conn, options.ledger_hash)?;

        let readers = (0..options.readers.max(1))
            .map(|_| open_connection(&path, &options, true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend(OPERATION))?;

        let (sender, queue) = mpsc::channel(options.queue_capacity.max(1));
        let move_interval = options.move_interval;
        let limits = GroupLimits {
            requests: options.max_group_requests.max(1),
            records: options.max_group_records.max(1),
        };
        // The writer owns `stop_checkpoints`, so the checkpointer stops
        // when the writer does.
        let (stop_checkpoints, checkpoints_stopped) = std::sync::mpsc::channel::<()>();
        if let Some(interval) = options.checkpoint_interval {
            let checkpoint_conn =
                open_connection(&path, &options, false).map_err(backend(OPERATION))?;
            spawn_thread("sqlite-checkpoint", move || {
                checkpoint::run(&checkpoint_conn, interval, &checkpoints_stopped);
            })?;
        }
        spawn_thread("sqlite-writer", move || {
            writer::run(conn, queue, limits, move_interval);
            drop(stop_checkpoints);
        })?;
        info!(
            path = %path.display(),
            synchronous = options.synchronous.pragma_value(),
            readers = readers.len(),
            "opened sqlite store"
        );
        Ok(Self {
            path: Arc::new(path),
            options: Arc::new(options),
            writer: sender,
            readers: ReaderPool::new(readers),
        })
    }

    /// Returns the path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the options the store was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// Returns the pool of read connections.
    pub(crate) fn readers(&self) -> &Arc<ReaderPool> {
        &self.readers
    }

    /// Sends a write to the writer thread and waits until it is committed.
    pub(crate) async fn write(&self, op: WriteOp) -> StoreResult<WriteOutput> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        let (result, op) = answer
            .await
            .map_err(|_| backend("write")(SqliteError::WriterGone))?;
        drop(op);
        result
    }

    async fn write_count(&self, op: WriteOp) -> StoreResult<u64> {
        match self.write(op).await? {
            WriteOutput::Count(count) => Ok(count),
            other => unexpected_output(&other),
        }
    }
}

fn spawn_thread(name: &str, body: impl FnOnce() + Send + 'static) -> StoreResult<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map(drop)
        .map_err(|error| backend("open database")(SqliteError::Io(error)))
}

pub(crate) fn unexpected_output<T>(output: &WriteOutput) -> StoreResult<T> {
    Err(backend("write")(SqliteError::Corrupt {
        what: "writer output",
        value: format!("{output:?}"),
        reason: "the writer answered a request with another request's output".to_owned(),
    }))
}

/// Returns the database file for `path`: `path` itself, or the default file
/// inside it if it is a directory. Creates missing parent directories.
fn resolve_path(path: &Path) -> Result<PathBuf, SqliteError> {
    if path.is_dir() {
        return Ok(path.join(DATABASE_FILE_NAME));
    }
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(path.to_owned())
}

/// Creates the database file readable and writable by its owner only, or
/// restricts an existing one and its WAL and shared-memory files to that.
/// SQLite creates the WAL and shared-memory files with the permissions of
/// the database file (`findCreateFileMode` in SQLite's `os_unix.c`), so they
/// stay private too.
fn restrict_files(path: &Path) -> Result<(), SqliteError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(SqliteError::Io(error)),
        }
        let mut files = vec![path.to_owned()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        for file in files {
            let mode = match std::fs::metadata(&file) {
                Ok(metadata) => metadata.permissions().mode() & 0o777,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(SqliteError::Io(error)),
            };
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                info!(path = %file.display(), from = format!("{mode:04o}"), "restricted database file to mode 0600");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn open_connection(
    path: &Path,
    options: &SqliteOptions,
    read_only: bool,
) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(options.busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode: SQLite kept {mode:?} instead of WAL; the file system must support \
             shared memory"
        )));
    }
    conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint_pages)?;
    let size_limit = i64::try_from(options.wal_size_limit_bytes).unwrap_or(i64::MAX);
    conn.pragma_update(None, "journal_size_limit", size_limit)?;
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_size_kib))?;
    conn.set_prepared_statement_cache_capacity(64);
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_areas(&self, areas: &[Area]) -> StoreResult<u64> {
        self.write_count(WriteOp::UpsertAreas(areas.to_vec())).await
    }

    async fn area(&self, code: &AreaCode) -> StoreResult<Option<Area>> {
        let code = code.clone();
        self.readers
            .run("get area", move |conn| read_ops::area(conn, &code))
            .await
    }

    async fn area_children(&self, parent: Option<&AreaCode>) -> StoreResult<Vec<Area>> {
        let parent = parent.cloned();
        self.readers
            .run("list child areas", move |conn| {
                read_ops::area_children(conn, parent.as_ref())
            })
            .await
    }

    async fn upsert_points(&self, points: &[MonitoringPoint], actor: &Actor) -> StoreResult<u64> {
        self.write_count(WriteOp::UpsertPoints(points.to_vec(), actor.clone()))
            .await
    }

    async fn point(&self, mn: &Mn) -> StoreResult<Option<MonitoringPoint>> {
        let mn = mn.clone();
        self.readers
            .run("get monitoring point", move |conn| {
                read_ops::point(conn, &mn)
            })
            .await
    }

    async fn points(&self, query: &PointQuery) -> StoreResult<Page<MonitoringPoint>> {
        let query = query.clone();
        self.readers
            .run("list monitoring points", move |conn| {
                read_ops::points(conn, &query)
            })
            .await
    }

    async fn point_statuses(&self, areas: Option<&[AreaCode]>) -> StoreResult<Vec<PointStatus>> {
        let areas = areas.map(<[AreaCode]>::to_vec);
        self.readers
            .run("list point statuses", move |conn| {
                read_ops::point_statuses(conn, areas.as_deref())
            })
            .await
    }

    async fn set_point_password(
        &self,
        mn: &Mn,
        password: &Secret<String>,
        previous_valid_until: Option<Timestamp>,
        actor: &Actor,
    ) -> StoreResult<()> {
        match self
            .write(WriteOp::SetPointPassword(
                mn.clone(),
                password.clone(),
                previous_valid_until,
                actor.clone(),
            ))
            .await?
        {
            WriteOutput::Unit => Ok(()),
            other => unexpected_output(&other),
        }
    }

    async fn retire_previous_password(&self, mn: &Mn) -> StoreResult<bool> {
        let changed = self
            .write_count(WriteOp::RetirePreviousPassword(mn.clone()))
            .await?;
        Ok(changed > 0)
    }

    async fn record_contacts(&self, contacts: &[(Mn, Timestamp)]) -> StoreResult<u64> {
        if contacts.is_empty() {
            return Ok(0);
        }
        self.write_count(WriteOp::RecordContacts(contacts.to_vec()))
            .await
    }

    async fn insert_readings_from(
        &self,
        readings: &[Reading],
        peer: Option<SocketAddr>,
    ) -> StoreResult<u64> {
        let new = self.insert_readings_new_mask(readings, peer).await?;
        Ok(new.iter().filter(|new| **new).count() as u64)
    }

    async fn insert_readings_new_mask(
        &self,
        readings: &[Reading],
        peer: Option<SocketAddr>,
    ) -> StoreResult<Vec<bool>> {
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        let peer = peer.map(|address| address.to_string());
        match self
            .write(WriteOp::InsertReadings(readings.to_vec(), peer))
            .await?
        {
            WriteOutput::NewMask(new) => Ok(new),
            other => unexpected_output(&other),
        }
    }

    async fn readings(&self, query: &ReadingQuery) -> StoreResult<Page<Reading>> {
        const OPERATION: &str = "query readings";
        let query = query.clone();
        self.readers
            .run(OPERATION, move |conn| {
                read_ops::in_snapshot(conn, OPERATION, |conn| read_ops::readings(conn, &query))
            })
            .await
    }

    async fn reading_revisions(&self, query: &RevisionQuery) -> StoreResult<Page<Revision>> {
        const OPERATION: &str = "query reading revisions";
        let query = query.clone();
        self.readers
            .run(OPERATION, move |conn| {
                revisions::reading_revisions(conn, &query)
            })
            .await
    }

    async fn revision_counts(
        &self,
        mn: &Mn,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<RevisionCount>> {
        const OPERATION: &str = "count reading revisions";
        let mn = mn.clone();
        let (from, to) = (codec::micros(from), codec::micros(to));
        self.readers
            .run(OPERATION, move |conn| {
                revisions::revision_counts(conn, &mn, from, to)
            })
            .await
    }

    async fn summary(&self, query: &SummaryQuery) -> StoreResult<Summary> {
        const OPERATION: &str = "count summary";
        let query = query.clone();
        self.readers
            .run(OPERATION, move |conn| {
                read_ops::in_snapshot(conn, OPERATION, |conn| read_ops::summary(conn, &query))
            })
            .await
    }

    async fn quarantine(
        &self,
        uploads: &[QuarantinedUpload],
        limits: &QuarantineLimits,
    ) -> StoreResult<QuarantineOutcome> {
        if uploads.is_empty() {
            return Ok(QuarantineOutcome::default());
        }
        match self
            .write(WriteOp::Quarantine(uploads.to_vec(), *limits))
            .await?
        {
            WriteOutput::Quarantined(outcome) => Ok(outcome),
            other => unexpected_output(&other),
        }
    }

    async fn quarantine_summaries(
        &self,
        query: &QuarantineQuery,
    ) -> StoreResult<Page<QuarantineSummary>> {
        let query = query.clone();
        self.readers
            .run("list quarantine", move |conn| {
                read_ops::quarantine_summaries(conn, &query)
            })
            .await
    }

    async fn quarantined_uploads(
        &self,
        mn: &str,
        query: &QuarantineQuery,
    ) -> StoreResult<Page<QuarantinedUpload>> {
        let mn = mn.to_owned();
        let query = query.clone();
        self.readers
            .run("list quarantined uploads", move |conn| {
                read_ops::quarantined_uploads(conn, &mn, &query)
            })
            .await
    }

    async fn release_quarantine(&self, mn: &Mn, actor: &Actor) -> StoreResult<u64> {
        self.write_count(WriteOp::ReleaseQuarantine(mn.clone(), actor.clone()))
            .await
    }

    async fn discard_quarantine(&self, mn: &str, actor: &Actor) -> StoreResult<u64> {
        self.write_count(WriteOp::DiscardQuarantine(mn.to_owned(), actor.clone()))
            .await
    }

    async fn apply_alert_updates(&self, updates: &[AlertUpdate]) -> StoreResult<Vec<AlertChange>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        match self
            .write(WriteOp::ApplyAlertUpdates(updates.to_vec()))
            .await?
        {
            WriteOutput::AlertChanges(changes) => Ok(changes),
            other => unexpected_output(&other),
        }
    }

    async fn alerts(&self, query: &AlertQuery) -> StoreResult<Page<Alert>> {
        let query = query.clone();
        self.readers
            .run("list alerts", move |conn| read_ops::alerts(conn, &query))
            .await
    }

    async fn alert(&self, id: AlertId) -> StoreResult<Option<Alert>> {
        self.readers
            .run("get alert", move |conn| read_ops::alert(conn, id))
            .await
    }

    async fn open_alerts(&self) -> StoreResult<Vec<Alert>> {
        self.readers
            .run("list open alerts", read_ops::open_alerts)
            .await
    }

    async fn alert_transitions(&self, id: AlertId) -> StoreResult<Vec<TransitionRecord>> {
        self.readers
            .run("list alert transitions", move |conn| {
                alerts::transitions(conn, id)
            })
            .await
    }

    async fn create_silence(&self, silence: &NewSilence) -> StoreResult<Silence> {
        match self.write(WriteOp::CreateSilence(silence.clone())).await? {
            WriteOutput::Silence(silence) => Ok(silence),
            other => unexpected_output(&other),
        }
    }

    async fn expire_silence(&self, id: i64, at: Timestamp) -> StoreResult<Silence> {
        match self.write(WriteOp::ExpireSilence(id, at)).await? {
            WriteOutput::Silence(silence) => Ok(silence),
            other => unexpected_output(&other),
        }
    }

    async fn silences(&self, after: Option<Timestamp>) -> StoreResult<Vec<Silence>> {
        self.readers
            .run("list silences", move |conn| alerts::silences(conn, after))
            .await
    }

    async fn record_rule_change(&self, change: &RuleChange) -> StoreResult<i64> {
        match self
            .write(WriteOp::RecordRuleChange(change.clone()))
            .await?
        {
            WriteOutput::Id(id) => Ok(id),
            other => unexpected_output(&other),
        }
    }

    async fn queue_notifications(&self, items: &[NewNotification]) -> StoreResult<Vec<i64>> {
        match self
            .write(WriteOp::QueueNotifications(items.to_vec()))
            .await?
        {
            WriteOutput::Ids(ids) => Ok(ids),
            other => unexpected_output(&other),
        }
    }

    async fn claim_notifications(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        match self.write(WriteOp::ClaimNotifications(now, limit)).await? {
            WriteOutput::Notifications(claimed) => Ok(claimed),
            other => unexpected_output(&other),
        }
    }

    async fn record_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreResult<()> {
        match self.write(WriteOp::RecordDelivery(id, outcome)).await? {
            WriteOutput::Unit => Ok(()),
            other => unexpected_output(&other),
        }
    }

    async fn release_claimed_notifications(&self) -> StoreResult<u64> {
        self.write_count(WriteOp::ReleaseClaimedNotifications).await
    }

    async fn notifications(&self, query: &NotificationQuery) -> StoreResult<Page<Notification>> {
        let query = query.clone();
        self.readers
            .run("list notifications", move |conn| {
                notifications::list(conn, &query)
            })
            .await
    }

    async fn notification(&self, id: i64) -> StoreResult<Option<Notification>> {
        self.readers
            .run("get notification", move |conn| notifications::one(conn, id))
            .await
    }

    async fn retry_notification(&self, id: i64, now: Timestamp) -> StoreResult<Notification> {
        match self.write(WriteOp::RetryNotification(id, now)).await? {
            WriteOutput::Notification(notification) => Ok(*notification),
            other => unexpected_output(&other),
        }
    }

    async fn mark_inbox_read(&self, owner: &str, ids: &[i64], at: Timestamp) -> StoreResult<u64> {
        self.write_count(WriteOp::MarkInboxRead(owner.to_owned(), ids.to_vec(), at))
            .await
    }

    async fn rule_changes(&self, limit: u32) -> StoreResult<Vec<RuleChange>> {
        self.readers
            .run("list rule changes", move |conn| {
                alerts::rule_changes(conn, limit)
            })
            .await
    }

    async fn rule_switches(&self) -> StoreResult<Vec<(String, bool)>> {
        self.readers
            .run("list rule switches", alerts::rule_switches)
            .await
    }

    async fn next_task_id(&self) -> StoreResult<TaskId> {
        match self.write(WriteOp::NextTaskId).await? {
            WriteOutput::TaskId(id) => Ok(id),
            other => unexpected_output(&other),
        }
    }

    async fn write_tasks(
        &self,
        writes: &[TaskWrite],
        escalation: Option<&Escalation>,
    ) -> StoreResult<AlertChange> {
        let op = WriteOp::WriteTasks(writes.to_vec(), escalation.cloned());
        match self.write(op).await? {
            WriteOutput::TasksWritten(change) => Ok(*change),
            other => unexpected_output(&other),
        }
    }

    async fn task(&self, id: &TaskId) -> StoreResult<Option<oversight_tasks::Task>> {
        let id = id.clone();
        self.readers
            .run("look up task", move |conn| tasks::one(conn, &id))
            .await
    }

    async fn task_history(&self, id: &TaskId) -> StoreResult<Vec<TaskHistoryEntry>> {
        let id = id.clone();
        self.readers
            .run("list task transitions", move |conn| {
                tasks::history(conn, &id)
            })
            .await
    }

    async fn tasks(&self, query: &TaskQuery) -> StoreResult<Page<oversight_tasks::Task>> {
        let query = query.clone();
        self.readers
            .run("list tasks", move |conn| tasks::list(conn, &query))
            .await
    }

    async fn outcome_records(&self, subject: &SubjectId) -> StoreResult<Vec<OutcomeRecord>> {
        let subject = subject.clone();
        self.readers
            .run("list outcome records", move |conn| {
                tasks::outcomes(conn, &subject)
            })
            .await
    }

    async fn append_ledger(&self, entries: Vec<NewLedgerEntry>) -> StoreResult<Vec<u64>> {
        match self.write(WriteOp::AppendLedger(entries)).await? {
            WriteOutput::Indexes(indexes) => Ok(indexes),
            other => unexpected_output(&other),
        }
    }

    async fn ledger_head(&self) -> StoreResult<LedgerHead> {
        self.readers.run("get ledger head", ledger::head).await
    }

    async fn ledger_entry(&self, index: u64) -> StoreResult<Option<LedgerEntry>> {
        self.readers
            .run("get ledger entry", move |conn| ledger::entry(conn, index))
            .await
    }

    async fn ledger_entries(&self, from: u64, limit: u32) -> StoreResult<Vec<LedgerEntry>> {
        self.readers
            .run("list ledger entries", move |conn| {
                ledger::entries(conn, from, limit)
            })
            .await
    }

    async fn ledger_inclusion_proof(&self, index: u64, size: u64) -> StoreResult<InclusionProof> {
        self.readers
            .run("prove ledger inclusion", move |conn| {
                ledger::inclusion_proof(conn, index, size)
            })
            .await
    }

    async fn ledger_consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> StoreResult<ConsistencyProof> {
        self.readers
            .run("prove ledger consistency", move |conn| {
                ledger::consistency_proof(conn, first, second)
            })
            .await
    }

    async fn add_ledger_checkpoint(&self, checkpoint: &StoredCheckpoint) -> StoreResult<()> {
        self.write(WriteOp::AddCheckpoint(checkpoint.clone()))
            .await
            .map(drop)
    }

    async fn replace_ledger_checkpoint_note(&self, size: u64, note: &str) -> StoreResult<()> {
        self.write(WriteOp::ReplaceCheckpointNote(size, note.to_owned()))
            .await
            .map(drop)
    }

    async fn latest_ledger_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.readers
            .run("get latest ledger checkpoint", ledger::latest_checkpoint)
            .await
    }

    async fn ledger_checkpoints(
        &self,
        after_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        self.readers
            .run("list ledger checkpoints", move |conn| {
                ledger::checkpoints(conn, after_size, limit)
            })
            .await
    }

    async fn ping(&self) -> StoreResult<Timestamp> {
        self.readers.run("ping", read_ops::ping).await
    }
}
