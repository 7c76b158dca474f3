//! Login, logout, the caller's own account and TOTP enrolment.

use axum::Extension;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use oversight_auth::secret::{self, SESSION_PREFIX};
use oversight_auth::throttle::{FailureCounts, Locked, LoginPolicy};
use oversight_auth::{Action, AuthMethod, Principal, normalize_username, password, totp};
use oversight_core::Secret;
use oversight_store::{AuthEventKind, TotpState, User};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::params::ApiJson;
use crate::auth::{
    ClientAddress, SESSION_COOKIE, audit_context, cookie_value, csrf_token, principal_for,
    record_event, session_cookies,
};
use crate::error::{ApiError, ErrorCode};

/// The issuer shown in authenticator apps.
const TOTP_ISSUER: &str = "Oversight";

/// The body of `POST /auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginBody {
    username: String,
    #[schema(value_type = String)]
    password: Secret<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    totp_code: Option<Secret<String>>,
}

/// An account as the API shows it, without its secrets.
#[derive(Debug, Serialize)]
pub(super) struct UserView {
    id: i64,
    username: String,
    display_name: String,
    role: oversight_auth::Role,
    department_id: Option<i64>,
    points: Vec<oversight_core::Mn>,
    totp_enabled: bool,
    disabled: bool,
    created_at: Timestamp,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            totp_enabled: user.totp.as_ref().is_some_and(|totp| totp.confirmed),
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            role: user.role,
            department_id: user.department_id,
            points: user.points,
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

/// The response of a login and of `GET /auth/me`.
#[derive(Debug, Serialize)]
pub(super) struct SessionView {
    user: UserView,
    principal: Principal,
    /// Send this in the `X-CSRF-Token` header of every unsafe request on the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
}

fn rejected_login() -> ApiError {
    ApiError::unauthorized("invalid login name or password")
}

fn locked_response(locked: Locked, now: Timestamp) -> Response {
    let seconds = (locked.until() - now)
        .total(jiff::Unit::Second)
        .map_or(1.0, |seconds| seconds.ceil().max(1.0));
    let error = ApiError {
        code: ErrorCode::TooManyRequests,
        message: format!("{locked}; the Retry-After header gives the seconds to wait"),
    };
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("{seconds:.0}")) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Logs in with a password and, when enrolled, a TOTP code; sets the session cookies.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = "2XX", description = "The new session.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn login(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Response {
    match try_login(&state, address, &headers, body).await {
        Ok(response) => response,
        Err(LoginError::Locked(locked, now)) => locked_response(locked, now),
        Err(LoginError::Api(error)) => error.into_response(),
    }
}

enum LoginError {
    Locked(Locked, Timestamp),
    Api(ApiError),
}

impl From<ApiError> for LoginError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<oversight_store::StoreError> for LoginError {
    fn from(error: oversight_store::StoreError) -> Self {
        Self::Api(error.into())
    }
}

