//! Inbox ordering and filtering over tasks in many states and departments.

mod common;

use common::*;
use jiff::Timestamp;
use oversight_tasks::*;

fn ids(tasks: &[&Task]) -> Vec<String> {
    tasks.iter().map(|t| t.id.to_string()).collect()
}

/// Creates task `id` at `created`, routed by `area` and `category`, and brings it to `state`.
fn make(
    engine: &Engine,
    id: &str,
    area: &str,
    category: &str,
    state: &str,
    created: Timestamp,
) -> Task {
    let mut task = engine
        .create(&new_task(id, area, category), &dispatcher(), created)
        .expect("inbox task is created")
        .lead
        .task;
    for action in path_to(state) {
        task = step(engine, &task, action, created);
    }
    task
}

#[test]
fn overdue_first_then_by_deadline() {
    let engine = engine();
    let now = at(&engine, 2025, 10, 13, 9, 0);
    let tasks = vec![
        // Signed 26 September: due at the end of 10 October, so overdue.
        make(
            &engine,
            "A",
            "350203001",
            "water",
            "in_progress",
            at(&engine, 2025, 9, 26, 15, 0),
        ),
        // Dispatched on 9 October at 9:00: sign-for due at 15:00 that day, overdue.
        make(
            &engine,
            "B",
            "350203001",
            "water",
            "dispatched",
            at(&engine, 2025, 10, 9, 9, 0),
        ),
        // Signed 10 October: due 17 October.
        make(
            &engine,
            "C",
            "350203001",
            "water",
            "signed",
            at(&engine, 2025, 10, 10, 9, 0),
        ),
        // Signed 13 October: due 20 October.
        make(
            &engine,
            "D",
            "350203001",
            "water",
            "in_progress",
            at(&engine, 2025, 10, 13, 8, 0),
        ),
        // Replied: no clock runs.
        make(
            &engine,
            "E",
            "350203001",
            "water",
            "replied",
            at(&engine, 2025, 9, 1, 9, 0),
        ),
        // Closed: hidden by default.
        make(
            &engine,
            "F",
            "350203001",
            "water",
            "closed",
            at(&engine, 2025, 9, 1, 9, 0),
        ),
        // Created, not yet dispatched: no clock.
        make(
            &engine,
            "G",
            "350203001",
            "water",
            "created",
            at(&engine, 2025, 8, 1, 9, 0),
        ),
    ];
    let workflow = engine.workflow();
    let inbox = order_inbox(workflow, &tasks, &InboxFilter::default(), now);
    assert_eq!(ids(&inbox), ["B", "A", "C", "D", "G", "E"]);
    assert!(is_overdue(workflow, &tasks[0], now));
    assert!(is_overdue(workflow, &tasks[1], now));
    assert!(!is_overdue(workflow, &tasks[2], now));
    assert_eq!(active_deadline(workflow, &tasks[4]), None);
}

#[test]
fn overdue_starts_at_the_deadline_instant() {
    let engine = engine();
    let task = make(
        &engine,
        "A",
        "350203001",
        "water",
        "in_progress",
        at(&engine, 2025, 9, 26, 15, 0),
    );
    let deadline = task.deadlines.handle_by.unwrap();
    let workflow = engine.workflow();
    assert!(!is_overdue(
        workflow,
        &task,
        deadline
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap()
    ));
    assert!(is_overdue(workflow, &task, deadline));
}

#[test]
fn filters_by_state_department_and_assignee() {
    let engine = engine();
    let created = at(&engine, 2025, 10, 9, 9, 0);
    let now = at(&engine, 2025, 10, 9, 10, 0);
    let mut assigned = make(&engine, "A", "350203001", "water", "in_progress", created);
    let mut assign = Command::new("assign");
    let officer = Assignee::Person(PersonId::parse("officer-7").unwrap());
    assign.assignee = Some(officer.clone());
    assigned = engine
        .apply(&assigned, &assign, &Context::new(&staff("sm-eeb"), now))
        .unwrap()
        .task;
    let tasks = vec![
        assigned,
        make(&engine, "B", "350203001", "noise", "signed", created),
        make(&engine, "C", "350203001", "water", "dispatched", created),
        make(&engine, "D", "350203001", "water", "closed", created),
    ];
    let workflow = engine.workflow();

    let by_department = InboxFilter {
        department: Some(dept("sm-urban")),
        ..InboxFilter::default()
    };
    assert_eq!(
        ids(&order_inbox(workflow, &tasks, &by_department, now)),
        ["B"]
    );

    let by_assignee = InboxFilter {
        assignee: Some(officer),
        ..InboxFilter::default()
    };
    assert_eq!(
        ids(&order_inbox(workflow, &tasks, &by_assignee, now)),
        ["A"]
    );

    let closed = InboxFilter {
        states: vec!["closed".into()],
        ..InboxFilter::default()
    };
    assert_eq!(ids(&order_inbox(workflow, &tasks, &closed, now)), ["D"]);

    let sign_queue = InboxFilter {
        states: vec!["dispatched".into()],
        department: Some(dept("sm-eeb")),
        ..InboxFilter::default()
    };
    assert_eq!(ids(&order_inbox(workflow, &tasks, &sign_queue, now)), ["C"]);
}

#[test]
fn ties_order_by_creation_then_id() {
    let engine = engine();
    let early = at(&engine, 2025, 8, 1, 9, 0);
    let late = at(&engine, 2025, 8, 2, 9, 0);
    let tasks = vec![
        make(&engine, "Z", "350203001", "water", "created", early),
        make(&engine, "B", "350203001", "water", "created", late),
        make(&engine, "A", "350203001", "water", "created", late),
    ];
    let inbox = order_inbox(engine.workflow(), &tasks, &InboxFilter::default(), late);
    assert_eq!(ids(&inbox), ["Z", "A", "B"]);
}
