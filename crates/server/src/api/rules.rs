//! Rules: what is watched, switching rules on and off, reloading packs,
//! backtests over stored readings, rule changes and the tasks that
//! escalations created.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::{Extension, Json};
use oversight_auth::Principal;
use oversight_rules::{
    Backtest, BacktestAlert, Command, EngineConfig, Rule, RuleErrors, RuleSet, RuleStatus,
};
use oversight_store::{ReadingQuery, RuleChange, SortOrder};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::access::acting_user;
use super::params::{ApiJson, ApiPath, ApiQuery, parse_mn, parse_time};
use crate::error::ApiError;

/// A rule as listed.
#[derive(Debug, Serialize)]
pub(super) struct RuleView {
    id: String,
    name: String,
    description: String,
    pack: String,
    version: String,
    kind: oversight_rules::RuleKind,
    category: String,
    severity: oversight_core::Severity,
    department: Option<String>,
    factors: Vec<String>,
    areas: Vec<String>,
    tags: Vec<String>,
    condition: Option<String>,
    clear: Option<String>,
    #[serde(rename = "for")]
    for_duration: String,
    window: Option<&'static str>,
    enabled: bool,
    fast_path: bool,
    errors: Option<RuleErrors>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

impl RuleView {
    fn new(rule: &Rule, status: &RuleStatus, with_source: bool) -> Self {
        Self {
            id: rule.id.clone(),
            name: rule.name.clone(),
            description: rule.description.clone(),
            pack: rule.pack.clone(),
            version: rule.version.clone(),
            kind: rule.kind,
            category: rule.category.clone(),
            severity: rule.severity,
            department: rule.department.clone(),
            factors: rule.factors.iter().map(ToString::to_string).collect(),
            areas: rule.areas.clone(),
            tags: rule.tags.clone(),
            condition: rule
                .condition
                .as_ref()
                .map(|condition| condition.source().to_owned()),
            clear: rule.clear.as_ref().map(|clear| clear.source().to_owned()),
            for_duration: format!("{:#}", rule.for_duration),
            window: rule.window.as_ref().map(|window| match window.mode {
                oversight_rules::WindowMode::Sliding => "sliding",
                oversight_rules::WindowMode::Tumbling => "tumbling",
            }),
            enabled: status
                .enabled
                .get(&rule.id)
                .copied()
                .unwrap_or(rule.enabled),
            fast_path: rule
                .condition
                .as_ref()
                .is_some_and(|condition| condition.is_fast()),
            errors: status.errors.get(&rule.id).cloned(),
            source: with_source.then(|| rule.source.clone()),
        }
    }
}

/// The rule list with the packs it came from.
#[derive(Debug, Serialize)]
pub(super) struct RuleList {
    #[serde(flatten)]
    status: RuleStatus,
    items: Vec<RuleView>,
}

async fn status(state: &SharedState) -> Result<RuleStatus, ApiError> {
    Ok(state
        .rules()?
        .request(|reply| Command::Status { reply })
        .await?)
}

/// Lists the active rules.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "rules",
    responses(
        (status = 200, description = "Rule packs, rules and the errors of the last reload.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(state: SharedState) -> Result<Json<RuleList>, ApiError> {
    let status = status(&state).await?;
    let items = status
        .rules
        .iter()
        .map(|rule| RuleView::new(rule, &status, false))
        .collect();
    Ok(Json(RuleList { status, items }))
}

/// Returns one rule with its TOML text.
#[utoipa::path(
    get,
    path = "/api/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "The record's id.")),
    responses(
        (status = 200, description = "One rule with its TOML text.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RuleView>, ApiError> {
    let status = status(&state).await?;
    let Some(rule) = status.rules.iter().find(|rule| rule.id == id) else {
        return Err(ApiError::not_found(format!(
            "rule {id:?} not found; list the rules with GET /api/v1/rules"
        )));
    };
    Ok(Json(RuleView::new(rule, &status, true)))
}

/// The body of enable and disable. The actor is the signed-in account,
/// and `actor`, when given, must be its login name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SwitchBody {
    #[serde(default)]
    actor: Option<String>,
}

async fn switch(
    state: &SharedState,
    principal: &Principal,
    rule_id: String,
    enabled: bool,
    body: &SwitchBody,
) -> Result<(), ApiError> {
    let actor = acting_user(principal, "actor", body.actor.as_deref())?;
    state
        .rules()?
        .request(|reply| Command::SetEnabled {
            rule_id,
            enabled,
            actor,
            reply,
        })
        .await??;
    Ok(())
}

/// Enables a rule.
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/enable",
    tag = "rules",
    params(("id" = String, Path, description = "The record's id.")),
    request_body = SwitchBody,
    responses(
        (status = 200, description = "The enabled rule.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn enable(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SwitchBody>,
) -> Result<Json<RuleView>, ApiError> {
    switch(&state, &principal, id.clone(), true, &body).await?;
    one(state, ApiPath(id)).await
}

/// Disables a rule.
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/disable",
    tag = "rules",
    params(("id" = String, Path, description = "The record's id.")),
    request_body = SwitchBody,
    responses(
        (status = 200, description = "The disabled rule.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn disable(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SwitchBody>,
) -> Result<Json<RuleView>, ApiError> {
    switch(&state, &principal, id.clone(), false, &body).await?;
    one(state, ApiPath(id)).await
}

/// The result of a reload.
#[derive(Debug, Serialize)]
pub(super) struct Reloaded {
    digest: String,
}

/// Loads the operator's packs again now; an invalid pack is rejected with its errors.
#[utoipa::path(
    post,
    path = "/api/v1/rules/reload",
    tag = "rules",
    responses(
        (status = 200, description = "The reloaded packs.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn reload(state: SharedState) -> Result<Json<Reloaded>, ApiError> {
    let digest = state
        .rules()?
        .request(|reply| Command::Reload { reply })
        .await??;
    Ok(Json(Reloaded { digest }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LimitParams {
    limit: Option<u32>,
}

/// Lists the latest changes of the active rules.
#[utoipa::path(
    get,
    path = "/api/v1/rules/changes",
    tag = "rules",
    params(LimitParams),
    responses(
        (status = 200, description = "Changes of the active rules, newest first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn changes(
    state: SharedState,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Json<Vec<RuleChange>>, ApiError> {
    Ok(Json(
        state
            .store
            .rule_changes(params.limit.unwrap_or(100))
            .await?,
    ))
}

/// The body of a backtest: a pack to try (the server's active rules, with
/// their switches, when absent) and the readings to replay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BacktestBody {
    #[serde(default)]
    pack: Option<String>,
    mn: String,
    from: String,
    to: String,
}

/// What a backtest found.
#[derive(Debug, Serialize)]
pub(super) struct BacktestResult {
    readings: u64,
    alerts: Vec<BacktestAlert>,
    errors: BTreeMap<String, RuleErrors>,
}

/// The most readings one backtest request replays.
const BACKTEST_READINGS: u64 = 1_000_000;

/// Replays one point's stored readings through a pack and reports what would have fired.
#[utoipa::path(
    post,
    path = "/api/v1/rules/backtest",
    tag = "rules",
    request_body = BacktestBody,
    responses(
        (status = 200, description = "What the pack would have fired.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn backtest(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<BacktestBody>,
) -> Result<Json<BacktestResult>, ApiError> {
    let mn = parse_mn(&body.mn)?;
    let from = parse_time("from", Some(&body.from))?;
    let to = parse_time("to", Some(&body.to))?;
    // The active rules run with their switches, and a pack in the body runs
    // as written.
    let (rules, switches) = match &body.pack {
        Some(text) => {
            let pack =
                oversight_rules::pack::parse_pack("request body", text).map_err(|errors| {
                    ApiError::invalid(
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                })?;
            let rules = RuleSet::build(Vec::new(), vec![pack])
                .map_err(|error| ApiError::invalid(error.to_string()))?;
            (Arc::new(rules), BTreeMap::new())
        }
        None => {
            let status = status(&state).await?;
            (status.rule_set, status.enabled)
        }
    };
    // A point outside the caller's scope looks missing, as in the point routes.
    let point = state
        .store
        .point(&mn)
        .await?
        .filter(|point| principal.scope().contains_point(&point.mn, &point.area));
    let Some(point) = point else {
        return Err(ApiError::not_found(format!(
            "monitoring point {mn} not found"
        )));
    };
    let config = EngineConfig {
        time_zone: state.time_zone.clone(),
        ..EngineConfig::default()
    };
    let mut run = Backtest::new(rules, config);
    run.set_switches(switches);
    let mut query = ReadingQuery {
        mn,
        factor: None,
        kind: None,
        from,
        to,
        order: SortOrder::Ascending,
        limit: 10_000,
        cursor: None,
    };
    let mut readings = 0;
    loop {
        let page = state.store.readings(&query).await?;
        readings += page.items.len() as u64;
        run.feed(&point, &page.items);
        match page.next_cursor {
            Some(cursor) if readings < BACKTEST_READINGS => query.cursor = Some(cursor),
            _ => break,
        }
    }
    let errors = run.errors().clone();
    Ok(Json(BacktestResult {
        readings,
        alerts: run.finish(),
        errors,
    }))
}