async fn try_login(
    state: &SharedState,
    address: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: LoginBody,
) -> Result<Response, LoginError> {
    // Held until the attempt's failure, if any, is recorded, so that the
    // next attempt for this login name or address counts it.
    let normalized = normalize_username(&body.username);
    let _turn = state.login_gate.turn(&normalized, address).await;
    let now = state.clock.now();
    let store = state.store.as_ref();
    let policy = state.auth.login_policy();
    let user = store.user_by_name(&body.username).await?;
    // Failures are counted under the account's name, or else under the keyed
    // hash of the normalised name, so that `ADMIN` and `ａｄｍｉｎ` share one
    // count and a password typed into the name field is never stored.
    let counted_name = user.as_ref().map_or_else(
        || state.name_key.hash_name(&normalized),
        |user| user.username.clone(),
    );
    let logged_name = match &user {
        Some(_) => LoggedName::Known(&counted_name),
        None => LoggedName::Unknown {
            chars: normalized.chars().count(),
        },
    };
    let counts = failure_counts(store, &counted_name, address, &policy, now).await?;
    if let Err(locked) = policy.check(counts, now) {
        // The lockout itself was logged as a warning when it started. Anyone
        // may send attempts without credentials, so each attempt during it
        // is counted and logged at debug level only, and cannot flood the log.
        metrics::counter!("oversight_logins_total", "outcome" => "locked").increment(1);
        tracing::debug!(username = %logged_name, address = ?address, "login rejected while locked");
        return Err(LoginError::Locked(locked, now));
    }

    let fail = |reason: &'static str| {
        let attempt = Attempt {
            now,
            username: &counted_name,
            logged_name,
            address,
            policy: &policy,
            counts,
        };
        record_failure(store, attempt, reason)
    };

    let password = body.password.clone();
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let permit = state.login_gate.hashing_permit().await;
    let matches = tokio::task::spawn_blocking(move || match stored_hash {
        Some(stored) => password::verify(password.expose(), &stored),
        None => {
            password::verify_nothing(password.expose());
            Ok(false)
        }
    })
    .await
    .map_err(|error| ApiError::internal(format!("password check failed: {error}")))?;
    drop(permit);
    let matches = matches.map_err(|error| {
        tracing::error!(username = %body.username, %error, "stored password hash is unusable");
        ApiError::internal(
            "the stored password hash is unusable; reset it with `oversight user passwd`",
        )
    })?;
    let Some(user) = user.filter(|_| matches) else {
        fail("wrong login name or password").await?;
        return Err(rejected_login().into());
    };
    if user.disabled {
        fail("account disabled").await?;
        return Err(ApiError::unauthorized(
            "the account is disabled: ask an administrator to enable it",
        )
        .into());
    }
    if let Some(state_totp) = user.totp.as_ref().filter(|totp| totp.confirmed) {
        let Some(code) = body.totp_code.as_ref().map(|code| code.expose().as_str()) else {
            return Err(ApiError {
                code: ErrorCode::TotpRequired,
                message: "this account needs a TOTP code: send totp_code from the \
                          authenticator app"
                    .to_owned(),
            }
            .into());
        };
        if accept_totp(state, &user, state_totp, code, now)
            .await?
            .is_none()
        {
            fail("wrong TOTP code").await?;
            return Err(ApiError::unauthorized(
                "invalid TOTP code: send the current code from the authenticator app",
            )
            .into());
        }
    }

    let (session, expires_at) = open_session(state, &user, address, None).await?;
    let principal = principal_for(store, &user, AuthMethod::Session).await?;
    let view = SessionView {
        user: user.into(),
        principal,
        csrf_token: Some(csrf_token(&session)),
        expires_at: Some(expires_at),
    };
    let mut response = Json(view).into_response();
    for cookie in session_cookies(&state.auth, headers, Some(&session)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Creates a session for an account that has logged in, records the login
/// in the authentication log with `detail` (how it logged in, when not by
/// password), and returns the session id and its expiry.
pub(super) async fn open_session(
    state: &SharedState,
    user: &User,
    address: Option<std::net::IpAddr>,
    detail: Option<&str>,
) -> Result<(String, Timestamp), ApiError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let session =
        secret::generate(SESSION_PREFIX).map_err(|error| ApiError::internal(error.to_string()))?;
    let expires_at = now
        .checked_add(state.auth.session_duration())
        .map_err(|error| ApiError::internal(format!("session expiry out of range: {error}")))?;
    store
        .create_session(&session.digest, user.id, now, expires_at)
        .await?;
    record_event(
        store,
        now,
        AuthEventKind::LoginSucceeded,
        &user.username,
        None,
        address,
        detail.map(str::to_owned),
    )
    .await?;
    metrics::counter!("oversight_logins_total", "outcome" => "succeeded").increment(1);
    tracing::info!(username = %user.username, address = ?address, method = detail.unwrap_or("password"), "login succeeded");
    Ok((session.value, expires_at))
}

/// Returns the failed logins of `username` and of `address` within the
/// policy's window before `now`.
async fn failure_counts(
    store: &dyn oversight_store::Store,
    username: &str,
    address: Option<std::net::IpAddr>,
    policy: &LoginPolicy,
    now: Timestamp,
) -> Result<FailureCounts, ApiError> {
    let address_text = address.map(|address| address.to_string());
    let failures = store
        .login_failures(username, address_text.as_deref(), policy.window_start(now))
        .await?;
    Ok(FailureCounts {
        account: failures.account,
        address: failures.address,
        latest: failures.latest,
    })
}

/// A submitted login name as the log shows it: the name when an account has
/// it, otherwise only its length, because an unknown name may be a password
/// typed into the name field.
#[derive(Debug, Clone, Copy)]
enum LoggedName<'a> {
    Known(&'a str),
    Unknown { chars: usize },
}

