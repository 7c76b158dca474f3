//! Task lists exported as CSV and XLSX, with the filters of the task list.

use axum::Extension;
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use oversight_auth::Principal;
use oversight_tasks::{Assignee, Origin, Task, Workflow, active_deadline, is_overdue};
use rust_xlsxwriter::Workbook;

use oversight_core::personal::Disclosure;

use super::SharedState;
use super::disclosure::{Viewer, has_personal_data, record_access};
use super::params::ApiQuery;
use super::tasks::{ListParams, service};
use crate::error::ApiError;

/// At most this many tasks are exported; narrow the filters for more.
const MAX_ROWS: usize = 100_000;

/// The export's header row. Personal data (text, reporter) is masked as in
/// the task list, per task. For a viewer that may not see the reporter, the
/// reporter cells are empty and `reporter_withheld` is `true`.
const COLUMNS: [&str; 19] = [
    "id",
    "title",
    "state",
    "lead_department",
    "assignee",
    "area",
    "category",
    "subject",
    "origin",
    "created_at",
    "due_at",
    "overdue",
    "outcome",
    "outcome_findings",
    "description",
    "reporter_name",
    "reporter_phone",
    "reporter_id_number",
    "reporter_withheld",
];

/// One exported row, in [`COLUMNS`] order.
type Row = [String; COLUMNS.len()];

/// Returns the export's cells of one task, in [`COLUMNS`] order, with its
/// personal data shown as `disclosure` allows and its reporter left out when
/// `withhold_reporter` is true.
fn row(
    workflow: &Workflow,
    task: &Task,
    now: Timestamp,
    disclosure: Disclosure,
    withhold_reporter: bool,
) -> Row {
    let assignee = match &task.assignee {
        Some(Assignee::Person(person)) => format!("person:{person}"),
        Some(Assignee::Group(group)) => format!("group:{group}"),
        None => String::new(),
    };
    let origin = match &task.origin {
        Origin::Alert { alert_id } => format!("alert:{alert_id}"),
        Origin::PublicReport { report_id } => format!("public_report:{report_id}"),
        Origin::InspectionPlan { plan_id } => format!("inspection_plan:{plan_id}"),
        Origin::HigherAssignment { reference } => format!("higher_assignment:{reference}"),
        Origin::CoOperation { parent } => format!("co_operation:{parent}"),
        Origin::Recheck { parent } => format!("recheck:{parent}"),
        Origin::Manual => "manual".to_owned(),
    };
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let reporter_withheld = withhold_reporter && task.reporter.is_some();
    let reporter = task.reporter.as_ref().filter(|_| !reporter_withheld);
    [
        task.id.to_string(),
        task.title.shown(disclosure).into_owned(),
        task.state.clone(),
        text(task.lead_department.as_ref().map(|d| d.as_str())),
        assignee,
        task.area.to_string(),
        task.category.to_string(),
        text(task.subject.as_ref().map(|s| s.as_str())),
        origin,
        task.created_at.to_string(),
        active_deadline(workflow, task).map_or_else(String::new, |t| t.to_string()),
        is_overdue(workflow, task, now).to_string(),
        task.outcome
            .as_ref()
            .map_or_else(String::new, |outcome| outcome.kind().as_str().to_owned()),
        text(
            task.outcome
                .as_ref()
                .map(|outcome| outcome.input.findings().shown(disclosure))
                .as_deref(),
        ),
        task.description.shown(disclosure).into_owned(),
        text(reporter.map(|r| r.name.shown(disclosure)).as_deref()),
        text(reporter.map(|r| r.phone.shown(disclosure)).as_deref()),
        text(
            reporter
                .and_then(|r| r.id_number.as_ref())
                .map(|id| id.shown(disclosure))
                .as_deref(),
        ),
        reporter_withheld.to_string(),
    ]
}

