//! Who sees personal data in full, and responses that carry that decision.
//!
//! Personal data (a public report's reporter contact, phone and ID numbers
//! written into task text) serializes
//! masked by default (see [`oversight_core::personal`]). A response shows it
//! in full only when it is wrapped in [`Disclosed`] with
//! [`Disclosure::Full`], which [`Viewer`] grants:
//!
//! - a principal whose role and token permit `read_personal_data` and whose
//!   scope is everything (a system administrator) sees every task in full;
//! - a department administrator or department staff with that action sees in
//!   full the tasks that its department leads or co-operates on;
//! - everyone else (inspectors, regulated parties, other departments) sees
//!   them masked.
//!
//! A regulated party sees no reporter at all, not even masked, because a
//! masked name and phone number on a report about its own point can be
//! enough to identify the reporter.

use std::borrow::Cow;

use oversight_auth::{Action, Principal, Role, Scope};
use oversight_core::personal::{Disclosure, Text, disclosed};
use oversight_store::NewLedgerEntry;
use oversight_tasks::{Change, DepartmentId, EvidenceKind, Task, TransitionRecord};
use serde::{Serialize, Serializer};

use super::AppState;
use super::task_access::task_department;
use crate::error::ApiError;

/// The personal-data rights of the principal of one request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    permitted: bool,
    everything: bool,
    department: Option<DepartmentId>,
    withholds_reporter: bool,
}

impl Viewer {
    /// Reads the principal's task department, which decides which tasks a
    /// department role sees in full.
    pub(crate) async fn of(state: &AppState, principal: &Principal) -> Result<Self, ApiError> {
        let permitted = principal.may(Action::ReadPersonalData);
        let everything = *principal.scope() == Scope::All;
        let department = if permitted && !everything {
            task_department(state, principal).await?
        } else {
            None
        };
        Ok(Self {
            permitted,
            everything,
            department,
            withholds_reporter: principal.role == Role::RegulatedParty,
        })
    }

    /// Returns true if a task's reporter contact is left out of responses
    /// and exports for this viewer, which is so for a regulated party.
    pub(crate) fn withholds_reporter(&self) -> bool {
        self.withholds_reporter
    }

    /// Returns how the personal data of `task` is shown to this viewer.
    pub(crate) fn of_task(&self, task: &Task) -> Disclosure {
        if !self.permitted {
            return Disclosure::Masked;
        }
        if self.everything {
            return Disclosure::Full;
        }
        let Some(department) = &self.department else {
            return Disclosure::Masked;
        };
        let handles = task.lead_department.as_ref() == Some(department)
            || task.co_departments.contains(department);
        if handles {
            Disclosure::Full
        } else {
            Disclosure::Masked
        }
    }
}

/// A response value serialized with a given disclosure of personal data.
#[derive(Debug)]
pub(crate) struct Disclosed<T> {
    value: T,
    disclosure: Disclosure,
}

impl<T> Disclosed<T> {
    pub(crate) fn new(value: T, disclosure: Disclosure) -> Self {
        Self { value, disclosure }
    }
}

impl<T: Serialize> Serialize for Disclosed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        disclosed(self.disclosure, || self.value.serialize(serializer))
    }
}

/// Returns true if a text contains a phone or ID number.
fn text_has_personal_data(text: &Text) -> bool {
    matches!(text.masked(), Cow::Owned(_))
}

/// Returns true if a note's text or a site check's findings contain a phone
/// or ID number.
fn evidence_has_personal_data(kind: &EvidenceKind) -> bool {
    match kind {
        EvidenceKind::Note { text } => text_has_personal_data(text),
        EvidenceKind::SiteCheck(check) => text_has_personal_data(&check.findings),
        EvidenceKind::Attachment(_) => false,
    }
}

