//! Queries, pages and the records that only the store produces.

use jiff::Timestamp;
use oversight_core::{
    Actor, AlertEvent, AlertId, AlertStatus, AlertTransition, AreaCode, DataKind, Explanation,
    FactorCode, Mn, Reading, Severity,
};
use serde::{Deserialize, Serialize};

/// One page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Pass this as the query's `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The order of time-ordered results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// A filter over monitoring points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointQuery {
    /// Only points in one of these areas or below it; every area when
    /// `None`, and no point when `Some` of an empty list.
    pub areas: Option<Vec<AreaCode>>,
    /// Page size; 0 or more than 1,000 means 1,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A filter over one point's readings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingQuery {
    /// The point.
    pub mn: Mn,
    /// Only this factor.
    pub factor: Option<FactorCode>,
    /// Only this kind of data.
    pub kind: Option<DataKind>,
    /// Only readings with data time at or after this.
    pub from: Option<Timestamp>,
    /// Only readings with data time before this.
    pub to: Option<Timestamp>,
    /// Order by data time.
    pub order: SortOrder,
    /// Page size; 0 or more than 10,000 means 10,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A filter over the revisions of one point's readings.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionQuery {
    /// The point.
    pub mn: Mn,
    /// Only revisions of this factor.
    pub factor: Option<FactorCode>,
    /// Only revisions of this kind of data.
    pub kind: Option<DataKind>,
    /// Only revisions of readings with data time at or after this.
    pub from: Option<Timestamp>,
    /// Only revisions of readings with data time before this.
    pub to: Option<Timestamp>,
    /// Page size; 0 or more than 10,000 means 10,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A resend whose values or flag differ from the stored reading with the
/// same (MN, kind, factor, data time).
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The resent reading, with its own receive time.
    pub reading: Reading,
    /// The address (IP:port) of the connection that sent it; `None` when it
    /// was stored without one.
    pub peer: Option<String>,
}

/// The number of revisions of one stored reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionCount {
    /// The reading's kind of data.
    pub kind: DataKind,
    /// The reading's factor.
    pub factor: FactorCode,
    /// The reading's data time.
    pub data_time: Timestamp,
    /// How many differing resends are stored for it.
    pub revisions: u64,
}

/// A filter over alerts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    /// Only alerts with one of these statuses; every status when empty.
    pub statuses: Vec<AlertStatus>,
    /// Only alerts with this severity.
    pub severity: Option<Severity>,
    /// Only alerts of this rule.
    pub rule_id: Option<String>,
    /// Only alerts in one of these areas or below it; every area when
    /// `None`, and no alert when `Some` of an empty list.
    pub areas: Option<Vec<AreaCode>>,
    /// Only alerts of this point.
    pub mn: Option<Mn>,
    /// Only alerts whose last event is at or after this.
    pub from: Option<Timestamp>,
    /// Only alerts whose first event is before this.
    pub to: Option<Timestamp>,
    /// Page size; 0 or more than 1,000 means 1,000.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// When a point last sent data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointStatus {
    /// The point.
    pub mn: Mn,
    /// Its area.
    pub area: AreaCode,
    /// Its expected upload interval, in seconds.
    pub interval_secs: u32,
    /// The latest data time it reported, if it ever sent data.
    pub last_data_time: Option<Timestamp>,
    /// When its latest upload arrived.
    pub last_received_at: Option<Timestamp>,
    /// When it last made contact without data, such as an HJ 212 heartbeat.
    pub last_contact_at: Option<Timestamp>,
}

impl PointStatus {
    /// Returns when the point was last heard from: the later of its latest
    /// upload and its latest contact without data. The offline rule and the
    /// online status both measure a point's silence from this time.
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.last_received_at.max(self.last_contact_at)
    }
}

/// What the dashboard counts, and over which area.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery {
    /// Only these areas and below them; all areas when `None`, and none
    /// when `Some` of an empty list.
    pub areas: Option<Vec<AreaCode>>,
    /// Only these points, such as a regulated party's own; all points when
    /// `None`. With `areas`, a point must match both.
    pub points: Option<Vec<Mn>>,
    /// Readings received at or after this count as "today". Backends count
    /// by hour of receipt, so all of the hour containing this time counts.
    /// A time on the hour, such as local midnight in UTC+8, counts exactly.
    pub readings_since: Timestamp,
    /// Points last seen (see [`PointStatus::last_seen`]) at or after this
    /// count as online.
    pub online_since: Timestamp,
}