impl std::fmt::Display for LoggedName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Known(username) => f.write_str(username),
            Self::Unknown { chars } => write!(f, "(unknown login name of {chars} characters)"),
        }
    }
}

/// A login attempt, with the failures counted before it.
struct Attempt<'a> {
    now: Timestamp,
    username: &'a str,
    logged_name: LoggedName<'a>,
    address: Option<std::net::IpAddr>,
    policy: &'a LoginPolicy,
    counts: FailureCounts,
}

/// Counts, logs and records a failed login, and records a lockout when this
/// failure starts one. Later attempts are rejected before they can fail, so
/// each lockout is recorded once.
async fn record_failure(
    store: &dyn oversight_store::Store,
    attempt: Attempt<'_>,
    reason: &'static str,
) -> Result<(), ApiError> {
    let Attempt {
        now,
        username,
        logged_name,
        address,
        policy,
        counts,
    } = attempt;
    metrics::counter!("oversight_logins_total", "outcome" => "failed").increment(1);
    tracing::info!(username = %logged_name, address = ?address, reason, "login failed");
    // An unknown name arrives here as its keyed hash, so neither the event
    // nor its ledger entry keeps a password typed into the name field.
    record_event(
        store,
        now,
        AuthEventKind::LoginFailed,
        username,
        None,
        address,
        Some(reason.to_owned()),
    )
    .await?;
    let after = FailureCounts {
        account: counts.account + 1,
        address: counts.address + u32::from(address.is_some()),
        latest: Some(now),
    };
    let Err(locked) = policy.check(after, now) else {
        return Ok(());
    };
    metrics::counter!("oversight_login_lockouts_total").increment(1);
    tracing::warn!(username = %logged_name, address = ?address, until = %locked.until(), "login locked after repeated failures");
    record_event(
        store,
        now,
        AuthEventKind::LoginLocked,
        username,
        None,
        address,
        Some(locked.to_string()),
    )
    .await
}

/// Checks a TOTP code and marks its step used. Returns the step, or `None`
/// for a wrong or already used code.
async fn accept_totp(
    state: &SharedState,
    user: &User,
    enrolled: &TotpState,
    code: &str,
    now: Timestamp,
) -> Result<Option<u64>, ApiError> {
    let secret = totp::decode_secret(&enrolled.secret).map_err(|error| {
        tracing::error!(username = %user.username, %error, "stored TOTP secret is unusable");
        ApiError::internal("the stored TOTP secret is unusable; an administrator must reset it")
    })?;
    let now_secs = u64::try_from(now.as_second()).unwrap_or(0);
    let step = totp::verify(&secret, code, now_secs, enrolled.last_step)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let Some(step) = step else {
        return Ok(None);
    };
    let unused = state.store.use_totp_step(user.id, step).await?;
    Ok(unused.then_some(step))
}

