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
use oversight_core::{Actor, Area, AreaCode, ManualClock};
use oversight_store::{AccountStore, AuthEventKind, NewUser, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use super::tests::setup_audit;
use super::*;
use crate::auth::AuthConfig;
use crate::telemetry;

const PASSWORD: &str = "correct horse battery";

pub(super) struct Fixture {
    _dir: TempDir,
    pub(super) store: Arc<SqliteStore>,
    pub(super) clock: Arc<ManualClock>,
    pub(super) tasks: crate::tasks::TaskService,
    app: Router,
}

/// A response's status, headers and JSON body.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) json: Value,
    /// The body as received, for responses that are not JSON.
    pub(super) bytes: axum::body::Bytes,
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

    /// Returns the error message, or an empty string when the body has none.
    pub(super) fn error_message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_default()
    }
}

impl Fixture {
    async fn new() -> Self {
        Self::with_config(AuthConfig::default()).await
    }

    async fn with_config(auth: AuthConfig) -> Self {
        Self::with_engine(auth, oversight_rules::default_task_engine()).await
    }

    /// Builds the fixture with a task engine, whose departments decide whose
    /// tasks a department account handles.
    pub(super) async fn with_engine(auth: AuthConfig, engine: oversight_tasks::Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let clock = Arc::new(ManualClock::new("2026-12-04T08:00:00Z".parse().unwrap()));
        let areas: Vec<Area> = [("35", "福建省"), ("3502", "厦门市"), ("350203", "思明区")]
            .iter()
            .map(|(code, name)| Area::new(AreaCode::parse(code).unwrap(), name).unwrap())
            .collect();
        store.upsert_areas(&areas).await.unwrap();
        let tasks = crate::tasks::TaskService::new(
            Arc::new(engine),
            store.clone(),
            clock.clone(),
            crate::tasks::EvidenceFiles::new(dir.path(), 1024 * 1024),
        );
        let state = AppState {
            store: store.clone(),
            clock: clock.clone(),
            time_zone: TimeZone::fixed(jiff::tz::offset(8)),
            online_intervals: 3,
            metrics: telemetry::metrics_handle(),
            rules: None,
            alert_events: None,
            tasks: Some(tasks.clone()),
            ledger: None,
            auth,
            oidc: None,
            notify: Arc::new(notify_config()),
            login_gate: Arc::default(),
            name_key: crate::name_key::NameKey::random(),
        };
        let limits = HttpLimits {
            body_limit_bytes: 4096,
            request_timeout: Duration::from_secs(5),
            public_rate: PublicRateLimit::default(),
        };
        Self {
            _dir: dir,
            store,
            clock,
            tasks,
            app: router(state, limits),
        }
    }

    async fn add_user(&self, username: &str, role: Role, department_id: Option<i64>) -> i64 {
        let user = new_user(username, role, department_id);
        self.store
            .create_user(&user, &setup_audit())
            .await
            .unwrap()
            .id
    }

    /// Creates a department over `areas` with no categories.
    pub(super) async fn add_department(
        &self,
        name: &str,
        areas: &[&str],
    ) -> oversight_store::Department {
        let department = oversight_store::NewDepartment {
            name: name.to_owned(),
            areas: areas
                .iter()
                .map(|area| AreaCode::parse(area).unwrap())
                .collect(),
            categories: Vec::new(),
        };
        self.store
            .create_department(&department, &setup_audit())
            .await
            .unwrap()
    }

    /// Stores the point that [`tests::point_body`] describes for `mn` in `area`.
    pub(super) async fn add_point(&self, mn: &str, area: &str) {
        let point = serde_json::from_value::<views::PointBody>(tests::point_body(mn, area))
            .unwrap()
            .into_point()
            .unwrap();
        self.store
            .upsert_points(&[point], &Actor::System)
            .await
            .unwrap();
    }

    /// Creates an API token of `user_id` that expires in 24 hours, and
    /// returns its `Authorization` header value.
    pub(super) async fn add_token(
        &self,
        user_id: i64,
        name: &str,
        actions: Vec<oversight_auth::Action>,
    ) -> String {
        let secret = oversight_auth::secret::generate("ovt_").unwrap();
        let now = self.clock.now();
        let token = oversight_store::NewApiToken {
            user_id,
            name: name.to_owned(),
            digest: secret.digest,
            actions,
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(24),
        };
        self.store
            .create_token(&token, &setup_audit())
            .await
            .unwrap();
        format!("Bearer {}", secret.value)
    }

    pub(super) async fn send(
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
            bytes,
        }
    }

    /// GETs `uri` with `headers`.
    async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, uri, None, headers).await
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

