//! Supervision tasks through the `oversight` binary: an exceedance becomes a
//! task, the task goes through its workflow with evidence, and a misrouted
//! task is returned and dispatched again. Every action is taken by a
//! logged-in account: the administrator `root` dispatches and reviews, and
//! department staff sign for and handle the tasks.

mod common;

use common::{ADMIN, DataDir, Datalogger, Server};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TASKS_CONFIG: &str = r#"
[[departments]]
id = "city-supervision"
name = "市政府督查室"

[[departments]]
id = "ecology-environment"
name = "生态环境局"
supervisor = "city-supervision"

[[departments]]
id = "urban"
name = "城市管理局"

[[routing]]
area = "35"
department = "ecology-environment"
"#;

/// Imports the built-in areas of Fujian and the point `mn`, and starts the
/// server with the task departments of [`TASKS_CONFIG`].
async fn start(mn: &str) -> (DataDir, Server) {
    let data = DataDir::with_points(&[(mn, 60)]);
    let config = data.file("tasks.toml", TASKS_CONFIG);
    let config = config.to_str().expect("utf-8 path");
    let server = Server::start(&data, &[("OVERSIGHT_TASKS__CONFIG_FILE", config)]).await;
    (data, server)
}

/// Password of the department staff accounts that [`add_staff`] creates.
const STAFF_PASSWORD: &str = "staff password 12345";

/// Staff of the task department 生态环境局 (ecology-environment).
const ECOLOGY_STAFF: &str = "s.li";
/// Staff of the task department 城市管理局 (urban).
const URBAN_STAFF: &str = "u.zhao";

/// Creates, as the administrator, the account departments whose names match
/// the task departments, and one staff account in each.
async fn add_staff(server: &Server) {
    for (department, user) in [("生态环境局", ECOLOGY_STAFF), ("城市管理局", URBAN_STAFF)]
    {
        add_department_staff(server, department, "35", user).await;
    }
}

