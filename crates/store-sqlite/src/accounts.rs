//! Accounts, departments, sessions, API tokens and the authentication log.
//!
//! Reads run on any connection; writes are [`AccountWrite`]s that the writer
//! thread applies inside its group transaction.

use jiff::Timestamp;
use oversight_auth::{Action, Role, normalize_username};
use oversight_core::{AreaCode, Mn, ValidationError};
use oversight_store::{
    ApiToken, AuditContext, AuthEvent, AuthEventKind, Department, LoginFailures, NewApiToken,
    NewDepartment, NewUser, Session, StoreError, StoreResult, TotpState, User, UserUpdate,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{micros, optional_timestamp, parse_stored, timestamp};
use crate::error::{SqliteError, backend, corrupt};
use crate::ledger;

/// A change to accounts or credentials, run by the writer thread. The
/// variants with an [`AuditContext`] record their [`AuthEvent`] in the same
/// transaction as the change.
#[derive(Debug)]
pub(crate) enum AccountWrite {
    CreateDepartment(NewDepartment, AuditContext),
    UpdateDepartment(i64, NewDepartment, AuditContext),
    CreateUser(NewUser, AuditContext),
    UpdateUser(i64, UserUpdate, AuditContext),
    SetPasswordHash(i64, String, AuditContext),
    SetTotp(i64, Option<TotpState>, AuditContext),
    UseTotpStep(i64, u64),
    CreateSession {
        digest: String,
        user_id: i64,
        created_at: Timestamp,
        expires_at: Timestamp,
    },
    DeleteSession(String),
    DeleteExpiredSessions(Timestamp),
    CreateToken(NewApiToken, AuditContext),
    RevokeToken(i64, AuditContext),
    RecordEvent(AuthEvent),
}

/// The result of an [`AccountWrite`].
#[derive(Debug)]
pub(crate) enum AccountOutput {
    Department(Department),
    User(User),
    Session(Session),
    Token(ApiToken),
    Flag(bool),
    Count(u64),
    Unit,
}

/// Applies one account write on the writer's transaction.
pub(crate) fn apply(conn: &Connection, write: &AccountWrite) -> StoreResult<AccountOutput> {
    match write {
        AccountWrite::CreateDepartment(new, audit) => {
            let department = create_department(conn, new)?;
            record_event(conn, &audit.department_changed(&department))?;
            Ok(AccountOutput::Department(department))
        }
        AccountWrite::UpdateDepartment(id, new, audit) => {
            let department = update_department(conn, *id, new)?;
            record_event(conn, &audit.department_changed(&department))?;
            Ok(AccountOutput::Department(department))
        }
        AccountWrite::CreateUser(new, audit) => {
            let user = create_user(conn, new)?;
            record_event(conn, &audit.user_created(&user))?;
            Ok(AccountOutput::User(user))
        }
        AccountWrite::UpdateUser(id, update, audit) => {
            let user = update_user(conn, *id, update)?;
            record_event(conn, &audit.user_changed(&user))?;
            if user.disabled {
                revoke_user_tokens(conn, user.id, audit, "account disabled")?;
            }
            Ok(AccountOutput::User(user))
        }
        AccountWrite::SetPasswordHash(id, hash, audit) => {
            set_password_hash(conn, *id, hash)?;
            let user = user_required(conn, *id)?;
            record_event(conn, &audit.password_changed(&user))?;
            revoke_user_tokens(conn, user.id, audit, "password changed")?;
            Ok(AccountOutput::Unit)
        }
        AccountWrite::SetTotp(id, totp, audit) => {
            set_totp(conn, *id, totp.as_ref())?;
            let user = user_required(conn, *id)?;
            record_event(conn, &audit.totp_changed(&user, totp.as_ref()))?;
            Ok(AccountOutput::Unit)
        }
        AccountWrite::UseTotpStep(id, step) => {
            use_totp_step(conn, *id, *step).map(AccountOutput::Flag)
        }
        AccountWrite::CreateSession {
            digest,
            user_id,
            created_at,
            expires_at,
        } => create_session(conn, digest, *user_id, *created_at, *expires_at)
            .map(AccountOutput::Session),
        AccountWrite::DeleteSession(digest) => execute(
            conn,
            "delete session",
            "DELETE FROM sessions WHERE digest = ?1",
            [digest],
        )
        .map(|count| AccountOutput::Flag(count > 0)),
        AccountWrite::DeleteExpiredSessions(now) => execute(
            conn,
            "delete expired sessions",
            "DELETE FROM sessions WHERE expires_at < ?1",
            [micros(*now)],
        )
        .map(AccountOutput::Count),
        AccountWrite::CreateToken(new, audit) => {
            let token = create_token(conn, new)?;
            record_event(conn, &audit.token_created(&token))?;
            Ok(AccountOutput::Token(token))
        }
        AccountWrite::RevokeToken(id, audit) => {
            let token = revoke_token(conn, *id, audit.at)?;
            record_event(conn, &audit.token_revoked(&token))?;
            Ok(AccountOutput::Token(token))
        }
        AccountWrite::RecordEvent(event) => record_event(conn, event).map(|()| AccountOutput::Unit),
    }
}

fn execute(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<u64> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map_err(backend(operation))?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

fn invalid(what: &'static str, value: &str, rule: &'static str) -> StoreError {
    StoreError::Invalid(ValidationError {
        what,
        value: value.chars().take(64).collect(),
        rule,
    })
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

// --- departments ------------------------------------------------------------

fn check_department(conn: &Connection, new: &NewDepartment) -> StoreResult<()> {
    if new.name.trim().is_empty() {
        return Err(invalid(
            "department name",
            &new.name,
            "must not be empty; give the department's official name",
        ));
    }
    for area in &new.areas {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM areas WHERE code = ?1)")
            .and_then(|mut statement| statement.query_row([area.as_str()], |row| row.get(0)))
            .map_err(backend("check department area"))?;
        if !exists {
            return Err(StoreError::NotFound {
                what: "area",
                key: area.to_string(),
            });
        }
    }
    Ok(())
}

fn write_department_areas(conn: &Connection, id: i64, areas: &[AreaCode]) -> StoreResult<()> {
    const OPERATION: &str = "write department areas";
    execute(
        conn,
        OPERATION,
        "DELETE FROM department_areas WHERE department_id = ?1",
        [id],
    )?;
    for area in areas {
        execute(
            conn,
            OPERATION,
            "INSERT OR IGNORE INTO department_areas (department_id, area) VALUES (?1, ?2)",
            params![id, area.as_str()],
        )?;
    }
    Ok(())
}

fn department_conflict(name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a department named {name:?} exists already; choose another name or change that one"
    ))
}

