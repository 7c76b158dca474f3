//! The rule engine: readings and point statuses in, [`AlertUpdate`]s out.
//!
//! The engine is a pure state machine with an injected clock. Per rule,
//! point and factor it keeps the alert's phase (idle, pending since an event
//! time, firing), the window, the flatline run and the flapping history.
//! The store still enforces one open alert per fingerprint; this state
//! avoids redundant updates and is rebuilt from the open alerts and the
//! stored readings after a restart (see [`Engine::restore`] and
//! [`Engine::prime`]).
//!
//! Per reading and rule:
//!
//! - the flag filter drops readings that are no evidence (by default every
//!   flag but `N`); a reading whose data time is not newer than the newest
//!   evaluated one for its point and factor is late: it enters sliding
//!   windows but is not evaluated, so a retransmission never counts twice;
//! - `condition` met: an idle alert opens (pending, or firing without a
//!   `for` duration), a pending one fires once the condition has held for
//!   `for` in event time, a firing one is repeated;
//! - not met: a pending alert resolves at once (it never fired); a firing
//!   one resolves only when `clear` holds, so the band between `condition`
//!   and `clear` keeps it firing (hysteresis).

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Alert, AlertEvent, AlertId, AlertStatus, AlertTransition, Clock, Explanation, FactorCode, Mn,
    MonitoringPoint, Reading,
};
use oversight_store::{AlertUpdate, NewTask, PointStatus, Trigger};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::expr::CelRuntime;
use crate::rule::{Rule, RuleKind, RuleSet};
use crate::window::WindowState;

mod evaluate;
mod state;

use evaluate::ReadingRules;
use state::{FactorTable, Known, Phase, PointState, PointTable, RuleState, SharedWindow};

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The zone of `hour` and `night` in conditions.
    pub time_zone: TimeZone,
    /// Flapping starts above this percent state change.
    pub flap_high: f64,
    /// Flapping stops below this percent state change.
    pub flap_low: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            time_zone: TimeZone::fixed(jiff::tz::offset(8)),
            flap_high: 50.0,
            flap_low: 25.0,
        }
    }
}

/// Run-time errors of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleErrors {
    /// How many evaluations failed.
    pub count: u64,
    /// The latest error.
    pub last_message: String,
    /// The latest failing point.
    pub last_mn: String,
}

/// The rule engine.
#[derive(Debug)]
pub struct Engine {
    rules: Arc<RuleSet>,
    switches: FxHashMap<String, bool>,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    cel: CelRuntime,
    points: PointTable,
    factors: FactorTable,
    errors: BTreeMap<String, RuleErrors>,
    /// The UTC offset of `config.time_zone` in seconds, when the zone has a
    /// fixed offset, so that the local hour needs no time zone lookup.
    fixed_offset: Option<i64>,
    /// Readings evaluated so far, which numbers them for [`SharedWindow`].
    readings_seen: u64,
    /// The earliest data time each rule judges, by index in the rule set,
    /// or `None` while the rule is off. It is [`Timestamp::MIN`] for a rule
    /// that has run since the engine was created, and the time it was
    /// switched on for a rule in `switched_on`.
    enabled_from: Vec<Option<Timestamp>>,
    /// When each rule was last switched on through [`Engine::set_enabled`]
    /// or added or switched on by [`Engine::replace_rules`], by rule id.
    switched_on: FxHashMap<String, Timestamp>,
}

impl Engine {
    /// Creates an engine running `rules`.
    pub fn new(rules: Arc<RuleSet>, config: EngineConfig, clock: Arc<dyn Clock>) -> Self {
        let fixed_offset = config
            .time_zone
            .to_fixed_offset()
            .ok()
            .map(|offset| i64::from(offset.seconds()));
        let enabled_from = rules
            .rules()
            .iter()
            .map(|rule| rule.enabled.then_some(Timestamp::MIN))
            .collect();
        Self {
            fixed_offset,
            readings_seen: 0,
            enabled_from,
            switched_on: FxHashMap::default(),
            rules,
            switches: FxHashMap::default(),
            config,
            clock,
            cel: CelRuntime::new(),
            points: PointTable::default(),
            factors: FactorTable::default(),
            errors: BTreeMap::new(),
        }
    }

