//! Router tests: requests through `oneshot` against a real SQLite store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use jiff::{SignedDuration, Timestamp};
use oversight_core::{
    Area, AreaCode, DataFlag, DataKind, FactorCode, FactorValues, ManualClock, Mn, Reading,
    Severity,
};
use oversight_store::{AlertUpdate, QuarantineLimits, QuarantineReason, QuarantinedUpload, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use super::*;
use crate::telemetry;

const NOW: &str = "2026-12-04T08:00:00Z";
const BODY_LIMIT: usize = 4096;

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    app: Router,
    /// The `Authorization` header of a system administrator's API token.
    authorization: String,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
        let areas = [
            ("35", "福建省"),
            ("3502", "厦门市"),
            ("350203", "思明区"),
            ("350205", "海沧区"),
            ("350203001", "厦港街道"),
            ("50", "重庆市"),
        ];
        let areas: Vec<Area> = areas
            .iter()
            .map(|(code, name)| Area::new(AreaCode::parse(code).unwrap(), name).unwrap())
            .collect();
        store.upsert_areas(&areas).await.unwrap();
        let state = AppState {
            store: store.clone(),
            clock: clock.clone(),
            time_zone: TimeZone::fixed(jiff::tz::offset(8)),
            online_intervals: 3,
            metrics: telemetry::metrics_handle(),
            rules: None,
            alert_events: None,
            tasks: None,
            ledger: None,
            auth: AuthConfig::default(),
            oidc: None,
            notify: Arc::default(),
            login_gate: Arc::default(),
            name_key: crate::name_key::NameKey::random(),
        };
        let limits = HttpLimits {
            body_limit_bytes: BODY_LIMIT,
            request_timeout: Duration::from_secs(5),
            public_rate: PublicRateLimit::default(),
        };
        let authorization = admin_token(store.as_ref(), NOW.parse().unwrap()).await;
        Self {
            _dir: dir,
            store,
            clock,
            app: router(state, limits),
            authorization,
        }
    }

    async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, &self.authorization);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, json)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Method::GET, uri, None).await
    }

    /// Returns the kind and actor of the newest ledger entry.
    async fn last_ledger_entry(&self) -> (String, String) {
        let size = self.store.ledger_head().await.unwrap().size;
        let entry = self.store.ledger_entry(size - 1).await.unwrap().unwrap();
        (entry.kind, entry.actor)
    }

    async fn register(&self, mn: &str, area: &str) {
        let body = point_body(mn, area);
        let (status, json) = self.send(Method::POST, "/api/v1/points", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }

    async fn insert(&self, mn: &str, factor: &str, minutes_ago: i64, rtd: f64) {
        self.insert_from(mn, factor, minutes_ago, rtd, None).await;
    }

    /// Stores a reading as received over a connection from `peer`.
    async fn insert_from(
        &self,
        mn: &str,
        factor: &str,
        minutes_ago: i64,
        rtd: f64,
        peer: Option<&str>,
    ) {
        let now = self.clock.now();
        let data_time = now
            .checked_sub(SignedDuration::from_mins(minutes_ago))
            .unwrap();
        let reading = Reading {
            mn: Mn::parse(mn).unwrap(),
            kind: DataKind::Realtime,
            factor: FactorCode::parse(factor).unwrap(),
            data_time,
            received_at: data_time,
            values: FactorValues {
                rtd: Some(rtd),
                ..FactorValues::default()
            },
            flag: Some(DataFlag::NORMAL),
        };
        let peer = peer.map(|address| address.parse().unwrap());
        self.store
            .insert_readings_from(&[reading], peer)
            .await
            .unwrap();
    }
}

/// Returns the context of changes that set up a test's accounts.
pub(super) fn setup_audit() -> oversight_store::AuditContext {
    oversight_store::AuditContext::new(NOW.parse().expect("valid timestamp"), "setup")
}

