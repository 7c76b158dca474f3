//! Cost of planning alert events into outbox items, the work the intake
//! task does per event before one store call per batch.
//!
//! `cargo bench -p oversight-notify --bench plan`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Actor, Alert, AlertEvent, AlertId, AlertStatus, AlertTransition, AreaCode, Mn, Severity,
};
use oversight_notify::{NotifyConfig, Planner, Routing, Timings};

const CONFIG: &str = r#"
[[recipients]]
id = "ecology-environment"
kind = "department"

[[recipients]]
id = "district-desk"

[[routes]]
area = "3502"
recipients = ["district-desk"]
"#;

fn planner() -> Planner {
    let config: NotifyConfig = toml::from_str(CONFIG).expect("valid config");
    let routes = config.validate().expect("valid routes");
    Planner::new(
        Timings::from_config(&config),
        Routing::new(routes, &config.recipients),
    )
}

fn event(index: u64, transition: AlertTransition) -> AlertEvent {
    let mn = Mn::parse(&format!("MN{:08}", index % 10_000)).expect("MN");
    let at = Timestamp::UNIX_EPOCH + SignedDuration::from_secs(index as i64);
    let area = if index.is_multiple_of(2) {
        "350203"
    } else {
        "350206"
    };
    AlertEvent {
        alert: Alert {
            id: AlertId(index as i64),
            fingerprint: Alert::fingerprint_of("env.limit.upper", &mn, None),
            rule_id: "env.limit.upper".to_owned(),
            rule_version: "1.0.0".to_owned(),
            category: "exceedance".to_owned(),
            mn,
            factor: None,
            severity: Severity::Warning,
            status: AlertStatus::Firing,
            area: AreaCode::parse(area).expect("area"),
            department: Some("ecology-environment".to_owned()),
            first_at: Timestamp::UNIX_EPOCH,
            last_at: at,
            fired_at: Some(Timestamp::UNIX_EPOCH),
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolution: None,
            trigger_value: Some(130.0),
            last_value: Some(130.0),
            peak_value: Some(130.0),
            limit: Some(100.0),
            count: 1,
            flapping: false,
            escalated_at: None,
            explanation: None,
        },
        transition,
        at,
        actor: Actor::Engine,
        reason: None,
        suppressed: None,
    }
}

fn plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group.throughput(Throughput::Elements(1));
    for transition in [AlertTransition::Firing, AlertTransition::Repeated] {
        let events: Vec<AlertEvent> = (0..10_000).map(|index| event(index, transition)).collect();
        group.bench_function(BenchmarkId::from_parameter(transition.as_str()), |b| {
            let mut planner = planner();
            let now = Timestamp::UNIX_EPOCH;
            let mut index = 0;
            b.iter(|| {
                let items = planner.plan(&events[index % events.len()], now);
                index += 1;
                items
            });
        });
    }
    group.finish();
}

criterion_group!(benches, plan);
criterion_main!(benches);