    /// Returns the active rules.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Replaces the rules, keeping the state of rules whose id stays. A rule
    /// that is new, or was off and is now on, judges only readings from now
    /// on, like a rule switched on by [`Engine::set_enabled`].
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>) {
        let was_enabled: FxHashMap<String, bool> = self
            .rules
            .rules()
            .iter()
            .map(|rule| (rule.id.clone(), self.is_enabled(rule)))
            .collect();
        let old = std::mem::replace(&mut self.rules, rules);
        let new_indexes: FxHashMap<&str, usize> = self
            .rules
            .rules()
            .iter()
            .enumerate()
            .map(|(index, rule)| (rule.id.as_str(), index))
            .collect();
        let remapped: Vec<Option<usize>> = old
            .rules()
            .iter()
            .map(|rule| new_indexes.get(rule.id.as_str()).copied())
            .collect();
        let remap = |index: usize| remapped[index];
        let old_factors = std::mem::take(&mut self.factors);
        for factor in &old_factors.factors {
            self.factors.number(&factor.code, &self.rules);
        }
        for point in self.points.iter_mut() {
            for series in &mut point.series {
                let old_rules = old_factors.get(series.factor);
                let new_rules = self.factors.get(series.factor);
                let mut kept: FxHashMap<usize, RuleState> = old_rules
                    .rules
                    .iter()
                    .zip(std::mem::take(&mut series.rules))
                    .filter_map(|(&index, state)| remap(index).map(|new| (new, state)))
                    .collect();
                series.rules = new_rules
                    .rules
                    .iter()
                    .map(|index| kept.remove(index).unwrap_or_default())
                    .collect();
                // A new window starts from the old window of one of its rules.
                let old_windows: FxHashMap<usize, usize> = old_rules
                    .rules
                    .iter()
                    .zip(&old_rules.windows)
                    .filter_map(|(&index, &window)| Some((remap(index)?, window?)))
                    .collect();
                let mut windows: Vec<Option<WindowState>> = vec![None; new_rules.window_count];
                for (index, window) in new_rules.rules.iter().zip(&new_rules.windows) {
                    if let (Some(window), Some(&old)) = (window, old_windows.get(index))
                        && windows[*window].is_none()
                    {
                        windows[*window] = Some(series.windows[old].state.clone());
                    }
                }
                series.windows = windows
                    .into_iter()
                    .map(|state| SharedWindow {
                        state: state.unwrap_or_default(),
                        ..SharedWindow::default()
                    })
                    .collect();
            }
            point.missing = std::mem::take(&mut point.missing)
                .into_iter()
                .filter_map(|(index, factor, state)| remap(index).map(|new| (new, factor, state)))
                .collect();
            point.primed = false;
        }
        let rules = Arc::clone(&self.rules);
        self.switched_on.retain(|id, _| rules.rule(id).is_some());
        for (index, rule) in rules.rules().iter().enumerate() {
            let switched_on = self.is_enabled(rule) && was_enabled.get(&rule.id) != Some(&true);
            if switched_on {
                self.switch_on(index);
            }
        }
        self.refresh_enabled();
    }

    /// Sets the operator's switches as stored, rule id to enabled, such as
    /// at a start. A rule these switches enable counts as running all
    /// along, so the replay of stored readings fills its windows.
    // NOTE: the engine does not read when a stored switch was made, so a
    // rule switched on shortly before a restart judges replayed readings
    // from before its switch.
    pub fn set_switches(&mut self, switches: impl IntoIterator<Item = (String, bool)>) {
        self.switches = switches.into_iter().collect();
        self.switched_on.clear();
        self.refresh_enabled();
    }

    /// Enables or disables one rule. A rule switched from off to on judges
    /// only readings with a data time at or after the clock's time, see
    /// [`Engine::switch_on`].
    pub fn set_enabled(&mut self, rule_id: &str, enabled: bool) {
        let was_enabled = self
            .rules
            .rule(rule_id)
            .map(|(index, rule)| (index, self.is_enabled(rule)));
        self.switches.insert(rule_id.to_owned(), enabled);
        if let Some((index, false)) = was_enabled
            && enabled
        {
            self.switch_on(index);
        }
        self.refresh_enabled();
    }

    /// Records the clock's time as the moment rule `index` was switched on,
    /// so that the rule skips readings with an earlier data time, also in a
    /// window it shares with other rules. Clears its flatline runs and the
    /// start of the `for` duration of its pending alerts, which their next
    /// met reading sets again.
    fn switch_on(&mut self, index: usize) {
        let rule = &self.rules.rules()[index];
        self.switched_on.insert(rule.id.clone(), self.clock.now());
        let factors = &self.factors;
        for point in self.points.iter_mut() {
            for series in &mut point.series {
                if let Some(position) = factors.position(series.factor, index) {
                    series.rules[position].restart();
                }
            }
        }
    }

    fn refresh_enabled(&mut self) {
        self.enabled_from = self
            .rules
            .rules()
            .iter()
            .map(|rule| {
                let from = self.switched_on.get(&rule.id).copied();
                self.is_enabled(rule)
                    .then(|| from.unwrap_or(Timestamp::MIN))
            })
            .collect();
    }

    /// Returns true if the rule runs.
    pub fn is_enabled(&self, rule: &Rule) -> bool {
        self.switches.get(&rule.id).copied().unwrap_or(rule.enabled)
    }

    /// Returns the run-time errors per rule id.
    pub fn errors(&self) -> &BTreeMap<String, RuleErrors> {
        &self.errors
    }

    /// Registers points, so that missing rules know their area, tags and limits.
    pub fn register_points(&mut self, points: impl IntoIterator<Item = Arc<MonitoringPoint>>) {
        for point in points {
            let state = self.points.entry(&point.mn);
            state.point = Some(point);
        }
    }

    /// Returns true if stored readings should be replayed through
    /// [`Engine::prime`] before `mn` is evaluated, and how far back.
    pub fn needs_priming(&self, mn: &Mn) -> Option<SignedDuration> {
        if self.points.get(mn).is_some_and(|point| point.primed) {
            return None;
        }
        let lookback = self
            .rules
            .rules()
            .iter()
            .filter(|rule| rule.needs_history())
            .map(|rule| rule.lookback())
            .max()?;
        // Flatline and `prev` need the latest readings even without a window.
        Some(lookback.max(SignedDuration::from_hours(1)))
    }

    /// Replays stored readings of `point` into windows, runs and previous
    /// values without producing updates, after a restart or a rule reload.
    pub fn prime(&mut self, point: &MonitoringPoint, readings: &[Reading]) {
        let mut discarded = Vec::new();
        self.evaluate_inner(point, readings, &mut discarded, true);
        self.points.entry(&point.mn).primed = true;
    }

    /// Rebuilds the phase of open alerts after a restart or a store failure.
    pub fn restore(&mut self, open_alerts: &[Alert]) {
        for point in self.points.iter_mut() {
            for series in &mut point.series {
                for state in &mut series.rules {
                    state.phase = Phase::Idle;
                    state.forget_known();
                }
            }
            for (_, _, state) in &mut point.missing {
                state.phase = Phase::Idle;
                state.forget_known();
            }
        }
        for alert in open_alerts {
            self.restore_one(alert);
        }
    }

    fn restore_one(&mut self, alert: &Alert) {
        let Some((index, rule)) = self.rules.rule(&alert.rule_id) else {
            return;
        };
        let kind = rule.kind;
        let state = if kind.watches_silence() {
            let point = self.points.entry(&alert.mn);
            missing_state(point, index, alert.factor.clone())
        } else {
            let Some(factor) = &alert.factor else {
                return;
            };
            let number = self.factors.number(factor, &self.rules);
            let Some(position) = self.factors.position(number, index) else {
                return;
            };
            let series = self
                .points
                .entry(&alert.mn)
                .series_mut(number, &self.factors);
            series.newest = series.newest.max(Some(alert.last_at));
            &mut series.rules[position]
        };
        match alert.status {
            AlertStatus::Pending => state.set_pending(alert.first_at),
            AlertStatus::Firing | AlertStatus::Acknowledged => state.phase = Phase::Firing,
            AlertStatus::Resolved => return,
        }
        *state.known_mut() = Known {
            id: Some(alert.id),
            fired_at: alert.fired_at,
            acknowledged: alert.status == AlertStatus::Acknowledged,
            escalated: alert.escalated_at.is_some(),
        };
        state.flap.set_flapping(alert.flapping);
    }

    /// Evaluates readings just stored for `point`, in order, and returns the
    /// updates to apply. Readings of another MN are skipped.
    pub fn evaluate(&mut self, point: &MonitoringPoint, readings: &[Reading]) -> Vec<AlertUpdate> {
        let mut updates = Vec::new();
        self.evaluate_inner(point, readings, &mut updates, false);
        updates
    }

    fn evaluate_inner(
        &mut self,
        point: &MonitoringPoint,
        readings: &[Reading],
        updates: &mut Vec<AlertUpdate>,
        priming: bool,
    ) {
        if !readings.iter().any(|reading| reading.mn == point.mn) {
            return;
        }
        let Self {
            rules,
            points,
            factors,
            config,
            cel,
            errors,
            fixed_offset,
            readings_seen,
            enabled_from,
            ..
        } = self;
        let rules: &RuleSet = rules;
        let state = points.entry(&point.mn);
        for reading in readings.iter().filter(|reading| reading.mn == point.mn) {
            if !priming {
                resolve_missing(rules, state, reading, updates);
            }
            *readings_seen += 1;
            let number = factors.number(&reading.factor, rules);
            let series = state.series_mut(number, factors);
            let late = series
                .newest
                .is_some_and(|newest| reading.data_time <= newest);
            let primary = reading.values.primary().filter(|value| value.is_finite());
            let over_range = reading.flag.is_some_and(|flag| flag.as_char() == 'T');
            // A reading without a finite value is evaluated only when its
            // flag reports the instrument's range exceeded.
            if let Some(raw) = primary.or(over_range.then_some(f64::NAN)) {
                let reading_rules = ReadingRules {
                    rules,
                    enabled_from,
                    factor: factors.get(number),
                    point,
                    reading,
                    reading_number: *readings_seen,
                    late,
                    priming,
                    fixed_offset: *fixed_offset,
                    config,
                    cel,
                };
                reading_rules.run(series, raw, errors, updates);
            }
            if !late {
                series.newest = Some(reading.data_time);
                if let Some(value) = primary {
                    series.prev = Some(value);
                }
            }
            series.last_received = series.last_received.max(Some(reading.received_at));
            state.last_received = state.last_received.max(Some(reading.received_at));
        }
    }

    /// Runs the missing rules over every point's status at the clock's time.
    pub fn check_missing(&mut self, statuses: &[PointStatus]) -> Vec<AlertUpdate> {
        let now = self.clock.now();
        let rules = Arc::clone(&self.rules);
        let mut updates = Vec::new();
        for status in statuses {
            let state = self.points.entry(&status.mn);
            let first_seen = *state.first_seen.get_or_insert(now);
            let point_received = status.last_received_at.max(state.last_received);
            // A heartbeat is contact but no data. It keeps the point online,
            // while its factors can still be missing.
            let point_contact = status.last_seen().max(state.last_received);
            let Some(point) = state.point.clone() else {
                continue;
            };
            for &index in rules.missing_rules() {
                let rule = &rules.rules()[index];
                let enabled = self.switches.get(&rule.id).copied().unwrap_or(rule.enabled);
                if !enabled || !rule.applies_to(&point, &point.attributes) {
                    continue;
                }
                let state = self
                    .points
                    .get_mut(&status.mn)
                    .expect("the point's state was just created");
                let threshold = rule.missing_after.map_or(SignedDuration::ZERO, |after| {
                    after.threshold(status.interval_secs)
                });
                // A factor is missing only while its point is in contact:
                // a silent point is offline, which its offline rule reports.
                let point_silent =
                    point_contact.is_none_or(|contact| now.duration_since(contact) > threshold);
                if rule.kind == RuleKind::Missing && point_silent {
                    continue;
                }
                if rule.kind == RuleKind::Offline
                    && !point_silent
                    && let Some(update) = end_offline(state, index, rule, &point, point_contact)
                {
                    updates.push(update);
                    continue;
                }
                for factor in missing_factors(rule, &point) {
                    let since = match &factor {
                        None if rule.kind == RuleKind::Offline => point_contact,
                        None => point_received,
                        Some(factor) => self
                            .factors
                            .numbers
                            .get(factor)
                            .and_then(|&number| state.series(number))
                            .and_then(|series| series.last_received),
                    }
                    .unwrap_or(first_seen);
                    let rule_state = missing_state(state, index, factor.clone());
                    let silence = now.duration_since(since);
                    if silence <= threshold || rule_state.phase != Phase::Idle {
                        continue;
                    }
                    rule_state.phase = Phase::Firing;
                    let at = since.checked_add(threshold).unwrap_or(now);
                    updates.push(missing_trigger(
                        rule, &point, factor, at, silence, threshold,
                    ));
                }
            }
        }
        updates
    }

    /// Records what the store did with the engine's updates (alert ids,
    /// acknowledgements) and returns the escalations they call for.
    pub fn observe(&mut self, events: &[AlertEvent]) -> Vec<AlertUpdate> {
        let now = self.clock.now();
        let mut escalations = Vec::new();
        for event in events {
            let rules = Arc::clone(&self.rules);
            let Some((index, rule)) = rules.rule(&event.alert.rule_id) else {
                continue;
            };
            let alert = &event.alert;
            let Some(state) = self.state_of(index, rule.kind, alert) else {
                continue;
            };
            if event.transition == AlertTransition::Resolved {
                state.phase = Phase::Idle;
                state.forget_known();
                continue;
            }
            let known = state.known_mut();
            known.id = Some(alert.id);
            known.fired_at = alert.fired_at;
            known.acknowledged = alert.status == AlertStatus::Acknowledged;
            known.escalated |= alert.escalated_at.is_some();
            if let Some(update) = escalate_now(rule, alert, known, now) {
                escalations.push(update);
            }
        }
        escalations
    }

    /// Returns the escalations due at the clock's time for alerts left
    /// unacknowledged past their rule's deadline.
    pub fn check_escalations(&mut self) -> Vec<AlertUpdate> {
        let now = self.clock.now();
        let rules = Arc::clone(&self.rules);
        let mut updates = Vec::new();
        let factors = &self.factors;
        for point in self.points.iter_mut() {
            let PointState {
                mn,
                series,
                missing,
                ..
            } = point;
            let states = series
                .iter_mut()
                .flat_map(|series| {
                    let factor = factors.get(series.factor);
                    factor
                        .rules
                        .iter()
                        .zip(&mut series.rules)
                        .map(|(&index, state)| (index, Some(&factor.code), state))
                })
                .chain(
                    missing
                        .iter_mut()
                        .map(|(index, factor, state)| (*index, factor.as_ref(), state)),
                );
            for (index, factor, state) in states {
                let rule = &rules.rules()[index];
                let Some(policy) = &rule.escalation else {
                    continue;
                };
                let known = state.known();
                let (Some(after), Some(id), Some(fired_at)) =
                    (policy.unacknowledged_for, known.id, known.fired_at)
                else {
                    continue;
                };
                if state.phase != Phase::Firing || known.acknowledged || known.escalated {
                    continue;
                }
                if now.duration_since(fired_at) < after {
                    continue;
                }
                state.known_mut().escalated = true;
                let subject = Alert::fingerprint_of(&rule.id, mn, factor);
                let reason = format!("unacknowledged for {after:#}");
                updates.push(escalation(rule, id, &subject, &reason, now));
            }
        }
        updates
    }

    fn state_of(&mut self, index: usize, kind: RuleKind, alert: &Alert) -> Option<&mut RuleState> {
        let point = self.points.get_mut(&alert.mn)?;
        if kind.watches_silence() {
            return Some(missing_state(point, index, alert.factor.clone()));
        }
        let number = *self.factors.numbers.get(alert.factor.as_ref()?)?;
        let position = self.factors.position(number, index)?;
        let series = point
            .series
            .iter_mut()
            .find(|series| series.factor == number)?;
        Some(&mut series.rules[position])
    }

    /// Returns the fingerprint of an open alert of an inhibiting rule on
    /// `mn`, other than `rule_id` itself.
    pub fn inhibitor(&self, mn: &Mn, rule_id: &str) -> Option<String> {
        let point = self.points.get(mn)?;
        point.missing.iter().find_map(|(index, factor, state)| {
            let rule = &self.rules.rules()[*index];
            (rule.inhibits && rule.id != rule_id && state.phase != Phase::Idle)
                .then(|| Alert::fingerprint_of(&rule.id, mn, factor.as_ref()))
        })
    }
}

