//! Accounts, departments, sessions, API tokens and the authentication log.
//!
//! Secrets are never stored: passwords as Argon2id PHC strings, sessions and
//! API tokens as SHA-256 digests (see `oversight_auth::secret`). Every
//! backend implements [`AccountStore`] as part of [`crate::Store`].

use async_trait::async_trait;
use jiff::Timestamp;
use oversight_auth::{Action, Role};
use oversight_core::{AreaCode, Mn};
use serde::Serialize;

use crate::{NewLedgerEntry, StoreResult, escape_hidden_characters};

/// A regulator unit and the areas and categories it is responsible for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    /// The department's id.
    pub id: i64,
    /// Its unique name, such as "Siming District Ecology and Environment Bureau".
    pub name: String,
    /// Its jurisdiction: the roots of the area subtrees it oversees.
    pub areas: Vec<AreaCode>,
    /// The categories of subjects it handles, such as "water" or "air".
    pub categories: Vec<String>,
}

/// A department to create, or the new state of an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDepartment {
    /// A unique, non-empty name.
    pub name: String,
    /// Roots of the jurisdiction; each must be a stored area.
    pub areas: Vec<AreaCode>,
    /// Categories of subjects handled.
    pub categories: Vec<String>,
}

/// The second factor of an account.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpState {
    /// The secret, base64-encoded as `oversight_auth::totp::encode_secret` does.
    pub secret: String,
    /// False until the user proved with a code that the enrolment worked;
    /// only a confirmed secret is required at login.
    pub confirmed: bool,
    /// The latest step whose code was accepted, so no code is accepted twice.
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("secret", &"****")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// An account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub id: i64,
    /// The unique login name.
    pub username: String,
    /// The name shown in the dashboard.
    pub display_name: String,
    /// The role, which sets the actions the account may take.
    pub role: Role,
    /// Its department; set exactly for the roles that need one.
    pub department_id: Option<i64>,
    /// The monitoring points a regulated party owns; empty for other roles.
    pub points: Vec<Mn>,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
    /// The second factor, if enrolled.
    pub totp: Option<TotpState>,
    /// A disabled account cannot log in, and its sessions and tokens stop working.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("department_id", &self.department_id)
            .field("points", &self.points)
            .field("password_hash", &"****")
            .field("totp", &self.totp)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// An account to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// A unique login name.
    pub username: String,
    /// The name shown in the dashboard.
    pub display_name: String,
    /// The account's role.
    pub role: Role,
    /// Required for department roles, absent for the others.
    pub department_id: Option<i64>,
    /// Owned points, for a regulated party.
    pub points: Vec<Mn>,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("department_id", &self.department_id)
            .finish_non_exhaustive()
    }
}

/// Changes to an account; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New role; the department must then fit it.
    pub role: Option<Role>,
    /// New department, or `Some(None)` to remove it.
    pub department_id: Option<Option<i64>>,
    /// New set of owned points.
    pub points: Option<Vec<Mn>>,
    /// Disable or enable the account. Disabling also deletes its sessions.
    pub disabled: Option<bool>,
}

/// A login session, found by the digest of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id.
    pub id: i64,
    /// The account.
    pub user_id: i64,
    /// When the session was created.
    pub created_at: Timestamp,
    /// After this the session is invalid.
    pub expires_at: Timestamp,
}

/// An API token's stored record; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// The token's id.
    pub id: i64,
    /// The account the token acts as.
    pub user_id: i64,
    /// The token's purpose, as its owner named it.
    pub name: String,
    /// The actions the token may take, within its account's permissions;
    /// empty means every action the account may take.
    pub actions: Vec<Action>,
    /// When the token was created.
    pub created_at: Timestamp,
    /// After this the token is invalid.
    pub expires_at: Timestamp,
    /// When the token was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// An API token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// The account the token acts as.
    pub user_id: i64,
    /// The token's purpose.
    pub name: String,
    /// The SHA-256 digest of the token.
    pub digest: String,
    /// The actions the token may take; empty means all of the account's.
    pub actions: Vec<Action>,
    /// When the token was created.
    pub created_at: Timestamp,
    /// When the token stops working.
    pub expires_at: Timestamp,
}

