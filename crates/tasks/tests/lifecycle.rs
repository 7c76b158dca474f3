//! A task's life through the engine: routing, deadlines, extensions, return,
//! co-operating child tasks, evidence, outcomes and records.

mod common;

use common::*;
use oversight_tasks::*;

#[test]
fn dispatch_routes_and_starts_sign_clock() {
    let engine = engine();
    // Friday 26 September 2025, 10:00 in Xiamen.
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "created", now);
    let applied = apply(
        &engine,
        &task,
        &Command::new("dispatch"),
        &dispatcher(),
        now,
    );
    assert_eq!(applied.task.lead_department, Some(dept("sm-eeb")));
    // Four office hours: 10:00 to 12:00, then 14:00 to 16:00.
    assert_eq!(
        applied.task.deadlines.sign_by,
        Some(at(&engine, 2025, 9, 26, 16, 0))
    );
    assert!(applied.record.changes.iter().any(|c| matches!(
        c,
        Change::LeadDepartment { from: None, to } if to.as_str() == "sm-eeb"
    )));
}

#[test]
fn dispatch_without_route_names_area_and_category() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let created = engine
        .create(&new_task("T2", "500112", "water"), &dispatcher(), now)
        .unwrap();
    let err = apply_err(
        &engine,
        &created.lead.task,
        &Command::new("dispatch"),
        &dispatcher(),
        now,
    );
    assert_eq!(
        err,
        TaskError::NoRoute {
            area: "500112".into(),
            category: "water".into()
        }
    );
    let mut command = Command::new("dispatch");
    command.department = Some(dept("xm-eeb"));
    let applied = apply(&engine, &created.lead.task, &command, &dispatcher(), now);
    assert_eq!(applied.task.lead_department, Some(dept("xm-eeb")));
}

#[test]
fn dispatch_to_unknown_department_is_rejected() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "created", now);
    let mut command = Command::new("dispatch");
    command.department = Some(dept("nowhere"));
    let err = apply_err(&engine, &task, &command, &dispatcher(), now);
    assert_eq!(
        err,
        TaskError::UnknownDepartment {
            department: "nowhere".into()
        }
    );
}

#[test]
fn sign_starts_handle_clock_across_national_day() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "dispatched", now);
    let signed = apply(&engine, &task, &Command::new("sign"), &staff("sm-eeb"), now);
    // Five working days from the day after: 28, 29, 30 September (28th a
    // make-up Sunday), then 9 and 10 October after the holiday.
    assert_eq!(
        signed.task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 10, 10))
    );
}

#[test]
fn category_and_child_deadlines_differ() {
    let mut config = TasksConfig::parse(CONFIG).unwrap();
    config
        .deadlines
        .handle_working_days_by_category
        .insert("water".into(), 13);
    let engine = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap();
    let now = at(&engine, 2025, 3, 3, 9, 0);
    let task = task_in(&engine, "signed", now);
    // Monday 3 March: 13 working days from Tuesday 4 March end on Thursday 20 March.
    assert_eq!(task.deadlines.handle_by, Some(end_of(&engine, 2025, 3, 20)));
}

#[test]
fn extension_moves_deadline_by_working_days() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "in_progress", now);
    let before = task.deadlines.handle_by.unwrap();
    let mut request = Command::new("request_extension").reason("需要补充采样检测");
    request.extension_working_days = Some(3);
    let requested = apply(&engine, &task, &request, &staff("sm-eeb"), now);
    assert_eq!(requested.task.state, "extension_requested");
    assert_eq!(requested.task.deadlines.handle_by, Some(before));
    let pending = requested.task.deadlines.pending_extension.clone().unwrap();
    assert_eq!(pending.working_days, 3);

    let approved = apply(
        &engine,
        &requested.task,
        &Command::new("approve_extension"),
        &dispatcher(),
        now,
    );
    // From the end of 10 October: Saturday 11 October (make-up), 13 and 14 October.
    assert_eq!(
        approved.task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 10, 14))
    );
    assert!(approved.task.deadlines.pending_extension.is_none());
    assert_eq!(approved.task.deadlines.extensions.len(), 1);
    assert_eq!(approved.task.deadlines.extensions[0].previous, before);
    assert!(approved.record.changes.contains(&Change::Deadline {
        clock: ClockKind::Handle,
        from: Some(before),
        to: end_of(&engine, 2025, 10, 14),
    }));
}

