//! Checked rules and the rule set the engine runs, indexed by factor.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jiff::SignedDuration;
use oversight_core::{DataFlag, FactorCode, MonitoringPoint, Severity};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::expr::Condition;
use crate::pack::RulePack;

/// How a rule detects its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A CEL condition over each reading, or over a window aggregate.
    Threshold,
    /// A factor missing for a period while its point still uploads other
    /// data: every factor the point has a limit for, or the factors named.
    Missing,
    /// No upload at all from the point for a period: the device or its
    /// connection is down.
    Offline,
    /// The same value `repeats` times in a row.
    Flatline,
}

/// The direction in which an alert's peak value is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peak {
    /// The largest value, for upper limits.
    Max,
    /// The smallest value, for lower limits.
    Min,
}

impl Peak {
    /// Returns the worse of two values.
    pub fn worse(self, old: Option<f64>, new: Option<f64>) -> Option<f64> {
        match (old, new) {
            (Some(old), Some(new)) => Some(match self {
                Self::Max => old.max(new),
                Self::Min => old.min(new),
            }),
            (old, new) => old.or(new),
        }
    }

    /// Returns the name stored with alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Min => "min",
        }
    }
}

/// Which data flags count as evidence. A reading without a flag always counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagFilter(Vec<char>);

impl Default for FlagFilter {
    /// Only `N` (instrument normal), as HJ 212-2017 Table 8 defines valid data.
    fn default() -> Self {
        Self(vec!['N'])
    }
}

impl FlagFilter {
    /// Parses a list of one-letter flags; `None` gives the default.
    pub(crate) fn parse(flags: Option<&[String]>) -> Result<Self, String> {
        let Some(flags) = flags else {
            return Ok(Self::default());
        };
        let mut letters = Vec::new();
        for flag in flags {
            let parsed = DataFlag::parse(flag).map_err(|failure| format!("flags: {failure}"))?;
            letters.push(parsed.as_char());
        }
        Ok(Self(letters))
    }

    /// Returns true if a reading with `flag` is evidence for the rule.
    pub fn accepts(&self, flag: Option<DataFlag>) -> bool {
        flag.is_none_or(|flag| self.0.contains(&flag.as_char()))
    }
}

/// How a window advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// Covers `size` up to each reading's data time.
    Sliding,
    /// Fixed, back-to-back periods of `size`, evaluated when a period ends.
    Tumbling,
}

/// The aggregate a window computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Arithmetic mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
    /// Number of readings (that pass the window's filter).
    Count,
    /// Change per hour between the first and the last reading.
    Rate,
}

impl Aggregate {
    pub(crate) fn parse(input: &str) -> Option<Self> {
        Some(match input {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "count" => Self::Count,
            "rate" => Self::Rate,
            _ => return None,
        })
    }
}

/// A window over event time.
#[derive(Debug, Serialize)]
pub struct Window {
    /// The window's length.
    #[serde(serialize_with = "crate::rule::serialize_duration")]
    pub size: SignedDuration,
    /// Sliding or tumbling.
    pub mode: WindowMode,
    /// What it computes.
    pub aggregate: Aggregate,
    /// Only readings for which this holds enter the window.
    #[serde(skip)]
    pub filter: Option<Condition>,
    /// The aggregate is evaluated only once the window has this many readings.
    pub min_count: u32,
}

/// When a missing rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingAfter {
    /// After a fixed silence.
    #[serde(serialize_with = "crate::rule::serialize_duration")]
    Duration(SignedDuration),
    /// After this many of the point's upload intervals.
    Intervals(u32),
}

impl MissingAfter {
    /// Returns the silence after which `point_interval_secs` data is missing.
    pub fn threshold(self, point_interval_secs: u32) -> SignedDuration {
        match self {
            Self::Duration(duration) => duration,
            Self::Intervals(intervals) => {
                let interval = match point_interval_secs {
                    0 => MonitoringPoint::DEFAULT_INTERVAL_SECS,
                    secs => secs,
                };
                SignedDuration::from_secs(i64::from(interval) * i64::from(intervals))
            }
        }
    }
}

