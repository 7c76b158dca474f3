//! Router tests of personal data: who sees a public report's reporter and
//! the phone and ID numbers in task text in full, in the task routes and in
//! the CSV and XLSX exports, and how invalid contacts are rejected.

use std::io::Read as _;

use axum::http::{Method, StatusCode};
use oversight_auth::{Action, Role};
use oversight_core::{Area, AreaCode};
use oversight_store::{AccountStore, Store};
use oversight_tasks::{Engine, FirstViolationList, Holidays, TasksConfig};
use serde_json::{Value, json};

use super::auth_tests::{Fixture, Reply, new_user};
use super::tests::setup_audit;
use crate::auth::AuthConfig;

const TASK_CONFIG: &str = r#"
[[departments]]
id = "sm-eeb"
name = "Siming EEB"

[[departments]]
id = "sm-urban"
name = "Siming Urban"
"#;

const PHONE: &str = "13812345678";
const PHONE_MASKED: &str = "138****5678";
const ID_NUMBER: &str = "11010519491231002X";
const ID_MASKED: &str = "1101**********002X";
const OTHER_PHONE: &str = "13912345678";
const OTHER_PHONE_MASKED: &str = "139****5678";
const MN: &str = "MNPRIV01";

/// Accounts of every role, with their bearer tokens, and two public-report
/// tasks in 思明区: one led by the accounts' department, one by another.
struct World {
    fixture: Fixture,
    tokens: Vec<(&'static str, String)>,
    own_task: String,
    other_task: String,
}

impl World {
    async fn new() -> Self {
        let config = TasksConfig::parse(TASK_CONFIG).unwrap();
        let engine = Engine::new(config, Holidays::china(), FirstViolationList::empty()).unwrap();
        let fixture = Fixture::with_engine(AuthConfig::default(), engine).await;
        fixture.add_point(MN, "350203").await;
        let siming = fixture.add_department("Siming EEB", &["350203"]).await;
        fixture
            .store
            .upsert_areas(&[
                Area::new(AreaCode::parse("350206").unwrap(), "湖里区").unwrap(),
                Area::new(AreaCode::parse("350203001").unwrap(), "鼓浪屿街道").unwrap(),
            ])
            .await
            .unwrap();
        let mut world = Self {
            fixture,
            tokens: Vec::new(),
            own_task: String::new(),
            other_task: String::new(),
        };
        let accounts = [
            ("admin", Role::SystemAdmin),
            ("dept_admin", Role::DepartmentAdmin),
            ("staff", Role::DepartmentStaff),
            ("inspector", Role::Inspector),
            ("enterprise", Role::RegulatedParty),
        ];
        for (name, role) in accounts {
            let department_id = role.needs_department().then_some(siming.id);
            world
                .add_account(name, role, department_id, Vec::new())
                .await;
        }
        // The system administrator's token without read_personal_data.
        let admin_id = world
            .fixture
            .store
            .user_by_name("admin")
            .await
            .unwrap()
            .unwrap()
            .id;
        let narrowed = vec![Action::ReadTasks, Action::HandleTasks];
        world.add_token("admin_narrowed", admin_id, narrowed).await;
        world.own_task = world.create_report("sm-eeb").await;
        world.other_task = world.create_report("sm-urban").await;
        world
    }

    async fn add_account(
        &mut self,
        name: &'static str,
        role: Role,
        department_id: Option<i64>,
        actions: Vec<Action>,
    ) {
        let mut user = new_user(name, role, department_id);
        if role == Role::RegulatedParty {
            user.points = vec![oversight_core::Mn::parse(MN).unwrap()];
        }
        let user = self
            .fixture
            .store
            .create_user(&user, &setup_audit())
            .await
            .unwrap();
        self.add_token(name, user.id, actions).await;
    }

    async fn add_token(&mut self, name: &'static str, user_id: i64, actions: Vec<Action>) {
        let token = self.fixture.add_token(user_id, name, actions).await;
        self.tokens.push((name, token));
    }

