//! Who sees which supervision tasks, and which task role a session acts in.
//!
//! An account sees the tasks of its scope: every task for a system
//! administrator, the tasks located in the department's jurisdiction for
//! department roles, and the tasks about its own monitoring points for a
//! regulated party. A task outside the scope answers 404, like a missing one.
//!
//! The acting person of every task operation is the logged-in account. Its
//! account role grants task roles (see [`task_roles`]), and its department
//! is the task department whose name equals the account department's name.

use oversight_auth::{Principal, Role, Scope};
use oversight_core::AreaCode;
use oversight_store::TaskQuery;
use oversight_tasks::{Actor, DepartmentId, PersonId, Role as TaskRole, SubjectId, Task, TaskId};

use super::AppState;
use super::access::scoped_areas;
use crate::error::ApiError;

/// Returns the task roles an account role may act in, in the order a role is
/// picked when the request names none.
pub(crate) fn task_roles(role: Role) -> &'static [TaskRole] {
    match role {
        Role::SystemAdmin | Role::DepartmentAdmin => &[
            TaskRole::Dispatcher,
            TaskRole::Reviewer,
            TaskRole::Supervisor,
            TaskRole::DepartmentStaff,
        ],
        Role::DepartmentStaff | Role::Inspector => &[TaskRole::DepartmentStaff],
        Role::RegulatedParty | Role::Public => &[],
    }
}

/// Returns true if the principal's scope contains the task.
pub(crate) fn task_visible(principal: &Principal, task: &Task) -> bool {
    match principal.scope() {
        Scope::Points(points) => task
            .subject
            .as_ref()
            .is_some_and(|subject| points.iter().any(|mn| mn.as_str() == subject.as_str())),
        scope => scope.contains_area(&task.area),
    }
}

/// Returns the 404 error of a task that is missing or outside the scope.
pub(crate) fn task_not_found(id: &TaskId) -> ApiError {
    ApiError::not_found(format!(
        "task {id} not found; list tasks with GET /api/v1/tasks"
    ))
}

/// Narrows a task query to the principal's scope.
pub(crate) fn scope_task_query(
    principal: &Principal,
    query: &mut TaskQuery,
) -> Result<(), ApiError> {
    match principal.scope() {
        Scope::All => {}
        Scope::Areas(_) => query.areas = scoped_areas(principal, requested_area(query)?)?,
        Scope::Points(points) => {
            let subjects = points
                .iter()
                .filter_map(|mn| SubjectId::parse(mn.as_str()).ok())
                .collect();
            query.subjects = Some(subjects);
        }
        Scope::Nothing => {
            return Err(ApiError::forbidden(format!(
                "{} {:?} has no area or point in scope, so it sees no task",
                principal.role, principal.username
            )));
        }
    }
    Ok(())
}

/// Returns the area named by a task query built from request parameters, if any.
fn requested_area(query: &mut TaskQuery) -> Result<Option<AreaCode>, ApiError> {
    match query.areas.take() {
        None => Ok(None),
        Some(areas) => match <[AreaCode; 1]>::try_from(areas) {
            Ok([area]) => Ok(Some(area)),
            Err(areas) => Err(ApiError::invalid(format!(
                "a task query names {} areas; pass at most one area=",
                areas.len()
            ))),
        },
    }
}

/// Builds the task actor of the logged-in account for an operation that
/// `allowed` task roles may perform. `requested` picks one of the account's
/// task roles; without it, the first of them that `allowed` contains is used.
pub(crate) async fn session_actor(
    state: &AppState,
    principal: &Principal,
    allowed: &[TaskRole],
    requested: Option<TaskRole>,
) -> Result<Actor, ApiError> {
    let granted = task_roles(principal.role);
    let role = match requested {
        Some(role) if granted.contains(&role) => role,
        Some(role) => {
            return Err(ApiError::forbidden(format!(
                "{} {:?} may not act as task role {}: its task roles are {}",
                principal.role,
                principal.username,
                role.as_str(),
                role_list(granted)
            )));
        }
        None => granted
            .iter()
            .copied()
            .find(|role| allowed.contains(role))
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "{} {:?} may not do this: it needs task role {}, and the account's task \
                     roles are {}",
                    principal.role,
                    principal.username,
                    role_list(allowed),
                    role_list(granted)
                ))
            })?,
    };
    let person = PersonId::parse(&principal.username).map_err(|error| {
        ApiError::invalid(format!(
            "login name {:?} is not a valid task person id: {error}",
            principal.username
        ))
    })?;
    Ok(Actor {
        person,
        role,
        department: task_department(state, principal).await?,
    })
}

/// Returns the task department of the principal's account department: the
/// configured task department with the same name, if any.
pub(crate) async fn task_department(
    state: &AppState,
    principal: &Principal,
) -> Result<Option<DepartmentId>, ApiError> {
    let Some(id) = principal.department_id else {
        return Ok(None);
    };
    let Some(department) = state.store.department(id).await? else {
        return Ok(None);
    };
    let Some(tasks) = state.tasks.as_ref() else {
        return Ok(None);
    };
    Ok(tasks
        .engine()
        .directory()
        .departments()
        .find(|candidate| candidate.name == department.name)
        .map(|candidate| candidate.id.clone()))
}

fn role_list(roles: &[TaskRole]) -> String {
    if roles.is_empty() {
        return "none".to_owned();
    }
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
