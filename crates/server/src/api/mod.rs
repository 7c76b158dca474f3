//! The JSON API under `/api/v1`, and `/metrics`.
//!
//! [`router`] contains the whole route table. Handlers live in one module per
//! resource; they validate every parameter themselves so that an error names
//! the parameter, the value and the fix, and they talk to the store only
//! through `Arc<dyn Store>`.

mod access;
mod accounts;
mod alerts;
mod areas;
mod disclosure;
mod ledger;
mod login_gate;
mod notifications;
mod oidc;
pub(crate) mod openapi;
mod outcomes;
mod params;
mod points;
mod quarantine;
pub(crate) mod rate_limit;
mod rules;
mod session;
mod silences;
mod status;
mod task_access;
mod task_export;
mod tasks;
mod views;

pub use login_gate::LoginGate;
pub use rate_limit::{
    DEFAULT_PUBLIC_BURST, DEFAULT_PUBLIC_RATE_PER_SEC, PublicLimiter, PublicRateLimit,
};
pub use views::check_password;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use jiff::tz::TimeZone;
use metrics_exporter_prometheus::PrometheusHandle;
use oversight_core::Clock;
use oversight_notify::NotifyConfig;
use oversight_rules::RulesHandle;
use oversight_store::Store;
use tower_http::trace::TraceLayer;

use crate::auth::{AuthConfig, resolve_principal};
use crate::error::{ApiError, ErrorCode};

/// The shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock that "today" and "online" are measured with.
    pub clock: Arc<dyn Clock>,
    /// The time zone whose midnight starts "today" in the summary.
    pub time_zone: TimeZone,
    /// A point is online while its latest upload is younger than this many of its intervals.
    pub online_intervals: u32,
    /// Renders the Prometheus registry for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The rule engine; `None` where the API runs without one, as in tests
    /// of the read-only routes.
    pub rules: Option<RulesHandle>,
    /// Alert events, for `GET /alerts/events`.
    pub alert_events: Option<tokio::sync::broadcast::Sender<oversight_core::AlertEvent>>,
    /// The supervision-task operations; `None` where the API runs without them.
    pub tasks: Option<crate::tasks::TaskService>,
    /// The ledger's origin and keys; `None` where no checkpoint signer runs.
    pub ledger: Option<Arc<crate::ledger::LedgerPublic>>,
    /// Settings of logins, sessions and API tokens.
    pub auth: AuthConfig,
    /// The OpenID Connect sign-on client; `None` where sign-on is off.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// The notification recipients, which decide whose inbox an account reads.
    pub notify: Arc<NotifyConfig>,
    /// The order of password logins and the bound on password hashing.
    pub login_gate: Arc<LoginGate>,
    /// The key that hashes login names no account has in failed logins.
    pub name_key: crate::name_key::NameKey,
}

impl AppState {
    /// Returns the rule engine's handle, or a 503-style error without one.
    pub(crate) fn rules(&self) -> Result<&RulesHandle, ApiError> {
        self.rules
            .as_ref()
            .ok_or_else(|| ApiError::internal("the rule engine is not running in this process"))
    }
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Time after which a request fails with 408 Request Timeout.
    pub request_timeout: Duration,
    /// Rate of requests without credentials from one client address.
    pub public_rate: PublicRateLimit,
}