    fn token(&self, name: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .unwrap()
            .1
    }

    async fn send(&self, name: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let headers = [("authorization", self.token(name))];
        self.fixture.send(method, uri, body, &headers).await
    }

    /// Creates a public-report task led by `department` as the system
    /// administrator and returns its id.
    async fn create_report(&self, department: &str) -> String {
        let reply = self
            .send(
                "admin",
                Method::POST,
                "/api/v1/tasks",
                Some(report(department)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json["task"]["id"].as_str().unwrap().to_owned()
    }
}

fn report(department: &str) -> Value {
    json!({
        "origin": {"kind": "public_report", "report_id": "R-1"},
        "subject": MN,
        "area": "350203001",
        "category": "water",
        "title": "排放口异味",
        "description": format!("群众 {OTHER_PHONE} 反映排放口异味"),
        "lead_department": department,
        "evidence": [{"kind": "note", "text": format!("身份证 {ID_NUMBER}")}],
        "reporter": {"name": "张三", "phone": PHONE, "id_number": ID_NUMBER},
    })
}

/// Returns the reporter's name, phone and ID number and the phone in the
/// description of [`report`], in full or masked.
fn report_personal_data(full: bool) -> (&'static str, &'static str, &'static str, &'static str) {
    if full {
        ("张三", PHONE, ID_NUMBER, OTHER_PHONE)
    } else {
        ("张*", PHONE_MASKED, ID_MASKED, OTHER_PHONE_MASKED)
    }
}

/// Returns [`PHONE`] in full or masked.
fn phone_shown(full: bool) -> &'static str {
    if full { PHONE } else { PHONE_MASKED }
}

/// Returns true if account `name` of [`World`] may not see a reporter at
/// all: the regulated party.
fn reporter_withheld_from(name: &str) -> bool {
    name == "enterprise"
}

/// Asserts that a task's personal data is shown in full or masked, and that
/// its reporter is left out for a regulated party.
fn assert_task_shown(task: &Value, full: bool, who: &str) {
    let (name, phone, id, other) = report_personal_data(full);
    if reporter_withheld_from(who) {
        assert!(task.get("reporter").is_none(), "{who}: {task}");
        assert_eq!(task["reporter_withheld"], true, "{who}: {task}");
    } else {
        assert_eq!(task["reporter"]["name"], name, "{who}: {task}");
        assert_eq!(task["reporter"]["phone"], phone, "{who}: {task}");
        assert_eq!(task["reporter"]["id_number"], id, "{who}: {task}");
        assert!(task.get("reporter_withheld").is_none(), "{who}: {task}");
    }
    let description = task["description"].as_str().unwrap();
    assert!(description.contains(other), "{who}: {description}");
    let note = task["evidence"][0]["kind"]["text"]
        .as_str()
        .or_else(|| task["evidence"][0]["text"].as_str())
        .unwrap_or_else(|| panic!("{who}: no note in {task}"));
    assert!(note.contains(id), "{who}: {note}");
}

/// Who sees the task led by the accounts' department in full.
const OWN_TASK_VIEWERS: [(&str, bool); 6] = [
    ("admin", true),
    ("admin_narrowed", false),
    ("dept_admin", true),
    ("staff", true),
    ("inspector", false),
    ("enterprise", false),
];

#[tokio::test]
async fn task_routes_mask_by_role() {
    let world = World::new().await;
    for (name, full) in OWN_TASK_VIEWERS {
        let uri = format!("/api/v1/tasks/{}", world.own_task);
        let reply = world.send(name, Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.json);
        assert_task_shown(&reply.json["task"], full, name);
        let history = reply.json["history"].to_string();
        assert_eq!(history.contains(ID_NUMBER), full, "{name}: {history}");
        assert_eq!(
            reply.json["history"][0]["ledger_leaf"].is_string(),
            full,
            "{name}: the leaf holds the note's ID number"
        );

        let list = world.send(name, Method::GET, "/api/v1/tasks", None).await;
        assert_eq!(list.status, StatusCode::OK, "{name}: {}", list.json);
        let listed = list.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|task| task["id"] == world.own_task.as_str())
            .unwrap_or_else(|| panic!("{name}: own task not listed: {}", list.json));
        assert_task_shown(listed, full, name);
    }
}

#[tokio::test]
async fn other_department_task_masked_for_staff() {
    let world = World::new().await;
    let uri = format!("/api/v1/tasks/{}", world.other_task);
    for (name, full) in [("admin", true), ("dept_admin", false), ("staff", false)] {
        let reply = world.send(name, Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.json);
        assert_task_shown(&reply.json["task"], full, name);
    }
}

#[tokio::test]
async fn action_record_masked_for_other_department() {
    let world = World::new().await;
    let uri = format!("/api/v1/tasks/{}/actions/add_evidence", world.other_task);
    let body = json!({"evidence": [{"kind": "note", "text": format!("回电 {PHONE}")}]});
    // A department administrator dispatches for every department, but sees
    // personal data in full only on its own department's tasks.
    let reply = world
        .send("dept_admin", Method::POST, &uri, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let record = reply.json["record"].to_string();
    assert!(record.contains(PHONE_MASKED), "{record}");
    assert!(!record.contains(PHONE), "{record}");
    // The stored note keeps the full number.
    let detail = world
        .send(
            "admin",
            Method::GET,
            &format!("/api/v1/tasks/{}", world.other_task),
            None,
        )
        .await;
    assert!(
        detail.json.to_string().contains(&format!("回电 {PHONE}")),
        "{}",
        detail.json
    );
}

/// Returns the cells of each CSV row by column name.
fn csv_rows(bytes: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers
                .iter()
                .zip(record.iter())
                .map(|(header, cell)| (header.to_owned(), cell.to_owned()))
                .collect()
        })
        .collect()
}