/// Creates a system administrator with an API token and returns the
/// `Authorization` header value that sends the token.
pub(super) async fn admin_token(store: &SqliteStore, now: Timestamp) -> String {
    use oversight_store::{AccountStore, NewApiToken, NewUser};

    let user = store
        .create_user(
            &NewUser {
                username: "root".to_owned(),
                display_name: "root".to_owned(),
                role: oversight_auth::Role::SystemAdmin,
                department_id: None,
                points: Vec::new(),
                password_hash: oversight_auth::password::hash("correct horse battery").unwrap(),
            },
            &setup_audit(),
        )
        .await
        .unwrap();
    let secret =
        oversight_auth::secret::generate(oversight_auth::secret::API_TOKEN_PREFIX).unwrap();
    store
        .create_token(
            &NewApiToken {
                user_id: user.id,
                name: "router tests".to_owned(),
                digest: secret.digest,
                actions: Vec::new(),
                created_at: now,
                expires_at: now + SignedDuration::from_hours(24 * 365),
            },
            &setup_audit(),
        )
        .await
        .unwrap();
    format!("Bearer {}", secret.value)
}

pub(super) fn point_body(mn: &str, area: &str) -> Value {
    json!({
        "mn": mn,
        "name": format!("point {mn}"),
        "area": area,
        "system_code": "32",
        "password": "secret-pw",
        "location": {"longitude": 118.08, "latitude": 24.45},
        "limits": [
            {"factor": "w01018", "upper": 100.0, "unit": "mg/L"},
            {"factor": "w01001", "lower": 6.0, "upper": 9.0}
        ],
        "interval_secs": 60
    })
}

fn error_code(json: &Value) -> &str {
    json["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {json}"))
}

fn error_message(json: &Value) -> &str {
    json["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {json}"))
}

#[tokio::test]
async fn health_reports_store() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture.get("/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "store": "ok"})
    );
}

#[tokio::test]
async fn areas_children_and_path() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture.get("/api/v1/areas").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json[0],
        json!({"code": "35", "name": "福建省", "level": "province", "parent": null})
    );
    assert_eq!(json.as_array().unwrap().len(), 2);

    let (_, json) = fixture.get("/api/v1/areas?parent=3502").await;
    let codes: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["350203", "350205"]);
    assert_eq!(json[0]["parent"], "3502");

    let (status, json) = fixture.get("/api/v1/areas/350203001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["name"], "厦港街道");
    assert_eq!(json["level"], "street");
    let path: Vec<&str> = json["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["35", "3502", "350203", "350203001"]);
    assert_eq!(
        json["path"][1],
        json!({"code": "3502", "name": "厦门市", "level": "city"})
    );
}

#[tokio::test]
async fn areas_errors() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture.get("/api/v1/areas/3599").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&json), "not_found");
    assert!(error_message(&json).contains("3599"), "{json}");

    let (status, json) = fixture.get("/api/v1/areas?parent=3x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json), "invalid_request");
    assert!(error_message(&json).contains("parent=\"3x\""), "{json}");

    let (status, json) = fixture.get("/api/v1/areas?parent=3599").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");

    let (status, json) = fixture.get("/api/v1/areas?region=35").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("region"), "{json}");
}

