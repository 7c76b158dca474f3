//! Silences (maintenance windows): alerts they cover are stored and shown
//! as usual, but their events carry a suppression so that no notification
//! is sent.

use axum::{Extension, Json};
use jiff::{SignedDuration, Timestamp};
use oversight_auth::{Principal, Scope};
use oversight_store::{NewSilence, Silence, SilenceMatcher};
use serde::Deserialize;

use super::SharedState;
use super::access::{acting_user, visible_alert};
use super::params::{ApiJson, ApiPath, ApiQuery, parse_area_code, parse_mn, parse_timestamp};
use crate::error::ApiError;

/// The longest silence, so that a forgotten one cannot hide alerts for ever.
const MAX_SILENCE: SignedDuration = SignedDuration::from_hours(24 * 31);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    all: Option<bool>,
}

/// Lists the silences in force or still to come, or all with `all=true`.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "silences",
    params(ListParams),
    responses(
        (status = 200, description = "Silences in force or to come.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let after = (!params.all.unwrap_or(false)).then(|| state.clock.now());
    let mut visible = Vec::new();
    for silence in state.store.silences(after).await? {
        if matcher_in_scope(&state, &principal, &silence.matcher).await? {
            visible.push(silence);
        }
    }
    Ok(Json(visible))
}

/// The body of `POST /silences`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SilenceBody {
    #[serde(default)]
    mn: Option<String>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    starts_at: Option<String>,
    ends_at: String,
    /// The creator's login name, which must be the signed-in account's.
    #[serde(default)]
    created_by: Option<String>,
    comment: String,
}

impl SilenceBody {
    /// Checks the body and returns the silence, created by `created_by`.
    fn into_silence(self, now: Timestamp, created_by: String) -> Result<NewSilence, ApiError> {
        let matcher = SilenceMatcher {
            mn: self.mn.as_deref().map(parse_mn).transpose()?,
            area: self
                .area
                .as_deref()
                .map(|area| parse_area_code("area", area))
                .transpose()?,
            rule_id: self.rule_id.filter(|rule| !rule.trim().is_empty()),
        };
        if matcher == SilenceMatcher::default() {
            return Err(ApiError::invalid(
                "a silence needs at least one of mn, area or rule_id; it would silence everything",
            ));
        }
        let starts_at = match self.starts_at.as_deref() {
            Some(value) => parse_timestamp("starts_at", value)?,
            None => now,
        };
        let ends_at = parse_timestamp("ends_at", &self.ends_at)?;
        if ends_at <= starts_at || ends_at <= now {
            return Err(ApiError::invalid_param(
                "ends_at",
                &self.ends_at,
                "must be after starts_at and in the future",
            ));
        }
        if ends_at.duration_since(starts_at) > MAX_SILENCE {
            return Err(ApiError::invalid_param(
                "ends_at",
                &self.ends_at,
                "a silence lasts at most 31 days",
            ));
        }
        if self.comment.trim().is_empty() {
            return Err(ApiError::invalid(
                "missing comment: say why the alerts are silenced, such as \"analyser maintenance\"",
            ));
        }
        Ok(NewSilence {
            matcher,
            starts_at,
            ends_at,
            created_by,
            comment: self.comment.trim().to_owned(),
        })
    }
}

/// Creates a silence.
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    tag = "silences",
    request_body = SilenceBody,
    responses(
        (status = 200, description = "The new silence.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn create(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<SilenceBody>,
) -> Result<Json<Silence>, ApiError> {
    let created_by = acting_user(&principal, "created_by", body.created_by.as_deref())?;
    let silence = body.into_silence(state.clock.now(), created_by)?;
    check_matcher_scope(&state, &principal, &silence.matcher).await?;
    let created = state.store.create_silence(&silence).await?;
    if let Some(rules) = &state.rules {
        rules.silences_changed().await;
    }
    Ok(Json(created))
}

/// Checks that a silence matches only alerts in the principal's scope.
async fn check_matcher_scope(
    state: &SharedState,
    principal: &Principal,
    matcher: &SilenceMatcher,
) -> Result<(), ApiError> {
    if matcher_in_scope(state, principal, matcher).await? {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{} {:?} may silence only points or areas in their jurisdiction: set mn or area",
        principal.role, principal.username
    )))
}

/// Returns true if a silence matches only alerts in the principal's scope:
/// it names one of the scope's points, or an area inside its jurisdiction.
/// A silence of a rule on every area needs a scope of everything.
async fn matcher_in_scope(
    state: &SharedState,
    principal: &Principal,
    matcher: &SilenceMatcher,
) -> Result<bool, ApiError> {
    if *principal.scope() == Scope::All {
        return Ok(true);
    }
    if let Some(mn) = &matcher.mn {
        let area = state.store.point(mn).await?.map(|point| point.area);
        if area.is_some_and(|area| principal.scope().contains_point(mn, &area)) {
            return Ok(true);
        }
    }
    Ok(matcher
        .area
        .as_ref()
        .is_some_and(|area| principal.scope().contains_area(area)))
}

/// The body of `POST /alerts/{id}/silence`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AlertSilenceBody {
    ends_at: String,
    /// The creator's login name, which must be the signed-in account's.
    #[serde(default)]
    created_by: Option<String>,
    comment: String,
}

/// Silences the rule of one alert on its point.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/silence",
    tag = "silences",
    params(("id" = String, Path, description = "The record's id.")),
    request_body = AlertSilenceBody,
    responses(
        (status = 200, description = "The silence of the alert's rule on its point.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn for_alert(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AlertSilenceBody>,
) -> Result<Json<Silence>, ApiError> {
    let Ok(number) = id.trim().parse::<i64>() else {
        return Err(ApiError::invalid_param(
            "id",
            &id,
            "expected an alert id, a whole number",
        ));
    };
    let alert = visible_alert(&state, &principal, oversight_core::AlertId(number)).await?;
    let body = SilenceBody {
        mn: Some(alert.mn.to_string()),
        area: None,
        rule_id: Some(alert.rule_id),
        starts_at: None,
        ends_at: body.ends_at,
        created_by: body.created_by,
        comment: body.comment,
    };
    create(state, Extension(principal), ApiJson(body)).await
}

/// Ends a silence now.
#[utoipa::path(
    post,
    path = "/api/v1/silences/{id}/expire",
    tag = "silences",
    params(("id" = String, Path, description = "The record's id.")),
    responses(
        (status = 200, description = "The ended silence.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn expire(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Silence>, ApiError> {
    let Ok(number) = id.trim().parse::<i64>() else {
        return Err(ApiError::invalid_param(
            "id",
            &id,
            "expected a silence id, a whole number",
        ));
    };
    // A silence outside the scope returns 404, as a missing one does.
    let current = state
        .store
        .silences(None)
        .await?
        .into_iter()
        .find(|silence| silence.id == number);
    let visible = match current {
        Some(silence) => matcher_in_scope(&state, &principal, &silence.matcher).await?,
        None => false,
    };
    if !visible {
        return Err(ApiError::not_found(format!(
            "silence {number} not found; list silences with GET /api/v1/silences?all=true"
        )));
    }
    let silence = state
        .store
        .expire_silence(number, state.clock.now())
        .await?;
    if let Some(rules) = &state.rules {
        rules.silences_changed().await;
    }
    Ok(Json(silence))
}