/// Exports the tasks as CSV as account `name` and returns the row of the
/// task led by the accounts' department.
async fn own_task_csv_row(world: &World, name: &str) -> std::collections::HashMap<String, String> {
    let reply = world
        .send(name, Method::GET, "/api/v1/tasks/export.csv", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{name}");
    csv_rows(&reply.bytes)
        .into_iter()
        .find(|row| row["id"] == world.own_task)
        .unwrap_or_else(|| panic!("{name}: own task missing"))
}

#[tokio::test]
async fn csv_export_masks_by_role() {
    let world = World::new().await;
    for (name, full) in OWN_TASK_VIEWERS {
        let row = own_task_csv_row(&world, name).await;
        let (reporter, phone, id, other) = report_personal_data(full);
        if reporter_withheld_from(name) {
            assert_eq!(row["reporter_name"], "", "{name}");
            assert_eq!(row["reporter_phone"], "", "{name}");
            assert_eq!(row["reporter_id_number"], "", "{name}");
            assert_eq!(row["reporter_withheld"], "true", "{name}");
        } else {
            assert_eq!(row["reporter_name"], reporter, "{name}");
            assert_eq!(row["reporter_phone"], phone, "{name}");
            assert_eq!(row["reporter_id_number"], id, "{name}");
            assert_eq!(row["reporter_withheld"], "false", "{name}");
        }
        assert!(
            row["description"].contains(other),
            "{name}: {}",
            row["description"]
        );
    }
}

/// Returns the shared strings of an XLSX workbook, where its text cells are.
fn xlsx_strings(bytes: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut strings = String::new();
    archive
        .by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut strings)
        .unwrap();
    strings
}