/// The dashboard's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Registered points.
    pub points: u64,
    /// Points that uploaded or made other contact since `online_since`.
    pub points_online: u64,
    /// Readings received since `readings_since`.
    pub readings: u64,
    /// Alerts currently open.
    pub open_alerts: u64,
}

/// The reason an upload is held in quarantine instead of stored with the readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// The MN is not registered.
    #[default]
    Unregistered,
    /// The upload's `DataTime` lies further ahead of its receive time than
    /// the source tolerates.
    FutureDataTime,
}

impl QuarantineReason {
    /// Returns the name stored and shown in the API, such as `unregistered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unregistered => "unregistered",
            Self::FutureDataTime => "future_data_time",
        }
    }

    /// Parses a name returned by [`QuarantineReason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "unregistered" => Some(Self::Unregistered),
            "future_data_time" => Some(Self::FutureDataTime),
            _ => None,
        }
    }
}

/// An upload held in quarantine until an operator registers the point (or
/// otherwise accepts the data) and releases it, or discards it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantinedUpload {
    /// The MN as the device sent it; possibly empty or otherwise invalid.
    pub mn: String,
    /// The reason the upload is held.
    pub reason: QuarantineReason,
    /// The peer address the upload came from.
    pub peer: Option<String>,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The packet as received, decoded as UTF-8 with invalid bytes replaced.
    pub raw: String,
    /// The readings it carries; empty when the MN is not a valid [`Mn`].
    pub readings: Vec<Reading>,
}

/// Caps on the uploads held in quarantine, so that a flood of uploads from
/// unknown MNs cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineLimits {
    /// Uploads held per MN at most.
    pub per_mn: u64,
    /// Uploads held in total at most.
    pub total: u64,
}

impl Default for QuarantineLimits {
    /// No caps.
    fn default() -> Self {
        Self {
            per_mn: u64::MAX,
            total: u64::MAX,
        }
    }
}

/// The counts of uploads [`crate::Store::quarantine`] stored and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineOutcome {
    /// Uploads stored.
    pub stored: u64,
    /// Uploads not stored because their MN held `per_mn` uploads already.
    pub over_mn_limit: u64,
    /// Uploads not stored because the quarantine held `total` uploads already.
    pub over_total_limit: u64,
}

/// A page request over the quarantine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineQuery {
    /// Page size; 0 means the backend's maximum.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The quarantine of one MN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineSummary {
    /// The MN as the device sent it.
    pub mn: String,
    /// How many uploads are held.
    pub uploads: u64,
    /// How many readings they carry.
    pub readings: u64,
    /// When the first held upload arrived.
    pub first_received_at: Timestamp,
    /// When the latest held upload arrived.
    pub last_received_at: Timestamp,
    /// The peer address of the latest upload.
    pub last_peer: Option<String>,
    /// The reasons its uploads are held, each once.
    pub reasons: Vec<QuarantineReason>,
}

/// The fields of an [`AlertUpdate::Trigger`].
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// `rule:mn` or `rule:mn:factor`.
    pub fingerprint: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's pack version.
    pub rule_version: String,
    /// The rule's category.
    pub category: String,
    /// The department the rule routes to.
    pub department: Option<String>,
    /// The point.
    pub mn: Mn,
    /// The factor, for rules evaluated per factor.
    pub factor: Option<FactorCode>,
    /// The severity to open with, or to raise the open alert to.
    pub severity: Severity,
    /// The point's area.
    pub area: AreaCode,
    /// Event time.
    pub at: Timestamp,
    /// The value that met the condition.
    pub value: Option<f64>,
    /// The limit the condition names.
    pub limit: Option<f64>,
    /// True for the largest value as the peak, false for the smallest.
    pub peak_is_max: bool,
    /// True when the condition has held for the rule's `for` duration: a
    /// pending alert fires, and a new alert opens firing.
    pub firing: bool,
    /// Why the condition was met.
    pub explanation: Option<Explanation>,
}

