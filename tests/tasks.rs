//! Supervision tasks through the `oversight` binary: an exceedance becomes a
//! task, the task goes through its workflow with evidence, and a misrouted
//! task is returned and dispatched again.

mod common;

use common::{DataDir, Datalogger, Server, points_csv};
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

fn prepared(mn: &str) -> (DataDir, String) {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = data.file("points.csv", &points_csv(&[(mn, 60)]));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let config = data.file("tasks.toml", TASKS_CONFIG);
    let config = config.to_str().expect("utf-8 path").to_owned();
    (data, config)
}

fn dispatcher() -> Value {
    json!({"person": "d.zhang", "role": "dispatcher"})
}

fn staff(department: &str) -> Value {
    json!({"person": "s.li", "role": "department_staff", "department": department})
}

fn reviewer() -> Value {
    json!({"person": "r.wang", "role": "reviewer"})
}

/// Performs `action` on task `id` and returns the new task, failing unless it succeeds.
async fn act(server: &Server, id: &str, action: &str, body: Value) -> Value {
    let path = format!("/api/v1/tasks/{id}/actions/{action}");
    let (status, result) = server.post(&path, &body).await;
    assert_eq!(status, 200, "{action} on {id}: {result}");
    result["task"].clone()
}

fn history_actions(detail: &Value) -> Vec<String> {
    detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action").to_owned())
        .collect()
}

#[tokio::test]
async fn exceedance_task_runs_to_close_with_evidence() {
    let (data, config) = prepared("E2ET001");
    let server = Server::start(&data, &[("OVERSIGHT_TASKS__CONFIG_FILE", &config)]).await;
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

    act(&server, &id, "dispatch", json!({"actor": dispatcher()})).await;
    // Staff of another department may not sign for it.
    let (status, body) = server
        .post(
            &format!("/api/v1/tasks/{id}/actions/sign"),
            &json!({"actor": staff("urban")}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let signed = act(
        &server,
        &id,
        "sign",
        json!({"actor": staff("ecology-environment")}),
    )
    .await;
    assert!(signed["deadlines"]["handle_by"].is_string(), "{signed}");
    // An action the state does not allow is rejected and names the allowed ones.
    let (status, body) = server
        .post(
            &format!("/api/v1/tasks/{id}/actions/close"),
            &json!({"actor": dispatcher()}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("start")),
        "{body}"
    );
    act(
        &server,
        &id,
        "start",
        json!({"actor": staff("ecology-environment")}),
    )
    .await;

    let photo = b"\xff\xd8\xff\xe0 site photo of the outlet".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("actor", staff("ecology-environment").to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(photo.clone())
                .file_name("outlet.jpg")
                .mime_str("image/jpeg")
                .expect("valid media type"),
        );
    let client = reqwest::Client::new();
    let response = server
        .with_session(client.post(server.url(&format!("/api/v1/tasks/{id}/evidence"))))
        .header("X-Requested-With", "oversight-test")
        .multipart(form)
        .send()
        .await
        .expect("upload evidence");
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
    let download = server
        .with_session(client.get(server.url(&format!("/api/v1/tasks/{id}/evidence/{sha256}"))))
        .send()
        .await
        .expect("download evidence");
    assert_eq!(download.status().as_u16(), 200);
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
            "actor": staff("ecology-environment"),
            "outcome": {"kind": "no_violation", "findings": "analyser drift, no excess discharge"},
            "evidence": [site_check],
        }),
    )
    .await;
    act(&server, &id, "review", json!({"actor": reviewer()})).await;
    let closed = act(&server, &id, "close", json!({"actor": dispatcher()})).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["overdue"], false);

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

    let (_, open) = server.get("/api/v1/tasks").await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0), "{open}");
    let csv = server
        .with_session(client.get(server.url("/api/v1/tasks/export.csv?state=closed")))
        .send()
        .await
        .expect("export CSV")
        .text()
        .await
        .expect("CSV text");
    assert!(csv.starts_with("id,title,state"), "{csv}");
    assert!(csv.contains(&format!("{id},")), "{csv}");
    assert!(csv.contains(",closed,ecology-environment,"), "{csv}");
    let xlsx = server
        .with_session(client.get(server.url("/api/v1/tasks/export.xlsx?state=closed")))
        .send()
        .await
        .expect("export XLSX");
    assert_eq!(xlsx.status().as_u16(), 200);
    let bytes = xlsx.bytes().await.expect("XLSX body");
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a ZIP archive");
}

#[tokio::test]
async fn misrouted_task_is_returned_and_dispatched_again() {
    let (data, config) = prepared("E2ET002");
    let server = Server::start(&data, &[("OVERSIGHT_TASKS__CONFIG_FILE", &config)]).await;
    let (status, created) = server
        .post(
            "/api/v1/tasks",
            &json!({
                "actor": dispatcher(),
                "origin": {"kind": "public_report", "report_id": "12345-2026-0042"},
                "area": "350203",
                "category": "water",
                "title": "河道排污",
                "description": "群众反映河道有排污口",
                "lead_department": "urban",
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().expect("task id").to_owned();
    act(&server, &id, "dispatch", json!({"actor": dispatcher()})).await;

    let (_, inbox) = server.get("/api/v1/tasks?department=urban").await;
    assert_eq!(inbox["items"][0]["id"], id.as_str(), "{inbox}");
    // Returning needs a reason.
    let (status, body) = server
        .post(
            &format!("/api/v1/tasks/{id}/actions/return"),
            &json!({"actor": staff("urban")}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let returned = act(
        &server,
        &id,
        "return",
        json!({"actor": staff("urban"), "reason": "water pollution is not urban management's duty"}),
    )
    .await;
    assert_eq!(returned["state"], "returned");

    let redispatched = act(
        &server,
        &id,
        "dispatch",
        json!({"actor": dispatcher(), "department": "ecology-environment"}),
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
    let (status, body) = server
        .post(
            &format!("/api/v1/tasks/{id}/actions/sign"),
            &json!({"actor": staff("ecology-environment"), "version": 1}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}
