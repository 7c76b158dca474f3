//! Health, the dashboard summary and the Prometheus endpoint.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use jiff::{SignedDuration, Timestamp};
use oversight_auth::{Principal, Scope};
use oversight_store::{PointStatus, SummaryQuery};
use serde::{Deserialize, Serialize};

use super::access::scoped_areas;
use super::params::{ApiQuery, parse_area};
use super::{AppState, SharedState};
use crate::error::ApiError;

/// The health response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// `ok`, or `degraded` when the store does not respond.
    status: &'static str,
    /// The server's version.
    version: &'static str,
    /// `ok` or `unavailable`.
    store: &'static str,
    /// OpenID Connect sign-on for the login page, left out while sign-on is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_on: Option<SignOn>,
}

/// The login page's OpenID Connect sign-on button.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct SignOn {
    /// The name for the button "Sign in with NAME".
    provider_name: String,
    /// The path that starts sign-on.
    login_url: &'static str,
}

/// Returns 200 when the store responds to a ping, else 503 with `store: "unavailable"`.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "status",
    responses(
        (status = 200, description = "The server and its store respond.", body = Health),
        (status = 503, description = "The store does not respond.", body = Health),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn health(state: SharedState) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION");
    let sign_on = state.oidc.as_ref().map(|oidc| SignOn {
        provider_name: oidc.provider_name(),
        login_url: "/api/v1/auth/oidc/login",
    });
    match state.store.ping().await {
        Ok(_) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                version,
                store: "ok",
                sign_on,
            }),
        ),
        Err(error) => {
            tracing::warn!(error = %error, "health check found the store unavailable");
            let body = Health {
                status: "degraded",
                version,
                store: "unavailable",
                sign_on,
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SummaryParams {
    area: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct SummaryView {
    points: u64,
    points_online: u64,
    readings_today: u64,
    open_alerts: u64,
    /// The area counted, when the counts cover exactly one.
    area: Option<String>,
    /// The areas counted, or null when the counts cover every area.
    areas: Option<Vec<String>>,
}

/// Returns the dashboard counters for an area, or for everything.
#[utoipa::path(
    get,
    path = "/api/v1/summary",
    tag = "status",
    params(SummaryParams),
    responses(
        (status = 200, description = "Counts of points, readings and open alerts.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn summary(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<SummaryParams>,
) -> Result<Json<SummaryView>, ApiError> {
    let requested = parse_area(params.area.as_deref())?;
    // A regulated party's summary counts its own points, wherever they lie.
    let own_points = match principal.scope() {
        Scope::Points(points) if requested.is_none() => Some(points.clone()),
        _ => None,
    };
    if let Some(code) = &requested
        && state.store.area(code).await?.is_none()
    {
        return Err(ApiError::not_found(format!(
            "area {code} not found; list areas with GET /api/v1/areas"
        )));
    }
    let areas = if own_points.is_some() {
        None
    } else {
        scoped_areas(&principal, requested)?
    };
    let now = state.clock.now();
    let query = SummaryQuery {
        areas: areas.clone(),
        points: own_points.clone(),
        readings_since: start_of_day(&state, now),
        online_since: now,
    };
    let summary = state.store.summary(&query).await?;
    let mut statuses = state.store.point_statuses(areas.as_deref()).await?;
    if let Some(points) = &own_points {
        statuses.retain(|status| points.contains(&status.mn));
    }
    let online = statuses
        .iter()
        .filter(|status| is_online(&state, status, now))
        .count();
    Ok(Json(SummaryView {
        points: statuses.len() as u64,
        points_online: online as u64,
        readings_today: summary.readings,
        open_alerts: summary.open_alerts,
        area: match areas.as_deref() {
            Some([only]) => Some(only.to_string()),
            _ => None,
        },
        areas: areas.map(|areas| areas.into_iter().map(String::from).collect()),
    }))
}

/// Returns the Prometheus text exposition of every counter and gauge.
pub(super) async fn metrics(state: SharedState) -> impl IntoResponse {
    let body = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// Returns local midnight of `now` in the configured time zone.
fn start_of_day(state: &AppState, now: Timestamp) -> Timestamp {
    let zoned = now.to_zoned(state.time_zone.clone());
    match zoned.start_of_day() {
        Ok(midnight) => midnight.timestamp(),
        // Only a time zone without a valid midnight gets here; a fixed
        // offset always has one.
        Err(_) => now,
    }
}

/// Returns the earliest time of last contact (see [`PointStatus::last_seen`])
/// at which a point of `interval_secs` still counts as online.
pub(super) fn online_since(state: &AppState, interval_secs: u32, now: Timestamp) -> Timestamp {
    let window = i64::from(interval_secs) * i64::from(state.online_intervals);
    now.saturating_sub(SignedDuration::from_secs(window))
        .unwrap_or(now)
}

fn is_online(state: &AppState, status: &PointStatus, now: Timestamp) -> bool {
    let since = online_since(state, status.interval_secs, now);
    status.last_seen().is_some_and(|at| at >= since)
}

/// Returns the OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "openapi",
    responses((status = 200, description = "The OpenAPI document.", body = super::openapi::JsonValue))
)]
pub(super) async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(super::openapi::openapi())
}