fn categories_json(categories: &[String]) -> String {
    serde_json::to_string(categories).expect("a list of strings serializes")
}

fn create_department(conn: &Connection, new: &NewDepartment) -> StoreResult<Department> {
    check_department(conn, new)?;
    let id: i64 = conn
        .prepare_cached("INSERT INTO departments (name, categories) VALUES (?1, ?2) RETURNING id")
        .and_then(|mut statement| {
            statement.query_row(
                params![new.name.trim(), categories_json(&new.categories)],
                |row| row.get(0),
            )
        })
        .map_err(|error| {
            if is_unique_violation(&error) {
                department_conflict(&new.name)
            } else {
                backend("create department")(error)
            }
        })?;
    write_department_areas(conn, id, &new.areas)?;
    department_required(conn, id)
}

fn update_department(conn: &Connection, id: i64, new: &NewDepartment) -> StoreResult<Department> {
    check_department(conn, new)?;
    let changed = conn
        .prepare_cached("UPDATE departments SET name = ?2, categories = ?3 WHERE id = ?1")
        .and_then(|mut statement| {
            statement.execute(params![
                id,
                new.name.trim(),
                categories_json(&new.categories)
            ])
        })
        .map_err(|error| {
            if is_unique_violation(&error) {
                department_conflict(&new.name)
            } else {
                backend("update department")(error)
            }
        })?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "department",
            key: id.to_string(),
        });
    }
    write_department_areas(conn, id, &new.areas)?;
    department_required(conn, id)
}

