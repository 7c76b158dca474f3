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

use oversight_auth::{Action, Principal, Scope};
use oversight_core::personal::{Disclosure, disclosed};
use oversight_tasks::{DepartmentId, Task};
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
        })
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
