//! The area tree: children of an area, and one area with its path.

use axum::Json;
use oversight_core::AreaCode;
use serde::Deserialize;

use super::SharedState;
use super::params::{ApiPath, ApiQuery, parse_area_code};
use super::views::{AreaDetail, AreaView, PathStep};
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ChildrenParams {
    parent: Option<String>,
}

/// Returns the children of `parent`, or the provinces.
#[utoipa::path(
    get,
    path = "/api/v1/areas",
    tag = "areas",
    params(ChildrenParams),
    responses(
        (status = 200, description = "The children of `parent`, or the provinces.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn children(
    state: SharedState,
    ApiQuery(params): ApiQuery<ChildrenParams>,
) -> Result<Json<Vec<AreaView>>, ApiError> {
    let parent = params
        .parent
        .as_deref()
        .map(|value| parse_area_code("parent", value))
        .transpose()?;
    if let Some(code) = &parent
        && state.store.area(code).await?.is_none()
    {
        return Err(area_not_found(code));
    }
    let areas = state.store.area_children(parent.as_ref()).await?;
    Ok(Json(areas.into_iter().map(AreaView::from).collect()))
}

/// Returns one area and its path from the province down.
#[utoipa::path(
    get,
    path = "/api/v1/areas/{code}",
    tag = "areas",
    params(("code" = String, Path, description = "Area code, such as 35 or 350203.")),
    responses(
        (status = 200, description = "One area with its path from the province.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<AreaDetail>, ApiError> {
    let code = parse_area_code("code", &code)?;
    let Some(area) = state.store.area(&code).await? else {
        return Err(area_not_found(&code));
    };
    let mut path = Vec::new();
    let mut next = Some(code);
    while let Some(code) = next {
        let Some(step) = state.store.area(&code).await? else {
            // An ancestor missing from the store: the path starts below it.
            break;
        };
        next = code.parent();
        path.push(PathStep {
            level: step.level(),
            code: step.code,
            name: step.name,
        });
    }
    path.reverse();
    Ok(Json(AreaDetail {
        area: AreaView::from(area),
        path,
    }))
}

fn area_not_found(code: &AreaCode) -> ApiError {
    ApiError::not_found(format!(
        "area {code} not found; import it with `oversight import areas` or list areas with \
         GET /api/v1/areas"
    ))
}