fn department_required(conn: &Connection, id: i64) -> StoreResult<Department> {
    department(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "department",
        key: id.to_string(),
    })
}

/// Returns one department with its areas.
pub(crate) fn department(conn: &Connection, id: i64) -> StoreResult<Option<Department>> {
    const OPERATION: &str = "get department";
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT name, categories FROM departments WHERE id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(backend(OPERATION))?;
    let Some((name, categories)) = row else {
        return Ok(None);
    };
    let categories: Vec<String> = serde_json::from_str(&categories).map_err(|error| {
        backend(OPERATION)(corrupt("department categories", &categories, &error))
    })?;
    let areas = department_areas(conn, id)?;
    Ok(Some(Department {
        id,
        name,
        areas,
        categories,
    }))
}

fn department_areas(conn: &Connection, id: i64) -> StoreResult<Vec<AreaCode>> {
    const OPERATION: &str = "list department areas";
    let codes: Vec<String> = conn
        .prepare_cached("SELECT area FROM department_areas WHERE department_id = ?1 ORDER BY area")
        .and_then(|mut statement| {
            statement
                .query_map([id], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(backend(OPERATION))?;
    codes
        .iter()
        .map(|code| parse_stored("area code", code, AreaCode::parse).map_err(backend(OPERATION)))
        .collect()
}

/// Returns every department, ordered by id.
pub(crate) fn departments(conn: &Connection) -> StoreResult<Vec<Department>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM departments ORDER BY id")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(backend("list departments"))?;
    let mut departments = Vec::with_capacity(ids.len());
    for id in ids {
        departments.extend(department(conn, id)?);
    }
    Ok(departments)
}

// --- users ------------------------------------------------------------------

const USER_COLUMNS: &str = "id, username, display_name, role, department_id, password_hash, \
                            totp_secret, totp_confirmed, totp_last_step, disabled, created_at";

/// Checks that `department_id` fits `role` and exists, and that only a
/// regulated party owns points.
fn check_membership(
    conn: &Connection,
    role: Role,
    department_id: Option<i64>,
    points: &[Mn],
) -> StoreResult<()> {
    if role == Role::Public {
        return Err(invalid(
            "role",
            role.as_str(),
            "is for requests without an account; choose another role",
        ));
    }
    match (role.needs_department(), department_id) {
        (true, None) => {
            return Err(invalid(
                "department",
                "none",
                "is required for department_admin, department_staff and inspector accounts",
            ));
        }
        (false, Some(id)) => {
            return Err(invalid(
                "department",
                &id.to_string(),
                "is only for department_admin, department_staff and inspector accounts",
            ));
        }
        (true, Some(id)) => {
            department_required(conn, id)?;
        }
        (false, None) => {}
    }
    if role != Role::RegulatedParty && !points.is_empty() {
        return Err(invalid(
            "points",
            points[0].as_str(),
            "only regulated_party accounts own monitoring points",
        ));
    }
    Ok(())
}

fn write_user_points(conn: &Connection, user_id: i64, points: &[Mn]) -> StoreResult<()> {
    const OPERATION: &str = "write user points";
    execute(
        conn,
        OPERATION,
        "DELETE FROM user_points WHERE user_id = ?1",
        [user_id],
    )?;
    for mn in points {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM points WHERE mn = ?1)")
            .and_then(|mut statement| statement.query_row([mn.as_str()], |row| row.get(0)))
            .map_err(backend(OPERATION))?;
        if !exists {
            return Err(StoreError::NotFound {
                what: "monitoring point",
                key: mn.to_string(),
            });
        }
        execute(
            conn,
            OPERATION,
            "INSERT OR IGNORE INTO user_points (user_id, mn) VALUES (?1, ?2)",
            params![user_id, mn.as_str()],
        )?;
    }
    Ok(())
}

/// Creates an account under its normalised login name (see
/// [`normalize_username`]), and rejects the name when an existing account's
/// name has the same normalised form.
fn create_user(conn: &Connection, new: &NewUser) -> StoreResult<User> {
    check_username(&new.username)?;
    let username = normalize_username(&new.username);
    check_username(&username)?;
    if let Some(existing) = account_with_normalized_name(conn, &username)? {
        let message = if existing == new.username {
            format!("an account named {existing:?} exists already; choose another login name")
        } else {
            format!(
                "the login name {:?} is taken: it normalises to {username:?}, as the existing \
                 account {existing:?} does; choose another login name",
                new.username
            )
        };
        return Err(StoreError::Conflict(message));
    }
    check_membership(conn, new.role, new.department_id, &new.points)?;
    let sql = "INSERT INTO users (username, display_name, role, department_id, password_hash, \
               created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
    let id: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    username,
                    new.display_name,
                    new.role.as_str(),
                    new.department_id,
                    new.password_hash,
                    micros(Timestamp::now()),
                ],
                |row| row.get(0),
            )
        })
        .map_err(|error| {
            if is_unique_violation(&error) {
                StoreError::Conflict(format!(
                    "an account named {:?} exists already; choose another login name",
                    new.username
                ))
            } else {
                backend("create user")(error)
            }
        })?;
    write_user_points(conn, id, &new.points)?;
    user_required(conn, id)
}

