//! Alerts, newest first, with their point's name.

use std::collections::HashMap;

use axum::Json;
use oversight_core::{Alert, AlertId, AlertStatus, Mn};
use oversight_store::{AlertQuery, Page, Store};
use serde::Deserialize;

use super::SharedState;
use super::params::{
    ApiPath, ApiQuery, LIST_PAGE, check_range, parse_area, parse_limit, parse_mn, parse_time,
};
use super::views::AlertView;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    area: Option<String>,
    mn: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of alerts.
pub(super) async fn list(
    state: SharedState,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    let status = match params.status.as_deref() {
        Some(value) => Some(
            AlertStatus::parse(value)
                .map_err(|error| ApiError::invalid_param("status", value, error.rule))?,
        ),
        None => None,
    };
    let from = parse_time("from", params.from.as_deref())?;
    let to = parse_time("to", params.to.as_deref())?;
    check_range(from, to)?;
    let query = AlertQuery {
        status,
        area: parse_area(params.area.as_deref())?,
        mn: params.mn.as_deref().map(parse_mn).transpose()?,
        from,
        to,
        limit: parse_limit(params.limit.as_deref(), LIST_PAGE)?,
        cursor: params.cursor,
    };
    let page = state.store.alerts(&query).await?;
    let names = point_names(state.store.as_ref(), &page.items).await?;
    let items = page
        .items
        .into_iter()
        .map(|alert| {
            let point_name = names.get(&alert.mn).cloned().flatten();
            AlertView { alert, point_name }
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Returns one alert.
pub(super) async fn one(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AlertView>, ApiError> {
    let Ok(number) = id.trim().parse::<i64>() else {
        return Err(ApiError::invalid_param(
            "id",
            &id,
            "expected an alert id, a whole number",
        ));
    };
    let Some(alert) = state.store.alert(AlertId(number)).await? else {
        return Err(ApiError::not_found(format!(
            "alert {number} not found; list alerts with GET /api/v1/alerts"
        )));
    };
    let point_name = state.store.point(&alert.mn).await?.map(|point| point.name);
    Ok(Json(AlertView { alert, point_name }))
}

/// Looks up the name of each distinct point of `alerts`; a point deleted
/// since the alert opened maps to `None`.
async fn point_names(
    store: &dyn Store,
    alerts: &[Alert],
) -> Result<HashMap<Mn, Option<String>>, ApiError> {
    let mut names = HashMap::new();
    for alert in alerts {
        if names.contains_key(&alert.mn) {
            continue;
        }
        let name = store.point(&alert.mn).await?.map(|point| point.name);
        names.insert(alert.mn.clone(), name);
    }
    Ok(names)
}
