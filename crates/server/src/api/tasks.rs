//! Supervision tasks: create, list (inbox), get with history, one route per
//! action of the workflow, evidence upload and download.
//!
//! Every operation acts as the logged-in account (see [`super::task_access`]).
//! The engine then checks that the task role may perform the action and that
//! department staff act only on their own department's tasks.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::Timestamp;
use oversight_auth::{Action, Principal};
use oversight_core::personal::{Contact, Disclosure, disclosed, mask_text};
use oversight_store::{Page, TaskHistoryEntry, TaskQuery};
use oversight_tasks::{
    Assignee, Attachment, Category, Command, ContentDigest, DepartmentId, EvidenceKind,
    HashAlgorithm, NewTask, Origin, OutcomeInput, PersonId, Role as TaskRole, SubjectId, Task,
    TaskId, TransitionRecord, Workflow, active_deadline, is_overdue,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use super::SharedState;
use super::disclosure::{
    Disclosed, Viewer, disclosure_after_change, has_personal_data, record_full_view,
    record_has_personal_data,
};
use super::params::{ApiJson, ApiMultipart, ApiPath, ApiQuery, LIST_PAGE, parse_area, parse_limit};
use super::task_access::{scope_task_query, session_actor, task_not_found, task_visible};
use crate::error::ApiError;
use crate::tasks::{TaskService, TaskServiceError};

/// A task with what the server derives from it at the time of the request,
/// serialized with its personal data shown as the viewer may see it.
#[derive(Debug)]
pub(super) struct TaskView {
    fields: TaskFields,
    disclosure: Disclosure,
}

#[derive(Debug, Serialize)]
struct TaskFields {
    #[serde(flatten)]
    task: Task,
    /// The reporter's contact, which [`Task`] does not serialize.
    #[serde(skip_serializing_if = "Option::is_none")]
    reporter: Option<Contact>,
    /// True when the task has a reporter that this viewer may not see.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reporter_withheld: bool,
    /// The deadline of the clock that runs in the task's state.
    due_at: Option<Timestamp>,
    /// True when that deadline has passed.
    overdue: bool,
}

impl TaskView {
    pub(super) fn new(workflow: &Workflow, task: Task, now: Timestamp, viewer: &Viewer) -> Self {
        let reporter_withheld = viewer.withholds_reporter() && task.reporter.is_some();
        let reporter = if reporter_withheld {
            None
        } else {
            task.reporter.clone()
        };
        Self {
            disclosure: viewer.of_task(&task),
            fields: TaskFields {
                due_at: active_deadline(workflow, &task),
                overdue: is_overdue(workflow, &task, now),
                reporter,
                reporter_withheld,
                task,
            },
        }
    }

    /// Returns how the task's personal data is shown.
    pub(super) fn disclosure(&self) -> Disclosure {
        self.disclosure
    }

    /// Lowers the disclosure to `disclosure` when that one shows less.
    fn restrict(&mut self, disclosure: Disclosure) {
        if disclosure == Disclosure::Masked {
            self.disclosure = Disclosure::Masked;
        }
    }
}

impl Serialize for TaskView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        disclosed(self.disclosure, || self.fields.serialize(serializer))
    }
}

pub(super) fn service(state: &SharedState) -> Result<&TaskService, ApiError> {
    state
        .tasks
        .as_ref()
        .ok_or_else(|| ApiError::internal("the task service is not running in this process"))
}

