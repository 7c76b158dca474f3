//! Router tests of logins, sessions, CSRF, API tokens, TOTP and account
//! administration, through `oneshot` against a real SQLite store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use jiff::tz::TimeZone;
use oversight_auth::{Role, password, totp};
use oversight_core::{Area, AreaCode, ManualClock};
use oversight_store::{AccountStore, AuthEventKind, NewUser, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use super::*;
use crate::auth::AuthConfig;
use crate::telemetry;

const PASSWORD: &str = "correct horse battery";

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    app: Router,
}

/// A response's status, headers and JSON body.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    /// Returns the `Cookie` header a browser would send back.
    fn cookie_header(&self) -> String {
        self.set_cookies()
            .iter()
            .map(|cookie| cookie.split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

impl Fixture {
    async fn new() -> Self {
        Self::with_config(AuthConfig::default()).await
    }

    async fn with_config(auth: AuthConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let clock = Arc::new(ManualClock::new("2026-12-04T08:00:00Z".parse().unwrap()));
        let areas: Vec<Area> = [("35", "福建省"), ("3502", "厦门市"), ("350203", "思明区")]
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
            auth,
        };
        let limits = HttpLimits {
            body_limit_bytes: 4096,
            request_timeout: Duration::from_secs(5),
        };
        Self {
            _dir: dir,
            store,
            clock,
            app: router(state, limits),
        }
    }

    async fn add_user(&self, username: &str, role: Role, department_id: Option<i64>) -> i64 {
        let user = NewUser {
            username: username.to_owned(),
            display_name: username.to_owned(),
            role,
            department_id,
            points: Vec::new(),
            password_hash: password::hash(PASSWORD).unwrap(),
        };
        self.store.create_user(&user).await.unwrap().id
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
        }
    }

    async fn login(&self, username: &str, password: &str) -> Reply {
        let body = json!({"username": username, "password": password});
        self.send(Method::POST, "/api/v1/auth/login", Some(body), &[])
            .await
    }

    /// Logs in and returns the cookie header and CSRF token of the session.
    async fn session(&self, username: &str) -> (String, String) {
        let reply = self.login(username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let csrf = reply.json["csrf_token"].as_str().unwrap().to_owned();
        (reply.cookie_header(), csrf)
    }
}

#[tokio::test]
async fn login_sets_session_cookies() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;

    let reply = fixture.login("root", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["user"]["username"], "root");
    assert_eq!(reply.json["user"]["role"], "system_admin");
    assert!(reply.json["user"].get("password_hash").is_none());
    let cookies = reply.set_cookies();
    let session = cookies
        .iter()
        .find(|cookie| cookie.starts_with("oversight_session=ovs_"))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "{session}");
    let csrf = cookies
        .iter()
        .find(|cookie| cookie.starts_with("oversight_csrf="))
        .expect("csrf cookie");
    assert!(!csrf.contains("HttpOnly"), "{csrf}");

    let cookie = reply.cookie_header();
    let me = fixture
        .send(Method::GET, "/api/v1/auth/me", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(me.json["user"]["username"], "root");
    assert_eq!(me.json["principal"]["scope"]["kind"], "all");
    assert_eq!(me.json["csrf_token"], reply.json["csrf_token"]);
}

#[tokio::test]
async fn login_secure_cookie_behind_https() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let body = json!({"username": "root", "password": PASSWORD});
    let reply = fixture
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(body),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for cookie in reply.set_cookies() {
        assert!(cookie.contains("Secure"), "{cookie}");
    }

    let configured = Fixture::with_config(AuthConfig {
        secure_cookies: true,
        ..AuthConfig::default()
    })
    .await;
    configured.add_user("root", Role::SystemAdmin, None).await;
    let reply = configured.login("root", PASSWORD).await;
    for cookie in reply.set_cookies() {
        assert!(cookie.contains("Secure"), "{cookie}");
    }
}

