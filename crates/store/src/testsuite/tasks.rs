//! Cases for supervision tasks: writes with version checks, history, the
//! inbox order and filters, escalation of alerts and outcome records.

use std::sync::Arc;

use jiff::Timestamp;
use oversight_core::{AlertTransition, AreaCode};
use oversight_tasks::{
    Actor, Applied, Assignee, Category, Command, Context, CreatedTasks, DepartmentId, Engine,
    FirstViolationList, Holidays, NewTask, Origin, OutcomeInput, PersonId, Role, SubjectId, Task,
    TaskId, TasksConfig,
};

use super::alerts::{UPPER, apply_one, expect_event, trigger};
use crate::{AlertUpdate, Escalation, NewTask as EscalationRequest, Store, StoreError, TaskQuery};
use crate::{TaskWrite, testsuite::fixtures::minute};

const CONFIG: &str = r#"
[calendar]
outside_known_years = "weekends_only"

[deadlines]
sign_hours_kind = "calendar"

[[departments]]
id = "sm-eeb"
name = "思明生态环境局"

[[departments]]
id = "sm-urban"
name = "思明城市管理局"

[[routing]]
area = "350203"
department = "sm-eeb"
"#;

fn engine() -> Engine {
    let config = TasksConfig::parse(CONFIG).expect("test task configuration parses");
    Engine::new(config, Holidays::china(), FirstViolationList::empty())
        .expect("test task configuration is valid")
}

fn person(id: &str) -> PersonId {
    PersonId::parse(id).expect("test person ids are valid")
}

fn department(id: &str) -> DepartmentId {
    DepartmentId::parse(id).expect("test department ids are valid")
}

fn dispatcher() -> Actor {
    Actor {
        person: person("d1"),
        role: Role::Dispatcher,
        department: None,
    }
}

fn staff(of: &str) -> Actor {
    Actor {
        person: person("s1"),
        role: Role::DepartmentStaff,
        department: Some(department(of)),
    }
}

fn reviewer() -> Actor {
    Actor {
        person: person("r1"),
        role: Role::Reviewer,
        department: None,
    }
}

fn new_task(id: &TaskId, area: &str, subject: Option<&str>) -> NewTask {
    NewTask {
        id: id.clone(),
        origin: Origin::Manual,
        subject: subject.map(|s| SubjectId::parse(s).expect("test subjects are valid")),
        area: AreaCode::parse(area).expect("test area codes are valid"),
        category: Category::parse("water").expect("test categories are valid"),
        title: format!("task {id}"),
        description: "排放口异味".to_owned(),
        lead_department: None,
        co_departments: Vec::new(),
        evidence: Vec::new(),
        reporter: None,
    }
}

fn creation_writes(engine: &Engine, created: CreatedTasks) -> Vec<TaskWrite> {
    std::iter::once(created.lead)
        .chain(created.children)
        .map(|c| TaskWrite::new(engine.workflow(), c.task, c.record, None))
        .collect()
}

fn applied_write(engine: &Engine, applied: Applied) -> TaskWrite {
    TaskWrite::new(
        engine.workflow(),
        applied.task,
        applied.record,
        applied.outcome_record,
    )
}

/// Creates a task in `area` at `at` and stores it.
async fn create(
    store: &Arc<dyn Store>,
    engine: &Engine,
    area: &str,
    subject: Option<&str>,
    at: Timestamp,
) -> Task {
    let id = store.next_task_id().await.expect("allocate task id");
    let created = engine
        .create(&new_task(&id, area, subject), &dispatcher(), at)
        .expect("create task");
    let task = created.lead.task.clone();
    store
        .write_tasks(&creation_writes(engine, created), None)
        .await
        .expect("store new task");
    task
}

/// Applies `command` to `task` as `actor` at `at` and stores the result.
async fn act(
    store: &Arc<dyn Store>,
    engine: &Engine,
    task: &Task,
    command: Command,
    actor: &Actor,
    at: Timestamp,
) -> Task {
    let applied = engine
        .apply(task, &command, &Context::new(actor, at))
        .unwrap_or_else(|error| panic!("{} on {}: {error}", command.action, task.id));
    let task = applied.task.clone();
    store
        .write_tasks(&[applied_write(engine, applied)], None)
        .await
        .expect("store transition");
    task
}

