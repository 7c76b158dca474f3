//! Delivery against real receivers started on 127.0.0.1: an axum webhook
//! endpoint and an SMTP server, with a real SQLite outbox.

mod smtp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use oversight_core::{
    Actor, Alert, AlertEvent, AlertId, AlertStatus, AlertTransition, AreaCode, FactorCode, Mn,
    Severity, SystemClock,
};
use oversight_notify::{Notifier, NotifyConfig, webhook};
use oversight_store::{DeliveryStatus, Notification, NotificationQuery, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use smtp::{decode_mail, start_smtp};

const SECRET: &str = "test-secret-0123456789";

/// One request the webhook endpoint received.
#[derive(Debug, Clone)]
struct Received {
    idempotency_key: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
}

/// The endpoint's behaviour and what it received.
#[derive(Debug, Default)]
struct Endpoint {
    received: Mutex<Vec<Received>>,
    failures_left: AtomicUsize,
    delay_ms: AtomicUsize,
}

impl Endpoint {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn receive(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    endpoint.received.lock().expect("lock").push(Received {
        idempotency_key: header("idempotency-key"),
        timestamp: header("x-oversight-timestamp").parse().unwrap_or(0),
        signature: header("x-oversight-signature"),
        body: body.to_vec(),
    });
    let delay = endpoint.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    let failing = endpoint
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
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

fn alert(id: i64, mn: &str, area: &str, status: AlertStatus) -> Alert {
    let mn = Mn::parse(mn).expect("test MN");
    let factor = FactorCode::parse("w01018").expect("test factor");
    let at: Timestamp = "2024-05-01T08:00:00Z".parse().expect("time");
    Alert {
        id: AlertId(id),
        fingerprint: Alert::fingerprint_of("env.limit.upper", &mn, Some(&factor)),
        rule_id: "env.limit.upper".to_owned(),
        rule_version: "1.0.0".to_owned(),
        category: "exceedance".to_owned(),
        mn,
        factor: Some(factor),
        severity: Severity::Critical,
        status,
        area: AreaCode::parse(area).expect("test area"),
        department: Some("ecology-environment".to_owned()),
        first_at: at,
        last_at: at,
        fired_at: Some(at),
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolution: None,
        trigger_value: Some(130.0),
        last_value: Some(130.0),
        peak_value: Some(130.0),
        limit: Some(100.0),
        count: 1,
        flapping: false,
        escalated_at: None,
        explanation: None,
    }
}

fn firing(id: i64, mn: &str, area: &str) -> AlertEvent {
    let alert = alert(id, mn, area, AlertStatus::Firing);
    AlertEvent {
        at: alert.last_at,
        alert,
        transition: AlertTransition::Firing,
        actor: Actor::Engine,
        reason: None,
        suppressed: None,
    }
}

/// A running notifier over a fresh store.
struct Harness {
    store: Arc<dyn Store>,
    events: broadcast::Sender<AlertEvent>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(config_toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
        Self::start_on(config_toml, Arc::new(store), dir)
    }

    fn start_on(config_toml: &str, store: Arc<dyn Store>, dir: tempfile::TempDir) -> Self {
        let config: NotifyConfig = toml::from_str(config_toml).expect("valid notify config");
        let notifier = Notifier::new(
            &config,
            Arc::clone(&store),
            Arc::new(SystemClock),
            TimeZone::get("Asia/Shanghai").expect("time zone"),
        )
        .expect("notifier");
        let (events, receiver) = broadcast::channel(1024);
        let cancel = CancellationToken::new();
        let run_cancel = cancel.clone();
        let task = tokio::spawn(async move {
            notifier
                .run(receiver, run_cancel)
                .await
                .expect("notifier runs");
        });
        Self {
            store,
            events,
            cancel,
            task,
            _dir: dir,
        }
    }

    fn send(&self, event: AlertEvent) {
        self.events.send(event).expect("the notifier subscribes");
    }

    async fn notifications(&self) -> Vec<Notification> {
        self.store
            .notifications(&NotificationQuery::default())
            .await
            .expect("list notifications")
            .items
    }

    /// Waits until `done` holds for the stored notifications, or fails after 20 s.
    async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[Notification]) -> bool,
    ) -> Vec<Notification> {
        for _ in 0..400 {
            let notifications = self.notifications().await;
            if done(&notifications) {
                return notifications;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}: {:#?}",
            self.notifications().await
        );
    }

    async fn stop(self) -> Arc<dyn Store> {
        self.cancel.cancel();
        self.task.await.expect("notifier stops");
        self.store
    }
}

fn webhook_config(addr: SocketAddr, extra: &str) -> String {
    format!(
        r#"
group_wait_secs = 1
group_interval_secs = 1
repeat_interval_secs = 60
retry_initial_ms = 100
retry_max_secs = 1
poll_interval_ms = 50
{extra}

[[webhooks]]
id = "ops"
url = "http://{addr}/hook"
secret = "{SECRET}"
timeout_secs = 1

[[recipients]]
id = "ops-team"
kind = "person"
webhook = "ops"
inbox = false

[[routes]]
area = "3502"
recipients = ["ops-team"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_storm_becomes_one_signed_request() {
    let (addr, endpoint) = start_endpoint().await;
    let harness = Harness::start(&webhook_config(addr, "")).await;
    for id in 1..=5 {
        harness.send(firing(id, &format!("MN{id:04}"), "350203"));
    }
    let delivered = harness
        .wait_for("one delivered notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(delivered[0].items.len(), 5, "the storm is one notification");
    let received = endpoint.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(
        webhook::verify(
            SECRET.as_bytes(),
            request.timestamp,
            &request.body,
            &request.signature
        ),
        "signature {:?} verifies",
        request.signature
    );
    assert_eq!(
        request.idempotency_key,
        format!("oversight-notification-{}", delivered[0].id)
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body["id"], delivered[0].id);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(5));
    let subject = body["subject"].as_str().unwrap_or_default();
    assert!(subject.contains("严重"), "{subject}");
    assert!(subject.contains("共 5 条"), "{subject}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failures_retry_with_one_key() {
    let (addr, endpoint) = start_endpoint().await;
    endpoint.failures_left.store(2, Ordering::SeqCst);
    let harness = Harness::start(&webhook_config(addr, "")).await;
    harness.send(firing(1, "MN0001", "350203"));
    let delivered = harness
        .wait_for("a delivered notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(delivered[0].attempts, 3);
    assert_eq!(delivered[0].last_error, None);
    let received = endpoint.received();
    assert_eq!(received.len(), 3);
    let keys: Vec<&str> = received
        .iter()
        .map(|r| r.idempotency_key.as_str())
        .collect();
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
    assert_eq!(
        received[0].body, received[2].body,
        "every attempt sends the same body"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_dead_letter_then_retry() {
    let (addr, endpoint) = start_endpoint().await;
    endpoint.failures_left.store(usize::MAX, Ordering::SeqCst);
    let harness = Harness::start(&webhook_config(addr, "max_attempts = 3")).await;
    harness.send(firing(1, "MN0001", "350203"));
    let dead = harness
        .wait_for("a dead letter", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Dead
        })
        .await;
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("webhook ops answered HTTP 503")
    );
    assert_eq!(endpoint.received().len(), 3);

    endpoint.failures_left.store(0, Ordering::SeqCst);
    harness
        .store
        .retry_notification(dead[0].id, Timestamp::now())
        .await
        .expect("retry the dead letter");
    let delivered = harness
        .wait_for("the retried notification delivered", |all| {
            all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(delivered[0].id, dead[0].id);
    assert_eq!(endpoint.received().len(), 4);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_slow_endpoint_times_out_alone() {
    let (slow_addr, slow) = start_endpoint().await;
    slow.delay_ms.store(3000, Ordering::SeqCst);
    let (fast_addr, fast) = start_endpoint().await;
    let config = format!(
        r#"
group_wait_secs = 0
retry_initial_ms = 60000
retry_max_secs = 60
poll_interval_ms = 50

[[webhooks]]
id = "slow"
url = "http://{slow_addr}/hook"
secret = "{SECRET}"
timeout_secs = 1

[[webhooks]]
id = "fast"
url = "http://{fast_addr}/hook"
secret = "{SECRET}"

[[recipients]]
id = "slow-team"
webhook = "slow"
inbox = false

[[recipients]]
id = "fast-team"
webhook = "fast"
inbox = false

[[routes]]
recipients = ["slow-team", "fast-team"]
"#
    );
    let harness = Harness::start(&config).await;
    harness.send(firing(1, "MN0001", "350203"));
    let outcome = harness
        .wait_for("one delivery and one timeout", |all| {
            all.len() == 2
                && all.iter().any(|n| n.status == DeliveryStatus::Delivered)
                && all.iter().any(|n| n.last_error.is_some())
        })
        .await;
    let timed_out = outcome
        .iter()
        .find(|n| n.recipient == "slow-team")
        .expect("slow notification");
    assert_eq!(
        timed_out.status,
        DeliveryStatus::Pending,
        "it waits for a retry"
    );
    assert_eq!(
        timed_out.last_error.as_deref(),
        Some("webhook slow timed out after 1 s")
    );
    assert_eq!(fast.received().len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_wait_for_repeat_interval() {
    let (addr, endpoint) = start_endpoint().await;
    let harness = Harness::start(&webhook_config(addr, "")).await;
    let first = firing(1, "MN0001", "350203");
    let mut soon = first.clone();
    soon.transition = AlertTransition::Repeated;
    soon.at = first.at + jiff::SignedDuration::from_secs(30);
    let mut later = soon.clone();
    later.at = first.at + jiff::SignedDuration::from_secs(61);
    harness.send(first);
    harness
        .wait_for("the first notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    harness.send(soon);
    harness.send(later);
    let all = harness
        .wait_for("the repeat", |all| {
            all.len() == 2 && all.iter().all(|n| n.status == DeliveryStatus::Delivered)
        })
        .await;
    assert_eq!(all[0].items.len(), 1);
    assert_eq!(all[0].items[0].transition, AlertTransition::Repeated);
    assert_eq!(all[0].items[0].at, later_at());
    assert_eq!(endpoint.received().len(), 2);
    harness.stop().await;
}

fn later_at() -> Timestamp {
    let at: Timestamp = "2024-05-01T08:00:00Z".parse().expect("time");
    at + jiff::SignedDuration::from_secs(61)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressed_and_unrouted_events_send_nothing() {
    let (addr, endpoint) = start_endpoint().await;
    let harness = Harness::start(&webhook_config(addr, "")).await;
    let mut silenced = firing(1, "MN0001", "350203");
    silenced.suppressed = Some(oversight_core::Suppression::Silenced { silence_id: 3 });
    harness.send(silenced);
    harness.send(firing(2, "MN0002", "440305"));
    harness.send(firing(3, "MN0003", "350203"));
    let all = harness
        .wait_for("the routed notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(all[0].items.len(), 1);
    assert_eq!(all[0].items[0].alert_id, AlertId(3));
    assert_eq!(endpoint.received().len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_reaches_routed_department() {
    let config = r#"
group_wait_secs = 0
poll_interval_ms = 50

[[recipients]]
id = "ecology-environment"
name = "生态环境局"
kind = "department"
"#;
    let harness = Harness::start(config).await;
    harness.send(firing(1, "MN0001", "350203"));
    let all = harness
        .wait_for("the inbox notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(all[0].recipient, "ecology-environment");
    assert_eq!(all[0].target, "ecology-environment");
    assert_eq!(all[0].read_at, None);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_send_resent_after_restart() {
    let (addr, endpoint) = start_endpoint().await;
    endpoint.delay_ms.store(5000, Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store"));
    let config = webhook_config(addr, "").replace("timeout_secs = 1", "timeout_secs = 30");
    let first = Harness::start_on(
        &config,
        Arc::clone(&store),
        tempfile::tempdir().expect("dir"),
    );
    first.send(firing(1, "MN0001", "350203"));
    for _ in 0..400 {
        if !endpoint.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(endpoint.received().len(), 1, "the first attempt started");
    // Dropping the notifier mid-request leaves the claim behind, as a
    // crash during the send does.
    first.task.abort();
    let _ = first.task.await;
    let sending = store
        .notifications(&NotificationQuery::default())
        .await
        .expect("list")
        .items;
    assert_eq!(sending[0].status, DeliveryStatus::Sending);

    endpoint.delay_ms.store(0, Ordering::SeqCst);
    let second = Harness::start_on(&config, store, dir);
    let delivered = second
        .wait_for("the resent notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    assert_eq!(delivered[0].id, sending[0].id);
    let received = endpoint.received();
    assert_eq!(received.len(), 2, "sent again after the restart");
    assert_eq!(received[0].idempotency_key, received[1].idempotency_key);
    assert_eq!(received[0].body, received[1].body);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_sends_chinese_subject_and_body() {
    let (addr, mailbox) = start_smtp();
    let config = format!(
        r#"
group_wait_secs = 0
poll_interval_ms = 50

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Oversight <alerts@oversight.test>"

[[recipients]]
id = "wang.fang"
name = "王芳"
email = "wang.fang@enterprise.test"
inbox = false

[[routes]]
category = "exceedance"
min_severity = "warning"
recipients = ["wang.fang"]
"#,
        port = addr.port()
    );
    let harness = Harness::start(&config).await;
    harness.send(firing(1, "MN0001", "350203"));
    let all = harness
        .wait_for("the email delivered", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    let messages = mailbox.messages.lock().expect("lock").clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        mailbox.recipients.lock().expect("lock").as_slice(),
        ["wang.fang@enterprise.test"]
    );
    let (subject, body) = decode_mail(&messages[0]);
    assert!(subject.contains("【严重】预警提醒"), "{subject}");
    assert!(subject.contains("350203:exceedance"), "{subject}");
    assert!(body.contains("触发 监测点 MN0001 因子 w01018"), "{body}");
    assert!(body.contains("当前值 130，限值 100"), "{body}");
    assert!(
        body.contains("2024-05-01 16:00:00"),
        "Asia/Shanghai time: {body}"
    );
    assert!(body.contains(&format!("通知编号 {}", all[0].id)), "{body}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_refused_by_server_is_retried() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let config = format!(
        r#"
group_wait_secs = 0
poll_interval_ms = 50
retry_initial_ms = 60000
retry_max_secs = 60

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "alerts@oversight.test"

[[recipients]]
id = "wang.fang"
email = "wang.fang@enterprise.test"
inbox = false

[[routes]]
recipients = ["wang.fang"]
"#
    );
    let harness = Harness::start(&config).await;
    harness.send(firing(1, "MN0001", "350203"));
    let all = harness
        .wait_for("a failed attempt", |all| {
            all.len() == 1 && all[0].last_error.is_some()
        })
        .await;
    assert_eq!(all[0].status, DeliveryStatus::Pending);
    assert_eq!(all[0].attempts, 1);
    let error = all[0].last_error.as_deref().unwrap_or_default();
    assert!(error.starts_with("SMTP send failed"), "{error}");
    harness.stop().await;
}

/// One event the notifier logged: its level, message and fields.
#[derive(Debug, Clone)]
struct LogLine {
    level: tracing::Level,
    message: String,
    fields: Vec<(String, String)>,
}

impl LogLine {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A tracing layer that keeps the events of `oversight_notify`.
#[derive(Debug, Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<LogLine>>>);

impl CapturedLogs {
    /// Captures the events of the current thread until the guard drops. A
    /// current-thread runtime runs every task of the notifier there.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    /// Returns the captured lines, oldest first.
    fn lines(&self) -> Vec<LogLine> {
        self.0.lock().expect("log lock").clone()
    }

    fn count(&self, level: tracing::Level, message: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.level == level && line.message.starts_with(message))
            .count()
    }
}

struct FieldRecorder<'a>(&'a mut LogLine);

impl tracing::field::Visit for FieldRecorder<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.0.message = text;
        } else {
            self.0.fields.push((field.name().to_owned(), text));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0.message);
        } else {
            self.0
                .fields
                .push((field.name().to_owned(), value.to_owned()));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CapturedLogs {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let metadata = event.metadata();
        if !metadata.target().starts_with("oversight_notify") {
            return;
        }
        let mut line = LogLine {
            level: *metadata.level(),
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut FieldRecorder(&mut line));
        self.0.lock().expect("log lock").push(line);
    }
}

/// Returns an address on 127.0.0.1 that refuses connections.
fn closed_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a port and release it")
}

#[tokio::test]
async fn failing_webhook_logs_once_per_outage() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let harness = Harness::start(&webhook_config(closed_addr(), "max_attempts = 2")).await;

    // Three areas make three notifications to the same webhook at once.
    for (id, area) in [(1, "350203"), (2, "350205"), (3, "350206")] {
        harness.send(firing(id, &format!("MN{id:04}"), area));
    }
    harness
        .wait_for("three dead letters", |all| {
            all.len() == 3 && all.iter().all(|n| n.status == DeliveryStatus::Dead)
        })
        .await;
    // Two more that fail within the summary interval are only counted.
    for (id, area) in [(4, "350211"), (5, "350212")] {
        harness.send(firing(id, &format!("MN{id:04}"), area));
    }
    let all = harness
        .wait_for("five dead letters", |all| {
            all.len() == 5 && all.iter().all(|n| n.status == DeliveryStatus::Dead)
        })
        .await;
    harness.stop().await;

    for notification in &all {
        assert_eq!(notification.attempts, 2, "{notification:#?}");
        let error = notification.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("ops"), "{error}");
    }
    let started = "delivery target failed";
    let gave_up = "delivery target still failing, notifications kept as dead letters";
    let at_stop = "delivery target still failing at stop";
    assert_eq!(
        logs.count(tracing::Level::WARN, started),
        1,
        "{:#?}",
        logs.lines()
    );
    assert_eq!(
        logs.count(tracing::Level::ERROR, gave_up),
        1,
        "{:#?}",
        logs.lines()
    );
    assert_eq!(
        logs.count(tracing::Level::WARN, at_stop),
        1,
        "{:#?}",
        logs.lines()
    );
    let loud: Vec<LogLine> = logs
        .lines()
        .into_iter()
        .filter(|line| line.level <= tracing::Level::WARN)
        .collect();
    assert_eq!(loud.len(), 3, "{loud:#?}");

    let summary = loud
        .iter()
        .find(|line| line.message == gave_up)
        .expect("give-up summary");
    assert_eq!(summary.field("target"), Some("ops"));
    assert_eq!(summary.field("channel"), Some("webhook"));
    assert_eq!(summary.field("dead_letters"), Some("3"));
    assert_eq!(summary.field("failed_attempts"), Some("6"));
    let last = loud
        .iter()
        .find(|line| line.message == at_stop)
        .expect("summary at stop");
    assert_eq!(last.field("dead_letters"), Some("2"));
    assert_eq!(last.field("failed_attempts"), Some("4"));
}

#[tokio::test]
async fn recovered_webhook_logs_summary() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let (addr, endpoint) = start_endpoint().await;
    endpoint.failures_left.store(2, Ordering::SeqCst);
    let harness = Harness::start(&webhook_config(addr, "")).await;
    harness.send(firing(1, "MN0001", "350203"));
    harness
        .wait_for("a delivered notification", |all| {
            all.len() == 1 && all[0].status == DeliveryStatus::Delivered
        })
        .await;
    harness.stop().await;

    let lines = logs.lines();
    let loud: Vec<&LogLine> = lines
        .iter()
        .filter(|line| line.level <= tracing::Level::WARN)
        .collect();
    assert_eq!(loud.len(), 1, "{loud:#?}");
    assert!(
        loud[0].message.starts_with("delivery target failed"),
        "{loud:#?}"
    );
    assert_eq!(
        loud[0].field("error"),
        Some("webhook ops answered HTTP 503")
    );
    let recovered = lines
        .iter()
        .find(|line| line.message == "delivery target recovered")
        .expect("recovery line");
    assert_eq!(recovered.level, tracing::Level::INFO);
    assert_eq!(recovered.field("failed_attempts"), Some("2"));
    assert_eq!(recovered.field("dead_letters"), Some("0"));
}
