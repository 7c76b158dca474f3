//! The engine workload shared by the `engine` benchmark and the
//! `evaluate_rounds` example: 1,000 active rules and 100,000 points.
//!
//! The 1,000 rules are spread over 100 factor codes, 10 per factor, so each
//! reading meets 10 rules. Every point sends one factor. One round
//! evaluates one new reading of every point, with data time one minute
//! later than the previous round so that no reading counts as late. One
//! reading in 1,000 is above the thresholds, so alerts open and resolve as
//! they would in service.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    AreaCode, DataKind, FactorCode, FactorLimit, FactorValues, ManualClock, Mn, MonitoringPoint,
    Reading, Secret, SystemCode,
};
use oversight_rules::pack::parse_pack;
use oversight_rules::{Engine, EngineConfig, RuleSet};

/// Points, each sending one reading per round.
pub(crate) const POINTS: usize = 100_000;
const FACTORS: usize = 100;
const RULES_PER_FACTOR: usize = 10;

/// The TOML added to every rule of the window variant.
pub(crate) const WINDOW: &str = "window = { size = \"10m\", aggregate = \"avg\" }";

/// The engine, its points and the round last evaluated.
pub(crate) struct Workload {
    engine: Engine,
    points: Vec<(MonitoringPoint, Reading)>,
    round: u64,
}

impl Workload {
    /// Builds the engine with every rule's table extended by `extra`, such
    /// as `""` for plain thresholds or [`WINDOW`].
    pub(crate) fn new(extra: &str) -> Self {
        let pack = parse_pack("bench.toml", &pack(extra)).expect("valid bench pack");
        let rules = RuleSet::build(Vec::new(), vec![pack]).expect("no duplicate rules");
        assert_eq!(rules.rules().len(), FACTORS * RULES_PER_FACTOR);
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        Self {
            engine: Engine::new(Arc::new(rules), EngineConfig::default(), clock),
            points: points(),
            round: 0,
        }
    }

    /// Evaluates one new reading of every point and returns the number of
    /// alert updates.
    pub(crate) fn round(&mut self) -> usize {
        self.round += 1;
        let mut updates = 0;
        for (index, (point, reading)) in self.points.iter_mut().enumerate() {
            reading.data_time = reading
                .data_time
                .checked_add(SignedDuration::from_mins(1))
                .expect("in range");
            let exceeds = (index as u64 + self.round).is_multiple_of(1000);
            reading.values.rtd = Some(if exceeds { 150.0 } else { 50.0 });
            updates += self
                .engine
                .evaluate(point, std::slice::from_ref(reading))
                .len();
        }
        updates
    }
}

fn factor_code(index: usize) -> String {
    format!("w{:05}", 1000 + index)
}

/// Builds a pack of `FACTORS * RULES_PER_FACTOR` rules, each with `extra`
/// added to its TOML table.
fn pack(extra: &str) -> String {
    let mut text = String::from("[pack]\nid = \"bench\"\nversion = \"1\"\n");
    for factor in 0..FACTORS {
        for rule in 0..RULES_PER_FACTOR {
            let threshold = 100.0 + rule as f64;
            text.push_str(&format!(
                "\n[[rule]]\nid = \"bench.{factor}.{rule}\"\ncategory = \"exceedance\"\n\
                 factors = [\"{}\"]\ncondition = \"value > {threshold:.1}\"\n\
                 clear = \"value <= {threshold:.1}\"\n{extra}\n",
                factor_code(factor)
            ));
        }
    }
    text
}

fn points() -> Vec<(MonitoringPoint, Reading)> {
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().expect("literal time");
    (0..POINTS)
        .map(|index| {
            let mn = Mn::parse(&format!("BENCH{index:07}")).expect("valid MN");
            let factor = FactorCode::parse(&factor_code(index % FACTORS)).expect("valid code");
            let point = MonitoringPoint {
                mn: mn.clone(),
                name: String::new(),
                area: AreaCode::parse("350203").expect("valid area"),
                system_code: SystemCode::parse("32").expect("valid system code"),
                password: Secret::new(String::new()),
                previous_password: None,
                location: None,
                limits: vec![
                    FactorLimit::new(factor.clone(), None, Some(100.0), None).expect("valid limit"),
                ],
                interval_secs: 60,
                attributes: BTreeMap::new(),
            };
            let reading = Reading {
                mn,
                kind: DataKind::Realtime,
                factor,
                data_time: start,
                received_at: start,
                values: FactorValues {
                    rtd: Some(50.0),
                    ..FactorValues::default()
                },
                flag: None,
            };
            (point, reading)
        })
        .collect()
}