/// When an alert becomes a supervision task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    /// At firing with this severity or higher.
    pub severity: Option<Severity>,
    /// Once the alert has been triggered this many times.
    pub count: Option<u64>,
    /// When the alert is still unacknowledged this long after it fired.
    #[serde(serialize_with = "serialize_optional_duration")]
    pub unacknowledged_for: Option<SignedDuration>,
    /// The department the task goes to; the rule's department when absent.
    pub department: Option<String>,
    /// The task's deadline after its creation.
    #[serde(serialize_with = "crate::rule::serialize_duration")]
    pub deadline: SignedDuration,
}

pub(crate) fn serialize_duration<S: serde::Serializer>(
    duration: &SignedDuration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{duration:#}"))
}

fn serialize_optional_duration<S: serde::Serializer>(
    duration: &Option<SignedDuration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serialize_duration(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// A checked rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique across the active rule set, such as `env.limit.upper`.
    pub id: String,
    /// A short human-readable name.
    pub name: String,
    /// What the rule watches and why.
    pub description: String,
    /// The pack's id.
    pub pack: String,
    /// The pack's version.
    pub version: String,
    /// The rule's line in its pack file.
    pub line: usize,
    /// The rule's TOML text.
    pub source: String,
    /// How it detects.
    pub kind: RuleKind,
    /// The factors it applies to; empty means every factor.
    pub factors: Vec<FactorCode>,
    /// Area code prefixes it applies to; empty means every area.
    pub areas: Vec<String>,
    /// Tags a point must all have: `st:CODE` for its system code, or any
    /// entry of its `tags` attribute (comma-separated).
    pub tags: Vec<String>,
    /// When it triggers (threshold rules; optional extra filter for flatline).
    pub condition: Option<Condition>,
    /// When a firing alert resolves; `!condition` when absent.
    pub clear: Option<Condition>,
    /// When a triggered alert is critical rather than the rule's severity.
    pub critical: Option<Condition>,
    /// Which data flags count as evidence.
    pub flags: FlagFilter,
    /// The window aggregate that `value` stands for.
    pub window: Option<Window>,
    /// How long the condition must hold in event time before the alert fires.
    pub for_duration: SignedDuration,
    /// The severity of a triggered alert.
    pub severity: Severity,
    /// The alert category, such as `exceedance` or `data_missing`.
    pub category: String,
    /// The department alerts route to.
    pub department: Option<String>,
    /// Which direction of value is the alert's peak.
    pub peak: Peak,
    /// Whether the rule runs unless an operator changes it.
    pub enabled: bool,
    /// For missing and offline rules: the silence that fires.
    pub missing_after: Option<MissingAfter>,
    /// For flatline rules: equal values in a row that fire.
    pub repeats: u32,
    /// For flatline rules: values within this distance count as equal.
    pub tolerance: f64,
    /// While this rule's alert is open for a point, the point's other alerts
    /// send no notifications.
    pub inhibits: bool,
    /// When its alerts become supervision tasks.
    pub escalation: Option<Escalation>,
}

impl RuleKind {
    /// Returns true for the kinds that fire on silence rather than on readings.
    pub fn watches_silence(self) -> bool {
        matches!(self, Self::Missing | Self::Offline)
    }
}

impl Rule {
    /// Returns true if the rule applies to `point` (area and tags).
    pub fn applies_to(&self, point: &MonitoringPoint, attrs: &BTreeMap<String, String>) -> bool {
        let area = point.area.as_str();
        if !self.areas.is_empty()
            && !self
                .areas
                .iter()
                .any(|prefix| area.starts_with(prefix.as_str()))
        {
            return false;
        }
        self.tags.iter().all(|tag| has_tag(point, attrs, tag))
    }

    /// Returns true if the rule applies to readings of `factor`.
    pub fn covers_factor(&self, factor: &FactorCode) -> bool {
        self.factors.is_empty() || self.factors.contains(factor)
    }

    /// Returns how far back a rebuild of this rule's state must read.
    pub fn lookback(&self) -> SignedDuration {
        let window = self
            .window
            .as_ref()
            .map_or(SignedDuration::ZERO, |window| window.size);
        window.max(self.for_duration)
    }

    /// Returns true if the rule keeps per-series state that stored readings can rebuild.
    pub fn needs_history(&self) -> bool {
        self.window.is_some() || self.kind == RuleKind::Flatline || self.uses_prev()
    }

    fn uses_prev(&self) -> bool {
        [&self.condition, &self.clear, &self.critical]
            .into_iter()
            .flatten()
            .any(|condition| {
                let source = condition.source();
                source.contains("prev") || source.contains("delta")
            })
    }
}

fn has_tag(point: &MonitoringPoint, attrs: &BTreeMap<String, String>, tag: &str) -> bool {
    if let Some(code) = tag.strip_prefix("st:") {
        return point.system_code.as_str() == code;
    }
    attrs
        .get("tags")
        .is_some_and(|tags| tags.split(',').any(|entry| entry.trim() == tag))
}

/// The active rules, indexed so that a reading meets only rules that can apply.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Arc<Rule>>,
    packs: Vec<PackSummary>,
    /// Rules naming a factor, by factor: indexes into `rules`.
    by_factor: FxHashMap<FactorCode, Vec<usize>>,
    /// Reading rules that apply to every factor.
    any_factor: Vec<usize>,
    /// Missing rules.
    missing: Vec<usize>,
}

/// A pack in the active rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackSummary {
    /// The pack's id.
    pub id: String,
    /// Its declared version.
    pub version: String,
    /// `builtin:NAME` or a file path.
    pub origin: String,
    /// SHA-256 of its file.
    pub sha256: String,
    /// Its rule ids.
    pub rules: Vec<String>,
}