pub(super) fn parse_task_id(value: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(value).map_err(|error| ApiError::invalid(error.to_string()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    department: Option<String>,
    assignee: Option<String>,
    state: Option<String>,
    area: Option<String>,
    category: Option<String>,
    overdue: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Parses `person:ID` or `group:NAME`.
fn parse_assignee(value: &str) -> Result<Assignee, ApiError> {
    let fix = "expected person:ID or group:NAME, such as person:li.wei";
    match value.split_once(':') {
        Some(("person", id)) => PersonId::parse(id)
            .map(Assignee::Person)
            .map_err(|_| ApiError::invalid_param("assignee", value, fix)),
        Some(("group", name)) if !name.trim().is_empty() => Ok(Assignee::Group(name.to_owned())),
        _ => Err(ApiError::invalid_param("assignee", value, fix)),
    }
}

impl ListParams {
    /// Builds the store query, narrowed to the principal's scope;
    /// `overdue=true` keeps tasks whose deadline passed by `now`.
    pub(super) fn scoped_query(
        &self,
        principal: &Principal,
        workflow: &Workflow,
        now: Timestamp,
    ) -> Result<TaskQuery, ApiError> {
        let mut query = self.query(workflow, now)?;
        scope_task_query(principal, &mut query)?;
        Ok(query)
    }

    fn query(&self, workflow: &Workflow, now: Timestamp) -> Result<TaskQuery, ApiError> {
        let states = match self.state.as_deref() {
            None | Some("open") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|state| {
                    let state = state.trim();
                    if workflow.state(state).is_some() {
                        Ok(state.to_owned())
                    } else {
                        let known: Vec<&str> =
                            workflow.states().iter().map(|s| s.name.as_str()).collect();
                        Err(ApiError::invalid_param(
                            "state",
                            state,
                            &format!("expected open or a list of {}", known.join(", ")),
                        ))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let due_before = match self.overdue.as_deref() {
            None | Some("false") => None,
            Some("true") => Some(now),
            Some(other) => {
                return Err(ApiError::invalid_param(
                    "overdue",
                    other,
                    "expected true or false",
                ));
            }
        };
        Ok(TaskQuery {
            department: self
                .department
                .as_deref()
                .map(|value| {
                    DepartmentId::parse(value).map_err(|error| ApiError::invalid(error.to_string()))
                })
                .transpose()?,
            assignee: self.assignee.as_deref().map(parse_assignee).transpose()?,
            states,
            areas: parse_area(self.area.as_deref())?.map(|area| vec![area]),
            subjects: None,
            category: self
                .category
                .as_deref()
                .map(|value| {
                    Category::parse(value).map_err(|error| ApiError::invalid(error.to_string()))
                })
                .transpose()?,
            due_before,
            limit: parse_limit(self.limit.as_deref(), LIST_PAGE)?,
            cursor: self.cursor.clone(),
        })
    }
}

/// Returns the task if the principal's scope contains it, and 404 otherwise.
async fn visible_task(
    service: &TaskService,
    principal: &Principal,
    id: &TaskId,
) -> Result<Task, ApiError> {
    match service.task(id).await {
        Ok(task) if task_visible(principal, &task) => Ok(task),
        Ok(_) | Err(TaskServiceError::NotFound(_)) => Err(task_not_found(id)),
        Err(error) => Err(error.into()),
    }
}

/// Returns a page of tasks in inbox order: overdue first, then by deadline.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the tasks in scope, overdue first.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn list(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<TaskView>>, ApiError> {
    let service = service(&state)?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let query = params.scoped_query(&principal, workflow, now)?;
    let viewer = Viewer::of(&state, &principal).await?;
    let page = state.store.tasks(&query).await?;
    let shown_in_full = page
        .items
        .iter()
        .filter(|task| viewer.of_task(task) == Disclosure::Full && has_personal_data(task))
        .map(|task| task.id.to_string())
        .collect();
    record_full_view(&state, &principal, "GET /api/v1/tasks", shown_in_full).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|task| TaskView::new(workflow, task, now, &viewer))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A task with its child tasks, history and the actions its state allows.
#[derive(Debug, Serialize)]
pub(super) struct TaskDetail {
    task: TaskView,
    children: Vec<TaskView>,
    /// Shown with the task's disclosure, because reasons and notes are
    /// personal data.
    history: Disclosed<Vec<HistoryView>>,
    allowed_actions: Vec<String>,
}

/// One step of a task's history with the ledger entry that records it.
#[derive(Debug, Serialize)]
pub(super) struct HistoryView {
    #[serde(flatten)]
    entry: TaskHistoryEntry,
    /// The canonical encoding of the step's ledger entry, the exact bytes its
    /// leaf hash covers, so that a client can check the step against an
    /// inclusion proof. None for steps older than the ledger, and for steps
    /// whose entry contains a phone or ID number when the viewer sees the
    /// task masked, because the leaf cannot be masked without breaking the
    /// proof.
    ledger_leaf: Option<String>,
}

/// Adds to each history step the canonical encoding of its ledger entry.
async fn history_views(
    state: &SharedState,
    history: Vec<TaskHistoryEntry>,
    disclosure: Disclosure,
) -> Result<Vec<HistoryView>, ApiError> {
    let mut views = Vec::with_capacity(history.len());
    for entry in history {
        let ledger_leaf = match entry.ledger_index {
            Some(index) => {
                let ledger_entry = state.store.ledger_entry(index).await?.ok_or_else(|| {
                    tracing::error!(index, task = %entry.record.task, "task step's ledger entry is missing");
                    ApiError::internal("a task step's ledger entry is missing; the server log has its index")
                })?;
                let leaf = String::from_utf8_lossy(&ledger_entry.leaf_data()).into_owned();
                let withheld =
                    disclosure == Disclosure::Masked && matches!(mask_text(&leaf), Cow::Owned(_));
                (!withheld).then_some(leaf)
            }
            None => None,
        };
        views.push(HistoryView { entry, ledger_leaf });
    }
    Ok(views)
}

/// Returns one task with its history.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    params(("id" = String, Path, description = "The task's id, such as T12.")),
    responses(
        (status = 200, description = "The task with its child tasks, history (with each step's ledger index) and allowed actions.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn one(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TaskDetail>, ApiError> {
    let service = service(&state)?;
    let task = visible_task(service, &principal, &parse_task_id(&id)?).await?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let viewer = Viewer::of(&state, &principal).await?;
    let disclosure = viewer.of_task(&task);
    let mut children = Vec::with_capacity(task.children.len());
    for child in &task.children {
        let child = service.task(child).await?;
        children.push(TaskView::new(workflow, child, now, &viewer));
    }
    let history = state.store.task_history(&task.id).await?;
    let personal = has_personal_data(&task)
        || history
            .iter()
            .any(|entry| record_has_personal_data(&entry.record));
    if disclosure == Disclosure::Full && personal {
        let route = "GET /api/v1/tasks/{id}";
        record_full_view(&state, &principal, route, vec![task.id.to_string()]).await?;
    }
    let history = Disclosed::new(
        history_views(&state, history, disclosure).await?,
        disclosure,
    );
    let allowed_actions = workflow
        .allowed_from(&task.state)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(Json(TaskDetail {
        task: TaskView::new(workflow, task, now, &viewer),
        children,
        history,
        allowed_actions,
    }))
}

/// The body of `POST /tasks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// The task role to act in, one of the account's; by default the first
    /// of them that may create tasks.
    #[schema(value_type = Option<String>)]
    role: Option<TaskRole>,
    /// The task's origin, such as `{"kind": "manual"}` (the default).
    #[serde(default = "manual_origin")]
    #[schema(value_type = Object)]
    origin: Origin,
    /// The supervised subject, such as a monitoring point's MN.
    #[schema(value_type = Option<String>)]
    subject: Option<SubjectId>,
    /// The area code of the task's location.
    area: String,
    /// The category, such as water or noise, which routing matches.
    #[schema(value_type = String)]
    category: Category,
    title: String,
    description: String,
    /// The lead department's id; by default the routing rules pick it.
    #[schema(value_type = Option<String>)]
    lead_department: Option<DepartmentId>,
    /// Co-operating departments, each of which gets a child task.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    co_departments: Vec<DepartmentId>,
    /// Notes, locations or on-site checks to attach at creation.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    evidence: Vec<EvidenceKind>,
    /// The reporter's contact, only with origin `public_report`:
    /// `{"name", "phone", "id_number"}`, the ID number optional.
    #[schema(value_type = Option<Object>)]
    reporter: Option<Contact>,
}

fn manual_origin() -> Origin {
    Origin::Manual
}

/// Rejects an origin that a client may not claim: a co-operation or re-check
/// origin, which only the task engine sets on the tasks it creates, or an alert
/// that does not exist or lies outside the caller's scope.
async fn check_origin(
    state: &SharedState,
    principal: &Principal,
    origin: &Origin,
) -> Result<(), ApiError> {
    match origin {
        Origin::CoOperation { .. } => Err(ApiError::invalid(
            "origin kind co_operation is set by the server on the child tasks of a task's \
             co_departments; name the co-operating departments in co_departments instead",
        )),
        Origin::Recheck { .. } => Err(ApiError::invalid(
            "origin kind recheck is set by the server when a task with a rectification \
             outcome closes; create the task with another origin, such as manual",
        )),
        Origin::Alert { alert_id } => {
            super::access::visible_alert(state, principal, *alert_id).await?;
            Ok(())
        }
        Origin::PublicReport { .. }
        | Origin::InspectionPlan { .. }
        | Origin::HigherAssignment { .. }
        | Origin::Manual => Ok(()),
    }
}

/// The new task and its child tasks.
#[derive(Debug, Serialize)]
pub(super) struct Created {
    task: TaskView,
    children: Vec<TaskView>,
}

/// Creates a task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "tasks",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new task and its child tasks.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn create(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let service = service(&state)?;
    let area = super::params::parse_area_code("area", &body.area)?;
    principal.require_area(Action::HandleTasks, &area)?;
    let create_roles = &service.engine().workflow().config().create_roles;
    let actor = session_actor(&state, &principal, create_roles, body.role).await?;
    if state.store.area(&area).await?.is_none() {
        return Err(ApiError::invalid(format!(
            "area {area} not found: import the area first (oversight import areas) or use an \
             existing code from GET /api/v1/areas"
        )));
    }
    check_origin(&state, &principal, &body.origin).await?;
    let created = service
        .create(
            |id| NewTask {
                id,
                origin: body.origin,
                subject: body.subject,
                area,
                category: body.category,
                title: body.title,
                description: body.description,
                lead_department: body.lead_department,
                co_departments: body.co_departments,
                evidence: body.evidence,
                reporter: body.reporter,
            },
            &actor,
        )
        .await?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let viewer = Viewer::of(&state, &principal).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            task: TaskView::new(workflow, created.lead.task, now, &viewer),
            children: created
                .children
                .into_iter()
                .map(|c| TaskView::new(workflow, c.task, now, &viewer))
                .collect(),
        }),
    ))
}