/// Exports the tasks as XLSX as account `name` and returns the shared strings.
async fn exported_xlsx_strings(world: &World, name: &str) -> String {
    let reply = world
        .send(name, Method::GET, "/api/v1/tasks/export.xlsx", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{name}");
    xlsx_strings(&reply.bytes)
}

/// Accounts of the XLSX export test, each with whether its export shows personal data in full.
const XLSX_VIEWERS: [(&str, bool); 3] = [("admin", true), ("staff", true), ("inspector", false)];

#[tokio::test]
async fn xlsx_export_masks_by_role() {
    let world = World::new().await;
    for (name, full) in XLSX_VIEWERS {
        let strings = exported_xlsx_strings(&world, name).await;
        assert!(strings.contains("reporter_phone"), "{name}: {strings}");
        assert_eq!(strings.contains(PHONE), full, "{name}: {strings}");
        assert_eq!(strings.contains(ID_NUMBER), full, "{name}: {strings}");
        // The task of the other department is masked for everyone but the
        // system administrator.
        assert_eq!(
            strings.contains(PHONE_MASKED),
            name != "admin",
            "{name}: {strings}"
        );
    }
}

#[tokio::test]
async fn reporter_withheld_from_regulated_party() {
    let world = World::new().await;
    let uri = format!("/api/v1/tasks/{}", world.own_task);
    let detail = world.send("enterprise", Method::GET, &uri, None).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.json);
    let list = world
        .send("enterprise", Method::GET, "/api/v1/tasks", None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    let csv = world
        .send("enterprise", Method::GET, "/api/v1/tasks/export.csv", None)
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let xlsx = exported_xlsx_strings(&world, "enterprise").await;

    // The task's evidence note carries the ID number too, masked, but the
    // exports leave evidence out, so only they must lack it.
    let responses = [
        ("detail", detail.json.to_string(), false),
        ("list", list.json.to_string(), false),
        ("csv", String::from_utf8(csv.bytes.to_vec()).unwrap(), true),
        ("xlsx", xlsx, true),
    ];
    for (route, text, export) in responses {
        assert!(!text.contains('张'), "{route}: {text}");
        assert!(!text.contains(PHONE_MASKED), "{route}: {text}");
        if export {
            assert!(!text.contains(ID_MASKED), "{route}: {text}");
        }
    }
    assert_eq!(detail.json["task"]["reporter_withheld"], true);
}

#[tokio::test]
async fn invalid_contact_rejected() {
    let world = World::new().await;
    let cases = [
        ("phone", json!("1381234567"), "1381234567", "11 digits"),
        (
            "id_number",
            json!("110105194912310021"),
            "110105194912310021",
            "check digit",
        ),
        ("id_number", json!("3502"), "3502", "18 characters"),
        ("name", json!(""), "", "1 to 50 characters"),
    ];
    for (field, value, shown, expected) in cases {
        let mut body = report("sm-eeb");
        body["reporter"][field] = value;
        let reply = world
            .send("admin", Method::POST, "/api/v1/tasks", Some(body))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            reply.json
        );
        let message = reply.error_message();
        assert!(message.contains(expected), "{field}: {message}");
        assert!(
            message.contains(&format!("{shown:?}")),
            "{field}: {message}"
        );
    }
    let mut manual = report("sm-eeb");
    manual["origin"] = json!({"kind": "manual"});
    let reply = world
        .send("admin", Method::POST, "/api/v1/tasks", Some(manual))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.json);
    let message = reply.error_message();
    assert!(message.contains("public_report"), "{message}");
    // No rejected request stored a task.
    let list = world
        .send("admin", Method::GET, "/api/v1/tasks", None)
        .await;
    assert_eq!(
        list.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        list.json
    );
}

impl World {
    /// Returns the ledger entries of `kind`, oldest first.
    async fn ledger(&self, kind: &str) -> Vec<oversight_store::LedgerEntry> {
        let entries = self.fixture.store.ledger_entries(0, 1000).await.unwrap();
        entries
            .into_iter()
            .filter(|entry| entry.kind == kind)
            .collect()
    }
}

