//! `GET /api/v1/subjects/{subject}/outcomes`: the outcome records of a
//! subject's closed supervision tasks.
//!
//! The records are scoped like the tasks they come from: a department role
//! reads the records of tasks located in its jurisdiction, and a regulated
//! party reads the records of its own monitoring points only. A subject
//! outside a point scope returns 404, like a missing one.

use axum::{Extension, Json};
use oversight_auth::{Principal, Scope};
use oversight_tasks::{OutcomeRecord, SubjectId};
use serde::Serialize;

use super::SharedState;
use super::params::ApiPath;
use crate::error::ApiError;

/// The outcome records of one subject, oldest first.
#[derive(Debug, Serialize)]
pub(super) struct SubjectOutcomes {
    subject: SubjectId,
    items: Vec<OutcomeRecord>,
}

/// Returns the outcome records of a subject's closed tasks in the caller's scope.
#[utoipa::path(
    get,
    path = "/api/v1/subjects/{subject}/outcomes",
    tag = "tasks",
    params(("subject" = String, Path, description = "The supervised subject, such as a monitoring point's MN or a unified social credit code.")),
    responses(
        (status = 200, description = "The subject and the outcome records of its closed tasks in scope, oldest first: task, area, item, kind, violation, decided_by, decided_at and closed_at.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(subject): ApiPath<String>,
) -> Result<Json<SubjectOutcomes>, ApiError> {
    let subject = SubjectId::parse(&subject).map_err(|error| {
        ApiError::invalid_param(
            "subject",
            &subject,
            &format!("{error}; pass the subject a task names, such as a monitoring point's MN"),
        )
    })?;
    let scope = principal.scope();
    match scope {
        Scope::Nothing => {
            return Err(ApiError::forbidden(format!(
                "{} {:?} has no area or point in scope, so it may read no outcome record",
                principal.role, principal.username
            )));
        }
        Scope::Points(points) if !points.iter().any(|mn| mn.as_str() == subject.as_str()) => {
            return Err(ApiError::not_found(format!(
                "subject {subject} not found in your points; list your tasks with \
                 GET /api/v1/tasks"
            )));
        }
        _ => {}
    }
    let items = state
        .store
        .outcome_records(&subject)
        .await?
        .into_iter()
        .filter(|record| match scope {
            Scope::Areas(_) => scope.contains_area(&record.area),
            _ => true,
        })
        .collect();
    Ok(Json(SubjectOutcomes { subject, items }))
}
