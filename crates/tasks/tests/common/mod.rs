//! Shared setup of the integration tests: an engine with Xiamen departments,
//! actors in every role, and commands that carry what each action needs.

#![allow(dead_code, unreachable_pub)]

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use oversight_core::AreaCode;
use oversight_tasks::*;

pub const CONFIG: &str = r#"
[[departments]]
id = "xm-supervision"
name = "厦门市人民政府督查室"

[[departments]]
id = "xm-eeb"
name = "厦门市生态环境局"
supervisor = "xm-supervision"

[[departments]]
id = "sm-eeb"
name = "厦门市思明生态环境局"
supervisor = "xm-supervision"

[[departments]]
id = "sm-urban"
name = "思明区城市管理局"

[[departments]]
id = "sm-market"
name = "思明区市场监督管理局"

[[routing]]
area = "3502"
department = "xm-eeb"

[[routing]]
area = "350203"
category = "water"
department = "sm-eeb"

[[routing]]
area = "350203"
category = "noise"
department = "sm-urban"
"#;

pub const FIRST_VIOLATION_LIST: &str = r#"
source = "test list"
[[items]]
code = "air-exceedance-minor"
name = "超标排放大气污染物"
conditions = "一个因子超标"
"#;

pub fn engine() -> Engine {
    let config = TasksConfig::parse(CONFIG).expect("test configuration parses");
    let list = FirstViolationList::parse(FIRST_VIOLATION_LIST).expect("test list parses");
    Engine::new(config, Holidays::china(), list).expect("test configuration is valid")
}

pub fn at(engine: &Engine, year: i16, month: i8, day: i8, hour: i8, minute: i8) -> Timestamp {
    let date = Date::new(year, month, day).expect("valid test date");
    let time = Time::new(hour, minute, 0, 0).expect("valid test time");
    engine
        .calendar()
        .instant(date, time)
        .expect("test instant in range")
}

pub fn end_of(engine: &Engine, year: i16, month: i8, day: i8) -> Timestamp {
    let date = Date::new(year, month, day).expect("valid test date");
    engine
        .calendar()
        .end_of_day(date)
        .expect("test date in range")
}

pub fn actor(role: Role, department: Option<&str>) -> Actor {
    Actor {
        person: PersonId::parse(&format!("{}-1", role.as_str())).expect("valid person id"),
        role,
        department: department.map(|d| DepartmentId::parse(d).expect("valid department id")),
    }
}

/// Returns an actor in `role` of the task's lead department, or of no
/// department before the task is routed.
pub fn lead_actor(task: &Task, role: Role) -> Actor {
    let department = task.lead_department.as_ref().map(DepartmentId::as_str);
    actor(role, department)
}

pub fn dispatcher() -> Actor {
    actor(Role::Dispatcher, None)
}

pub fn staff(department: &str) -> Actor {
    actor(Role::DepartmentStaff, Some(department))
}

pub fn supervisor() -> Actor {
    actor(Role::Supervisor, None)
}

pub fn reviewer() -> Actor {
    actor(Role::Reviewer, None)
}

pub fn dept(id: &str) -> DepartmentId {
    DepartmentId::parse(id).expect("valid department id")
}

pub fn new_task(id: &str, area: &str, category: &str) -> NewTask {
    NewTask {
        id: TaskId::parse(id).expect("valid task id"),
        origin: Origin::Alert {
            alert_id: oversight_core::AlertId(42),
        },
        subject: Some(SubjectId::parse("91350203MA31XXXX0X").expect("valid subject")),
        area: AreaCode::parse(area).expect("valid area"),
        category: Category::parse(category).expect("valid category"),
        title: "污水排放口 COD 超标".into(),
        description: "在线监测 COD 小时均值超过排放限值".into(),
        lead_department: None,
        co_departments: Vec::new(),
        evidence: Vec::new(),
        reporter: None,
    }
}

pub fn no_violation() -> OutcomeInput {
    OutcomeInput::NoViolation {
        findings: "现场检查未发现违法行为".into(),
    }
}

/// Returns a command for `action` with every input its effects need and a reason.
pub fn full_command(engine: &Engine, action: &str) -> Command {
    let mut command = Command::new(action).reason("测试原因");
    let Some(config) = engine.workflow().action(action) else {
        return command;
    };
    for effect in &config.effects {
        match effect {
            Effect::Assign => {
                command.assignee = Some(Assignee::Person(
                    PersonId::parse("officer-7").expect("valid person id"),
                ));
            }
            Effect::RequestExtension => command.extension_working_days = Some(3),
            Effect::RecordOutcome => command.outcome = Some(no_violation()),
            _ => {}
        }
    }
    command
}

/// Applies `command` to `task` as `actor` at `now`, failing the test unless
/// the engine accepts it.
pub fn apply(
    engine: &Engine,
    task: &Task,
    command: &Command,
    actor: &Actor,
    now: Timestamp,
) -> Applied {
    engine
        .apply(task, command, &Context::new(actor, now))
        .unwrap_or_else(|e| panic!("{} from {}: {e}", command.action, task.state))
}

/// Applies `command` to `task` as `actor` at `now` and returns the error,
/// failing the test if the engine accepts it.
pub fn apply_err(
    engine: &Engine,
    task: &Task,
    command: &Command,
    actor: &Actor,
    now: Timestamp,
) -> TaskError {
    engine
        .apply(task, command, &Context::new(actor, now))
        .expect_err("the command should be rejected")
}

/// Applies `action` with its full command as the first role allowed, in the
/// lead department, and returns the result.
pub fn step_applied(engine: &Engine, task: &Task, action: &str, now: Timestamp) -> Applied {
    let config = engine.workflow().action(action).expect("action exists");
    let actor = lead_actor(task, config.roles[0]);
    apply(engine, task, &full_command(engine, action), &actor, now)
}

/// Applies `action` like [`step_applied`] and returns the new task.
pub fn step(engine: &Engine, task: &Task, action: &str, now: Timestamp) -> Task {
    step_applied(engine, task, action, now).task
}

/// Returns the actions that bring a new task to `state` in the default workflow.
pub fn path_to(state: &str) -> &'static [&'static str] {
    match state {
        "created" => &[],
        "dispatched" => &["dispatch"],
        "signed" => &["dispatch", "sign"],
        "in_progress" => &["dispatch", "sign", "start"],
        "extension_requested" => &["dispatch", "sign", "start", "request_extension"],
        "replied" => &["dispatch", "sign", "start", "reply"],
        "reviewed" => &["dispatch", "sign", "start", "reply", "review"],
        "closed" => &["dispatch", "sign", "start", "reply", "review", "close"],
        "returned" => &["dispatch", "return"],
        "cancelled" => &["cancel"],
        other => panic!("no path to {other}"),
    }
}

/// Creates a task routed to sm-eeb and brings it to `state`.
pub fn task_in(engine: &Engine, state: &str, now: Timestamp) -> Task {
    let created = engine
        .create(&new_task("T1", "350203001", "water"), &dispatcher(), now)
        .expect("task is created");
    let mut task = created.lead.task;
    for action in path_to(state) {
        task = step(engine, &task, action, now);
    }
    assert_eq!(task.state, state);
    task
}