/// Returns a new account with the password [`PASSWORD`].
pub(super) fn new_user(username: &str, role: Role, department_id: Option<i64>) -> NewUser {
    NewUser {
        username: username.to_owned(),
        display_name: username.to_owned(),
        role,
        department_id,
        points: Vec::new(),
        password_hash: password::hash(PASSWORD).unwrap(),
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
    let me = fixture.get("/api/v1/auth/me", &[("cookie", &cookie)]).await;
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
async fn lookalike_login_names_rejected() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    fixture.add_user("admin", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;
    let root = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let create = |username: &str| {
        let body = json!({"username": username, "password": PASSWORD, "role": "system_admin"});
        fixture.send(Method::POST, "/api/v1/users", Some(body), &root)
    };

    for name in ["ａｄｍｉｎ", "Admin", "ADMIN"] {
        let reply = create(name).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{name}: {}", reply.json);
        let message = reply.error_message();
        assert!(message.contains(&format!("{name:?}")), "{message}");
        assert!(message.contains("normalises to \"admin\""), "{message}");
        assert!(message.contains("existing account \"admin\""), "{message}");
    }

    // A new name is stored normalised, and each of its forms logs in.
    let created = create("Chen").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["username"], "chen");
    for name in ["chen", "Chen", "ＣＨＥＮ"] {
        let reply = fixture.login(name, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.json);
    }

    // An account stored before names were normalised keeps its exact name.
    fixture.add_user("legacy", Role::SystemAdmin, None).await;
    let conn = rusqlite::Connection::open(fixture.store.path()).unwrap();
    conn.execute(
        "UPDATE users SET username = 'Legacy' WHERE username = 'legacy'",
        [],
    )
    .unwrap();
    let legacy = fixture.login("Legacy", PASSWORD).await;
    assert_eq!(legacy.status, StatusCode::OK, "{}", legacy.json);
}

/// A log writer that appends to a shared buffer, for reading what was logged.
#[derive(Clone, Default)]
struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn failed_login_logs_only_known_names() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;

    let typed_password = "Tr0ub4dor&3";
    let unknown = fixture.login(typed_password, PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let wrong = fixture.login("root", "wrong horse battery").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let text = log.text();
    assert!(!text.contains(typed_password), "{text}");
    assert!(
        text.contains("unknown login name of 11 characters"),
        "{text}"
    );
    assert!(text.contains("username=root"), "{text}");
}

#[tokio::test]
async fn login_with_hidden_characters_is_recorded() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let before = fixture.store.ledger_head().await.unwrap().size;

    let reply = fixture.login("ro\u{202E}ot", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.json);

    let events = fixture.store.auth_events(10).await.unwrap();
    assert_eq!(events[0].kind, AuthEventKind::LoginFailed);
    // No account has the name, so its keyed hash is recorded in its place.
    let actor = events[0].actor.as_str();
    assert!(actor.starts_with("unknown:"), "{actor}");
    let entries = fixture.store.ledger_entries(before, 10).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].kind, "auth.login_failed");
    assert_eq!(entries[0].subject, format!("user:{actor}"));
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
async fn lookalike_names_share_lockout() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    for name in ["ROOT", "Root", "ｒｏｏｔ", "ＲＯＯＴ", "rOOT"] {
        let reply = fixture.login(name, "wrong horse battery").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    let locked = fixture.login("root", PASSWORD).await;
    assert_eq!(locked.error_code(), "too_many_requests", "{}", locked.json);
}

#[tokio::test]
async fn unknown_login_name_is_hashed() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let typed_password = "Tr0ub4dor&3";
    // Lookalike forms of one unknown name share one hash and one lockout.
    for name in [typed_password, "TR0UB4DOR&3", "Ｔｒ0ｕｂ4ｄｏｒ&3"] {
        let reply = fixture.login(name, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    let wrong = fixture.login("root", "wrong horse battery").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let events = fixture.store.auth_events(100).await.unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter(|event| event.kind == AuthEventKind::LoginFailed)
        .map(|event| event.actor.as_str())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"root"), "{names:?}");
    let hashed: Vec<&str> = names.into_iter().filter(|name| *name != "root").collect();
    assert!(hashed[0].starts_with("unknown:"), "{hashed:?}");
    assert!(
        hashed.iter().all(|target| *target == hashed[0]),
        "{hashed:?}"
    );

    let entries = fixture.store.ledger_entries(0, 1000).await.unwrap();
    let ledger: String = entries
        .iter()
        .map(|entry| format!("{} {} {}\n", entry.subject, entry.actor, entry.payload))
        .collect::<String>()
        .to_lowercase();
    assert!(!ledger.contains(&typed_password.to_lowercase()), "{ledger}");
    assert!(ledger.contains(hashed[0]), "{ledger}");
    let stored = format!("{events:?}").to_lowercase();
    assert!(!stored.contains(&typed_password.to_lowercase()), "{stored}");

    // Two more failures lock the unknown name, as for an account's name.
    for attempt in 0..2 {
        let reply = fixture.login(typed_password, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let locked = fixture.login(typed_password, PASSWORD).await;
    assert_eq!(locked.error_code(), "too_many_requests", "{}", locked.json);
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
    assert!(without.error_message().contains("X-CSRF-Token"));
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
    let after = fixture.get("/api/v1/auth/me", &[("cookie", &cookie)]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_expires() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, _) = fixture.session("root").await;
    fixture.clock.advance(jiff::SignedDuration::from_hours(8));
    let reply = fixture.get("/api/v1/auth/me", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.error_message().contains("log in again"));
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

    let listed = fixture.get("/api/v1/auth/tokens", &session).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    assert!(!listed.json.to_string().contains(&token));

    // The token may read monitoring data but not manage its own account.
    let me = fixture
        .get("/api/v1/auth/me", &[("authorization", &bearer)])
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.json);
    let wrong = fixture
        .get(
            "/api/v1/auth/me",
            &[("authorization", "Bearer ovt_unknown")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let malformed = fixture
        .get(
            "/api/v1/auth/me",
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
        .get("/api/v1/auth/me", &[("authorization", &bearer)])
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invalid_credentials_are_rate_limited() {
    let fixture = Fixture::new().await;
    fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, _csrf) = fixture.session("root").await;
    let bogus = [("authorization", "Bearer ovt_unknown")];
    let ended = [("cookie", "oversight_session=ended")];

    // The bucket refills while the test runs, so it sends until both kinds
    // of invalid credentials have been rejected with 429.
    let mut limited_token = false;
    let mut limited_session = false;
    let mut sent = 0;
    while !(limited_token && limited_session) {
        assert!(sent < 1000, "no 429 after {sent} requests");
        let is_token = sent % 2 == 0;
        let headers: &[(&str, &str)] = if is_token { &bogus } else { &ended };
        let reply = fixture.get("/api/v1/auth/me", headers).await;
        sent += 1;
        if reply.status == StatusCode::UNAUTHORIZED {
            continue;
        }
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.json
        );
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        limited_token |= is_token;
        limited_session |= !is_token;
    }
    // The login took one request of the burst.
    let burst = DEFAULT_PUBLIC_BURST;
    assert!(sent >= burst, "429 after only {sent} requests");

    // Valid credentials from the same address are not limited.
    let valid = fixture
        .get("/api/v1/auth/me", &[("cookie", cookie.as_str())])
        .await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.json);
}

/// The accounts of a credential revocation test: the administrator `root`
/// and the account `clerk`, which has a session and an API token.
struct RevocationWorld {
    root_cookie: String,
    root_csrf: String,
    clerk_id: i64,
    clerk_cookie: String,
    bearer: String,
}

impl RevocationWorld {
    async fn new(fixture: &Fixture) -> Self {
        fixture.add_user("root", Role::SystemAdmin, None).await;
        let clerk_id = fixture.add_user("clerk", Role::SystemAdmin, None).await;
        let (root_cookie, root_csrf) = fixture.session("root").await;
        let (clerk_cookie, clerk_csrf) = fixture.session("clerk").await;
        let session = [
            ("cookie", clerk_cookie.as_str()),
            ("x-csrf-token", clerk_csrf.as_str()),
        ];
        let body = json!({"name": "exporter", "expires_in_days": 30});
        let created = fixture
            .send(Method::POST, "/api/v1/auth/tokens", Some(body), &session)
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
        let bearer = format!("Bearer {}", created.json["token"].as_str().unwrap());
        Self {
            root_cookie,
            root_csrf,
            clerk_id,
            clerk_cookie,
            bearer,
        }
    }

    fn admin(&self) -> [(&str, &str); 2] {
        [
            ("cookie", self.root_cookie.as_str()),
            ("x-csrf-token", self.root_csrf.as_str()),
        ]
    }
}

#[tokio::test]
async fn password_reset_revokes_tokens() {
    let fixture = Fixture::new().await;
    let world = RevocationWorld::new(&fixture).await;
    let bearer = world.bearer.as_str();
    let before = fixture
        .get("/api/v1/auth/tokens", &[("authorization", bearer)])
        .await;
    assert_ne!(before.status, StatusCode::UNAUTHORIZED, "{}", before.json);

    let body = json!({"password": "a new long passphrase 42"});
    let reset = fixture
        .send(
            Method::POST,
            &format!("/api/v1/users/{}/password", world.clerk_id),
            Some(body),
            &world.admin(),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.json);

    let token = fixture
        .get("/api/v1/auth/tokens", &[("authorization", bearer)])
        .await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED, "{}", token.json);
    let cookie_only = [("cookie", world.clerk_cookie.as_str())];
    let old_session = fixture.get("/api/v1/auth/me", &cookie_only).await;
    assert_eq!(old_session.status, StatusCode::UNAUTHORIZED);
    let events = fixture.store.auth_events(100).await.unwrap();
    let revoked = events
        .iter()
        .find(|event| event.kind == AuthEventKind::TokenRevoked)
        .expect("a token_revoked event");
    assert_eq!(revoked.actor, "root");
    assert_eq!(revoked.detail.as_deref(), Some("password changed"));
}

