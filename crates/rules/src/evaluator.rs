//! The alert state machine: readings and point statuses in, [`AlertUpdate`]s out.
//!
//! The evaluator keeps, per point and factor, which limit alerts are open and
//! the event time of the newest reading it evaluated, so that it sends a
//! `Resolve` only when something is open and ignores late readings. The store
//! still enforces one open alert per fingerprint; this state only avoids
//! redundant updates. It is rebuilt from the store's open alerts on start.
//!
//! Rules:
//!
//! - Every reading above a limit sends a `Trigger`: the first opens the
//!   alert, later ones update its count, last value and peak.
//! - A reading within limits resolves the open alert of that factor.
//! - A reading whose event time is not newer than the newest evaluated one
//!   for its point and factor is ignored. The store keeps it, but a late or
//!   retransmitted upload must not flip the state or count twice. The newest
//!   event time wins across data kinds, so minute and hourly averages, whose
//!   `DataTime` is the start of their period, usually arrive too late to
//!   count when the device also sends real-time data.
//! - A point is missing data when its latest upload arrived more than
//!   `missing_after_intervals` × its interval ago. A point that never sent
//!   data counts from the first check that saw it registered, which is at
//!   most one check period after its registration or the server start,
//!   whichever is later, because the store does not record registration
//!   times. Data arriving resolves the alert.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{Alert, AlertKind, Clock, FactorCode, Mn, MonitoringPoint, Reading, Severity};
use oversight_store::{AlertUpdate, PointStatus};
use tracing::warn;

use crate::RulesConfig;
use crate::limit::{Evidence, classify};

/// Limit state of one factor of one point.
#[derive(Debug, Default)]
struct FactorState {
    /// Event time of the newest reading evaluated.
    last_evaluated: Option<Timestamp>,
    above_open: bool,
    below_open: bool,
}

/// State of one point.
#[derive(Debug, Default)]
struct PointState {
    factors: HashMap<FactorCode, FactorState>,
    missing_open: bool,
    /// When a data-missing check first saw the point registered.
    first_seen: Option<Timestamp>,
    /// The newest receive time of readings passed to [`Evaluator::evaluate`].
    last_received: Option<Timestamp>,
}

/// Turns readings and point statuses into alert updates.
#[derive(Debug)]
pub struct Evaluator {
    config: RulesConfig,
    clock: Arc<dyn Clock>,
    points: HashMap<Mn, PointState>,
}