/// A change to an alert, from the rule engine or a person.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertUpdate {
    /// The condition was met: opens an alert for the fingerprint (pending
    /// or firing), fires a pending one, or updates the open one (last time
    /// and value, count, peak).
    Trigger(Box<Trigger>),
    /// The condition stopped, or the clear condition was met: resolves the
    /// open alert of the fingerprint, if any.
    Resolve {
        /// The fingerprint.
        fingerprint: String,
        /// Event time.
        at: Timestamp,
        /// Why.
        reason: String,
    },
    /// A person acknowledges an open alert.
    Acknowledge {
        /// The alert.
        id: AlertId,
        /// When.
        at: Timestamp,
        /// The person.
        actor: Actor,
        /// An optional comment.
        reason: Option<String>,
    },
    /// A person resolves an open alert by hand.
    ResolveById {
        /// The alert.
        id: AlertId,
        /// When.
        at: Timestamp,
        /// The person.
        actor: Actor,
        /// Why; required.
        reason: String,
    },
    /// Flapping started or stopped for the open alert of a fingerprint.
    SetFlapping {
        /// The fingerprint.
        fingerprint: String,
        /// True when flapping started.
        flapping: bool,
    },
    /// An escalation policy turns an open alert into a supervision task.
    Escalate {
        /// The alert.
        id: AlertId,
        /// When.
        at: Timestamp,
        /// The task to create.
        task: NewTask,
    },
}

/// What applying one [`AlertUpdate`] did: the transition, or `None` when
/// nothing changed state (a trigger of a pending alert that does not fire
/// yet, a resolve with nothing open, a flapping change).
pub type AlertChange = Option<AlertEvent>;

/// A stored transition of an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionRecord {
    /// The alert.
    pub alert_id: AlertId,
    /// What happened.
    pub transition: AlertTransition,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// Why.
    pub reason: Option<String>,
}

/// What a silence matches; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    /// Only alerts of this point.
    pub mn: Option<Mn>,
    /// Only alerts in this area or below it.
    pub area: Option<AreaCode>,
    /// Only alerts of this rule.
    pub rule_id: Option<String>,
}

/// A new silence (maintenance window).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSilence {
    /// What it matches; at least one field must be set.
    pub matcher: SilenceMatcher,
    /// When it starts.
    pub starts_at: Timestamp,
    /// When it ends.
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Silence {
    /// The store's identifier.
    pub id: i64,
    /// What it matches.
    #[serde(flatten)]
    pub matcher: SilenceMatcher,
    /// When it starts.
    pub starts_at: Timestamp,
    /// When it ends; an expired silence ends when it was expired.
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Silence {
    /// Returns true if the silence is in force at `now` for an alert of
    /// `rule_id` on `mn` in `area`.
    pub fn matches(&self, now: Timestamp, rule_id: &str, mn: &Mn, area: &AreaCode) -> bool {
        if now < self.starts_at || now >= self.ends_at {
            return false;
        }
        let matcher = &self.matcher;
        matcher.mn.as_ref().is_none_or(|silenced| silenced == mn)
            && matcher
                .rule_id
                .as_deref()
                .is_none_or(|silenced| silenced == rule_id)
            && matcher
                .area
                .as_ref()
                .is_none_or(|silenced| area.as_str().starts_with(silenced.as_str()))
    }
}

/// A change of the active rules, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleChange {
    /// The store's identifier; 0 before it is stored.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// `loaded`, `reloaded`, `rejected`, `enabled` or `disabled`.
    pub action: String,
    /// The rule, for `enabled` and `disabled`.
    pub rule_id: Option<String>,
    /// Who: the engine for loads, or the person who switched a rule.
    pub actor: Actor,
    /// The rule set's digest after the change, or of the rejected packs.
    pub digest: String,
    /// Packs and versions, or the rejection's errors.
    pub detail: String,
}

/// A supervision task to create from an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTask {
    /// The alert it comes from.
    pub origin_alert: AlertId,
    /// The department it is assigned to.
    pub department: String,
    /// What to do.
    pub title: String,
    /// When it is due.
    pub deadline: Timestamp,
}
