//! The storage trait every Oversight backend implements.
//!
//! Callers hold an `Arc<dyn Store>` and never see the backend. Each backend
//! translates its own errors into [`StoreError`] at this boundary and passes
//! the shared test suite in the `testsuite` module, which the `testsuite`
//! feature enables.
//!
//! Durability contract: when a write method returns `Ok`, what it wrote
//! survives a crash of the process. Sources rely on this to acknowledge
//! device data only after it is stored.

mod accounts;
mod error;
mod ledger;
mod notification;
mod query;
mod tasks;
#[cfg(feature = "testsuite")]
pub mod testsuite;

use std::net::SocketAddr;

use async_trait::async_trait;
use jiff::Timestamp;
use oversight_core::{Actor, Alert, AlertId, Area, AreaCode, Mn, MonitoringPoint, Reading, Secret};
use oversight_tasks::{OutcomeRecord, SubjectId, Task, TaskId};

pub use accounts::{
    AccountStore, ApiToken, AuditContext, AuthEvent, AuthEventKind, Department, LoginFailures,
    NewApiToken, NewDepartment, NewUser, Session, TotpState, User, UserUpdate,
};
pub use error::{StoreError, StoreResult};
pub use ledger::{
    CanonicalJson, LeafTime, LedgerEntry, LedgerHead, LedgerPayload, NewLedgerEntry, PayloadObject,
    StoredCheckpoint, canonical_json, escape_hidden_characters, leaf_data, write_leaf_data,
};
pub use notification::{
    Channel, DeliveryOutcome, DeliveryStatus, NewNotification, Notification, NotificationItem,
    NotificationQuery,
};
pub use oversight_ledger::{ConsistencyProof, Hash, Hasher, InclusionProof};
pub use query::{
    AlertChange, AlertQuery, AlertUpdate, NewSilence, NewTask, Page, PointQuery, PointStatus,
    QuarantineLimits, QuarantineOutcome, QuarantineQuery, QuarantineReason, QuarantineSummary,
    QuarantinedUpload, ReadingQuery, Revision, RevisionCount, RevisionQuery, RuleChange, Silence,
    SilenceMatcher, SortOrder, Summary, SummaryQuery, TransitionRecord, Trigger,
};
pub use tasks::{Escalation, RULE_ENGINE_PERSON, TaskHistoryEntry, TaskQuery, TaskWrite};