/// A conflict between packs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule} is defined in both {first} and {second}; rename one, or remove one of them")]
pub struct DuplicateRule {
    /// The rule id.
    pub rule: String,
    /// The first pack's origin.
    pub first: String,
    /// The second pack's origin.
    pub second: String,
}

impl RuleSet {
    /// Builds the rule set from built-in packs and the operator's packs. An
    /// operator rule with the id of a built-in rule replaces it; two operator
    /// rules with one id are rejected.
    pub fn build(builtin: Vec<RulePack>, operator: Vec<RulePack>) -> Result<Self, DuplicateRule> {
        let mut origins: FxHashMap<String, String> = FxHashMap::default();
        let mut overridden = HashSet::new();
        for pack in &operator {
            for rule in &pack.rules {
                if let Some(first) = origins.insert(rule.id.clone(), pack.origin.clone()) {
                    return Err(DuplicateRule {
                        rule: rule.id.clone(),
                        first,
                        second: pack.origin.clone(),
                    });
                }
                overridden.insert(rule.id.clone());
            }
        }
        let mut set = Self::default();
        for pack in builtin.into_iter().chain(operator) {
            let is_builtin = pack.origin.starts_with("builtin:");
            let rules: Vec<Arc<Rule>> = pack
                .rules
                .into_iter()
                .filter(|rule| !(is_builtin && overridden.contains(&rule.id)))
                .collect();
            set.packs.push(PackSummary {
                id: pack.id,
                version: pack.version,
                origin: pack.origin,
                sha256: pack.sha256,
                rules: rules.iter().map(|rule| rule.id.clone()).collect(),
            });
            for rule in rules {
                set.add(rule);
            }
        }
        Ok(set)
    }

    fn add(&mut self, rule: Arc<Rule>) {
        let index = self.rules.len();
        match (rule.kind, rule.factors.is_empty()) {
            (RuleKind::Missing | RuleKind::Offline, _) => self.missing.push(index),
            (_, true) => self.any_factor.push(index),
            (_, false) => {
                for factor in &rule.factors {
                    self.by_factor
                        .entry(factor.clone())
                        .or_default()
                        .push(index);
                }
            }
        }
        self.rules.push(rule);
    }

    /// Returns every rule, in pack order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// Returns the packs.
    pub fn packs(&self) -> &[PackSummary] {
        &self.packs
    }

    /// Returns a rule by id.
    pub fn rule(&self, id: &str) -> Option<(usize, &Arc<Rule>)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.id == id)
    }

    /// Returns the indexes of the reading rules that can apply to `factor`.
    pub(crate) fn for_factor(&self, factor: &FactorCode) -> impl Iterator<Item = usize> + '_ {
        self.by_factor
            .get(factor)
            .into_iter()
            .flatten()
            .chain(self.any_factor.iter())
            .copied()
    }

    /// Returns the indexes of the missing and offline rules.
    pub(crate) fn missing_rules(&self) -> &[usize] {
        &self.missing
    }

    /// Returns a fingerprint of the whole set: the packs' hashes in order.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for pack in &self.packs {
            hasher.update(pack.origin.as_bytes());
            hasher.update(pack.sha256.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}
