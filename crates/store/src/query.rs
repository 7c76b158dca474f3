//! Queries, pages and the records that only the store produces.

use jiff::Timestamp;
use oversight_core::{
    Alert, AlertKind, AlertStatus, AreaCode, DataKind, FactorCode, Mn, Reading, Severity,
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
    /// Only points in this area or below it.
    pub area: Option<AreaCode>,
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

/// A filter over alerts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    /// Only alerts with this status.
    pub status: Option<AlertStatus>,
    /// Only alerts in this area or below it.
    pub area: Option<AreaCode>,
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
}

/// What the dashboard counts, and over which area.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery {
    /// Only this area and below it; all areas when `None`.
    pub area: Option<AreaCode>,
    /// Readings received at or after this count as "today". Backends count
    /// by hour of receipt, so all of the hour containing this time counts.
    /// A time on the hour, such as local midnight in UTC+8, counts exactly.
    pub readings_since: Timestamp,
    /// Points whose latest upload arrived at or after this count as online.
    pub online_since: Timestamp,
}

/// The dashboard's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Registered points.
    pub points: u64,
    /// Points that sent data since `online_since`.
    pub points_online: u64,
    /// Readings received since `readings_since`.
    pub readings: u64,
    /// Alerts currently open.
    pub open_alerts: u64,
}

/// An upload from an MN that is not registered, kept until an operator
/// registers the point or discards the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantinedUpload {
    /// The MN as the device sent it; possibly empty or otherwise invalid.
    pub mn: String,
    /// The peer address the upload came from.
    pub peer: Option<String>,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The packet as received, decoded as UTF-8 with invalid bytes replaced.
    pub raw: String,
    /// The readings it carries; empty when the MN is not a valid [`Mn`].
    pub readings: Vec<Reading>,
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
}

/// A change the rule engine asks the store to make to an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertUpdate {
    /// The condition holds at `at`: opens an alert for the fingerprint, or
    /// updates the open one (last time and value, count, peak).
    Trigger {
        /// See [`Alert::fingerprint`].
        fingerprint: String,
        /// The point.
        mn: Mn,
        /// The factor, for limit alerts.
        factor: Option<FactorCode>,
        /// What the alert is about; it also says which direction "peak" is.
        kind: AlertKind,
        /// The severity to open with, or to raise the open alert to.
        severity: Severity,
        /// The point's area.
        area: AreaCode,
        /// Event time.
        at: Timestamp,
        /// The value that met the condition.
        value: Option<f64>,
        /// The limit that was crossed.
        limit: Option<f64>,
    },
    /// The condition no longer holds at `at`: resolves the open alert, if any.
    Resolve {
        /// See [`Alert::fingerprint`].
        fingerprint: String,
        /// Event time.
        at: Timestamp,
    },
}

/// What applying one [`AlertUpdate`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    /// A new alert was opened.
    Opened(Alert),
    /// The open alert was updated.
    Updated(Alert),
    /// The open alert was resolved.
    Resolved(Alert),
    /// Nothing was open to resolve.
    Unchanged,
}