fn ids(tasks: &[Task]) -> Vec<String> {
    tasks.iter().map(|t| t.id.to_string()).collect()
}

/// Checks that a stored task reads back equal, with one history entry per write.
pub async fn tasks_write_get_and_history(store: Arc<dyn Store>) {
    let engine = engine();
    let created = create(&store, &engine, "350203001", None, minute(0)).await;
    assert_eq!(
        store.task(&created.id).await.expect("get task"),
        Some(created.clone())
    );
    let dispatched = act(
        &store,
        &engine,
        &created,
        Command::new("dispatch"),
        &dispatcher(),
        minute(1),
    )
    .await;
    let stored = store.task(&created.id).await.expect("get task");
    assert_eq!(stored.as_ref(), Some(&dispatched));
    assert_eq!(dispatched.lead_department, Some(department("sm-eeb")));

    let history = store.task_history(&created.id).await.expect("history");
    let actions: Vec<&str> = history.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["create", "dispatch"]);
    assert!(history[0].seq < history[1].seq);
    assert_eq!(history[1].record.from.as_deref(), Some("created"));
    assert_eq!(history[1].record.to, "dispatched");
    assert_eq!(history[1].record.actor, Some(dispatcher()));
    for entry in &history {
        let index = entry
            .ledger_index
            .expect("every transition is in the ledger");
        let ledger = store
            .ledger_entry(index)
            .await
            .expect("read ledger entry")
            .expect("ledger entry exists");
        assert_eq!(ledger.kind, format!("task.{}", entry.record.action));
        assert_eq!(ledger.subject, format!("task:{}", created.id));
        assert_eq!(ledger.actor, "user:d1");
        assert_eq!(ledger.payload["version"], entry.record.version);
    }

    let missing = TaskId::parse("T999999").expect("valid id");
    assert_eq!(store.task(&missing).await.expect("get missing"), None);
    assert!(
        store
            .task_history(&missing)
            .await
            .expect("history")
            .is_empty()
    );
}

/// Checks that a public report's contact and the phone number in its
/// description read back in full, while the ledger and the history contain
/// no part of the contact.
pub async fn tasks_reporter_stored_apart(store: Arc<dyn Store>) {
    let engine = engine();
    let id = store.next_task_id().await.expect("allocate task id");
    let mut new = new_task(&id, "350203001", None);
    new.origin = Origin::PublicReport {
        report_id: "R-7".to_owned(),
    };
    new.description = "群众来电 13812345678 反映排放口异味".to_owned();
    new.reporter = Some(
        serde_json::from_value(serde_json::json!({
            "name": "张三",
            "phone": "13812345678",
            "id_number": "11010519491231002X",
        }))
        .expect("valid contact"),
    );
    let created = engine
        .create(&new, &dispatcher(), minute(0))
        .expect("create task");
    let task = created.lead.task.clone();
    store
        .write_tasks(&creation_writes(&engine, created), None)
        .await
        .expect("store new task");

    let stored = store
        .task(&id)
        .await
        .expect("get task")
        .expect("task exists");
    assert_eq!(stored, task);
    assert_eq!(stored.reporter, new.reporter);
    assert_eq!(stored.description, "群众来电 13812345678 反映排放口异味");
    let listed = store
        .tasks(&TaskQuery {
            limit: 10,
            ..TaskQuery::default()
        })
        .await
        .expect("list tasks");
    let listed = listed
        .items
        .iter()
        .find(|t| t.id == id)
        .expect("task listed");
    assert_eq!(listed.reporter, new.reporter);

    let history = store.task_history(&id).await.expect("history");
    let index = history[0].ledger_index.expect("creation is in the ledger");
    let entry = store
        .ledger_entry(index)
        .await
        .expect("read ledger entry")
        .expect("ledger entry exists");
    let leaf = String::from_utf8_lossy(&entry.leaf_data()).into_owned();
    assert!(!leaf.contains("张三"), "{leaf}");
    assert!(!leaf.contains("11010519491231002X"), "{leaf}");
}

