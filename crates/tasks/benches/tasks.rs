//! Task benchmarks: the scheduler's pass over open tasks (`due_actions`), an
//! inbox ordering, and one transition.
//!
//! Run with `cargo bench -p oversight-tasks --bench tasks`. The 10,000 tasks are
//! created and signed for at one-minute steps from Monday 1 September 2025, so
//! their handling deadlines spread over the National Day holiday. The pass
//! checks each task at 10 October 2025, when some are overdue, some near their
//! deadline and the rest not yet due.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use oversight_core::AreaCode;
use oversight_tasks::{
    Actor, Category, Command, Context, DepartmentId, Engine, FirstViolationList, Holidays,
    InboxFilter, NewTask, Origin, PersonId, Role, Task, TaskId, TasksConfig, order_inbox,
};

/// Number of open tasks in the scheduler and inbox benchmarks.
const TASKS: usize = 10_000;

const CONFIG: &str = r#"
[[departments]]
id = "supervision"
name = "督查室"

[[departments]]
id = "eeb"
name = "生态环境局"
supervisor = "supervision"

[[routing]]
area = "35"
department = "eeb"
"#;

fn engine() -> Engine {
    let config = TasksConfig::parse(CONFIG).expect("benchmark configuration parses");
    Engine::new(config, Holidays::china(), FirstViolationList::empty())
        .expect("benchmark configuration is valid")
}

fn actor(role: Role) -> Actor {
    Actor {
        person: PersonId::parse("bench").expect("valid person id"),
        role,
        department: Some(DepartmentId::parse("eeb").expect("valid department id")),
    }
}

fn new_task(n: usize) -> NewTask {
    NewTask {
        id: TaskId::parse(&format!("T{n}")).expect("valid task id"),
        origin: Origin::Manual,
        subject: None,
        area: AreaCode::parse("350203").expect("valid area"),
        category: Category::parse("water").expect("valid category"),
        title: "排放口异味".into(),
        description: "群众反映排放口有异味".into(),
        lead_department: None,
        co_departments: Vec::new(),
        evidence: Vec::new(),
        reporter: None,
    }
}

/// Creates task `n`, dispatches it and signs for it at `at`.
fn signed_task(engine: &Engine, n: usize, at: Timestamp) -> Task {
    let dispatcher = actor(Role::Dispatcher);
    let staff = actor(Role::DepartmentStaff);
    let created = engine
        .create(&new_task(n), &dispatcher, at)
        .expect("benchmark task is created");
    let dispatched = engine
        .apply(
            &created.lead.task,
            &Command::new("dispatch"),
            &Context::new(&dispatcher, at),
        )
        .expect("benchmark task is dispatched");
    engine
        .apply(
            &dispatched.task,
            &Command::new("sign"),
            &Context::new(&staff, at),
        )
        .expect("benchmark task is signed for")
        .task
}

fn open_tasks(engine: &Engine) -> Vec<Task> {
    let start: Timestamp = "2025-09-01T01:00:00Z".parse().expect("valid instant");
    (0..TASKS)
        .map(|n| {
            let minutes = i64::try_from(n).expect("task count fits in i64");
            let at = start
                .checked_add(SignedDuration::from_mins(minutes))
                .expect("instant in range");
            signed_task(engine, n, at)
        })
        .collect()
}

fn scheduler_pass(c: &mut Criterion) {
    let engine = engine();
    let tasks = open_tasks(&engine);
    let now: Timestamp = "2025-10-10T02:00:00Z".parse().expect("valid instant");
    let mut group = c.benchmark_group("tasks");
    group.throughput(Throughput::Elements(TASKS as u64));
    group.bench_function("due_actions_10k", |b| {
        b.iter(|| {
            let mut due = 0;
            for task in &tasks {
                due += engine
                    .due_actions(black_box(task), now)
                    .expect("due actions compute")
                    .len();
            }
            due
        });
    });
    group.bench_function("order_inbox_10k", |b| {
        let filter = InboxFilter::default();
        b.iter(|| order_inbox(engine.workflow(), black_box(&tasks), &filter, now).len());
    });
    group.finish();
}

fn transition(c: &mut Criterion) {
    let engine = engine();
    let at: Timestamp = "2025-09-26T02:00:00Z".parse().expect("valid instant");
    let task = signed_task(&engine, 0, at);
    let staff = actor(Role::DepartmentStaff);
    let command = Command::new("start");
    c.bench_function("tasks/apply_start", |b| {
        b.iter_batched(
            || task.clone(),
            |task| {
                engine
                    .apply(&task, &command, &Context::new(&staff, at))
                    .expect("start is allowed")
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, scheduler_pass, transition);
criterion_main!(benches);
