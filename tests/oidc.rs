//! OpenID Connect sign-on against providers on 127.0.0.1: an axum server
//! written here, with discovery, JWKS, authorization and token endpoints
//! that signs real RS256 ID tokens with the keys in `tests/fixtures`, and
//! `oauth2-mock-server` from npm (`tests/oidc-provider`), which another
//! project wrote.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{DataDir, Server};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "oversight";
const CLIENT_SECRET: &str = "client secret 7f3a";
const CODE: &str = "authorization-code-1";
const SIGNING_KEY: &str = include_str!("fixtures/oidc-signing-key.pem");
const OTHER_KEY: &str = include_str!("fixtures/oidc-other-key.pem");
const JWKS: &str = include_str!("fixtures/oidc-jwks.json");

/// What the provider puts into the next ID token.
#[derive(Debug, Clone)]
struct TokenPlan {
    username: String,
    /// Replaces the nonce of the authorization request.
    nonce: Option<String>,
    /// Seconds from now to `exp`.
    expires_in: i64,
    /// Signs with the key that is not in the JWKS.
    wrong_key: bool,
}

impl TokenPlan {
    fn for_user(username: &str) -> Self {
        Self {
            username: username.to_owned(),
            nonce: None,
            expires_in: 300,
            wrong_key: false,
        }
    }
}

/// The authorization request the provider saw last.
#[derive(Debug, Default, Clone)]
struct Authorization {
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
}

#[derive(Debug)]
struct ProviderState {
    issuer: String,
    authorization: Mutex<Authorization>,
    plan: Mutex<TokenPlan>,
}

async fn discovery(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], JWKS).into_response()
}