/// Checks that every allocated id is new.
pub async fn tasks_ids_are_unique(store: Arc<dyn Store>) {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let id = store.next_task_id().await.expect("allocate task id");
        assert!(id.as_str().starts_with('T'), "{id}");
        assert!(seen.insert(id.clone()), "{id} handed out twice");
    }
}

/// A write based on an old version fails and leaves the stored task alone.
pub async fn tasks_stale_version_rejected(store: Arc<dyn Store>) {
    let engine = engine();
    let created = create(&store, &engine, "350203001", None, minute(0)).await;
    let dispatched = act(
        &store,
        &engine,
        &created,
        Command::new("dispatch"),
        &dispatcher(),
        minute(1),
    )
    .await;
    // A second dispatcher works from the version before the dispatch.
    let cancel = engine
        .apply(
            &created,
            &Command::new("cancel").reason("duplicate"),
            &Context::new(&dispatcher(), minute(2)),
        )
        .expect("cancel applies to the old version");
    let result = store
        .write_tasks(&[applied_write(&engine, cancel)], None)
        .await;
    let Err(StoreError::Conflict(message)) = result else {
        panic!("expected a conflict, got {result:?}");
    };
    assert!(message.contains("changed meanwhile"), "{message}");
    assert_eq!(
        store.task(&created.id).await.expect("get task"),
        Some(dispatched)
    );
    assert_eq!(
        store
            .task_history(&created.id)
            .await
            .expect("history")
            .len(),
        2
    );
}

/// Inserting a task whose id exists fails.
pub async fn tasks_duplicate_insert_rejected(store: Arc<dyn Store>) {
    let engine = engine();
    let created = create(&store, &engine, "350203001", None, minute(0)).await;
    let again = engine
        .create(
            &new_task(&created.id, "350203001", None),
            &dispatcher(),
            minute(5),
        )
        .expect("create again");
    let result = store
        .write_tasks(&creation_writes(&engine, again), None)
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let stored = store.task(&created.id).await.expect("get task");
    assert_eq!(stored.map(|t| t.created_at), Some(minute(0)));
}

/// When one write of a call fails, the others of the call are not stored.
pub async fn tasks_failed_batch_writes_nothing(store: Arc<dyn Store>) {
    let engine = engine();
    let existing = create(&store, &engine, "350203001", None, minute(0)).await;
    let fresh = store.next_task_id().await.expect("allocate task id");
    let mut writes = creation_writes(
        &engine,
        engine
            .create(
                &new_task(&fresh, "350203001", None),
                &dispatcher(),
                minute(1),
            )
            .expect("create"),
    );
    writes.extend(creation_writes(
        &engine,
        engine
            .create(
                &new_task(&existing.id, "350203001", None),
                &dispatcher(),
                minute(1),
            )
            .expect("create"),
    ));
    let result = store.write_tasks(&writes, None).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.task(&fresh).await.expect("get task"), None);
    assert!(
        store
            .task_history(&fresh)
            .await
            .expect("history")
            .is_empty()
    );
}

/// Checks that the inbox lists the earliest running deadline first, tasks
/// without one last, and pages without gaps or repeats.
pub async fn tasks_inbox_order_and_paging(store: Arc<dyn Store>) {
    let engine = engine();
    // Dispatched later means a later sign-for deadline.
    let mut expected = Vec::new();
    for n in 0..5 {
        let task = create(&store, &engine, "350203001", None, minute(n)).await;
        let task = act(
            &store,
            &engine,
            &task,
            Command::new("dispatch"),
            &dispatcher(),
            minute(60 * (5 - n)),
        )
        .await;
        expected.insert(0, task.id.to_string());
    }
    let undispatched = create(&store, &engine, "350203001", None, minute(10)).await;
    expected.push(undispatched.id.to_string());

    let all = store
        .tasks(&TaskQuery::default())
        .await
        .expect("list tasks");
    assert_eq!(ids(&all.items), expected);
    assert_eq!(all.next_cursor, None);

    let mut paged = Vec::new();
    let mut query = TaskQuery {
        limit: 2,
        ..TaskQuery::default()
    };
    loop {
        let page = store.tasks(&query).await.expect("list page");
        assert!(page.items.len() <= 2);
        paged.extend(ids(&page.items));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.cursor = Some(cursor);
    }
    assert_eq!(paged, expected);
}