fn record_error(errors: &mut BTreeMap<String, RuleErrors>, rule: &str, mn: &Mn, message: String) {
    metrics::counter!("oversight_rule_errors_total", "rule" => rule.to_owned()).increment(1);
    let entry = errors.entry(rule.to_owned()).or_default();
    if entry.count.is_power_of_two() {
        tracing::warn!(rule, mn = %mn, error = %message, count = entry.count + 1, "rule evaluation failed");
    }
    entry.count += 1;
    entry.last_message = message;
    entry.last_mn = mn.to_string();
}

/// Resolves the point's open missing alerts that `reading` ends.
fn resolve_missing(
    rules: &RuleSet,
    state: &mut PointState,
    reading: &Reading,
    updates: &mut Vec<AlertUpdate>,
) {
    for (index, factor, rule_state) in &mut state.missing {
        let ends = factor
            .as_ref()
            .is_none_or(|factor| *factor == reading.factor);
        if !ends || rule_state.phase == Phase::Idle {
            continue;
        }
        rule_state.phase = Phase::Idle;
        rule_state.forget_known();
        let rule = &rules.rules()[*index];
        updates.push(AlertUpdate::Resolve {
            fingerprint: Alert::fingerprint_of(&rule.id, &state.mn, factor.as_ref()),
            at: reading.received_at,
            reason: "data arrived".to_owned(),
        });
    }
}

