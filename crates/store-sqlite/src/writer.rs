//! The single writer thread and its group commit.
//!
//! Every write request goes through one queue to one thread that owns the
//! only write connection. The thread takes all requests waiting in the queue
//! (up to a bound), runs them in one transaction, commits once, and only then
//! sends every caller its result. A request that fails does not affect the
//! others in the group: see [`commit_group`]. While a commit waits for the
//! disk, new requests queue up and form the next group, so one fsync serves
//! many callers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oversight_core::{Actor, Area, Mn, MonitoringPoint, Reading, Secret};
use oversight_store::{
    AlertChange, AlertUpdate, DeliveryOutcome, Escalation, NewLedgerEntry, NewNotification,
    NewSilence, Notification, QuarantineLimits, QuarantineOutcome, QuarantinedUpload, RuleChange,
    Silence, StoreError, StoreResult, StoredCheckpoint, TaskWrite,
};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info};

use crate::accounts::{self, AccountOutput, AccountWrite};
use crate::alerts;
use crate::error::backend;
use crate::ledger;
use crate::notifications;
use crate::tasks;
use crate::write_ops::{self, Effects, IdCache};

/// A change to the database.
#[derive(Debug)]
pub(crate) enum WriteOp {
    UpsertAreas(Vec<Area>),
    UpsertPoints(Vec<MonitoringPoint>, Actor),
    SetPointPassword(Mn, Secret<String>, Option<jiff::Timestamp>, Actor),
    RetirePreviousPassword(Mn),
    RecordContacts(Vec<(Mn, jiff::Timestamp)>),
    /// Readings and the address (IP:port) of the connection that sent them.
    InsertReadings(Vec<Reading>, Option<String>),
    Quarantine(Vec<QuarantinedUpload>, QuarantineLimits),
    ReleaseQuarantine(Mn, Actor),
    DiscardQuarantine(String, Actor),
    ApplyAlertUpdates(Vec<AlertUpdate>),
    CreateSilence(NewSilence),
    ExpireSilence(i64, jiff::Timestamp),
    RecordRuleChange(RuleChange),
    NextTaskId,
    WriteTasks(Vec<TaskWrite>, Option<Escalation>),
    AppendLedger(Vec<NewLedgerEntry>),
    AddCheckpoint(StoredCheckpoint),
    ReplaceCheckpointNote(u64, String),
    Account(AccountWrite),
    QueueNotifications(Vec<NewNotification>),
    ClaimNotifications(jiff::Timestamp, u32),
    RecordDelivery(i64, DeliveryOutcome),
    ReleaseClaimedNotifications,
    RetryNotification(i64, jiff::Timestamp),
    MarkInboxRead(String, Vec<i64>, jiff::Timestamp),
}

impl WriteOp {
    /// Returns how many records the operation writes, as a measure of its size.
    fn records(&self) -> usize {
        match self {
            Self::UpsertAreas(areas) => areas.len(),
            Self::UpsertPoints(points, _) => points.len(),
            Self::InsertReadings(readings, _) => readings.len(),
            Self::RecordContacts(contacts) => contacts.len(),
            Self::Quarantine(uploads, _) => uploads.len(),
            Self::ApplyAlertUpdates(updates) => updates.len(),
            Self::WriteTasks(writes, _) => writes.len().max(1),
            Self::AppendLedger(entries) => entries.len(),
            Self::QueueNotifications(items) => items.len(),
            Self::MarkInboxRead(_, ids, _) => ids.len(),
            Self::ClaimNotifications(_, limit) => *limit as usize,
            Self::ReleaseQuarantine(..)
            | Self::SetPointPassword(..)
            | Self::RetirePreviousPassword(_)
            | Self::DiscardQuarantine(..)
            | Self::CreateSilence(_)
            | Self::ExpireSilence(..)
            | Self::RecordRuleChange(_)
            | Self::NextTaskId
            | Self::Account(_)
            | Self::AddCheckpoint(_)
            | Self::ReplaceCheckpointNote(..)
            | Self::RecordDelivery(..)
            | Self::ReleaseClaimedNotifications
            | Self::RetryNotification(..) => 1,
        }
    }
}

/// The result of a committed [`WriteOp`].
#[derive(Debug)]
pub(crate) enum WriteOutput {
    Count(u64),
    /// Whether each inserted reading was new.
    NewMask(Vec<bool>),
    Unit,
    Quarantined(QuarantineOutcome),
    AlertChanges(Vec<AlertChange>),
    Silence(Silence),
    Id(i64),
    TaskId(oversight_tasks::TaskId),
    TasksWritten(Box<AlertChange>),
    Indexes(Vec<u64>),
    Account(AccountOutput),
    Ids(Vec<i64>),
    Notifications(Vec<Notification>),
    Notification(Box<Notification>),
}