/// Filters by department, assignee, state, area, subject and deadline.
pub async fn tasks_inbox_filters(store: Arc<dyn Store>) {
    let engine = engine();
    let eeb = create(&store, &engine, "350203001", None, minute(0)).await;
    let eeb = act(
        &store,
        &engine,
        &eeb,
        Command::new("dispatch"),
        &dispatcher(),
        minute(1),
    )
    .await;
    let eeb = act(
        &store,
        &engine,
        &eeb,
        Command::new("sign"),
        &staff("sm-eeb"),
        minute(2),
    )
    .await;
    let mut assign = Command::new("assign");
    assign.assignee = Some(Assignee::Person(person("s1")));
    let eeb = act(&store, &engine, &eeb, assign, &staff("sm-eeb"), minute(3)).await;

    let urban = create(&store, &engine, "350206", Some("MNURBAN01"), minute(0)).await;
    let mut dispatch = Command::new("dispatch");
    dispatch.department = Some(department("sm-urban"));
    let urban = act(&store, &engine, &urban, dispatch, &dispatcher(), minute(1)).await;
    let cancelled = create(&store, &engine, "350203001", None, minute(0)).await;
    let cancelled = act(
        &store,
        &engine,
        &cancelled,
        Command::new("cancel").reason("duplicate of another report"),
        &dispatcher(),
        minute(1),
    )
    .await;

    let query = |f: fn(&mut TaskQuery)| {
        let mut query = TaskQuery::default();
        f(&mut query);
        query
    };
    let cases: Vec<(&str, TaskQuery, Vec<&TaskId>)> = vec![
        (
            "department",
            query(|q| q.department = Some(department("sm-eeb"))),
            vec![&eeb.id],
        ),
        (
            "assignee",
            query(|q| q.assignee = Some(Assignee::Person(person("s1")))),
            vec![&eeb.id],
        ),
        (
            "state",
            query(|q| q.states = vec!["cancelled".to_owned()]),
            vec![&cancelled.id],
        ),
        (
            "area",
            query(|q| q.areas = Some(vec![AreaCode::parse("350206").expect("valid")])),
            vec![&urban.id],
        ),
        ("no areas", query(|q| q.areas = Some(Vec::new())), vec![]),
        (
            "subjects",
            query(|q| {
                q.subjects = Some(vec![
                    SubjectId::parse("MNURBAN01").expect("valid"),
                    SubjectId::parse("MNOTHER01").expect("valid"),
                ]);
            }),
            vec![&urban.id],
        ),
        (
            "no subjects",
            query(|q| q.subjects = Some(Vec::new())),
            vec![],
        ),
        (
            "open by default",
            TaskQuery::default(),
            vec![&urban.id, &eeb.id],
        ),
    ];
    for (name, query, expected) in cases {
        let page = store.tasks(&query).await.expect("list tasks");
        let expected: Vec<String> = expected.iter().map(|id| id.to_string()).collect();
        assert_eq!(ids(&page.items), expected, "filter {name}");
    }

    // The sign-for deadline of the urban task has passed a week later; the
    // signed task's handling deadline has not.
    let overdue = store
        .tasks(&TaskQuery {
            due_before: Some(minute(60 * 24 * 3)),
            ..TaskQuery::default()
        })
        .await
        .expect("list overdue");
    assert_eq!(ids(&overdue.items), [urban.id.to_string()]);
}

/// Checks that a cursor this store did not issue is rejected.
pub async fn tasks_bad_cursor(store: Arc<dyn Store>) {
    let result = store
        .tasks(&TaskQuery {
            cursor: Some("not-a-cursor".to_owned()),
            ..TaskQuery::default()
        })
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidCursor(_))),
        "{result:?}"
    );
}