/// Returns the login name of an account whose name normalises to
/// `normalized`. Accounts created before names were normalised may be
/// stored in another form, such as `Admin`, so every name is normalised here.
fn account_with_normalized_name(
    conn: &Connection,
    normalized: &str,
) -> StoreResult<Option<String>> {
    const OPERATION: &str = "check login name";
    let mut statement = conn
        .prepare_cached("SELECT username FROM users")
        .map_err(backend(OPERATION))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(backend(OPERATION))?;
    for name in names {
        let name = name.map_err(backend(OPERATION))?;
        if normalize_username(&name) == normalized {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Checks a login name: 1 to 64 characters of letters, digits, `.`, `_`, `-` or `@`.
fn check_username(username: &str) -> StoreResult<()> {
    let valid = !username.is_empty()
        && username.chars().count() <= 64
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if valid {
        return Ok(());
    }
    Err(invalid(
        "login name",
        username,
        "use 1 to 64 letters, digits, '.', '_', '-' or '@'",
    ))
}

fn update_user(conn: &Connection, id: i64, update: &UserUpdate) -> StoreResult<User> {
    const OPERATION: &str = "update user";
    let current = user_required(conn, id)?;
    let role = update.role.unwrap_or(current.role);
    let department_id = update.department_id.unwrap_or(current.department_id);
    let points = update.points.as_ref().unwrap_or(&current.points);
    check_membership(conn, role, department_id, points)?;

    let display_name = update
        .display_name
        .as_ref()
        .unwrap_or(&current.display_name);
    let disabled = update.disabled.unwrap_or(current.disabled);
    execute(
        conn,
        OPERATION,
        "UPDATE users SET display_name = ?2, role = ?3, department_id = ?4, disabled = ?5 \
         WHERE id = ?1",
        params![id, display_name, role.as_str(), department_id, disabled],
    )?;
    if update.points.is_some() {
        write_user_points(conn, id, points)?;
    }

    if disabled {
        execute(
            conn,
            OPERATION,
            "DELETE FROM sessions WHERE user_id = ?1",
            [id],
        )?;
    }
    user_required(conn, id)
}

fn set_password_hash(conn: &Connection, id: i64, hash: &str) -> StoreResult<()> {
    const OPERATION: &str = "set password";
    let changed = execute(
        conn,
        OPERATION,
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    if changed == 0 {
        return Err(user_not_found(id));
    }
    execute(
        conn,
        OPERATION,
        "DELETE FROM sessions WHERE user_id = ?1",
        [id],
    )?;
    Ok(())
}

fn set_totp(conn: &Connection, id: i64, totp: Option<&TotpState>) -> StoreResult<()> {
    let step = totp
        .and_then(|totp| totp.last_step)
        .map(|step| i64::try_from(step).unwrap_or(i64::MAX));
    let changed = execute(
        conn,
        "set totp",
        "UPDATE users SET totp_secret = ?2, totp_confirmed = ?3, totp_last_step = ?4 \
         WHERE id = ?1",
        params![
            id,
            totp.map(|totp| totp.secret.as_str()),
            totp.is_some_and(|totp| totp.confirmed),
            step,
        ],
    )?;
    if changed == 0 {
        return Err(user_not_found(id));
    }
    Ok(())
}

fn use_totp_step(conn: &Connection, id: i64, step: u64) -> StoreResult<bool> {
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let changed = execute(
        conn,
        "use totp step",
        "UPDATE users SET totp_last_step = ?2 \
         WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
        params![id, step],
    )?;
    Ok(changed > 0)
}

fn user_not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "user",
        key: id.to_string(),
    }
}

fn user_required(conn: &Connection, id: i64) -> StoreResult<User> {
    user(conn, id)?.ok_or_else(|| user_not_found(id))
}

struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    department_id: Option<i64>,
    password_hash: String,
    totp_secret: Option<String>,
    totp_confirmed: bool,
    totp_last_step: Option<i64>,
    disabled: bool,
    created_at: i64,
}

fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        role: row.get(3)?,
        department_id: row.get(4)?,
        password_hash: row.get(5)?,
        totp_secret: row.get(6)?,
        totp_confirmed: row.get(7)?,
        totp_last_step: row.get(8)?,
        disabled: row.get(9)?,
        created_at: row.get(10)?,
    })
}