/// The kind of an authentication event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthEventKind {
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed: unknown name, wrong password, wrong TOTP code or disabled account.
    LoginFailed,
    /// A session ended by logout.
    Logout,
    /// An account was created.
    UserCreated,
    /// An account's role, department, points or status changed.
    UserChanged,
    /// A password was set.
    PasswordChanged,
    /// A department or its jurisdiction was created or changed.
    DepartmentChanged,
    /// An API token was created.
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// A TOTP second factor was confirmed or removed.
    TotpChanged,
    /// A failed login locked a login name or an address for the lockout window.
    LoginLocked,
}

impl AuthEventKind {
    /// Every kind.
    pub const ALL: [AuthEventKind; 11] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::Logout,
        Self::UserCreated,
        Self::UserChanged,
        Self::PasswordChanged,
        Self::DepartmentChanged,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::TotpChanged,
        Self::LoginLocked,
    ];

    /// Returns the kind's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::UserCreated => "user_created",
            Self::UserChanged => "user_changed",
            Self::PasswordChanged => "password_changed",
            Self::DepartmentChanged => "department_changed",
            Self::TokenCreated => "token_created",
            Self::TokenRevoked => "token_revoked",
            Self::TotpChanged => "totp_changed",
            Self::LoginLocked => "login_locked",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A login, failed login or change of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthEvent {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: AuthEventKind,
    /// The account that acted, the login name tried, or `cli:NAME` for an
    /// `oversight` command run by the operating-system user NAME; empty when
    /// unknown.
    pub actor: String,
    /// The account, department or token acted on, if any.
    pub target: Option<String>,
    /// The client's IP address, when the event came over HTTP.
    pub address: Option<String>,
    /// A short free-text detail such as the reason of a failure; never a secret.
    pub detail: Option<String>,
}

impl AuthEvent {
    /// Builds the ledger entry that records this event, `auth.KIND` on the
    /// account, department or token it concerns. Failed and locked logins
    /// have no authenticated actor, so their actor is `unauthenticated`. An
    /// account acts as `user:NAME`, and a command keeps its `cli:NAME`.
    pub fn ledger_entry(&self) -> NewLedgerEntry {
        let target = self.target.as_deref().unwrap_or_default();
        let subject = match self.kind {
            // The name of a failed login is whatever the client sent, and
            // the failure must be recorded even when the ledger would reject
            // the name as an identifier.
            AuthEventKind::LoginFailed | AuthEventKind::LoginLocked => {
                format!("user:{}", escape_hidden_characters(&self.actor))
            }
            AuthEventKind::LoginSucceeded | AuthEventKind::Logout => {
                format!("user:{}", self.actor)
            }
            AuthEventKind::UserCreated
            | AuthEventKind::UserChanged
            | AuthEventKind::PasswordChanged
            | AuthEventKind::TotpChanged => format!("user:{target}"),
            AuthEventKind::DepartmentChanged => format!("department:{target}"),
            AuthEventKind::TokenCreated | AuthEventKind::TokenRevoked => {
                let id = target.strip_prefix("token ").unwrap_or(target);
                format!("token:{id}")
            }
        };
        let actor = match self.kind {
            AuthEventKind::LoginFailed | AuthEventKind::LoginLocked => "unauthenticated".to_owned(),
            _ if self.actor.is_empty() => "unattributed".to_owned(),
            // Login names cannot contain ':', so this prefix marks a command.
            _ if self.actor.starts_with("cli:") => self.actor.clone(),
            _ => format!("user:{}", self.actor),
        };
        let mut payload = serde_json::Map::new();
        for (key, value) in [
            ("address", &self.address),
            ("detail", &self.detail),
            ("target", &self.target),
        ] {
            if let Some(value) = value {
                payload.insert(key.to_owned(), serde_json::Value::from(value.as_str()));
            }
        }
        NewLedgerEntry::new(
            format!("auth.{}", self.kind.as_str()),
            subject,
            actor,
            serde_json::Value::Object(payload),
        )
    }
}