#[tokio::test]
async fn disabling_account_revokes_tokens() {
    let fixture = Fixture::new().await;
    let world = RevocationWorld::new(&fixture).await;

    let uri = format!("/api/v1/users/{}", world.clerk_id);
    for disabled in [true, false] {
        let body = json!({"disabled": disabled});
        let changed = fixture
            .send(Method::PATCH, &uri, Some(body), &world.admin())
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    }

    // The token stays revoked after the account is enabled again.
    let token = fixture
        .get(
            "/api/v1/auth/tokens",
            &[("authorization", world.bearer.as_str())],
        )
        .await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED, "{}", token.json);
    let events = fixture.store.auth_events(100).await.unwrap();
    let revoked = events
        .iter()
        .find(|event| event.kind == AuthEventKind::TokenRevoked)
        .expect("a token_revoked event");
    assert_eq!(revoked.detail.as_deref(), Some("account disabled"));
}

#[tokio::test]
async fn token_rejects_bad_expiry_and_actions() {
    let fixture = Fixture::new().await;
    let department = fixture.add_department("Siming EEB", &["350203"]).await;
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
    assert!(long.error_message().contains("1 to 365"));

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
async fn totp_disable_locks_after_failures() {
    let fixture = Fixture::new().await;
    let id = fixture.add_user("root", Role::SystemAdmin, None).await;
    let (cookie, csrf) = fixture.session("root").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let enrolled = fixture
        .send(Method::POST, "/api/v1/auth/totp", None, &session)
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.json);
    let stored = fixture.store.user(id).await.unwrap().unwrap();
    let secret = totp::decode_secret(&stored.totp.unwrap().secret).unwrap();
    let now = u64::try_from(fixture.clock.now().as_second()).unwrap();
    let code = totp::code_at(&secret, now).unwrap();
    let confirm = Some(json!({"code": code}));
    let confirmed = fixture
        .send(Method::POST, "/api/v1/auth/totp/confirm", confirm, &session)
        .await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT);

    let disable = |code: &str| Some(json!({"code": code}));
    for attempt in 0..5 {
        let wrong = fixture
            .send(
                Method::POST,
                "/api/v1/auth/totp/disable",
                disable("000000"),
                &session,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
    }
    fixture.clock.advance(jiff::SignedDuration::from_secs(30));
    let next = totp::code_at(&secret, now + 30).unwrap();
    let locked = fixture
        .send(
            Method::POST,
            "/api/v1/auth/totp/disable",
            disable(&next),
            &session,
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.json
    );
    assert!(locked.headers.contains_key(header::RETRY_AFTER));

    // Wrong codes count against the same limit as logins.
    let login = json!({"username": "root", "password": PASSWORD, "totp_code": next});
    let login = fixture
        .send(Method::POST, "/api/v1/auth/login", Some(login), &[])
        .await;
    assert_eq!(
        login.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        login.json
    );
    let events = fixture.store.auth_events(100).await.unwrap();
    let failures = events
        .iter()
        .filter(|event| event.kind == AuthEventKind::LoginFailed)
        .count();
    assert_eq!(failures, 5);
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
    assert!(weak.error_message().contains("12 characters"));

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
    let listed = fixture.get("/api/v1/users", &lin).await;
    let names: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chen"]);
    let departments = fixture.get("/api/v1/departments", &lin).await;
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
    let users = fixture.get("/api/v1/users", &[("cookie", &cookie)]).await;
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
    let me = fixture.get("/api/v1/auth/me", &[("cookie", &cookie)]).await;
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

    let events = fixture.get("/api/v1/auth/events", &root).await;
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
    let denied = fixture.get("/api/v1/auth/events", &lin).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

/// The records of the authorisation matrix: one point and alert in the
/// department's jurisdiction and one outside it.
struct MatrixWorld {
    /// One token per role, then the token of [`MULTI_AREA_STAFF`].
    tokens: Vec<(Role, String)>,
    multi_area_token: String,
    staff_id: i64,
    department_id: i64,
    own_alert: i64,
    other_alert: i64,
    own_task: String,
    other_task: String,
}

impl MatrixWorld {
    /// Returns the `Authorization` header value of `role`'s account.
    fn token(&self, role: Role) -> &str {
        &self
            .tokens
            .iter()
            .find(|(candidate, _)| *candidate == role)
            .unwrap()
            .1
    }
}

/// Returns the string field `name` of each item of a list page, in order.
fn item_field(json: &Value, name: &str) -> Vec<String> {
    json["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {json}"))
        .iter()
        .map(|item| item[name].as_str().unwrap().to_owned())
        .collect()
}