/// Tasks written with an escalation mark the alert escalated; a second
/// escalation is rejected and writes no task.
pub async fn tasks_escalation_marks_alert(store: Arc<dyn Store>) {
    let engine = engine();
    let alert = expect_event(
        apply_one(&store, trigger(UPPER, "MN001", "350203", 1, 250.0)).await,
        AlertTransition::Firing,
    )
    .alert;
    let id = store.next_task_id().await.expect("allocate task id");
    let mut new = new_task(&id, "350203", Some("MN001"));
    new.origin = Origin::Alert { alert_id: alert.id };
    let created = engine
        .create(&new, &dispatcher(), minute(2))
        .expect("create task");
    let escalation = Escalation {
        alert: alert.id,
        at: minute(2),
    };
    let event = store
        .write_tasks(
            &creation_writes(&engine, created.clone()),
            Some(&escalation),
        )
        .await
        .expect("escalate");
    let event = expect_event(event, AlertTransition::Escalated);
    assert_eq!(event.alert.escalated_at, Some(minute(2)));
    assert_eq!(event.reason.as_deref(), Some(format!("task {id}").as_str()));
    let stored = store
        .task(&id)
        .await
        .expect("get task")
        .expect("task stored");
    assert_eq!(stored.origin, Origin::Alert { alert_id: alert.id });

    let second = store.next_task_id().await.expect("allocate task id");
    let mut again = new_task(&second, "350203", Some("MN001"));
    again.origin = Origin::Alert { alert_id: alert.id };
    let created = engine
        .create(&again, &dispatcher(), minute(3))
        .expect("create task");
    let result = store
        .write_tasks(&creation_writes(&engine, created), Some(&escalation))
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.task(&second).await.expect("get task"), None);
}

/// Checks that an escalation without its task is rejected.
pub async fn tasks_escalation_without_task_rejected(store: Arc<dyn Store>) {
    let alert = expect_event(
        apply_one(&store, trigger(UPPER, "MN001", "350203", 1, 250.0)).await,
        AlertTransition::Firing,
    )
    .alert;
    let update = AlertUpdate::Escalate {
        id: alert.id,
        at: minute(2),
        task: EscalationRequest {
            origin_alert: alert.id,
            department: "sm-eeb".to_owned(),
            title: "COD above limit".to_owned(),
            deadline: minute(60),
        },
    };
    let result = store.apply_alert_updates(&[update]).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let stored = store.alert(alert.id).await.expect("get alert");
    assert_eq!(stored.and_then(|a| a.escalated_at), None);
}

/// Closing a task with an outcome stores its outcome record under the subject.
pub async fn tasks_outcome_records_by_subject(store: Arc<dyn Store>) {
    let engine = engine();
    let task = create(&store, &engine, "350203001", Some("MN001"), minute(0)).await;
    let steps: [(Command, Actor); 5] = [
        (Command::new("dispatch"), dispatcher()),
        (Command::new("sign"), staff("sm-eeb")),
        (Command::new("start"), staff("sm-eeb")),
        (
            Command {
                outcome: Some(OutcomeInput::Rectification {
                    item: "water-exceedance".to_owned(),
                    findings: "COD above the limit at the outlet".into(),
                    working_days: 5,
                }),
                ..Command::new("reply")
            },
            staff("sm-eeb"),
        ),
        (Command::new("review"), reviewer()),
    ];
    let mut task = task;
    for (n, (command, actor)) in steps.into_iter().enumerate() {
        let at = minute(10 * (i64::try_from(n).expect("few steps") + 1));
        task = act(&store, &engine, &task, command, &actor, at).await;
    }
    let closed = engine
        .apply(
            &task,
            &Command::new("close"),
            &Context::new(&dispatcher(), minute(100)),
        )
        .expect("close");
    assert!(closed.outcome_record.is_some());
    let mut writes = vec![applied_write(&engine, closed.clone())];
    writes.extend(
        closed
            .follow_ups
            .iter()
            .map(|c| TaskWrite::new(engine.workflow(), c.task.clone(), c.record.clone(), None)),
    );
    store.write_tasks(&writes, None).await.expect("store close");

    let subject = SubjectId::parse("MN001").expect("valid subject");
    let records = store.outcome_records(&subject).await.expect("outcomes");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].task, task.id);
    assert!(records[0].violation);
    assert_eq!(records[0].item.as_deref(), Some("water-exceedance"));
    let other = SubjectId::parse("MN002").expect("valid subject");
    assert!(
        store
            .outcome_records(&other)
            .await
            .expect("outcomes")
            .is_empty()
    );
    for follow_up in &closed.follow_ups {
        assert!(store.task(&follow_up.task.id).await.expect("get").is_some());
    }
}
