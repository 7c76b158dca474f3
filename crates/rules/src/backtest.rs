//! Backtests: replaying readings through rules to see what would have fired.
//!
//! The engine runs as in the server, and a map of open alerts stands in for
//! the store, so a backtest writes nothing.
// NOTE: missing and offline rules are not replayed: they run on the server's timer
// against the points' last-upload times, which a replay does not have.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use oversight_core::{
    Explanation, FactorCode, ManualClock, Mn, MonitoringPoint, Reading, Severity,
};
use oversight_store::AlertUpdate;
use serde::Serialize;

use crate::{Engine, EngineConfig, RuleErrors, RuleSet};

/// An alert a backtest would have opened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestAlert {
    /// The rule.
    pub rule_id: String,
    /// The point.
    pub mn: Mn,
    /// The factor.
    pub factor: Option<FactorCode>,
    /// The highest severity it reached.
    pub severity: Severity,
    /// Event time the condition was first met.
    pub first_at: Timestamp,
    /// Event time it fired; `None` if it stayed pending.
    pub fired_at: Option<Timestamp>,
    /// Event time it resolved; `None` if still open at the end.
    pub resolved_at: Option<Timestamp>,
    /// Why it resolved.
    pub resolution: Option<String>,
    /// How many evaluations met the condition.
    pub count: u64,
    /// The worst value.
    pub peak: Option<f64>,
    /// Why it triggered, at the first trigger that fired it.
    pub explanation: Option<Explanation>,
}

/// A backtest run.
#[derive(Debug)]
pub struct Backtest {
    engine: Engine,
    open: BTreeMap<String, BacktestAlert>,
    done: Vec<BacktestAlert>,
}

impl Backtest {
    /// Starts a backtest of `rules`.
    pub fn new(rules: Arc<RuleSet>, config: EngineConfig) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        Self {
            engine: Engine::new(rules, config, clock),
            open: BTreeMap::new(),
            done: Vec::new(),
        }
    }

    /// Sets the rules switched on or off by the operator: rule id to enabled.
    /// Rules without an entry run as their pack sets.
    pub fn set_switches(&mut self, switches: impl IntoIterator<Item = (String, bool)>) {
        self.engine.set_switches(switches);
    }

    /// Replays readings of one point, in data-time order.
    pub fn feed(&mut self, point: &MonitoringPoint, readings: &[Reading]) {
        for update in self.engine.evaluate(point, readings) {
            self.apply(update);
        }
    }

    fn apply(&mut self, update: AlertUpdate) {
        match update {
            AlertUpdate::Trigger(trigger) => {
                let alert = self
                    .open
                    .entry(trigger.fingerprint.clone())
                    .or_insert_with(|| BacktestAlert {
                        rule_id: trigger.rule_id.clone(),
                        mn: trigger.mn.clone(),
                        factor: trigger.factor.clone(),
                        severity: trigger.severity,
                        first_at: trigger.at,
                        fired_at: None,
                        resolved_at: None,
                        resolution: None,
                        count: 0,
                        peak: None,
                        explanation: None,
                    });
                alert.count += 1;
                alert.severity = alert.severity.max(trigger.severity);
                alert.peak = crate::Peak::worse(
                    if trigger.peak_is_max {
                        crate::Peak::Max
                    } else {
                        crate::Peak::Min
                    },
                    alert.peak,
                    trigger.value,
                );
                if trigger.firing && alert.fired_at.is_none() {
                    alert.fired_at = Some(trigger.at);
                    alert.explanation = trigger.explanation.clone();
                }
            }
            AlertUpdate::Resolve {
                fingerprint,
                at,
                reason,
            } => {
                if let Some(mut alert) = self.open.remove(&fingerprint) {
                    alert.resolved_at = Some(at);
                    alert.resolution = Some(reason);
                    self.done.push(alert);
                }
            }
            _ => {}
        }
    }

    /// Returns the rules' run-time errors so far.
    pub fn errors(&self) -> &BTreeMap<String, RuleErrors> {
        self.engine.errors()
    }

    /// Ends the run and returns the alerts that fired, by first trigger time.
    /// Alerts that never left pending are left out.
    pub fn finish(mut self) -> Vec<BacktestAlert> {
        self.done.extend(self.open.into_values());
        let mut fired: Vec<BacktestAlert> = self
            .done
            .into_iter()
            .filter(|alert| alert.fired_at.is_some())
            .collect();
        fired.sort_by(|a, b| (a.first_at, &a.rule_id, &a.mn).cmp(&(b.first_at, &b.rule_id, &b.mn)));
        fired
    }
}
