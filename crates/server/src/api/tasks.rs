//! Supervision tasks: create, list (inbox), get with history, one route per
//! action of the workflow, evidence upload and download.
//!
//! NOTE: the API has no authentication yet, so it trusts the `actor` of each
//! request (person, role and department). The engine checks that the role may
//! perform the action and that department staff act only on their own
//! department's tasks, but not who the caller really is.

use axum::Json;
use axum::body::Body;
use axum::extract::Multipart;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use oversight_store::{Page, TaskHistoryEntry, TaskQuery};
use oversight_tasks::{
    Actor, Assignee, Attachment, Category, Command, ContentDigest, DepartmentId, EvidenceKind,
    HashAlgorithm, NewTask, Origin, OutcomeInput, PersonId, SubjectId, Task, TaskId,
    TransitionRecord, Workflow, active_deadline, is_overdue,
};
use serde::{Deserialize, Serialize};

use super::SharedState;
use super::params::{ApiJson, ApiPath, ApiQuery, LIST_PAGE, parse_area, parse_limit};
use crate::error::ApiError;
use crate::tasks::TaskService;

/// A task with what the server derives from it at the time of the request.
#[derive(Debug, Serialize)]
pub(super) struct TaskView {
    #[serde(flatten)]
    task: Task,
    /// The deadline of the clock that runs in the task's state.
    due_at: Option<Timestamp>,
    /// True when that deadline has passed.
    overdue: bool,
}

impl TaskView {
    pub(super) fn new(workflow: &Workflow, task: Task, now: Timestamp) -> Self {
        Self {
            due_at: active_deadline(workflow, &task),
            overdue: is_overdue(workflow, &task, now),
            task,
        }
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Builds the store query; `overdue=true` keeps tasks whose deadline passed by `now`.
    pub(super) fn query(&self, workflow: &Workflow, now: Timestamp) -> Result<TaskQuery, ApiError> {
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
            area: parse_area(self.area.as_deref())?,
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

/// Returns a page of tasks in inbox order: overdue first, then by deadline.
pub(super) async fn list(
    state: SharedState,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<TaskView>>, ApiError> {
    let service = service(&state)?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let page = state.store.tasks(&params.query(workflow, now)?).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|task| TaskView::new(workflow, task, now))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A task with its child tasks, history and the actions its state allows.
#[derive(Debug, Serialize)]
pub(super) struct TaskDetail {
    task: TaskView,
    children: Vec<TaskView>,
    history: Vec<TaskHistoryEntry>,
    allowed_actions: Vec<String>,
}

/// Returns one task with its history.
pub(super) async fn one(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TaskDetail>, ApiError> {
    let service = service(&state)?;
    let task = service.task(&parse_task_id(&id)?).await?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let mut children = Vec::with_capacity(task.children.len());
    for child in &task.children {
        children.push(TaskView::new(workflow, service.task(child).await?, now));
    }
    let history = state.store.task_history(&task.id).await?;
    let allowed_actions = workflow
        .allowed_from(&task.state)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(Json(TaskDetail {
        task: TaskView::new(workflow, task, now),
        children,
        history,
        allowed_actions,
    }))
}

/// The body of `POST /tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    actor: Actor,
    #[serde(default = "manual_origin")]
    origin: Origin,
    subject: Option<SubjectId>,
    area: String,
    category: Category,
    title: String,
    description: String,
    lead_department: Option<DepartmentId>,
    #[serde(default)]
    co_departments: Vec<DepartmentId>,
    #[serde(default)]
    evidence: Vec<EvidenceKind>,
}

fn manual_origin() -> Origin {
    Origin::Manual
}

/// The new task and its child tasks.
#[derive(Debug, Serialize)]
pub(super) struct Created {
    task: TaskView,
    children: Vec<TaskView>,
}

/// Creates a task.
pub(super) async fn create(
    state: SharedState,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let service = service(&state)?;
    let area = super::params::parse_area_code("area", &body.area)?;
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
            },
            &body.actor,
        )
        .await?;
    let workflow = service.engine().workflow();
    let now = service.now();
    Ok((
        StatusCode::CREATED,
        Json(Created {
            task: TaskView::new(workflow, created.lead.task, now),
            children: created
                .children
                .into_iter()
                .map(|c| TaskView::new(workflow, c.task, now))
                .collect(),
        }),
    ))
}

/// The body of `POST /tasks/{id}/actions/{action}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    actor: Actor,
    /// The version the client last read; the action fails if the task changed since.
    version: Option<u64>,
    reason: Option<String>,
    department: Option<DepartmentId>,
    assignee: Option<Assignee>,
    extension_working_days: Option<u32>,
    outcome: Option<OutcomeInput>,
    #[serde(default)]
    evidence: Vec<EvidenceKind>,
}

/// The task after an action and the action's record.
#[derive(Debug, Serialize)]
pub(super) struct ActionResult {
    task: TaskView,
    record: TransitionRecord,
    follow_ups: Vec<TaskId>,
}

/// Performs one action of the workflow on a task.
pub(super) async fn act(
    state: SharedState,
    ApiPath((id, action)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<ActionResult>, ApiError> {
    let service = service(&state)?;
    let id = parse_task_id(&id)?;
    let command = Command {
        action,
        reason: body.reason,
        department: body.department,
        assignee: body.assignee,
        extension_working_days: body.extension_working_days,
        outcome: body.outcome,
        evidence: body.evidence,
    };
    let applied = service
        .apply(&id, &command, &body.actor, body.version)
        .await?;
    Ok(Json(ActionResult {
        task: TaskView::new(service.engine().workflow(), applied.task, service.now()),
        record: applied.record,
        follow_ups: applied.follow_ups.into_iter().map(|c| c.task.id).collect(),
    }))
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

/// Stores an uploaded file and attaches it to the task as evidence.
///
/// The multipart body has a part `actor` (the JSON of the acting person) and
/// a part `file`. The file is stored before the actor is checked, because the
/// parts may come in either order; a rejected upload leaves an unreferenced
/// file, which is harmless because files are named by their content.
pub(super) async fn upload(
    state: SharedState,
    ApiPath(id): ApiPath<String>,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let service = service(&state)?;
    let id = parse_task_id(&id)?;
    let mut actor: Option<Actor> = None;
    let mut stored = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("actor") => {
                let text = field.text().await.map_err(multipart_error)?;
                actor = Some(serde_json::from_str(&text).map_err(|error| {
                    ApiError::invalid(format!(
                        "invalid actor part {text:?}: {error}; send a JSON object with person, role and department"
                    ))
                })?);
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
                    "unexpected multipart part {:?}; send the parts actor and file",
                    other.unwrap_or("")
                )));
            }
        }
    }
    let actor = actor.ok_or_else(|| {
        ApiError::invalid("missing multipart part actor; send the acting person as JSON")
    })?;
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
        "invalid multipart body: {}; send multipart/form-data with the parts actor and file",
        error.body_text()
    ))
}

/// Returns the last path component of an uploaded file name.
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name).trim()
}

/// Returns an evidence file of a task.
pub(super) async fn download(
    state: SharedState,
    ApiPath((id, sha256)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let service = service(&state)?;
    let task = service.task(&parse_task_id(&id)?).await?;
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
