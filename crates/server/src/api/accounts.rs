//! Administration of accounts, departments and API tokens, and the
//! authentication log.
//!
//! A system administrator manages everything. A department administrator
//! manages only staff, inspectors and regulated parties of their own
//! department's jurisdiction, and can never grant a role above their own.

use axum::Extension;
use axum::Json;
use axum::http::StatusCode;
use jiff::SignedDuration;
use oversight_auth::secret::{self, API_TOKEN_PREFIX};
use oversight_auth::{Action, Principal, Role, password};
use oversight_core::{AreaCode, Mn, Secret};
use oversight_store::{
    ApiToken, AuthEvent, Department, NewApiToken, NewDepartment, NewUser, User, UserUpdate,
};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::params::{ApiJson, ApiPath, ApiQuery};
use super::session::UserView;
use crate::auth::{ClientAddress, audit_context};
use crate::error::ApiError;

/// Checks that `principal` may manage the account `user` as it is, or would
/// be after a change.
fn check_manages(
    principal: &Principal,
    user_role: Role,
    department: Option<i64>,
    points: &[Mn],
) -> Result<(), ApiError> {
    principal.require(Action::ManageUsers)?;
    if principal.role == Role::SystemAdmin {
        return Ok(());
    }
    let allowed = match user_role {
        Role::DepartmentStaff | Role::Inspector => {
            department.is_some() && department == principal.department_id
        }
        Role::RegulatedParty => !points.is_empty(),
        Role::SystemAdmin | Role::DepartmentAdmin | Role::Public => false,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{} {:?} may manage only staff, inspectors and regulated parties of their own \
         department: ask a system administrator",
        principal.role, principal.username
    )))
}

/// Checks that every point a regulated party is given lies in the principal's scope.
async fn check_points(
    state: &SharedState,
    principal: &Principal,
    points: &[Mn],
) -> Result<(), ApiError> {
    for mn in points {
        let Some(point) = state.store.point(mn).await? else {
            return Err(ApiError::not_found(format!(
                "monitoring point {mn} not found; register it before assigning it"
            )));
        };
        principal.require_point(Action::ManageUsers, mn, &point.area)?;
    }
    Ok(())
}

/// Checks that `principal` may manage the stored account `user`. A
/// department administrator manages a regulated party only when every one of
/// its points lies in the department's jurisdiction.
async fn check_manages_user(
    state: &SharedState,
    principal: &Principal,
    user: &User,
) -> Result<(), ApiError> {
    check_manages(principal, user.role, user.department_id, &user.points)?;
    if principal.role != Role::SystemAdmin && user.role == Role::RegulatedParty {
        check_points(state, principal, &user.points).await?;
    }
    Ok(())
}

async fn user_for(state: &SharedState, principal: &Principal, id: i64) -> Result<User, ApiError> {
    let user = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
    check_manages_user(state, principal, &user).await?;
    Ok(user)
}

