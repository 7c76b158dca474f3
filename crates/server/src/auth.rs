//! Request authentication: session cookies, bearer API tokens and CSRF checks.
//!
//! [`resolve_principal`] runs before every API handler. It authenticates the
//! request by its `Authorization: Bearer` token or its session cookie,
//! builds the [`Principal`] from the stored account and puts it into the
//! request's extensions, where handlers read it with `Extension<Principal>`.
//! A request without credentials gets [`Principal::public`]. Invalid
//! credentials are rejected with 401 and never fall back to the public, so a
//! client learns that its token expired.
//!
//! Sessions use cookies that are HttpOnly and SameSite=Strict, and Secure
//! when [`AuthConfig::secure_cookies`] is set or the request arrived over
//! HTTPS at a proxy (`X-Forwarded-Proto: https`). Unsafe methods (anything
//! but GET, HEAD and OPTIONS) on a session must also send the session's CSRF
//! token in the `X-CSRF-Token` header. The token is derived from the session
//! id, so a cross-site page, which cannot read the cookie, cannot compute it.
//! `crate::guard` also rejects unsafe requests that browsers mark as coming
//! from another origin.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use jiff::{SignedDuration, Timestamp};
use oversight_auth::secret::{self, constant_time_eq};
use oversight_auth::throttle::LoginPolicy;
use oversight_auth::{AuthMethod, Principal, Role, Scope};
use oversight_store::{AuditContext, AuthEvent, AuthEventKind, Store, User};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::api::rate_limit::{self, PublicLimiter};
use crate::error::{ApiError, ErrorCode};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "oversight_session";
/// Name of the cookie that carries the CSRF token to the dashboard's scripts.
pub const CSRF_COOKIE: &str = "oversight_csrf";
/// Header that unsafe requests on a session must carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Settings of logins, sessions and API tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a session lasts after login, in minutes. Default 480 (8 hours).
    pub session_minutes: u32,
    /// Mark session cookies Secure, so browsers send them only over HTTPS.
    /// Set this when a TLS proxy is in front of the server. Default false;
    /// cookies are also Secure when `[http.tls]` is set and for requests
    /// with `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// Maximum lifetime of an API token, in days. Default 365.
    pub max_token_days: u32,
    /// Failed logins of one account within `lockout_minutes` that lock it. Default 5.
    pub max_account_failures: u32,
    /// Failed logins from one address within `lockout_minutes` that lock it. Default 20.
    pub max_address_failures: u32,
    /// The window failed logins are counted in, and how long a lock lasts
    /// after the latest failure, in minutes. Default 15.
    pub lockout_minutes: u32,
    /// OpenID Connect single sign-on. Default none: sign-on is off.
    pub oidc: Option<crate::oidc::OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_minutes: 8 * 60,
            secure_cookies: false,
            max_token_days: 365,
            max_account_failures: 5,
            max_address_failures: 20,
            lockout_minutes: 15,
            oidc: None,
        }
    }
}

impl AuthConfig {
    /// Returns the login throttling policy these settings describe.
    pub fn login_policy(&self) -> LoginPolicy {
        LoginPolicy {
            max_account_failures: self.max_account_failures.max(1),
            max_address_failures: self.max_address_failures.max(1),
            window: SignedDuration::from_mins(i64::from(self.lockout_minutes.max(1))),
        }
    }

    /// Returns how long a session lasts.
    pub fn session_duration(&self) -> SignedDuration {
        SignedDuration::from_mins(i64::from(self.session_minutes.max(1)))
    }
}

/// The client's IP address, from the connection; `None` where the server
/// runs without connection information, as in router tests.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(address))
    }
}

/// Returns the CSRF token of a session: base64url of SHA-256 over a fixed
/// label and the session id.
pub fn csrf_token(session_value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"oversight csrf token\0");
    hasher.update(session_value.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Returns the value of the cookie `name`, if the request sent it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// Returns true if session cookies for this request must be Secure.
pub fn secure_cookies(config: &AuthConfig, headers: &HeaderMap) -> bool {
    config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// Builds the `Set-Cookie` values of a new session, or of a logout when
/// `session` is `None`.
pub fn session_cookies(
    config: &AuthConfig,
    headers: &HeaderMap,
    session: Option<&str>,
) -> Vec<HeaderValue> {
    let secure = secure_cookies(config, headers);
    let max_age = match session {
        Some(_) => cookie::time::Duration::minutes(i64::from(config.session_minutes.max(1))),
        None => cookie::time::Duration::ZERO,
    };
    let csrf = session.map(csrf_token).unwrap_or_default();
    let cookies = [
        (SESSION_COOKIE, session.unwrap_or_default().to_owned(), true),
        (CSRF_COOKIE, csrf, false),
    ];
    cookies
        .into_iter()
        .filter_map(|(name, value, http_only)| {
            let cookie = Cookie::build((name, value))
                .path("/")
                .http_only(http_only)
                .same_site(SameSite::Strict)
                .secure(secure)
                .max_age(max_age)
                .build();
            HeaderValue::from_str(&cookie.to_string()).ok()
        })
        .collect()
}

/// Builds the principal of an account, with the scope of its role.
pub async fn principal_for(
    store: &dyn Store,
    user: &User,
    method: AuthMethod,
) -> Result<Principal, ApiError> {
    let scope = match user.role {
        Role::SystemAdmin => Scope::All,
        Role::DepartmentAdmin | Role::DepartmentStaff | Role::Inspector => {
            let areas = match user.department_id {
                Some(id) => store
                    .department(id)
                    .await?
                    .map(|department| department.areas)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            if areas.is_empty() {
                Scope::Nothing
            } else {
                Scope::Areas(areas)
            }
        }
        Role::RegulatedParty => Scope::Points(user.points.clone()),
        Role::Public => Scope::Nothing,
    };
    Ok(Principal {
        user_id: Some(user.id),
        username: user.username.clone(),
        role: user.role,
        department_id: user.department_id,
        method,
        scope,
        token_actions: Vec::new(),
    })
}

/// Authenticates a request by its bearer token or session cookie.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let now = state.clock.now();
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid Authorization header: expected \"Bearer \" and an API token",
                )
            })?;
        return authenticate_token(state, token, now).await;
    }
    let Some(session) = cookie_value(headers, SESSION_COOKIE).filter(|value| !value.is_empty())
    else {
        return Ok(Principal::public());
    };
    let principal = authenticate_session(state, &session, now).await?;
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        check_csrf_token(method, headers, &session)?;
    }
    Ok(principal)
}