/// Prefixes a CSV cell that a spreadsheet would run as a formula with `'`.
///
/// Excel and LibreOffice treat a cell starting with `=`, `+`, `-` or `@` as a
/// formula, and a leading tab or carriage return can hide such a start. A task
/// title such as `=HYPERLINK(...)` would then run on the reader's machine. The
/// quote makes the spreadsheet show the text as it is. The XLSX export needs no
/// prefix because it writes every cell as a string.
fn neutralise_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// Reads every task the filters select, up to [`MAX_ROWS`].
async fn rows(
    state: &SharedState,
    principal: &Principal,
    params: &ListParams,
    export: Export<'_>,
) -> Result<Vec<Row>, ApiError> {
    let service = service(state)?;
    let workflow = service.engine().workflow();
    let now = service.now();
    let mut query = params.scoped_query(principal, workflow, now)?;
    let viewer = Viewer::of(state, principal).await?;
    query.limit = 1000;
    let mut rows = Vec::new();
    let mut shown_in_full = Vec::new();
    loop {
        let page = state.store.tasks(&query).await?;
        for task in &page.items {
            let disclosure = viewer.of_task(task);
            if disclosure == Disclosure::Full && has_personal_data(task) {
                shown_in_full.push(task.id.to_string());
            }
            let withhold_reporter = viewer.withholds_reporter();
            rows.push(row(workflow, task, now, disclosure, withhold_reporter));
        }
        if rows.len() > MAX_ROWS {
            return Err(ApiError::invalid(format!(
                "the filters select more than {MAX_ROWS} tasks; narrow them by department, \
                 state, area or category"
            )));
        }
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.cursor = Some(cursor);
    }
    let payload = serde_json::json!({
        "route": export.route,
        "format": export.format,
        "filter": export.filter.unwrap_or_default(),
        "rows": rows.len(),
        "personal_data_in_full": shown_in_full,
    });
    record_access(
        state,
        principal,
        "data.exported",
        "tasks".to_owned(),
        payload,
    )
    .await?;
    Ok(rows)
}

/// The route, format and query string of an export, for its ledger entry.
#[derive(Debug, Clone, Copy)]
struct Export<'a> {
    route: &'static str,
    format: &'static str,
    filter: Option<&'a str>,
}

/// Exports the selected tasks as CSV (RFC 4180, UTF-8).
#[utoipa::path(
    get,
    path = "/api/v1/tasks/export.csv",
    tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "The tasks in scope that the filters select, one row each.", content_type = "text/csv", body = String),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn csv(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
    RawQuery(filter): RawQuery,
) -> Result<Response, ApiError> {
    let export = Export {
        route: "GET /api/v1/tasks/export.csv",
        format: "csv",
        filter: filter.as_deref(),
    };
    let rows = rows(&state, &principal, &params, export).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |error: csv::Error| {
        tracing::error!(error = %error, "failed to write task CSV");
        ApiError::internal("writing the CSV failed; the server log has the cause")
    };
    writer.write_record(COLUMNS).map_err(failed)?;
    for row in &rows {
        writer
            .write_record(row.iter().map(|cell| neutralise_formula(cell)))
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| failed(error.into_error().into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tasks.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Exports the selected tasks as an XLSX workbook with one sheet.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/export.xlsx",
    tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "The tasks in scope that the filters select, in one sheet.", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = "4XX", description = "The request is invalid, forbidden or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn xlsx(
    state: SharedState,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ListParams>,
    RawQuery(filter): RawQuery,
) -> Result<Response, ApiError> {
    let export = Export {
        route: "GET /api/v1/tasks/export.xlsx",
        format: "xlsx",
        filter: filter.as_deref(),
    };
    let rows = rows(&state, &principal, &params, export).await?;
    let bytes = tokio::task::spawn_blocking(move || workbook(&rows))
        .await
        .map_err(|error| ApiError::internal(format!("building the workbook failed: {error}")))?
        .map_err(|error| {
            tracing::error!(error = %error, "failed to build task workbook");
            ApiError::internal("building the workbook failed; the server log has the cause")
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tasks.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

fn workbook(rows: &[Row]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("tasks")?;
    for (column, name) in (0u16..).zip(COLUMNS) {
        sheet.write_string(0, column, name)?;
    }
    for (line, row) in (1u32..).zip(rows) {
        for (column, cell) in (0u16..).zip(row) {
            sheet.write_string(line, column, cell)?;
        }
    }
    workbook.save_to_buffer()
}
