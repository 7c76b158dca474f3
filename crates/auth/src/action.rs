//! The actions a request can take, and which roles may take each.

use serde::{Deserialize, Serialize};

use crate::Role;

/// A kind of request, coarse enough that each API route maps to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read areas, points, readings, the summary and alerts, within the scope.
    ReadMonitoring,
    /// Read rules, rule changes and silences, and backtest rules.
    ReadRules,
    /// Read supervision tasks within the scope: a regulated party only those
    /// about its own monitoring points.
    ReadTasks,
    /// Create supervision tasks and act on them within the scope, in the task
    /// roles the account's role grants.
    HandleTasks,
    /// Acknowledge, resolve or silence an alert within the scope.
    HandleAlerts,
    /// Create or expire silences that match any alert.
    ManageSilences,
    /// Reload, enable or disable rules, which apply to every area.
    ManageRules,
    /// Register or change monitoring points within the scope.
    ManagePoints,
    /// Read, release or discard uploads of unregistered devices.
    ManageQuarantine,
    /// Create, change and disable accounts; a department administrator only
    /// within their own department.
    ManageUsers,
    /// Create and change departments and their jurisdictions.
    ManageDepartments,
    /// Read one's own account, log out, enrol TOTP and manage one's own API tokens.
    ManageOwnAccount,
    /// Read the authentication log of logins and permission changes.
    ReadAuditLog,
    /// Read one's own in-app inbox and one's department's, and mark their
    /// notifications read.
    ReadInbox,
    /// Read notifications with their delivery status and retry dead
    /// letters; a department administrator only those of the department's
    /// recipients.
    ManageNotifications,
    /// See personal data in full: a public-report task's reporter contact and
    /// the phone and ID numbers in task text. No route requires it, and
    /// without it those values are masked. A department role sees them in
    /// full only on its own department's tasks.
    ReadPersonalData,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 16] = [
        Action::ReadMonitoring,
        Action::ReadRules,
        Action::ReadTasks,
        Action::HandleTasks,
        Action::HandleAlerts,
        Action::ManageSilences,
        Action::ManageRules,
        Action::ManagePoints,
        Action::ManageQuarantine,
        Action::ManageUsers,
        Action::ManageDepartments,
        Action::ManageOwnAccount,
        Action::ReadAuditLog,
        Action::ReadInbox,
        Action::ManageNotifications,
        Action::ReadPersonalData,
    ];

    /// Returns the action's name, as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadMonitoring => "read_monitoring",
            Self::ReadRules => "read_rules",
            Self::ReadTasks => "read_tasks",
            Self::HandleTasks => "handle_tasks",
            Self::HandleAlerts => "handle_alerts",
            Self::ManageSilences => "manage_silences",
            Self::ManageRules => "manage_rules",
            Self::ManagePoints => "manage_points",
            Self::ManageQuarantine => "manage_quarantine",
            Self::ManageUsers => "manage_users",
            Self::ManageDepartments => "manage_departments",
            Self::ManageOwnAccount => "manage_own_account",
            Self::ReadAuditLog => "read_audit_log",
            Self::ReadInbox => "read_inbox",
            Self::ManageNotifications => "manage_notifications",
            Self::ReadPersonalData => "read_personal_data",
        }
    }

    /// Parses an action's name, as [`Action::as_str`] returns it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }
}

impl Role {
    /// Returns true if this role may take `action` at all. Whether it may take
    /// it on a given record is then up to the principal's [`crate::Scope`].
    pub fn permits(self, action: Action) -> bool {
        use Action as A;
        match self {
            Role::SystemAdmin => true,
            Role::DepartmentAdmin => !matches!(
                action,
                A::ManageRules | A::ManageDepartments | A::ReadAuditLog
            ),
            Role::DepartmentStaff => matches!(
                action,
                A::ReadMonitoring
                    | A::ReadRules
                    | A::ReadTasks
                    | A::HandleTasks
                    | A::HandleAlerts
                    | A::ManageSilences
                    | A::ManageOwnAccount
                    | A::ReadInbox
                    | A::ReadPersonalData
            ),
            Role::Inspector => matches!(
                action,
                A::ReadMonitoring
                    | A::ReadRules
                    | A::ReadTasks
                    | A::HandleTasks
                    | A::HandleAlerts
                    | A::ManageOwnAccount
                    | A::ReadInbox
            ),
            Role::RegulatedParty => matches!(
                action,
                A::ReadMonitoring | A::ReadTasks | A::ManageOwnAccount | A::ReadInbox
            ),
            Role::Public => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("everything"), None);
    }

    #[test]
    fn system_admin_permits_everything() {
        for action in Action::ALL {
            assert!(Role::SystemAdmin.permits(action), "{action:?}");
        }
    }

    #[test]
    fn public_permits_nothing() {
        for action in Action::ALL {
            assert!(!Role::Public.permits(action), "{action:?}");
        }
    }

    #[test]
    fn privileges_shrink_down_the_roles() {
        // Every role may do at most what the role above it may do.
        for pair in Role::ALL.windows(2) {
            for action in Action::ALL {
                if pair[1].permits(action) {
                    assert!(pair[0].permits(action), "{:?} {action:?}", pair[0]);
                }
            }
        }
    }

    #[test]
    fn regulated_party_only_reads() {
        let allowed: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|action| Role::RegulatedParty.permits(*action))
            .collect();
        assert_eq!(
            allowed,
            vec![
                Action::ReadMonitoring,
                Action::ReadTasks,
                Action::ManageOwnAccount,
                Action::ReadInbox
            ]
        );
    }
}
