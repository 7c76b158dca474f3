//! Supervision tasks: the task rows, their transition history and outcome records.

use oversight_core::personal::{Contact, Disclosure, IdNumber, PersonName, PhoneNumber, disclosed};
use oversight_store::{
    AlertChange, Escalation, NewLedgerEntry, Page, RULE_ENGINE_PERSON, StoreError, StoreResult,
    TaskHistoryEntry, TaskQuery, TaskWrite,
};
use oversight_tasks::{Assignee, OutcomeRecord, SubjectId, Task, TaskId, TransitionRecord};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};

use crate::alerts;
use crate::codec::{areas_condition, micros, page_size};
use crate::error::{SqliteError, backend};
use crate::ledger;

/// The `due_key` of a task without a running deadline: after every real one.
const NO_DEADLINE: i64 = i64::MAX;
const MAX_PAGE: u32 = 1000;

/// Allocates the next task number.
pub(crate) fn next_id(conn: &Connection) -> StoreResult<TaskId> {
    let n: i64 = conn
        .prepare_cached("INSERT INTO task_ids DEFAULT VALUES RETURNING n")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend("allocate task id"))?;
    TaskId::parse(&format!("T{n}")).map_err(|error| backend("allocate task id")(error))
}

/// Writes tasks and their records, and the escalation of an alert, in the caller's transaction.
pub(crate) fn write(
    conn: &Connection,
    writes: &[TaskWrite],
    escalation: Option<&Escalation>,
) -> StoreResult<AlertChange> {
    for write in writes {
        write_one(conn, write)?;
    }
    let Some(escalation) = escalation else {
        return Ok(None);
    };
    let created: Vec<&str> = writes
        .iter()
        .filter(|write| write.task.version == 1 && write.task.parent.is_none())
        .map(|write| write.task.id.as_str())
        .collect();
    let reason = format!("task {}", created.join(", "));
    alerts::escalate(conn, escalation.alert, escalation.at, &reason).map(Some)
}

fn write_one(conn: &Connection, write: &TaskWrite) -> StoreResult<()> {
    const OPERATION: &str = "write task";
    let task = &write.task;
    if write.record.task != task.id || write.record.version != task.version {
        return Err(StoreError::Conflict(format!(
            "record of task {} version {} does not belong to task {} version {}",
            write.record.task, write.record.version, task.id, task.version
        )));
    }
    let body =
        disclosed(Disclosure::Full, || serde_json::to_string(task)).map_err(backend(OPERATION))?;
    let due_key = write.due_at.map_or(NO_DEADLINE, micros);
    let assignee = task.assignee.as_ref().map(assignee_key);
    let columns = params![
        task.id.as_str(),
        task.version,
        task.state,
        write.open,
        task.lead_department.as_ref().map(|d| d.as_str()),
        assignee,
        task.parent.as_ref().map(|p| p.as_str()),
        task.area.as_str(),
        task.category.as_str(),
        task.subject.as_ref().map(|s| s.as_str()),
        due_key,
        micros(task.created_at),
        micros(task.updated_at),
        body,
    ];
    if task.version == 1 {
        let inserted = conn
            .prepare_cached(
                "INSERT INTO tasks (id, version, state, open, lead_department, assignee, parent, \
                 area, category, subject, due_key, created_at, updated_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut statement| statement.execute(columns))
            .map_err(backend(OPERATION))?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "task {} already exists",
                task.id
            )));
        }
        if let Some(reporter) = &task.reporter {
            insert_reporter(conn, &task.id, reporter)?;
        }
    } else {
        let updated = conn
            .prepare_cached(
                "UPDATE tasks SET version = ?2, state = ?3, open = ?4, lead_department = ?5, \
                 assignee = ?6, parent = ?7, area = ?8, category = ?9, subject = ?10, \
                 due_key = ?11, created_at = ?12, updated_at = ?13, body = ?14 \
                 WHERE id = ?1 AND version = ?2 - 1",
            )
            .and_then(|mut statement| statement.execute(columns))
            .map_err(backend(OPERATION))?;
        if updated == 0 {
            return Err(stale(conn, task)?);
        }
    }
    append_record(conn, &write.record)?;
    if let Some(outcome) = &write.outcome {
        append_outcome(conn, outcome)?;
    }
    Ok(())
}

