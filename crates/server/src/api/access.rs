//! The access rule of each API route, and the layer that enforces it.
//!
//! [`ROUTE_ACCESS`] lists every route of [`super::router`] with its
//! [`Access`]. The [`authorize`] layer looks the matched route up and
//! rejects a request without credentials with 401 and one whose principal
//! may not take the action with 403, before the handler runs. A route missing
//! from the table is rejected for everyone, so a new route cannot be left
//! open by mistake. Handlers then narrow their queries to the principal's
//! scope (see [`scoped_areas`]).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oversight_auth::{Action, Principal, Role, Scope};
use oversight_core::{Alert, AlertId, AreaCode, Mn};

use super::AppState;
use crate::error::ApiError;

/// The prefix the API router is nested under.
pub(crate) const API_PREFIX: &str = "/api/v1";

/// The credentials and action a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, without credentials.
    Public,
    /// An account whose role (and token) permits this action.
    Requires(Action),
}

use Access::{Public, Requires};
use Action as A;

/// Every API route: method, path below [`API_PREFIX`] as in the router, access.
pub(crate) const ROUTE_ACCESS: &[(&str, &str, Access)] = &[
    ("GET", "/health", Public),
    ("GET", "/openapi.json", Public),
    ("GET", "/summary", Requires(A::ReadMonitoring)),
    ("GET", "/areas", Requires(A::ReadMonitoring)),
    ("GET", "/areas/{code}", Requires(A::ReadMonitoring)),
    ("GET", "/points", Requires(A::ReadMonitoring)),
    ("POST", "/points", Requires(A::ManagePoints)),
    ("GET", "/points/{mn}", Requires(A::ReadMonitoring)),
    ("GET", "/points/{mn}/readings", Requires(A::ReadMonitoring)),
    ("GET", "/points/{mn}/revisions", Requires(A::ReadMonitoring)),
    ("POST", "/points/{mn}/password", Requires(A::ManagePoints)),
    ("GET", "/alerts", Requires(A::ReadMonitoring)),
    ("GET", "/alerts/{id}", Requires(A::ReadMonitoring)),
    (
        "POST",
        "/alerts/{id}/acknowledge",
        Requires(A::HandleAlerts),
    ),
    ("POST", "/alerts/{id}/resolve", Requires(A::HandleAlerts)),
    ("POST", "/alerts/{id}/silence", Requires(A::HandleAlerts)),
    ("GET", "/silences", Requires(A::ReadRules)),
    ("POST", "/silences", Requires(A::ManageSilences)),
    ("POST", "/silences/{id}/expire", Requires(A::ManageSilences)),
    ("GET", "/rules", Requires(A::ReadRules)),
    ("GET", "/rules/changes", Requires(A::ReadRules)),
    ("POST", "/rules/reload", Requires(A::ManageRules)),
    ("POST", "/rules/backtest", Requires(A::ReadRules)),
    ("GET", "/rules/{id}", Requires(A::ReadRules)),
    ("POST", "/rules/{id}/enable", Requires(A::ManageRules)),
    ("POST", "/rules/{id}/disable", Requires(A::ManageRules)),
    // Delivery status: every notification for a system administrator, the
    // department's recipients for a department administrator.
    ("GET", "/notifications", Requires(A::ManageNotifications)),
    (
        "GET",
        "/notifications/{id}",
        Requires(A::ManageNotifications),
    ),
    (
        "POST",
        "/notifications/{id}/retry",
        Requires(A::ManageNotifications),
    ),
    // The inbox: the caller's own notifications and the department's.
    ("GET", "/inbox", Requires(A::ReadInbox)),
    ("POST", "/inbox/read", Requires(A::ReadInbox)),
    ("GET", "/tasks", Requires(A::ReadTasks)),
    ("POST", "/tasks", Requires(A::HandleTasks)),
    ("GET", "/tasks/export.csv", Requires(A::ReadTasks)),
    ("GET", "/tasks/export.xlsx", Requires(A::ReadTasks)),
    ("GET", "/tasks/{id}", Requires(A::ReadTasks)),
    (
        "POST",
        "/tasks/{id}/actions/{action}",
        Requires(A::HandleTasks),
    ),
    ("POST", "/tasks/{id}/evidence", Requires(A::HandleTasks)),
    (
        "GET",
        "/tasks/{id}/evidence/{sha256}",
        Requires(A::ReadTasks),
    ),
    (
        "GET",
        "/subjects/{subject}/outcomes",
        Requires(A::ReadTasks),
    ),
    ("GET", "/quarantine", Requires(A::ManageQuarantine)),
    ("GET", "/quarantine/{mn}", Requires(A::ManageQuarantine)),
    ("DELETE", "/quarantine/{mn}", Requires(A::ManageQuarantine)),
    (
        "POST",
        "/quarantine/{mn}/release",
        Requires(A::ManageQuarantine),
    ),
    ("POST", "/auth/login", Public),
    ("GET", "/auth/oidc/login", Public),
    ("GET", "/auth/oidc/callback", Public),
    ("POST", "/auth/logout", Requires(A::ManageOwnAccount)),
    ("GET", "/auth/me", Requires(A::ManageOwnAccount)),
    ("POST", "/auth/totp", Requires(A::ManageOwnAccount)),
    ("POST", "/auth/totp/confirm", Requires(A::ManageOwnAccount)),
    ("POST", "/auth/totp/disable", Requires(A::ManageOwnAccount)),
    ("GET", "/auth/tokens", Requires(A::ManageOwnAccount)),
    ("POST", "/auth/tokens", Requires(A::ManageOwnAccount)),
    ("DELETE", "/auth/tokens/{id}", Requires(A::ManageOwnAccount)),
    ("GET", "/auth/events", Requires(A::ReadAuditLog)),
    ("GET", "/users", Requires(A::ManageUsers)),
    ("POST", "/users", Requires(A::ManageUsers)),
    ("GET", "/users/{id}", Requires(A::ManageUsers)),
    ("PATCH", "/users/{id}", Requires(A::ManageUsers)),
    ("POST", "/users/{id}/password", Requires(A::ManageUsers)),
    ("GET", "/departments", Requires(A::ManageUsers)),
    ("POST", "/departments", Requires(A::ManageDepartments)),
    ("PUT", "/departments/{id}", Requires(A::ManageDepartments)),
    // Checkpoints, keys and proofs carry only hashes and signatures, and
    // outside verifiers and witnesses need them without an account. A
    // cosignature is checked against the configured witness keys.
    ("GET", "/ledger/checkpoint", Public),
    ("GET", "/ledger/checkpoints", Public),
    ("GET", "/ledger/key", Public),
    ("GET", "/ledger/proof/inclusion", Public),
    ("GET", "/ledger/proof/consistency", Public),
    ("POST", "/ledger/cosignature", Public),
    // Entries describe changes in every area.
    ("GET", "/ledger/entries", Requires(A::ReadAuditLog)),
    ("GET", "/ledger/entries/{index}", Requires(A::ReadAuditLog)),
];

