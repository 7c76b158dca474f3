//! Due reminders and escalations of the composed server, on an injected clock:
//! the real listeners, store and scheduler, with time moved by the test.

#[path = "../../../tests/common/login.rs"]
mod login;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use oversight_auth::{Role, password};
use oversight_core::{Area, AreaCode, ManualClock};
use oversight_server::config::Config;
use oversight_server::runtime::Server;
use oversight_store::{AuditContext, NewUser, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};

const TASKS_CONFIG: &str = r#"
[[departments]]
id = "city-supervision"
name = "市政府督查室"

[[departments]]
id = "ecology-environment"
name = "生态环境局"
supervisor = "city-supervision"

[[routing]]
area = "35"
department = "ecology-environment"
"#;

const DISPATCHER: (&str, &str) = ("d.zhang", "dispatcher password 1");

/// An HTTP client with the `Cookie` and `X-CSRF-Token` headers of a session.
struct Session {
    client: reqwest::Client,
    headers: Vec<(String, String)>,
}

impl Session {
    async fn login(base: &str, username: &str, password: &str) -> Self {
        let client = reqwest::Client::new();
        let url = format!("{base}/auth/login");
        let headers = login::login(&client, url, username, password).await;
        Self { client, headers }
    }

    fn with_headers(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        login::with_headers(request, &self.headers)
    }

    async fn post(&self, url: String, body: &Value) -> (u16, Value) {
        let response = self
            .with_headers(self.client.post(url))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, url: String) -> Value {
        let response = self
            .with_headers(self.client.get(url))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("JSON body")
    }
}

fn actions(detail: &Value) -> Vec<String> {
    detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_task_is_escalated_to_supervisor() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config_file = dir.path().join("tasks.toml");
    std::fs::write(&config_file, TASKS_CONFIG).expect("write task configuration");
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.http.listen = "127.0.0.1:0".parse().expect("literal address");
    config.hj212.listen = "127.0.0.1:0".parse().expect("literal address");
    config.tasks.config_file = Some(config_file);
    config.tasks.scheduler_interval_secs = 1;
    let settings = config.validate().expect("valid configuration");
    std::fs::create_dir_all(&settings.data_dir).expect("data directory");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&settings.data_dir, SqliteOptions::default()).expect("open store"),
    );
    store
        .create_user(
            &NewUser {
                username: DISPATCHER.0.to_owned(),
                display_name: "Zhang".to_owned(),
                role: Role::SystemAdmin,
                department_id: None,
                points: Vec::new(),
                password_hash: password::hash(DISPATCHER.1).expect("hash password"),
            },
            &AuditContext::new(Timestamp::now(), "setup"),
        )
        .await
        .expect("create the dispatcher's account");
    let areas: Vec<Area> = [("35", "福建省"), ("3502", "厦门市"), ("350203", "思明区")]
        .into_iter()
        .map(|(code, name)| {
            Area::new(AreaCode::parse(code).expect("area code"), name).expect("area")
        })
        .collect();
    store.upsert_areas(&areas).await.expect("store the areas");
    // Monday 2026-12-07 09:00 in China Standard Time.
    let start: Timestamp = "2026-12-07T01:00:00Z".parse().expect("literal time");
    let clock = Arc::new(ManualClock::new(start));
    let server = Server::start(&settings, store, clock.clone())
        .await
        .expect("start server");
    let base = format!("http://{}/api/v1", server.http_addr());
    let session = Session::login(&base, DISPATCHER.0, DISPATCHER.1).await;

    let (status, created) = session
        .post(
            format!("{base}/tasks"),
            &json!({
                "area": "350203",
                "category": "water",
                "title": "排放口异味",
                "description": "群众反映排放口有异味",
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().expect("task id").to_owned();
    let (status, dispatched) = session
        .post(format!("{base}/tasks/{id}/actions/dispatch"), &json!({}))
        .await;
    assert_eq!(status, 200, "{dispatched}");
    // Four office hours from 09:00 (08:30–12:00, 14:00–17:30) end at 15:00.
    assert_eq!(
        dispatched["task"]["deadlines"]["sign_by"],
        "2026-12-07T07:00:00Z"
    );
    assert_eq!(dispatched["task"]["overdue"], false);

    // No one signs for it, and the clock passes the sign-for deadline.
    clock.set("2026-12-07T07:30:00Z".parse().expect("literal time"));
    let limit = Instant::now() + Duration::from_secs(20);
    let detail = loop {
        let detail = session.get(format!("{base}/tasks/{id}")).await;
        if actions(&detail).iter().any(|action| action == "escalate") {
            break detail;
        }
        assert!(Instant::now() < limit, "no escalation recorded: {detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(detail["task"]["overdue"], true);
    let escalation = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .find(|entry| entry["action"] == "escalate")
        .expect("escalation entry");
    assert_eq!(escalation["actor"], Value::Null);
    // The ledger records the scheduler's escalation as the system's.
    let leaf: Value =
        serde_json::from_str(escalation["ledger_leaf"].as_str().expect("ledger leaf"))
            .expect("ledger leaf is JSON");
    assert_eq!(leaf["actor"], "system");
    assert_eq!(leaf["kind"], "task.escalate");
    assert_eq!(escalation["at"], "2026-12-07T07:30:00Z");
    let recipients = &escalation["changes"][0]["recipients"];
    assert!(
        recipients
            .as_array()
            .expect("recipients")
            .contains(&json!({"kind": "supervisor", "id": "city-supervision"})),
        "{recipients}"
    );
    assert!(escalation["ledger_index"].is_u64(), "{escalation}");

    let overdue = session.get(format!("{base}/tasks?overdue=true")).await;
    assert_eq!(overdue["items"][0]["id"], id.as_str(), "{overdue}");

    // A later pass does not record the same escalation again.
    let count = actions(&detail).len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = session.get(format!("{base}/tasks/{id}")).await;
    assert_eq!(actions(&again).len(), count, "{again}");

    server.shutdown();
    server.wait().await.expect("clean stop");
}