#[tokio::test]
async fn login_rejects_wrong_password() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;

    let wrong = fixture.login("root", "wrong horse battery").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error_code(), "unauthorized");
    assert!(wrong.set_cookies().is_empty());

    let unknown = fixture.login("nobody", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.json["error"]["message"],
        wrong.json["error"]["message"]
    );

    let events = fixture.store.auth_events(10).await.unwrap();
    let failed = events
        .iter()
        .filter(|event| event.kind == AuthEventKind::LoginFailed)
        .count();
    assert_eq!(failed, 2);
    assert_eq!(events[0].address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn login_locks_after_failures() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    for _ in 0..5 {
        let reply = fixture.login("root", "wrong horse battery").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let locked = fixture.login("root", PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.json
    );
    assert_eq!(locked.error_code(), "too_many_requests");
    assert_eq!(locked.headers[header::RETRY_AFTER], "900");

    // The lock ends 15 minutes after the latest failure.
    fixture.clock.advance(jiff::SignedDuration::from_mins(15));
    let after = fixture.login("root", PASSWORD).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.json);
}

#[tokio::test]
async fn session_unsafe_methods_need_csrf() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;

    let without = fixture
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(
        without.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    let wrong = fixture
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            &[("cookie", &cookie), ("x-csrf-token", "forged")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let logout = fixture
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(
        logout
            .set_cookies()
            .iter()
            .all(|cookie| cookie.contains("Max-Age=0"))
    );
    let after = fixture
        .send(Method::GET, "/api/v1/auth/me", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_expires() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, _) = fixture.session("root").await;
    fixture.clock.advance(jiff::SignedDuration::from_hours(8));
    let reply = fixture
        .send(Method::GET, "/api/v1/auth/me", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("log in again")
    );
}

#[tokio::test]
async fn token_create_use_revoke() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];

    let body = json!({"name": "exporter", "expires_in_days": 30, "actions": ["read_monitoring"]});
    let created = fixture
        .send(Method::POST, "/api/v1/auth/tokens", Some(body), &session)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let token = created.json["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ovt_"));
    assert_eq!(created.json["expires_at"], "2027-01-03T08:00:00Z");
    let bearer = format!("Bearer {token}");

    let listed = fixture
        .send(Method::GET, "/api/v1/auth/tokens", None, &session)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    assert!(!listed.json.to_string().contains(&token));

    // The token may read monitoring data but not manage its own account.
    let me = fixture
        .send(
            Method::GET,
            "/api/v1/auth/me",
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.json);
    let wrong = fixture
        .send(
            Method::GET,
            "/api/v1/auth/me",
            None,
            &[("authorization", "Bearer ovt_unknown")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let malformed = fixture
        .send(
            Method::GET,
            "/api/v1/auth/me",
            None,
            &[("authorization", "Basic cm9vdDpyb290")],
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);

    let id = created.json["id"].as_i64().unwrap();
    let revoked = fixture
        .send(
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{id}"),
            None,
            &session,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
    assert_eq!(revoked.json["revoked_at"], "2026-12-04T08:00:00Z");
    let after = fixture
        .send(
            Method::GET,
            "/api/v1/auth/me",
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_rejects_bad_expiry_and_actions() {
    let fixture = Fixture::new().await;
    let store = fixture.store.clone();
    let department = store
        .create_department(&oversight_store::NewDepartment {
            name: "Siming EEB".to_owned(),
            areas: vec![AreaCode::parse("350203").unwrap()],
            categories: Vec::new(),
        })
        .await
        .unwrap();
    fixture
        .add_user("chen", Role::Inspector, Some(department.id))
        .await;
    let (cookie, csrf) = fixture.session("chen").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];

    let body = json!({"name": "x", "expires_in_days": 400});
    let long = fixture
        .send(Method::POST, "/api/v1/auth/tokens", Some(body), &session)
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert!(
        long.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 365")
    );

    let body = json!({"name": "x", "expires_in_days": 1, "actions": ["manage_users"]});
    let above = fixture
        .send(Method::POST, "/api/v1/auth/tokens", Some(body), &session)
        .await;
    assert_eq!(above.status, StatusCode::FORBIDDEN, "{}", above.json);
}

#[tokio::test]
async fn totp_enrol_and_login() {
    let fixture = Fixture::new().await;
    let id = fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];

    let enrolled = fixture
        .send(Method::POST, "/api/v1/auth/totp", None, &session)
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.json);
    assert!(
        enrolled.json["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Oversight:root?")
    );
    let stored = fixture.store.user(id).await.unwrap().unwrap();
    let secret = totp::decode_secret(&stored.totp.unwrap().secret).unwrap();
    let now = u64::try_from(fixture.clock.now().as_second()).unwrap();
    let code = totp::code_at(&secret, now).unwrap();

    let wrong = fixture
        .send(
            Method::POST,
            "/api/v1/auth/totp/confirm",
            Some(json!({"code": "000000"})),
            &session,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let confirmed = fixture
        .send(
            Method::POST,
            "/api/v1/auth/totp/confirm",
            Some(json!({"code": code})),
            &session,
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{}",
        confirmed.json
    );

    let missing = fixture.login("root", PASSWORD).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "totp_required");

    // The code used to confirm cannot log in; the next step's code can, once.
    let body = |code: &str| json!({"username": "root", "password": PASSWORD, "totp_code": code});
    let replayed = fixture
        .send(Method::POST, "/api/v1/auth/login", Some(body(&code)), &[])
        .await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    fixture.clock.advance(jiff::SignedDuration::from_secs(30));
    let next = totp::code_at(&secret, now + 30).unwrap();
    let ok = fixture
        .send(Method::POST, "/api/v1/auth/login", Some(body(&next)), &[])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert_eq!(ok.json["user"]["totp_enabled"], true);
    let again = fixture
        .send(Method::POST, "/api/v1/auth/login", Some(body(&next)), &[])
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_manages_departments_and_users() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;
    let root = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];

    let body = json!({"name": "Siming EEB", "areas": ["350203"], "categories": ["water"]});
    let department = fixture
        .send(Method::POST, "/api/v1/departments", Some(body), &root)
        .await;
    assert_eq!(
        department.status,
        StatusCode::CREATED,
        "{}",
        department.json
    );
    let department_id = department.json["id"].as_i64().unwrap();

    let body = json!({
        "username": "lin", "password": PASSWORD, "role": "department_admin",
        "department_id": department_id
    });
    let admin = fixture
        .send(Method::POST, "/api/v1/users", Some(body), &root)
        .await;
    assert_eq!(admin.status, StatusCode::CREATED, "{}", admin.json);

    let body = json!({"username": "weak", "password": "short", "role": "system_admin"});
    let weak = fixture
        .send(Method::POST, "/api/v1/users", Some(body), &root)
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(
        weak.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("12 characters")
    );

    // A department administrator creates staff of their department, but no administrators.
    let (cookie, csrf) = fixture.session("lin").await;
    let lin = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let body = json!({
        "username": "chen", "password": PASSWORD, "role": "department_staff",
        "department_id": department_id
    });
    let staff = fixture
        .send(Method::POST, "/api/v1/users", Some(body), &lin)
        .await;
    assert_eq!(staff.status, StatusCode::CREATED, "{}", staff.json);
    let body = json!({"username": "boss", "password": PASSWORD, "role": "system_admin"});
    let escalate = fixture
        .send(Method::POST, "/api/v1/users", Some(body), &lin)
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    let listed = fixture.send(Method::GET, "/api/v1/users", None, &lin).await;
    let names: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chen"]);
    let departments = fixture
        .send(Method::GET, "/api/v1/departments", None, &lin)
        .await;
    assert_eq!(departments.json.as_array().unwrap().len(), 1);
    let new_department = fixture
        .send(
            Method::POST,
            "/api/v1/departments",
            Some(json!({"name": "Other", "areas": ["35"]})),
            &lin,
        )
        .await;
    assert_eq!(new_department.status, StatusCode::FORBIDDEN);

    // Staff may not manage accounts; disabling ends their session.
    let (cookie, _) = fixture.session("chen").await;
    let users = fixture
        .send(Method::GET, "/api/v1/users", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    let chen_id = staff.json["id"].as_i64().unwrap();
    let disabled = fixture
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{chen_id}"),
            Some(json!({"disabled": true})),
            &lin,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.json);
    let me = fixture
        .send(Method::GET, "/api/v1/auth/me", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let login = fixture.login("chen", PASSWORD).await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);

    let own = fixture
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin.json["id"]),
            Some(json!({"disabled": true})),
            &lin,
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);

    let events = fixture
        .send(Method::GET, "/api/v1/auth/events", None, &root)
        .await;
    assert_eq!(events.status, StatusCode::OK);
    let kinds: Vec<&str> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"user_created"), "{kinds:?}");
    assert!(kinds.contains(&"user_changed"), "{kinds:?}");
    assert!(kinds.contains(&"department_changed"), "{kinds:?}");
    let denied = fixture
        .send(Method::GET, "/api/v1/auth/events", None, &lin)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}