impl Evaluator {
    /// Creates an evaluator with no open alerts; call [`Evaluator::restore`]
    /// with the store's open alerts before evaluating.
    pub fn new(config: RulesConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            points: HashMap::new(),
        }
    }

    /// Replaces the open-alert state with `open_alerts`, keeping the newest
    /// evaluated event times. Used on start and after a failed store write.
    pub fn restore(&mut self, open_alerts: &[Alert]) {
        for point in self.points.values_mut() {
            point.missing_open = false;
            for factor in point.factors.values_mut() {
                factor.above_open = false;
                factor.below_open = false;
            }
        }
        for alert in open_alerts {
            self.restore_one(alert);
        }
    }

    fn restore_one(&mut self, alert: &Alert) {
        let point = self.points.entry(alert.mn.clone()).or_default();
        if alert.kind == AlertKind::DataMissing {
            point.missing_open = true;
            return;
        }
        let Some(factor) = &alert.factor else {
            warn!(fingerprint = %alert.fingerprint, "open limit alert has no factor, ignored");
            return;
        };
        let state = point.factors.entry(factor.clone()).or_default();
        match alert.kind {
            AlertKind::AboveUpper => state.above_open = true,
            AlertKind::BelowLower => state.below_open = true,
            AlertKind::DataMissing => {}
        }
        state.last_evaluated = state.last_evaluated.max(Some(alert.last_at));
    }

    /// Evaluates readings that were just stored for `point`, in order, and
    /// returns the updates to apply. Readings of another MN are skipped.
    pub fn evaluate(&mut self, point: &MonitoringPoint, readings: &[Reading]) -> Vec<AlertUpdate> {
        let mut updates = Vec::new();
        let critical_ratio = self.config.critical_ratio;
        let state = match self.points.get_mut(&point.mn) {
            Some(state) => state,
            None => self.points.entry(point.mn.clone()).or_default(),
        };
        let mut newest_received = None;
        for reading in readings.iter().filter(|reading| reading.mn == point.mn) {
            newest_received = newest_received.max(Some(reading.received_at));
            let Some(limit) = point.limit(&reading.factor) else {
                continue;
            };
            let evidence = classify(reading, limit, critical_ratio);
            if evidence == Evidence::Ignored {
                continue;
            }
            let factor = match state.factors.get_mut(&reading.factor) {
                Some(factor) => factor,
                None => state.factors.entry(reading.factor.clone()).or_default(),
            };
            if factor
                .last_evaluated
                .is_some_and(|last| reading.data_time <= last)
            {
                continue;
            }
            factor.last_evaluated = Some(reading.data_time);
            apply_evidence(
                factor,
                evidence,
                point,
                reading,
                limit_value(evidence, limit),
                &mut updates,
            );
        }
        if let Some(received) = newest_received {
            state.last_received = state.last_received.max(Some(received));
            if state.missing_open {
                state.missing_open = false;
                let fingerprint = Alert::fingerprint_of(AlertKind::DataMissing, &point.mn, None);
                updates.push(AlertUpdate::Resolve {
                    fingerprint,
                    at: received,
                });
            }
        }
        updates
    }

    /// Runs the data-missing check over every registered point's status at
    /// the clock's current time and returns the updates to apply.
    pub fn check_missing(&mut self, statuses: &[PointStatus]) -> Vec<AlertUpdate> {
        let now = self.clock.now();
        let missing_after_intervals = self.config.missing_after_intervals;
        let mut updates = Vec::new();
        for status in statuses {
            let state = match self.points.get_mut(&status.mn) {
                Some(state) => state,
                None => self.points.entry(status.mn.clone()).or_default(),
            };
            let first_seen = *state.first_seen.get_or_insert(now);
            let last_received = status.last_received_at.max(state.last_received);
            let since = last_received.unwrap_or(first_seen);
            let threshold = missing_threshold(status.interval_secs, missing_after_intervals);
            let silence = now.duration_since(since);
            let fingerprint = || Alert::fingerprint_of(AlertKind::DataMissing, &status.mn, None);
            if silence > threshold && !state.missing_open {
                state.missing_open = true;
                updates.push(AlertUpdate::Trigger {
                    fingerprint: fingerprint(),
                    mn: status.mn.clone(),
                    factor: None,
                    kind: AlertKind::DataMissing,
                    severity: Severity::Warning,
                    area: status.area.clone(),
                    at: since.checked_add(threshold).unwrap_or(now),
                    value: Some(silence.as_secs_f64()),
                    limit: Some(threshold.as_secs_f64()),
                });
            } else if silence <= threshold
                && state.missing_open
                && let Some(at) = last_received
            {
                state.missing_open = false;
                updates.push(AlertUpdate::Resolve {
                    fingerprint: fingerprint(),
                    at,
                });
            }
        }
        updates
    }
}

/// Returns how long a point with upload interval `interval_secs` may be
/// silent. An interval of 0 means the registry gave none, so the default
/// interval applies.
fn missing_threshold(interval_secs: u32, missing_after_intervals: u32) -> SignedDuration {
    let interval = match interval_secs {
        0 => MonitoringPoint::DEFAULT_INTERVAL_SECS,
        secs => secs,
    };
    SignedDuration::from_secs(i64::from(interval) * i64::from(missing_after_intervals))
}

/// Returns the limit the evidence refers to.
fn limit_value(evidence: Evidence, limit: &oversight_core::FactorLimit) -> Option<f64> {
    match evidence {
        Evidence::Above { .. } => limit.upper,
        Evidence::Below { .. } => limit.lower,
        Evidence::Within | Evidence::Ignored => None,
    }
}

