//! Held uploads (from unregistered MNs, or with a DataTime too far ahead):
//! list, inspect, release, discard. The PW of every held packet is masked.

use axum::{Extension, Json};
use jiff::Timestamp;
use oversight_auth::Principal;
use oversight_store::{
    Page, QuarantineQuery, QuarantineReason, QuarantineSummary, QuarantinedUpload,
};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::access::require_everything;
use super::params::{ApiPath, ApiQuery, LIST_PAGE, parse_limit, parse_mn};
use super::views::ReadingView;
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

impl PageParams {
    fn query(self) -> Result<QuarantineQuery, ApiError> {
        Ok(QuarantineQuery {
            limit: parse_limit(self.limit.as_deref(), LIST_PAGE)?,
            cursor: self.cursor,
        })
    }
}

/// Returns a page of held MNs, most recently seen first.
#[utoipa::path(
    get,
    path = "/api/v1/quarantine",
    tag = "quarantine",
    params(PageParams),
    responses(
        (status = "2XX", description = "See docs/api.md.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn summaries(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<QuarantineSummary>>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let query = params.query()?;
    Ok(Json(state.store.quarantine_summaries(&query).await?))
}

#[derive(Debug, Serialize)]
pub(super) struct UploadView {
    mn: String,
    reason: QuarantineReason,
    peer: Option<String>,
    received_at: Timestamp,
    raw: HeldPacket,
    readings: Vec<ReadingView>,
}

/// The text of a held packet, which serializes with every password field
/// masked (see [`mask_password`]) whatever the viewer's rights. The PW is a
/// device credential rather than personal data: the administrator who
/// registers the point sets it with `POST /points`, so no viewer needs it.
#[derive(Debug)]
struct HeldPacket(String);

impl Serialize for HeldPacket {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&mask_password(&self.0))
    }
}

impl From<QuarantinedUpload> for UploadView {
    fn from(upload: QuarantinedUpload) -> Self {
        Self {
            mn: upload.mn,
            reason: upload.reason,
            peer: upload.peer,
            received_at: upload.received_at,
            raw: HeldPacket(upload.raw),
            readings: upload.readings.into_iter().map(ReadingView::from).collect(),
        }
    }
}

/// Returns the text of a packet with the value of every field whose key
/// ends in `PW` (the header's `PW`, a data area's `NewPW`) replaced by `******`.
fn mask_password(raw: &str) -> String {
    let mut masked = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("PW=") {
        masked.push_str(&rest[..start + 3]);
        masked.push_str("******");
        rest = &rest[start + 3..];
        let end = rest.find([';', ',', '&']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    masked.push_str(rest);
    masked
}

/// Returns a page of the held uploads of one MN, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/quarantine/{mn}",
    tag = "quarantine",
    params(("mn" = String, Path, description = "The MN."), PageParams),
    responses(
        (status = "2XX", description = "See docs/api.md.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn uploads(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<UploadView>>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let query = params.query()?;
    let first_page = query.cursor.is_none();
    let page = state.store.quarantined_uploads(&mn, &query).await?;
    if first_page && page.items.is_empty() {
        return Err(nothing_held(&mn));
    }
    Ok(Json(Page {
        items: page.items.into_iter().map(UploadView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize)]
pub(super) struct Released {
    moved: u64,
}

/// Moves the held readings of a registered MN into its readings.
#[utoipa::path(
    post,
    path = "/api/v1/quarantine/{mn}/release",
    tag = "quarantine",
    params(("mn" = String, Path, description = "The MN.")),
    responses(
        (status = "2XX", description = "See docs/api.md.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
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
    let moved = state
        .store
        .release_quarantine(&mn, &principal.actor())
        .await?;
    tracing::info!(mn = %mn, moved, "quarantine released");
    Ok(Json(Released { moved }))
}

#[derive(Debug, Serialize)]
pub(super) struct Discarded {
    discarded: u64,
}

/// Deletes the held uploads of an MN.
#[utoipa::path(
    delete,
    path = "/api/v1/quarantine/{mn}",
    tag = "quarantine",
    params(("mn" = String, Path, description = "The MN.")),
    responses(
        (status = "2XX", description = "See docs/api.md.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn discard(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
) -> Result<Json<Discarded>, ApiError> {
    require_everything(&principal, "quarantine")?;
    let discarded = state
        .store
        .discard_quarantine(&mn, &principal.actor())
        .await?;
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

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn mask_password_hides_every_pw_field() {
        let raw = "##0101QN=1;ST=32;CN=2011;PW=123456;MN=AB;CP=&&PW=9;NewPW=654321&&1C80";
        assert_eq!(
            mask_password(raw),
            "##0101QN=1;ST=32;CN=2011;PW=******;MN=AB;CP=&&PW=******;NewPW=******&&1C80"
        );
        assert_eq!(mask_password("PW=abc"), "PW=******");
        assert_eq!(mask_password("no password"), "no password");
    }
}