/// A write request and the channel its result goes to.
#[derive(Debug)]
pub(crate) struct WriteRequest {
    pub(crate) op: WriteOp,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// The result of a write request, and the request's operation handed back
/// so that the caller frees it. Every write goes through the one writer
/// thread, so the time it would spend freeing a batch of readings or ledger
/// entries delays the next commit. In the ledger benchmark, freeing batches
/// of 1,000 entries took about a sixth of the writer thread's time.
pub(crate) type Reply = (StoreResult<WriteOutput>, WriteOp);

/// An error shared by every request of a group whose commit failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GroupError(Arc<rusqlite::Error>);

/// Bounds on the requests committed together in one transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupLimits {
    /// At most this many requests.
    pub(crate) requests: usize,
    /// No further request once the group contains this many records.
    pub(crate) records: usize,
}

/// Runs the writer loop until every sender is dropped. After a group, the
/// writer moves `recent_uploads` into `uploads` if `move_interval` passed
/// since the last move.
pub(crate) fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<WriteRequest>,
    limits: GroupLimits,
    move_interval: Duration,
) {
    let mut ids = IdCache::default();
    let mut last_move: Option<Instant> = None;
    let mut move_failures: u64 = 0;
    let mut group = Vec::with_capacity(limits.requests);
    while let Some(first) = queue.blocking_recv() {
        let mut records = first.op.records();
        group.push(first);
        while group.len() < limits.requests && records < limits.records {
            match queue.try_recv() {
                Ok(request) => {
                    records += request.op.records();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut ids, &mut group);
        if last_move.is_none_or(|moved| moved.elapsed() >= move_interval) {
            move_recent_uploads(&mut conn, &mut move_failures);
            last_move = Some(Instant::now());
        }
    }
    move_recent_uploads(&mut conn, &mut move_failures);
    debug!("sqlite writer stopped");
}

/// Moves `recent_uploads` into `uploads` in a transaction of its own. A
/// failed move leaves the rows where they were, still found by queries, so
/// repeated failures are logged once per 100.
fn move_recent_uploads(conn: &mut Connection, failures: &mut u64) {
    let result = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .and_then(|tx| {
            let moved = write_ops::move_recent_uploads(&tx)?;
            tx.commit()?;
            Ok(moved)
        });
    match result {
        Ok(moved) => {
            if *failures > 0 {
                info!(
                    failures = *failures,
                    "sqlite move of recent uploads recovered"
                );
            }
            *failures = 0;
            debug!(moved, "sqlite recent uploads moved");
        }
        Err(error) => {
            if failures.is_multiple_of(100) {
                error!(%error, failures = *failures + 1, "sqlite move of recent uploads failed");
            }
            *failures += 1;
        }
    }
}

/// Runs `group` in one transaction and sends each request its result.
///
/// The group first runs without savepoints, which is faster because SQLite
/// then keeps no per-request undo journal. If a request fails, that
/// transaction is rolled back and the group runs again with a savepoint per
/// request, so only the failing requests fail.
fn commit_group(conn: &mut Connection, ids: &mut IdCache, group: &mut Vec<WriteRequest>) {
    let size = group.len();
    let outcome = match run_shared(conn, ids, group) {
        Ok(None) => {
            ids.clear();
            debug!(
                requests = size,
                "sqlite group retried with a savepoint per request"
            );
            run_with_savepoints(conn, ids, group)
        }
        Ok(Some(results)) => Ok(results),
        Err(failure) => Err(failure),
    };
    match outcome {
        Ok(results) => {
            debug!(requests = size, "sqlite group committed");
            for (WriteRequest { op, reply }, result) in group.drain(..).zip(results) {
                // A caller that stopped waiting needs no result.
                let _ = reply.send((result, op));
            }
        }
        Err(failure) => {
            ids.clear();
            error!(error = %failure, requests = size, "sqlite group commit failed");
            let shared = Arc::new(failure);
            for WriteRequest { op, reply } in group.drain(..) {
                let source = Box::new(GroupError(Arc::clone(&shared)));
                let error = StoreError::Backend {
                    operation: "commit",
                    source,
                };
                let _ = reply.send((Err(error), op));
            }
        }
    }
}

type Results = Vec<StoreResult<WriteOutput>>;

/// Runs every request of `group` in one transaction without savepoints and
/// commits it. Returns `None`, with everything rolled back, as soon as a
/// request fails.
fn run_shared(
    conn: &mut Connection,
    ids: &mut IdCache,
    group: &[WriteRequest],
) -> rusqlite::Result<Option<Results>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut effects = Effects::default();
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        let result = apply(&tx, ids, &mut effects, &request.op);
        if result.is_err() {
            // Dropping the transaction rolls back every request so far.
            return Ok(None);
        }
        results.push(result);
    }
    effects.apply(&tx)?;
    tx.commit()?;
    Ok(Some(results))
}

/// Runs every request of `group` in its own savepoint inside one
/// transaction and commits it, so a failing request rolls back only itself.
fn run_with_savepoints(
    conn: &mut Connection,
    ids: &mut IdCache,
    group: &[WriteRequest],
) -> rusqlite::Result<Results> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut effects = Effects::default();
    let results = group
        .iter()
        .map(|request| run_in_savepoint(&mut tx, ids, &mut effects, &request.op))
        .collect();
    effects.apply(&tx)?;
    tx.commit()?;
    Ok(results)
}

