//! One reading meeting the rules of its factor: the conditions, the
//! windows they share and the step of each alert's phase.

use std::collections::BTreeMap;

use jiff::Timestamp;
use oversight_core::{Alert, Explanation, MonitoringPoint, Reading, Severity, WindowExplanation};
use oversight_store::{AlertUpdate, Trigger};

use super::state::{FactorRules, Phase, RuleState, Series, SharedWindow};
use super::{EngineConfig, RuleErrors, local_hour, record_error};
use crate::expr::{CelRuntime, Condition, Outcome, Vars};
use crate::rule::{Rule, RuleKind, RuleSet, Window};
use crate::window::{Aggregated, WindowState};

/// The result of evaluating one rule on one reading. Every rule that meets a
/// reading produces one, so it is small and contains no heap data. The
/// explanation is built from the evaluation only for an alert update.
struct Verdict {
    met: bool,
    cleared: bool,
    severity: Severity,
}

/// The rules of one factor meeting one reading of a point.
pub(super) struct ReadingRules<'a> {
    pub(super) rules: &'a RuleSet,
    /// The earliest data time each rule judges, by index in `rules`, or
    /// `None` while the rule is off.
    pub(super) enabled_from: &'a [Option<Timestamp>],
    pub(super) factor: &'a FactorRules,
    pub(super) point: &'a MonitoringPoint,
    pub(super) reading: &'a Reading,
    /// The engine's number of the reading, see
    /// [`SharedWindow::pushed`](super::state::SharedWindow::pushed).
    pub(super) reading_number: u64,
    pub(super) late: bool,
    pub(super) priming: bool,
    /// The UTC offset of `config.time_zone` in seconds, when it is fixed.
    pub(super) fixed_offset: Option<i64>,
    pub(super) config: &'a EngineConfig,
    pub(super) cel: &'a CelRuntime,
}

impl ReadingRules<'_> {
    /// Evaluates every rule of the factor that applies to the point on the
    /// reading, whose value is `raw`, and adds the alert updates to `updates`.
    pub(super) fn run(
        &self,
        series: &mut Series,
        raw: f64,
        errors: &mut BTreeMap<String, RuleErrors>,
        updates: &mut Vec<AlertUpdate>,
    ) {
        let point = self.point;
        let reading = self.reading;
        let mut flag_buffer = [0u8; 4];
        let flag_text = reading
            .flag
            .map_or("", |flag| flag.as_char().encode_utf8(&mut flag_buffer));
        // Built when the first rule applies, so that a reading no rule
        // applies to costs no lookup of its limit and local hour.
        let mut vars = None;
        // The variables of the window aggregate used last. Rules that share
        // a window usually follow each other, so they share one copy.
        let mut windowed: Option<(Aggregated, Vars<'_>)> = None;
        let Series {
            prev,
            rules: states,
            windows,
            ..
        } = series;

        let slots = self.factor.rules.iter().zip(&self.factor.windows);
        for ((&index, &window), state) in slots.zip(states.iter_mut()) {
            let rule = &self.rules.rules()[index];
            let Some(enabled_from) = self.enabled_from[index] else {
                continue;
            };
            let applies = rule.areas.is_empty() && rule.tags.is_empty()
                || rule.applies_to(point, &point.attributes);
            if reading.data_time < enabled_from || !rule.flags.accepts(reading.flag) || !applies {
                continue;
            }
            let vars = &*vars.get_or_insert_with(|| self.reading_vars(raw, *prev, flag_text));

            let mut aggregated = None;
            let rule_vars = match (window, &rule.window) {
                (Some(position), Some(rule_window)) => {
                    let shared = &mut windows[position];
                    let window_value =
                        match self.window_aggregate(rule_window, shared, vars, enabled_from) {
                            Ok(Some(window_value)) => window_value,
                            Ok(None) => continue,
                            Err(message) => {
                                record_error(errors, &rule.id, &point.mn, message);
                                continue;
                            }
                        };
                    aggregated = Some(window_value);
                    if windowed.is_none_or(|(used, _)| used != window_value) {
                        let mut copy = *vars;
                        copy.value = window_value.value;
                        copy.count = Some(window_value.count as f64);
                        windowed = Some((window_value, copy));
                    }
                    &windowed
                        .as_ref()
                        .expect("the window's variables were just set")
                        .1
                }
                _ => vars,
            };

            let context = Evaluation {
                rule,
                point,
                reading,
                vars: rule_vars,
                raw,
                window: aggregated,
                late: self.late,
                priming: self.priming,
            };
            match context.verdict(state, self.cel) {
                Ok(Some(verdict)) if !self.priming && !self.late => {
                    step(&context, state, &verdict, self.config, updates);
                }
                Ok(_) => {}
                Err(message) => record_error(errors, &rule.id, &point.mn, message),
            }
        }
    }

    /// Builds the variables of the reading, whose value is `raw`, for
    /// conditions without a window.
    fn reading_vars<'v>(&'v self, raw: f64, prev: Option<f64>, flag: &'v str) -> Vars<'v> {
        let point = self.point;
        let reading = self.reading;
        let limit = point.limit(&reading.factor);
        let hour = local_hour(reading.data_time, self.fixed_offset, &self.config.time_zone);
        Vars {
            value: raw,
            upper: limit.and_then(|limit| limit.upper),
            lower: limit.and_then(|limit| limit.lower),
            prev,
            count: None,
            hour: f64::from(hour),
            flag,
            factor: reading.factor.as_str(),
            mn: point.mn.as_str(),
            area: point.area.as_str(),
            system_code: point.system_code.as_str(),
            attrs: &point.attributes,
        }
    }

    /// Returns the aggregate of `shared` that a rule judging data times from
    /// `enabled_from` on evaluates at this reading, after adding the reading
    /// to the window unless a rule before did. `Ok(None)` means there is
    /// nothing to evaluate now.
    fn window_aggregate(
        &self,
        window: &Window,
        shared: &mut SharedWindow,
        vars: &Vars<'_>,
        enabled_from: Timestamp,
    ) -> Result<Option<Aggregated>, String> {
        if shared.pushed != self.reading_number {
            shared.pushed = self.reading_number;
            shared.result = self.push_window(window, &mut shared.state, vars);
        }
        match &shared.result {
            // The window contains readings from before the rule was
            // switched on, which the rule must not judge.
            Ok(Some(aggregated)) if aggregated.from < enabled_from => {
                Ok(shared.state.aggregate_from(window, enabled_from))
            }
            result => result.clone(),
        }
    }

    /// Adds the reading to `state` if it passes the window's filter, and
    /// returns the aggregate to evaluate now, if any. `vars` are the
    /// reading's own variables.
    fn push_window(
        &self,
        window: &Window,
        state: &mut WindowState,
        vars: &Vars<'_>,
    ) -> Result<Option<Aggregated>, String> {
        if let Some(filter) = &window.filter
            && eval(filter, vars, self.cel)? != Some(true)
        {
            return Ok(None);
        }
        Ok(state.push(window, self.reading.data_time, vars.value, self.late))
    }
}