#[test]
fn approval_may_grant_fewer_days_but_not_more() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "extension_requested", now);
    let mut more = Command::new("approve_extension");
    more.extension_working_days = Some(4);
    let err = apply_err(&engine, &task, &more, &dispatcher(), now);
    assert_eq!(
        err,
        TaskError::ExtensionAboveRequest {
            granted: 4,
            requested: 3
        }
    );
    let mut fewer = Command::new("approve_extension");
    fewer.extension_working_days = Some(1);
    let approved = apply(&engine, &task, &fewer, &dispatcher(), now);
    assert_eq!(
        approved.task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 10, 11))
    );
}

#[test]
fn extension_limit_is_enforced() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "in_progress", now);
    let mut request = Command::new("request_extension").reason("r");
    request.extension_working_days = Some(11);
    let err = apply_err(&engine, &task, &request, &staff("sm-eeb"), now);
    assert_eq!(
        err,
        TaskError::ExtensionLimit {
            requested: 11,
            granted: 0,
            max: 10
        }
    );
    let mut request = Command::new("request_extension").reason("r");
    request.extension_working_days = None;
    let err = apply_err(&engine, &task, &request, &staff("sm-eeb"), now);
    assert!(
        err.to_string().contains("requires extension working days"),
        "{err}"
    );
}

#[test]
fn rejected_extension_keeps_deadline() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "extension_requested", now);
    let rejected = apply(
        &engine,
        &task,
        &Command::new("reject_extension").reason("理由不充分"),
        &dispatcher(),
        now,
    );
    assert_eq!(rejected.task.state, "in_progress");
    assert_eq!(rejected.task.deadlines.handle_by, task.deadlines.handle_by);
    assert!(rejected.task.deadlines.pending_extension.is_none());
    assert!(rejected.task.deadlines.extensions.is_empty());
}

#[test]
fn return_and_redispatch_to_another_department() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "signed", now);
    let mut assign = Command::new("assign");
    assign.assignee = Some(Assignee::Group("执法二中队".into()));
    let assigned = apply(&engine, &task, &assign, &staff("sm-eeb"), now);
    let returned = apply(
        &engine,
        &assigned.task,
        &Command::new("return").reason("非本单位职责，属城管"),
        &staff("sm-eeb"),
        now,
    );
    assert_eq!(returned.task.state, "returned");
    assert_eq!(
        returned.record.reason.as_deref(),
        Some("非本单位职责，属城管")
    );

    let mut redispatch = Command::new("dispatch");
    redispatch.department = Some(dept("sm-urban"));
    let again = apply(&engine, &returned.task, &redispatch, &dispatcher(), now);
    assert_eq!(again.task.lead_department, Some(dept("sm-urban")));
    assert_eq!(again.task.assignee, None);
    assert!(
        again
            .record
            .changes
            .contains(&Change::Assignee { to: None })
    );
    // The first department can no longer act on the task.
    let err = apply_err(
        &engine,
        &again.task,
        &Command::new("sign"),
        &staff("sm-eeb"),
        now,
    );
    assert!(matches!(err, TaskError::WrongDepartment { .. }), "{err}");
}

#[test]
fn unused_inputs_are_rejected() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "dispatched", now);
    let mut sign = Command::new("sign");
    sign.outcome = Some(no_violation());
    let err = apply_err(&engine, &task, &sign, &staff("sm-eeb"), now);
    assert_eq!(
        err,
        TaskError::UnexpectedInput {
            action: "sign".into(),
            input: "an outcome"
        }
    );
    let mut sign = Command::new("sign");
    sign.department = Some(dept("xm-eeb"));
    let err = apply_err(&engine, &task, &sign, &staff("sm-eeb"), now);
    assert!(
        err.to_string().contains("does not take a department"),
        "{err}"
    );
}

fn co_operated(engine: &Engine, now: jiff::Timestamp) -> CreatedTasks {
    let mut new = new_task("T5", "350203001", "water");
    new.co_departments = vec![dept("sm-urban"), dept("sm-market")];
    engine
        .create(&new, &dispatcher(), now)
        .expect("co-operated task is created")
}

#[test]
fn co_departments_get_child_tasks() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let created = co_operated(&engine, now);
    let ids: Vec<&str> = created
        .children
        .iter()
        .map(|c| c.task.id.as_str())
        .collect();
    assert_eq!(ids, ["T5-c1", "T5-c2"]);
    assert_eq!(created.lead.task.children.len(), 2);
    let child = &created.children[0].task;
    assert_eq!(child.lead_department, Some(dept("sm-urban")));
    assert_eq!(child.parent.as_ref().map(TaskId::as_str), Some("T5"));
    assert!(matches!(&child.origin, Origin::CoOperation { parent } if parent.as_str() == "T5"));
    assert_eq!(created.lead.record.action, "create");
    assert_eq!(created.lead.record.from, None);
    assert_eq!(created.lead.record.changes.len(), 2);
}

