//! OpenID Connect sign-on routes: the redirect to the provider and the
//! callback that opens a session for an existing account.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use oversight_auth::secret::constant_time_eq;
use oversight_store::AuthEventKind;
use serde::Deserialize;

use super::SharedState;
use super::params::ApiQuery;
use super::session::open_session;
use crate::auth::{ClientAddress, cookie_value, record_event, secure_cookies, session_cookies};
use crate::error::{ApiError, ErrorCode};
use crate::oidc::{Oidc, OidcError};

/// The cookie that binds a sign-on to the browser that started it.
const STATE_COOKIE: &str = "oversight_oidc_state";
/// The path the state cookie is sent to.
const CALLBACK_PATH: &str = "/api/v1/auth/oidc";

fn oidc(state: &SharedState) -> Result<&Oidc, ApiError> {
    state.oidc.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "OpenID Connect sign-on is not configured: set the [auth.oidc] section \
             (see docs/auth.md)",
        )
    })
}

impl From<OidcError> for ApiError {
    fn from(error: OidcError) -> Self {
        match error {
            OidcError::Provider(_) | OidcError::Busy => {
                tracing::warn!(%error, "OpenID Connect sign-on failed");
                ApiError {
                    code: ErrorCode::Unavailable,
                    message: error.to_string(),
                }
            }
            OidcError::UnknownState => ApiError::invalid(error.to_string()),
            OidcError::InvalidToken(_) => ApiError::unauthorized(error.to_string()),
            OidcError::Config { .. } => ApiError::internal(error.to_string()),
        }
    }
}

/// Builds the state cookie, or the cookie that removes it when `value` is empty.
fn state_cookie(state: &SharedState, headers: &HeaderMap, value: &str) -> Option<HeaderValue> {
    let secure = secure_cookies(&state.auth, headers);
    let max_age = if value.is_empty() {
        cookie::time::Duration::ZERO
    } else {
        cookie::time::Duration::minutes(10)
    };
    // Lax, not Strict: the provider's redirect back is a cross-site
    // navigation, on which browsers do not send Strict cookies.
    let cookie = Cookie::build((STATE_COOKIE, value.to_owned()))
        .path(CALLBACK_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Redirects the browser to the OpenID provider to sign on.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/login",
    tag = "auth",
    responses(
        (status = 303, description = "Redirect to the provider's authorization endpoint."),
        (status = "4XX", description = "Sign-on is not configured.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The provider could not be reached.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn login(state: SharedState, headers: HeaderMap) -> Result<Response, ApiError> {
    let client = oidc(&state)?;
    let (login_state, url) = client.start(state.clock.now()).await?;
    let location = HeaderValue::from_str(&url)
        .map_err(|error| ApiError::internal(format!("invalid authorization URL: {error}")))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    if let Some(cookie) = state_cookie(&state, &headers, &login_state) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The query of the provider's redirect back.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "providers send these; they are listed so that the query check accepts them"
)]
pub(super) struct CallbackParams {
    /// The authorization code.
    code: Option<String>,
    /// The state that the login redirect sent.
    state: Option<String>,
    /// The provider's error code, instead of `code`.
    error: Option<String>,
    /// The provider's description of `error`.
    error_description: Option<String>,
    /// A link to a page about `error`.
    error_uri: Option<String>,
    /// The issuer (RFC 9207); checked through the ID token's `iss`.
    iss: Option<String>,
    /// The provider's session state, unused.
    session_state: Option<String>,
    /// The granted scopes, unused.
    scope: Option<String>,
}

/// Finishes sign-on: checks the state, the code and the ID token, and opens
/// a session for the existing account the token names.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/callback",
    tag = "auth",
    params(CallbackParams),
    responses(
        (status = 303, description = "Signed on; redirect to the dashboard with the session cookies."),
        (status = "4XX", description = "The state, code or ID token is invalid, or the account is unknown, disabled or not allowed to sign on.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The provider could not be reached.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn callback(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Response, ApiError> {
    let client = oidc(&state)?;
    if let Some(error) = &params.error {
        return Err(ApiError::unauthorized(format!(
            "the OpenID provider rejected the sign-on: {error} {}",
            params.error_description.as_deref().unwrap_or_default()
        )));
    }
    let (Some(code), Some(sent_state)) = (&params.code, &params.state) else {
        return Err(ApiError::invalid(
            "missing code or state: this URL is only for the OpenID provider's redirect back; \
             start at /api/v1/auth/oidc/login",
        ));
    };
    let cookie = cookie_value(&headers, STATE_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(&cookie, sent_state) {
        return Err(ApiError::invalid(
            "the state does not match this browser's sign-on: start again at \
             /api/v1/auth/oidc/login in the same browser",
        ));
    }

    let now = state.clock.now();
    let username = client
        .finish(sent_state, code, now)
        .await
        .inspect_err(|error| {
            tracing::info!(address = ?address, %error, "OpenID Connect sign-on rejected");
        })?;
    let store = state.store.as_ref();
    let user = store.user_by_name(&username).await?;
    let reason = match &user {
        None => Some("no such account"),
        Some(user) if user.disabled => Some("account disabled"),
        Some(user) if !client.config().allowed_roles.contains(&user.role) => {
            Some("role not allowed to sign on")
        }
        Some(_) => None,
    };
    let user = match (user, reason) {
        (Some(user), None) => user,
        (_, reason) => {
            let reason = reason.unwrap_or("no such account");
            metrics::counter!("oversight_logins_total", "outcome" => "failed").increment(1);
            tracing::info!(username, address = ?address, reason, "OpenID Connect sign-on rejected");
            record_event(
                store,
                now,
                AuthEventKind::LoginFailed,
                &username,
                None,
                address,
                Some(format!("openid connect: {reason}")),
            )
            .await?;
            return Err(ApiError::forbidden(format!(
                "the OpenID provider signed on {username:?}, but {reason}: an administrator \
                 must create or enable the account, or allow its role in \
                 auth.oidc.allowed_roles"
            )));
        }
    };

    let (session, _) = open_session(&state, &user, address, Some("openid connect")).await?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    let cookies = session_cookies(&state.auth, &headers, Some(&session))
        .into_iter()
        .chain(state_cookie(&state, &headers, ""));
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