/// Returns the string field `name` of each item of a list page, sorted.
fn sorted_item_field(json: &Value, name: &str) -> Vec<String> {
    let mut values = item_field(json, name);
    values.sort();
    values
}

const OWN_MN: &str = "MNOWN01";
const OTHER_MN: &str = "MNOTHER1";
/// Department staff whose jurisdiction is 思明区 and 海沧区 (350205).
const MULTI_AREA_STAFF: &str = "multi_area_staff";

async fn matrix_world(fixture: &Fixture) -> MatrixWorld {
    let store = fixture.store.clone();
    store
        .upsert_areas(&[
            Area::new(AreaCode::parse("350205").unwrap(), "海沧区").unwrap(),
            Area::new(AreaCode::parse("350206").unwrap(), "湖里区").unwrap(),
        ])
        .await
        .unwrap();
    fixture.add_point(OWN_MN, "350203").await;
    fixture.add_point(OTHER_MN, "350206").await;
    let now = fixture.clock.now();
    let mut other_trigger = tests::trigger(OTHER_MN, "w01018", 150.0, now);
    if let oversight_store::AlertUpdate::Trigger(trigger) = &mut other_trigger {
        trigger.area = AreaCode::parse("350206").unwrap();
    }
    store
        .apply_alert_updates(&[tests::trigger(OWN_MN, "w01018", 150.0, now), other_trigger])
        .await
        .unwrap();
    let alert_of = |mn: &str| {
        let query = oversight_store::AlertQuery {
            mn: Some(oversight_core::Mn::parse(mn).unwrap()),
            ..oversight_store::AlertQuery::default()
        };
        let store = store.clone();
        async move { store.alerts(&query).await.unwrap().items[0].id.0 }
    };
    let own_alert = alert_of(OWN_MN).await;
    let other_alert = alert_of(OTHER_MN).await;
    let department = fixture.add_department("Siming EEB", &["350203"]).await;
    let own_task = matrix_task(fixture, OWN_MN, "350203").await;
    let other_task = matrix_task(fixture, OTHER_MN, "350206").await;
    let multi_area_department = fixture
        .add_department("Siming and Haicang EEB", &["350203", "350205"])
        .await;
    let mut tokens = Vec::new();
    let mut staff_id = 0;
    let accounts = Role::ALL
        .into_iter()
        .filter(|role| *role != Role::Public)
        .map(|role| (role.as_str(), role, department.id))
        .chain([(
            MULTI_AREA_STAFF,
            Role::DepartmentStaff,
            multi_area_department.id,
        )]);
    for (username, role, department) in accounts {
        let department_id = role.needs_department().then_some(department);
        let mut user = new_user(username, role, department_id);
        if role == Role::RegulatedParty {
            user.points = vec![oversight_core::Mn::parse(OWN_MN).unwrap()];
        }
        let user = store.create_user(&user, &setup_audit()).await.unwrap();
        if username == Role::DepartmentStaff.as_str() {
            staff_id = user.id;
        }
        let token = fixture.add_token(user.id, "matrix", Vec::new()).await;
        tokens.push((role, token));
    }
    let multi_area_token = tokens.last().unwrap().1.clone();
    MatrixWorld {
        tokens,
        multi_area_token,
        staff_id,
        department_id: department.id,
        own_alert,
        other_alert,
        own_task,
        other_task,
    }
}

/// Creates a task about point `mn` in `area` and returns its id.
async fn matrix_task(fixture: &Fixture, mn: &str, area: &str) -> String {
    use oversight_tasks::{
        Actor, Category, NewTask, Origin, PersonId, Role as TaskRole, SubjectId,
    };

    let actor = Actor {
        person: PersonId::parse("dispatcher").unwrap(),
        role: TaskRole::Dispatcher,
        department: None,
    };
    let created = fixture
        .tasks
        .create(
            |id| NewTask {
                id,
                origin: Origin::Manual,
                subject: Some(SubjectId::parse(mn).unwrap()),
                area: AreaCode::parse(area).unwrap(),
                category: Category::parse("water").unwrap(),
                title: format!("check {mn}"),
                description: "a task of the authorisation matrix".to_owned(),
                lead_department: None,
                co_departments: Vec::new(),
                evidence: Vec::new(),
                reporter: None,
            },
            &actor,
        )
        .await
        .unwrap();
    created.lead.task.id.to_string()
}

