//! The single writer thread and its group commit.
//!
//! Every write request goes through one queue to one thread that owns the
//! only write connection. The thread takes all requests waiting in the queue
//! (up to a bound), runs each in its own savepoint inside one transaction,
//! commits once, and only then sends every caller its result. A request that fails
//! rolls back to its savepoint and does not affect the others in the group.
//! While a commit waits for the disk, new requests queue up and form the next
//! group, so one fsync serves many callers.

use std::sync::Arc;

use oversight_core::{Area, Mn, MonitoringPoint, Reading};
use oversight_store::{AlertChange, AlertUpdate, QuarantinedUpload, StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error};

use crate::alerts;
use crate::error::backend;
use crate::write_ops::{self, Effects, IdCache};

/// A change to the database.
#[derive(Debug)]
pub(crate) enum WriteOp {
    UpsertAreas(Vec<Area>),
    UpsertPoints(Vec<MonitoringPoint>),
    InsertReadings(Vec<Reading>),
    Quarantine(Vec<QuarantinedUpload>),
    ReleaseQuarantine(Mn),
    DiscardQuarantine(String),
    ApplyAlertUpdates(Vec<AlertUpdate>),
}

/// The result of a committed [`WriteOp`].
#[derive(Debug)]
pub(crate) enum WriteOutput {
    Count(u64),
    Unit,
    AlertChanges(Vec<AlertChange>),
}

/// A write request and the channel its result goes to.
#[derive(Debug)]
pub(crate) struct WriteRequest {
    pub(crate) op: WriteOp,
    pub(crate) reply: oneshot::Sender<StoreResult<WriteOutput>>,
}

/// An error shared by every request of a group whose commit failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GroupError(Arc<rusqlite::Error>);

/// Runs the writer loop until every sender is dropped.
pub(crate) fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<WriteRequest>,
    max_group_requests: usize,
) {
    let mut ids = IdCache::default();
    let mut group = Vec::with_capacity(max_group_requests);
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < max_group_requests {
            match queue.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut ids, &mut group);
    }
    debug!("sqlite writer stopped");
}

/// Runs `group` in one transaction and sends each request its result.
fn commit_group(conn: &mut Connection, ids: &mut IdCache, group: &mut Vec<WriteRequest>) {
    let size = group.len();
    let mut answers = Vec::with_capacity(size);
    let outcome = run_group(conn, ids, group, &mut answers);
    match outcome {
        Ok(()) => {
            debug!(requests = size, "sqlite group committed");
            for (reply, result) in answers {
                // A caller that stopped waiting needs no result.
                let _ = reply.send(result);
            }
        }
        Err(failure) => {
            ids.clear();
            error!(error = %failure, requests = size, "sqlite group commit failed");
            let shared = Arc::new(failure);
            for (reply, _) in answers {
                let source = Box::new(GroupError(Arc::clone(&shared)));
                let _ = reply.send(Err(StoreError::Backend {
                    operation: "commit",
                    source,
                }));
            }
        }
    }
}

type Answer = (
    oneshot::Sender<StoreResult<WriteOutput>>,
    StoreResult<WriteOutput>,
);

fn run_group(
    conn: &mut Connection,
    ids: &mut IdCache,
    group: &mut Vec<WriteRequest>,
    answers: &mut Vec<Answer>,
) -> rusqlite::Result<()> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(failure) => {
            answers.extend(
                group
                    .drain(..)
                    .map(|request| (request.reply, Ok(WriteOutput::Unit))),
            );
            return Err(failure);
        }
    };
    let mut effects = Effects::default();
    for request in group.drain(..) {
        let result = run_request(&mut tx, ids, &mut effects, &request.op);
        answers.push((request.reply, result));
    }
    effects.apply(&tx)?;
    tx.commit()
}

/// Runs one request in a savepoint, keeping its effects only if it succeeds.
fn run_request(
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
        WriteOp::UpsertPoints(points) => {
            write_ops::upsert_points(conn, points).map(WriteOutput::Count)
        }
        WriteOp::InsertReadings(readings) => {
            write_ops::insert_readings(conn, ids, effects, readings).map(WriteOutput::Count)
        }
        WriteOp::Quarantine(uploads) => {
            write_ops::quarantine(conn, uploads).map(|()| WriteOutput::Unit)
        }
        WriteOp::ReleaseQuarantine(mn) => {
            write_ops::release_quarantine(conn, ids, effects, mn).map(WriteOutput::Count)
        }
        WriteOp::DiscardQuarantine(mn) => {
            write_ops::discard_quarantine(conn, mn).map(WriteOutput::Count)
        }
        WriteOp::ApplyAlertUpdates(updates) => {
            alerts::apply_updates(conn, updates).map(WriteOutput::AlertChanges)
        }
    }
}