#[test]
fn child_handle_deadline_is_shorter() {
    let engine = engine();
    let now = at(&engine, 2025, 3, 3, 9, 0);
    let created = co_operated(&engine, now);
    let mut child = created.children[0].task.clone();
    for action in ["dispatch", "sign"] {
        child = step(&engine, &child, action, now);
    }
    // Three working days from Tuesday 4 March.
    assert_eq!(child.deadlines.handle_by, Some(end_of(&engine, 2025, 3, 6)));
}

#[test]
fn co_department_rules_are_checked() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let mut new = new_task("T6", "350203001", "water");
    new.co_departments = vec![dept("sm-urban"), dept("sm-urban")];
    let err = engine.create(&new, &dispatcher(), now).unwrap_err();
    assert!(err.to_string().contains("listed once"), "{err}");
    new.co_departments = vec![dept("sm-eeb")];
    new.lead_department = Some(dept("sm-eeb"));
    let err = engine.create(&new, &dispatcher(), now).unwrap_err();
    assert!(err.to_string().contains("differ from the lead"), "{err}");
    new.co_departments = vec![dept("ghost")];
    let err = engine.create(&new, &dispatcher(), now).unwrap_err();
    assert!(matches!(err, TaskError::UnknownDepartment { .. }), "{err}");

    // Routing must not make a co-operating department the lead.
    let mut new = new_task("T7", "350203001", "water");
    new.co_departments = vec![dept("sm-eeb")];
    let created = engine.create(&new, &dispatcher(), now).unwrap();
    let err = apply_err(
        &engine,
        &created.lead.task,
        &Command::new("dispatch"),
        &dispatcher(),
        now,
    );
    assert!(
        err.to_string()
            .contains("already a co-operating department"),
        "{err}"
    );
}

#[test]
fn lead_reply_waits_for_children() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let created = co_operated(&engine, now);
    let mut lead = created.lead.task.clone();
    for action in ["dispatch", "sign", "start"] {
        lead = step(&engine, &lead, action, now);
    }
    let mut children: Vec<Task> = created.children.iter().map(|c| c.task.clone()).collect();
    children[0] = ["dispatch", "sign", "start", "reply"]
        .iter()
        .fold(children[0].clone(), |t, a| step(&engine, &t, a, now));
    children[1] = ["dispatch", "sign"]
        .iter()
        .fold(children[1].clone(), |t, a| step(&engine, &t, a, now));

    let staff = staff("sm-eeb");
    let reply = full_command(&engine, "reply");
    let ctx = Context {
        children: &children,
        ..Context::new(&staff, now)
    };
    let err = engine.apply(&lead, &reply, &ctx).unwrap_err();
    assert_eq!(
        err,
        TaskError::ChildrenNotDone {
            task: "T5".into(),
            pending: "T5-c2 (signed)".into(),
            done_states: "replied, reviewed, closed, cancelled".into(),
        }
    );

    let err = apply_err(&engine, &lead, &reply, &staff, now);
    assert!(matches!(err, TaskError::ChildrenMismatch { .. }), "{err}");
    assert!(err.to_string().contains("supplied none"), "{err}");

    children[1] = ["start", "reply"]
        .iter()
        .fold(children[1].clone(), |t, a| step(&engine, &t, a, now));
    let ctx = Context {
        children: &children,
        ..Context::new(&staff, now)
    };
    let applied = engine.apply(&lead, &reply, &ctx).unwrap();
    assert_eq!(applied.task.state, "replied");
}

#[test]
fn evidence_is_recorded_with_actor_and_time() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "in_progress", now);
    let photo = Attachment::new(
        ContentDigest::compute(HashAlgorithm::Sm3, b"jpeg bytes"),
        "image/jpeg",
        10,
        "排放口.jpg",
    )
    .unwrap();
    let mut command = Command::new("add_evidence");
    command.evidence = vec![
        EvidenceKind::Attachment(photo),
        EvidenceKind::Note {
            text: "企业负责人称设备故障".into(),
        },
    ];
    let applied = apply(&engine, &task, &command, &staff("sm-eeb"), now);
    assert_eq!(applied.task.state, "in_progress");
    assert_eq!(applied.task.evidence.len(), 2);
    assert_eq!(
        applied.task.evidence[0].added_by.as_str(),
        "department_staff-1"
    );
    assert_eq!(applied.task.evidence[0].added_at, now);
    assert!(
        matches!(&applied.record.changes[0], Change::EvidenceAdded { evidence } if evidence.len() == 2)
    );
}