/// Builds the API router: the route table of the HTTP API contract.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    // Multipart framing adds a little to the file itself.
    let evidence_limit = state
        .tasks
        .as_ref()
        .map_or(limits.body_limit_bytes, |tasks| {
            usize::try_from(tasks.evidence().max_bytes())
                .unwrap_or(usize::MAX)
                .saturating_add(64 * 1024)
        });
    let state = Arc::new(state);
    let public_limiter = Arc::new(PublicLimiter::new(limits.public_rate));
    let api = Router::new()
        .route("/openapi.json", get(status::openapi))
        .route("/health", get(status::health))
        .route("/summary", get(status::summary))
        .route("/areas", get(areas::children))
        .route("/areas/{code}", get(areas::one))
        .route("/points", get(points::list).post(points::upsert))
        .route("/points/{mn}", get(points::one))
        .route("/points/{mn}/readings", get(points::readings))
        .route("/points/{mn}/revisions", get(points::revisions))
        .route("/points/{mn}/password", post(points::set_password))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}", get(alerts::one))
        .route("/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/alerts/{id}/resolve", post(alerts::resolve))
        .route("/alerts/{id}/silence", post(silences::for_alert))
        .route("/silences", get(silences::list).post(silences::create))
        .route("/silences/{id}/expire", post(silences::expire))
        .route("/rules", get(rules::list))
        .route("/rules/changes", get(rules::changes))
        .route("/rules/reload", post(rules::reload))
        .route("/rules/backtest", post(rules::backtest))
        .route("/rules/{id}", get(rules::one))
        .route("/rules/{id}/enable", post(rules::enable))
        .route("/rules/{id}/disable", post(rules::disable))
        .route("/notifications", get(notifications::list))
        .route("/notifications/{id}", get(notifications::one))
        .route("/notifications/{id}/retry", post(notifications::retry))
        .route("/inbox", get(notifications::inbox))
        .route("/inbox/read", post(notifications::mark_read))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/export.csv", get(task_export::csv))
        .route("/tasks/export.xlsx", get(task_export::xlsx))
        .route("/tasks/{id}", get(tasks::one))
        .route("/tasks/{id}/actions/{action}", post(tasks::act))
        .route(
            "/tasks/{id}/evidence",
            post(tasks::upload).layer(DefaultBodyLimit::max(evidence_limit)),
        )
        .route("/tasks/{id}/evidence/{sha256}", get(tasks::download))
        .route("/subjects/{subject}/outcomes", get(outcomes::list))
        .route("/quarantine", get(quarantine::summaries))
        .route(
            "/quarantine/{mn}",
            get(quarantine::uploads).delete(quarantine::discard),
        )
        .route("/quarantine/{mn}/release", post(quarantine::release))
        .route("/ledger/entries", get(ledger::entries))
        .route("/ledger/entries/{index}", get(ledger::entry))
        .route("/ledger/proof/inclusion", get(ledger::inclusion))
        .route("/ledger/proof/consistency", get(ledger::consistency))
        .route("/ledger/checkpoint", get(ledger::checkpoint))
        .route("/ledger/checkpoints", get(ledger::checkpoints))
        .route("/ledger/cosignature", post(ledger::cosign))
        .route("/ledger/key", get(ledger::key))
        .route("/auth/login", post(session::login))
        .route("/auth/oidc/login", get(oidc::login))
        .route("/auth/oidc/callback", get(oidc::callback))
        .route("/auth/logout", post(session::logout))
        .route("/auth/me", get(session::me))
        .route("/auth/totp", post(session::enrol_totp))
        .route("/auth/totp/confirm", post(session::confirm_totp))
        .route("/auth/totp/disable", post(session::disable_totp))
        .route(
            "/auth/tokens",
            get(accounts::list_tokens).post(accounts::create_token),
        )
        .route("/auth/tokens/{id}", delete(accounts::revoke_token))
        .route("/auth/events", get(accounts::events))
        .route(
            "/users",
            get(accounts::list_users).post(accounts::create_user),
        )
        .route(
            "/users/{id}",
            get(accounts::get_user).patch(accounts::update_user),
        )
        .route("/users/{id}/password", post(accounts::set_password))
        .route(
            "/departments",
            get(accounts::list_departments).post(accounts::create_department),
        )
        .route("/departments/{id}", put(accounts::update_department))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            access::authorize,
        ))
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&public_limiter),
            rate_limit::limit_public,
        ))
        .layer(middleware::from_fn_with_state(
            (Arc::clone(&state), Arc::clone(&public_limiter)),
            resolve_principal,
        ));

    Router::new()
        .nest("/api/v1", api)
        .route(
            "/metrics",
            get(status::metrics).layer(middleware::from_fn_with_state(
                public_limiter,
                rate_limit::limit_public,
            )),
        )
        .layer(middleware::from_fn(openapi::reject_unknown_query))
        .layer(middleware::from_fn(count_requests))
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        .layer(middleware::from_fn(move |request, next| {
            time_limit(limits.request_timeout, request, next)
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!(
        "no API route {method} {}; the routes are listed in docs/api.md",
        uri.path()
    ))
}

/// Ends a request that takes longer than `timeout` with a 408, reading of
/// the body included, so a client that sends its body one byte a second
/// holds the connection no longer than that.
async fn time_limit(timeout: Duration, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::debug!(%method, path, "http request timed out");
            ApiError {
                code: ErrorCode::RequestTimeout,
                message: format!(
                    "{method} {path} took longer than {} s (http.request_timeout_secs); \
                     send the body at once or narrow the request",
                    timeout.as_secs()
                ),
            }
            .into_response()
        }
    }
}

/// Gives the 405 responses that axum makes itself, without a body, the
/// API's JSON error body, keeping their `Allow` header. axum adds that header
/// outside every layer of a router, so this must wrap the whole router.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut json = ApiError {
        code: ErrorCode::MethodNotAllowed,
        message: format!("method {method} is not allowed on {path}; use one of: {allow}"),
    }
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        json.headers_mut().insert(header::ALLOW, value);
    }
    json
}

/// Counts requests by method, route pattern and status. Each label set is
/// bounded, because a client may send any token as a method: one other than
/// those of RFC 9110 and PATCH (RFC 5789) counts as `other`.
async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("oversight_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// Returns the metric label of a request method: its name for the methods of
/// RFC 9110 and PATCH (RFC 5789), `other` for any other token.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

type SharedState = axum::extract::State<Arc<AppState>>;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod privacy_tests;
#[cfg(test)]
mod tests;
