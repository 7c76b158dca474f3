//! Monitoring points and their readings.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::{Extension, Json};
use jiff::Timestamp;
use oversight_auth::{Action, Principal, Scope};
use oversight_core::{DataKind, FactorCode, Mn, Secret};
use oversight_store::{Page, PointQuery, ReadingQuery, RevisionQuery, SortOrder};
use serde::Deserialize;

use super::SharedState;
use super::access::scoped_areas;
use super::params::{
    ApiJson, ApiPath, ApiQuery, LIST_PAGE, READING_PAGE, check_range, parse_area, parse_limit,
    parse_mn, parse_time,
};
use super::status::online_since;
use super::views::{PointBody, PointView, ReadingView, RevisionView, StatusView, check_password};
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    area: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of points, ordered by MN.
#[utoipa::path(
    get,
    path = "/api/v1/points",
    tag = "points",
    params(ListParams),
    responses(
        (status = 200, description = "A page of points ordered by MN.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<PointView>>, ApiError> {
    let area = parse_area(params.area.as_deref())?;
    if let Scope::Points(own) = principal.scope() {
        let mut items = Vec::with_capacity(own.len());
        for mn in own {
            let Some(point) = state.store.point(mn).await? else {
                continue;
            };
            if area.as_ref().is_none_or(|area| area.contains(&point.area)) {
                items.push(PointView::new(point, None));
            }
        }
        return Ok(Json(Page {
            items,
            next_cursor: None,
        }));
    }
    let query = PointQuery {
        areas: scoped_areas(&principal, area)?,
        limit: parse_limit(params.limit.as_deref(), LIST_PAGE)?,
        cursor: params.cursor,
    };
    let page = state.store.points(&query).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|point| PointView::new(point, None))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a point, or replaces the point with the same MN, and returns 201.
#[utoipa::path(
    post,
    path = "/api/v1/points",
    tag = "points",
    request_body = PointBody,
    responses(
        (status = 201, description = "The created or replaced point.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn upsert(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<PointBody>,
) -> Result<(StatusCode, Json<PointView>), ApiError> {
    let point = body.into_point()?;
    principal.require_area(Action::ManagePoints, &point.area)?;
    if let Some(existing) = state.store.point(&point.mn).await? {
        principal.require_area(Action::ManagePoints, &existing.area)?;
    }
    if state.store.area(&point.area).await?.is_none() {
        return Err(ApiError::invalid(format!(
            "area {} not found: import the area first (oversight import areas) or use an \
             existing code from GET /api/v1/areas",
            point.area
        )));
    }
    state
        .store
        .upsert_points(std::slice::from_ref(&point), &principal.actor())
        .await?;
    tracing::info!(mn = %point.mn, area = %point.area, "point registered");
    Ok((StatusCode::CREATED, Json(PointView::new(point, None))))
}

/// Returns one point with its online status.
#[utoipa::path(
    get,
    path = "/api/v1/points/{mn}",
    tag = "points",
    params(("mn" = String, Path, description = "The monitoring point's MN.")),
    responses(
        (status = 200, description = "One point with its online status.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
) -> Result<Json<PointView>, ApiError> {
    let mn = parse_mn(&mn)?;
    let Some(point) = state.store.point(&mn).await? else {
        return Err(point_not_found(&mn));
    };
    if !principal.scope().contains_point(&mn, &point.area) {
        return Err(point_not_found(&mn));
    }
    let statuses = state
        .store
        .point_statuses(Some(std::slice::from_ref(&point.area)))
        .await?;
    let status = statuses.iter().find(|status| status.mn == mn);
    let since = online_since(&state, point.interval_secs, state.clock.now());
    let status = StatusView::new(status, since);
    Ok(Json(PointView::new(point, Some(status))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReadingParams {
    factor: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    order: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of one point's readings.
#[utoipa::path(
    get,
    path = "/api/v1/points/{mn}/readings",
    tag = "points",
    params(("mn" = String, Path, description = "The monitoring point's MN."), ReadingParams),
    responses(
        (status = 200, description = "A page of the point's readings.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn readings(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
    ApiQuery(params): ApiQuery<ReadingParams>,
) -> Result<Json<Page<ReadingView>>, ApiError> {
    let mn = parse_mn(&mn)?;
    let query = reading_query(mn, params)?;
    let visible = state
        .store
        .point(&query.mn)
        .await?
        .is_some_and(|point| principal.scope().contains_point(&query.mn, &point.area));
    if !visible {
        return Err(point_not_found(&query.mn));
    }
    let page = state.store.readings(&query).await?;
    let mut items: Vec<ReadingView> = page.items.into_iter().map(ReadingView::from).collect();
    add_revision_counts(&state, &query.mn, &mut items).await?;
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Sets the revision count of each reading of a page.
async fn add_revision_counts(
    state: &SharedState,
    mn: &Mn,
    items: &mut [ReadingView],
) -> Result<(), ApiError> {
    let first = items.iter().map(|item| item.data_time).min();
    let last = items.iter().map(|item| item.data_time).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(());
    };
    let counts: HashMap<(DataKind, FactorCode, Timestamp), u64> = state
        .store
        .revision_counts(mn, first, last)
        .await?
        .into_iter()
        .map(|count| ((count.kind, count.factor, count.data_time), count.revisions))
        .collect();
    for item in items {
        let key = (item.kind, item.factor.clone(), item.data_time);
        item.revisions = Some(counts.get(&key).copied().unwrap_or(0));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RevisionParams {
    /// Only revisions of this factor, such as w01018.
    factor: Option<String>,
    /// Only revisions of this kind of data: realtime, minute, hour or day.
    kind: Option<String>,
    /// Only revisions of readings with data time at or after this (RFC 3339).
    from: Option<String>,
    /// Only revisions of readings with data time before this (RFC 3339).
    to: Option<String>,
    /// Page size, at most 10,000.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Returns a page of the revisions of one point's readings.
///
/// A revision is a resend of a stored reading (same MN, kind, factor and
/// data time) with other values or flag. The stored reading keeps the first
/// values received. Revisions are ordered by data time, then by arrival.
#[utoipa::path(
    get,
    path = "/api/v1/points/{mn}/revisions",
    tag = "points",
    params(("mn" = String, Path, description = "The monitoring point's MN."), RevisionParams),
    responses(
        (status = 200, description = "A page of revisions, each with its own receive time and values and the address (IP:port) of the connection that sent it.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn revisions(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
    ApiQuery(params): ApiQuery<RevisionParams>,
) -> Result<Json<Page<RevisionView>>, ApiError> {
    let mn = parse_mn(&mn)?;
    let filter = reading_query(
        mn,
        ReadingParams {
            factor: params.factor,
            kind: params.kind,
            from: params.from,
            to: params.to,
            order: None,
            limit: params.limit,
            cursor: params.cursor,
        },
    )?;
    let visible = state
        .store
        .point(&filter.mn)
        .await?
        .is_some_and(|point| principal.scope().contains_point(&filter.mn, &point.area));
    if !visible {
        return Err(point_not_found(&filter.mn));
    }
    let query = RevisionQuery {
        mn: filter.mn,
        factor: filter.factor,
        kind: filter.kind,
        from: filter.from,
        to: filter.to,
        limit: filter.limit,
        cursor: filter.cursor,
    };
    let page = state.store.reading_revisions(&query).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(RevisionView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn reading_query(mn: Mn, params: ReadingParams) -> Result<ReadingQuery, ApiError> {
    let factor = match params.factor.as_deref() {
        Some(value) => Some(FactorCode::parse(value).map_err(|error| {
            ApiError::invalid_param("factor", value, &format!("{}; such as w01018", error.rule))
        })?),
        None => None,
    };
    let kind = match params.kind.as_deref() {
        Some(value) => Some(
            DataKind::parse(value)
                .map_err(|error| ApiError::invalid_param("kind", value, error.rule))?,
        ),
        None => None,
    };
    let order = match params.order.as_deref() {
        None | Some("asc") => SortOrder::Ascending,
        Some("desc") => SortOrder::Descending,
        Some(other) => {
            return Err(ApiError::invalid_param(
                "order",
                other,
                "expected asc or desc",
            ));
        }
    };
    let from = parse_time("from", params.from.as_deref())?;
    let to = parse_time("to", params.to.as_deref())?;
    check_range(from, to)?;
    Ok(ReadingQuery {
        mn,
        factor,
        kind,
        from,
        to,
        order,
        limit: parse_limit(params.limit.as_deref(), READING_PAGE)?,
        cursor: params.cursor,
    })
}

/// The body of `POST /points/{mn}/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordBody {
    /// The new HJ 212 access password (PW).
    #[schema(value_type = String)]
    password: Secret<String>,
    /// Until when the replaced password stays valid, as an RFC 3339 time.
    /// The first upload with the new password ends it earlier. Without it,
    /// the replaced password stops at once.
    #[serde(default)]
    previous_valid_until: Option<String>,
}

/// Sets a point's HJ 212 password and returns 204.
///
/// With `previous_valid_until`, the datalogger may keep sending the
/// replaced password until then or until its first upload with the new
/// one, so it can be reconfigured without rejected uploads.
#[utoipa::path(
    post,
    path = "/api/v1/points/{mn}/password",
    tag = "points",
    params(("mn" = String, Path, description = "The monitoring point's MN.")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "The password was changed."),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn set_password(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(mn): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    let mn = parse_mn(&mn)?;
    let Some(point) = state.store.point(&mn).await? else {
        return Err(point_not_found(&mn));
    };
    if !principal.scope().contains_point(&mn, &point.area) {
        return Err(point_not_found(&mn));
    }
    principal.require_area(Action::ManagePoints, &point.area)?;
    check_password(body.password.expose())?;
    let until = parse_time("previous_valid_until", body.previous_valid_until.as_deref())?;
    if let Some(until) = until
        && until <= state.clock.now()
    {
        return Err(ApiError::invalid_param(
            "previous_valid_until",
            &until.to_string(),
            "must be in the future; leave it out to stop the replaced password at once",
        ));
    }
    state
        .store
        .set_point_password(&mn, &body.password, until, &principal.actor())
        .await?;
    tracing::info!(mn = %mn, previous_valid_until = ?until, "point password changed");
    Ok(StatusCode::NO_CONTENT)
}

fn point_not_found(mn: &Mn) -> ApiError {
    ApiError::not_found(format!(
        "monitoring point {mn} not found; register it with POST /api/v1/points or \
         `oversight import points`"
    ))
}