#[test]
fn invalid_evidence_rejects_whole_command() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "in_progress", now);
    let mut command = full_command(&engine, "reply");
    command.evidence = vec![EvidenceKind::Note { text: "".into() }];
    let err = apply_err(&engine, &task, &command, &staff("sm-eeb"), now);
    assert!(err.to_string().contains("invalid note"), "{err}");
}

fn replied_with(engine: &Engine, outcome: OutcomeInput, now: jiff::Timestamp) -> Task {
    let task = task_in(engine, "in_progress", now);
    let mut reply = Command::new("reply");
    reply.outcome = Some(outcome);
    apply(engine, &task, &reply, &staff("sm-eeb"), now).task
}

#[test]
fn rectification_creates_recheck_on_close() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let outcome = OutcomeInput::Rectification {
        item: "water-exceedance".into(),
        findings: "COD 超标排放".into(),
        working_days: 10,
    };
    let replied = replied_with(&engine, outcome, now);
    let recorded = replied.outcome.clone().unwrap();
    // Ten working days from Saturday 27 September: 28-30 September, 9-11 and 13-16 October.
    assert_eq!(recorded.rectify_by, Some(end_of(&engine, 2025, 10, 16)));

    let reviewed = step(&engine, &replied, "review", now);
    let closed = apply(
        &engine,
        &reviewed,
        &Command::new("close"),
        &dispatcher(),
        now,
    );
    let record = closed.outcome_record.clone().unwrap();
    assert_eq!(record.kind, OutcomeKind::Rectification);
    assert!(record.violation);
    assert_eq!(record.item.as_deref(), Some("water-exceedance"));

    assert_eq!(closed.follow_ups.len(), 1);
    let recheck = &closed.follow_ups[0].task;
    assert_eq!(recheck.id.as_str(), "T1-r1");
    assert!(matches!(&recheck.origin, Origin::Recheck { parent } if parent.as_str() == "T1"));
    assert_eq!(recheck.lead_department, Some(dept("sm-eeb")));
    assert_eq!(recheck.state, "created");
    assert!(recheck.title.starts_with("复查："));
    assert_eq!(closed.task.follow_ups, 1);
}

#[test]
fn no_violation_closes_without_follow_up() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "closed", now);
    assert_eq!(
        task.outcome.as_ref().map(Outcome::kind),
        Some(OutcomeKind::NoViolation)
    );
    assert_eq!(task.follow_ups, 0);
}

fn first_violation(engine: &Engine) -> OutcomeInput {
    OutcomeInput::FirstViolationNoPenalty {
        item: "air-exceedance-minor".into(),
        findings: "SO2 小时均值超标 0.05 倍".into(),
        harm_minor: true,
        correction_ordered_at: at(engine, 2025, 9, 22, 10, 0),
        corrected_at: at(engine, 2025, 9, 24, 16, 0),
    }
}

#[test]
fn first_violation_checks_history() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "in_progress", now);
    let mut reply = Command::new("reply");
    reply.outcome = Some(first_violation(&engine));
    let staff = staff("sm-eeb");

    let err = apply_err(&engine, &task, &reply, &staff, now);
    assert!(err.to_string().contains("violation history"), "{err}");

    let clean: Vec<OutcomeRecord> = Vec::new();
    let ctx = Context {
        history: Some(&clean),
        ..Context::new(&staff, now)
    };
    let applied = engine.apply(&task, &reply, &ctx).unwrap();
    let outcome = applied.task.outcome.unwrap();
    assert_eq!(outcome.kind(), OutcomeKind::FirstViolationNoPenalty);
    assert_eq!(
        outcome.history_checked_since,
        Some(at(&engine, 2024, 9, 26, 0, 0))
    );

    let prior = vec![OutcomeRecord {
        task: TaskId::parse("T-2025-0001").unwrap(),
        subject: task.subject.clone(),
        area: task.area.clone(),
        item: Some("air-exceedance-minor".into()),
        kind: OutcomeKind::Penalty,
        violation: true,
        decided_by: PersonId::parse("p").unwrap(),
        decided_at: at(&engine, 2025, 2, 10, 9, 0),
        closed_at: at(&engine, 2025, 2, 12, 9, 0),
    }];
    let ctx = Context {
        history: Some(&prior),
        ..Context::new(&staff, now)
    };
    let err = engine.apply(&task, &reply, &ctx).unwrap_err();
    assert!(matches!(err, TaskError::NotFirstViolation { .. }), "{err}");
    assert!(err.to_string().contains("T-2025-0001"), "{err}");
}