/// Explains why replacing `task` failed: it is missing or was changed meanwhile.
fn stale(conn: &Connection, task: &Task) -> StoreResult<StoreError> {
    let stored: Option<u64> = conn
        .prepare_cached("SELECT version FROM tasks WHERE id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([task.id.as_str()], |row| row.get(0))
                .optional()
        })
        .map_err(backend("look up task version"))?;
    Ok(match stored {
        None => StoreError::NotFound {
            what: "task",
            key: task.id.to_string(),
        },
        Some(version) => StoreError::Conflict(format!(
            "task {} is at version {version}, not {}: it changed meanwhile; reload it and retry",
            task.id,
            task.version - 1
        )),
    })
}

/// Appends the record to the task's history and to the ledger.
fn append_record(conn: &Connection, record: &TransitionRecord) -> StoreResult<()> {
    const OPERATION: &str = "append task transition";
    let payload =
        disclosed(Disclosure::Full, || serde_json::to_value(record)).map_err(backend(OPERATION))?;
    let actor = ledger_actor(record);
    let ledger_index = ledger::append_one(
        conn,
        NewLedgerEntry::new(
            format!("task.{}", record.action),
            format!("task:{}", record.task),
            actor,
            payload.clone(),
        ),
    )?;
    conn.prepare_cached(
        "INSERT INTO task_transitions (task_id, version, action, at, record, ledger_index) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            record.task.as_str(),
            record.version,
            record.action,
            micros(record.at),
            payload.to_string(),
            i64::try_from(ledger_index).ok(),
        ])
    })
    .map_err(backend(OPERATION))?;
    Ok(())
}

/// Returns the ledger's actor of a record: `user:NAME` for a person, `engine`
/// for tasks the rule engine created, and `system` for the scheduler's
/// reminders and escalations, which have no actor.
fn ledger_actor(record: &TransitionRecord) -> String {
    match &record.actor {
        None => "system".to_owned(),
        Some(actor) if actor.person.as_str() == RULE_ENGINE_PERSON => "engine".to_owned(),
        Some(actor) => format!("user:{}", actor.person),
    }
}

fn append_outcome(conn: &Connection, outcome: &OutcomeRecord) -> StoreResult<()> {
    const OPERATION: &str = "store outcome record";
    let json = disclosed(Disclosure::Full, || serde_json::to_string(outcome))
        .map_err(backend(OPERATION))?;
    conn.prepare_cached(
        "INSERT INTO task_outcomes (task_id, subject, decided_at, record) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (task_id) DO UPDATE SET subject = ?2, decided_at = ?3, record = ?4",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            outcome.task.as_str(),
            outcome.subject.as_ref().map(|s| s.as_str()),
            micros(outcome.decided_at),
            json
        ])
    })
    .map_err(backend(OPERATION))?;
    Ok(())
}

fn insert_reporter(conn: &Connection, task: &TaskId, reporter: &Contact) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO task_reporters (task_id, name, phone, id_number) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            task.as_str(),
            reporter.name.as_str(),
            reporter.phone.as_str(),
            reporter.id_number.as_ref().map(IdNumber::as_str),
        ])
    })
    .map_err(backend("store task reporter"))?;
    Ok(())
}

/// The columns of a task's reporter, all NULL when it has none.
type ReporterColumns = (Option<String>, Option<String>, Option<String>);

/// The join that reads each task's reporter beside its body.
const REPORTER_JOIN: &str = "LEFT JOIN task_reporters r ON r.task_id = t.id";

