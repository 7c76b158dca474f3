//! Notification delivery through the real binary. An exceedance reaches a
//! webhook endpoint and an SMTP server that the test runs on 127.0.0.1, and
//! the in-app inbox. A webhook send interrupted by SIGKILL is sent again
//! after the restart with the same idempotency key and body.

mod common;
#[path = "../crates/notify/tests/smtp/mod.rs"]
mod smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{DataDir, Datalogger, SETTLE, Server};
use jiff::Timestamp;
use serde_json::Value;
use smtp::{Mailbox, decode_mail, start_smtp};

const SECRET: &str = "binary-test-secret-0123";

/// One request the endpoint received: its idempotency key and body.
type Received = (String, Vec<u8>);

#[derive(Debug, Default)]
struct Endpoint {
    received: Mutex<Vec<Received>>,
    /// The number of requests still to hold open for a minute, as a hung receiver does.
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

impl Mailbox {
    async fn wait_for_message(&self) -> String {
        let deadline = Instant::now() + SETTLE;
        loop {
            if let Some(message) = self.messages.lock().expect("lock").first() {
                return String::from_utf8_lossy(message).into_owned();
            }
            assert!(Instant::now() < deadline, "timed out waiting for an email");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Prepares a data directory with Fujian's areas and one point, and a
/// configuration with `channels` as the duty desk's delivery lines. Every
/// alert goes to the duty desk, whose inbox the administrator reads, and to
/// the department the rules route to.
fn prepared(mn: &str, channels: &str) -> (DataDir, PathBuf) {
    let data = DataDir::with_points(&[(mn, 60)]);
    let config = format!(
        r#"
[notify]
group_wait_secs = 0
poll_interval_ms = 50
{channels}

[[notify.recipients]]
id = "ecology-environment"
kind = "department"

[[notify.routes]]
recipients = ["duty-desk"]
"#
    );
    let path = data.file("oversight.toml", &config);
    (data, path)
}

fn webhook_channels(endpoint: SocketAddr) -> String {
    format!(
        r#"
[[notify.webhooks]]
id = "duty"
url = "http://{endpoint}/hook"
secret = "{SECRET}"
timeout_secs = 120

[[notify.recipients]]
id = "duty-desk"
webhook = "duty"
account = "root"
"#
    )
}

async fn send_exceedance(server: &Server, mn: &str) {
    let mut logger = Datalogger::connect(server.hj212, mn, "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    assert!(
        logger.send(time, &[("w01018", 150.0)]).await,
        "upload not acked"
    );
}

#[tokio::test]
async fn exceedance_notifies_webhook_and_inbox() {
    let (addr, endpoint) = start_endpoint().await;
    let (data, config) = prepared("E2N0001", &webhook_channels(addr));
    let server = Server::start_with_config(&data, &config).await;
    send_exceedance(&server, "E2N0001").await;

    let received = endpoint.wait_for_requests(1).await;
    let body: Value = serde_json::from_slice(&received[0].1).expect("JSON body");
    assert_eq!(body["items"][0]["mn"], "E2N0001");
    assert_eq!(body["items"][0]["transition"], "firing");
    assert_eq!(
        received[0].0,
        format!("oversight-notification-{}", body["id"])
    );

    let department = server
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
    let subject = department["items"][0]["subject"]
        .as_str()
        .unwrap_or_default();
    assert!(subject.contains("预警提醒"), "{department}");

    let own = server
        .wait_for("/api/v1/inbox", "the duty desk's inbox entry", |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| items.len() == 1)
        })
        .await;
    let entry = &own["items"][0];
    assert_eq!(entry["recipient"], "duty-desk");
    assert_eq!(entry["read_at"], Value::Null);
    let id = entry["id"].as_i64().expect("inbox id");
    let (status, marked) = server
        .post("/api/v1/inbox/read", &serde_json::json!({"ids": [id]}))
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["marked"], 1);
    let (_, unread) = server.get("/api/v1/inbox?unread=true").await;
    assert_eq!(
        unread["items"].as_array().map(Vec::len),
        Some(0),
        "{unread}"
    );

    let (status, conflict) = server
        .post(&format!("/api/v1/notifications/{id}/retry"), &Value::Null)
        .await;
    assert_eq!(status, 409, "only a dead letter can be retried: {conflict}");
    let (status, missing) = server.get("/api/v1/notifications/999999").await;
    assert_eq!(status, 404, "{missing}");
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn sigkill_during_send_resends_same_key() {
    let (addr, endpoint) = start_endpoint().await;
    endpoint.hang.store(1, Ordering::SeqCst);
    let (data, config) = prepared("E2N0002", &webhook_channels(addr));
    let server = Server::start_with_config(&data, &config).await;
    send_exceedance(&server, "E2N0002").await;

    let first = endpoint.wait_for_requests(1).await;
    server.kill();

    let server = Server::start_with_config(&data, &config).await;
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
    // Nothing else arrives once the notification is delivered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(endpoint.received().len(), 2, "no third send");
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn exceedance_sends_email_over_smtp() {
    let (smtp, mailbox) = start_smtp();
    let channels = format!(
        r#"
[notify.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Oversight <alerts@oversight.test>"

[[notify.recipients]]
id = "duty-desk"
email = "duty@oversight.test"
inbox = false
"#,
        port = smtp.port()
    );
    let (data, config) = prepared("E2N0003", &channels);
    let server = Server::start_with_config(&data, &config).await;
    send_exceedance(&server, "E2N0003").await;

    let message = mailbox.wait_for_message().await;
    assert_eq!(
        *mailbox.recipients.lock().expect("lock"),
        ["duty@oversight.test"]
    );
    let notifications = server
        .wait_for(
            "/api/v1/notifications?channel=email",
            "the email notification delivered",
            |page| page["items"][0]["status"] == "delivered",
        )
        .await;
    let id = &notifications["items"][0]["id"];
    assert!(
        message.contains(&format!(
            "Message-ID: <oversight-notification-{id}@oversight>"
        )),
        "the idempotency key is the message id: {message}"
    );
    assert!(
        message.contains("From: Oversight <alerts@oversight.test>"),
        "{message}"
    );
    let (_, body) = decode_mail(message.as_bytes());
    assert!(body.contains("E2N0003"), "{body}");
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}