/// Fills the path parameters of a route with records inside (`own`) or
/// outside the department's jurisdiction.
fn concrete_path(path: &str, world: &MatrixWorld, own: bool) -> String {
    let (mn, alert, task) = if own {
        (OWN_MN, world.own_alert, &world.own_task)
    } else {
        (OTHER_MN, world.other_alert, &world.other_task)
    };
    let id = if path.starts_with("/alerts") {
        alert.to_string()
    } else if path.starts_with("/tasks") {
        task.clone()
    } else if path.starts_with("/users") {
        world.staff_id.to_string()
    } else if path.starts_with("/departments") {
        world.department_id.to_string()
    } else if path.starts_with("/auth/tokens") {
        // No such token, so revoking it leaves every role's token working.
        "999".to_owned()
    } else {
        "1".to_owned()
    };
    let code = if own { "350203" } else { "350206" };
    format!(
        "/api/v1{}",
        path.replace("{mn}", mn)
            .replace("{id}", &id)
            .replace("{code}", code)
    )
}

/// Routes a role may use by its actions but whose records it never sees,
/// which answer 403 even inside its jurisdiction.
fn denied_by_scope(path: &str, role: Role) -> bool {
    let everything = role == Role::SystemAdmin;
    path.starts_with("/quarantine") && !everything
}

/// Runs every route of the access table as every role, as department staff
/// with a jurisdiction of two areas, and without credentials, on records
/// inside and outside the jurisdiction.
#[tokio::test]
async fn authorisation_matrix() {
    use super::access::{Access, ROUTE_ACCESS};

    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let mut failures = Vec::new();
    for (method, path, access) in ROUTE_ACCESS {
        let method: Method = method.parse().unwrap();
        let uri = concrete_path(path, &world, true);
        let anonymous = fixture.send(method.clone(), &uri, None, &[]).await.status;
        let anonymous_ok = match access {
            Access::Public => !matches!(anonymous.as_u16(), 401 | 403),
            Access::Requires(_) => anonymous == StatusCode::UNAUTHORIZED,
        };
        if !anonymous_ok {
            failures.push(format!("{method} {uri} without credentials: {anonymous}"));
        }
        for (role, token) in &world.tokens {
            let headers = [("authorization", token.as_str())];
            let status = fixture
                .send(method.clone(), &uri, None, &headers)
                .await
                .status;
            let permitted = match access {
                Access::Public => true,
                Access::Requires(action) => role.permits(*action),
            };
            let ok = if !permitted || denied_by_scope(path, *role) {
                status == StatusCode::FORBIDDEN
            } else {
                !matches!(status.as_u16(), 401 | 403)
            };
            if !ok {
                failures.push(format!("{method} {uri} as {role}: {status}"));
            }
            // Records outside the jurisdiction must stay hidden from scoped roles.
            let scoped_record = method == Method::GET
                && (path.contains("{mn}")
                    || path.starts_with("/alerts/{id}")
                    || path.starts_with("/tasks/{id}"));
            if !scoped_record || !permitted || path.starts_with("/quarantine") {
                continue;
            }
            let other = concrete_path(path, &world, false);
            let status = fixture
                .send(method.clone(), &other, None, &headers)
                .await
                .status;
            let hidden = matches!(status.as_u16(), 403 | 404);
            if hidden == (*role == Role::SystemAdmin) {
                failures.push(format!("{method} {other} (other area) as {role}: {status}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Adds a point in 海沧区 (350205) with an open alert and a task, and
/// returns the task's id.
async fn add_haicang_records(fixture: &Fixture) -> String {
    const MN: &str = "MNWIDE01";
    fixture.add_point(MN, "350205").await;
    let mut trigger = tests::trigger(MN, "w01018", 150.0, fixture.clock.now());
    if let oversight_store::AlertUpdate::Trigger(trigger) = &mut trigger {
        trigger.area = AreaCode::parse("350205").unwrap();
    }
    fixture.store.apply_alert_updates(&[trigger]).await.unwrap();
    matrix_task(fixture, MN, "350205").await
}

#[tokio::test]
async fn multi_area_account_sees_every_area() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let haicang_task = add_haicang_records(&fixture).await;
    let headers = [("authorization", world.multi_area_token.as_str())];
    let both_mns = [OWN_MN, "MNWIDE01"];
    let mut both_tasks = [world.own_task.clone(), haicang_task.clone()];
    both_tasks.sort();

    let points = fixture.get("/api/v1/points", &headers).await;
    assert_eq!(points.status, StatusCode::OK, "{}", points.json);
    assert_eq!(sorted_item_field(&points.json, "mn"), both_mns);
    let alerts = fixture.get("/api/v1/alerts", &headers).await;
    assert_eq!(alerts.status, StatusCode::OK, "{}", alerts.json);
    assert_eq!(sorted_item_field(&alerts.json, "mn"), both_mns);
    let tasks = fixture.get("/api/v1/tasks", &headers).await;
    assert_eq!(tasks.status, StatusCode::OK, "{}", tasks.json);
    assert_eq!(sorted_item_field(&tasks.json, "id"), both_tasks);

    // Pages of one item chain through both areas, with nothing twice.
    for (path, name, expected) in [
        ("/api/v1/points", "mn", both_mns.map(str::to_owned)),
        ("/api/v1/alerts", "mn", both_mns.map(str::to_owned)),
        ("/api/v1/tasks", "id", both_tasks.clone()),
    ] {
        let mut seen = Vec::new();
        let mut uri = format!("{path}?limit=1");
        for page in 1.. {
            assert!(page <= 3, "{path}: paging does not end");
            let reply = fixture.get(&uri, &headers).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.json);
            let items = sorted_item_field(&reply.json, name);
            assert!(items.len() <= 1, "{uri}: {items:?}");
            seen.extend(items);
            match reply.json["next_cursor"].as_str() {
                Some(cursor) => uri = format!("{path}?limit=1&cursor={cursor}"),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, expected, "{path}");
    }

    let export = fixture.get("/api/v1/tasks/export.csv", &headers).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.json);
    let text = String::from_utf8(export.bytes.to_vec()).unwrap();
    let mut exported: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    exported.sort_unstable();
    assert_eq!(exported, both_tasks);
    let xlsx = fixture.get("/api/v1/tasks/export.xlsx", &headers).await;
    assert_eq!(xlsx.status, StatusCode::OK, "{}", xlsx.json);

    let summary = fixture.get("/api/v1/summary", &headers).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.json);
    assert_eq!(summary.json["points"], 2);
    assert_eq!(summary.json["open_alerts"], 2);
    assert_eq!(summary.json["areas"], json!(["350203", "350205"]));
    assert_eq!(summary.json["area"], Value::Null);

    // A named area narrows the lists: one area of the jurisdiction, or a
    // parent area that covers both.
    let haicang = fixture.get("/api/v1/points?area=350205", &headers).await;
    assert_eq!(haicang.status, StatusCode::OK, "{}", haicang.json);
    assert_eq!(sorted_item_field(&haicang.json, "mn"), ["MNWIDE01"]);
    let city = fixture.get("/api/v1/alerts?area=3502", &headers).await;
    assert_eq!(city.status, StatusCode::OK, "{}", city.json);
    assert_eq!(sorted_item_field(&city.json, "mn"), both_mns);
    let summary = fixture.get("/api/v1/summary?area=350205", &headers).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.json);
    assert_eq!(summary.json["points"], 1);
    assert_eq!(summary.json["area"], "350205");

    // Everything outside stays hidden.
    for uri in [
        "/api/v1/points?area=350206",
        "/api/v1/alerts?area=350206",
        "/api/v1/tasks?area=350206",
        "/api/v1/summary?area=350206",
        "/api/v1/tasks/export.csv?area=350206",
        "/api/v1/quarantine",
    ] {
        let reply = fixture.get(uri, &headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}: {}", reply.json);
    }
    for uri in [
        format!("/api/v1/points/{OTHER_MN}"),
        format!("/api/v1/alerts/{}", world.other_alert),
        format!("/api/v1/tasks/{}", world.other_task),
    ] {
        let reply = fixture.get(&uri, &headers).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}: {}", reply.json);
    }
}

#[tokio::test]
async fn scoped_lists_hide_other_areas() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let mns = |json: &Value| item_field(json, "mn");
    for role in [Role::DepartmentStaff, Role::Inspector, Role::RegulatedParty] {
        let headers = [("authorization", world.token(role))];
        let points = fixture.get("/api/v1/points", &headers).await;
        assert_eq!(points.status, StatusCode::OK, "{role}: {}", points.json);
        assert_eq!(mns(&points.json), [OWN_MN], "{role}");
        let alerts = fixture.get("/api/v1/alerts", &headers).await;
        assert_eq!(alerts.status, StatusCode::OK, "{role}: {}", alerts.json);
        assert_eq!(mns(&alerts.json), [OWN_MN], "{role}");
    }
    let headers = [("authorization", world.token(Role::DepartmentStaff))];
    let summary = fixture.get("/api/v1/summary", &headers).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.json);
    assert_eq!(summary.json["points"], 1);
    assert_eq!(summary.json["area"], "350203");
    let outside = fixture.get("/api/v1/summary?area=350206", &headers).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);

    let headers = [("authorization", world.token(Role::RegulatedParty))];
    let own = fixture.get("/api/v1/summary", &headers).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.json);
    assert_eq!(own.json["points"], 1, "the party's own point");
    assert_eq!(own.json["area"], Value::Null);
    let by_area = fixture.get("/api/v1/summary?area=350203", &headers).await;
    assert_eq!(by_area.status, StatusCode::FORBIDDEN);

    let headers = [("authorization", world.token(Role::SystemAdmin))];
    let all = fixture.get("/api/v1/points", &headers).await;
    assert_eq!(mns(&all.json), [OTHER_MN, OWN_MN]);
}