/// Returns true if the task carries personal data: a reporter, or a phone or
/// ID number in its title, description, evidence notes, site check findings,
/// outcome findings or pending extension reason.
pub(crate) fn has_personal_data(task: &Task) -> bool {
    task.reporter.is_some()
        || text_has_personal_data(&task.title)
        || text_has_personal_data(&task.description)
        || task
            .evidence
            .iter()
            .any(|evidence| evidence_has_personal_data(&evidence.kind))
        || task
            .outcome
            .as_ref()
            .is_some_and(|outcome| text_has_personal_data(outcome.input.findings()))
        || task
            .deadlines
            .pending_extension
            .as_ref()
            .is_some_and(|pending| text_has_personal_data(&pending.reason))
}

/// Returns true if a transition record's reason, added evidence or recorded
/// outcome contains a phone or ID number.
pub(crate) fn record_has_personal_data(record: &TransitionRecord) -> bool {
    record.reason.as_ref().is_some_and(text_has_personal_data)
        || record.changes.iter().any(|change| match change {
            Change::EvidenceAdded { evidence } => evidence
                .iter()
                .any(|evidence| evidence_has_personal_data(&evidence.kind)),
            Change::OutcomeRecorded { outcome } => text_has_personal_data(outcome.input.findings()),
            _ => false,
        })
}

/// Attempts to record a full view that a response to a stored change shows.
const CHANGE_VIEW_ATTEMPTS: u32 = 3;

/// Records that the response to a stored change, such as a task after a
/// workflow action, shows personal data in full, and returns the disclosure
/// that response may use.
///
/// The change is committed already, so a failed append must not turn its
/// response into an error. The append is retried, and if every attempt
/// fails the response shows the personal data masked, because no full view
/// may leave without its entry.
pub(crate) async fn disclosure_after_change(
    state: &AppState,
    principal: &Principal,
    route: &str,
    tasks: Vec<String>,
) -> Disclosure {
    for attempt in 1..=CHANGE_VIEW_ATTEMPTS {
        if record_full_view(state, principal, route, tasks.clone())
            .await
            .is_ok()
        {
            return Disclosure::Full;
        }
        if attempt < CHANGE_VIEW_ATTEMPTS {
            let pause = std::time::Duration::from_millis(100 * u64::from(attempt));
            tokio::time::sleep(pause).await;
        }
    }
    // Each failed attempt is logged with its store error by `record_access`.
    tracing::error!(
        user = %principal.username,
        route,
        tasks = ?tasks,
        attempts = CHANGE_VIEW_ATTEMPTS,
        "recording a personal data view after a stored change failed, response masked"
    );
    Disclosure::Masked
}

/// Appends a ledger entry that records a read of personal data or an
/// export, before the response leaves the server.
///
/// The read and the entry are not one transaction, because reads run on the
/// store's reader connections. A failed append is a 500 and the response is
/// withheld, so no data leaves without its entry.
pub(crate) async fn record_access(
    state: &AppState,
    principal: &Principal,
    kind: &'static str,
    subject: String,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = NewLedgerEntry::new(kind, subject, principal.actor().to_string(), payload);
    if let Err(error) = state.store.append_ledger(vec![entry]).await {
        tracing::error!(error = %error, kind, user = %principal.username, "failed to record data access in the ledger");
        return Err(ApiError::internal(
            "recording this access in the ledger failed, so the data is withheld; the server \
             log has the cause",
        ));
    }
    Ok(())
}

/// Records a view of tasks whose personal data the response shows in full,
/// if any: `personal_data.viewed` with the route and the task ids.
pub(crate) async fn record_full_view(
    state: &AppState,
    principal: &Principal,
    route: &str,
    tasks: Vec<String>,
) -> Result<(), ApiError> {
    if tasks.is_empty() {
        return Ok(());
    }
    let subject = match tasks.as_slice() {
        [only] => format!("task:{only}"),
        _ => "tasks".to_owned(),
    };
    let payload = serde_json::json!({"route": route, "tasks": tasks});
    record_access(state, principal, "personal_data.viewed", subject, payload).await
}
