//! Uploads from unregistered MNs: list, inspect, release after registration, discard.

use axum::{Extension, Json};
use jiff::Timestamp;
use oversight_auth::Principal;
use oversight_store::{QuarantineSummary, QuarantinedUpload};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::access::require_everything;
use super::params::{ApiPath, ApiQuery, LIST_PAGE, parse_limit, parse_mn};
use super::views::ReadingView;
use crate::error::ApiError;

/// Returns one line per quarantined MN.
pub(super) async fn summaries(
    state: SharedState,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<QuarantineSummary>>, ApiError> {
    require_everything(&principal, "quarantine")?;
    Ok(Json(state.store.quarantine_summaries().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadParams {
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct UploadView {
    mn: String,
    peer: Option<String>,
    received_at: Timestamp,
    raw: String,
    readings: Vec<ReadingView>,
}

impl From<QuarantinedUpload> for UploadView {
    fn from(upload: QuarantinedUpload) -> Self {
        Self {
            mn: upload.mn,
            peer: upload.peer,
            received_at: upload.received_at,
            raw: upload.raw,
            readings: upload.readings.into_iter().map(ReadingView::from).collect(),
        }
    }
}

/// Returns the held uploads of one MN, oldest first.
pub(super) async fn uploads(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
    ApiQuery(params): ApiQuery<UploadParams>,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let limit = parse_limit(params.limit.as_deref(), LIST_PAGE)?;
    let uploads = state.store.quarantined_uploads(&mn, limit).await?;
    if uploads.is_empty() {
        return Err(nothing_held(&mn));
    }
    Ok(Json(uploads.into_iter().map(UploadView::from).collect()))
}

#[derive(Debug, Serialize)]
pub(super) struct Released {
    moved: u64,
}

/// Moves the held readings of a registered MN into its readings.
pub(super) async fn release(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
) -> Result<Json<Released>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let mn = parse_mn(&mn)?;
    if state.store.point(&mn).await?.is_none() {
        return Err(ApiError::conflict(format!(
            "MN {mn} is not registered: register the point with POST /api/v1/points, then \
             release its quarantine"
        )));
    }
    let moved = state.store.release_quarantine(&mn).await?;
    tracing::info!(mn = %mn, moved, "quarantine released");
    Ok(Json(Released { moved }))
}

#[derive(Debug, Serialize)]
pub(super) struct Discarded {
    discarded: u64,
}

/// Deletes the held uploads of an MN.
pub(super) async fn discard(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
) -> Result<Json<Discarded>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let discarded = state.store.discard_quarantine(&mn).await?;
    if discarded == 0 {
        return Err(nothing_held(&mn));
    }
    tracing::info!(mn = %mn, discarded, "quarantine discarded");
    Ok(Json(Discarded { discarded }))
}

fn nothing_held(mn: &str) -> ApiError {
    ApiError::not_found(format!(
        "no quarantined uploads for MN {mn:?}; list held MNs with GET /api/v1/quarantine"
    ))
}