#[tokio::test]
async fn party_points_filtered_by_area() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let headers = [("authorization", world.token(Role::RegulatedParty))];
    let cases = [
        ("/api/v1/points?area=350203", vec![OWN_MN]),
        ("/api/v1/points?area=350206", Vec::new()),
        ("/api/v1/points", vec![OWN_MN]),
    ];
    for (uri, expected) in cases {
        let reply = fixture.get(uri, &headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.json);
        assert_eq!(item_field(&reply.json, "mn"), expected, "{uri}");
    }
    let invalid = fixture.get("/api/v1/points?area=35x", &headers).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.json);
}

#[tokio::test]
async fn task_lists_follow_the_scope() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let ids = |json: &Value| item_field(json, "id");
    for role in [Role::DepartmentStaff, Role::Inspector, Role::RegulatedParty] {
        let headers = [("authorization", world.token(role))];
        let tasks = fixture.get("/api/v1/tasks", &headers).await;
        assert_eq!(tasks.status, StatusCode::OK, "{role}: {}", tasks.json);
        assert_eq!(ids(&tasks.json), [world.own_task.as_str()], "{role}");
    }
    let headers = [("authorization", world.token(Role::SystemAdmin))];
    let all = fixture.get("/api/v1/tasks", &headers).await;
    assert_eq!(ids(&all.json).len(), 2, "{}", all.json);
}

#[tokio::test]
async fn task_actions_outside_scope_are_not_found() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let headers = [("authorization", world.token(Role::DepartmentStaff))];
    let other = format!("/api/v1/tasks/{}/actions/sign", world.other_task);
    let reply = fixture
        .send(Method::POST, &other, Some(json!({})), &headers)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.json);
    // Department staff may not dispatch, which needs the dispatcher role.
    let own = format!("/api/v1/tasks/{}/actions/dispatch", world.own_task);
    let reply = fixture
        .send(Method::POST, &own, Some(json!({})), &headers)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.json);
    let message = reply.error_message();
    assert!(message.contains("dispatcher"), "{message}");
    // Creating a task outside the jurisdiction is forbidden.
    let body = json!({
        "area": "350206",
        "category": "water",
        "title": "outside",
        "description": "a task outside the jurisdiction",
    });
    let reply = fixture
        .send(Method::POST, "/api/v1/tasks", Some(body), &headers)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.json);
}

