//! Reminder (催办) and escalation (督办) timing, driven by a manual clock the
//! way the server's scheduler will call the engine.

mod common;

use common::*;
use jiff::SignedDuration;
use oversight_core::{Clock, ManualClock};
use oversight_tasks::*;

/// Calls the engine the way a scheduler does: collects due actions and records each as sent.
fn tick(engine: &Engine, task: &mut Task, clock: &ManualClock) -> Vec<Action> {
    let now = clock.now();
    let actions = engine.due_actions(task, now).expect("due actions compute");
    for action in &actions {
        *task = engine.record_notice(task, action, now).task;
    }
    actions
}

fn summary(actions: &[Action]) -> Vec<(NoticeKind, ClockKind, u32)> {
    actions.iter().map(|a| (a.kind, a.clock, a.step)).collect()
}

#[test]
fn sign_clock_reminds_then_escalates() {
    let engine = engine();
    // Dispatched on Tuesday 30 September 2025 at 15:00: four office hours run
    // until 17:30 that day and on to Thursday 9 October, 10:00.
    let clock = ManualClock::new(at(&engine, 2025, 9, 30, 15, 0));
    let mut task = task_in(&engine, "dispatched", clock.now());
    assert_eq!(
        task.deadlines.sign_by,
        Some(at(&engine, 2025, 10, 9, 10, 0))
    );

    assert!(tick(&engine, &mut task, &clock).is_empty());
    clock.set(at(&engine, 2025, 10, 9, 8, 59));
    assert!(
        tick(&engine, &mut task, &clock).is_empty(),
        "one office hour before is 09:00"
    );
    clock.set(at(&engine, 2025, 10, 9, 9, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Sign, 1)]);
    assert_eq!(sent[0].recipients, [Recipient::Department(dept("sm-eeb"))]);
    assert!(
        tick(&engine, &mut task, &clock).is_empty(),
        "a reminder is sent once"
    );

    clock.set(at(&engine, 2025, 10, 9, 10, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Escalate, ClockKind::Sign, 0)]);
    assert_eq!(
        sent[0].recipients,
        [
            Recipient::Department(dept("sm-eeb")),
            Recipient::Supervisor(dept("xm-supervision"))
        ]
    );
}

#[test]
fn handle_clock_reminds_at_one_working_day_left() {
    let engine = engine();
    // Signed on Friday 26 September 2025: due at the end of Friday 10 October.
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    assert_eq!(
        task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 10, 10))
    );

    clock.set(at(&engine, 2025, 10, 9, 23, 59));
    assert!(tick(&engine, &mut task, &clock).is_empty());
    clock.set(at(&engine, 2025, 10, 10, 0, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Handle, 1)]);
    assert_eq!(sent[0].due_at, at(&engine, 2025, 10, 10, 0, 0));
    clock.advance(SignedDuration::from_hours(12));
    assert!(tick(&engine, &mut task, &clock).is_empty());
}

#[test]
fn reminder_counts_back_working_days_only() {
    // The last two working days before the end of Friday 10 October 2025 are 9
    // and 10 October. The holiday before them does not count, so the reminder
    // comes at the start of 9 October and not on 8 October.
    let mut config = TasksConfig::parse(CONFIG).unwrap();
    config.deadlines.remind_working_days_before = vec![2, 1];
    let engine = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap();
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    clock.set(at(&engine, 2025, 10, 8, 12, 0));
    assert!(tick(&engine, &mut task, &clock).is_empty());
    clock.set(at(&engine, 2025, 10, 9, 0, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Handle, 2)]);
    clock.set(at(&engine, 2025, 10, 10, 8, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Handle, 1)]);
}

#[test]
fn missed_reminders_collapse_to_the_latest() {
    let mut config = TasksConfig::parse(CONFIG).unwrap();
    config.deadlines.remind_working_days_before = vec![3, 2, 1];
    let engine = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap();
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    clock.set(at(&engine, 2025, 10, 10, 9, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Handle, 1)]);
}