/// The body of `POST /tasks/{id}/actions/{action}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    /// The task role to act in, one of the account's; by default the first
    /// of them that the action allows.
    #[schema(value_type = Option<String>)]
    role: Option<TaskRole>,
    /// The version the client last read; the action fails if the task changed since.
    version: Option<u64>,
    /// Why, for the actions that require a reason.
    reason: Option<String>,
    /// The lead department, for dispatch when routing finds none.
    #[schema(value_type = Option<String>)]
    department: Option<DepartmentId>,
    /// `{"kind": "person", "id": LOGIN}` or `{"kind": "group", "id": NAME}`,
    /// for assign. A person must be an existing, enabled account.
    #[schema(value_type = Option<Object>)]
    assignee: Option<Assignee>,
    /// Working days requested, for request_extension.
    extension_working_days: Option<u32>,
    /// The outcome, for reply.
    #[schema(value_type = Option<Object>)]
    outcome: Option<OutcomeInput>,
    /// Evidence to attach with the action.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    evidence: Vec<EvidenceKind>,
}

/// The task after an action and the action's record.
#[derive(Debug, Serialize)]
pub(super) struct ActionResult {
    task: TaskView,
    /// Shown with the task's disclosure.
    record: Disclosed<TransitionRecord>,
    follow_ups: Vec<TaskId>,
}