/// Returns the `[notify]` recipients of the fixtures: a person and a
/// department recipient of department 1, the department recipient of
/// department 2, and a person linked to no account in the matrix.
fn notify_config() -> NotifyConfig {
    toml::from_str(
        r#"
[[recipients]]
id = "staff-desk"
account = "department_staff"
department_id = 1

[[recipients]]
id = "siming-eeb"
kind = "department"
department_id = 1

[[recipients]]
id = "huli-eeb"
kind = "department"
department_id = 2

[[recipients]]
id = "unlinked"
account = "nobody"
"#,
    )
    .expect("valid recipients")
}

/// Queues and delivers one inbox notification for each recipient, and
/// returns their ids by recipient.
async fn delivered_inbox(fixture: &Fixture) -> std::collections::HashMap<String, i64> {
    let mut ids = std::collections::HashMap::new();
    for (alert, recipient) in ["staff-desk", "siming-eeb", "huli-eeb", "unlinked"]
        .into_iter()
        .enumerate()
    {
        let id = deliver_inbox(fixture, recipient, alert as i64 + 1, &[(OWN_MN, "350203")]).await;
        ids.insert(recipient.to_owned(), id);
    }
    ids
}

/// Queues one inbox notification for `recipient` that lists an alert of
/// each `(mn, area)` point, delivers it, and returns its id. The alerts get
/// ids from `first_alert` on.
async fn deliver_inbox(
    fixture: &Fixture,
    recipient: &str,
    first_alert: i64,
    points: &[(&str, &str)],
) -> i64 {
    use oversight_core::{AlertId, AlertTransition, Severity};
    use oversight_store::{Channel, DeliveryOutcome, NewNotification, NotificationItem};

    let now = fixture.clock.now();
    let mut id = None;
    for (offset, (mn, area)) in (0..).zip(points) {
        let alert = first_alert + offset;
        let item = NotificationItem {
            alert_id: AlertId(alert),
            fingerprint: format!("env.limit.upper:{mn}:{alert}"),
            transition: AlertTransition::Firing,
            rule_id: "env.limit.upper".to_owned(),
            category: "exceedance".to_owned(),
            severity: Severity::Warning,
            mn: (*mn).to_owned(),
            factor: Some("w01018".to_owned()),
            area: AreaCode::parse(area).unwrap(),
            department: Some("ecology-environment".to_owned()),
            value: Some(150.0),
            limit: Some(100.0),
            count: 1,
            at: now,
        };
        let queued = NewNotification {
            recipient: recipient.to_owned(),
            channel: Channel::Inbox,
            target: recipient.to_owned(),
            group_key: format!("{recipient}-{first_alert}"),
            item,
            send_after: now,
            queued_at: now,
        };
        id = Some(fixture.store.queue_notifications(&[queued]).await.unwrap()[0]);
    }
    for claimed in fixture.store.claim_notifications(now, 10).await.unwrap() {
        fixture
            .store
            .record_delivery(claimed.id, DeliveryOutcome::Delivered { at: now })
            .await
            .unwrap();
    }
    id.expect("at least one point")
}