/// Ends the caller's session and clears its cookies.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session has ended."),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn logout(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    if let Some(session) = cookie_value(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&secret::digest(&session))
            .await?;
    }
    record_event(
        state.store.as_ref(),
        state.clock.now(),
        AuthEventKind::Logout,
        &principal.username,
        None,
        address,
        None,
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in session_cookies(&state.auth, &headers, None) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Returns the caller's account, role and scope, and the session's CSRF token.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    responses(
        (status = "2XX", description = "The caller's account and session.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn me(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    let user = own_user(&state, &principal).await?;
    let csrf_token = match principal.method {
        AuthMethod::Session => {
            cookie_value(&headers, SESSION_COOKIE).map(|value| csrf_token(&value))
        }
        _ => None,
    };
    Ok(Json(SessionView {
        user: user.into(),
        principal,
        csrf_token,
        expires_at: None,
    }))
}

async fn own_user(state: &SharedState, principal: &Principal) -> Result<User, ApiError> {
    let id = principal
        .user_id
        .ok_or_else(|| ApiError::unauthorized("log in first"))?;
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists: log in again"))
}

/// The response of `POST /auth/totp`.
#[derive(Debug, Serialize)]
pub(super) struct TotpEnrolment {
    /// The secret in base32, for typing into an authenticator app.
    secret: String,
    /// The `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

/// Starts TOTP enrolment: stores a new, unconfirmed secret and returns it once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp",
    tag = "auth",
    responses(
        (status = "2XX", description = "The TOTP secret to confirm.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn enrol_totp(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    let user = own_user(&state, &principal).await?;
    if user.totp.as_ref().is_some_and(|totp| totp.confirmed) {
        return Err(ApiError::conflict(
            "TOTP is enabled already: disable it first with POST /api/v1/auth/totp/disable",
        ));
    }
    let secret = totp::generate_secret().map_err(|error| ApiError::internal(error.to_string()))?;
    let otpauth_uri = totp::otpauth_uri(&secret, TOTP_ISSUER, &user.username)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let stored = TotpState {
        secret: totp::encode_secret(&secret),
        confirmed: false,
        last_step: None,
    };
    let audit = audit_context(&state, &principal, address);
    state.store.set_totp(user.id, Some(&stored), &audit).await?;
    Ok(Json(TotpEnrolment {
        secret: totp::secret_base32(&secret),
        otpauth_uri,
    }))
}

/// The body of `POST /auth/totp/confirm` and `POST /auth/totp/disable`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TotpCodeBody {
    code: String,
}

/// Confirms enrolment with a current code; from then on logins need a code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/confirm",
    tag = "auth",
    request_body = TotpCodeBody,
    responses(
        (status = 204, description = "TOTP is required from now on."),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn confirm_totp(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<TotpCodeBody>,
) -> Response {
    match change_totp(&state, address, &principal, &body.code, true).await {
        Ok(status) => status.into_response(),
        Err(LoginError::Locked(locked, now)) => locked_response(locked, now),
        Err(LoginError::Api(error)) => error.into_response(),
    }
}

/// Removes the second factor after checking a current code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/disable",
    tag = "auth",
    request_body = TotpCodeBody,
    responses(
        (status = 204, description = "TOTP is no longer required."),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn disable_totp(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<TotpCodeBody>,
) -> Response {
    match change_totp(&state, address, &principal, &body.code, false).await {
        Ok(status) => status.into_response(),
        Err(LoginError::Locked(locked, now)) => locked_response(locked, now),
        Err(LoginError::Api(error)) => error.into_response(),
    }
}

async fn change_totp(
    state: &SharedState,
    address: Option<std::net::IpAddr>,
    principal: &Principal,
    code: &str,
    enable: bool,
) -> Result<StatusCode, LoginError> {
    principal
        .require(Action::ManageOwnAccount)
        .map_err(ApiError::from)?;
    let user = own_user(state, principal).await?;

    let Some(enrolled) = user.totp.clone() else {
        return Err(ApiError::conflict(
            "no TOTP secret is enrolled: start with POST /api/v1/auth/totp",
        )
        .into());
    };
    if enrolled.confirmed == enable {
        let message = if enable {
            "TOTP is enabled already"
        } else {
            "TOTP is not enabled"
        };
        return Err(ApiError::conflict(message).into());
    }

    // A wrong code counts as a failed login of the account, under the same
    // limits and ordering as a login, so that this route cannot be used to
    // guess codes faster than the login route allows. The turn is keyed by
    // the normalised name, as at login, also for accounts named before
    // names were normalised.
    let _turn = state
        .login_gate
        .turn(&normalize_username(&user.username), address)
        .await;
    let audit = audit_context(state, principal, address);
    let store = state.store.as_ref();
    let policy = state.auth.login_policy();
    let counts = failure_counts(store, &user.username, address, &policy, audit.at).await?;
    if let Err(locked) = policy.check(counts, audit.at) {
        metrics::counter!("oversight_logins_total", "outcome" => "locked").increment(1);
        tracing::debug!(username = %user.username, address = ?address, "TOTP change rejected while locked");
        return Err(LoginError::Locked(locked, audit.at));
    }
    let Some(step) = accept_totp(state, &user, &enrolled, code, audit.at).await? else {
        let attempt = Attempt {
            now: audit.at,
            username: &user.username,
            logged_name: LoggedName::Known(&user.username),
            address,
            policy: &policy,
            counts,
        };
        record_failure(store, attempt, "wrong TOTP code to change TOTP").await?;
        return Err(ApiError::invalid_param(
            "code",
            code,
            "expected the current 6-digit code from the authenticator app",
        )
        .into());
    };
    // The step just used stays used, so the same code cannot also log in.
    let next = enable.then_some(TotpState {
        confirmed: true,
        last_step: Some(step),
        ..enrolled
    });
    state.store.set_totp(user.id, next.as_ref(), &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