/// Checks the `X-CSRF-Token` header of an unsafe request on a session
/// against the token derived from the session's cookie.
fn check_csrf_token(method: &Method, headers: &HeaderMap, session: &str) -> Result<(), ApiError> {
    let Some(sent) = headers.get(CSRF_HEADER) else {
        metrics::counter!("oversight_http_requests_rejected_total", "reason" => "csrf")
            .increment(1);
        return Err(ApiError::forbidden(format!(
            "missing X-CSRF-Token header: {method} requests on a session must send the \
             csrf_token of the login response (also in the oversight_csrf cookie) in the \
             X-CSRF-Token header"
        )));
    };
    let sent = sent.to_str().unwrap_or_default();
    if !constant_time_eq(sent, &csrf_token(session)) {
        metrics::counter!("oversight_http_requests_rejected_total", "reason" => "csrf")
            .increment(1);
        return Err(ApiError::forbidden(
            "invalid X-CSRF-Token header: it does not belong to this session; send the \
             csrf_token of the latest login response or GET /api/v1/auth/me",
        ));
    }
    Ok(())
}

async fn authenticate_token(
    state: &AppState,
    token: &str,
    now: Timestamp,
) -> Result<Principal, ApiError> {
    let invalid = || {
        ApiError::unauthorized(
            "invalid, expired or revoked API token: create a new one with POST /api/v1/auth/tokens",
        )
    };
    let Some(record) = state.store.token(&secret::digest(token)).await? else {
        return Err(invalid());
    };
    if record.revoked_at.is_some() || record.expires_at <= now {
        return Err(invalid());
    }
    let user = active_user(state.store.as_ref(), record.user_id).await?;
    let mut principal = principal_for(
        state.store.as_ref(),
        &user,
        AuthMethod::Token { id: record.id },
    )
    .await?;
    principal.token_actions = record.actions;
    Ok(principal)
}

async fn authenticate_session(
    state: &AppState,
    session: &str,
    now: Timestamp,
) -> Result<Principal, ApiError> {
    let expired = || ApiError::unauthorized("session expired or ended: log in again");
    let Some(record) = state.store.session(&secret::digest(session)).await? else {
        return Err(expired());
    };
    if record.expires_at <= now {
        return Err(expired());
    }
    let user = active_user(state.store.as_ref(), record.user_id).await?;
    principal_for(state.store.as_ref(), &user, AuthMethod::Session).await
}

/// Returns the account, unless it was deleted or disabled.
async fn active_user(store: &dyn Store, id: i64) -> Result<User, ApiError> {
    match store.user(id).await? {
        Some(user) if !user.disabled => Ok(user),
        _ => Err(ApiError::unauthorized(
            "the account is disabled: ask an administrator to enable it",
        )),
    }
}

/// Authenticates the request and stores its [`Principal`] in the request's
/// extensions for the handlers. A request whose credentials are rejected
/// with 401 counts against the rate limit of requests without credentials
/// of its address, and gets 429 instead once that is exceeded.
pub(crate) async fn resolve_principal(
    State((state, limiter)): State<(Arc<AppState>, Arc<PublicLimiter>)>,
    ClientAddress(address): ClientAddress,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match authenticate(&state, request.method(), request.headers()).await {
        Ok(principal) => principal,
        Err(error) => {
            if error.code == ErrorCode::Unauthorized
                && let Some(address) = address
                && let Some(response) =
                    rate_limit::over_limit(&limiter, address, request.uri().path())
            {
                return response;
            }
            return error.into_response();
        }
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Builds the audit context of an account change that `principal` makes now
/// from `address`. The store records the change with it in one transaction.
pub fn audit_context(
    state: &AppState,
    principal: &Principal,
    address: Option<IpAddr>,
) -> AuditContext {
    AuditContext {
        at: state.clock.now(),
        actor: principal.username.clone(),
        address: address.map(|address| address.to_string()),
    }
}

/// Appends an event to the authentication log. A failure is logged and
/// returned, so that a change whose record failed is reported as failed.
pub async fn record_event(
    store: &dyn Store,
    at: Timestamp,
    kind: AuthEventKind,
    actor: &str,
    target: Option<String>,
    address: Option<IpAddr>,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let event = AuthEvent {
        at,
        kind,
        actor: actor.to_owned(),
        target,
        address: address.map(|address| address.to_string()),
        detail,
    };
    store
        .record_auth_event(&event)
        .await
        .map_err(ApiError::from)
}