/// Runs one request in a savepoint, keeping its effects only if it succeeds.
fn run_in_savepoint(
    tx: &mut rusqlite::Transaction<'_>,
    ids: &mut IdCache,
    effects: &mut Effects,
    op: &WriteOp,
) -> StoreResult<WriteOutput> {
    let savepoint = tx.savepoint().map_err(backend("begin savepoint"))?;
    let mut request_effects = Effects::default();
    let result = apply(&savepoint, ids, &mut request_effects, op);
    match result {
        Ok(output) => {
            savepoint.commit().map_err(backend("release savepoint"))?;
            effects.merge(request_effects);
            Ok(output)
        }
        Err(failure) => {
            // Dropping the savepoint rolls it back, which may remove ids that
            // the request added to the cache.
            drop(savepoint);
            ids.clear();
            Err(failure)
        }
    }
}

fn apply(
    conn: &Connection,
    ids: &mut IdCache,
    effects: &mut Effects,
    op: &WriteOp,
) -> StoreResult<WriteOutput> {
    match op {
        WriteOp::UpsertAreas(areas) => write_ops::upsert_areas(conn, areas).map(WriteOutput::Count),
        WriteOp::UpsertPoints(points, actor) => {
            write_ops::upsert_points(conn, points, actor).map(WriteOutput::Count)
        }
        WriteOp::SetPointPassword(mn, password, until, actor) => write_ops::set_point_password(
            conn,
            ids,
            mn,
            password.expose(),
            until.map(crate::codec::micros),
            actor,
        )
        .map(|()| WriteOutput::Unit),
        WriteOp::RecordContacts(contacts) => {
            write_ops::record_contacts(conn, contacts).map(WriteOutput::Count)
        }
        WriteOp::RetirePreviousPassword(mn) => {
            write_ops::retire_previous_password(conn, mn).map(WriteOutput::Count)
        }
        WriteOp::InsertReadings(readings, peer) => {
            write_ops::insert_readings_new_mask(conn, ids, effects, readings, peer.as_deref())
                .map(WriteOutput::NewMask)
        }
        WriteOp::Quarantine(uploads, limits) => {
            write_ops::quarantine(conn, uploads, limits).map(WriteOutput::Quarantined)
        }
        WriteOp::ReleaseQuarantine(mn, actor) => {
            write_ops::release_quarantine(conn, ids, effects, mn, actor).map(WriteOutput::Count)
        }
        WriteOp::DiscardQuarantine(mn, actor) => {
            write_ops::discard_quarantine(conn, mn, actor).map(WriteOutput::Count)
        }
        WriteOp::ApplyAlertUpdates(updates) => {
            alerts::apply_updates(conn, updates).map(WriteOutput::AlertChanges)
        }
        WriteOp::CreateSilence(silence) => {
            alerts::create_silence(conn, silence, jiff::Timestamp::now()).map(WriteOutput::Silence)
        }
        WriteOp::ExpireSilence(id, at) => {
            alerts::expire_silence(conn, *id, *at).map(WriteOutput::Silence)
        }
        WriteOp::RecordRuleChange(change) => {
            alerts::record_rule_change(conn, change).map(WriteOutput::Id)
        }
        WriteOp::NextTaskId => tasks::next_id(conn).map(WriteOutput::TaskId),
        WriteOp::WriteTasks(writes, escalation) => tasks::write(conn, writes, escalation.as_ref())
            .map(|change| WriteOutput::TasksWritten(Box::new(change))),
        WriteOp::AppendLedger(entries) => ledger::append(conn, entries).map(WriteOutput::Indexes),
        WriteOp::AddCheckpoint(checkpoint) => {
            ledger::add_checkpoint(conn, checkpoint).map(|()| WriteOutput::Unit)
        }
        WriteOp::ReplaceCheckpointNote(size, note) => {
            ledger::replace_checkpoint_note(conn, *size, note).map(|()| WriteOutput::Unit)
        }
        WriteOp::Account(write) => accounts::apply(conn, write).map(WriteOutput::Account),
        WriteOp::QueueNotifications(items) => {
            notifications::queue(conn, items).map(WriteOutput::Ids)
        }
        WriteOp::ClaimNotifications(now, limit) => {
            notifications::claim(conn, *now, *limit).map(WriteOutput::Notifications)
        }
        WriteOp::RecordDelivery(id, outcome) => {
            notifications::record(conn, *id, outcome).map(|()| WriteOutput::Unit)
        }
        WriteOp::ReleaseClaimedNotifications => {
            notifications::release_claimed(conn).map(WriteOutput::Count)
        }
        WriteOp::RetryNotification(id, now) => notifications::retry(conn, *id, *now)
            .map(|notification| WriteOutput::Notification(Box::new(notification))),
        WriteOp::MarkInboxRead(owner, ids, at) => {
            notifications::mark_read(conn, owner, ids, *at).map(WriteOutput::Count)
        }
    }
}