/// Lists the accounts the caller manages.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "auth",
    responses(
        (status = "2XX", description = "Accounts.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list_users(
    state: SharedState,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    principal.require(Action::ManageUsers)?;
    let users = state.store.users().await?;
    let mut visible = Vec::new();
    for user in users {
        if check_manages_user(&state, &principal, &user).await.is_ok() {
            visible.push(UserView::from(user));
        }
    }
    Ok(Json(visible))
}

/// Returns one account.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "auth",
    params(("id" = i64, Path, description = "The record's id.")),
    responses(
        (status = "2XX", description = "One account.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn get_user(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(user_for(&state, &principal, id).await?.into()))
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    password: Secret<String>,
    role: Role,
    #[serde(default)]
    department_id: Option<i64>,
    #[serde(default)]
    points: Vec<Mn>,
}

async fn hash_password(state: &SharedState, password: Secret<String>) -> Result<String, ApiError> {
    let _permit = state.login_gate.hashing_permit().await;
    tokio::task::spawn_blocking(move || password::hash(password.expose()))
        .await
        .map_err(|error| ApiError::internal(format!("password hashing failed: {error}")))?
        .map_err(|error| match error {
            password::PasswordError::Policy(_) => ApiError::invalid(error.to_string()),
            other => ApiError::internal(other.to_string()),
        })
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "auth",
    request_body = super::openapi::JsonValue,
    responses(
        (status = "2XX", description = "The new account.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn create_user(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    check_manages(&principal, body.role, body.department_id, &body.points)?;
    check_points(&state, &principal, &body.points).await?;
    let password_hash = hash_password(&state, body.password).await?;
    let new = NewUser {
        display_name: body.display_name.unwrap_or_else(|| body.username.clone()),
        username: body.username,
        role: body.role,
        department_id: body.department_id,
        points: body.points,
        password_hash,
    };
    let audit = audit_context(&state, &principal, address);
    let user = state.store.create_user(&new, &audit).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The body of `PATCH /users/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserPatch {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default, with = "double_option")]
    department_id: Option<Option<i64>>,
    #[serde(default)]
    points: Option<Vec<Mn>>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// Tells a missing field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// Changes an account's name, role, department, points or status.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "auth",
    params(("id" = i64, Path, description = "The record's id.")),
    request_body = super::openapi::JsonValue,
    responses(
        (status = "2XX", description = "The changed account.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn update_user(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let current = user_for(&state, &principal, id).await?;
    let role = body.role.unwrap_or(current.role);
    let department = body.department_id.unwrap_or(current.department_id);
    let points = body
        .points
        .clone()
        .unwrap_or_else(|| current.points.clone());
    check_manages(&principal, role, department, &points)?;
    if let Some(points) = &body.points {
        check_points(&state, &principal, points).await?;
    }
    let changes_own_access = body.role.is_some_and(|role| role != current.role)
        || body.disabled == Some(true)
        || body
            .department_id
            .is_some_and(|department| department != current.department_id);
    if principal.user_id == Some(id) && changes_own_access {
        return Err(ApiError::forbidden(
            "an account cannot change its own role, department or status: ask another \
             administrator",
        ));
    }

    let update = UserUpdate {
        display_name: body.display_name,
        role: body.role,
        department_id: body.department_id,
        points: body.points,
        disabled: body.disabled,
    };
    let audit = audit_context(&state, &principal, address);
    let user = state.store.update_user(id, &update, &audit).await?;
    Ok(Json(user.into()))
}

/// The body of `POST /users/{id}/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordBody {
    #[schema(value_type = String)]
    password: Secret<String>,
}

/// Sets an account's password, ends its sessions and revokes its API tokens.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/password",
    tag = "auth",
    params(("id" = i64, Path, description = "The record's id.")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "The password has been set."),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn set_password(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    user_for(&state, &principal, id).await?;
    let hash = hash_password(&state, body.password).await?;
    let audit = audit_context(&state, &principal, address);
    state.store.set_password_hash(id, &hash, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- departments -------------------------------------------------------------

/// Lists departments: all for a system administrator, their own for a
/// department administrator.
#[utoipa::path(
    get,
    path = "/api/v1/departments",
    tag = "auth",
    responses(
        (status = "2XX", description = "Departments.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list_departments(
    state: SharedState,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<Department>>, ApiError> {
    principal.require(Action::ManageUsers)?;
    let departments = state.store.departments().await?;
    let visible = departments
        .into_iter()
        .filter(|department| {
            principal.may(Action::ManageDepartments)
                || principal.department_id == Some(department.id)
        })
        .collect();
    Ok(Json(visible))
}

/// The body of `POST /departments` and `PUT /departments/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DepartmentBody {
    name: String,
    areas: Vec<AreaCode>,
    #[serde(default)]
    categories: Vec<String>,
}

impl From<DepartmentBody> for NewDepartment {
    fn from(body: DepartmentBody) -> Self {
        Self {
            name: body.name,
            areas: body.areas,
            categories: body.categories,
        }
    }
}

/// Creates a department with its jurisdiction.
#[utoipa::path(
    post,
    path = "/api/v1/departments",
    tag = "auth",
    request_body = super::openapi::JsonValue,
    responses(
        (status = "2XX", description = "The new department.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn create_department(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    principal.require(Action::ManageDepartments)?;
    let audit = audit_context(&state, &principal, address);
    let department = state.store.create_department(&body.into(), &audit).await?;
    Ok((StatusCode::CREATED, Json(department)))
}

/// Replaces a department's name, jurisdiction and categories.
#[utoipa::path(
    put,
    path = "/api/v1/departments/{id}",
    tag = "auth",
    params(("id" = i64, Path, description = "The record's id.")),
    request_body = super::openapi::JsonValue,
    responses(
        (status = "2XX", description = "The changed department.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn update_department(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> Result<Json<Department>, ApiError> {
    principal.require(Action::ManageDepartments)?;
    let audit = audit_context(&state, &principal, address);
    let department = state
        .store
        .update_department(id, &body.into(), &audit)
        .await?;
    Ok(Json(department))
}

// --- API tokens --------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TokenListParams {
    all: Option<bool>,
}

/// Lists the caller's API tokens, or every token for a system administrator with `all=true`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/tokens",
    tag = "auth",
    params(TokenListParams),
    responses(
        (status = "2XX", description = "API tokens.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list_tokens(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<TokenListParams>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    let owner = if params.all.unwrap_or(false) {
        principal.require(Action::ReadAuditLog)?;
        None
    } else {
        principal.user_id
    };
    Ok(Json(state.store.tokens(owner).await?))
}

/// The body of `POST /auth/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTokenBody {
    name: String,
    expires_in_days: u32,
    #[serde(default)]
    actions: Vec<Action>,
}

/// A created token: the secret is in this response only.
#[derive(Debug, Serialize)]
pub(super) struct CreatedToken {
    /// Send as `Authorization: Bearer <token>`; it is not stored and cannot be shown again.
    token: String,
    #[serde(flatten)]
    record: ApiToken,
}

/// Creates an API token for the caller, limited to `actions` when given.
#[utoipa::path(
    post,
    path = "/api/v1/auth/tokens",
    tag = "auth",
    request_body = super::openapi::JsonValue,
    responses(
        (status = "2XX", description = "The new token with its secret.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn create_token(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    let user_id = principal
        .user_id
        .ok_or_else(|| ApiError::unauthorized("log in first"))?;
    let max_days = state.auth.max_token_days.max(1);
    if body.expires_in_days == 0 || body.expires_in_days > max_days {
        return Err(ApiError::invalid_param(
            "expires_in_days",
            &body.expires_in_days.to_string(),
            &format!("expected a whole number of days from 1 to {max_days}"),
        ));
    }

    for action in &body.actions {
        principal.require(*action)?;
    }
    // A token created with a limited token is limited to at most the same actions.
    let actions = if body.actions.is_empty() {
        principal.token_actions.clone()
    } else {
        body.actions
    };

    let secret = secret::generate(API_TOKEN_PREFIX)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let audit = audit_context(&state, &principal, address);
    let now = audit.at;
    let expires_at = now
        .checked_add(SignedDuration::from_hours(
            24 * i64::from(body.expires_in_days),
        ))
        .map_err(|error| ApiError::internal(format!("token expiry out of range: {error}")))?;
    let new = NewApiToken {
        user_id,
        name: body.name,
        digest: secret.digest,
        actions,
        created_at: now,
        expires_at,
    };
    let record = state.store.create_token(&new, &audit).await?;
    let created = CreatedToken {
        token: secret.value,
        record,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes one of the caller's tokens, or any token for a system administrator.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/tokens/{id}",
    tag = "auth",
    params(("id" = i64, Path, description = "The record's id.")),
    responses(
        (status = "2XX", description = "The revoked token.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn revoke_token(
    state: SharedState,
    ClientAddress(address): ClientAddress,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ApiToken>, ApiError> {
    principal.require(Action::ManageOwnAccount)?;
    let owner = if principal.may(Action::ReadAuditLog) {
        None
    } else {
        principal.user_id
    };
    let visible = state.store.tokens(owner).await?;
    if !visible.iter().any(|token| token.id == id) {
        return Err(ApiError::not_found(format!(
            "API token {id} not found among your tokens"
        )));
    }
    let audit = audit_context(&state, &principal, address);
    let token = state.store.revoke_token(id, &audit).await?;
    Ok(Json(token))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventParams {
    limit: Option<String>,
}

/// Returns the latest authentication events, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/events",
    tag = "auth",
    params(EventParams),
    responses(
        (status = "2XX", description = "Login and account events, newest first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, unauthenticated, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn events(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<Vec<AuthEvent>>, ApiError> {
    principal.require(Action::ReadAuditLog)?;
    let limit = super::params::parse_limit(params.limit.as_deref(), super::params::LIST_PAGE)?;
    Ok(Json(state.store.auth_events(limit).await?))
}