fn decode_user(conn: &Connection, row: UserRow) -> StoreResult<User> {
    const OPERATION: &str = "decode user";
    let role: Role = row
        .role
        .parse()
        .map_err(|error| backend(OPERATION)(corrupt("role", &row.role, &error)))?;
    let points: Vec<String> = conn
        .prepare_cached("SELECT mn FROM user_points WHERE user_id = ?1 ORDER BY mn")
        .and_then(|mut statement| {
            statement
                .query_map([row.id], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(backend(OPERATION))?;
    let points = points
        .iter()
        .map(|mn| parse_stored("MN", mn, Mn::parse).map_err(backend(OPERATION)))
        .collect::<StoreResult<Vec<_>>>()?;
    let totp = row.totp_secret.map(|secret| TotpState {
        secret,
        confirmed: row.totp_confirmed,
        last_step: row.totp_last_step.and_then(|step| u64::try_from(step).ok()),
    });
    Ok(User {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        role,
        department_id: row.department_id,
        points,
        password_hash: row.password_hash,
        totp,
        disabled: row.disabled,
        created_at: timestamp(row.created_at).map_err(backend(OPERATION))?,
    })
}

fn user_where(
    conn: &Connection,
    condition: &str,
    key: &dyn rusqlite::ToSql,
) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}");
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([key], user_row).optional())
        .map_err(backend("get user"))?;
    row.map(|row| decode_user(conn, row)).transpose()
}

/// Returns one account by id.
pub(crate) fn user(conn: &Connection, id: i64) -> StoreResult<Option<User>> {
    user_where(conn, "id = ?1", &id)
}

/// Returns one account by login name: the account with exactly that name,
/// or else the account named by its normalised form (see
/// [`normalize_username`]). The exact match comes first so that accounts
/// created before names were normalised, such as `Admin`, keep working.
pub(crate) fn user_by_name(conn: &Connection, username: &str) -> StoreResult<Option<User>> {
    if let Some(user) = user_where(conn, "username = ?1", &username)? {
        return Ok(Some(user));
    }
    let normalized = normalize_username(username);
    if normalized == username {
        return Ok(None);
    }
    user_where(conn, "username = ?1", &normalized)
}

/// Returns every account, ordered by id.
pub(crate) fn users(conn: &Connection) -> StoreResult<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
    let rows: Vec<UserRow> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_map([], user_row)?.collect())
        .map_err(backend("list users"))?;
    rows.into_iter().map(|row| decode_user(conn, row)).collect()
}

