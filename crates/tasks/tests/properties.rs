//! Property tests: no sequence of actions leaves the workflow, deadlines grow
//! with working days, and an extension never shortens a deadline.

mod common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use oversight_tasks::*;
use std::collections::BTreeSet;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// Returns an instant between 1 January 2025 and 30 September 2026, so that 60 working
/// days later still lies in the calendar's covered years.
fn instant() -> impl Strategy<Value = Timestamp> {
    let start = 1_735_660_800_i64; // 2025-01-01T00:00:00+08:00
    let end = 1_790_697_600_i64; // 2026-10-01T00:00:00+08:00
    (start..end).prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

#[derive(Debug, Clone)]
struct Attempt {
    /// Pick among the actions allowed from the current state, with an allowed
    /// role, so sequences reach the later states often.
    guided: bool,
    action: usize,
    role: usize,
    with_reason: bool,
    extension_days: Option<u32>,
    minutes_later: i64,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (
        any::<bool>(),
        0usize..20,
        0usize..4,
        any::<bool>(),
        proptest::option::of(0u32..14),
        0i64..3000,
    )
        .prop_map(
            |(guided, action, role, with_reason, extension_days, minutes_later)| Attempt {
                guided,
                action,
                role,
                with_reason,
                extension_days,
                minutes_later,
            },
        )
}

/// Runs random action sequences and returns the states they reached.
fn run_sequence(start: Timestamp, attempts: &[Attempt]) -> Result<BTreeSet<String>, TestCaseError> {
    let engine = engine();
    let workflow = engine.workflow();
    let mut task = engine
        .create(&new_task("T1", "350203001", "water"), &dispatcher(), start)
        .expect("sequence task is created")
        .lead
        .task;
    let mut now = start;
    let names: Vec<String> = workflow.actions().iter().map(|a| a.name.clone()).collect();
    let mut visited = BTreeSet::from([task.state.clone()]);
    for attempt in attempts {
        now = now
            .checked_add(SignedDuration::from_mins(attempt.minutes_later))
            .expect("a few thousand minutes stay in range");
        let allowed = workflow.allowed_from(&task.state);
        let (name, role) = if attempt.guided && !allowed.is_empty() {
            let name = allowed[attempt.action % allowed.len()].to_owned();
            let roles = &workflow.action(&name).expect("allowed actions exist").roles;
            (name, roles[attempt.role % roles.len()])
        } else {
            // Indexes past the configured actions try an unknown name.
            let name = names
                .get(attempt.action)
                .cloned()
                .unwrap_or_else(|| "bogus".into());
            (name, Role::ALL[attempt.role])
        };
        let actor = lead_actor(&task, role);
        let mut command = full_command(&engine, &name);
        if !attempt.with_reason {
            command.reason = None;
        }
        if command.extension_working_days.is_some() || name == "approve_extension" {
            command.extension_working_days = attempt.extension_days;
        }
        let before = task.clone();
        match engine.apply(&task, &command, &Context::new(&actor, now)) {
            Ok(applied) => {
                let action = workflow.action(&name).expect("an applied action exists");
                prop_assert!(action.from.contains(&before.state));
                prop_assert!(action.roles.contains(&actor.role));
                prop_assert!(workflow.state(&applied.task.state).is_some());
                prop_assert_eq!(
                    &applied.task.state,
                    action.to.as_ref().unwrap_or(&before.state)
                );
                prop_assert_eq!(applied.task.version, before.version + 1);
                prop_assert_eq!(applied.record.from.as_deref(), Some(before.state.as_str()));
                prop_assert_eq!(&applied.record.to, &applied.task.state);
                check_deadlines(&engine, &before, &applied.task)?;
                task = applied.task;
                visited.insert(task.state.clone());
            }
            Err(TaskError::YearNotCovered { .. }) => break,
            Err(_) => prop_assert_eq!(&task, &before),
        }
    }
    Ok(visited)
}

#[test]
fn action_sequences_stay_in_the_workflow() {
    let reached = Mutex::new(BTreeSet::new());
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    };
    let mut runner = TestRunner::new(config);
    let strategy = (instant(), proptest::collection::vec(attempt(), 1..40));
    runner
        .run(&strategy, |(start, attempts)| {
            let visited = run_sequence(start, &attempts)?;
            reached.lock().unwrap().extend(visited);
            Ok(())
        })
        .unwrap();
    // The sequences must have exercised every state, or the property checks little.
    let reached = reached.into_inner().unwrap();
    let all: BTreeSet<String> = engine()
        .workflow()
        .states()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(reached, all);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn deadlines_grow_with_working_days(t in instant(), n in 1u32..60) {
        let cal = WorkCalendar::china();
        let due = cal.add_working_days(t, n).unwrap();
        let next = cal.add_working_days(t, n + 1).unwrap();
        prop_assert!(t < due);
        prop_assert!(due < next);
        prop_assert_eq!(cal.working_days_between(t, due).unwrap(), n);
        // A deadline ends a working day.
        let last_day = cal.local_date(due).yesterday().unwrap();
        prop_assert!(cal.is_working_day(last_day).unwrap());
        // Counting back n working days lands on the first counted day, not before t.
        let first = cal.sub_working_days(due, n).unwrap();
        prop_assert!(first >= t);
        prop_assert!(cal.is_working_day(cal.local_date(first)).unwrap());
        prop_assert_eq!(cal.working_days_between(first, due).unwrap(), n);
    }

    #[test]
    fn extension_never_shortens_a_deadline(t in instant(), days in 1u32..20, more in 1u32..20) {
        let cal = WorkCalendar::china();
        let deadline = cal.add_working_days(t, days).unwrap();
        let extended = cal.add_working_days(deadline, more).unwrap();
        prop_assert!(extended > deadline);
        prop_assert_eq!(cal.working_days_between(deadline, extended).unwrap(), more);
    }

    #[test]
    fn working_hours_grow_and_invert(t in instant(), h in 1u32..60) {
        let cal = WorkCalendar::china();
        let due = cal.add_working_hours(t, h).unwrap();
        let next = cal.add_working_hours(t, h + 1).unwrap();
        prop_assert!(t < due);
        prop_assert!(due < next);
        let back = cal.sub_working_hours(due, h).unwrap();
        // Back lands at t, or at the start of office hours after t when t is outside them.
        prop_assert!(back >= t);
        prop_assert_eq!(cal.add_working_hours(back, h).unwrap(), due);
    }
}

fn check_deadlines(engine: &Engine, before: &Task, after: &Task) -> Result<(), TestCaseError> {
    let old = &before.deadlines;
    let new = &after.deadlines;
    if new.extensions.len() > old.extensions.len() {
        let (Some(previous), Some(extended)) = (old.handle_by, new.handle_by) else {
            return Err(TestCaseError::fail(
                "an extension needs a handling deadline",
            ));
        };
        prop_assert!(
            extended > previous,
            "extension shortened {previous} to {extended}"
        );
    }
    prop_assert!(
        new.extended_working_days() <= engine.deadline_settings().max_extension_working_days
    );
    if new.pending_extension.is_some() {
        prop_assert_eq!(after.state.as_str(), "extension_requested");
    }
    Ok(())
}