/// One rule meeting one reading.
struct Evaluation<'a> {
    rule: &'a Rule,
    point: &'a MonitoringPoint,
    reading: &'a Reading,
    /// The variables the conditions see: the reading's, with `value` and
    /// `count` taken from the window aggregate when the rule has a window.
    vars: &'a Vars<'a>,
    /// The reading's own value, which flatline runs compare.
    raw: f64,
    /// The window aggregate in `vars`, when the rule has a window.
    window: Option<Aggregated>,
    late: bool,
    priming: bool,
}

impl Evaluation<'_> {
    /// Updates the rule's flatline run with the reading and evaluates its
    /// conditions. `Ok(None)` means there is nothing to evaluate now.
    fn verdict(&self, state: &mut RuleState, cel: &CelRuntime) -> Result<Option<Verdict>, String> {
        let vars = self.vars;
        let (met, cleared) = match self.rule.kind {
            RuleKind::Flatline => match self.flatline(state, self.raw, vars, cel)? {
                Some(result) => result,
                None => return Ok(None),
            },
            _ => {
                let Some(condition) = &self.rule.condition else {
                    return Ok(None);
                };
                let Some(met) = eval(condition, vars, cel)? else {
                    return Ok(None);
                };
                let cleared = match &self.rule.clear {
                    Some(clear) => eval(clear, vars, cel)?.unwrap_or(false),
                    None => !met,
                };
                (met, cleared)
            }
        };
        if self.priming || self.late {
            return Ok(None);
        }
        let critical = match (&self.rule.critical, met) {
            (Some(critical), true) => eval(critical, vars, cel)?.unwrap_or(false),
            _ => false,
        };
        let severity = if critical {
            Severity::Critical
        } else {
            self.rule.severity
        };
        Ok(Some(Verdict {
            met,
            cleared,
            severity,
        }))
    }

    /// Flatline: met once `repeats` values in a row are equal within the
    /// tolerance; cleared when a different value arrives.
    fn flatline(
        &self,
        state: &mut RuleState,
        value: f64,
        vars: &Vars<'_>,
        cel: &CelRuntime,
    ) -> Result<Option<(bool, bool)>, String> {
        if self.late || !value.is_finite() {
            return Ok(None);
        }
        if let Some(condition) = &self.rule.condition
            && eval(condition, vars, cel)? != Some(true)
        {
            state.set_run(None);
            return Ok(Some((false, true)));
        }
        let run = match state.run() {
            Some((first, length)) if (value - first).abs() <= self.rule.tolerance => {
                (first, length + 1)
            }
            _ => (value, 1),
        };
        state.set_run(Some(run));
        let met = run.1 >= self.rule.repeats;
        Ok(Some((met, run.1 == 1)))
    }

    fn explain(&self, vars: &Vars<'_>, window: Option<Aggregated>) -> Explanation {
        let mut values = BTreeMap::new();
        values.insert("value".to_owned(), vars.value);
        for (name, value) in [
            ("upper", vars.upper),
            ("lower", vars.lower),
            ("prev", vars.prev),
            ("count", vars.count),
        ] {
            if let Some(value) = value {
                values.insert(name.to_owned(), value);
            }
        }
        if self.rule.kind == RuleKind::Flatline {
            values.insert("repeats".to_owned(), f64::from(self.rule.repeats));
        }
        let condition = match self.rule.kind {
            RuleKind::Flatline => format!("the same value {} times in a row", self.rule.repeats),
            _ => self
                .rule
                .condition
                .as_ref()
                .map(|c| c.source().to_owned())
                .unwrap_or_default(),
        };
        Explanation {
            condition,
            clear: self
                .rule
                .clear
                .as_ref()
                .map(|clear| clear.source().to_owned()),
            values,
            flag: (!vars.flag.is_empty()).then(|| vars.flag.to_owned()),
            window: window
                .zip(self.rule.window.as_ref())
                .map(|(aggregated, window)| WindowExplanation {
                    aggregate: format!("{:?}", window.aggregate).to_lowercase(),
                    size: format!("{:#}", window.size),
                    from: aggregated.from,
                    to: aggregated.to,
                    count: aggregated.count,
                }),
            reading_at: Some(self.reading.data_time),
        }
    }
}

