//! Every state × every action × every role of the default workflow: legal, or
//! the right error. The expected table is written out here, independently of
//! the configuration file, so a change to the default workflow shows up as a
//! failing row.

mod common;

use common::*;
use oversight_tasks::*;

const STATES: [&str; 10] = [
    "created",
    "dispatched",
    "signed",
    "in_progress",
    "extension_requested",
    "replied",
    "reviewed",
    "closed",
    "returned",
    "cancelled",
];

const OPEN: [&str; 8] = [
    "created",
    "dispatched",
    "signed",
    "in_progress",
    "extension_requested",
    "replied",
    "reviewed",
    "returned",
];

struct Rule {
    action: &'static str,
    from: &'static [&'static str],
    /// None: the task stays in its state.
    to: Option<&'static str>,
    roles: &'static [Role],
    reason_required: bool,
}

const STAFF: &[Role] = &[Role::DepartmentStaff];
const DISPATCHER: &[Role] = &[Role::Dispatcher];

fn table() -> Vec<Rule> {
    vec![
        Rule {
            action: "dispatch",
            from: &["created", "returned"],
            to: Some("dispatched"),
            roles: DISPATCHER,
            reason_required: false,
        },
        Rule {
            action: "add_evidence",
            from: &OPEN,
            to: None,
            roles: &Role::ALL,
            reason_required: false,
        },
        Rule {
            action: "sign",
            from: &["dispatched"],
            to: Some("signed"),
            roles: STAFF,
            reason_required: false,
        },
        Rule {
            action: "return",
            from: &["dispatched", "signed"],
            to: Some("returned"),
            roles: STAFF,
            reason_required: true,
        },
        Rule {
            action: "start",
            from: &["signed"],
            to: Some("in_progress"),
            roles: STAFF,
            reason_required: false,
        },
        Rule {
            action: "assign",
            from: &["signed", "in_progress"],
            to: None,
            roles: STAFF,
            reason_required: false,
        },
        Rule {
            action: "request_extension",
            from: &["in_progress"],
            to: Some("extension_requested"),
            roles: STAFF,
            reason_required: true,
        },
        Rule {
            action: "approve_extension",
            from: &["extension_requested"],
            to: Some("in_progress"),
            roles: DISPATCHER,
            reason_required: false,
        },
        Rule {
            action: "reject_extension",
            from: &["extension_requested"],
            to: Some("in_progress"),
            roles: DISPATCHER,
            reason_required: true,
        },
        Rule {
            action: "reply",
            from: &["in_progress"],
            to: Some("replied"),
            roles: STAFF,
            reason_required: false,
        },
        Rule {
            action: "review",
            from: &["replied"],
            to: Some("reviewed"),
            roles: &[Role::Reviewer],
            reason_required: false,
        },
        Rule {
            action: "send_back",
            from: &["replied"],
            to: Some("in_progress"),
            roles: &[Role::Reviewer],
            reason_required: true,
        },
        Rule {
            action: "close",
            from: &["reviewed"],
            to: Some("closed"),
            roles: &[Role::Dispatcher, Role::Supervisor],
            reason_required: false,
        },
        Rule {
            action: "reopen",
            from: &["reviewed", "closed"],
            to: Some("in_progress"),
            roles: &[Role::Supervisor, Role::Reviewer],
            reason_required: true,
        },
        Rule {
            action: "cancel",
            from: &[
                "created",
                "dispatched",
                "signed",
                "in_progress",
                "extension_requested",
                "returned",
            ],
            to: Some("cancelled"),
            roles: &[Role::Dispatcher, Role::Supervisor],
            reason_required: true,
        },
    ]
}

#[test]
fn table_covers_the_default_workflow() {
    let engine = engine();
    let configured: Vec<&str> = engine
        .workflow()
        .actions()
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let tabled: Vec<&str> = table().iter().map(|r| r.action).collect();
    assert_eq!(configured, tabled);
    let states: Vec<&str> = engine
        .workflow()
        .states()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(states, STATES);
}

