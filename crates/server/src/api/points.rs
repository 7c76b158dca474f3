//! Monitoring points and their readings.

use axum::http::StatusCode;
use axum::{Extension, Json};
use oversight_auth::{Action, Principal, Scope};
use oversight_core::{DataKind, FactorCode, Mn};
use oversight_store::{Page, PointQuery, ReadingQuery, SortOrder};
use serde::Deserialize;

use super::SharedState;
use super::access::scoped_area;
use super::params::{
    ApiJson, ApiPath, ApiQuery, LIST_PAGE, READING_PAGE, check_range, parse_area, parse_limit,
    parse_mn, parse_time,
};
use super::status::online_since;
use super::views::{PointBody, PointView, ReadingView, StatusView};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    area: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of points, ordered by MN.
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<PointView>>, ApiError> {
    if let Scope::Points(own) = principal.scope() {
        let mut items = Vec::with_capacity(own.len());
        for mn in own {
            if let Some(point) = state.store.point(mn).await? {
                items.push(PointView::new(point, None));
            }
        }
        return Ok(Json(Page {
            items,
            next_cursor: None,
        }));
    }
    let query = PointQuery {
        area: scoped_area(&principal, parse_area(params.area.as_deref())?)?,
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
        .upsert_points(std::slice::from_ref(&point))
        .await?;
    tracing::info!(mn = %point.mn, area = %point.area, "point registered");
    Ok((StatusCode::CREATED, Json(PointView::new(point, None))))
}

/// Returns one point with its online status.
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
    let statuses = state.store.point_statuses(Some(&point.area)).await?;
    let status = statuses.iter().find(|status| status.mn == mn);
    let since = online_since(&state, point.interval_secs, state.clock.now());
    let status = StatusView::new(status, since);
    Ok(Json(PointView::new(point, Some(status))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    Ok(Json(Page {
        items: page.items.into_iter().map(ReadingView::from).collect(),
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

fn point_not_found(mn: &Mn) -> ApiError {
    ApiError::not_found(format!(
        "monitoring point {mn} not found; register it with POST /api/v1/points or \
         `oversight import points`"
    ))
}
