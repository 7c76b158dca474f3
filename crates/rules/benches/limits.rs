//! Limit evaluation throughput: readings evaluated per second on one core.
//!
//! 1,000 points with 10 limited factors each send real-time uploads. One
//! reading in 50 is above its upper limit, so alerts open and resolve as
//! they do at a plant that exceeds its limits now and then.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    AreaCode, DataFlag, DataKind, FactorCode, FactorLimit, FactorValues, ManualClock, Mn,
    MonitoringPoint, Reading, Secret, SystemCode,
};
use oversight_rules::{Evaluator, RulesConfig};

const POINTS: usize = 1_000;
const FACTORS: usize = 10;
const UPLOADS: usize = 20;

fn points() -> Vec<MonitoringPoint> {
    (0..POINTS)
        .map(|index| MonitoringPoint {
            mn: Mn::parse(&format!("SIM{index:021}")).expect("generated MN is valid"),
            name: format!("outlet {index}"),
            area: AreaCode::parse("350203").expect("literal area code is valid"),
            system_code: SystemCode::parse("32").expect("literal system code is valid"),
            password: Secret::new("123456".to_owned()),
            location: None,
            limits: (0..FACTORS)
                .map(|factor| {
                    let code = FactorCode::parse(&format!("w{factor:05}"))
                        .expect("generated code is valid");
                    FactorLimit::new(code, Some(1.0), Some(100.0), None)
                        .expect("bounds are ordered")
                })
                .collect(),
            interval_secs: 30,
        })
        .collect()
}

/// Builds one upload per point and round, each with a reading per factor.
fn uploads(points: &[MonitoringPoint]) -> Vec<Vec<Reading>> {
    let start: Timestamp = "2026-03-01T00:00:00Z"
        .parse()
        .expect("literal timestamp is valid");
    let mut uploads = Vec::with_capacity(points.len() * UPLOADS);
    let mut counter = 0_usize;
    for round in 0..UPLOADS {
        let offset = SignedDuration::from_secs(30 * round as i64);
        let time = start.checked_add(offset).expect("offset is small");
        for point in points {
            let readings = point
                .limits
                .iter()
                .map(|limit| {
                    counter += 1;
                    let value = if counter.is_multiple_of(50) {
                        150.0
                    } else {
                        50.0
                    };
                    Reading {
                        mn: point.mn.clone(),
                        kind: DataKind::Realtime,
                        factor: limit.factor.clone(),
                        data_time: time,
                        received_at: time,
                        values: FactorValues {
                            rtd: Some(value),
                            ..FactorValues::default()
                        },
                        flag: Some(DataFlag::NORMAL),
                    }
                })
                .collect();
            uploads.push(readings);
        }
    }
    uploads
}

fn evaluate_limits(c: &mut Criterion) {
    let points = points();
    let uploads = uploads(&points);
    let readings: usize = uploads.iter().map(Vec::len).sum();
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));

    let mut group = c.benchmark_group("limits");
    group.throughput(Throughput::Elements(readings as u64));
    group.bench_function("evaluate", |b| {
        b.iter(|| {
            let mut evaluator = Evaluator::new(RulesConfig::default(), clock.clone());
            let mut updates = 0;
            for (index, readings) in uploads.iter().enumerate() {
                let point = &points[index % POINTS];
                updates += evaluator.evaluate(point, black_box(readings)).len();
            }
            black_box(updates)
        });
    });
    group.finish();
}

criterion_group!(benches, evaluate_limits);
criterion_main!(benches);