fn missing_state(
    point: &mut PointState,
    index: usize,
    factor: Option<FactorCode>,
) -> &mut RuleState {
    let position = point
        .missing
        .iter()
        .position(|(known, known_factor, _)| *known == index && *known_factor == factor);
    let position = match position {
        Some(position) => position,
        None => {
            point.missing.push((index, factor, RuleState::default()));
            point.missing.len() - 1
        }
    };
    &mut point.missing[position].2
}

/// The subjects a missing or offline rule watches on `point`: the point as
/// a whole for an offline rule, and for a missing rule each named factor or,
/// when it names none, each factor the point has a limit for.
fn missing_factors(rule: &Rule, point: &MonitoringPoint) -> Vec<Option<FactorCode>> {
    if rule.kind == RuleKind::Offline {
        return vec![None];
    }
    if rule.factors.is_empty() {
        return point
            .limits
            .iter()
            .map(|limit| Some(limit.factor.clone()))
            .collect();
    }
    rule.factors
        .iter()
        .filter(|factor| point.limit(factor).is_some() || rule.factors.len() == 1)
        .map(|factor| Some(factor.clone()))
        .collect()
}

/// Resolves the firing offline alert of `rule` on a point that made contact
/// at `contact`, such as by a heartbeat, which [`Engine::check_missing`]
/// finds within the rule's silence. Uploads resolve it in
/// `resolve_missing` instead.
fn end_offline(
    state: &mut PointState,
    index: usize,
    rule: &Rule,
    point: &MonitoringPoint,
    contact: Option<Timestamp>,
) -> Option<AlertUpdate> {
    let at = contact?;
    let rule_state = missing_state(state, index, None);
    if rule_state.phase == Phase::Idle {
        return None;
    }
    rule_state.phase = Phase::Idle;
    rule_state.forget_known();
    Some(AlertUpdate::Resolve {
        fingerprint: Alert::fingerprint_of(&rule.id, &point.mn, None),
        at,
        reason: "contact resumed".to_owned(),
    })
}

fn missing_trigger(
    rule: &Rule,
    point: &MonitoringPoint,
    factor: Option<FactorCode>,
    at: Timestamp,
    silence: SignedDuration,
    threshold: SignedDuration,
) -> AlertUpdate {
    let condition = match &factor {
        Some(factor) => {
            format!("no {factor} value for more than {threshold:#} while the point uploads")
        }
        None => format!("no upload from the point for more than {threshold:#}"),
    };
    let mut values = BTreeMap::new();
    values.insert("silence_secs".to_owned(), silence.as_secs_f64());
    values.insert("after_secs".to_owned(), threshold.as_secs_f64());
    AlertUpdate::Trigger(Box::new(Trigger {
        fingerprint: Alert::fingerprint_of(&rule.id, &point.mn, factor.as_ref()),
        rule_id: rule.id.clone(),
        rule_version: rule.version.clone(),
        category: rule.category.clone(),
        department: rule.department.clone(),
        mn: point.mn.clone(),
        factor,
        severity: rule.severity,
        area: point.area.clone(),
        at,
        value: Some(silence.as_secs_f64()),
        limit: Some(threshold.as_secs_f64()),
        peak_is_max: true,
        firing: true,
        explanation: Some(Explanation {
            condition,
            clear: Some("data arrives".to_owned()),
            values,
            flag: None,
            window: None,
            reading_at: None,
        }),
    }))
}

fn escalate_now(
    rule: &Rule,
    alert: &Alert,
    known: &mut Known,
    now: Timestamp,
) -> Option<AlertUpdate> {
    let policy = rule.escalation.as_ref()?;
    if known.escalated || !alert.status.is_open() || alert.status == AlertStatus::Pending {
        return None;
    }
    let reason = if policy
        .severity
        .is_some_and(|severity| alert.severity >= severity)
    {
        format!("severity {}", alert.severity.as_str())
    } else if policy.count.is_some_and(|count| alert.count >= count) {
        format!("triggered {} times", alert.count)
    } else {
        return None;
    };
    known.escalated = true;
    Some(escalation(rule, alert.id, &alert.fingerprint, &reason, now))
}

fn escalation(
    rule: &Rule,
    id: AlertId,
    subject: &str,
    reason: &str,
    now: Timestamp,
) -> AlertUpdate {
    let policy = rule
        .escalation
        .as_ref()
        .expect("escalation is only built for rules with a policy");
    let department = policy
        .department
        .clone()
        .or_else(|| rule.department.clone())
        .unwrap_or_else(|| "unassigned".to_owned());
    AlertUpdate::Escalate {
        id,
        at: now,
        task: NewTask {
            origin_alert: id,
            department,
            title: format!("{}: {subject} ({reason})", rule.name),
            deadline: now.checked_add(policy.deadline).unwrap_or(now),
        },
    }
}

/// Returns the local hour, 0 to 23, of `at` in `time_zone`, whose UTC
/// offset in seconds is `fixed_offset` when it never changes.
fn local_hour(at: Timestamp, fixed_offset: Option<i64>, time_zone: &TimeZone) -> i8 {
    let Some(offset) = fixed_offset else {
        return at.to_zoned(time_zone.clone()).hour();
    };
    let second_of_day = (at.as_second() + offset).rem_euclid(86_400);
    i8::try_from(second_of_day / 3_600).expect("an hour of the day is below 24")
}

#[cfg(test)]
mod tests {
    use oversight_core::{
        AreaCode, DataFlag, DataKind, FactorLimit, FactorValues, ManualClock, Secret, Severity,
        SystemCode,
    };

    use super::*;
    use crate::pack::parse_pack;

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
            previous_password: None,
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
            attributes: BTreeMap::new(),
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