#[test]
fn escalation_at_deadline_and_five_working_days_later() {
    let engine = engine();
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    clock.set(end_of(&engine, 2025, 10, 10));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(
        summary(&sent),
        [(NoticeKind::Escalate, ClockKind::Handle, 0)]
    );
    assert!(is_overdue(engine.workflow(), &task, clock.now()));

    // Five working days after the end of 10 October: 11 (make-up Saturday), 13, 14, 15, 16.
    clock.set(at(&engine, 2025, 10, 16, 23, 0));
    assert!(tick(&engine, &mut task, &clock).is_empty());
    clock.set(end_of(&engine, 2025, 10, 16));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(
        summary(&sent),
        [(NoticeKind::Escalate, ClockKind::Handle, 5)]
    );
    clock.advance(SignedDuration::from_hours(24 * 30));
    assert!(tick(&engine, &mut task, &clock).is_empty());
}

#[test]
fn scheduler_down_sends_every_missed_escalation() {
    let engine = engine();
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    clock.set(at(&engine, 2025, 11, 3, 9, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(
        summary(&sent),
        [
            (NoticeKind::Escalate, ClockKind::Handle, 0),
            (NoticeKind::Escalate, ClockKind::Handle, 5)
        ]
    );
}

#[test]
fn extension_rearms_reminders() {
    let engine = engine();
    let clock = ManualClock::new(at(&engine, 2025, 9, 26, 15, 0));
    let mut task = task_in(&engine, "in_progress", clock.now());
    clock.set(at(&engine, 2025, 10, 10, 9, 0));
    assert_eq!(tick(&engine, &mut task, &clock).len(), 1);

    task = step(&engine, &task, "request_extension", clock.now());
    assert_eq!(task.state, "extension_requested");
    assert!(
        tick(&engine, &mut task, &clock).is_empty(),
        "the handle clock keeps running"
    );
    task = step(&engine, &task, "approve_extension", clock.now());
    assert_eq!(
        task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 10, 14))
    );
    assert!(tick(&engine, &mut task, &clock).is_empty());
    clock.set(at(&engine, 2025, 10, 14, 8, 0));
    let sent = tick(&engine, &mut task, &clock);
    assert_eq!(summary(&sent), [(NoticeKind::Remind, ClockKind::Handle, 1)]);
    assert_eq!(sent[0].deadline, end_of(&engine, 2025, 10, 14));
}

#[test]
fn stopped_clock_has_no_actions() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    for state in [
        "created",
        "replied",
        "reviewed",
        "closed",
        "returned",
        "cancelled",
    ] {
        let task = task_in(&engine, state, now);
        let far = at(&engine, 2026, 12, 1, 9, 0);
        assert!(
            engine.due_actions(&task, far).unwrap().is_empty(),
            "{state}"
        );
        assert!(!is_overdue(engine.workflow(), &task, far), "{state}");
    }
}

#[test]
fn overdue_child_escalates_to_lead_task() {
    let engine = engine();
    let now = at(&engine, 2025, 3, 3, 9, 0);
    let mut new = new_task("T8", "350203001", "water");
    new.co_departments = vec![dept("sm-urban")];
    let created = engine.create(&new, &dispatcher(), now).unwrap();
    let mut child = created.children[0].task.clone();
    for action in ["dispatch", "sign"] {
        child = step(&engine, &child, action, now);
    }
    let late = end_of(&engine, 2025, 3, 6);
    let sent = engine.due_actions(&child, late).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].recipients,
        [
            Recipient::Department(dept("sm-urban")),
            Recipient::Dispatchers,
            Recipient::LeadTask(TaskId::parse("T8").unwrap())
        ]
    );
}

#[test]
fn notice_record_has_no_actor_and_keeps_state() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "in_progress", now);
    let late = end_of(&engine, 2025, 10, 10);
    let actions = engine.due_actions(&task, late).unwrap();
    let applied = engine.record_notice(&task, &actions[0], late);
    assert_eq!(applied.record.action, "escalate");
    assert_eq!(applied.record.actor, None);
    assert_eq!(applied.record.from.as_deref(), Some("in_progress"));
    assert_eq!(applied.record.to, "in_progress");
    assert_eq!(applied.task.version, task.version + 1);
    assert!(applied.task.notices_sent.contains(&actions[0].key()));
}

#[test]
fn uncovered_year_is_reported_not_guessed() {
    let engine = engine();
    // Signed in late December 2026: five working days reach into 2027, which
    // the built-in calendar does not cover yet.
    let now = at(&engine, 2026, 12, 28, 9, 0);
    let task = task_in(&engine, "dispatched", now);
    let staff = staff("sm-eeb");
    let err = engine
        .apply(&task, &Command::new("sign"), &Context::new(&staff, now))
        .unwrap_err();
    assert_eq!(err, TaskError::YearNotCovered { year: 2027 });
}
