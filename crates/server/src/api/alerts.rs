//! Alerts, newest first, with their point's name; their history, and the
//! acknowledge and resolve actions, which go through the rule engine so that
//! its state and the alert events stay in order with the readings.

use std::collections::HashMap;

use axum::{Extension, Json};
use oversight_auth::{Principal, Scope};
use oversight_core::{Alert, AlertId, AlertStatus, Mn, Severity};
use oversight_rules::Command;
use oversight_store::{AlertQuery, Page, Store, TransitionRecord};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::access::{acting_user, scoped_areas, scoped_point, visible_alert};
use super::params::{
    ApiJson, ApiPath, ApiQuery, LIST_PAGE, check_range, parse_area, parse_limit, parse_mn,
    parse_time,
};
use super::views::AlertView;
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    area: Option<String>,
    mn: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Returns a page of alerts.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(ListParams),
    responses(
        (status = 200, description = "A page of alerts, newest first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    let statuses = match params.status.as_deref() {
        None => Vec::new(),
        Some("open") => AlertStatus::OPEN.to_vec(),
        Some(value) => vec![AlertStatus::parse(value).map_err(|_| {
            ApiError::invalid_param(
                "status",
                value,
                "expected open, pending, firing, acknowledged or resolved",
            )
        })?],
    };
    let severity = params
        .severity
        .as_deref()
        .map(|value| {
            Severity::parse(value)
                .map_err(|error| ApiError::invalid_param("severity", value, error.rule))
        })
        .transpose()?;
    let from = parse_time("from", params.from.as_deref())?;
    let to = parse_time("to", params.to.as_deref())?;
    check_range(from, to)?;
    let query = AlertQuery {
        statuses,
        severity,
        rule_id: params.rule,
        areas: match principal.scope() {
            Scope::Points(_) => parse_area(params.area.as_deref())?.map(|area| vec![area]),
            _ => scoped_areas(&principal, parse_area(params.area.as_deref())?)?,
        },
        mn: scoped_point(&principal, params.mn.as_deref().map(parse_mn).transpose()?)?,
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

fn parse_id(id: &str) -> Result<AlertId, ApiError> {
    id.trim()
        .parse::<i64>()
        .map(AlertId)
        .map_err(|_| ApiError::invalid_param("id", id, "expected an alert id, a whole number"))
}

/// An alert with its history and the rule text that made it fire.
#[derive(Debug, Serialize)]
pub(super) struct AlertDetail {
    #[serde(flatten)]
    view: AlertView,
    transitions: Vec<TransitionRecord>,
    /// The rule's TOML text, when the rule is still active.
    rule_source: Option<String>,
    /// The readings around the alert, for the chart link.
    readings_url: String,
}

/// Returns one alert with its transitions and rule.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The record's id.")),
    responses(
        (status = 200, description = "One alert with its transitions.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    let id = parse_id(&id)?;
    let alert = visible_alert(&state, &principal, id).await?;
    let point_name = state.store.point(&alert.mn).await?.map(|point| point.name);
    let transitions = state.store.alert_transitions(id).await?;
    let rule_source = match &state.rules {
        Some(rules) => rules
            .request(|reply| Command::Status { reply })
            .await
            .ok()
            .and_then(|status| {
                status
                    .rules
                    .iter()
                    .find(|rule| rule.id == alert.rule_id)
                    .map(|rule| rule.source.clone())
            }),
        None => None,
    };
    let until = alert.resolved_at.unwrap_or(alert.last_at);
    let mut readings_url = format!(
        "/api/v1/points/{}/readings?from={}&to={}",
        alert.mn,
        alert
            .first_at
            .saturating_sub(jiff::SignedDuration::from_hours(1))
            .unwrap_or(alert.first_at),
        until
            .saturating_add(jiff::SignedDuration::from_hours(1))
            .unwrap_or(until)
    );
    if let Some(factor) = &alert.factor {
        readings_url.push_str(&format!("&factor={factor}"));
    }
    Ok(Json(AlertDetail {
        view: AlertView { alert, point_name },
        transitions,
        rule_source,
        readings_url,
    }))
}

/// The body of the acknowledge and resolve actions. The actor is the
/// signed-in account, and `actor`, when given, must be its login name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Acknowledges an open alert.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/acknowledge",
    tag = "alerts",
    params(("id" = String, Path, description = "The record's id.")),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The acknowledged alert.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn acknowledge(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Alert>, ApiError> {
    let id = parse_id(&id)?;
    visible_alert(&state, &principal, id).await?;
    let actor = acting_user(&principal, "actor", body.actor.as_deref())?;
    let reason = body.reason;
    let alert = state
        .rules()?
        .request(|reply| Command::Acknowledge {
            id,
            actor,
            reason,
            reply,
        })
        .await??;
    Ok(Json(alert))
}

/// Resolves an open alert by hand; the reason is required.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/resolve",
    tag = "alerts",
    params(("id" = String, Path, description = "The record's id.")),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The resolved alert.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn resolve(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Alert>, ApiError> {
    let id = parse_id(&id)?;
    visible_alert(&state, &principal, id).await?;
    let actor = acting_user(&principal, "actor", body.actor.as_deref())?;
    let Some(reason) = body.reason.filter(|reason| !reason.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "missing reason: say why the alert is resolved, such as \"valve repaired\"",
        ));
    };
    let alert = state
        .rules()?
        .request(|reply| Command::Resolve {
            id,
            actor,
            reason,
            reply,
        })
        .await??;
    Ok(Json(alert))
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