#[test]
fn every_state_action_and_role() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let mut checked = 0;
    for state in STATES {
        let task = task_in(&engine, state, now);
        let allowed_here: Vec<&str> = table()
            .iter()
            .filter(|r| r.from.contains(&state))
            .map(|r| r.action)
            .collect();
        for rule in table() {
            for role in Role::ALL {
                let actor = lead_actor(&task, role);
                let command = full_command(&engine, rule.action);
                let result = engine.apply(&task, &command, &Context::new(&actor, now));
                let case = format!("{state} × {} × {role}", rule.action);
                if !rule.from.contains(&state) {
                    let expected = TaskError::IllegalTransition {
                        state: state.into(),
                        action: rule.action.into(),
                        allowed: if allowed_here.is_empty() {
                            "none".into()
                        } else {
                            allowed_here.join(", ")
                        },
                    };
                    assert_eq!(result.unwrap_err(), expected, "{case}");
                } else if !rule.roles.contains(&role) {
                    let err = result.unwrap_err();
                    assert!(
                        matches!(err, TaskError::RoleNotPermitted { role: r, .. } if r == role),
                        "{case}: {err}"
                    );
                } else if role == Role::DepartmentStaff && task.lead_department.is_none() {
                    // Before routing no department owns the task, so no staff may act on it.
                    let err = result.unwrap_err();
                    assert!(
                        matches!(err, TaskError::WrongDepartment { .. }),
                        "{case}: {err}"
                    );
                } else {
                    let applied = result.unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(applied.task.state, rule.to.unwrap_or(state), "{case}");
                    assert_eq!(applied.record.from.as_deref(), Some(state), "{case}");
                    assert_eq!(applied.record.to, applied.task.state, "{case}");
                    assert_eq!(applied.record.action, rule.action, "{case}");
                    assert_eq!(applied.task.version, task.version + 1, "{case}");
                    assert_eq!(applied.record.version, applied.task.version, "{case}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, STATES.len() * table().len() * Role::ALL.len());
}

#[test]
fn missing_reason_is_rejected_where_required() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    for rule in table() {
        let state = rule.from[0];
        let task = task_in(&engine, state, now);
        let actor = lead_actor(&task, rule.roles[0]);
        let mut command = full_command(&engine, rule.action);
        command.reason = None;
        let result = engine.apply(&task, &command, &Context::new(&actor, now));
        if rule.reason_required {
            assert_eq!(
                result.unwrap_err(),
                TaskError::ReasonRequired {
                    action: rule.action.into()
                },
                "{}",
                rule.action
            );
        } else {
            assert!(result.is_ok(), "{} without a reason", rule.action);
        }
    }
}

#[test]
fn staff_of_another_department_is_rejected() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    for rule in table().iter().filter(|r| r.roles == STAFF) {
        for &state in rule.from {
            let task = task_in(&engine, state, now);
            let outsider = staff("sm-urban");
            let command = full_command(&engine, rule.action);
            let err = apply_err(&engine, &task, &command, &outsider, now);
            assert!(
                matches!(err, TaskError::WrongDepartment { .. }),
                "{state} × {}: {err}",
                rule.action
            );
            assert!(err.to_string().contains("sm-eeb"), "{err}");
        }
    }
}

#[test]
fn staff_without_department_is_rejected() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "dispatched", now);
    let nobody = actor(Role::DepartmentStaff, None);
    let err = apply_err(&engine, &task, &Command::new("sign"), &nobody, now);
    assert!(err.to_string().contains("department none"), "{err}");
}

#[test]
fn unknown_action_lists_configured_actions() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "created", now);
    let err = apply_err(
        &engine,
        &task,
        &Command::new("teleport"),
        &dispatcher(),
        now,
    );
    assert!(matches!(err, TaskError::UnknownAction { .. }), "{err}");
    assert!(
        err.to_string().contains("dispatch, add_evidence, sign"),
        "{err}"
    );
}

#[test]
fn terminal_state_error_lists_allowed_actions() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "cancelled", now);
    let err = apply_err(
        &engine,
        &task,
        &Command::new("dispatch"),
        &dispatcher(),
        now,
    );
    let text = err.to_string();
    assert!(
        text.contains("not allowed in state \"cancelled\""),
        "{text}"
    );
    assert!(text.contains("allowed actions are none"), "{text}");
}

#[test]
fn only_configured_roles_create() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let new = new_task("T9", "350203001", "water");
    for role in Role::ALL {
        let result = engine.create(&new, &actor(role, Some("sm-eeb")), now);
        let allowed = matches!(role, Role::Dispatcher | Role::Supervisor);
        assert_eq!(result.is_ok(), allowed, "{role}");
    }
}