/// Performs one action of the workflow on a task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/actions/{action}",
    tag = "tasks",
    params(
        ("id" = String, Path, description = "The task's id, such as T12."),
        ("action" = String, Path, description = "The workflow action, such as dispatch, sign or reply."),
    ),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The task after the action, the action's record and the follow-up tasks it created.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn act(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath((id, action)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<ActionResult>, ApiError> {
    let service = service(&state)?;
    let id = parse_task_id(&id)?;
    visible_task(service, &principal, &id).await?;
    // An unknown action gets the account's first task role, and the engine
    // rejects it with the list of actions.
    let allowed = service
        .engine()
        .workflow()
        .action(&action)
        .map_or(&TaskRole::ALL[..], |config| &config.roles[..]);
    let actor = session_actor(&state, &principal, allowed, body.role).await?;
    if let Some(Assignee::Person(person)) = &body.assignee {
        check_assignee_account(&state, person).await?;
    }
    let command = Command {
        action,
        reason: body.reason,
        department: body.department,
        assignee: body.assignee,
        extension_working_days: body.extension_working_days,
        outcome: body.outcome,
        evidence: body.evidence,
    };
    let applied = service.apply(&id, &command, &actor, body.version).await?;
    let viewer = Viewer::of(&state, &principal).await?;
    let mut task = TaskView::new(
        service.engine().workflow(),
        applied.task,
        service.now(),
        &viewer,
    );
    let personal =
        has_personal_data(&task.fields.task) || record_has_personal_data(&applied.record);
    if task.disclosure() == Disclosure::Full && personal {
        let route = "POST /api/v1/tasks/{id}/actions/{action}";
        let tasks = vec![id.to_string()];
        task.restrict(disclosure_after_change(&state, &principal, route, tasks).await);
    }
    Ok(Json(ActionResult {
        record: Disclosed::new(applied.record, task.disclosure()),
        task,
        follow_ups: applied.follow_ups.into_iter().map(|c| c.task.id).collect(),
    }))
}