/// Returns the access rule of a route, with HEAD treated as GET.
pub(crate) fn access(method: &Method, path: &str) -> Option<Access> {
    let method = if *method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let path = path.strip_prefix(API_PREFIX).unwrap_or(path);
    ROUTE_ACCESS
        .iter()
        .find(|(route_method, route_path, _)| *route_method == method && *route_path == path)
        .map(|(_, _, access)| *access)
}

/// Returns true if some method of the path has an access rule.
fn has_rule_for_path(path: &str) -> bool {
    let path = path.strip_prefix(API_PREFIX).unwrap_or(path);
    ROUTE_ACCESS
        .iter()
        .any(|(_, route_path, _)| *route_path == path)
}

/// Rejects a request whose principal may not use the matched route.
pub(crate) async fn authorize(
    State(_state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_default();
    let public = Principal::public();
    let principal = request.extensions().get::<Principal>().unwrap_or(&public);
    match access(request.method(), &path) {
        Some(Public) => next.run(request).await,
        Some(Requires(_)) if principal.role == Role::Public => ApiError::unauthorized(
            "this route needs a session or an API token: log in with POST /api/v1/auth/login \
             or send Authorization: Bearer <token>",
        )
        .into_response(),
        Some(Requires(action)) => match principal.require(action) {
            Ok(()) => next.run(request).await,
            Err(forbidden) => ApiError::from(forbidden).into_response(),
        },
        // A listed path with another method: the router returns 405.
        None if has_rule_for_path(&path) => next.run(request).await,
        None => {
            tracing::error!(method = %request.method(), path, "api route has no access rule");
            ApiError::forbidden(format!(
                "route {} {path} has no access rule; the server rejects it for everyone",
                request.method()
            ))
            .into_response()
        }
    }
}

/// Returns the areas that a list, export or count is limited to. That is the
/// requested area when the principal's scope contains it, and otherwise every
/// jurisdiction area of the principal that lies in the requested area, or all
/// of them without a request. `None` means every area, for a principal whose
/// scope is everything and who requested none. A regulated party's lists are
/// filtered by its points in the handlers.
pub(crate) fn scoped_areas(
    principal: &Principal,
    requested: Option<AreaCode>,
) -> Result<Option<Vec<AreaCode>>, ApiError> {
    let areas = match principal.scope() {
        Scope::All => return Ok(requested.map(|area| vec![area])),
        Scope::Areas(areas) => areas,
        Scope::Points(_) | Scope::Nothing => {
            return Err(ApiError::forbidden(format!(
                "{} {:?} has no area in scope; list your own points with GET /api/v1/points",
                principal.role, principal.username
            )));
        }
    };
    if let Some(area) = &requested
        && principal.scope().contains_area(area)
    {
        return Ok(Some(vec![area.clone()]));
    }
    let candidates: Vec<AreaCode> = areas
        .iter()
        .filter(|scope| requested.as_ref().is_none_or(|area| area.contains(scope)))
        .cloned()
        .collect();
    if candidates.is_empty() {
        let Some(requested) = requested else {
            return Err(ApiError::forbidden(format!(
                "the jurisdiction of {:?} has no area, so it sees nothing: ask a system \
                 administrator to give its department areas",
                principal.username
            )));
        };
        return Err(ApiError::forbidden(format!(
            "area {requested} is outside the jurisdiction of {:?}: use one of {}",
            principal.username,
            join(areas)
        )));
    }
    Ok(Some(candidates))
}

fn join(areas: &[AreaCode]) -> String {
    areas
        .iter()
        .map(AreaCode::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the point filter of a regulated party's list: the requested
/// point if it is one of its own, else its only point. `None` for other scopes.
pub(crate) fn scoped_point(
    principal: &Principal,
    requested: Option<Mn>,
) -> Result<Option<Mn>, ApiError> {
    let Scope::Points(points) = principal.scope() else {
        return Ok(requested);
    };
    match (requested, points.as_slice()) {
        (Some(mn), _) if points.contains(&mn) => Ok(Some(mn)),
        (Some(mn), _) => Err(ApiError::not_found(format!(
            "monitoring point {mn} not found"
        ))),
        (None, [only]) => Ok(Some(only.clone())),
        (None, _) => Err(ApiError::invalid(
            "this account owns several points: pass mn= one of them",
        )),
    }
}

/// Returns an alert if the principal's scope contains its point, and 404
/// otherwise, so that alerts outside the scope look like missing ones.
pub(crate) async fn visible_alert(
    state: &AppState,
    principal: &Principal,
    id: AlertId,
) -> Result<Alert, ApiError> {
    match state.store.alert(id).await? {
        Some(alert) if principal.scope().contains_point(&alert.mn, &alert.area) => Ok(alert),
        _ => Err(ApiError::not_found(format!(
            "alert {id} not found; list alerts with GET /api/v1/alerts"
        ))),
    }
}

/// Returns the login name to record as the actor of an action: always the
/// authenticated account. A request body may still name the actor in
/// `field`, but only as that account's own login name, so that nobody can
/// act under another person's name.
pub(crate) fn acting_user(
    principal: &Principal,
    field: &str,
    named: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(named) = named
        && named.trim() != principal.username
    {
        return Err(ApiError::invalid(format!(
            "invalid {field} {named:?}: it must be your own login name {:?}; leave {field} out \
             and the server records the signed-in account",
            principal.username
        )));
    }
    Ok(principal.username.clone())
}

/// Returns 403 unless the principal's scope is everything, because
/// quarantined uploads belong to no area yet.
pub(crate) fn require_everything(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if *principal.scope() == Scope::All {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{what} belongs to no area yet, so only a system administrator sees it"
    )))
}
