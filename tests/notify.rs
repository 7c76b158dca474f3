//! Notification delivery through the real binary: an exceedance reaches a
//! webhook endpoint the test runs on 127.0.0.1, and a send interrupted by
//! SIGKILL is sent again after the restart with the same idempotency key.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{DataDir, Datalogger, SETTLE, Server, points_csv};
use jiff::Timestamp;
use serde_json::Value;

const SECRET: &str = "binary-test-secret-0123";

/// One request the endpoint received: its idempotency key and body.
type Received = (String, Vec<u8>);

#[derive(Debug, Default)]
struct Endpoint {
    received: Mutex<Vec<Received>>,
    /// Requests still to hold open for a minute, as a hung receiver does.
    hang: AtomicUsize,
}

impl Endpoint {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    async fn wait_for_requests(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} webhook requests, got {}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    endpoint
        .received
        .lock()
        .expect("lock")
        .push((key, body.to_vec()));
    let hang = endpoint
        .hang
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if hang {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    StatusCode::NO_CONTENT
}

async fn start_endpoint() -> (SocketAddr, Arc<Endpoint>) {
    let endpoint = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook endpoint");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, endpoint)
}

/// Prepares a data directory with Fujian's areas, one point and a
/// configuration that sends every alert to the endpoint and to a
/// department's inbox at once.
fn prepared(mn: &str, endpoint: SocketAddr) -> (DataDir, String) {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = data.file("points.csv", &points_csv(&[(mn, 60)]));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let config = format!(
        r#"
[notify]
group_wait_secs = 0
poll_interval_ms = 50

[[notify.webhooks]]
id = "duty"
url = "http://{endpoint}/hook"
secret = "{SECRET}"
timeout_secs = 120

[[notify.recipients]]
id = "duty-desk"
webhook = "duty"
inbox = false

[[notify.recipients]]
id = "ecology-environment"
kind = "department"

[[notify.routes]]
recipients = ["duty-desk"]
"#
    );
    let path = data.file("oversight.toml", &config);
    (data, path.to_str().expect("utf-8 path").to_owned())
}

#[tokio::test]
async fn exceedance_notifies_webhook_and_inbox() {
    let (addr, endpoint) = start_endpoint().await;
    let (data, config) = prepared("E2N0001", addr);
    let server = Server::start_with_config(&data, &config);
    let mut logger = Datalogger::connect(server.hj212, "E2N0001", "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    assert!(
        logger.send(time, &[("w01018", 150.0)]).await,
        "upload not acked"
    );

    let received = endpoint.wait_for_requests(1).await;
    let body: Value = serde_json::from_slice(&received[0].1).expect("JSON body");
    assert_eq!(body["items"][0]["mn"], "E2N0001");
    assert_eq!(body["items"][0]["transition"], "firing");
    assert_eq!(
        received[0].0,
        format!("oversight-notification-{}", body["id"])
    );

    let inbox = server
        .wait_for(
            "/api/v1/inbox?recipient=ecology-environment",
            "the department's inbox entry",
            |page| {
                page["items"]
                    .as_array()
                    .is_some_and(|items| items.len() == 1)
            },
        )
        .await;
    let entry = &inbox["items"][0];
    assert!(
        entry["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("预警提醒"),
        "{entry}"
    );
    assert_eq!(entry["read_at"], Value::Null);
    let id = entry["id"].as_i64().expect("inbox id");
    let (status, marked) = server
        .post(
            "/api/v1/inbox/read",
            &serde_json::json!({"recipient": "ecology-environment", "ids": [id]}),
        )
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["marked"], 1);
    let (_, unread) = server
        .get("/api/v1/inbox?recipient=ecology-environment&unread=true")
        .await;
    assert_eq!(
        unread["items"].as_array().map(Vec::len),
        Some(0),
        "{unread}"
    );

    let (status, missing) = server.get("/api/v1/inbox").await;
    assert_eq!(status, 400, "{missing}");
    let (status, conflict) = server
        .post(&format!("/api/v1/notifications/{id}/retry"), &Value::Null)
        .await;
    assert_eq!(status, 409, "only a dead letter can be retried: {conflict}");
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn sigkill_during_send_resends_same_key() {
    let (addr, endpoint) = start_endpoint().await;
    endpoint.hang.store(1, Ordering::SeqCst);
    let (data, config) = prepared("E2N0002", addr);
    let server = Server::start_with_config(&data, &config);
    let mut logger = Datalogger::connect(server.hj212, "E2N0002", "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    assert!(
        logger.send(time, &[("w01018", 150.0)]).await,
        "upload not acked"
    );

    let first = endpoint.wait_for_requests(1).await;
    server.kill();

    let server = Server::start_with_config(&data, &config);
    let received = endpoint.wait_for_requests(2).await;
    assert_eq!(received.len(), 2, "one resend after the restart");
    assert_eq!(received[1].0, first[0].0, "the same idempotency key");
    assert_eq!(received[1].1, first[0].1, "the same body");
    let body = server
        .wait_for(
            "/api/v1/notifications?channel=webhook",
            "the resent notification delivered",
            |page| page["items"][0]["status"] == "delivered",
        )
        .await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["items"][0]["attempts"], 1);
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}