fn reporter_columns(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ReporterColumns> {
    Ok((row.get(first)?, row.get(first + 1)?, row.get(first + 2)?))
}

/// Decodes a task's body and attaches its reporter.
fn decode_task(body: &str, reporter: ReporterColumns) -> StoreResult<Task> {
    let mut task: Task = decode("task", body)?;
    let (Some(name), Some(phone), id_number) = reporter else {
        return Ok(task);
    };
    let corrupt = |error: oversight_core::ValidationError| {
        backend("decode stored task")(SqliteError::Corrupt {
            what: "task reporter",
            value: task.id.to_string(),
            reason: error.to_string(),
        })
    };
    let contact = Contact {
        name: PersonName::parse(&name).map_err(corrupt)?,
        phone: PhoneNumber::parse(&phone).map_err(corrupt)?,
        id_number: id_number
            .as_deref()
            .map(IdNumber::parse)
            .transpose()
            .map_err(corrupt)?,
    };
    task.reporter = Some(contact);
    Ok(task)
}

fn assignee_key(assignee: &Assignee) -> String {
    match assignee {
        Assignee::Person(person) => format!("person:{person}"),
        Assignee::Group(group) => format!("group:{group}"),
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|error| {
        backend("decode stored task")(SqliteError::Corrupt {
            what,
            value: json.chars().take(200).collect(),
            reason: error.to_string(),
        })
    })
}

/// Returns one task.
pub(crate) fn one(conn: &Connection, id: &TaskId) -> StoreResult<Option<Task>> {
    let sql = format!(
        "SELECT t.body, r.name, r.phone, r.id_number FROM tasks t {REPORTER_JOIN} WHERE t.id = ?1"
    );
    let row: Option<(String, ReporterColumns)> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_row([id.as_str()], |row| {
                    Ok((row.get(0)?, reporter_columns(row, 1)?))
                })
                .optional()
        })
        .map_err(backend("look up task"))?;
    row.map(|(body, reporter)| decode_task(&body, reporter))
        .transpose()
}

/// Returns a task's history, oldest first.
pub(crate) fn history(conn: &Connection, id: &TaskId) -> StoreResult<Vec<TaskHistoryEntry>> {
    let rows: Vec<(i64, String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT seq, record, ledger_index FROM task_transitions WHERE task_id = ?1 \
             ORDER BY version",
        )
        .and_then(|mut statement| {
            statement
                .query_map([id.as_str()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        })
        .map_err(backend("list task transitions"))?;
    rows.into_iter()
        .map(|(seq, record, ledger_index)| {
            Ok(TaskHistoryEntry {
                seq,
                ledger_index: ledger_index.and_then(|index| u64::try_from(index).ok()),
                record: decode("task transition", &record)?,
            })
        })
        .collect()
}

/// Returns the outcome records of one subject, oldest first.
pub(crate) fn outcomes(conn: &Connection, subject: &SubjectId) -> StoreResult<Vec<OutcomeRecord>> {
    let rows: Vec<String> = conn
        .prepare_cached(
            "SELECT record FROM task_outcomes WHERE subject = ?1 ORDER BY decided_at, task_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([subject.as_str()], |row| row.get(0))?
                .collect()
        })
        .map_err(backend("list outcome records"))?;
    rows.iter()
        .map(|record| decode("outcome record", record))
        .collect()
}

/// Position after the last task of a page: its due key, creation time and id.
struct TaskCursor {
    due_key: i64,
    created_at: i64,
    id: String,
}

impl TaskCursor {
    fn encode(&self) -> String {
        format!("t.{}.{}.{}", self.due_key, self.created_at, self.id)
    }

    fn decode(cursor: &str) -> StoreResult<Self> {
        let invalid = || StoreError::InvalidCursor(cursor.to_owned());
        let rest = cursor.strip_prefix("t.").ok_or_else(invalid)?;
        let mut parts = rest.splitn(3, '.');
        let due_key = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(invalid)?;
        let created_at = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(invalid)?;
        let id = parts.next().filter(|p| !p.is_empty()).ok_or_else(invalid)?;
        Ok(Self {
            due_key,
            created_at,
            id: id.to_owned(),
        })
    }
}

/// A WHERE clause under construction, with its numbered parameters.
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    values: Vec<Box<dyn ToSql>>,
}

impl Filter {
    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, value: impl ToSql + 'static) -> String {
        self.values.push(Box::new(value));
        format!("?{}", self.values.len())
    }

    /// Adds `column operator value`.
    fn compare(&mut self, column: &str, operator: &str, value: impl ToSql + 'static) {
        let placeholder = self.param(value);
        self.conditions
            .push(format!("{column} {operator} {placeholder}"));
    }
}