/// Rejects an assignee that is not an enabled account, because a task
/// assigned to a missing or disabled login would wait for no one.
async fn check_assignee_account(state: &SharedState, person: &PersonId) -> Result<(), ApiError> {
    let login = person.as_str();
    match state.store.user_by_name(login).await? {
        Some(user) if user.disabled => Err(ApiError::invalid(format!(
            "invalid assignee {login:?}: the account is disabled; assign the task to an \
             enabled account of the lead department, or enable {login:?} first"
        ))),
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(format!(
            "invalid assignee {login:?}: no account has this login name; assign the task to \
             the login name of an existing account of the lead department"
        ))),
    }
}

/// The stored evidence file of an upload.
#[derive(Debug, Serialize)]
pub(super) struct Uploaded {
    sha256: String,
    size: u64,
    media_type: String,
    file_name: String,
    task_version: u64,
}

/// The multipart body of an evidence upload.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "the type only describes the body in the OpenAPI document"
)]
pub(super) struct EvidenceForm {
    /// The evidence file, with its file name and media type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Stores an uploaded file and attaches it to the task as evidence.
///
/// The multipart body has one part `file`. A rejected upload can leave an
/// unreferenced file, which is harmless because files are named by their
/// content.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/evidence",
    tag = "tasks",
    params(("id" = String, Path, description = "The task's id, such as T12.")),
    request_body(content = EvidenceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored file's SHA-256, size, media type and name, and the task's new version.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn upload(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let service = service(&state)?;
    let id = parse_task_id(&id)?;
    visible_task(service, &principal, &id).await?;
    let add_evidence_roles = service
        .engine()
        .workflow()
        .action("add_evidence")
        .map_or(&TaskRole::ALL[..], |config| &config.roles[..]);
    let actor = session_actor(&state, &principal, add_evidence_roles, None).await?;
    let mut stored = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") if stored.is_some() => {
                return Err(ApiError::invalid(
                    "the body has several parts named file; upload one file per request",
                ));
            }
            Some("file") => {
                let file_name = field
                    .file_name()
                    .map(base_name)
                    .filter(|name| !name.is_empty())
                    .unwrap_or("upload")
                    .to_owned();
                let media_type = field
                    .content_type()
                    .filter(|media_type| *media_type != "application/octet-stream")
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        mime_guess::from_path(&file_name)
                            .first_or_octet_stream()
                            .to_string()
                    });
                let upload = service
                    .evidence()
                    .store(field)
                    .await
                    .map_err(|error| match error {
                        crate::tasks::EvidenceError::Io { .. } => {
                            tracing::error!(error = %error, task = %id, "failed to store evidence file");
                            ApiError::internal("storing the file failed; the server log has the cause")
                        }
                        other => ApiError::invalid(other.to_string()),
                    })?;
                stored = Some((upload, media_type, file_name));
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unexpected multipart part {:?}; send one part named file",
                    other.unwrap_or("")
                )));
            }
        }
    }
    let (upload, media_type, file_name) = stored.ok_or_else(|| {
        ApiError::invalid("missing multipart part file; attach the evidence file")
    })?;
    let attachment = Attachment::new(upload.digest.clone(), &media_type, upload.size, &file_name)
        .map_err(|error| ApiError::invalid(error.to_string()))?;
    let mut command = Command::new("add_evidence");
    command.evidence = vec![EvidenceKind::Attachment(attachment.clone())];
    let applied = service.apply(&id, &command, &actor, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            sha256: upload.digest.hex,
            size: upload.size,
            media_type: attachment.media_type,
            file_name,
            task_version: applied.task.version,
        }),
    ))
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "map_err passes the error by value"
)]
fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::invalid(format!(
            "upload too large ({}); send a smaller file or raise tasks.evidence_max_bytes",
            error.body_text()
        ));
    }
    ApiError::invalid(format!(
        "invalid multipart body: {}; send multipart/form-data with one part named file",
        error.body_text()
    ))
}