/// The actor, time and client address of a change to an account, department,
/// token or second factor. The store builds the change's [`AuthEvent`] from it
/// and the changed record, and appends both in the change's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// When the change is made; also the revocation time of a revoked token.
    pub at: Timestamp,
    /// The acting account's login name, or `cli:NAME` for a command run by
    /// the operating-system user NAME.
    pub actor: String,
    /// The client's IP address, when the change came over HTTP.
    pub address: Option<String>,
}

impl AuditContext {
    /// Creates a context without a client address.
    pub fn new(at: Timestamp, actor: impl Into<String>) -> Self {
        Self {
            at,
            actor: actor.into(),
            address: None,
        }
    }

    fn event(&self, kind: AuthEventKind, target: String, detail: Option<String>) -> AuthEvent {
        AuthEvent {
            at: self.at,
            kind,
            actor: self.actor.clone(),
            target: Some(target),
            address: self.address.clone(),
            detail,
        }
    }

    /// Builds the `user_created` event of a new account.
    pub fn user_created(&self, user: &User) -> AuthEvent {
        let detail = format!("role {}", user.role);
        self.event(
            AuthEventKind::UserCreated,
            user.username.clone(),
            Some(detail),
        )
    }

    /// Builds the `user_changed` event from the account as changed.
    pub fn user_changed(&self, user: &User) -> AuthEvent {
        let detail = format!(
            "role {}, department {:?}, disabled {}",
            user.role, user.department_id, user.disabled
        );
        self.event(
            AuthEventKind::UserChanged,
            user.username.clone(),
            Some(detail),
        )
    }

    /// Builds the `password_changed` event of an account.
    pub fn password_changed(&self, user: &User) -> AuthEvent {
        self.event(AuthEventKind::PasswordChanged, user.username.clone(), None)
    }

    /// Builds the `totp_changed` event for the new second factor of an
    /// account: `enrolled`, `enabled` or `disabled`.
    pub fn totp_changed(&self, user: &User, totp: Option<&TotpState>) -> AuthEvent {
        let detail = match totp {
            None => "disabled",
            Some(state) if state.confirmed => "enabled",
            Some(_) => "enrolled",
        };
        let target = user.username.clone();
        self.event(AuthEventKind::TotpChanged, target, Some(detail.to_owned()))
    }

    /// Builds the `department_changed` event from the department as stored.
    pub fn department_changed(&self, department: &Department) -> AuthEvent {
        let areas: Vec<&str> = department.areas.iter().map(AreaCode::as_str).collect();
        let detail = format!("areas {}", areas.join(","));
        let target = department.name.clone();
        self.event(AuthEventKind::DepartmentChanged, target, Some(detail))
    }

    /// Builds the `token_created` event of a stored token.
    pub fn token_created(&self, token: &ApiToken) -> AuthEvent {
        let target = format!("token {}", token.id);
        self.event(
            AuthEventKind::TokenCreated,
            target,
            Some(token.name.clone()),
        )
    }

    /// Builds the `token_revoked` event of a token.
    pub fn token_revoked(&self, token: &ApiToken) -> AuthEvent {
        self.event(
            AuthEventKind::TokenRevoked,
            format!("token {}", token.id),
            None,
        )
    }
}

/// Failed logins counted for the throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginFailures {
    /// Failures with this login name since the given time.
    pub account: u32,
    /// Failures from this address since the given time.
    pub address: u32,
    /// The latest of those failures.
    pub latest: Option<Timestamp>,
}

