//! Per-point state of the engine. Each point has a series per factor it
//! sends, and each series one [`RuleState`] per rule of the factor, in the
//! order [`FactorRules`] lists them, so that a reading walks its states in
//! sequence. The states sit in dense vectors, found with one hash lookup of
//! the point's MN.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{HashTable, hash_table};
use jiff::Timestamp;
use oversight_core::{AlertId, FactorCode, Mn, MonitoringPoint};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::expr::Condition;
use crate::flapping::FlapHistory;
use crate::rule::{Rule, RuleSet};
use crate::window::{Aggregated, WindowState};

/// An alert's phase as the engine tracks it. A pending alert's start is
/// [`RuleDetail::pending_since`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) enum Phase {
    #[default]
    Idle,
    Pending,
    Firing,
}

/// The open alert state the engine has from the store's replies.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Known {
    pub(super) id: Option<AlertId>,
    pub(super) fired_at: Option<Timestamp>,
    pub(super) acknowledged: bool,
    pub(super) escalated: bool,
}

/// State of one rule for one point and factor, or one point for missing rules.
/// A reading meets every rule of its factor, so the state is kept to 24
/// bytes and what only alerts and flatline rules need is boxed. The box is
/// allocated once, when the rule's first alert opens or its first flatline
/// run starts, and kept while the state lives.
#[derive(Debug, Default)]
pub(super) struct RuleState {
    pub(super) phase: Phase,
    pub(super) flap: FlapHistory,
    pub(super) detail: Option<Box<RuleDetail>>,
}

/// The part of [`RuleState`] that most rules never need.
#[derive(Debug, Default)]
pub(super) struct RuleDetail {
    /// The store's report of the open alert.
    known: Known,
    /// The event time a pending alert's condition was first met. `None` for
    /// a pending alert whose rule was switched on again, until its next met
    /// reading.
    pending_since: Option<Timestamp>,
    /// Flatline: the run's value and length.
    run: Option<(f64, u32)>,
}

impl RuleState {
    pub(super) fn known(&self) -> Known {
        self.detail
            .as_ref()
            .map(|detail| detail.known)
            .unwrap_or_default()
    }

    pub(super) fn known_mut(&mut self) -> &mut Known {
        &mut self.detail.get_or_insert_default().known
    }

    /// Forgets what the store reported of the alert, once it resolved.
    pub(super) fn forget_known(&mut self) {
        if let Some(detail) = &mut self.detail {
            detail.known = Known::default();
        }
    }

    /// Moves the alert to pending since event time `since`.
    pub(super) fn set_pending(&mut self, since: Timestamp) {
        self.phase = Phase::Pending;
        self.detail.get_or_insert_default().pending_since = Some(since);
    }

    /// Clears the flatline run and the start of a pending alert's `for`
    /// duration, which the rule built from readings before it was switched off.
    pub(super) fn restart(&mut self) {
        if let Some(detail) = &mut self.detail {
            detail.run = None;
            detail.pending_since = None;
        }
    }

    pub(super) fn pending_since(&self) -> Option<Timestamp> {
        self.detail.as_ref().and_then(|detail| detail.pending_since)
    }

    pub(super) fn run(&self) -> Option<(f64, u32)> {
        self.detail.as_ref().and_then(|detail| detail.run)
    }

    pub(super) fn set_run(&mut self, run: Option<(f64, u32)>) {
        if run.is_none() && self.detail.is_none() {
            return;
        }
        self.detail.get_or_insert_default().run = run;
    }
}

/// State of one point and factor.
#[derive(Debug)]
pub(super) struct Series {
    /// The factor's number in [`FactorTable`].
    pub(super) factor: u32,
    pub(super) newest: Option<Timestamp>,
    pub(super) prev: Option<f64>,
    pub(super) last_received: Option<Timestamp>,
    /// One state per reading rule of the factor, in the order of
    /// [`FactorRules::rules`], so that a reading walks them in sequence.
    pub(super) rules: Vec<RuleState>,
    /// The windows of the factor's rules, as [`FactorRules::windows`] assigns them.
    pub(super) windows: Vec<SharedWindow>,
}

/// A window that rules with the same window, filter, flags, areas and tags
/// share, because it contains the same readings for each of them.
#[derive(Debug)]
pub(super) struct SharedWindow {
    pub(super) state: WindowState,
    /// The engine's number of the reading last pushed, so that the rules
    /// after the first reuse its result.
    pub(super) pushed: u64,
    pub(super) result: Result<Option<Aggregated>, String>,
}

impl Default for SharedWindow {
    fn default() -> Self {
        Self {
            state: WindowState::default(),
            pushed: 0,
            result: Ok(None),
        }
    }
}

impl Series {
    pub(super) fn new(factor: u32, rules: &FactorRules) -> Self {
        Self {
            factor,
            newest: None,
            prev: None,
            last_received: None,
            rules: std::iter::repeat_with(RuleState::default)
                .take(rules.rules.len())
                .collect(),
            windows: std::iter::repeat_with(SharedWindow::default)
                .take(rules.window_count)
                .collect(),
        }
    }
}

/// The reading rules of one factor code.
#[derive(Debug)]
pub(super) struct FactorRules {
    pub(super) code: FactorCode,
    /// Indexes into the rule set, in evaluation order.
    pub(super) rules: Vec<usize>,
    /// For each rule with a window, its position in [`Series::windows`].
    pub(super) windows: Vec<Option<usize>>,
    pub(super) window_count: usize,
}