#[tokio::test]
async fn exports_recorded_in_ledger() {
    let world = World::new().await;
    let csv = world
        .send(
            "staff",
            Method::GET,
            "/api/v1/tasks/export.csv?state=created",
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let xlsx = world
        .send("inspector", Method::GET, "/api/v1/tasks/export.xlsx", None)
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);

    let exports = world.ledger("data.exported").await;
    assert_eq!(exports.len(), 2, "{exports:?}");
    let (staff, inspector) = (&exports[0], &exports[1]);
    assert_eq!(staff.actor, "user:staff");
    assert_eq!(staff.subject, "tasks");
    assert_eq!(staff.payload["format"], "csv");
    assert_eq!(staff.payload["filter"], "state=created");
    assert_eq!(staff.payload["rows"], 2);
    assert_eq!(
        staff.payload["personal_data_in_full"],
        json!([world.own_task])
    );
    assert_eq!(inspector.actor, "user:inspector");
    assert_eq!(inspector.payload["format"], "xlsx");
    assert_eq!(inspector.payload["filter"], "");
    assert_eq!(inspector.payload["rows"], 2);
    assert_eq!(inspector.payload["personal_data_in_full"], json!([]));
}

#[tokio::test]
async fn full_views_recorded_in_ledger() {
    let world = World::new().await;
    let uri = format!("/api/v1/tasks/{}", world.own_task);
    for name in ["inspector", "admin_narrowed", "enterprise"] {
        let reply = world.send(name, Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        let list = world.send(name, Method::GET, "/api/v1/tasks", None).await;
        assert_eq!(list.status, StatusCode::OK, "{name}");
    }
    assert!(world.ledger("personal_data.viewed").await.is_empty());

    let reply = world.send("staff", Method::GET, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = world
        .send("admin", Method::GET, "/api/v1/tasks", None)
        .await;
    assert_eq!(list.status, StatusCode::OK);

    let views = world.ledger("personal_data.viewed").await;
    assert_eq!(views.len(), 2, "{views:?}");
    assert_eq!(views[0].actor, "user:staff");
    assert_eq!(views[0].subject, format!("task:{}", world.own_task));
    assert_eq!(views[0].payload["route"], "GET /api/v1/tasks/{id}");
    assert_eq!(views[1].actor, "user:admin");
    assert_eq!(views[1].subject, "tasks");
    assert_eq!(
        views[1].payload["tasks"],
        json!([world.own_task, world.other_task])
    );
}

/// Makes every append of a `personal_data.viewed` entry fail, while other
/// ledger entries, such as a task action's own, are still appended.
fn break_view_records(store: &oversight_store_sqlite::SqliteStore) {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    // An append adds to the last bundle's row or inserts a row for a new
    // bundle, so both are checked. An update is checked for the bytes it adds.
    conn.execute_batch(
        "CREATE TRIGGER break_view_records BEFORE INSERT ON ledger_entry_bundles \
         WHEN instr(CAST(NEW.entries AS TEXT), '\"kind\":\"personal_data.viewed\"') > 0 \
         BEGIN SELECT RAISE(ABORT, 'view record failed'); END; \
         CREATE TRIGGER break_view_record_appends BEFORE UPDATE ON ledger_entry_bundles \
         WHEN instr(CAST(substr(NEW.entries, length(OLD.entries) + 1) AS TEXT), \
                    '\"kind\":\"personal_data.viewed\"') > 0 \
         BEGIN SELECT RAISE(ABORT, 'view record failed'); END;",
    )
    .unwrap();
}

#[tokio::test]
async fn action_masked_when_view_record_fails() {
    let world = World::new().await;
    break_view_records(&world.fixture.store);
    let uri = format!("/api/v1/tasks/{}/actions/add_evidence", world.own_task);
    let body = json!({"evidence": [{"kind": "note", "text": format!("回电 {PHONE}")}]});
    let reply = world.send("staff", Method::POST, &uri, Some(body)).await;

    // The action is stored, so it returns 200, but nothing is shown in full.
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_task_shown(&reply.json["task"], false, "staff");
    let record = reply.json["record"].to_string();
    assert!(record.contains(PHONE_MASKED), "{record}");
    assert!(!record.contains(PHONE), "{record}");
    assert!(world.ledger("personal_data.viewed").await.is_empty());
    let actions = world.ledger("task.add_evidence").await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].subject, format!("task:{}", world.own_task));

    // Reading the task again fails instead of showing it unrecorded.
    let detail_uri = format!("/api/v1/tasks/{}", world.own_task);
    let detail = world.send("staff", Method::GET, &detail_uri, None).await;
    assert_eq!(
        detail.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        detail.json
    );
}

