//! Readings per second through the engine with 1,000 active rules and
//! 100,000 points.
//!
//! The 1,000 rules are spread over 100 factor codes, 10 per factor, so each
//! reading meets 10 rules. Every point sends one factor. One iteration
//! evaluates one new reading of every point, with data time one minute
//! later than the previous iteration so that no reading counts as late.
//! One reading in 1,000 is above the thresholds, so alerts open and
//! resolve as they would in service.
//!
//! Times are CPU time of the benchmark's thread, not wall time, so that
//! other processes on the machine distort them less.
//!
//! Run: `cargo bench -p oversight-rules --bench engine`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    AreaCode, DataKind, FactorCode, FactorLimit, FactorValues, ManualClock, Mn, MonitoringPoint,
    Reading, Secret, SystemCode,
};
use oversight_rules::pack::parse_pack;
use oversight_rules::{Engine, EngineConfig, RuleSet};

const POINTS: usize = 100_000;
const FACTORS: usize = 100;
const RULES_PER_FACTOR: usize = 10;

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

fn bench_rules(c: &mut Criterion, name: &str, extra: &str) {
    let pack = parse_pack("bench.toml", &pack(extra)).expect("valid bench pack");
    let rules = RuleSet::build(Vec::new(), vec![pack]).expect("no duplicate rules");
    assert_eq!(rules.rules().len(), FACTORS * RULES_PER_FACTOR);
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
    let mut engine = Engine::new(Arc::new(rules), EngineConfig::default(), clock);
    let mut points = points();
    let mut round: u64 = 0;
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu_time();
            for _ in 0..iterations {
                round += 1;
                let mut updates = 0;
                for (index, (point, reading)) in points.iter_mut().enumerate() {
                    reading.data_time = reading
                        .data_time
                        .checked_add(SignedDuration::from_mins(1))
                        .expect("in range");
                    let exceeds = (index as u64 + round).is_multiple_of(1000);
                    reading.values.rtd = Some(if exceeds { 150.0 } else { 50.0 });
                    updates += engine.evaluate(point, std::slice::from_ref(reading)).len();
                }
                black_box(updates);
            }
            thread_cpu_time().saturating_sub(started)
        });
    });
    group.finish();
}

/// Returns the CPU time the calling thread has used so far.
fn thread_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(time.tv_sec).expect("CPU time is not negative"),
        u32::try_from(time.tv_nsec).expect("nanoseconds fit"),
    )
}

fn threshold(c: &mut Criterion) {
    bench_rules(c, "threshold_1000_rules_100k_points", "");
}

fn window(c: &mut Criterion) {
    bench_rules(
        c,
        "window_avg_10m_1000_rules_100k_points",
        "window = { size = \"10m\", aggregate = \"avg\" }",
    );
}

criterion_group!(benches, threshold, window);
criterion_main!(benches);