/// Updates `factor` with one reading's evidence and pushes the resulting
/// alert updates.
fn apply_evidence(
    factor: &mut FactorState,
    evidence: Evidence,
    point: &MonitoringPoint,
    reading: &Reading,
    limit: Option<f64>,
    updates: &mut Vec<AlertUpdate>,
) {
    let resolve = |kind: AlertKind, updates: &mut Vec<AlertUpdate>| {
        let fingerprint = Alert::fingerprint_of(kind, &point.mn, Some(&reading.factor));
        updates.push(AlertUpdate::Resolve {
            fingerprint,
            at: reading.data_time,
        });
    };
    let trigger = |kind: AlertKind, severity: Severity, value: Option<f64>| AlertUpdate::Trigger {
        fingerprint: Alert::fingerprint_of(kind, &point.mn, Some(&reading.factor)),
        mn: point.mn.clone(),
        factor: Some(reading.factor.clone()),
        kind,
        severity,
        area: point.area.clone(),
        at: reading.data_time,
        value,
        limit,
    };
    match evidence {
        Evidence::Above { value, severity } => {
            if std::mem::take(&mut factor.below_open) {
                resolve(AlertKind::BelowLower, updates);
            }
            factor.above_open = true;
            updates.push(trigger(AlertKind::AboveUpper, severity, value));
        }
        Evidence::Below { value, severity } => {
            if std::mem::take(&mut factor.above_open) {
                resolve(AlertKind::AboveUpper, updates);
            }
            factor.below_open = true;
            updates.push(trigger(AlertKind::BelowLower, severity, Some(value)));
        }
        Evidence::Within => {
            if std::mem::take(&mut factor.above_open) {
                resolve(AlertKind::AboveUpper, updates);
            }
            if std::mem::take(&mut factor.below_open) {
                resolve(AlertKind::BelowLower, updates);
            }
        }
        Evidence::Ignored => {}
    }
}

#[cfg(test)]
mod tests {
    use oversight_core::{
        AlertId, AlertStatus, AreaCode, DataFlag, DataKind, FactorLimit, FactorValues, ManualClock,
        Secret, SystemCode,
    };

    use super::*;

    const START: &str = "2026-03-01T00:00:00Z";

    fn at(offset_secs: i64) -> Timestamp {
        let start: Timestamp = START.parse().unwrap();
        start
            .checked_add(SignedDuration::from_secs(offset_secs))
            .unwrap()
    }

    fn point() -> MonitoringPoint {
        MonitoringPoint {
            mn: Mn::parse("MN0001").unwrap(),
            name: "outlet".to_owned(),
            area: AreaCode::parse("350203").unwrap(),
            system_code: SystemCode::parse("32").unwrap(),
            password: Secret::new("123456".to_owned()),
            location: None,
            limits: vec![
                FactorLimit::new(
                    FactorCode::parse("w01018").unwrap(),
                    None,
                    Some(100.0),
                    None,
                )
                .unwrap(),
                FactorLimit::new(
                    FactorCode::parse("w01001").unwrap(),
                    Some(6.0),
                    Some(9.0),
                    None,
                )
                .unwrap(),
            ],
            interval_secs: 60,
        }
    }

    fn reading(factor: &str, time: i64, rtd: f64, flag: Option<&str>) -> Reading {
        Reading {
            mn: Mn::parse("MN0001").unwrap(),
            kind: DataKind::Realtime,
            factor: FactorCode::parse(factor).unwrap(),
            data_time: at(time),
            received_at: at(time + 1),
            values: FactorValues {
                rtd: Some(rtd),
                ..FactorValues::default()
            },
            flag: flag.map(|flag| DataFlag::parse(flag).unwrap()),
        }
    }