/// Moves `task` of the accounts' department to `replied`, with an on-site
/// check and an outcome whose findings carry [`PHONE`].
async fn reply_with_findings(world: &World, task: &str) {
    let site_check = json!({"evidence": [{
        "kind": "site_check",
        "location": "排放口",
        "position": null,
        "checked_at": "2026-12-04T07:00:00Z",
        "inspectors": ["inspector"],
        "findings": format!("现场联系人 {PHONE}"),
    }]});
    let outcome = json!({"outcome": {"kind": "no_violation", "findings": format!("回访 {PHONE}")}});
    let steps = [
        ("admin", "add_evidence", site_check),
        ("admin", "dispatch", json!({})),
        ("staff", "sign", json!({})),
        ("staff", "start", json!({})),
        ("staff", "reply", outcome),
    ];
    for (account, action, body) in steps {
        let uri = format!("/api/v1/tasks/{task}/actions/{action}");
        let reply = world.send(account, Method::POST, &uri, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{action}: {}", reply.json);
    }
}

#[tokio::test]
async fn findings_masked_by_role() {
    let world = World::new().await;
    reply_with_findings(&world, &world.own_task).await;
    let uri = format!("/api/v1/tasks/{}", world.own_task);
    for (name, full) in OWN_TASK_VIEWERS {
        let reply = world.send(name, Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.json);
        let shown = phone_shown(full);
        let evidence = reply.json["task"]["evidence"].as_array().unwrap();
        let check = evidence
            .iter()
            .find(|evidence| evidence["kind"]["kind"] == "site_check")
            .unwrap_or_else(|| panic!("{name}: no site check in {evidence:?}"));
        let findings = check["kind"]["findings"].as_str().unwrap();
        assert_eq!(findings, format!("现场联系人 {shown}"), "{name}");
        let outcome = &reply.json["task"]["outcome"]["input"]["findings"];
        assert_eq!(outcome, &json!(format!("回访 {shown}")), "{name}");
        let history = reply.json["history"].to_string();
        assert_eq!(history.contains(PHONE), full, "{name}: {history}");
    }

    for (name, full) in OWN_TASK_VIEWERS {
        let row = own_task_csv_row(&world, name).await;
        let shown = phone_shown(full);
        assert_eq!(row["outcome_findings"], format!("回访 {shown}"), "{name}");
    }
    for (name, full) in XLSX_VIEWERS {
        let strings = exported_xlsx_strings(&world, name).await;
        let shown = phone_shown(full);
        assert!(
            strings.contains(&format!("回访 {shown}")),
            "{name}: {strings}"
        );
    }
}

#[tokio::test]
async fn findings_view_recorded_in_ledger() {
    let world = World::new().await;
    // A task whose only personal data is in its findings.
    let mut body = report("sm-eeb");
    body["origin"] = json!({"kind": "manual"});
    body["description"] = json!("排放口异味");
    body["evidence"] = json!([]);
    body.as_object_mut().unwrap().remove("reporter");
    let created = world
        .send("admin", Method::POST, "/api/v1/tasks", Some(body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let task = created.json["task"]["id"].as_str().unwrap().to_owned();
    reply_with_findings(&world, &task).await;
    let before = world.ledger("personal_data.viewed").await.len();

    let reply = world
        .send("staff", Method::GET, &format!("/api/v1/tasks/{task}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let views = world.ledger("personal_data.viewed").await;
    assert_eq!(views.len(), before + 1, "{views:?}");
    let last = views.last().unwrap();
    assert_eq!(last.actor, "user:staff");
    assert_eq!(last.subject, format!("task:{task}"));
}