impl FactorRules {
    pub(super) fn new(code: FactorCode, rules: &RuleSet) -> Self {
        let indexes: Vec<usize> = rules.for_factor(&code).collect();
        // The first rule of each distinct window; the factor has few rules.
        let mut first_rules: Vec<&Rule> = Vec::new();
        let windows = indexes
            .iter()
            .map(|&index| {
                let rule = &rules.rules()[index];
                rule.window.as_ref()?;
                let shared = first_rules
                    .iter()
                    .position(|first| same_window(first, rule));
                Some(shared.unwrap_or_else(|| {
                    first_rules.push(rule);
                    first_rules.len() - 1
                }))
            })
            .collect();
        Self {
            code,
            rules: indexes,
            windows,
            window_count: first_rules.len(),
        }
    }
}

/// Returns true if the windows of `a` and `b` hold the same readings and
/// compute the same aggregate from them.
fn same_window(a: &Rule, b: &Rule) -> bool {
    let (Some(first), Some(second)) = (&a.window, &b.window) else {
        return false;
    };
    first.size == second.size
        && first.mode == second.mode
        && first.aggregate == second.aggregate
        && first.min_count == second.min_count
        && first.filter.as_ref().map(Condition::source)
            == second.filter.as_ref().map(Condition::source)
        && a.flags == b.flags
        && a.areas == b.areas
        && a.tags == b.tags
}

/// Numbers for the factor codes the engine has met, so that per-point
/// state is found by comparing numbers rather than hashing codes.
#[derive(Debug, Default)]
pub(super) struct FactorTable {
    pub(super) numbers: FxHashMap<FactorCode, u32>,
    pub(super) factors: Vec<FactorRules>,
}

impl FactorTable {
    /// Returns the number of `code`, adding it with its rules from `rules`
    /// when it is new.
    pub(super) fn number(&mut self, code: &FactorCode, rules: &RuleSet) -> u32 {
        if let Some(&number) = self.numbers.get(code) {
            return number;
        }
        let number = u32::try_from(self.factors.len()).expect("fewer than 2^32 factor codes");
        self.factors.push(FactorRules::new(code.clone(), rules));
        self.numbers.insert(code.clone(), number);
        number
    }

    pub(super) fn get(&self, number: u32) -> &FactorRules {
        &self.factors[number as usize]
    }

    /// Returns the position of rule `index` among the rules of factor `number`.
    pub(super) fn position(&self, number: u32, index: usize) -> Option<usize> {
        self.get(number)
            .rules
            .iter()
            .position(|&rule| rule == index)
    }
}

/// State of one point.
#[derive(Debug)]
pub(super) struct PointState {
    pub(super) mn: Mn,
    pub(super) point: Option<Arc<MonitoringPoint>>,
    /// The point's factors, few enough that a scan beats a hash lookup.
    pub(super) series: Vec<Series>,
    /// Missing rules by point (factor `None`) or by factor.
    pub(super) missing: Vec<(usize, Option<FactorCode>, RuleState)>,
    pub(super) first_seen: Option<Timestamp>,
    pub(super) last_received: Option<Timestamp>,
    pub(super) primed: bool,
}

impl PointState {
    pub(super) fn new(mn: Mn) -> Self {
        Self {
            mn,
            point: None,
            series: Vec::new(),
            missing: Vec::new(),
            first_seen: None,
            last_received: None,
            primed: false,
        }
    }

    pub(super) fn series(&self, factor: u32) -> Option<&Series> {
        self.series.iter().find(|series| series.factor == factor)
    }

    /// Returns the series of factor `number`, creating it with a state for
    /// each of the factor's rules.
    pub(super) fn series_mut(&mut self, number: u32, factors: &FactorTable) -> &mut Series {
        let position = match self
            .series
            .iter()
            .position(|series| series.factor == number)
        {
            Some(position) => position,
            None => {
                self.series.push(Series::new(number, factors.get(number)));
                self.series.len() - 1
            }
        };
        &mut self.series[position]
    }
}

/// Per-point state in a dense vector, found by MN through one hash lookup.
///
/// The hash table holds only positions in `states`, 4 bytes each, and
/// compares MNs in the states themselves. Kept apart from the keys, the
/// table of 100,000 points takes well under a megabyte, so its lookups
/// mostly hit the cache where a map from MN to position would miss.
#[derive(Debug, Default)]
pub(super) struct PointTable {
    positions: HashTable<u32>,
    states: Vec<PointState>,
}

fn hash_mn(mn: &Mn) -> u64 {
    FxBuildHasher.hash_one(mn)
}

impl PointTable {
    fn position(&self, mn: &Mn) -> Option<usize> {
        let states = &self.states;
        self.positions
            .find(hash_mn(mn), |&position| states[position as usize].mn == *mn)
            .map(|&position| position as usize)
    }

    pub(super) fn get(&self, mn: &Mn) -> Option<&PointState> {
        Some(&self.states[self.position(mn)?])
    }

    pub(super) fn get_mut(&mut self, mn: &Mn) -> Option<&mut PointState> {
        let position = self.position(mn)?;
        Some(&mut self.states[position])
    }

    /// Returns the state of `mn`, creating it when the point is new.
    pub(super) fn entry(&mut self, mn: &Mn) -> &mut PointState {
        let states = &self.states;
        let entry = self.positions.entry(
            hash_mn(mn),
            |&position| states[position as usize].mn == *mn,
            |&position| hash_mn(&states[position as usize].mn),
        );
        let position = match entry {
            hash_table::Entry::Occupied(occupied) => *occupied.get() as usize,
            hash_table::Entry::Vacant(vacant) => {
                let position = states.len();
                vacant.insert(u32::try_from(position).expect("fewer than 2^32 points"));
                self.states.push(PointState::new(mn.clone()));
                position
            }
        };
        &mut self.states[position]
    }

    pub(super) fn iter_mut(&mut self) -> std::slice::IterMut<'_, PointState> {
        self.states.iter_mut()
    }
}