/// Returns the last path component of an uploaded file name.
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name).trim()
}

/// Returns an evidence file of a task.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/evidence/{sha256}",
    tag = "tasks",
    params(
        ("id" = String, Path, description = "The task's id, such as T12."),
        ("sha256" = String, Path, description = "The file's SHA-256 in lowercase hex."),
    ),
    responses(
        (status = 200, description = "The file, with the media type it was uploaded with.", content_type = "*/*", body = Vec<u8>),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn download(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiPath((id, sha256)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let service = service(&state)?;
    let task = visible_task(service, &principal, &parse_task_id(&id)?).await?;
    let digest = ContentDigest::parse(HashAlgorithm::Sha256, &sha256)
        .map_err(|error| ApiError::invalid(error.to_string()))?;
    let Some(attachment) = task
        .evidence
        .iter()
        .find_map(|evidence| match &evidence.kind {
            EvidenceKind::Attachment(attachment) if attachment.digest == digest => Some(attachment),
            _ => None,
        })
    else {
        return Err(ApiError::not_found(format!(
            "task {} has no evidence file with SHA-256 {}; the task's evidence lists its files",
            task.id, digest.hex
        )));
    };
    let path = service.evidence().path_of(&digest);
    let file = tokio::fs::File::open(&path).await.map_err(|error| {
        tracing::error!(error = %error, path = %path.display(), task = %task.id, "evidence file missing");
        ApiError::internal("the evidence file is missing from the data directory; the server log has the path")
    })?;
    let ascii_name: String = attachment
        .original_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, attachment.media_type.clone()),
            (header::CONTENT_LENGTH, attachment.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii_name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
