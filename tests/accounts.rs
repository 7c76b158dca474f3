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