/// Evaluates a condition; `None` when it is not applicable.
fn eval(condition: &Condition, vars: &Vars<'_>, cel: &CelRuntime) -> Result<Option<bool>, String> {
    match condition.eval(vars, cel)? {
        Outcome::Bool(result) => Ok(Some(result)),
        Outcome::NotApplicable => Ok(None),
    }
}

/// Moves the alert's phase with one verdict and adds the updates it calls
/// for to `updates`.
fn step(
    context: &Evaluation<'_>,
    state: &mut RuleState,
    verdict: &Verdict,
    config: &EngineConfig,
    updates: &mut Vec<AlertUpdate>,
) {
    let rule = context.rule;
    let at = context.reading.data_time;
    let was_flapping = state.flap.is_flapping();
    let flapping = state
        .flap
        .record(verdict.met, config.flap_high, config.flap_low);
    let fingerprint =
        || Alert::fingerprint_of(&rule.id, &context.point.mn, Some(&context.reading.factor));
    match (state.phase, verdict.met) {
        (Phase::Idle, true) => {
            let firing = rule.for_duration.is_zero();
            if firing {
                state.phase = Phase::Firing;
            } else {
                state.set_pending(at);
            }
            updates.push(trigger(context, verdict, firing));
        }
        (Phase::Pending, true) => {
            // A rule switched off and on again starts the duration anew at
            // its first met reading.
            let since = match state.pending_since() {
                Some(since) => since,
                None => {
                    state.set_pending(at);
                    at
                }
            };
            let firing = at.duration_since(since) >= rule.for_duration;
            if firing {
                state.phase = Phase::Firing;
            }
            updates.push(trigger(context, verdict, firing));
        }
        (Phase::Firing, true) => updates.push(trigger(context, verdict, true)),
        (Phase::Pending, false) => {
            state.phase = Phase::Idle;
            updates.push(AlertUpdate::Resolve {
                fingerprint: fingerprint(),
                at,
                reason: "condition stopped before the for duration".to_owned(),
            });
        }
        (Phase::Firing, false) if verdict.cleared => {
            state.phase = Phase::Idle;
            let reason = match &rule.clear {
                Some(clear) => format!("clear condition met: {}", clear.source()),
                None => "condition no longer met".to_owned(),
            };
            updates.push(AlertUpdate::Resolve {
                fingerprint: fingerprint(),
                at,
                reason,
            });
        }
        (Phase::Firing, false) | (Phase::Idle, false) => {}
    }
    if flapping != was_flapping && state.phase != Phase::Idle {
        updates.push(AlertUpdate::SetFlapping {
            fingerprint: fingerprint(),
            flapping,
        });
    }
}

fn trigger(context: &Evaluation<'_>, verdict: &Verdict, firing: bool) -> AlertUpdate {
    let rule = context.rule;
    let point = context.point;
    let factor = &context.reading.factor;
    let vars = context.vars;
    let limit = match rule.peak {
        crate::rule::Peak::Max => vars.upper,
        crate::rule::Peak::Min => vars.lower,
    };
    AlertUpdate::Trigger(Box::new(Trigger {
        fingerprint: Alert::fingerprint_of(&rule.id, &point.mn, Some(factor)),
        rule_id: rule.id.clone(),
        rule_version: rule.version.clone(),
        category: rule.category.clone(),
        department: rule.department.clone(),
        mn: point.mn.clone(),
        factor: Some(factor.clone()),
        severity: verdict.severity,
        area: point.area.clone(),
        at: context.reading.data_time,
        value: vars.value.is_finite().then_some(vars.value),
        limit,
        peak_is_max: rule.peak == crate::rule::Peak::Max,
        firing,
        explanation: Some(context.explain(vars, context.window)),
    }))
}
