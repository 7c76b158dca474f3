//! The caller of a request and the data it may see.

use oversight_core::{Actor, AreaCode, Mn};
use serde::Serialize;

use crate::{Action, Role};

/// The records a principal may see: storage queries return only these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "values", rename_all = "snake_case")]
pub enum Scope {
    /// Every record. This is the default for the server's own queries (rules,
    /// start-up); request handlers always set the caller's scope.
    #[default]
    All,
    /// Records in these areas or below them.
    Areas(Vec<AreaCode>),
    /// Records of these monitoring points only.
    Points(Vec<Mn>),
    /// No record.
    Nothing,
}

impl Scope {
    /// Returns true if records located in `area` are in scope. A point scope
    /// contains no whole area.
    pub fn contains_area(&self, area: &AreaCode) -> bool {
        match self {
            Self::All => true,
            Self::Areas(areas) => areas.iter().any(|scope| scope.contains(area)),
            Self::Points(_) | Self::Nothing => false,
        }
    }

    /// Returns true if the point `mn`, located in `area`, is in scope.
    pub fn contains_point(&self, mn: &Mn, area: &AreaCode) -> bool {
        match self {
            Self::Points(points) => points.contains(mn),
            _ => self.contains_area(area),
        }
    }

    /// Returns true if some record in `area` or below may be in scope, so
    /// that the area itself may be shown as a step towards them.
    pub fn reaches_area(&self, area: &AreaCode) -> bool {
        match self {
            Self::All => true,
            Self::Areas(areas) => areas
                .iter()
                .any(|scope| scope.contains(area) || area.contains(scope)),
            Self::Points(_) | Self::Nothing => false,
        }
    }
}

/// The credential a request authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMethod {
    /// A session cookie from a password login.
    Session,
    /// A bearer API token, by its id.
    Token {
        /// The token's id.
        id: i64,
    },
    /// No credentials.
    Anonymous,
}

/// The account a request acts as, with what it may do and see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The account's id; `None` for the public.
    pub user_id: Option<i64>,
    /// The login name; empty for the public.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// The department the account belongs to.
    pub department_id: Option<i64>,
    /// The credential the request authenticated with.
    pub method: AuthMethod,
    /// The records the account may see.
    pub scope: Scope,
    /// The actions an API token was limited to when it was created; empty
    /// means every action the role permits.
    pub token_actions: Vec<Action>,
}

/// A principal's attempt at an action its role or scope does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{role} {username:?} may not {action}: ask a system administrator for access")]
pub struct Forbidden {
    /// The account's login name.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// The action, or the action and the record, that was refused.
    pub action: String,
}

impl Principal {
    /// Returns the principal of a request without credentials.
    pub fn public() -> Self {
        Self {
            user_id: None,
            username: String::new(),
            role: Role::Public,
            department_id: None,
            method: AuthMethod::Anonymous,
            scope: Scope::Nothing,
            token_actions: Vec::new(),
        }
    }

    /// Returns who the ledger and alert history record for this principal's
    /// changes: the account, or the system for the public, which changes
    /// nothing through the API.
    pub fn actor(&self) -> Actor {
        if self.username.is_empty() {
            Actor::System
        } else {
            Actor::User(self.username.clone())
        }
    }

    /// Returns true if the role permits `action` and no token limit excludes it.
    pub fn may(&self, action: Action) -> bool {
        self.role.permits(action)
            && (self.token_actions.is_empty() || self.token_actions.contains(&action))
    }

    /// Returns the scope that storage queries for this principal take.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Checks that the principal may take `action` at all.
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if self.may(action) {
            return Ok(());
        }
        Err(self.forbidden(action.as_str().to_owned()))
    }

    /// Checks that the principal may take `action` on a point located in `area`.
    pub fn require_point(&self, action: Action, mn: &Mn, area: &AreaCode) -> Result<(), Forbidden> {
        self.require(action)?;
        if self.scope.contains_point(mn, area) {
            return Ok(());
        }
        Err(self.forbidden(format!("{} on point {mn}", action.as_str())))
    }

    /// Checks that the principal may take `action` on records in `area`.
    pub fn require_area(&self, action: Action, area: &AreaCode) -> Result<(), Forbidden> {
        self.require(action)?;
        if self.scope.contains_area(area) {
            return Ok(());
        }
        Err(self.forbidden(format!("{} in area {area}", action.as_str())))
    }

    fn forbidden(&self, action: String) -> Forbidden {
        Forbidden {
            username: self.username.clone(),
            role: self.role,
            action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    fn mn(value: &str) -> Mn {
        Mn::parse(value).unwrap()
    }

    fn staff(areas: &[&str]) -> Principal {
        Principal {
            user_id: Some(7),
            username: "chen".to_owned(),
            role: Role::DepartmentStaff,
            department_id: Some(1),
            method: AuthMethod::Session,
            scope: Scope::Areas(areas.iter().map(|code| area(code)).collect()),
            token_actions: Vec::new(),
        }
    }

    #[test]
    fn area_scope_contains_subtree() {
        let scope = Scope::Areas(vec![area("350203")]);
        assert!(scope.contains_area(&area("350203")));
        assert!(scope.contains_area(&area("350203001")));
        assert!(!scope.contains_area(&area("3502")));
        assert!(!scope.contains_area(&area("350206")));
    }

    #[test]
    fn area_scope_reaches_ancestors() {
        let scope = Scope::Areas(vec![area("350203")]);
        assert!(scope.reaches_area(&area("35")));
        assert!(scope.reaches_area(&area("350203001")));
        assert!(!scope.reaches_area(&area("350206")));
        assert!(!scope.reaches_area(&area("44")));
    }

    #[test]
    fn point_scope_contains_only_its_points() {
        let own = mn("88888880000001");
        let scope = Scope::Points(vec![own.clone()]);
        assert!(scope.contains_point(&own, &area("350203")));
        assert!(!scope.contains_point(&mn("88888880000002"), &area("350203")));
        assert!(!scope.contains_area(&area("350203")));
    }

    #[test]
    fn nothing_and_all() {
        assert!(!Scope::Nothing.contains_area(&area("35")));
        assert!(Scope::All.contains_area(&area("35")));
        assert_eq!(Scope::default(), Scope::All);
    }

    #[test]
    fn require_checks_role_then_scope() {
        let principal = staff(&["350203"]);
        assert!(principal.require(Action::HandleAlerts).is_ok());

        let error = principal.require(Action::ManageUsers).unwrap_err();
        assert_eq!(error.action, "manage_users");
        assert!(error.to_string().contains("\"chen\""), "{error}");

        assert!(
            principal
                .require_area(Action::ReadMonitoring, &area("350203001"))
                .is_ok()
        );
        let error = principal
            .require_area(Action::ReadMonitoring, &area("350206"))
            .unwrap_err();
        assert!(error.action.contains("350206"), "{error}");
    }

    #[test]
    fn token_actions_narrow_the_role() {
        let mut principal = staff(&["350203"]);
        principal.token_actions = vec![Action::ReadMonitoring];
        assert!(principal.require(Action::ReadMonitoring).is_ok());
        assert!(principal.require(Action::HandleAlerts).is_err());
        principal.token_actions = vec![Action::ManageUsers];
        assert!(principal.require(Action::ManageUsers).is_err());
    }

    #[test]
    fn public_may_do_nothing() {
        let public = Principal::public();
        assert!(public.require(Action::ReadMonitoring).is_err());
        assert_eq!(public.scope(), &Scope::Nothing);
    }
}