/// Records the request and redirects back at once, as a provider does for
/// a user who is already signed in there.
async fn authorize(
    State(state): State<Arc<ProviderState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["scope"].split(' ').any(|scope| scope == "openid"));
    *state.authorization.lock().expect("provider state lock") = Authorization {
        nonce: query["nonce"].clone(),
        code_challenge: query["code_challenge"].clone(),
        redirect_uri: query["redirect_uri"].clone(),
    };
    let location = format!(
        "{}?code={CODE}&state={}",
        query["redirect_uri"], query["state"]
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

async fn token(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // RFC 6749, section 2.3.1: the client id and secret are
    // form-urlencoded before they are joined and base64-encoded.
    let form_encode =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let expected_auth = format!(
        "Basic {}",
        STANDARD.encode(format!(
            "{}:{}",
            form_encode(CLIENT_ID),
            form_encode(CLIENT_SECRET)
        ))
    );
    let authorization = state
        .authorization
        .lock()
        .expect("provider state lock")
        .clone();
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let valid = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value == expected_auth.as_str())
        && form.get("grant_type").map(String::as_str) == Some("authorization_code")
        && form.get("code").map(String::as_str) == Some(CODE)
        && form.get("redirect_uri") == Some(&authorization.redirect_uri)
        && challenge == authorization.code_challenge;
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }

    let plan = state.plan.lock().expect("provider state lock").clone();
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "iss": state.issuer,
        "aud": CLIENT_ID,
        "sub": format!("subject-{}", plan.username),
        "iat": now,
        "exp": now + plan.expires_in,
        "nonce": plan.nonce.unwrap_or(authorization.nonce),
        "preferred_username": plan.username,
    });
    let pem = if plan.wrong_key {
        OTHER_KEY
    } else {
        SIGNING_KEY
    };
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".to_owned());
    let id_token = jsonwebtoken::encode(&header, &claims, &key).expect("sign ID token");
    Json(json!({
        "access_token": "access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

/// A mock OpenID provider listening on a free port of 127.0.0.1.
struct Provider {
    state: Arc<ProviderState>,
    addr: SocketAddr,
}

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider");
        let addr = listener.local_addr().expect("provider address");
        let state = Arc::new(ProviderState {
            issuer: format!("http://{addr}"),
            authorization: Mutex::new(Authorization::default()),
            plan: Mutex::new(TokenPlan::for_user("nobody")),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state, addr }
    }

    fn plan(&self, plan: TokenPlan) {
        *self.state.plan.lock().expect("provider state lock") = plan;
    }
}

/// `oauth2-mock-server` from `tests/oidc-provider`, listening on a free port
/// of 127.0.0.1 with a new RS256 key. Its authorization endpoint redirects
/// back at once, and its ID tokens name the subject `johndoe`.
struct NpmProvider {
    child: Child,
    issuer: String,
    /// Kept open so that the provider's later output has a reader.
    _stdout: BufReader<ChildStdout>,
}

impl NpmProvider {
    /// Starts the provider, or returns why it cannot run on this machine.
    fn start() -> Result<Self, String> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider");
        let program = dir.join("node_modules/.bin/oauth2-mock-server");
        if Command::new("node").arg("--version").output().is_err() {
            return Err("node is not installed".to_owned());
        }
        if !program.exists() {
            return Err(format!(
                "{} is missing; run `npm ci` in {}",
                program.display(),
                dir.display()
            ));
        }
        let mut child = Command::new(&program)
            .args(["-a", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("starting {} failed: {error}", program.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut output = String::new();
        loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).expect("read provider output");
            if read == 0 {
                let _ = child.kill();
                panic!("oauth2-mock-server exited before it printed its issuer:\n{output}");
            }
            if let Some(issuer) = line.trim().strip_prefix("OAuth 2 issuer is ") {
                let issuer = issuer.to_owned();
                return Ok(Self {
                    child,
                    issuer,
                    _stdout: stdout,
                });
            }
            output.push_str(&line);
        }
    }
}

impl Drop for NpmProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Oversight with sign-on configured for `provider`, and adds the
/// accounts `li` (department staff) and the administrator `root`.
async fn start_server(data: &DataDir, provider: &Provider) -> Server {
    let oidc = format!(
        "issuer_url = \"http://{}\"\n\
         client_secret = \"{CLIENT_SECRET}\"\n\
         [auth.oidc.usernames]\n\
         \"li.mapped\" = \"li\"\n",
        provider.addr
    );
    start_server_with(data, &oidc).await
}

/// Starts Oversight with `[auth.oidc]` set to `client_id`, the callback URL
/// and the settings in `oidc`, and adds the accounts `li` (department staff)
/// and the administrator `root`.
async fn start_server_with(data: &DataDir, oidc: &str) -> Server {
    let config = data.path().join("oidc.toml");
    let text = format!(
        "[auth.oidc]\n\
         client_id = \"{CLIENT_ID}\"\n\
         redirect_url = \"http://127.0.0.1/api/v1/auth/oidc/callback\"\n\
         {oidc}"
    );
    std::fs::write(&config, text).expect("write configuration");
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let server = Server::start_with_config(data, &config).await;
    let (status, department) = server
        .post(
            "/api/v1/departments",
            &json!({"name": "ecology", "areas": ["35"]}),
        )
        .await;
    assert_eq!(status, 201, "{department}");
    let (status, user) = server
        .post(
            "/api/v1/users",
            &json!({
                "username": "li",
                "password": "li staff password 1",
                "role": "department_staff",
                "department_id": department["id"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    server
}

/// The outcome of a sign-on attempt made the way a browser makes it.
struct Attempt {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: Value,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// Starts sign-on at Oversight, follows the redirect to the provider and
/// returns the state cookie and the query of the provider's redirect back.
async fn start_sign_on(server: &Server) -> (String, String) {
    let client = no_redirects();
    let login = client
        .get(server.url("/api/v1/auth/oidc/login"))
        .send()
        .await
        .expect("start sign-on");
    assert_eq!(login.status(), 303);
    let state_cookie = set_cookies(&login)
        .into_iter()
        .find(|cookie| cookie.starts_with("oversight_oidc_state="))
        .expect("state cookie");
    assert!(state_cookie.contains("HttpOnly"), "{state_cookie}");
    assert!(state_cookie.contains("SameSite=Lax"), "{state_cookie}");
    let cookie = state_cookie
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let authorize_url = login.headers()[header::LOCATION]
        .to_str()
        .expect("ASCII location")
        .to_owned();
    let back = client
        .get(&authorize_url)
        .send()
        .await
        .expect("provider authorization");
    assert!(back.status().is_redirection(), "{}", back.status());
    let location = back.headers()[header::LOCATION].to_str().expect("ASCII");
    let query = location
        .split_once('?')
        .expect("redirect back with a query")
        .1
        .to_owned();
    (cookie, query)
}

/// Sends the provider's redirect back to Oversight's callback.
async fn finish_sign_on(server: &Server, cookie: &str, query: &str) -> Attempt {
    let response = no_redirects()
        .get(server.url(&format!("/api/v1/auth/oidc/callback?{query}")))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("callback");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let cookies = set_cookies(&response);
    let body = response.json().await.unwrap_or(Value::Null);
    Attempt {
        status,
        location,
        cookies,
        body,
    }
}

async fn sign_on(server: &Server, provider: &Provider, plan: TokenPlan) -> Attempt {
    provider.plan(plan);
    let (cookie, query) = start_sign_on(server).await;
    finish_sign_on(server, &cookie, &query).await
}

/// Returns `GET /api/v1/auth/me` on the session that `attempt` opened.
async fn signed_on_account(server: &Server, attempt: &Attempt) -> Value {
    let cookie_header: Vec<&str> = attempt
        .cookies
        .iter()
        .filter_map(|cookie| cookie.split(';').next())
        .filter(|pair| {
            pair.starts_with("oversight_session=") || pair.starts_with("oversight_csrf=")
        })
        .collect();
    reqwest::Client::new()
        .get(server.url("/api/v1/auth/me"))
        .header(header::COOKIE, cookie_header.join("; "))
        .send()
        .await
        .expect("GET /auth/me")
        .json()
        .await
        .expect("me JSON")
}

fn message(attempt: &Attempt) -> &str {
    attempt.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn sign_on_opens_session() {
    let provider = Provider::start().await;
    let data = DataDir::new();
    let server = start_server(&data, &provider).await;

    // Without provider_name the login button names the issuer's host.
    let (status, health) = server.get("/api/v1/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["sign_on"]["provider_name"], "127.0.0.1", "{health}");
    assert_eq!(
        health["sign_on"]["login_url"], "/api/v1/auth/oidc/login",
        "{health}"
    );

    let attempt = sign_on(&server, &provider, TokenPlan::for_user("li.mapped")).await;
    assert_eq!(attempt.status, 303, "{}", attempt.body);
    assert_eq!(attempt.location.as_deref(), Some("/"));
    let session = attempt
        .cookies
        .iter()
        .find(|cookie| cookie.starts_with("oversight_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    let cleared = attempt
        .cookies
        .iter()
        .find(|cookie| cookie.starts_with("oversight_oidc_state="))
        .expect("state cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let me = signed_on_account(&server, &attempt).await;
    assert_eq!(me["user"]["username"], "li", "{me}");
    assert_eq!(me["principal"]["method"]["kind"], "session", "{me}");

    let (status, page) = server.get("/api/v1/ledger/entries?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    let logins: Vec<&Value> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|entry| entry["kind"] == "auth.login_succeeded" && entry["subject"] == "user:li")
        .collect();
    assert_eq!(logins.len(), 1, "{page}");
    assert!(
        logins[0].to_string().contains("openid connect"),
        "{}",
        logins[0]
    );
}

#[tokio::test]
async fn sign_on_rejects_bad_tokens() {
    let provider = Provider::start().await;
    let data = DataDir::new();
    let server = start_server(&data, &provider).await;

    let wrong_nonce = TokenPlan {
        nonce: Some("a nonce of another login".to_owned()),
        ..TokenPlan::for_user("li")
    };
    let attempt = sign_on(&server, &provider, wrong_nonce).await;
    assert_eq!(attempt.status, 401, "{}", attempt.body);
    assert!(message(&attempt).contains("nonce"), "{}", attempt.body);

    let bad_signature = TokenPlan {
        wrong_key: true,
        ..TokenPlan::for_user("li")
    };
    let attempt = sign_on(&server, &provider, bad_signature).await;
    assert_eq!(attempt.status, 401, "{}", attempt.body);
    assert!(
        message(&attempt).contains("signature does not match"),
        "{}",
        attempt.body
    );

    let expired = TokenPlan {
        expires_in: -3600,
        ..TokenPlan::for_user("li")
    };
    let attempt = sign_on(&server, &provider, expired).await;
    assert_eq!(attempt.status, 401, "{}", attempt.body);
    assert!(message(&attempt).contains("expired"), "{}", attempt.body);

    for attempt in [
        sign_on(&server, &provider, TokenPlan::for_user("li")).await,
        sign_on(&server, &provider, TokenPlan::for_user("li")).await,
    ] {
        assert_eq!(
            attempt.status, 303,
            "a good token still works: {}",
            attempt.body
        );
    }
}

#[tokio::test]
async fn sign_on_rejects_wrong_state() {
    let provider = Provider::start().await;
    let data = DataDir::new();
    let server = start_server(&data, &provider).await;
    provider.plan(TokenPlan::for_user("li"));

    let (cookie, query) = start_sign_on(&server).await;
    let forged = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("state=") {
                "state=forged-state".to_owned()
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let attempt = finish_sign_on(&server, &cookie, &forged).await;
    assert_eq!(attempt.status, 400, "{}", attempt.body);
    assert!(message(&attempt).contains("state"), "{}", attempt.body);

    let attempt = finish_sign_on(&server, "other=1", &query).await;
    assert_eq!(attempt.status, 400, "{}", attempt.body);

    // The state cookie and query match, but no login with that state is pending.
    let attempt = finish_sign_on(&server, "oversight_oidc_state=forged-state", &forged).await;
    assert_eq!(attempt.status, 400, "{}", attempt.body);
    assert!(message(&attempt).contains("expired"), "{}", attempt.body);

    let attempt = finish_sign_on(&server, &cookie, &query).await;
    assert_eq!(attempt.status, 303, "{}", attempt.body);
    // A state works once.
    let replay = finish_sign_on(&server, &cookie, &query).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
}

#[tokio::test]
async fn sign_on_needs_allowed_account() {
    let provider = Provider::start().await;
    let data = DataDir::new();
    let server = start_server(&data, &provider).await;

    let unknown = sign_on(&server, &provider, TokenPlan::for_user("nobody")).await;
    assert_eq!(unknown.status, 403, "{}", unknown.body);
    assert!(
        message(&unknown).contains("no such account"),
        "{}",
        unknown.body
    );
    assert!(
        !unknown
            .cookies
            .iter()
            .any(|cookie| cookie.starts_with("oversight_session=")),
        "{:?}",
        unknown.cookies
    );

    // System administrators are not in the default auth.oidc.allowed_roles.
    let admin = sign_on(&server, &provider, TokenPlan::for_user(common::ADMIN.0)).await;
    assert_eq!(admin.status, 403, "{}", admin.body);
    assert!(message(&admin).contains("role"), "{}", admin.body);

    let (status, events) = server.get("/api/v1/auth/events?limit=100").await;
    assert_eq!(status, 200, "{events}");
    let text = events.to_string();
    assert!(text.contains("openid connect: no such account"), "{text}");
    assert!(text.contains("openid connect: role not allowed"), "{text}");
}

#[tokio::test]
async fn sign_on_off_by_default() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let response = no_redirects()
        .get(server.url("/api/v1/auth/oidc/login"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON error");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("auth.oidc"), "{message}");

    let (status, health) = server.get("/api/v1/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.get("sign_on").is_none(), "{health}");
}

#[tokio::test]
async fn sign_on_with_oauth2_mock_server() {
    let provider = match NpmProvider::start() {
        Ok(provider) => provider,
        Err(reason) => {
            eprintln!("skipped: the npm OpenID provider cannot run: {reason}");
            return;
        }
    };
    let data = DataDir::new();
    // The provider sends no preferred_username, so the login name comes
    // from `sub`, mapped to the account `li`.
    let oidc = format!(
        "issuer_url = \"{}\"\n\
         client_secret = \"any secret\"\n\
         provider_name = \"Mock OIDC\"\n\
         username_claim = \"sub\"\n\
         [auth.oidc.usernames]\n\
         johndoe = \"li\"\n",
        provider.issuer
    );
    let server = start_server_with(&data, &oidc).await;
    let (status, health) = server.get("/api/v1/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["sign_on"]["provider_name"], "Mock OIDC", "{health}");

    let (cookie, query) = start_sign_on(&server).await;
    let attempt = finish_sign_on(&server, &cookie, &query).await;
    assert_eq!(attempt.status, 303, "{}", attempt.body);
    assert_eq!(attempt.location.as_deref(), Some("/"));
    let me = signed_on_account(&server, &attempt).await;
    assert_eq!(me["user"]["username"], "li", "{me}");

    // A replayed redirect back is rejected by Oversight's state check,
    // before its code reaches the provider again.
    let replay = finish_sign_on(&server, &cookie, &query).await;
    assert_eq!(replay.status, 400, "{}", replay.body);

    // The same provider's token for an account that is now disabled.
    let (status, users) = server.get("/api/v1/users").await;
    assert_eq!(status, 200, "{users}");
    let li = users
        .as_array()
        .expect("user list")
        .iter()
        .find(|user| user["username"] == "li")
        .expect("account li")
        .clone();
    let (status, body) = server
        .patch(
            &format!("/api/v1/users/{}", li["id"]),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (cookie, query) = start_sign_on(&server).await;
    let disabled = finish_sign_on(&server, &cookie, &query).await;
    assert_eq!(disabled.status, 403, "{}", disabled.body);
    assert!(
        message(&disabled).contains("account disabled"),
        "{}",
        disabled.body
    );
}
