//! The roles an account can have.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an account is, which sets the actions it may take and the data it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the instance: every action on every area, including accounts and departments.
    SystemAdmin,
    /// Runs one department: its staff, tokens and data within its jurisdiction.
    DepartmentAdmin,
    /// Regulator staff: reads and handles alerts, points and quarantine in the
    /// department's jurisdiction.
    DepartmentStaff,
    /// Field inspector: reads data and handles alerts in the department's jurisdiction.
    Inspector,
    /// An enterprise's own account: reads the data of its own monitoring points only.
    RegulatedParty,
    /// A request without credentials: only the routes published to everyone.
    Public,
}

impl Role {
    /// Every role, from most to least privileged.
    pub const ALL: [Role; 6] = [
        Role::SystemAdmin,
        Role::DepartmentAdmin,
        Role::DepartmentStaff,
        Role::Inspector,
        Role::RegulatedParty,
        Role::Public,
    ];

    /// Returns the role's name as stored and sent over the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SystemAdmin => "system_admin",
            Self::DepartmentAdmin => "department_admin",
            Self::DepartmentStaff => "department_staff",
            Self::Inspector => "inspector",
            Self::RegulatedParty => "regulated_party",
            Self::Public => "public",
        }
    }

    /// Returns true if accounts of this role belong to a department.
    pub fn needs_department(self) -> bool {
        matches!(
            self,
            Self::DepartmentAdmin | Self::DepartmentStaff | Self::Inspector
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?}: expected system_admin, department_admin, department_staff, inspector \
     or regulated_party"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == input)
            .ok_or_else(|| UnknownRole(input.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn unknown_role_lists_choices() {
        let error = "admin".parse::<Role>().unwrap_err();
        assert!(error.to_string().contains("\"admin\""), "{error}");
        assert!(error.to_string().contains("system_admin"), "{error}");
    }
}