#[tokio::test]
async fn point_create_hides_password() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture
        .send(
            Method::POST,
            "/api/v1/points",
            Some(point_body("MN001", "350203001")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(json["mn"], "MN001");
    assert_eq!(json["system_code"], "32");
    assert_eq!(
        json["location"],
        json!({"longitude": 118.08, "latitude": 24.45})
    );
    assert_eq!(
        json["limits"][0],
        json!({"factor": "w01018", "upper": 100.0, "lower": null, "unit": "mg/L"})
    );
    assert_eq!(json["interval_secs"], 60);
    assert!(json.get("password").is_none(), "{json}");
    assert!(!json.to_string().contains("secret-pw"), "{json}");
    assert_eq!(
        fixture.last_ledger_entry().await,
        ("point.upserted".to_owned(), "user:root".to_owned())
    );

    let stored = fixture
        .store
        .point(&Mn::parse("MN001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password.expose(), "secret-pw");
}

#[tokio::test]
async fn point_create_rejects_bad_body() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture
        .send(
            Method::POST,
            "/api/v1/points",
            Some(point_body("MN001", "350299")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_message(&json).contains("area 350299 not found"),
        "{json}"
    );

    let mut body = point_body("MN001", "350203");
    body["colour"] = json!("red");
    let (status, json) = fixture
        .send(Method::POST, "/api/v1/points", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("colour"), "{json}");

    let mut body = point_body("MN001", "350203");
    body["limits"][1]["lower"] = json!(10.0);
    let (status, json) = fixture
        .send(Method::POST, "/api/v1/points", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_message(&json).contains("lower limit must not exceed upper limit"),
        "{json}"
    );

    let mut body = point_body("MN001", "350203");
    body["name"] = json!("x".repeat(BODY_LIMIT));
    let (status, json) = fixture
        .send(Method::POST, "/api/v1/points", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("too large"), "{json}");

    let (page_status, page) = fixture.get("/api/v1/points").await;
    assert_eq!(page_status, StatusCode::OK);
    assert_eq!(
        page["items"],
        json!([]),
        "a rejected body must not create a point"
    );
}

#[tokio::test]
async fn points_page_and_filter() {
    let fixture = Fixture::new().await;
    for (mn, area) in [
        ("MN001", "350203001"),
        ("MN002", "350205"),
        ("MN003", "350203"),
    ] {
        fixture.register(mn, area).await;
    }
    let (_, first) = fixture.get("/api/v1/points?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = fixture
        .get(&format!("/api/v1/points?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["mn"], "MN003");
    assert_eq!(second["next_cursor"], Value::Null);

    let (_, json) = fixture.get("/api/v1/points?area=350203").await;
    let mns: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mn"].as_str().unwrap())
        .collect();
    assert_eq!(mns, ["MN001", "MN003"]);

    let (status, json) = fixture.get("/api/v1/points?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("limit=\"0\""), "{json}");

    let (status, json) = fixture.get("/api/v1/points?cursor=garbage").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(error_code(&json), "invalid_request");
}

#[tokio::test]
async fn point_status_online() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    let (status, json) = fixture.get("/api/v1/points/MN001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["status"],
        json!({
            "last_data_time": null, "last_received_at": null, "last_contact_at": null,
            "online": false,
        })
    );

    fixture.insert("MN001", "w01018", 1, 50.0).await;
    let (_, json) = fixture.get("/api/v1/points/MN001").await;
    assert_eq!(json["status"]["online"], true);
    assert_eq!(json["status"]["last_data_time"], "2026-12-04T07:59:00Z");

    // Three intervals of 60 s later the point is offline.
    fixture.clock.advance(SignedDuration::from_secs(181));
    let (_, json) = fixture.get("/api/v1/points/MN001").await;
    assert_eq!(json["status"]["online"], false);

    // A heartbeat without data brings it back online.
    let heartbeat = fixture.clock.now();
    fixture
        .store
        .record_contacts(&[(Mn::parse("MN001").unwrap(), heartbeat)])
        .await
        .unwrap();
    let (_, json) = fixture.get("/api/v1/points/MN001").await;
    assert_eq!(json["status"]["online"], true);
    assert_eq!(json["status"]["last_contact_at"], heartbeat.to_string());
    assert_eq!(json["status"]["last_received_at"], "2026-12-04T07:59:00Z");

    let (status, json) = fixture.get("/api/v1/points/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_message(&json).contains("NOPE"), "{json}");
}

#[tokio::test]
async fn readings_filter_and_order() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    for minutes in 1..=5 {
        fixture
            .insert(
                "MN001",
                "w01018",
                minutes,
                f64::from(u32::try_from(minutes).unwrap()),
            )
            .await;
    }
    fixture.insert("MN001", "w01001", 1, 7.1).await;

    let (status, json) = fixture
        .get("/api/v1/points/MN001/readings?factor=w01018")
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["data_time"], "2026-12-04T07:55:00Z");
    assert_eq!(
        items[0],
        json!({
            "factor": "w01018", "kind": "realtime", "data_time": "2026-12-04T07:55:00Z",
            "received_at": "2026-12-04T07:55:00Z", "rtd": 5.0, "flag": "N", "revisions": 0
        })
    );

    let uri = "/api/v1/points/MN001/readings?factor=w01018&order=desc&limit=2\
               &from=2026-12-04T07:56:00Z&to=2026-12-04T08:00:00Z&kind=realtime";
    let (_, json) = fixture.get(uri).await;
    let times: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data_time"].as_str().unwrap())
        .collect();
    assert_eq!(times, ["2026-12-04T07:59:00Z", "2026-12-04T07:58:00Z"]);
    let cursor = json["next_cursor"].as_str().expect("a next page");
    let (_, next) = fixture.get(&format!("{uri}&cursor={cursor}")).await;
    let times: Vec<&str> = next["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data_time"].as_str().unwrap())
        .collect();
    assert_eq!(times, ["2026-12-04T07:57:00Z", "2026-12-04T07:56:00Z"]);
}

#[tokio::test]
async fn revisions_listed_and_counted() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    fixture.insert("MN001", "w01018", 2, 50.0).await;
    fixture.insert("MN001", "w01018", 2, 50.0).await;
    fixture
        .insert_from("MN001", "w01018", 2, 55.0, Some("198.51.100.4:5100"))
        .await;
    fixture.insert("MN001", "w01018", 2, 57.0).await;
    fixture.insert("MN001", "w01018", 1, 60.0).await;

    let (status, json) = fixture.get("/api/v1/points/MN001/readings").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["rtd"], 50.0, "the first value wins");
    assert_eq!(items[0]["revisions"], 2);
    assert_eq!(items[1]["revisions"], 0);

    let (status, json) = fixture
        .get("/api/v1/points/MN001/revisions?factor=w01018")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["items"],
        json!([
            {
                "factor": "w01018", "kind": "realtime", "data_time": "2026-12-04T07:58:00Z",
                "received_at": "2026-12-04T07:58:00Z", "rtd": 55.0, "flag": "N",
                "peer": "198.51.100.4:5100"
            },
            {
                "factor": "w01018", "kind": "realtime", "data_time": "2026-12-04T07:58:00Z",
                "received_at": "2026-12-04T07:58:00Z", "rtd": 57.0, "flag": "N",
                "peer": null
            }
        ])
    );
    assert_eq!(json["next_cursor"], Value::Null);

    let (status, json) = fixture
        .get("/api/v1/points/MN001/revisions?kind=weekly")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("kind=\"weekly\""), "{json}");
    let (status, json) = fixture
        .get("/api/v1/points/MN001/revisions?order=desc")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    let (status, _) = fixture.get("/api/v1/points/NOPE/revisions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn point_password_change() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    let mn = Mn::parse("MN001").unwrap();
    let until = "2026-12-05T08:00:00Z";
    let body = json!({"password": "next-pw", "previous_valid_until": until});
    let (status, json) = fixture
        .send(Method::POST, "/api/v1/points/MN001/password", Some(body))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{json}");
    assert_eq!(
        fixture.last_ledger_entry().await,
        ("point.password_changed".to_owned(), "user:root".to_owned())
    );
    let point = fixture.store.point(&mn).await.unwrap().unwrap();
    assert_eq!(point.password.expose(), "next-pw");
    let previous = point.previous_password.expect("previous password kept");
    assert_eq!(previous.valid_until, until.parse::<Timestamp>().unwrap());

    let (_, json) = fixture.get("/api/v1/points/MN001").await;
    assert!(!json.to_string().contains("next-pw"), "{json}");

    let cases = [
        (json!({"password": "bad pass"}), "invalid password"),
        (
            json!({"password": "ok-pw", "previous_valid_until": "2026-12-04T07:00:00Z"}),
            "must be in the future",
        ),
        (
            json!({"password": "ok-pw", "previous_valid_until": "tomorrow"}),
            "previous_valid_until=\"tomorrow\"",
        ),
        (json!({"password": "ok-pw", "expires": 1}), "expires"),
    ];
    for (body, expected) in cases {
        let (status, json) = fixture
            .send(
                Method::POST,
                "/api/v1/points/MN001/password",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(error_message(&json).contains(expected), "{body}: {json}");
    }
    let point = fixture.store.point(&mn).await.unwrap().unwrap();
    assert_eq!(
        point.password.expose(),
        "next-pw",
        "rejected bodies change nothing"
    );

    let (status, _) = fixture
        .send(
            Method::POST,
            "/api/v1/points/NOPE/password",
            Some(json!({"password": "x1"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readings_reject_bad_params() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    let cases = [
        ("kind=weekly", "kind=\"weekly\""),
        ("order=up", "order=\"up\""),
        ("from=yesterday", "from=\"yesterday\""),
        ("limit=10001", "limit=\"10001\""),
        ("factor=w-1", "factor=\"w-1\""),
        (
            "from=2026-12-04T09:00:00Z&to=2026-12-04T08:00:00Z",
            "from must be before to",
        ),
        ("sort=asc", "sort"),
    ];
    for (query, expected) in cases {
        let (status, json) = fixture
            .get(&format!("/api/v1/points/MN001/readings?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(error_message(&json).contains(expected), "{query}: {json}");
    }
    let (status, _) = fixture.get("/api/v1/points/NOPE/readings").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

pub(super) fn trigger(mn: &str, factor: &str, value: f64, at: Timestamp) -> AlertUpdate {
    let mn = Mn::parse(mn).unwrap();
    let factor = FactorCode::parse(factor).unwrap();
    AlertUpdate::Trigger(Box::new(oversight_store::Trigger {
        fingerprint: oversight_core::Alert::fingerprint_of("env.limit.upper", &mn, Some(&factor)),
        rule_id: "env.limit.upper".to_owned(),
        rule_version: "1.0.0".to_owned(),
        category: "exceedance".to_owned(),
        department: None,
        mn,
        factor: Some(factor),
        severity: Severity::Warning,
        area: AreaCode::parse("350203001").unwrap(),
        at,
        value: Some(value),
        limit: Some(100.0),
        peak_is_max: true,
        firing: true,
        explanation: None,
    }))
}

#[tokio::test]
async fn alerts_list_and_one() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    let now = fixture.clock.now();
    let changes = fixture
        .store
        .apply_alert_updates(&[
            trigger("MN001", "w01018", 150.0, now),
            trigger("MN001", "w01018", 180.0, now),
        ])
        .await
        .unwrap();
    assert_eq!(changes.len(), 2);

    let (status, json) = fixture.get("/api/v1/alerts?status=open&area=3502").await;
    assert_eq!(status, StatusCode::OK);
    let alert = &json["items"][0];
    assert_eq!(alert["point_name"], "point MN001");
    assert_eq!(alert["rule_id"], "env.limit.upper");
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["trigger_value"], 150.0);
    assert_eq!(alert["peak_value"], 180.0);
    assert_eq!(alert["count"], 2);
    assert_eq!(alert["fingerprint"], "env.limit.upper:MN001:w01018");
    for field in [
        "id",
        "mn",
        "factor",
        "severity",
        "area",
        "first_at",
        "last_at",
        "resolved_at",
        "last_value",
        "limit",
    ] {
        assert!(alert.get(field).is_some(), "{field} missing in {alert}");
    }

    let id = alert["id"].as_i64().unwrap();
    let (status, one) = fixture.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for (field, value) in alert.as_object().expect("an alert is an object") {
        assert_eq!(&one[field], value, "{field}");
    }
    let transitions = one["transitions"].as_array().expect("transitions");
    assert_eq!(transitions.len(), 2);
    assert_eq!(transitions[0]["transition"], "firing");
    assert_eq!(transitions[1]["transition"], "repeated");
    assert!(
        one["readings_url"]
            .as_str()
            .is_some_and(|url| url.contains("factor=w01018")),
        "{one}"
    );

    let (_, resolved) = fixture.get("/api/v1/alerts?status=resolved").await;
    assert_eq!(resolved["items"], json!([]));

    let (status, json) = fixture.get("/api/v1/alerts/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_message(&json).contains("999"), "{json}");
    let (status, json) = fixture.get("/api/v1/alerts/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("id=\"abc\""), "{json}");
    let (status, json) = fixture.get("/api/v1/alerts?status=closed").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("status=\"closed\""), "{json}");
}

fn held_upload(mn: &str, at: Timestamp) -> QuarantinedUpload {
    let reading = Reading {
        mn: Mn::parse(mn).unwrap(),
        kind: DataKind::Realtime,
        factor: FactorCode::parse("w01018").unwrap(),
        data_time: at,
        received_at: at,
        values: FactorValues {
            rtd: Some(42.0),
            ..FactorValues::default()
        },
        flag: None,
    };
    QuarantinedUpload {
        mn: mn.to_owned(),
        reason: QuarantineReason::Unregistered,
        peer: Some("127.0.0.1:50000".to_owned()),
        received_at: at,
        raw: format!("##0000ST=32;CN=2011;PW=secret-pw;MN={mn};CP=&&w01018-Rtd=42&&0000"),
        readings: vec![reading],
    }
}

#[tokio::test]
async fn quarantine_release_after_registration() {
    let fixture = Fixture::new().await;
    let now = fixture.clock.now();
    fixture
        .store
        .quarantine(
            &[held_upload("NEW01", now), held_upload("NEW02", now)],
            &QuarantineLimits::default(),
        )
        .await
        .unwrap();

    let (status, json) = fixture.get("/api/v1/quarantine").await;
    assert_eq!(status, StatusCode::OK);
    let entries = &json["items"];
    assert_eq!(entries.as_array().unwrap().len(), 2);
    assert_eq!(entries[0]["uploads"], 1);
    assert_eq!(entries[0]["readings"], 1);
    assert_eq!(entries[0]["last_peer"], "127.0.0.1:50000");
    assert_eq!(entries[0]["reasons"], json!(["unregistered"]));
    assert_eq!(json["next_cursor"], Value::Null);

    let (status, page) = fixture.get("/api/v1/quarantine?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (status, second) = fixture
        .get(&format!("/api/v1/quarantine?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second["items"][0]["mn"], page["items"][0]["mn"]);
    let (status, _) = fixture.get("/api/v1/quarantine?cursor=zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, uploads) = fixture.get("/api/v1/quarantine/NEW01?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let held = &uploads["items"];
    assert_eq!(held[0]["mn"], "NEW01");
    assert_eq!(held[0]["reason"], "unregistered");
    assert_eq!(held[0]["readings"][0]["rtd"], 42.0);
    let raw = held[0]["raw"].as_str().unwrap();
    assert!(raw.contains("MN=NEW01"), "{raw}");
    assert!(raw.contains("PW=******;"), "password masked: {raw}");
    assert!(!raw.contains("secret-pw"), "password shown: {raw}");

    let (status, json) = fixture
        .send(Method::POST, "/api/v1/quarantine/NEW01/release", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&json), "conflict");
    assert!(error_message(&json).contains("not registered"), "{json}");

    fixture.register("NEW01", "350203001").await;
    let (status, json) = fixture
        .send(Method::POST, "/api/v1/quarantine/NEW01/release", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"moved": 1}));
    assert_eq!(
        fixture.last_ledger_entry().await,
        ("quarantine.released".to_owned(), "user:root".to_owned())
    );
    let (_, readings) = fixture.get("/api/v1/points/NEW01/readings").await;
    assert_eq!(readings["items"].as_array().unwrap().len(), 1);

    let (status, json) = fixture
        .send(Method::DELETE, "/api/v1/quarantine/NEW02", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"discarded": 1}));
    assert_eq!(
        fixture.last_ledger_entry().await,
        ("quarantine.discarded".to_owned(), "user:root".to_owned())
    );
    let (_, json) = fixture.get("/api/v1/quarantine").await;
    assert_eq!(json, json!({"items": [], "next_cursor": null}));

    let (status, _) = fixture
        .send(Method::DELETE, "/api/v1/quarantine/NEW02", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = fixture.get("/api/v1/quarantine/NEW02").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn summary_counts() {
    let fixture = Fixture::new().await;
    fixture.register("MN001", "350203001").await;
    fixture.register("MN002", "350205").await;
    fixture.insert("MN001", "w01018", 1, 150.0).await;
    fixture.insert("MN001", "w01001", 1, 7.0).await;
    let now = fixture.clock.now();
    fixture
        .store
        .apply_alert_updates(&[trigger("MN001", "w01018", 150.0, now)])
        .await
        .unwrap();

    let (status, json) = fixture.get("/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json,
        json!({
            "points": 2, "points_online": 1, "readings_today": 2, "open_alerts": 1,
            "area": null, "areas": null,
        })
    );
    let (_, json) = fixture.get("/api/v1/summary?area=350205").await;
    assert_eq!(
        json,
        json!({
            "points": 1, "points_online": 0, "readings_today": 0, "open_alerts": 0,
            "area": "350205", "areas": ["350205"],
        })
    );
    let (status, _) = fixture.get("/api/v1/summary?area=3599").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let fixture = Fixture::new().await;
    let (status, json) = fixture.get("/api/v1/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&json), "not_found");
    assert!(error_message(&json).contains("/api/v1/nothing"), "{json}");
}

#[tokio::test]
async fn metrics_renders_text() {
    let fixture = Fixture::new().await;
    let _ = fixture.get("/api/v1/health").await;
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = fixture.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("oversight_http_requests_total"), "{text}");
}
