//! Account changes and their ledger records commit together: a trigger that
//! makes every ledger append fail must leave each change unapplied.

use jiff::{SignedDuration, Timestamp};
use oversight_auth::Role;
use oversight_store::{
    AccountStore, AuditContext, NewApiToken, NewDepartment, NewUser, Store, StoreError, TotpState,
    UserUpdate,
};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};

fn audit() -> AuditContext {
    AuditContext::new(
        "2026-12-04T08:00:00Z".parse().expect("valid timestamp"),
        "root",
    )
}

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        display_name: username.to_owned(),
        role: Role::SystemAdmin,
        department_id: None,
        points: Vec::new(),
        password_hash: "$argon2id$old".to_owned(),
    }
}

/// Makes every append to the ledger fail, as a full disk or a corrupt
/// ledger table would. An append inserts a bundle row or adds to one.
fn break_ledger(store: &SqliteStore) {
    let conn = rusqlite::Connection::open(store.path()).expect("open with rusqlite");
    conn.execute_batch(
        "CREATE TRIGGER break_ledger BEFORE INSERT ON ledger_entry_bundles \
         BEGIN SELECT RAISE(ABORT, 'ledger append failed'); END; \
         CREATE TRIGGER break_ledger_appends BEFORE UPDATE ON ledger_entry_bundles \
         BEGIN SELECT RAISE(ABORT, 'ledger append failed'); END;",
    )
    .expect("create triggers");
}

fn repair_ledger(store: &SqliteStore) {
    let conn = rusqlite::Connection::open(store.path()).expect("open with rusqlite");
    conn.execute_batch("DROP TRIGGER break_ledger; DROP TRIGGER break_ledger_appends")
        .expect("drop triggers");
}

fn assert_backend_error<T: std::fmt::Debug>(result: &Result<T, StoreError>, change: &str) {
    assert!(
        matches!(result, Err(StoreError::Backend { .. })),
        "{change}: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_ledger_append_rolls_back_account_changes() {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let area = oversight_core::Area::new(
        oversight_core::AreaCode::parse("35").expect("area code"),
        "福建省",
    )
    .expect("area");
    store.upsert_areas(&[area]).await.expect("store area");
    let user = store
        .create_user(&new_user("root"), &audit())
        .await
        .expect("create user");
    let department = NewDepartment {
        name: "Fujian EEB".to_owned(),
        areas: vec![oversight_core::AreaCode::parse("35").expect("area code")],
        categories: Vec::new(),
    };
    let created = store
        .create_department(&department, &audit())
        .await
        .expect("create department");
    let now = Timestamp::now();
    let new_token = |digest: &str| NewApiToken {
        user_id: user.id,
        name: "exporter".to_owned(),
        digest: digest.to_owned(),
        actions: Vec::new(),
        created_at: now,
        expires_at: now + SignedDuration::from_hours(1),
    };
    let token = store
        .create_token(&new_token("digest-1"), &audit())
        .await
        .expect("create token");
    let head = store.ledger_head().await.expect("ledger head");
    let events = store.auth_events(100).await.expect("events").len();

    break_ledger(&store);
    let disable = UserUpdate {
        disabled: Some(true),
        ..UserUpdate::default()
    };
    assert_backend_error(
        &store.create_user(&new_user("chen"), &audit()).await,
        "create user",
    );
    assert_backend_error(
        &store.update_user(user.id, &disable, &audit()).await,
        "update user",
    );
    assert_backend_error(
        &store
            .set_password_hash(user.id, "$argon2id$new", &audit())
            .await,
        "set password",
    );
    let totp = TotpState {
        secret: "c2VjcmV0".to_owned(),
        confirmed: true,
        last_step: None,
    };
    assert_backend_error(
        &store.set_totp(user.id, Some(&totp), &audit()).await,
        "set totp",
    );
    let renamed = NewDepartment {
        name: "Xiamen EEB".to_owned(),
        ..department.clone()
    };
    assert_backend_error(
        &store
            .update_department(created.id, &renamed, &audit())
            .await,
        "update department",
    );
    let other = NewDepartment {
        name: "Other EEB".to_owned(),
        ..department
    };
    assert_backend_error(
        &store.create_department(&other, &audit()).await,
        "create department",
    );
    assert_backend_error(
        &store.create_token(&new_token("digest-2"), &audit()).await,
        "create token",
    );
    assert_backend_error(
        &store.revoke_token(token.id, &audit()).await,
        "revoke token",
    );

    assert_eq!(store.user_by_name("chen").await.expect("get user"), None);
    let stored = store
        .user(user.id)
        .await
        .expect("get user")
        .expect("exists");
    assert!(!stored.disabled, "the account was disabled");
    assert_eq!(stored.password_hash, "$argon2id$old");
    assert_eq!(stored.totp, None);
    let departments = store.departments().await.expect("departments");
    assert_eq!(departments.len(), 1);
    assert_eq!(departments[0].name, "Fujian EEB");
    let tokens = store.tokens(None).await.expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].revoked_at, None);
    assert_eq!(store.ledger_head().await.expect("ledger head"), head);
    assert_eq!(store.auth_events(100).await.expect("events").len(), events);

    repair_ledger(&store);
    store
        .update_user(user.id, &disable, &audit())
        .await
        .expect("update user once the ledger works");
    let stored = store
        .user(user.id)
        .await
        .expect("get user")
        .expect("exists");
    assert!(stored.disabled);
    // Disabling records `user_changed` and revokes the account's one token.
    assert_eq!(
        store.auth_events(100).await.expect("events").len(),
        events + 2
    );
    let tokens = store.tokens(None).await.expect("tokens");
    assert!(tokens[0].revoked_at.is_some(), "the token was not revoked");
}