/// Persistent state of an Oversight instance.
#[async_trait]
pub trait Store: AccountStore + Send + Sync + std::fmt::Debug + 'static {
    // --- areas ---------------------------------------------------------------

    /// Inserts areas, or renames those whose code exists. Every area's parent
    /// must exist already or come earlier in `areas`. Returns how many rows
    /// were inserted or changed.
    async fn upsert_areas(&self, areas: &[Area]) -> StoreResult<u64>;

    /// Returns one area.
    async fn area(&self, code: &AreaCode) -> StoreResult<Option<Area>>;

    /// Returns the children of `parent` ordered by code, or the provinces when
    /// `parent` is `None`.
    async fn area_children(&self, parent: Option<&AreaCode>) -> StoreResult<Vec<Area>>;

    // --- monitoring points ---------------------------------------------------

    /// Inserts points, or replaces those whose MN exists, and records each in
    /// the ledger as changed by `actor`. Each point's area must exist. Returns
    /// how many points were written.
    async fn upsert_points(&self, points: &[MonitoringPoint], actor: &Actor) -> StoreResult<u64>;

    /// Returns one point.
    async fn point(&self, mn: &Mn) -> StoreResult<Option<MonitoringPoint>>;

    /// Replaces the HJ 212 password of `mn`. With `previous_valid_until`,
    /// the replaced password stays valid until then or until
    /// [`Store::retire_previous_password`], whichever comes first; without
    /// it, the replaced password stops at once. The ledger records the change
    /// as made by `actor`. Fails with [`StoreError::NotFound`] when the point
    /// is not registered.
    async fn set_point_password(
        &self,
        mn: &Mn,
        password: &Secret<String>,
        previous_valid_until: Option<Timestamp>,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Ends the validity of the replaced password of `mn`, once its
    /// datalogger sent the new one. Returns whether a replaced password was
    /// stored.
    async fn retire_previous_password(&self, mn: &Mn) -> StoreResult<bool>;

    /// Returns points ordered by MN, filtered and paged.
    async fn points(&self, query: &PointQuery) -> StoreResult<Page<MonitoringPoint>>;

    /// Records when points made contact without data, such as an HJ 212
    /// heartbeat: each point keeps the later of its stored and the given
    /// time. MNs that are not registered are skipped. Returns how many
    /// points changed.
    async fn record_contacts(&self, contacts: &[(Mn, Timestamp)]) -> StoreResult<u64>;

    /// Returns when each point in one of `areas` or below them (every point
    /// when `None`) last sent data and last made contact.
    async fn point_statuses(&self, areas: Option<&[AreaCode]>) -> StoreResult<Vec<PointStatus>>;

    // --- readings ------------------------------------------------------------

    /// Stores readings of registered points durably and updates each point's
    /// last-seen times. The first reading stored for an (MN, kind, factor,
    /// data time) wins. A later one with the same values and flag, as a
    /// device resends after a lost acknowledgement, is dropped. One with other
    /// values or flag is kept as a revision (see
    /// [`Store::reading_revisions`]). Neither is counted as new. Fails
    /// without writing anything if a reading's MN is not registered. Returns
    /// how many readings were new.
    ///
    /// Revisions stored by this call record no sender address; use
    /// [`Store::insert_readings_from`] for readings received over a connection.
    async fn insert_readings(&self, readings: &[Reading]) -> StoreResult<u64> {
        self.insert_readings_from(readings, None).await
    }

    /// Stores readings as [`Store::insert_readings`] does, and records `peer`,
    /// the address of the connection that sent them, with each revision.
    async fn insert_readings_from(
        &self,
        readings: &[Reading],
        peer: Option<SocketAddr>,
    ) -> StoreResult<u64>;

    /// Stores readings as [`Store::insert_readings_from`] does and returns,
    /// for each reading in the order given, whether it was new. A reading
    /// dropped as an identical resend or kept as a revision is `false`, so
    /// the caller can pass on only the values the store kept.
    async fn insert_readings_new_mask(
        &self,
        readings: &[Reading],
        peer: Option<SocketAddr>,
    ) -> StoreResult<Vec<bool>>;

    /// Returns one point's readings, filtered and paged.
    async fn readings(&self, query: &ReadingQuery) -> StoreResult<Page<Reading>>;

    /// Returns the revisions of one point's readings, filtered and paged:
    /// each is a resend whose values or flag differ from the stored reading
    /// with the same (MN, kind, factor, data time), with its own receive
    /// time. They are ordered by data time, then by the order they were
    /// stored in.
    async fn reading_revisions(&self, query: &RevisionQuery) -> StoreResult<Page<Revision>>;

    /// Returns how many revisions each reading of `mn` with data time in
    /// `from..=to` has, leaving out readings without revisions.
    async fn revision_counts(
        &self,
        mn: &Mn,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<RevisionCount>>;

    /// Returns the dashboard's counters.
    async fn summary(&self, query: &SummaryQuery) -> StoreResult<Summary>;

    // --- quarantine ----------------------------------------------------------

    /// Stores uploads in quarantine durably, in order, skipping each upload
    /// whose MN already holds `limits.per_mn` uploads or that would take
    /// the quarantine past `limits.total`. Returns what was stored and skipped.
    async fn quarantine(
        &self,
        uploads: &[QuarantinedUpload],
        limits: &QuarantineLimits,
    ) -> StoreResult<QuarantineOutcome>;

    /// Returns one line per quarantined MN, most recently seen first, paged.
    async fn quarantine_summaries(
        &self,
        query: &QuarantineQuery,
    ) -> StoreResult<Page<QuarantineSummary>>;

    /// Returns the quarantined uploads of one MN, oldest first, paged.
    async fn quarantined_uploads(
        &self,
        mn: &str,
        query: &QuarantineQuery,
    ) -> StoreResult<Page<QuarantinedUpload>>;

    /// Moves the quarantined readings of `mn`, which must now be registered,
    /// into its readings, and removes their quarantine entries, in one
    /// transaction recorded in the ledger as done by `actor`. Only uploads
    /// whose raw packet carries a password of the point, as valid when the
    /// upload was received, are moved; the others stay held. Returns how many
    /// readings were moved.
    async fn release_quarantine(&self, mn: &Mn, actor: &Actor) -> StoreResult<u64>;

    /// Deletes the quarantine entries of `mn`, recorded in the ledger as done
    /// by `actor`. Returns how many uploads were deleted.
    async fn discard_quarantine(&self, mn: &str, actor: &Actor) -> StoreResult<u64>;

    // --- alerts --------------------------------------------------------------

    /// Applies alert updates in order, in one transaction, and returns the
    /// transition each one made, which is also stored in the alert's history.
    /// At most one alert per fingerprint is open at any time, also when
    /// several callers apply updates concurrently. An update that names a
    /// missing alert fails with [`StoreError::NotFound`], and one that does
    /// not fit the alert's state (acknowledging a resolved alert) with
    /// [`StoreError::Conflict`]; the whole call then writes nothing.
    async fn apply_alert_updates(&self, updates: &[AlertUpdate]) -> StoreResult<Vec<AlertChange>>;

    /// Returns the stored transitions of one alert, oldest first.
    async fn alert_transitions(&self, id: AlertId) -> StoreResult<Vec<TransitionRecord>>;

    // --- silences, rule changes, tasks ---------------------------------------

    /// Stores a silence and returns it.
    async fn create_silence(&self, silence: &NewSilence) -> StoreResult<Silence>;

    /// Ends a silence at `at` if it ends later. Returns the silence.
    async fn expire_silence(&self, id: i64, at: Timestamp) -> StoreResult<Silence>;

    /// Returns the silences that end after `after`, or all when `None`, newest first.
    async fn silences(&self, after: Option<Timestamp>) -> StoreResult<Vec<Silence>>;

    /// Records a change of the active rules and returns its id.
    async fn record_rule_change(&self, change: &RuleChange) -> StoreResult<i64>;

    /// Returns the latest rule changes, newest first, at most `limit`.
    async fn rule_changes(&self, limit: u32) -> StoreResult<Vec<RuleChange>>;

    /// Returns the rules an operator enabled (`true`) or disabled (`false`),
    /// by rule id, from the latest `enabled` or `disabled` change of each.
    async fn rule_switches(&self) -> StoreResult<Vec<(String, bool)>>;

    // --- supervision tasks ---------------------------------------------------

    /// Allocates a new task id, `T` followed by a number never handed out before.
    async fn next_task_id(&self) -> StoreResult<TaskId>;

    /// Stores task writes in order, in one transaction, and with them the
    /// escalation of `escalation`'s alert, whose `Escalated` event it returns.
    /// A write of version 1 inserts a task and fails with
    /// [`StoreError::Conflict`] if the id exists. A later version replaces the
    /// stored task only if that has the version before, and fails with
    /// [`StoreError::Conflict`] otherwise, so two concurrent changes of one
    /// task cannot both succeed. On any failure the call writes nothing.
    async fn write_tasks(
        &self,
        writes: &[TaskWrite],
        escalation: Option<&Escalation>,
    ) -> StoreResult<AlertChange>;

    /// Returns one task.
    async fn task(&self, id: &TaskId) -> StoreResult<Option<Task>>;

    /// Returns a task's history, oldest first.
    async fn task_history(&self, id: &TaskId) -> StoreResult<Vec<TaskHistoryEntry>>;

    /// Returns tasks filtered and paged, in inbox order: by running deadline,
    /// earliest (most overdue) first, and tasks without one last. Ties go by
    /// creation time, then id.
    async fn tasks(&self, query: &TaskQuery) -> StoreResult<Page<Task>>;

    /// Returns the outcome records of a subject's closed tasks, oldest first.
    async fn outcome_records(&self, subject: &SubjectId) -> StoreResult<Vec<OutcomeRecord>>;

    /// Returns alerts, newest first, filtered and paged.
    async fn alerts(&self, query: &AlertQuery) -> StoreResult<Page<Alert>>;

    /// Returns one alert by id.
    ///
    /// The default implementation pages through [`Store::alerts`]; a backend
    /// should override it with a lookup by primary key.
    async fn alert(&self, id: AlertId) -> StoreResult<Option<Alert>> {
        let mut query = AlertQuery {
            limit: 1000,
            ..AlertQuery::default()
        };
        loop {
            let page = self.alerts(&query).await?;
            if let Some(alert) = page.items.into_iter().find(|alert| alert.id == id) {
                return Ok(Some(alert));
            }
            let Some(cursor) = page.next_cursor else {
                return Ok(None);
            };
            query.cursor = Some(cursor);
        }
    }

    /// Returns every open alert, for rebuilding evaluation state after a restart.
    async fn open_alerts(&self) -> StoreResult<Vec<Alert>>;

    // --- ledger --------------------------------------------------------------

    /// Appends entries for state changes that no other store method records,
    /// in one transaction, and returns their indexes. Store methods that
    /// change state append their own entries in the transaction of the change.
    ///
    /// The entries are taken by value because the store hands them to its
    /// writer as they are, without a copy.
    async fn append_ledger(&self, entries: Vec<NewLedgerEntry>) -> StoreResult<Vec<u64>>;

    /// Returns the ledger's size and root after the latest commit.
    async fn ledger_head(&self) -> StoreResult<LedgerHead>;

    /// Returns one ledger entry.
    async fn ledger_entry(&self, index: u64) -> StoreResult<Option<LedgerEntry>>;

    /// Returns up to `limit` ledger entries from index `from` on, in index order.
    async fn ledger_entries(&self, from: u64, limit: u32) -> StoreResult<Vec<LedgerEntry>>;

    /// Returns the RFC 9162 inclusion proof of entry `index` in the tree of
    /// `size` entries. Fails with [`StoreError::InvalidArgument`] unless
    /// `index < size <= ` the ledger's size.
    async fn ledger_inclusion_proof(&self, index: u64, size: u64) -> StoreResult<InclusionProof>;

    /// Returns the RFC 9162 consistency proof from the tree of `first` entries
    /// to the tree of `second`. Fails with [`StoreError::InvalidArgument`]
    /// unless `0 < first <= second <= ` the ledger's size.
    async fn ledger_consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> StoreResult<ConsistencyProof>;

    /// Stores a signed checkpoint. Fails with [`StoreError::Conflict`] if a
    /// checkpoint of the same size with another root is stored.
    async fn add_ledger_checkpoint(&self, checkpoint: &StoredCheckpoint) -> StoreResult<()>;

    /// Replaces the signed note of the checkpoint of `size`, to add witness
    /// cosignatures. The caller verifies the note.
    async fn replace_ledger_checkpoint_note(&self, size: u64, note: &str) -> StoreResult<()>;

    /// Returns the checkpoint of the largest size.
    async fn latest_ledger_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>>;

    /// Returns up to `limit` checkpoints of size greater than `after_size`,
    /// smallest first.
    async fn ledger_checkpoints(
        &self,
        after_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredCheckpoint>>;
    // --- notifications -------------------------------------------------------

    /// Queues notification items in one transaction. Each item joins the
    /// pending, unclaimed notification of its recipient, channel and group
    /// key, replacing an earlier item of the same alert and transition, or
    /// starts a new notification sendable from its `send_after`. Returns the
    /// notification id of each item, in order.
    async fn queue_notifications(&self, items: &[NewNotification]) -> StoreResult<Vec<i64>>;

    /// Claims up to `limit` pending notifications whose send time and next
    /// attempt are at or before `now`, oldest first, by marking them
    /// `sending`. Items queued afterwards start a new notification.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;

    /// Records the outcome of an attempt on a claimed notification.
    async fn record_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreResult<()>;

    /// Returns every claimed notification to `pending`, for a restart after
    /// a crash during delivery. Returns how many were claimed.
    async fn release_claimed_notifications(&self) -> StoreResult<u64>;

    /// Returns notifications, newest first, filtered and paged.
    async fn notifications(&self, query: &NotificationQuery) -> StoreResult<Page<Notification>>;

    /// Returns one notification.
    async fn notification(&self, id: i64) -> StoreResult<Option<Notification>>;

    /// Makes a dead notification pending again with its attempts reset, due
    /// at `now`. Fails with [`StoreError::Conflict`] unless it is dead.
    async fn retry_notification(&self, id: i64, now: Timestamp) -> StoreResult<Notification>;

    /// Marks the delivered inbox notifications `ids` of `owner` read at `at`,
    /// leaving those already read. Returns how many changed.
    async fn mark_inbox_read(&self, owner: &str, ids: &[i64], at: Timestamp) -> StoreResult<u64>;

    // --- housekeeping --------------------------------------------------------

    /// Returns the store's current time according to the backend, used only
    /// to check connectivity in the health endpoint.
    async fn ping(&self) -> StoreResult<Timestamp>;
}