/// Returns tasks in inbox order, filtered and paged.
pub(crate) fn list(conn: &Connection, query: &TaskQuery) -> StoreResult<Page<Task>> {
    const OPERATION: &str = "list tasks";
    let limit = page_size(query.limit, MAX_PAGE);
    let mut filter = Filter::default();
    if query.states.is_empty() {
        filter.conditions.push("open = 1".to_owned());
    } else {
        let placeholders: Vec<String> = query
            .states
            .iter()
            .map(|state| filter.param(state.clone()))
            .collect();
        let condition = format!("state IN ({})", placeholders.join(", "));
        filter.conditions.push(condition);
    }
    if let Some(department) = &query.department {
        filter.compare("lead_department", "=", department.to_string());
    }
    if let Some(assignee) = &query.assignee {
        filter.compare("assignee", "=", assignee_key(assignee));
    }
    if query.areas.is_some() {
        let condition =
            areas_condition("area", query.areas.as_deref(), |bound| filter.param(bound));
        filter.conditions.push(condition);
    }
    if let Some(subjects) = &query.subjects {
        let placeholders: Vec<String> = subjects
            .iter()
            .map(|subject| filter.param(subject.to_string()))
            .collect();
        let condition = if placeholders.is_empty() {
            "0".to_owned()
        } else {
            format!("subject IN ({})", placeholders.join(", "))
        };
        filter.conditions.push(condition);
    }
    if let Some(category) = &query.category {
        filter.compare("category", "=", category.to_string());
    }
    if let Some(due_before) = query.due_before {
        filter.compare("due_key", "<=", micros(due_before));
    }
    if let Some(cursor) = &query.cursor {
        let cursor = TaskCursor::decode(cursor)?;
        let due_key = filter.param(cursor.due_key);
        let created_at = filter.param(cursor.created_at);
        let id = filter.param(cursor.id);
        let condition = format!("(due_key, created_at, id) > ({due_key}, {created_at}, {id})");
        filter.conditions.push(condition);
    }
    let limit_param = filter.param(i64::from(limit) + 1);
    let sql = format!(
        "SELECT t.due_key, t.created_at, t.id, t.body, r.name, r.phone, r.id_number \
         FROM tasks t {REPORTER_JOIN} WHERE {} \
         ORDER BY t.due_key, t.created_at, t.id LIMIT {limit_param}",
        filter.conditions.join(" AND "),
    );
    let params: Vec<&dyn ToSql> = filter.values.iter().map(|value| value.as_ref()).collect();
    let rows: Vec<(TaskCursor, String, ReporterColumns)> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params.as_slice(), |row| {
                    Ok((
                        TaskCursor {
                            due_key: row.get(0)?,
                            created_at: row.get(1)?,
                            id: row.get(2)?,
                        },
                        row.get(3)?,
                        reporter_columns(row, 4)?,
                    ))
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    let limit = usize::try_from(limit).expect("u32 fits usize");
    let next_cursor = (rows.len() > limit).then(|| rows[limit - 1].0.encode());
    let items = rows
        .iter()
        .take(limit)
        .map(|(_, body, reporter)| decode_task(body, reporter.clone()))
        .collect::<StoreResult<Vec<Task>>>()?;
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_ids_with_dots() {
        let cursor = TaskCursor {
            due_key: NO_DEADLINE,
            created_at: 5,
            id: "T1.c1".to_owned(),
        };
        let decoded = TaskCursor::decode(&cursor.encode()).expect("valid cursor");
        assert_eq!(decoded.due_key, NO_DEADLINE);
        assert_eq!(decoded.created_at, 5);
        assert_eq!(decoded.id, "T1.c1");
    }

    #[test]
    fn cursor_rejects_foreign_text() {
        for bad in ["", "a.5", "t.x.1.T1", "t.1.2.", "t.1"] {
            assert!(TaskCursor::decode(bad).is_err(), "{bad:?}");
        }
    }
}
