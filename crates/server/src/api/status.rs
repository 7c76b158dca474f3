//! Health, the dashboard summary and the Prometheus endpoint.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use jiff::{SignedDuration, Timestamp};
use oversight_auth::Principal;
use oversight_store::{PointStatus, SummaryQuery};
use serde::{Deserialize, Serialize};

use super::access::scoped_area;
use super::params::{ApiQuery, parse_area};
use super::{AppState, SharedState};
use crate::error::ApiError;

#[derive(Debug, Serialize)]
pub(super) struct Health {
    status: &'static str,
    version: &'static str,
    store: &'static str,
}

/// Returns 200 when the store responds to a ping, else 503 with `store: "unavailable"`.
pub(super) async fn health(state: SharedState) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION");
    match state.store.ping().await {
        Ok(_) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                version,
                store: "ok",
            }),
        ),
        Err(error) => {
            tracing::warn!(error = %error, "health check found the store unavailable");
            let body = Health {
                status: "degraded",
                version,
                store: "unavailable",
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SummaryParams {
    area: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct SummaryView {
    points: u64,
    points_online: u64,
    readings_today: u64,
    open_alerts: u64,
    area: Option<String>,
}

/// Returns the dashboard counters for an area, or for everything.
pub(super) async fn summary(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<SummaryParams>,
) -> Result<Json<SummaryView>, ApiError> {
    // TODO: a regulated party gets 403 here until the store counts by point.
    let area = scoped_area(&principal, parse_area(params.area.as_deref())?)?;
    if let Some(code) = &area
        && state.store.area(code).await?.is_none()
    {
        return Err(ApiError::not_found(format!(
            "area {code} not found; list areas with GET /api/v1/areas"
        )));
    }
    let now = state.clock.now();
    let query = SummaryQuery {
        area: area.clone(),
        readings_since: start_of_day(&state, now),
        online_since: now,
    };
    let summary = state.store.summary(&query).await?;
    let statuses = state.store.point_statuses(area.as_ref()).await?;
    let online = statuses
        .iter()
        .filter(|status| is_online(&state, status, now))
        .count();
    Ok(Json(SummaryView {
        points: statuses.len() as u64,
        points_online: online as u64,
        readings_today: summary.readings,
        open_alerts: summary.open_alerts,
        area: area.map(String::from),
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

/// Returns the earliest upload time at which a point of `interval_secs` still counts as online.
pub(super) fn online_since(state: &AppState, interval_secs: u32, now: Timestamp) -> Timestamp {
    let window = i64::from(interval_secs) * i64::from(state.online_intervals);
    now.saturating_sub(SignedDuration::from_secs(window))
        .unwrap_or(now)
}

fn is_online(state: &AppState, status: &PointStatus, now: Timestamp) -> bool {
    let since = online_since(state, status.interval_secs, now);
    status.last_received_at.is_some_and(|at| at >= since)
}