    fn evaluator() -> (Evaluator, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(at(0)));
        (Evaluator::new(RulesConfig::default(), clock.clone()), clock)
    }

    fn fingerprints(updates: &[AlertUpdate]) -> Vec<String> {
        updates
            .iter()
            .map(|update| match update {
                AlertUpdate::Trigger { fingerprint, .. } => format!("trigger {fingerprint}"),
                AlertUpdate::Resolve { fingerprint, .. } => format!("resolve {fingerprint}"),
            })
            .collect()
    }

    #[test]
    fn exceedance_opens_then_resolves() {
        let (mut evaluator, _) = evaluator();
        let point = point();
        let updates = evaluator.evaluate(&point, &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            ["trigger above_upper:MN0001:w01018"]
        );
        let AlertUpdate::Trigger {
            severity,
            value,
            limit,
            at: time,
            ..
        } = &updates[0]
        else {
            panic!("expected a trigger, got {updates:?}");
        };
        assert_eq!(*severity, Severity::Warning);
        assert_eq!(*value, Some(150.0));
        assert_eq!(*limit, Some(100.0));
        assert_eq!(*time, at(0));

        let updates = evaluator.evaluate(&point, &[reading("w01018", 30, 250.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            ["trigger above_upper:MN0001:w01018"]
        );

        let updates = evaluator.evaluate(&point, &[reading("w01018", 60, 50.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            ["resolve above_upper:MN0001:w01018"]
        );
        let AlertUpdate::Resolve { at: time, .. } = &updates[0] else {
            panic!("expected a resolve, got {updates:?}");
        };
        assert_eq!(*time, at(60));
    }

    #[test]
    fn normal_readings_send_nothing() {
        let (mut evaluator, _) = evaluator();
        let point = point();
        for time in 0..10 {
            let updates = evaluator.evaluate(&point, &[reading("w01018", time * 30, 50.0, None)]);
            assert!(updates.is_empty(), "{updates:?}");
        }
    }

    #[test]
    fn factor_without_limit_is_not_checked() {
        let (mut evaluator, _) = evaluator();
        let updates = evaluator.evaluate(&point(), &[reading("w21003", 0, 1.0e6, None)]);
        assert!(updates.is_empty(), "{updates:?}");
    }

    #[test]
    fn crossing_from_below_to_above() {
        let (mut evaluator, _) = evaluator();
        let point = point();
        let updates = evaluator.evaluate(&point, &[reading("w01001", 0, 2.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            ["trigger below_lower:MN0001:w01001"]
        );
        let AlertUpdate::Trigger { severity, .. } = &updates[0] else {
            panic!("{updates:?}")
        };
        assert_eq!(*severity, Severity::Critical);

        let updates = evaluator.evaluate(&point, &[reading("w01001", 30, 10.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            [
                "resolve below_lower:MN0001:w01001",
                "trigger above_upper:MN0001:w01001"
            ]
        );
    }

    #[test]
    fn late_reading_does_not_flip_state() {
        let (mut evaluator, _) = evaluator();
        let point = point();
        evaluator.evaluate(&point, &[reading("w01018", 60, 150.0, None)]);
        let late = evaluator.evaluate(&point, &[reading("w01018", 30, 50.0, None)]);
        assert!(late.is_empty(), "late normal reading resolved: {late:?}");
        let retransmitted = evaluator.evaluate(&point, &[reading("w01018", 60, 150.0, None)]);
        assert!(
            retransmitted.is_empty(),
            "retransmission counted twice: {retransmitted:?}"
        );
        let newer = evaluator.evaluate(&point, &[reading("w01018", 90, 50.0, None)]);
        assert_eq!(fingerprints(&newer), ["resolve above_upper:MN0001:w01018"]);
    }

    #[test]
    fn invalid_flags_neither_open_nor_resolve() {
        let (mut evaluator, _) = evaluator();
        let point = point();
        let updates = evaluator.evaluate(&point, &[reading("w01018", 0, 500.0, Some("D"))]);
        assert!(
            updates.is_empty(),
            "fault value opened an alert: {updates:?}"
        );

        evaluator.evaluate(&point, &[reading("w01018", 30, 150.0, Some("N"))]);
        for (time, flag) in [
            (60, "C"),
            (90, "M"),
            (120, "F"),
            (150, "B"),
            (180, "S"),
            (210, "D"),
        ] {
            let updates = evaluator.evaluate(&point, &[reading("w01018", time, 10.0, Some(flag))]);
            assert!(
                updates.is_empty(),
                "flag {flag} resolved the alert: {updates:?}"
            );
        }
        let updates = evaluator.evaluate(&point, &[reading("w01018", 240, 10.0, Some("N"))]);
        assert_eq!(
            fingerprints(&updates),
            ["resolve above_upper:MN0001:w01018"]
        );
    }

    #[test]
    fn over_range_flag_is_critical_exceedance() {
        let (mut evaluator, _) = evaluator();
        let updates = evaluator.evaluate(&point(), &[reading("w01018", 0, 99.0, Some("T"))]);
        assert_eq!(
            fingerprints(&updates),
            ["trigger above_upper:MN0001:w01018"]
        );
        let AlertUpdate::Trigger { severity, .. } = &updates[0] else {
            panic!("{updates:?}")
        };
        assert_eq!(*severity, Severity::Critical);
    }

    fn status(last_received: Option<i64>) -> PointStatus {
        PointStatus {
            mn: Mn::parse("MN0001").unwrap(),
            area: AreaCode::parse("350203").unwrap(),
            interval_secs: 60,
            last_data_time: last_received.map(at),
            last_received_at: last_received.map(at),
        }
    }

    #[test]
    fn missing_data_opens_after_three_intervals() {
        let (mut evaluator, clock) = evaluator();
        clock.set(at(180));
        assert!(
            evaluator.check_missing(&[status(Some(0))]).is_empty(),
            "exactly 3 intervals is not missing"
        );
        clock.set(at(181));
        let updates = evaluator.check_missing(&[status(Some(0))]);
        assert_eq!(fingerprints(&updates), ["trigger data_missing:MN0001"]);
        let AlertUpdate::Trigger {
            at: time, limit, ..
        } = &updates[0]
        else {
            panic!("{updates:?}")
        };
        assert_eq!(*time, at(180));
        assert_eq!(*limit, Some(180.0));

        clock.set(at(300));
        assert!(
            evaluator.check_missing(&[status(Some(0))]).is_empty(),
            "opened twice"
        );

        clock.set(at(310));
        let updates = evaluator.check_missing(&[status(Some(305))]);
        assert_eq!(fingerprints(&updates), ["resolve data_missing:MN0001"]);
    }

    #[test]
    fn arriving_data_resolves_missing() {
        let (mut evaluator, clock) = evaluator();
        clock.set(at(1000));
        evaluator.check_missing(&[status(Some(0))]);
        let updates = evaluator.evaluate(&point(), &[reading("w21003", 1000, 1.0, None)]);
        assert_eq!(fingerprints(&updates), ["resolve data_missing:MN0001"]);

        // A status read before that upload was stored must not reopen it.
        clock.set(at(1010));
        assert!(evaluator.check_missing(&[status(Some(0))]).is_empty());
    }

    #[test]
    fn never_seen_point_counts_from_first_check() {
        let (mut evaluator, clock) = evaluator();
        clock.set(at(500));
        assert!(evaluator.check_missing(&[status(None)]).is_empty());
        clock.set(at(680));
        assert!(evaluator.check_missing(&[status(None)]).is_empty());
        clock.set(at(681));
        let updates = evaluator.check_missing(&[status(None)]);
        assert_eq!(fingerprints(&updates), ["trigger data_missing:MN0001"]);
    }

    fn open_alert(kind: AlertKind, factor: Option<&str>, last_at: i64) -> Alert {
        let mn = Mn::parse("MN0001").unwrap();
        let factor = factor.map(|factor| FactorCode::parse(factor).unwrap());
        Alert {
            id: AlertId(1),
            fingerprint: Alert::fingerprint_of(kind, &mn, factor.as_ref()),
            mn,
            factor,
            kind,
            severity: Severity::Warning,
            status: AlertStatus::Open,
            area: AreaCode::parse("350203").unwrap(),
            first_at: at(0),
            last_at: at(last_at),
            resolved_at: None,
            trigger_value: Some(150.0),
            last_value: Some(150.0),
            peak_value: Some(150.0),
            limit: Some(100.0),
            count: 1,
        }
    }

    #[test]
    fn restore_resumes_open_alerts() {
        let (mut evaluator, clock) = evaluator();
        evaluator.restore(&[
            open_alert(AlertKind::AboveUpper, Some("w01018"), 60),
            open_alert(AlertKind::DataMissing, None, 0),
        ]);
        let point = point();
        let late = evaluator.evaluate(&point, &[reading("w01018", 30, 10.0, None)]);
        assert_eq!(
            fingerprints(&late),
            ["resolve data_missing:MN0001"],
            "late reading resolved a limit alert"
        );

        let updates = evaluator.evaluate(&point, &[reading("w01018", 90, 10.0, None)]);
        assert_eq!(
            fingerprints(&updates),
            ["resolve above_upper:MN0001:w01018"]
        );

        clock.set(at(100));
        evaluator.restore(&[open_alert(AlertKind::DataMissing, None, 0)]);
        let updates = evaluator.check_missing(&[status(Some(91))]);
        assert_eq!(fingerprints(&updates), ["resolve data_missing:MN0001"]);
    }
}