    fn engine_with(packs: &[&str]) -> (Engine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(at(0)));
        let operator = packs
            .iter()
            .map(|text| parse_pack("test.toml", text).unwrap())
            .collect();
        let rules = RuleSet::build(crate::builtin_packs().unwrap(), operator).unwrap();
        let engine = Engine::new(Arc::new(rules), EngineConfig::default(), clock.clone());
        (engine, clock)
    }

    fn engine() -> (Engine, Arc<ManualClock>) {
        engine_with(&[])
    }

    /// Summarises updates as `trigger|fire|resolve|flap FINGERPRINT`.
    fn summary(updates: &[AlertUpdate]) -> Vec<String> {
        updates
            .iter()
            .map(|update| match update {
                AlertUpdate::Trigger(trigger) if trigger.firing => {
                    format!("fire {}", trigger.fingerprint)
                }
                AlertUpdate::Trigger(trigger) => format!("pending {}", trigger.fingerprint),
                AlertUpdate::Resolve { fingerprint, .. } => format!("resolve {fingerprint}"),
                AlertUpdate::SetFlapping {
                    fingerprint,
                    flapping,
                } => format!("flapping={flapping} {fingerprint}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn trigger(updates: &[AlertUpdate]) -> &Trigger {
        match &updates[0] {
            AlertUpdate::Trigger(trigger) => trigger,
            other => panic!("expected a trigger, got {other:?}"),
        }
    }

    #[test]
    fn exceedance_fires_then_resolves() {
        let (mut engine, _) = engine();
        let point = point();
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
        let first = trigger(&updates);
        assert_eq!(first.severity, Severity::Warning);
        assert_eq!(first.value, Some(150.0));
        assert_eq!(first.limit, Some(100.0));
        let explanation = first.explanation.as_ref().unwrap();
        assert_eq!(explanation.condition, "flag == 'T' || value > upper");
        assert_eq!(explanation.values.get("upper"), Some(&100.0));

        let updates = engine.evaluate(&point, &[reading("w01018", 30, 250.0, None)]);
        assert_eq!(trigger(&updates).severity, Severity::Critical);

        let updates = engine.evaluate(&point, &[reading("w01018", 60, 50.0, None)]);
        assert_eq!(summary(&updates), ["resolve env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn normal_readings_send_nothing() {
        let (mut engine, _) = engine();
        let point = point();
        for time in 0..10 {
            let updates = engine.evaluate(
                &point,
                &[reading("w01018", time * 30, 50.0 + time as f64, None)],
            );
            assert!(updates.is_empty(), "{updates:?}");
        }
    }

    #[test]
    fn lower_limit_and_crossing() {
        let (mut engine, _) = engine();
        let point = point();
        let updates = engine.evaluate(&point, &[reading("w01001", 0, 2.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.lower:MN0001:w01001"]);
        assert_eq!(trigger(&updates).severity, Severity::Critical);
        assert_eq!(trigger(&updates).limit, Some(6.0));
        let updates = engine.evaluate(&point, &[reading("w01001", 30, 10.0, None)]);
        assert_eq!(
            summary(&updates),
            [
                "fire env.limit.upper:MN0001:w01001",
                "resolve env.limit.lower:MN0001:w01001",
                "fire env.jump:MN0001:w01001"
            ]
        );
    }

    #[test]
    fn late_reading_does_not_flip_state() {
        let (mut engine, _) = engine();
        let point = point();
        engine.evaluate(&point, &[reading("w01018", 60, 150.0, None)]);
        let late = engine.evaluate(&point, &[reading("w01018", 30, 50.0, None)]);
        assert!(late.is_empty(), "late normal reading resolved: {late:?}");
        let retransmitted = engine.evaluate(&point, &[reading("w01018", 60, 150.0, None)]);
        assert!(retransmitted.is_empty(), "counted twice: {retransmitted:?}");
        let newer = engine.evaluate(&point, &[reading("w01018", 90, 50.0, None)]);
        assert_eq!(summary(&newer), ["resolve env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn invalid_flags_neither_open_nor_resolve() {
        let (mut engine, _) = engine();
        let point = point();
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 500.0, Some("D"))]);
        assert!(
            updates.is_empty(),
            "fault value opened an alert: {updates:?}"
        );
        engine.evaluate(&point, &[reading("w01018", 30, 150.0, Some("N"))]);
        for (time, flag) in [(60, "C"), (90, "M"), (120, "F"), (150, "B"), (180, "S")] {
            let updates = engine.evaluate(&point, &[reading("w01018", time, 10.0, Some(flag))]);
            assert!(
                updates.is_empty(),
                "flag {flag} resolved the alert: {updates:?}"
            );
        }
        let updates = engine.evaluate(&point, &[reading("w01018", 240, 10.0, Some("N"))]);
        assert_eq!(summary(&updates), ["resolve env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn over_range_flag_is_critical_exceedance() {
        let (mut engine, _) = engine();
        let updates = engine.evaluate(&point(), &[reading("w01018", 0, 99.0, Some("T"))]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
        assert_eq!(trigger(&updates).severity, Severity::Critical);
    }

    const FOR_AND_CLEAR: &str = r#"
[pack]
id = "test"
version = "7"

[[rule]]
id = "env.limit.upper"
category = "exceedance"
factors = ["w01018"]
condition = "value > upper"
clear = "value <= 0.8 * upper"
for = "2m"
"#;

    #[test]
    fn for_duration_and_hysteresis() {
        let (mut engine, _) = engine_with(&[FOR_AND_CLEAR]);
        let point = point();
        let fingerprint = "env.limit.upper:MN0001:w01018";
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("pending {fingerprint}")]);
        assert_eq!(trigger(&updates).rule_version, "7");
        let updates = engine.evaluate(&point, &[reading("w01018", 60, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("pending {fingerprint}")]);
        let updates = engine.evaluate(&point, &[reading("w01018", 120, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("fire {fingerprint}")]);
        let band = engine.evaluate(&point, &[reading("w01018", 180, 90.0, None)]);
        assert!(
            band.is_empty(),
            "resolved inside the hysteresis band: {band:?}"
        );
        let updates = engine.evaluate(&point, &[reading("w01018", 240, 70.0, None)]);
        assert_eq!(summary(&updates), [format!("resolve {fingerprint}")]);
    }

    #[test]
    fn pending_resolves_when_condition_stops() {
        let (mut engine, _) = engine_with(&[FOR_AND_CLEAR]);
        let point = point();
        engine.evaluate(&point, &[reading("w01018", 0, 120.0, None)]);
        let updates = engine.evaluate(&point, &[reading("w01018", 60, 90.0, None)]);
        assert_eq!(summary(&updates), ["resolve env.limit.upper:MN0001:w01018"]);
        let updates = engine.evaluate(&point, &[reading("w01018", 120, 120.0, None)]);
        assert_eq!(summary(&updates), ["pending env.limit.upper:MN0001:w01018"]);
    }

    fn open_alert(
        rule_id: &str,
        factor: Option<&str>,
        status: AlertStatus,
        first_at: i64,
    ) -> Alert {
        let mn = Mn::parse("MN0001").unwrap();
        let factor = factor.map(|factor| FactorCode::parse(factor).unwrap());
        Alert {
            id: AlertId(1),
            fingerprint: Alert::fingerprint_of(rule_id, &mn, factor.as_ref()),
            rule_id: rule_id.to_owned(),
            rule_version: "1".to_owned(),
            category: "exceedance".to_owned(),
            mn,
            factor,
            severity: Severity::Warning,
            status,
            area: AreaCode::parse("350203").unwrap(),
            department: None,
            first_at: at(first_at),
            last_at: at(first_at),
            fired_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolution: None,
            trigger_value: Some(120.0),
            last_value: Some(120.0),
            peak_value: Some(120.0),
            limit: Some(100.0),
            count: 1,
            flapping: false,
            escalated_at: None,
            explanation: None,
        }
    }

    #[test]
    fn restart_keeps_pending_for_duration() {
        let (mut engine, _) = engine_with(&[FOR_AND_CLEAR]);
        engine.restore(&[open_alert(
            "env.limit.upper",
            Some("w01018"),
            AlertStatus::Pending,
            0,
        )]);
        let point = point();
        let late = engine.evaluate(&point, &[reading("w01018", 0, 50.0, None)]);
        assert!(
            late.is_empty(),
            "a reading already evaluated changed state: {late:?}"
        );
        let updates = engine.evaluate(&point, &[reading("w01018", 120, 130.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn restart_does_not_reopen_firing_alert() {
        let (mut engine, _) = engine();
        engine.restore(&[open_alert(
            "env.limit.upper",
            Some("w01018"),
            AlertStatus::Firing,
            0,
        )]);
        let updates = engine.evaluate(&point(), &[reading("w01018", 30, 130.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
        let updates = engine.evaluate(&point(), &[reading("w01018", 60, 30.0, None)]);
        assert_eq!(summary(&updates), ["resolve env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn flatline_fires_and_clears() {
        let (mut engine, _) = engine();
        let point = point();
        let mut fired = Vec::new();
        for index in 0..12 {
            let updates = engine.evaluate(&point, &[reading("w21003", index * 60, 4.2, None)]);
            fired.extend(summary(&updates));
        }
        assert_eq!(fired, ["fire env.flatline:MN0001:w21003"]);
        let updates = engine.evaluate(&point, &[reading("w21003", 720, 4.3, None)]);
        assert_eq!(summary(&updates), ["resolve env.flatline:MN0001:w21003"]);
    }

    #[test]
    fn jump_uses_previous_value() {
        let (mut engine, _) = engine();
        let point = point();
        assert!(
            engine
                .evaluate(&point, &[reading("w21003", 0, 2.0, None)])
                .is_empty()
        );
        let updates = engine.evaluate(&point, &[reading("w21003", 60, 7.0, None)]);
        assert_eq!(summary(&updates), ["fire env.jump:MN0001:w21003"]);
        let updates = engine.evaluate(&point, &[reading("w21003", 120, 7.5, None)]);
        assert_eq!(summary(&updates), ["resolve env.jump:MN0001:w21003"]);
    }

    #[test]
    fn local_hour_of_fixed_offset_matches_zone() {
        let zone = TimeZone::fixed(jiff::tz::offset(8));
        let west = TimeZone::fixed(jiff::tz::offset(-5));
        for seconds in [-90_000, -1, 0, 57_599, 57_600, 86_399, 1_764_892_800] {
            let time = Timestamp::from_second(seconds).unwrap();
            for (zone, offset) in [(&zone, 8 * 3_600), (&west, -5 * 3_600)] {
                assert_eq!(
                    local_hour(time, Some(offset), zone),
                    time.to_zoned(zone.clone()).hour(),
                    "{time} at offset {offset}"
                );
            }
        }
    }

    fn status(last_received: Option<i64>) -> PointStatus {
        PointStatus {
            mn: Mn::parse("MN0001").unwrap(),
            area: AreaCode::parse("350203").unwrap(),
            interval_secs: 60,
            last_data_time: last_received.map(at),
            last_received_at: last_received.map(at),
            last_contact_at: None,
        }
    }

    #[test]
    fn heartbeat_is_contact_not_data() {
        let (mut engine, clock) = engine();
        engine.register_points([Arc::new(point())]);
        clock.set(at(0));
        engine.check_missing(&[status(None)]);
        engine.evaluate(&point(), &[reading("w01018", 0, 10.0, None)]);
        // Only heartbeats since the reading: online, but COD is missing.
        clock.set(at(600));
        let heartbeats = PointStatus {
            last_contact_at: Some(at(590)),
            ..status(Some(0))
        };
        let updates = engine.check_missing(std::slice::from_ref(&heartbeats));
        assert!(
            !summary(&updates).contains(&"fire env.offline:MN0001".to_owned()),
            "a heartbeat keeps the point online: {:?}",
            summary(&updates)
        );
        assert!(
            summary(&updates).contains(&"fire env.data_missing:MN0001:w01018".to_owned()),
            "a heartbeat is no data: {:?}",
            summary(&updates)
        );

        // The heartbeats stop: offline. They resume: the offline alert resolves.
        clock.set(at(1200));
        let updates = engine.check_missing(std::slice::from_ref(&heartbeats));
        assert_eq!(summary(&updates), ["fire env.offline:MN0001"]);
        clock.set(at(1260));
        let resumed = PointStatus {
            last_contact_at: Some(at(1250)),
            ..status(Some(0))
        };
        let updates = engine.check_missing(std::slice::from_ref(&resumed));
        assert_eq!(summary(&updates), ["resolve env.offline:MN0001"]);
        clock.set(at(1270));
        assert!(
            engine.check_missing(&[resumed]).is_empty(),
            "resolved twice"
        );
    }

    #[test]
    fn offline_fires_and_data_resolves() {
        let (mut engine, clock) = engine();
        engine.register_points([Arc::new(point())]);
        clock.set(at(180));
        assert!(
            engine.check_missing(&[status(Some(0))]).is_empty(),
            "exactly 3 intervals"
        );
        clock.set(at(181));
        let updates = engine.check_missing(&[status(Some(0))]);
        assert_eq!(summary(&updates), ["fire env.offline:MN0001"]);
        assert_eq!(trigger(&updates).at, at(180));
        clock.set(at(300));
        assert!(
            engine.check_missing(&[status(Some(0))]).is_empty(),
            "fired twice"
        );
        assert_eq!(
            engine
                .inhibitor(&Mn::parse("MN0001").unwrap(), "env.flatline")
                .as_deref(),
            Some("env.offline:MN0001")
        );
        let updates = engine.evaluate(&point(), &[reading("w21003", 310, 1.0, None)]);
        assert_eq!(summary(&updates), ["resolve env.offline:MN0001"]);
    }

    #[test]
    fn offline_point_has_no_missing_factors() {
        let (mut engine, clock) = engine();
        engine.register_points([Arc::new(point())]);
        clock.set(at(0));
        engine.check_missing(&[status(None)]);
        engine.evaluate(&point(), &[reading("w01018", 0, 10.0, None)]);
        clock.set(at(600));
        let updates = engine.check_missing(&[status(Some(0))]);
        assert_eq!(
            summary(&updates),
            ["fire env.offline:MN0001"],
            "a silent point is offline, not missing each factor"
        );
    }

    #[test]
    fn offline_inhibits_sensor_alerts_only() {
        let (mut engine, clock) = engine();
        engine.register_points([Arc::new(point())]);
        let mn = Mn::parse("MN0001").unwrap();
        let updates = engine.evaluate(&point(), &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
        assert_eq!(engine.inhibitor(&mn, "env.limit.upper"), None);
        clock.set(at(400));
        let updates = engine.check_missing(&[status(Some(0))]);
        assert_eq!(summary(&updates), ["fire env.offline:MN0001"]);
        assert_eq!(
            engine.inhibitor(&mn, "env.limit.upper").as_deref(),
            Some("env.offline:MN0001")
        );
        assert_eq!(
            engine.inhibitor(&mn, "env.offline"),
            None,
            "the offline alert must not inhibit itself"
        );
    }

    #[test]
    fn factor_missing_while_point_uploads() {
        let (mut engine, clock) = engine();
        engine.register_points([Arc::new(point())]);
        engine.evaluate(&point(), &[reading("w01018", 0, 10.0, None)]);
        clock.set(at(362));
        engine.evaluate(&point(), &[reading("w21003", 360, 1.0, None)]);
        let updates = engine.check_missing(&[status(Some(360))]);
        assert_eq!(
            summary(&updates),
            ["fire env.data_missing:MN0001:w01018"],
            "w01001 was never sent but the point was first seen just now"
        );
        let explanation = trigger(&updates).explanation.as_ref().unwrap();
        assert!(
            explanation.condition.contains("while the point uploads"),
            "{}",
            explanation.condition
        );
        let mn = Mn::parse("MN0001").unwrap();
        assert_eq!(
            engine.inhibitor(&mn, "env.limit.upper"),
            None,
            "a missing factor does not inhibit the point's other alerts"
        );
    }

    #[test]
    fn runtime_error_is_counted_not_fatal() {
        let broken = r#"
[pack]
id = "broken"
version = "1"

[[rule]]
id = "broken.attr"
category = "test"
factors = ["w01018"]
condition = "attrs.missing_attribute == 'x'"
"#;
        let (mut engine, _) = engine_with(&[broken]);
        let updates = engine.evaluate(&point(), &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(summary(&updates), ["fire env.limit.upper:MN0001:w01018"]);
        assert_eq!(engine.errors()["broken.attr"].count, 1);
    }

    #[test]
    fn disabled_rule_does_not_run() {
        let (mut engine, _) = engine();
        engine.set_enabled("env.limit.upper", false);
        let updates = engine.evaluate(&point(), &[reading("w01018", 0, 150.0, None)]);
        assert!(updates.is_empty(), "{updates:?}");
    }

    #[test]
    fn alternating_values_start_flapping() {
        let (mut engine, _) = engine();
        let point = point();
        let mut flapping = Vec::new();
        for index in 0..24 {
            let value = if index % 2 == 0 { 150.0 } else { 50.0 };
            let updates = engine.evaluate(&point, &[reading("w01018", index * 60, value, None)]);
            flapping.extend(
                summary(&updates)
                    .into_iter()
                    .filter(|line| line.starts_with("flapping")),
            );
        }
        assert_eq!(flapping, ["flapping=true env.limit.upper:MN0001:w01018"]);
    }

    #[test]
    fn rule_state_is_24_bytes() {
        // A point has one state per rule of each factor it sends, so the
        // size decides how many points fit in the cache.
        assert_eq!(size_of::<RuleState>(), 24);
    }

    /// Returns a pack of windowed threshold rules on w01018, one for each
    /// `(id, condition, window size)`.
    fn window_pack(rules: &[(&str, &str, &str)]) -> String {
        let mut text = String::from("[pack]\nid = \"w\"\nversion = \"1\"\n");
        for (id, condition, size) in rules {
            text.push_str(&format!(
                "\n[[rule]]\nid = \"{id}\"\ncategory = \"exceedance\"\n\
                 factors = [\"w01018\"]\ncondition = \"{condition}\"\n\
                 window = {{ size = \"{size}\", aggregate = \"avg\" }}\n"
            ));
        }
        text
    }

    /// Two rules sharing a 10-minute average and one with an hour's.
    const SHARED_WINDOWS: [(&str, &str, &str); 3] = [
        ("w.avg10", "value > 100.0", "10m"),
        ("w.avg10.high", "value > 120.0", "10m"),
        ("w.avg1h", "value > 100.0", "1h"),
    ];

    /// Returns the updates of rules whose id starts with `w.`.
    fn window_rules(updates: &[AlertUpdate]) -> Vec<String> {
        let mut lines: Vec<String> = summary(updates)
            .into_iter()
            .filter(|line| line.contains(" w."))
            .collect();
        lines.sort();
        lines
    }

    fn trigger_of<'a>(updates: &'a [AlertUpdate], rule_id: &str) -> &'a Trigger {
        updates
            .iter()
            .find_map(|update| match update {
                AlertUpdate::Trigger(trigger) if trigger.rule_id == rule_id => Some(&**trigger),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no trigger of {rule_id} in {updates:?}"))
    }

    fn window_count(updates: &[AlertUpdate], rule_id: &str) -> u64 {
        let explanation = trigger_of(updates, rule_id).explanation.as_ref().unwrap();
        explanation.window.as_ref().unwrap().count
    }

    #[test]
    fn shared_window_serves_each_rule() {
        let (mut engine, _) = engine_with(&[&window_pack(&SHARED_WINDOWS)]);
        let point = point();
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(
            window_rules(&updates),
            [
                "fire w.avg10.high:MN0001:w01018",
                "fire w.avg10:MN0001:w01018",
                "fire w.avg1h:MN0001:w01018",
            ]
        );
        // 15 minutes later the 10-minute windows hold only the new reading,
        // while the hour's window averages 150 and 60 to 105.
        let updates = engine.evaluate(&point, &[reading("w01018", 900, 60.0, None)]);
        assert_eq!(
            window_rules(&updates),
            [
                "fire w.avg1h:MN0001:w01018",
                "resolve w.avg10.high:MN0001:w01018",
                "resolve w.avg10:MN0001:w01018",
            ]
        );
        assert_eq!(window_count(&updates, "w.avg1h"), 2);
        assert_eq!(trigger_of(&updates, "w.avg1h").value, Some(105.0));
    }

    #[test]
    fn reload_keeps_window_of_staying_rule() {
        let (mut engine, clock) = engine_with(&[&window_pack(&SHARED_WINDOWS[..1])]);
        let point = point();
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 150.0, None)]);
        assert_eq!(window_rules(&updates), ["fire w.avg10:MN0001:w01018"]);

        clock.set(at(30));
        let operator = vec![parse_pack("test.toml", &window_pack(&SHARED_WINDOWS)).unwrap()];
        let rules = RuleSet::build(crate::builtin_packs().unwrap(), operator).unwrap();
        engine.replace_rules(Arc::new(rules));
        let updates = engine.evaluate(&point, &[reading("w01018", 60, 130.0, None)]);
        // The staying rule's window still contains the first reading.
        assert_eq!(window_count(&updates, "w.avg10"), 2);
        assert_eq!(trigger_of(&updates, "w.avg10").value, Some(140.0));
        // The new rule with the same window judges only the reading whose
        // data time is after the reload.
        assert_eq!(window_count(&updates, "w.avg10.high"), 1);
        assert_eq!(trigger_of(&updates, "w.avg10.high").value, Some(130.0));
        // The new hour's window starts empty.
        assert_eq!(window_count(&updates, "w.avg1h"), 1);
        assert_eq!(trigger_of(&updates, "w.avg1h").value, Some(130.0));
    }

    #[test]
    fn switched_on_rule_ignores_earlier_window_readings() {
        let (mut engine, clock) = engine_with(&[&window_pack(&SHARED_WINDOWS)]);
        let point = point();
        engine.set_enabled("w.avg10.high", false);
        engine.evaluate(&point, &[reading("w01018", 0, 150.0, None)]);
        engine.evaluate(&point, &[reading("w01018", 60, 150.0, None)]);
        clock.set(at(90));
        engine.set_enabled("w.avg10.high", true);

        // The shared window averages 150, 150 and 110, but the rule switched
        // on at 90 s judges only the 110.
        let updates = engine.evaluate(&point, &[reading("w01018", 120, 110.0, None)]);
        assert_eq!(window_count(&updates, "w.avg10"), 3);
        assert!(
            !window_rules(&updates).contains(&"fire w.avg10.high:MN0001:w01018".to_owned()),
            "judged readings from before it was switched on: {updates:?}"
        );
        let updates = engine.evaluate(&point, &[reading("w01018", 180, 140.0, None)]);
        assert_eq!(window_count(&updates, "w.avg10"), 4);
        assert_eq!(window_count(&updates, "w.avg10.high"), 2);
        assert_eq!(trigger_of(&updates, "w.avg10.high").value, Some(125.0));
        let explanation = trigger_of(&updates, "w.avg10.high")
            .explanation
            .as_ref()
            .unwrap();
        assert_eq!(explanation.window.as_ref().unwrap().from, at(120));

        // Once the earlier readings leave the window, both rules judge the same readings.
        let updates = engine.evaluate(&point, &[reading("w01018", 700, 140.0, None)]);
        assert_eq!(window_count(&updates, "w.avg10"), 3);
        assert_eq!(window_count(&updates, "w.avg10.high"), 3);
    }

    #[test]
    fn switched_on_rule_skips_earlier_data_times() {
        let (mut engine, clock) = engine();
        let point = point();
        let fingerprint = "fire env.limit.upper:MN0001:w01018".to_owned();
        engine.set_enabled("env.limit.upper", false);
        clock.set(at(600));
        engine.set_enabled("env.limit.upper", true);
        let backlog = engine.evaluate(&point, &[reading("w01018", 300, 150.0, None)]);
        assert!(
            !summary(&backlog).contains(&fingerprint),
            "judged a reading older than the switch: {backlog:?}"
        );
        let updates = engine.evaluate(&point, &[reading("w01018", 600, 150.0, None)]);
        assert!(summary(&updates).contains(&fingerprint), "{updates:?}");
    }

    #[test]
    fn switched_on_rule_restarts_for_duration() {
        let (mut engine, clock) = engine_with(&[FOR_AND_CLEAR]);
        let point = point();
        let fingerprint = "env.limit.upper:MN0001:w01018";
        let updates = engine.evaluate(&point, &[reading("w01018", 0, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("pending {fingerprint}")]);
        engine.set_enabled("env.limit.upper", false);
        clock.set(at(300));
        engine.set_enabled("env.limit.upper", true);
        // Five minutes after the alert became pending, but the first
        // reading since the switch: the 2 minutes start again.
        let updates = engine.evaluate(&point, &[reading("w01018", 300, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("pending {fingerprint}")]);
        let updates = engine.evaluate(&point, &[reading("w01018", 360, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("pending {fingerprint}")]);
        let updates = engine.evaluate(&point, &[reading("w01018", 420, 120.0, None)]);
        assert_eq!(summary(&updates), [format!("fire {fingerprint}")]);
    }

    #[test]
    fn switched_on_rule_restarts_flatline_run() {
        let (mut engine, clock) = engine();
        let point = point();
        let fingerprint = "fire env.flatline:MN0001:w21003".to_owned();
        for index in 0..11 {
            engine.evaluate(&point, &[reading("w21003", index * 60, 4.2, None)]);
        }
        engine.set_enabled("env.flatline", false);
        clock.set(at(700));
        engine.set_enabled("env.flatline", true);
        let mut fired_at = Vec::new();
        for index in 12..24 {
            let updates = engine.evaluate(&point, &[reading("w21003", index * 60, 4.2, None)]);
            if summary(&updates).contains(&fingerprint) {
                fired_at.push(index);
            }
        }
        assert_eq!(fired_at, [23], "the 12 repeats count from the switch");
    }

    #[test]
    fn stored_switch_keeps_primed_window() {
        let pack = window_pack(&SHARED_WINDOWS[..1]) + "enabled = false\n";
        let (mut engine, clock) = engine_with(&[&pack]);
        clock.set(at(600));
        // At a start the stored switch turns on a rule that its pack turns
        // off. It ran before the start, so the replay fills its window.
        engine.set_switches([("w.avg10".to_owned(), true)]);
        let point = point();
        engine.prime(&point, &[reading("w01018", 300, 150.0, None)]);
        let updates = engine.evaluate(&point, &[reading("w01018", 600, 130.0, None)]);
        assert_eq!(window_count(&updates, "w.avg10"), 2);
    }

    #[test]
    fn window_average_with_priming() {
        let pack = r#"
[pack]
id = "w"
version = "1"

[[rule]]
id = "w.hourly"
category = "exceedance"
factors = ["w01018"]
condition = "value > upper"

[rule.window]
size = "1h"
aggregate = "avg"
min_count = 3
"#;
        let (mut engine, _) = engine_with(&[pack]);
        engine.set_enabled("env.limit.upper", false);
        let point = point();
        engine.prime(
            &point,
            &[
                reading("w01018", 0, 130.0, None),
                reading("w01018", 600, 130.0, None),
            ],
        );
        let updates = engine.evaluate(&point, &[reading("w01018", 1200, 90.0, None)]);
        assert_eq!(summary(&updates), ["fire w.hourly:MN0001:w01018"]);
        let window = trigger(&updates)
            .explanation
            .as_ref()
            .unwrap()
            .window
            .clone()
            .unwrap();
        assert_eq!(window.count, 3);
        assert_eq!(window.from, at(0));
    }

    #[test]
    fn escalation_on_severity() {
        let (mut engine, clock) = engine();
        let mut alert = open_alert("env.limit.upper", Some("w01018"), AlertStatus::Firing, 0);
        alert.severity = Severity::Critical;
        engine.evaluate(&point(), &[reading("w01018", 0, 250.0, None)]);
        clock.set(at(10));
        let event = AlertEvent {
            alert,
            transition: AlertTransition::Firing,
            at: at(0),
            actor: oversight_core::Actor::Engine,
            reason: None,
            suppressed: None,
        };
        let escalations = engine.observe(std::slice::from_ref(&event));
        let [AlertUpdate::Escalate { id, task, .. }] = escalations.as_slice() else {
            panic!("expected one escalation, got {escalations:?}");
        };
        assert_eq!(*id, AlertId(1));
        assert_eq!(task.department, "ecology-environment");
        assert_eq!(task.deadline, at(10 + 72 * 3600));
        assert!(engine.observe(&[event]).is_empty(), "escalated twice");
    }
}