#[test]
fn reopen_restarts_handle_clock() {
    let engine = engine();
    let signed_at = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "closed", signed_at);
    let later = at(&engine, 2025, 11, 3, 9, 0);
    let reopened = apply(
        &engine,
        &task,
        &Command::new("reopen").reason("回访不满意"),
        &supervisor(),
        later,
    );
    assert_eq!(reopened.task.state, "in_progress");
    // Five working days from Tuesday 4 November.
    assert_eq!(
        reopened.task.deadlines.handle_by,
        Some(end_of(&engine, 2025, 11, 10))
    );
}

#[test]
fn records_chain_versions_and_states() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let created = engine
        .create(&new_task("T1", "350203001", "water"), &dispatcher(), now)
        .unwrap();
    let mut task = created.lead.task;
    let mut records = vec![created.lead.record];
    for action in ["dispatch", "sign", "start", "reply", "review", "close"] {
        let applied = step_applied(&engine, &task, action, now);
        records.push(applied.record);
        task = applied.task;
    }
    for pair in records.windows(2) {
        assert_eq!(pair[1].version, pair[0].version + 1);
        assert_eq!(pair[1].from.as_deref(), Some(pair[0].to.as_str()));
    }
    assert_eq!(records.last().unwrap().to, "closed");
}

#[test]
fn task_and_record_round_trip_through_json() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let task = task_in(&engine, "extension_requested", now);
    let json = serde_json::to_string(&task).unwrap();
    let back: Task = serde_json::from_str(&json).unwrap();
    assert_eq!(back, task);
    let approve = Command::new("approve_extension");
    let applied = apply(&engine, &task, &approve, &dispatcher(), now);
    let json = serde_json::to_value(&applied.record).unwrap();
    assert_eq!(json["action"], "approve_extension");
    assert_eq!(json["changes"][0]["change"], "deadline");
    let back: TransitionRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back, applied.record);
}

#[test]
fn invalid_engine_configuration_is_named() {
    let mut config = TasksConfig::parse(CONFIG).unwrap();
    config.deadlines.sign_hours = 0;
    let err = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap_err();
    assert!(err.to_string().contains("deadlines.sign_hours"), "{err}");

    let mut config = TasksConfig::parse(CONFIG).unwrap();
    config.first_violation.lookback_months = 0;
    let err = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap_err();
    assert!(err.to_string().contains("lookback_months"), "{err}");
}

#[test]
fn cancel_drops_pending_extension() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 15, 0);
    let task = task_in(&engine, "extension_requested", now);
    let cancelled = apply(
        &engine,
        &task,
        &Command::new("cancel").reason("重复工单"),
        &dispatcher(),
        now,
    );
    assert_eq!(cancelled.task.state, "cancelled");
    assert!(cancelled.task.deadlines.pending_extension.is_none());
    assert!(
        cancelled
            .record
            .changes
            .contains(&Change::ExtensionDropped { working_days: 3 })
    );
}

fn contact() -> oversight_core::personal::Contact {
    serde_json::from_value(serde_json::json!({
        "name": "张三",
        "phone": "13812345678",
        "id_number": "11010519491231002X",
    }))
    .expect("valid contact")
}

#[test]
fn reporter_kept_on_public_report_task() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let mut new = new_task("T1", "350203001", "water");
    new.origin = Origin::PublicReport {
        report_id: "R-1".into(),
    };
    new.reporter = Some(contact());
    let created = engine.create(&new, &dispatcher(), now).expect("created");
    assert_eq!(created.lead.task.reporter, Some(contact()));
    let record = serde_json::to_string(&created.lead.record).expect("record serializes");
    assert!(!record.contains("张"), "{record}");
}

#[test]
fn reporter_rejected_on_other_origins() {
    let engine = engine();
    let now = at(&engine, 2025, 9, 26, 10, 0);
    let mut new = new_task("T1", "350203001", "water");
    new.reporter = Some(contact());
    let error = engine.create(&new, &dispatcher(), now).unwrap_err();
    assert!(error.to_string().contains("public_report"), "{error}");
}