// --- sessions and tokens ----------------------------------------------------

fn create_session(
    conn: &Connection,
    digest: &str,
    user_id: i64,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> StoreResult<Session> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO sessions (digest, user_id, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![digest, user_id, micros(created_at), micros(expires_at)],
                |row| row.get(0),
            )
        })
        .map_err(backend("create session"))?;
    Ok(Session {
        id,
        user_id,
        created_at,
        expires_at,
    })
}

/// Returns the session with this digest.
pub(crate) fn session(conn: &Connection, digest: &str) -> StoreResult<Option<Session>> {
    const OPERATION: &str = "get session";
    let row: Option<(i64, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, user_id, created_at, expires_at FROM sessions WHERE digest = ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_row([digest], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()
        })
        .map_err(backend(OPERATION))?;
    row.map(|(id, user_id, created_at, expires_at)| {
        Ok(Session {
            id,
            user_id,
            created_at: timestamp(created_at).map_err(backend(OPERATION))?,
            expires_at: timestamp(expires_at).map_err(backend(OPERATION))?,
        })
    })
    .transpose()
}

const TOKEN_COLUMNS: &str = "id, user_id, name, actions, created_at, expires_at, revoked_at";

fn token_row(row: &Row<'_>) -> rusqlite::Result<Result<ApiToken, SqliteError>> {
    let actions: String = row.get(3)?;
    let created_at: i64 = row.get(4)?;
    let expires_at: i64 = row.get(5)?;
    let revoked_at: Option<i64> = row.get(6)?;
    let id = row.get(0)?;
    let user_id = row.get(1)?;
    let name = row.get(2)?;
    Ok((|| {
        let names: Vec<String> = serde_json::from_str(&actions)
            .map_err(|error| corrupt("token actions", &actions, &error))?;
        let actions = names
            .iter()
            .map(|name| {
                Action::parse(name).ok_or_else(|| corrupt("token action", name, &"unknown action"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ApiToken {
            id,
            user_id,
            name,
            actions,
            created_at: timestamp(created_at)?,
            expires_at: timestamp(expires_at)?,
            revoked_at: optional_timestamp(revoked_at)?,
        })
    })())
}

fn create_token(conn: &Connection, new: &NewApiToken) -> StoreResult<ApiToken> {
    const OPERATION: &str = "create token";
    if new.name.trim().is_empty() || new.name.chars().count() > 100 {
        return Err(invalid(
            "token name",
            &new.name,
            "use 1 to 100 characters that say what the token is for",
        ));
    }
    user_required(conn, new.user_id)?;
    let actions: Vec<&str> = new.actions.iter().map(|action| action.as_str()).collect();
    let actions = serde_json::to_string(&actions).expect("a list of strings serializes");
    let sql = format!(
        "INSERT INTO api_tokens (digest, user_id, name, actions, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {TOKEN_COLUMNS}"
    );
    let token = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    new.digest,
                    new.user_id,
                    new.name.trim(),
                    actions,
                    micros(new.created_at),
                    micros(new.expires_at),
                ],
                token_row,
            )
        })
        .map_err(backend(OPERATION))?;
    token.map_err(backend(OPERATION))
}

fn revoke_token(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<ApiToken> {
    const OPERATION: &str = "revoke token";
    let sql = format!(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 \
         RETURNING {TOKEN_COLUMNS}"
    );
    let token = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_row(params![id, micros(at)], token_row)
                .optional()
        })
        .map_err(backend(OPERATION))?;
    let Some(token) = token else {
        return Err(StoreError::NotFound {
            what: "API token",
            key: id.to_string(),
        });
    };
    token.map_err(backend(OPERATION))
}