/// Persistent accounts, departments and credentials.
///
/// Each method that takes an [`AuditContext`] also appends the change's
/// [`AuthEvent`], built from that context, to the authentication log and the
/// ledger in the change's transaction. So the change and its record are
/// stored together or not at all.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a department. Fails with [`crate::StoreError::Conflict`] if
    /// the name exists and [`crate::StoreError::NotFound`] if an area does not.
    async fn create_department(
        &self,
        department: &NewDepartment,
        audit: &AuditContext,
    ) -> StoreResult<Department>;

    /// Replaces a department's name, jurisdiction and categories.
    async fn update_department(
        &self,
        id: i64,
        department: &NewDepartment,
        audit: &AuditContext,
    ) -> StoreResult<Department>;

    /// Returns every department, ordered by id.
    async fn departments(&self) -> StoreResult<Vec<Department>>;

    /// Returns one department.
    async fn department(&self, id: i64) -> StoreResult<Option<Department>>;

    /// Creates an account. Fails with [`crate::StoreError::Conflict`] if the
    /// login name exists and [`crate::StoreError::NotFound`] if the department
    /// or an owned point does not.
    async fn create_user(&self, user: &NewUser, audit: &AuditContext) -> StoreResult<User>;

    /// Returns one account by id.
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;

    /// Returns one account by login name.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

    /// Returns every account, ordered by id.
    async fn users(&self) -> StoreResult<Vec<User>>;

    /// Applies `update` to an account and returns it. Disabling an account
    /// deletes its sessions and revokes its API tokens in the same
    /// transaction, with a `token_revoked` event for each token.
    async fn update_user(
        &self,
        id: i64,
        update: &UserUpdate,
        audit: &AuditContext,
    ) -> StoreResult<User>;

    /// Replaces an account's password hash, deletes its sessions and revokes
    /// its API tokens, with a `token_revoked` event for each token.
    async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditContext,
    ) -> StoreResult<()>;

    /// Sets or removes an account's second factor.
    async fn set_totp(
        &self,
        id: i64,
        totp: Option<&TotpState>,
        audit: &AuditContext,
    ) -> StoreResult<()>;

    /// Records that the TOTP code of `step` was used. Returns false, and
    /// changes nothing, if that step or a later one was already used, so
    /// two concurrent logins cannot both use one code.
    async fn use_totp_step(&self, id: i64, step: u64) -> StoreResult<bool>;

    /// Stores a session under the digest of its cookie value.
    async fn create_session(
        &self,
        digest: &str,
        user_id: i64,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<Session>;

    /// Returns the session with this digest, also when it has expired.
    async fn session(&self, digest: &str) -> StoreResult<Option<Session>>;

    /// Deletes the session with this digest. Returns true if it existed.
    async fn delete_session(&self, digest: &str) -> StoreResult<bool>;

    /// Deletes the sessions that expired before `now`. Returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;

    /// Stores an API token's record and returns it.
    async fn create_token(
        &self,
        token: &NewApiToken,
        audit: &AuditContext,
    ) -> StoreResult<ApiToken>;

    /// Returns the token with this digest, also when it expired or was revoked.
    async fn token(&self, digest: &str) -> StoreResult<Option<ApiToken>>;

    /// Returns the tokens of one account, or of every account, ordered by id.
    async fn tokens(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiToken>>;

    /// Revokes a token at `audit.at` unless it is revoked already, and returns it.
    async fn revoke_token(&self, id: i64, audit: &AuditContext) -> StoreResult<ApiToken>;

    /// Appends an event to the authentication log.
    async fn record_auth_event(&self, event: &AuthEvent) -> StoreResult<()>;

    /// Returns the latest events, newest first, at most `limit`.
    async fn auth_events(&self, limit: u32) -> StoreResult<Vec<AuthEvent>>;

    /// Counts failed logins since `since` with this login name and from this address.
    async fn login_failures(
        &self,
        username: &str,
        address: Option<&str>,
        since: Timestamp,
    ) -> StoreResult<LoginFailures>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_login(name: &str) -> AuthEvent {
        AuthEvent {
            at: "2026-12-04T08:00:00Z".parse().expect("valid time"),
            kind: AuthEventKind::LoginFailed,
            actor: name.to_owned(),
            target: None,
            address: Some("127.0.0.1".to_owned()),
            detail: Some("wrong login name or password".to_owned()),
        }
    }

    #[test]
    fn failed_login_escapes_hidden_name() {
        let entry = failed_login("ad\u{202E}min").ledger_entry();
        assert_eq!(entry.subject, "user:ad\\u{202E}min");
        assert!(entry.check_identifiers().is_ok(), "{entry:?}");
    }

    #[test]
    fn failed_login_keeps_visible_name() {
        let entry = failed_login("li.wang").ledger_entry();
        assert_eq!(entry.subject, "user:li.wang");
        assert_eq!(entry.actor, "unauthenticated");
    }
}