/// Creates a silence with `matcher` (mn, area) as the account of `token`
/// and returns its id.
async fn create_silence(fixture: &Fixture, token: &str, matcher: Value) -> i64 {
    let mut body = json!({"ends_at": "2026-12-05T08:00:00Z", "comment": "analyser maintenance"});
    let fields = body.as_object_mut().unwrap();
    fields.extend(matcher.as_object().unwrap().clone());
    let reply = fixture
        .send(
            Method::POST,
            "/api/v1/silences",
            Some(body),
            &[("authorization", token)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    reply.json["id"].as_i64().unwrap()
}

#[tokio::test]
async fn silences_outside_scope_are_hidden() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    let admin = world.token(Role::SystemAdmin);
    let staff = world.token(Role::DepartmentStaff);
    let foreign_area = create_silence(&fixture, admin, json!({"area": "350206"})).await;
    let foreign_point = create_silence(&fixture, admin, json!({"mn": OTHER_MN})).await;
    let own = create_silence(&fixture, staff, json!({"area": "350203"})).await;
    let ids = |reply: &Reply| -> Vec<i64> {
        let mut ids: Vec<i64> = reply
            .json
            .as_array()
            .unwrap_or_else(|| panic!("no list in {}", reply.json))
            .iter()
            .map(|silence| silence["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };

    for role in [Role::DepartmentStaff, Role::Inspector] {
        let listed = fixture
            .get(
                "/api/v1/silences?all=true",
                &[("authorization", world.token(role))],
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{role}: {}", listed.json);
        assert_eq!(ids(&listed), [own], "{role}: {}", listed.json);
    }
    let everything = fixture
        .get("/api/v1/silences", &[("authorization", admin)])
        .await;
    assert_eq!(ids(&everything), [foreign_area, foreign_point, own]);

    // A silence outside the jurisdiction returns 404, as a missing one does.
    for (id, expected) in [
        (foreign_area, StatusCode::NOT_FOUND),
        (foreign_point, StatusCode::NOT_FOUND),
        (own, StatusCode::OK),
    ] {
        let expired = fixture
            .send(
                Method::POST,
                &format!("/api/v1/silences/{id}/expire"),
                None,
                &[("authorization", staff)],
            )
            .await;
        assert_eq!(expired.status, expected, "silence {id}: {}", expired.json);
    }
    let still_running = fixture
        .get("/api/v1/silences", &[("authorization", admin)])
        .await;
    assert_eq!(
        ids(&still_running),
        [foreign_area, foreign_point],
        "a silence outside the jurisdiction was expired, or the own one was not"
    );
}

#[tokio::test]
async fn inbox_hides_alerts_outside_scope() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    // Routes may send alerts of any area to a department recipient, but its
    // readers see only the alerts of their own jurisdiction (350203).
    let foreign = deliver_inbox(&fixture, "siming-eeb", 10, &[(OTHER_MN, "350206")]).await;
    let mixed = deliver_inbox(
        &fixture,
        "siming-eeb",
        20,
        &[(OWN_MN, "350203"), (OTHER_MN, "350206")],
    )
    .await;
    let get = |role: Role, uri: String| {
        let auth = world.token(role);
        let fixture = &fixture;
        async move { fixture.get(&uri, &[("authorization", auth)]).await }
    };

    for role in [Role::DepartmentStaff, Role::Inspector] {
        let inbox = get(role, "/api/v1/inbox".to_owned()).await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.json);
        let ids: Vec<i64> = inbox.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [mixed], "{role}: {}", inbox.json);
        let entry = &inbox.json["items"][0];
        assert_eq!(item_field(entry, "mn"), [OWN_MN], "{role}: {entry}");
        let text = entry["text"].as_str().unwrap();
        assert!(!text.contains(OTHER_MN), "{role}: {text}");
        let subject = entry["subject"].as_str().unwrap();
        assert!(subject.contains("共 1 条"), "{role}: {subject}");
    }

    let listed = get(Role::DepartmentAdmin, "/api/v1/notifications".to_owned()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    let listed_mns: Vec<Vec<String>> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|notification| item_field(notification, "mn"))
        .collect();
    assert_eq!(listed_mns, [vec![OWN_MN.to_owned()]], "{}", listed.json);
    let hidden = get(
        Role::DepartmentAdmin,
        format!("/api/v1/notifications/{foreign}"),
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.json);
    let trimmed = get(
        Role::DepartmentAdmin,
        format!("/api/v1/notifications/{mixed}"),
    )
    .await;
    assert_eq!(trimmed.status, StatusCode::OK, "{}", trimmed.json);
    assert_eq!(
        item_field(&trimmed.json, "mn"),
        [OWN_MN],
        "{}",
        trimmed.json
    );

    let admin = get(
        Role::SystemAdmin,
        "/api/v1/inbox?recipient=siming-eeb".to_owned(),
    )
    .await;
    assert_eq!(
        admin.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        admin.json
    );
    let whole = get(Role::SystemAdmin, format!("/api/v1/notifications/{mixed}")).await;
    assert_eq!(
        sorted_item_field(&whole.json, "mn"),
        [OTHER_MN, OWN_MN],
        "{}",
        whole.json
    );
}

#[tokio::test]
async fn inbox_and_delivery_status_are_scoped() {
    let fixture = Fixture::new().await;
    let world = matrix_world(&fixture).await;
    assert_eq!(world.department_id, 1, "the recipients name department 1");
    let ids = delivered_inbox(&fixture).await;
    let recipients = |json: &Value| sorted_item_field(json, "recipient");
    let get = |role: Role, uri: &'static str| {
        let auth = world.token(role);
        let fixture = &fixture;
        async move { fixture.get(uri, &[("authorization", auth)]).await }
    };

    let staff = get(Role::DepartmentStaff, "/api/v1/inbox").await;
    assert_eq!(staff.status, StatusCode::OK, "{}", staff.json);
    assert_eq!(recipients(&staff.json), ["siming-eeb", "staff-desk"]);
    let inspector = get(Role::Inspector, "/api/v1/inbox").await;
    assert_eq!(recipients(&inspector.json), ["siming-eeb"]);
    let party = get(Role::RegulatedParty, "/api/v1/inbox").await;
    assert_eq!(party.status, StatusCode::OK, "{}", party.json);
    assert!(recipients(&party.json).is_empty(), "{}", party.json);
    let other_department = get(Role::Inspector, "/api/v1/inbox?recipient=huli-eeb").await;
    assert_eq!(other_department.status, StatusCode::FORBIDDEN);
    assert!(
        other_department.error_message().contains("siming-eeb"),
        "{}",
        other_department.json
    );
    let admin_reads_any = get(Role::SystemAdmin, "/api/v1/inbox?recipient=huli-eeb").await;
    assert_eq!(recipients(&admin_reads_any.json), ["huli-eeb"]);

    let department_admin = get(Role::DepartmentAdmin, "/api/v1/notifications").await;
    assert_eq!(
        department_admin.status,
        StatusCode::OK,
        "{}",
        department_admin.json
    );
    assert_eq!(
        recipients(&department_admin.json),
        ["siming-eeb", "staff-desk"]
    );
    let foreign = get(
        Role::DepartmentAdmin,
        "/api/v1/notifications?recipient=huli-eeb",
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.json);
    let admin_token = world.token(Role::DepartmentAdmin);
    let hidden = fixture
        .get(
            &format!("/api/v1/notifications/{}", ids["huli-eeb"]),
            &[("authorization", admin_token)],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.json);
    let everything = get(Role::SystemAdmin, "/api/v1/notifications").await;
    assert_eq!(
        recipients(&everything.json),
        ["huli-eeb", "siming-eeb", "staff-desk", "unlinked"]
    );
    let staff_status = get(Role::DepartmentStaff, "/api/v1/notifications").await;
    assert_eq!(staff_status.status, StatusCode::FORBIDDEN);

    let inspector_token = world.token(Role::Inspector);
    let marked = fixture
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            Some(json!({"ids": [ids["staff-desk"], ids["siming-eeb"], ids["huli-eeb"]]})),
            &[("authorization", inspector_token)],
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.json);
    assert_eq!(
        marked.json["marked"], 1,
        "only the department's notification is the inspector's"
    );
    let unread = get(Role::DepartmentStaff, "/api/v1/inbox?unread=true").await;
    assert_eq!(recipients(&unread.json), ["staff-desk"]);
    let empty = fixture
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            Some(json!({"ids": []})),
            &[("authorization", inspector_token)],
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.json);
    let bad_flag = get(Role::Inspector, "/api/v1/inbox?unread=yes").await;
    assert_eq!(
        bad_flag.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_flag.json
    );
}