/// Revokes every API token of an account that is not revoked yet, and
/// records a `token_revoked` event with `reason` as its detail for each.
fn revoke_user_tokens(
    conn: &Connection,
    user_id: i64,
    audit: &AuditContext,
    reason: &str,
) -> StoreResult<()> {
    const OPERATION: &str = "revoke account tokens";
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM api_tokens WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id",
        )
        .and_then(|mut statement| statement.query_map([user_id], |row| row.get(0))?.collect())
        .map_err(backend(OPERATION))?;
    for id in ids {
        let token = revoke_token(conn, id, audit.at)?;
        let mut event = audit.token_revoked(&token);
        event.detail = Some(reason.to_owned());
        record_event(conn, &event)?;
    }
    Ok(())
}

/// Returns the token with this digest.
pub(crate) fn token(conn: &Connection, digest: &str) -> StoreResult<Option<ApiToken>> {
    const OPERATION: &str = "get token";
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE digest = ?1");
    let token = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([digest], token_row).optional())
        .map_err(backend(OPERATION))?;
    token.transpose().map_err(backend(OPERATION))
}

/// Returns the tokens of one account, or all, ordered by id.
pub(crate) fn tokens(conn: &Connection, user_id: Option<i64>) -> StoreResult<Vec<ApiToken>> {
    const OPERATION: &str = "list tokens";
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ?1 IS NULL OR user_id = ?1 ORDER BY id"
    );
    let rows: Vec<Result<ApiToken, SqliteError>> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_map([user_id], token_row)?.collect())
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .map(|row| row.map_err(backend(OPERATION)))
        .collect()
}

// --- authentication log -----------------------------------------------------

/// Records `event` in the authentication log and appends it to the ledger,
/// in the caller's transaction.
fn record_event(conn: &Connection, event: &AuthEvent) -> StoreResult<()> {
    execute(
        conn,
        "record auth event",
        "INSERT INTO auth_events (at, kind, actor, target, address, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            micros(event.at),
            event.kind.as_str(),
            event.actor,
            event.target,
            event.address,
            event.detail,
        ],
    )?;
    ledger::append_one(conn, event.ledger_entry()).map(drop)
}

/// Returns the latest events, newest first.
pub(crate) fn auth_events(conn: &Connection, limit: u32) -> StoreResult<Vec<AuthEvent>> {
    const OPERATION: &str = "list auth events";
    type EventRow = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<EventRow> = conn
        .prepare_cached(
            "SELECT at, kind, actor, target, address, detail FROM auth_events \
             ORDER BY id DESC LIMIT ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([limit], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .map(|(at, kind, actor, target, address, detail)| {
            let kind = AuthEventKind::parse(&kind).ok_or_else(|| {
                backend(OPERATION)(corrupt("auth event kind", &kind, &"unknown kind"))
            })?;
            Ok(AuthEvent {
                at: timestamp(at).map_err(backend(OPERATION))?,
                kind,
                actor,
                target,
                address,
                detail,
            })
        })
        .collect()
}

/// Counts failed logins since `since` by login name and by address.
pub(crate) fn login_failures(
    conn: &Connection,
    username: &str,
    address: Option<&str>,
    since: Timestamp,
) -> StoreResult<LoginFailures> {
    const OPERATION: &str = "count failed logins";
    let since = micros(since);
    let (account, account_latest): (u32, Option<i64>) = conn
        .prepare_cached(
            "SELECT count(*), max(at) FROM auth_events \
             WHERE kind = 'login_failed' AND actor = ?1 AND at >= ?2",
        )
        .and_then(|mut statement| {
            statement.query_row(params![username, since], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
        })
        .map_err(backend(OPERATION))?;
    let (address, address_latest): (u32, Option<i64>) = match address {
        None => (0, None),
        Some(address) => conn
            .prepare_cached(
                "SELECT count(*), max(at) FROM auth_events \
                 WHERE kind = 'login_failed' AND address = ?1 AND at >= ?2",
            )
            .and_then(|mut statement| {
                statement.query_row(params![address, since], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
            })
            .map_err(backend(OPERATION))?,
    };
    let latest = account_latest.max(address_latest);
    Ok(LoginFailures {
        account,
        address,
        latest: optional_timestamp(latest).map_err(backend(OPERATION))?,
    })
}