/// Creates the account department `department` over `area` and the
/// department staff account `username` in it, with [`STAFF_PASSWORD`].
async fn add_department_staff(server: &Server, department: &str, area: &str, username: &str) {
    let (status, created) = server
        .post(
            "/api/v1/departments",
            &json!({"name": department, "areas": [area]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, body) = server
        .post(
            "/api/v1/users",
            &json!({
                "username": username,
                "password": STAFF_PASSWORD,
                "role": "department_staff",
                "department_id": created["id"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn as_admin(server: &mut Server) {
    server.switch_user(ADMIN.0, ADMIN.1).await;
}

async fn as_staff(server: &mut Server, username: &str) {
    server.switch_user(username, STAFF_PASSWORD).await;
}

/// Posts `action` on task `id` and returns the status and body without checking them.
async fn request_action(server: &Server, id: &str, action: &str, body: &Value) -> (u16, Value) {
    let path = format!("/api/v1/tasks/{id}/actions/{action}");
    server.post(&path, body).await
}

/// Performs `action` on task `id` and returns the new task, failing unless it succeeds.
async fn act(server: &Server, id: &str, action: &str, body: Value) -> Value {
    let (status, result) = request_action(server, id, action, &body).await;
    assert_eq!(status, 200, "{action} on {id}: {result}");
    result["task"].clone()
}

/// Creates a task from `body`, failing unless it is created, and returns its id.
async fn create_task(server: &Server, body: &Value) -> String {
    let (status, created) = server.post("/api/v1/tasks", body).await;
    assert_eq!(status, 201, "{created}");
    created["task"]["id"].as_str().expect("task id").to_owned()
}

/// Returns the body of a manual water task in Xiamen, led by ecology-environment.
fn manual_task_body(title: &str) -> Value {
    json!({
        "origin": {"kind": "manual"},
        "area": "350203",
        "category": "water",
        "title": title,
        "description": "routine check",
        "lead_department": "ecology-environment",
    })
}

/// Dispatches task `id` as the current account, then signs for it, starts it
/// and replies "no violation" as [`ECOLOGY_STAFF`], who stays logged in.
async fn reply_as_ecology_staff(server: &mut Server, id: &str) {
    act(server, id, "dispatch", json!({})).await;
    as_staff(server, ECOLOGY_STAFF).await;
    act(server, id, "sign", json!({})).await;
    act(server, id, "start", json!({})).await;
    let outcome = json!({"kind": "no_violation", "findings": "nothing found"});
    act(server, id, "reply", json!({"outcome": outcome})).await;
}

/// Returns the `error.message` of an error body, or an empty string without one.
fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// GETs `path` with the session and fails unless the status is 200.
async fn get_ok(server: &Server, path: &str) -> reqwest::Response {
    let response = server
        .with_session(reqwest::Client::new().get(server.url(path)))
        .send()
        .await
        .expect("GET request");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response
}

/// Uploads `form` as evidence of task `id` and returns the response.
async fn upload_evidence(
    server: &Server,
    id: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    let path = format!("/api/v1/tasks/{id}/evidence");
    server
        .with_session(reqwest::Client::new().post(server.url(&path)))
        .multipart(form)
        .send()
        .await
        .expect("upload evidence")
}

fn history_actions(detail: &Value) -> Vec<String> {
    detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action").to_owned())
        .collect()
}

/// Returns the person recorded for the `return` step of a task.
async fn returned_person(server: &Server, id: &str) -> String {
    let (status, detail) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    let history = detail["history"].as_array().expect("history");
    let entry = history
        .iter()
        .find(|entry| entry["action"] == "return")
        .expect("a return step");
    entry["actor"]["person"]
        .as_str()
        .expect("person")
        .to_owned()
}

#[tokio::test]
async fn exceedance_task_runs_to_close_with_evidence() {
    let (data, mut server) = start("E2ET001").await;
    add_staff(&server).await;
    let mut logger = Datalogger::connect(server.hj212, "E2ET001", "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    // Twice the upper limit of 100 is critical, and critical alerts escalate.
    assert!(logger.send(time, &[("w01018", 250.0)]).await, "not acked");

    let page = server
        .wait_for("/api/v1/tasks", "the escalation's task", |body| {
            body["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        })
        .await;
    let task = &page["items"][0];
    let id = task["id"].as_str().expect("task id").to_owned();
    assert_eq!(task["origin"]["kind"], "alert");
    assert_eq!(task["state"], "created");
    assert_eq!(task["lead_department"], "ecology-environment");
    assert_eq!(task["subject"], "E2ET001");
    let alert_id = task["origin"]["alert_id"].as_i64().expect("alert id");
    let (_, alert) = server.get(&format!("/api/v1/alerts/{alert_id}")).await;
    assert!(alert["escalated_at"].is_string(), "{alert}");

    act(&server, &id, "dispatch", json!({})).await;
    // Staff of another department may not sign for it.
    as_staff(&mut server, URBAN_STAFF).await;
    let (status, body) = request_action(&server, &id, "sign", &json!({})).await;
    assert_eq!(status, 403, "{body}");
    as_staff(&mut server, ECOLOGY_STAFF).await;
    let signed = act(&server, &id, "sign", json!({})).await;
    assert!(signed["deadlines"]["handle_by"].is_string(), "{signed}");
    // Staff may not act in a task role their account lacks.
    let (status, body) = request_action(&server, &id, "close", &json!({})).await;
    assert_eq!(status, 403, "{body}");
    let dispatcher = json!({"role": "dispatcher"});
    let (status, body) = request_action(&server, &id, "sign", &dispatcher).await;
    assert_eq!(status, 403, "{body}");
    // An action the state does not allow is rejected and names the allowed ones.
    as_admin(&mut server).await;
    let (status, body) = request_action(&server, &id, "close", &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains("start"), "{body}");
    as_staff(&mut server, ECOLOGY_STAFF).await;
    act(&server, &id, "start", json!({})).await;

    let photo = b"\xff\xd8\xff\xe0 site photo of the outlet".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(photo.clone())
            .file_name("outlet.jpg")
            .mime_str("image/jpeg")
            .expect("valid media type"),
    );
    let response = upload_evidence(&server, &id, form).await;
    assert_eq!(response.status().as_u16(), 201);
    let uploaded: Value = response.json().await.expect("upload JSON");
    let sha256 = hex::encode(Sha256::digest(&photo));
    assert_eq!(uploaded["sha256"], sha256);
    assert_eq!(uploaded["size"], photo.len());
    assert_eq!(uploaded["media_type"], "image/jpeg");
    let stored = data
        .path()
        .join("data/evidence/sha256")
        .join(&sha256[..2])
        .join(&sha256);
    assert_eq!(std::fs::read(&stored).expect("stored file"), photo);
    let download = get_ok(&server, &format!("/api/v1/tasks/{id}/evidence/{sha256}")).await;
    assert_eq!(
        download.headers()["content-type"].to_str().expect("ascii"),
        "image/jpeg"
    );
    assert_eq!(download.bytes().await.expect("body").to_vec(), photo);

    let site_check = json!({
        "kind": "site_check",
        "location": "厦门市思明区 outlet E2ET001",
        "position": {"longitude": 118.08, "latitude": 24.45},
        "checked_at": "2026-12-04T08:30:00Z",
        "inspectors": ["s.li", "s.chen"],
        "findings": "COD analyser drifted; recalibrated on site",
    });
    act(
        &server,
        &id,
        "reply",
        json!({
            "outcome": {"kind": "no_violation", "findings": "analyser drift, no excess discharge"},
            "evidence": [site_check],
        }),
    )
    .await;
    as_admin(&mut server).await;
    act(&server, &id, "review", json!({})).await;
    let closed = act(&server, &id, "close", json!({})).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["overdue"], false);

    let (status, outcomes) = server.get("/api/v1/subjects/E2ET001/outcomes").await;
    assert_eq!(status, 200, "{outcomes}");
    assert_eq!(outcomes["subject"], "E2ET001");
    assert_eq!(
        outcomes["items"].as_array().map(Vec::len),
        Some(1),
        "{outcomes}"
    );
    assert_eq!(outcomes["items"][0]["task"], id.as_str());
    assert_eq!(outcomes["items"][0]["kind"], "no_violation");
    assert_eq!(outcomes["items"][0]["violation"], false);

    let (status, detail) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        history_actions(&detail),
        [
            "create",
            "dispatch",
            "sign",
            "start",
            "add_evidence",
            "reply",
            "review",
            "close"
        ]
    );
    assert_eq!(detail["task"]["evidence"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["allowed_actions"], json!(["reopen"]));
    // The ledger names the account behind each step.
    let mut actors = Vec::new();
    for entry in detail["history"].as_array().expect("history") {
        let index = entry["ledger_index"].as_u64().expect("ledger index");
        let (status, ledger_entry) = server.get(&format!("/api/v1/ledger/entries/{index}")).await;
        assert_eq!(status, 200, "{ledger_entry}");
        assert_eq!(ledger_entry["subject"], format!("task:{id}"));
        actors.push(ledger_entry["actor"].as_str().expect("actor").to_owned());
    }
    let signer = format!("user:{ECOLOGY_STAFF}");
    assert_eq!(
        actors,
        [
            "engine",
            "user:root",
            signer.as_str(),
            signer.as_str(),
            signer.as_str(),
            signer.as_str(),
            "user:root",
            "user:root"
        ]
    );

    let (_, open) = server.get("/api/v1/tasks").await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0), "{open}");
    let csv = get_ok(&server, "/api/v1/tasks/export.csv?state=closed")
        .await
        .text()
        .await
        .expect("CSV text");
    assert!(csv.starts_with("id,title,state"), "{csv}");
    assert!(csv.contains(&format!("{id},")), "{csv}");
    assert!(csv.contains(",closed,ecology-environment,"), "{csv}");
    let xlsx = get_ok(&server, "/api/v1/tasks/export.xlsx?state=closed").await;
    let bytes = xlsx.bytes().await.expect("XLSX body");
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a ZIP archive");
}

#[tokio::test]
async fn misrouted_task_is_returned_and_dispatched_again() {
    let (_data, mut server) = start("E2ET002").await;
    add_staff(&server).await;
    let id = create_task(
        &server,
        &json!({
            "origin": {"kind": "public_report", "report_id": "12345-2026-0042"},
            "area": "350203",
            "category": "water",
            "title": "河道排污",
            "description": "群众反映河道有排污口",
            "lead_department": "urban",
        }),
    )
    .await;
    act(&server, &id, "dispatch", json!({})).await;

    let (_, inbox) = server.get("/api/v1/tasks?department=urban").await;
    assert_eq!(inbox["items"][0]["id"], id.as_str(), "{inbox}");
    // Returning needs a reason.
    as_staff(&mut server, URBAN_STAFF).await;
    let (status, body) = request_action(&server, &id, "return", &json!({})).await;
    assert_eq!(status, 400, "{body}");
    let returned = act(
        &server,
        &id,
        "return",
        json!({"reason": "water pollution is not urban management's duty"}),
    )
    .await;
    assert_eq!(returned["state"], "returned");
    assert_eq!(returned_person(&server, &id).await, URBAN_STAFF);

    as_admin(&mut server).await;

    let redispatched = act(
        &server,
        &id,
        "dispatch",
        json!({"department": "ecology-environment"}),
    )
    .await;
    assert_eq!(redispatched["state"], "dispatched");
    assert_eq!(redispatched["lead_department"], "ecology-environment");
    let (_, urban) = server.get("/api/v1/tasks?department=urban").await;
    assert_eq!(urban["items"].as_array().map(Vec::len), Some(0), "{urban}");

    let (_, detail) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(
        history_actions(&detail),
        ["create", "dispatch", "return", "dispatch"]
    );
    let returned_entry = &detail["history"][2];
    assert_eq!(returned_entry["actor"]["department"], "urban");
    assert_eq!(
        returned_entry["reason"],
        "water pollution is not urban management's duty"
    );
    // A stale version is rejected.
    as_staff(&mut server, ECOLOGY_STAFF).await;
    let (status, body) = request_action(&server, &id, "sign", &json!({"version": 1})).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn export_neutralises_formula_cells() {
    let (_data, mut server) = start("E2ET003").await;
    add_staff(&server).await;
    let id = create_task(
        &server,
        &json!({
            "origin": {"kind": "public_report", "report_id": "-2+3"},
            "area": "350203",
            "category": "water",
            "title": "=HYPERLINK(\"http://attacker.example/\",\"open\")",
            "description": "formula in the title",
            "subject": "@SUM(A1:A9)",
            "lead_department": "ecology-environment",
        }),
    )
    .await;
    reply_as_ecology_staff(&mut server, &id).await;

    let csv = get_ok(&server, "/api/v1/tasks/export.csv?state=replied")
        .await
        .text()
        .await
        .expect("CSV text");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("CSV header").clone();
    let records: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("CSV rows");
    assert_eq!(records.len(), 1, "{csv}");
    let cell = |name: &str| {
        let column = headers.iter().position(|h| h == name).expect(name);
        records[0][column].to_owned()
    };
    assert_eq!(
        cell("title"),
        "'=HYPERLINK(\"http://attacker.example/\",\"open\")"
    );
    assert_eq!(cell("subject"), "'@SUM(A1:A9)");
    assert_eq!(cell("origin"), "public_report:-2+3");
    assert_eq!(cell("outcome"), "no_violation");
    for record in &records {
        for value in record {
            let first = value.chars().next();
            assert!(
                !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                "cell {value:?} would run as a formula"
            );
        }
    }

    let xlsx = get_ok(&server, "/api/v1/tasks/export.xlsx?state=replied").await;
    let bytes = xlsx.bytes().await.expect("XLSX body");
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a ZIP archive");
}

#[tokio::test]
async fn create_rejects_claimed_origins_and_unknown_areas() {
    let (_data, server) = start("E2ET004").await;
    let body = |origin: Value, area: &str| {
        json!({
            "origin": origin,
            "area": area,
            "category": "water",
            "title": "origin check",
            "description": "a task whose origin or area is checked",
        })
    };
    let cases = [
        (
            json!({"kind": "co_operation", "parent": "T99"}),
            "350203",
            400,
            "co_departments",
        ),
        (
            json!({"kind": "recheck", "parent": "T99"}),
            "350203",
            400,
            "rectification",
        ),
        (
            json!({"kind": "alert", "alert_id": 999_999}),
            "350203",
            404,
            "alert 999999",
        ),
        (
            json!({"kind": "manual"}),
            "359999",
            400,
            "area 359999 not found",
        ),
    ];
    for (origin, area, expected, message) in cases {
        let (status, reply) = server
            .post("/api/v1/tasks", &body(origin.clone(), area))
            .await;
        assert_eq!(status, expected, "{origin} in {area}: {reply}");
        let text = error_message(&reply);
        assert!(text.contains(message), "{origin} in {area}: {reply}");
    }
    let (_, tasks) = server.get("/api/v1/tasks?state=created").await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(0), "{tasks}");

    let origin = json!({"kind": "higher_assignment", "reference": "第3批 No. 12"});
    let (status, created) = server.post("/api/v1/tasks", &body(origin, "350203")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["task"]["origin"]["kind"], "higher_assignment");
}

#[tokio::test]
async fn evidence_upload_rejects_two_files() {
    let (_data, server) = start("E2ET005").await;
    let id = create_task(
        &server,
        &json!({
            "area": "350203",
            "category": "water",
            "title": "two files",
            "description": "an upload with two file parts",
        }),
    )
    .await;
    let part = |bytes: &'static [u8], name: &str| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("text/plain")
            .expect("valid media type")
    };
    let form = reqwest::multipart::Form::new()
        .part("file", part(b"first file", "first.txt"))
        .part("file", part(b"second file", "second.txt"));
    let response = upload_evidence(&server, &id, form).await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("error JSON");
    let message = error_message(&body);
    assert!(message.contains("one file per request"), "{body}");

    let (_, detail) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(detail["task"]["evidence"], json!([]), "{detail}");
    assert_eq!(detail["task"]["version"], 1, "{detail}");
}

/// Creates a task about `subject` in Xiamen, replies with an outcome and
/// closes it as the administrator, and returns its id.
async fn closed_task(server: &mut Server, subject: &str) -> String {
    as_admin(server).await;
    let mut body = manual_task_body("Check the outlet");
    body["subject"] = json!(subject);
    let id = create_task(server, &body).await;
    reply_as_ecology_staff(server, &id).await;
    as_admin(server).await;
    act(server, &id, "review", json!({})).await;
    act(server, &id, "close", json!({})).await;
    id
}

#[tokio::test]
async fn subject_outcomes_are_scoped() {
    let (_data, mut server) = start("E2ET002").await;
    add_staff(&server).await;
    add_department_staff(&server, "福州生态环境局", "3501", "f.wu").await;

    let (status, body) = server.get("/api/v1/subjects/bad%20subject/outcomes").await;
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("bad subject"), "{body}");

    let id = closed_task(&mut server, "E2ET002").await;
    let (status, outcomes) = server.get("/api/v1/subjects/E2ET002/outcomes").await;
    assert_eq!(status, 200, "{outcomes}");
    assert_eq!(outcomes["items"][0]["task"], id.as_str(), "{outcomes}");

    // Staff of another jurisdiction see none of the subject's records.
    as_staff(&mut server, "f.wu").await;
    let (status, outcomes) = server.get("/api/v1/subjects/E2ET002/outcomes").await;
    assert_eq!(status, 200, "{outcomes}");
    assert_eq!(outcomes["items"], json!([]), "{outcomes}");
}

/// Creates a manual water task in Xiamen as the administrator and returns
/// its id.
async fn manual_task(server: &Server, title: &str) -> String {
    create_task(server, &manual_task_body(title)).await
}

#[tokio::test]
async fn assign_rejects_unknown_account() {
    let (_data, mut server) = start("E2ET004").await;
    add_staff(&server).await;
    let id = manual_task(&server, "Check the outlet").await;
    act(&server, &id, "dispatch", json!({})).await;
    as_staff(&mut server, ECOLOGY_STAFF).await;
    let signed = act(&server, &id, "sign", json!({})).await;

    let unknown = json!({"assignee": {"kind": "person", "id": "no.such.person"}});
    let (status, body) = request_action(&server, &id, "assign", &unknown).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let message = error_message(&body);
    assert!(message.contains("\"no.such.person\""), "{message}");
    assert!(message.contains("no account"), "{message}");

    // The rejected request left the task as it was.
    let (status, detail) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["task"]["version"], signed["version"], "{detail}");
    assert_eq!(detail["task"]["assignee"], Value::Null, "{detail}");

    let known = json!({"assignee": {"kind": "person", "id": ECOLOGY_STAFF}});
    let assigned = act(&server, &id, "assign", known).await;
    assert_eq!(assigned["assignee"]["id"], ECOLOGY_STAFF, "{assigned}");
}

#[tokio::test]
async fn task_text_rejects_bidi_controls() {
    let (_data, server) = start("E2ET005").await;
    let (status, body) = server
        .post(
            "/api/v1/tasks",
            &json!({
                "origin": {"kind": "manual"},
                "area": "350203",
                "category": "water",
                "title": "outlet \u{202E}kcehc",
                "description": "routine check",
            }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = error_message(&body);
    assert!(message.contains("invalid title"), "{message}");
    assert!(message.contains("\\u{202e}"), "{message}");
    assert!(message.contains("remove them"), "{message}");

    let id = manual_task(&server, "Check the outlet").await;
    let reason = json!({"reason": "duplicate \u{2067}report\u{2069}"});
    let (status, body) = request_action(&server, &id, "cancel", &reason).await;
    assert_eq!(status, 400, "{body}");
    let message = error_message(&body);
    assert!(message.contains("invalid reason"), "{message}");
    let (_, list) = server.get("/api/v1/tasks").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["state"], "created", "{list}");
}
