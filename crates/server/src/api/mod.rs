//! The JSON API under `/api/v1`, and `/metrics`.
//!
//! [`router`] contains the whole route table. Handlers live in one module per
//! resource; they validate every parameter themselves so that an error names
//! the parameter, the value and the fix, and they talk to the store only
//! through `Arc<dyn Store>`.

mod alerts;
mod areas;
mod notifications;
mod params;
mod points;
mod quarantine;
mod rules;
mod silences;
mod status;
mod views;

pub(crate) use views::check_password;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::tz::TimeZone;
use metrics_exporter_prometheus::PrometheusHandle;
use oversight_core::Clock;
use oversight_rules::RulesHandle;
use oversight_store::Store;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

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
}

/// Builds the API router: the route table of the HTTP API contract.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    let api = Router::new()
        .route("/health", get(status::health))
        .route("/summary", get(status::summary))
        .route("/areas", get(areas::children))
        .route("/areas/{code}", get(areas::one))
        .route("/points", get(points::list).post(points::upsert))
        .route("/points/{mn}", get(points::one))
        .route("/points/{mn}/readings", get(points::readings))
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
        .route("/tasks", get(rules::tasks))
        .route("/notifications", get(notifications::list))
        .route("/notifications/{id}", get(notifications::one))
        .route("/notifications/{id}/retry", post(notifications::retry))
        .route("/inbox", get(notifications::inbox))
        .route("/inbox/read", post(notifications::mark_read))
        .route("/quarantine", get(quarantine::summaries))
        .route(
            "/quarantine/{mn}",
            get(quarantine::uploads).delete(quarantine::discard),
        )
        .route("/quarantine/{mn}/release", post(quarantine::release))
        .fallback(unknown_route);

    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(status::metrics))
        .layer(middleware::from_fn(count_requests))
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(Arc::new(state))
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!(
        "no API route {method} {}; the routes are listed in docs/api.md",
        uri.path()
    ))
}

/// Counts requests by route pattern and status; both label sets are bounded.
async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("oversight_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

type SharedState = axum::extract::State<Arc<AppState>>;

#[cfg(test)]
mod tests;
