//! Tests of account administration and login limits through the real
//! binary: the accounts a department administrator may manage, and failure
//! limits that hold against parallel login attempts.

mod common;

use common::{DataDir, Server};
use serde_json::{Value, json};

const PASSWORD: &str = "long enough password 1";

/// One wastewater outlet in Siming (350203) and one in Haicang (350205).
const POINTS: &str = "mn,name,area,st,password\n\
    35020332000001,siming outlet,350203001,32,123456\n\
    35020532000001,haicang outlet,350205002,32,123456\n";

/// Creates an account as the administrator and returns its id.
async fn add_user(server: &Server, body: Value) -> i64 {
    let (status, user) = server.post("/api/v1/users", &body).await;
    assert_eq!(status, 201, "{user}");
    user["id"].as_i64().expect("user id")
}

#[tokio::test]
async fn department_admin_keeps_to_jurisdiction() {
    let data = DataDir::new();
    let (code, _, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stderr}");
    let points = data.file("points.csv", POINTS);
    let (code, _, stderr) = data.import(&["points", points.to_str().expect("UTF-8 path")]);
    assert_eq!(code, 0, "{stderr}");
    let mut server = Server::start(&data, &[]).await;

    let department = json!({"name": "siming", "areas": ["350203"]});
    let (status, department) = server.post("/api/v1/departments", &department).await;
    assert_eq!(status, 201, "{department}");
    let department_id = department["id"].as_i64().expect("department id");
    let admin = json!({"username": "siming-admin", "password": PASSWORD,
        "role": "department_admin", "department_id": department_id});
    add_user(&server, admin).await;
    let own = json!({"username": "siming-party", "password": PASSWORD,
        "role": "regulated_party", "points": ["35020332000001"]});
    let own_id = add_user(&server, own).await;
    let foreign = json!({"username": "haicang-party", "password": PASSWORD,
        "role": "regulated_party", "points": ["35020532000001"]});
    let foreign_id = add_user(&server, foreign).await;

    server.switch_user("siming-admin", PASSWORD).await;
    let (status, users) = server.get("/api/v1/users").await;
    assert_eq!(status, 200, "{users}");
    let names: Vec<&str> = users
        .as_array()
        .expect("user list")
        .iter()
        .filter_map(|user| user["username"].as_str())
        .collect();
    assert!(names.contains(&"siming-party"), "{names:?}");
    assert!(!names.contains(&"haicang-party"), "{names:?}");

    let (status, body) = server.get(&format!("/api/v1/users/{own_id}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.get(&format!("/api/v1/users/{foreign_id}")).await;
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("35020532000001"), "{message}");

    let reset = json!({"password": "attacker chosen password"});
    let path = format!("/api/v1/users/{foreign_id}/password");
    let (status, body) = server.post(&path, &reset).await;
    assert_eq!(status, 403, "{body}");
    let disable = json!({"disabled": true});
    let (status, body) = server
        .patch(&format!("/api/v1/users/{foreign_id}"), &disable)
        .await;
    assert_eq!(status, 403, "{body}");

    // The foreign account is unchanged: it logs in with its own password.
    server.switch_user("haicang-party", PASSWORD).await;
    let (status, point) = server.get("/api/v1/points/35020532000001").await;
    assert_eq!(status, 200, "{point}");
}

#[tokio::test]
async fn locked_logins_are_counted_not_logged() {
    let data = DataDir::new();
    let server = Server::start(
        &data,
        &[
            ("OVERSIGHT_AUTH__MAX_ACCOUNT_FAILURES", "2"),
            ("OVERSIGHT_AUTH__MAX_ADDRESS_FAILURES", "1000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for guess in 0..32 {
        let response = client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"username": "zhang", "password": format!("wrong guess {guess:04}")}))
            .send()
            .await
            .expect("login");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..2], [401, 401], "{statuses:?}");
    assert!(
        statuses[2..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );

    // Attempts without credentials during a lockout write no log line each.
    // The lockout is logged once, and the rejections are counted.
    let lines = server.log_lines();
    let lockouts = lines
        .iter()
        .filter(|line| line.contains("login locked after repeated failures"))
        .count();
    assert_eq!(lockouts, 1, "{lines:#?}");
    let rejected = lines
        .iter()
        .filter(|line| line.contains("login rejected while locked"))
        .count();
    assert_eq!(rejected, 0, "{lines:#?}");
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("oversight_logins_total{outcome=\"locked\"} 30"),
        "{metrics}"
    );
}

#[tokio::test]
async fn parallel_logins_stop_at_limit() {
    let data = DataDir::new();
    let server = Server::start(
        &data,
        &[
            ("OVERSIGHT_AUTH__MAX_ACCOUNT_FAILURES", "3"),
            ("OVERSIGHT_AUTH__MAX_ADDRESS_FAILURES", "1000"),
        ],
    )
    .await;
    let account = json!({"username": "zhang", "password": PASSWORD, "role": "system_admin"});
    add_user(&server, account).await;

    let client = reqwest::Client::new();
    let mut attempts = tokio::task::JoinSet::new();
    for guess in 0..12 {
        let request = client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"username": "zhang", "password": format!("wrong guess {guess:04}")}));
        attempts.spawn(async move { request.send().await.expect("login").status().as_u16() });
    }
    let statuses = attempts.join_all().await;
    let checked = statuses.iter().filter(|status| **status == 401).count();
    let locked = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(checked, 3, "{statuses:?}");
    assert_eq!(locked, 9, "{statuses:?}");

    let correct = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "zhang", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(correct.status().as_u16(), 429);
    let (status, body) = server.get("/api/v1/auth/me").await;
    assert_eq!(status, 200, "another account's session ended: {body}");
}
