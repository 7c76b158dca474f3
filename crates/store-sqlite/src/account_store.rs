//! [`AccountStore`] for [`SqliteStore`]: reads on the reader pool, writes
//! through the writer thread.

use async_trait::async_trait;
use jiff::Timestamp;
use oversight_store::{
    AccountStore, ApiToken, AuditContext, AuthEvent, Department, LoginFailures, NewApiToken,
    NewDepartment, NewUser, Session, StoreResult, TotpState, User, UserUpdate,
};

use crate::accounts::{self, AccountOutput, AccountWrite};
use crate::store::{SqliteStore, unexpected_output};
use crate::writer::{WriteOp, WriteOutput};

impl SqliteStore {
    async fn write_account(&self, write: AccountWrite) -> StoreResult<AccountOutput> {
        match self.write(WriteOp::Account(write)).await? {
            WriteOutput::Account(output) => Ok(output),
            other => unexpected_output(&other),
        }
    }
}

/// Returns the error for an account write that answered with another kind of output.
fn mismatch<T>(output: AccountOutput) -> StoreResult<T> {
    unexpected_output(&WriteOutput::Account(output))
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_department(
        &self,
        department: &NewDepartment,
        audit: &AuditContext,
    ) -> StoreResult<Department> {
        let write = AccountWrite::CreateDepartment(department.clone(), audit.clone());
        match self.write_account(write).await? {
            AccountOutput::Department(department) => Ok(department),
            other => mismatch(other),
        }
    }

    async fn update_department(
        &self,
        id: i64,
        department: &NewDepartment,
        audit: &AuditContext,
    ) -> StoreResult<Department> {
        let write = AccountWrite::UpdateDepartment(id, department.clone(), audit.clone());
        match self.write_account(write).await? {
            AccountOutput::Department(department) => Ok(department),
            other => mismatch(other),
        }
    }

    async fn departments(&self) -> StoreResult<Vec<Department>> {
        self.readers()
            .run("list departments", accounts::departments)
            .await
    }

    async fn department(&self, id: i64) -> StoreResult<Option<Department>> {
        self.readers()
            .run("get department", move |conn| accounts::department(conn, id))
            .await
    }

    async fn create_user(&self, user: &NewUser, audit: &AuditContext) -> StoreResult<User> {
        match self
            .write_account(AccountWrite::CreateUser(user.clone(), audit.clone()))
            .await?
        {
            AccountOutput::User(user) => Ok(user),
            other => mismatch(other),
        }
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        self.readers()
            .run("get user", move |conn| accounts::user(conn, id))
            .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.readers()
            .run("get user", move |conn| {
                accounts::user_by_name(conn, &username)
            })
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.readers().run("list users", accounts::users).await
    }

    async fn update_user(
        &self,
        id: i64,
        update: &UserUpdate,
        audit: &AuditContext,
    ) -> StoreResult<User> {
        match self
            .write_account(AccountWrite::UpdateUser(id, update.clone(), audit.clone()))
            .await?
        {
            AccountOutput::User(user) => Ok(user),
            other => mismatch(other),
        }
    }

    async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let write = AccountWrite::SetPasswordHash(id, password_hash.to_owned(), audit.clone());
        match self.write_account(write).await? {
            AccountOutput::Unit => Ok(()),
            other => mismatch(other),
        }
    }

    async fn set_totp(
        &self,
        id: i64,
        totp: Option<&TotpState>,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        match self
            .write_account(AccountWrite::SetTotp(id, totp.cloned(), audit.clone()))
            .await?
        {
            AccountOutput::Unit => Ok(()),
            other => mismatch(other),
        }
    }

    async fn use_totp_step(&self, id: i64, step: u64) -> StoreResult<bool> {
        match self
            .write_account(AccountWrite::UseTotpStep(id, step))
            .await?
        {
            AccountOutput::Flag(used) => Ok(used),
            other => mismatch(other),
        }
    }

    async fn create_session(
        &self,
        digest: &str,
        user_id: i64,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<Session> {
        let write = AccountWrite::CreateSession {
            digest: digest.to_owned(),
            user_id,
            created_at,
            expires_at,
        };
        match self.write_account(write).await? {
            AccountOutput::Session(session) => Ok(session),
            other => mismatch(other),
        }
    }

    async fn session(&self, digest: &str) -> StoreResult<Option<Session>> {
        let digest = digest.to_owned();
        self.readers()
            .run("get session", move |conn| accounts::session(conn, &digest))
            .await
    }

    async fn delete_session(&self, digest: &str) -> StoreResult<bool> {
        match self
            .write_account(AccountWrite::DeleteSession(digest.to_owned()))
            .await?
        {
            AccountOutput::Flag(deleted) => Ok(deleted),
            other => mismatch(other),
        }
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        match self
            .write_account(AccountWrite::DeleteExpiredSessions(now))
            .await?
        {
            AccountOutput::Count(count) => Ok(count),
            other => mismatch(other),
        }
    }

    async fn create_token(
        &self,
        token: &NewApiToken,
        audit: &AuditContext,
    ) -> StoreResult<ApiToken> {
        match self
            .write_account(AccountWrite::CreateToken(token.clone(), audit.clone()))
            .await?
        {
            AccountOutput::Token(token) => Ok(token),
            other => mismatch(other),
        }
    }

    async fn token(&self, digest: &str) -> StoreResult<Option<ApiToken>> {
        let digest = digest.to_owned();
        self.readers()
            .run("get token", move |conn| accounts::token(conn, &digest))
            .await
    }

    async fn tokens(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiToken>> {
        self.readers()
            .run("list tokens", move |conn| accounts::tokens(conn, user_id))
            .await
    }

    async fn revoke_token(&self, id: i64, audit: &AuditContext) -> StoreResult<ApiToken> {
        match self
            .write_account(AccountWrite::RevokeToken(id, audit.clone()))
            .await?
        {
            AccountOutput::Token(token) => Ok(token),
            other => mismatch(other),
        }
    }

    async fn record_auth_event(&self, event: &AuthEvent) -> StoreResult<()> {
        match self
            .write_account(AccountWrite::RecordEvent(event.clone()))
            .await?
        {
            AccountOutput::Unit => Ok(()),
            other => mismatch(other),
        }
    }

    async fn auth_events(&self, limit: u32) -> StoreResult<Vec<AuthEvent>> {
        self.readers()
            .run("list auth events", move |conn| {
                accounts::auth_events(conn, limit)
            })
            .await
    }

    async fn login_failures(
        &self,
        username: &str,
        address: Option<&str>,
        since: Timestamp,
    ) -> StoreResult<LoginFailures> {
        let username = username.to_owned();
        let address = address.map(str::to_owned);
        self.readers()
            .run("count failed logins", move |conn| {
                accounts::login_failures(conn, &username, address.as_deref(), since)
            })
            .await
    }
}
