//! Cases for accounts, departments, sessions, API tokens and the
//! authentication log.

use std::sync::Arc;

use jiff::SignedDuration;
use oversight_auth::{Action, Role};
use oversight_core::Actor;

use super::fixtures::{code, minute, mn, point, seed_tree};
use crate::{
    AuditContext, AuthEvent, AuthEventKind, NewApiToken, NewDepartment, NewUser, Store, StoreError,
    TotpState, UserUpdate,
};

fn audit() -> AuditContext {
    audit_at(minute(0))
}

fn audit_at(at: jiff::Timestamp) -> AuditContext {
    AuditContext {
        at,
        actor: "root".to_owned(),
        address: Some("127.0.0.1".to_owned()),
    }
}

fn department(name: &str, areas: &[&str]) -> NewDepartment {
    NewDepartment {
        name: name.to_owned(),
        areas: areas.iter().map(|area| code(area)).collect(),
        categories: vec!["water".to_owned()],
    }
}

fn new_user(username: &str, role: Role, department_id: Option<i64>) -> NewUser {
    NewUser {
        username: username.to_owned(),
        display_name: format!("User {username}"),
        role,
        department_id,
        points: Vec::new(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
    }
}

/// Departments store their jurisdiction and categories; names are unique and
/// every jurisdiction area must exist.
pub async fn accounts_departments(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let siming = store
        .create_department(&department("Siming EEB", &["350203", "350206"]), &audit())
        .await
        .expect("create department");
    assert_eq!(siming.name, "Siming EEB");
    assert_eq!(siming.areas, vec![code("350203"), code("350206")]);
    assert_eq!(siming.categories, vec!["water".to_owned()]);

    let duplicate = store
        .create_department(&department("Siming EEB", &["350203"]), &audit())
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    let missing = store
        .create_department(&department("Nowhere", &["350299"]), &audit())
        .await;
    assert!(
        matches!(&missing, Err(StoreError::NotFound { what: "area", key }) if key == "350299"),
        "{missing:?}"
    );

    let changed = store
        .update_department(
            siming.id,
            &department("Siming EEB", &["350203001"]),
            &audit(),
        )
        .await
        .expect("update department");
    assert_eq!(changed.areas, vec![code("350203001")]);
    assert_eq!(
        store.department(siming.id).await.expect("get"),
        Some(changed)
    );
    assert_eq!(store.departments().await.expect("list").len(), 1);
    assert_eq!(store.department(siming.id + 100).await.expect("get"), None);
}

/// Accounts are found by id and name; the department must fit the role and
/// only a regulated party owns points.
pub async fn accounts_users(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    store
        .upsert_points(&[point("MNACC1", "350203")], &Actor::System)
        .await
        .expect("seed point");
    let department = store
        .create_department(&department("Siming EEB", &["350203"]), &audit())
        .await
        .expect("create department");

    let admin = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await
        .expect("create admin");
    assert_eq!(admin.role, Role::SystemAdmin);
    assert!(!admin.disabled);
    assert_eq!(
        store.user(admin.id).await.expect("get"),
        Some(admin.clone())
    );
    assert_eq!(
        store.user_by_name("root").await.expect("get by name"),
        Some(admin)
    );
    assert_eq!(store.user_by_name("nobody").await.expect("get"), None);

    let duplicate = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    let without_department = store
        .create_user(&new_user("chen", Role::DepartmentStaff, None), &audit())
        .await;
    assert!(
        matches!(without_department, Err(StoreError::Invalid(_))),
        "{without_department:?}"
    );
    let unknown_department = store
        .create_user(
            &new_user("chen", Role::Inspector, Some(department.id + 9)),
            &audit(),
        )
        .await;
    assert!(
        matches!(unknown_department, Err(StoreError::NotFound { .. })),
        "{unknown_department:?}"
    );
    let bad_name = store
        .create_user(&new_user("chen wei", Role::SystemAdmin, None), &audit())
        .await;
    assert!(
        matches!(bad_name, Err(StoreError::Invalid(_))),
        "{bad_name:?}"
    );

    let staff = store
        .create_user(
            &new_user("chen", Role::DepartmentStaff, Some(department.id)),
            &audit(),
        )
        .await
        .expect("create staff");
    assert_eq!(staff.department_id, Some(department.id));

    let mut owner = new_user("plant", Role::RegulatedParty, None);
    owner.points = vec![mn("MNACC1")];
    let owner = store
        .create_user(&owner, &audit())
        .await
        .expect("create owner");
    assert_eq!(owner.points, vec![mn("MNACC1")]);

    let mut stranger = new_user("other", Role::RegulatedParty, None);
    stranger.points = vec![mn("MNNONE")];
    let stranger = store.create_user(&stranger, &audit()).await;
    assert!(
        matches!(stranger, Err(StoreError::NotFound { .. })),
        "{stranger:?}"
    );

    let users = store.users().await.expect("list");
    let names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
    assert_eq!(names, ["root", "chen", "plant"]);
}

/// Disabling an account or setting its password deletes its sessions.
pub async fn accounts_update_ends_sessions(store: Arc<dyn Store>) {
    let user = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await
        .expect("create");
    let expires = minute(60);
    store
        .create_session("digest-1", user.id, minute(0), expires)
        .await
        .expect("session");
    let session = store
        .session("digest-1")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.expires_at, expires);

    let update = UserUpdate {
        disabled: Some(true),
        display_name: Some("Root".to_owned()),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(user.id, &update, &audit())
        .await
        .expect("disable");
    assert!(updated.disabled);
    assert_eq!(updated.display_name, "Root");
    assert_eq!(store.session("digest-1").await.expect("get"), None);

    store
        .create_session("digest-2", user.id, minute(0), expires)
        .await
        .expect("session");
    store
        .set_password_hash(user.id, "$argon2id$new", &audit())
        .await
        .expect("set password");
    assert_eq!(store.session("digest-2").await.expect("get"), None);
    let stored = store.user(user.id).await.expect("get").expect("exists");
    assert_eq!(stored.password_hash, "$argon2id$new");

    let missing = store
        .update_user(user.id + 1, &UserUpdate::default(), &audit())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

/// Sessions are deleted one by one or when expired.
pub async fn accounts_sessions_expire(store: Arc<dyn Store>) {
    let user = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await
        .expect("create");
    store
        .create_session("old", user.id, minute(0), minute(10))
        .await
        .expect("old");
    store
        .create_session("new", user.id, minute(0), minute(100))
        .await
        .expect("new");
    assert_eq!(
        store
            .delete_expired_sessions(minute(50))
            .await
            .expect("expire"),
        1
    );
    assert_eq!(store.session("old").await.expect("get"), None);
    assert!(store.delete_session("new").await.expect("delete"));
    assert!(!store.delete_session("new").await.expect("delete again"));
}

/// Tokens are stored by digest, listed per account and revoked once.
pub async fn accounts_tokens(store: Arc<dyn Store>) {
    let user = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await
        .expect("create");
    let new = NewApiToken {
        user_id: user.id,
        name: "exporter".to_owned(),
        digest: "token-digest".to_owned(),
        actions: vec![Action::ReadMonitoring],
        created_at: minute(0),
        expires_at: minute(0) + SignedDuration::from_hours(24),
    };
    let token = store
        .create_token(&new, &audit())
        .await
        .expect("create token");
    assert_eq!(token.name, "exporter");
    assert_eq!(token.actions, vec![Action::ReadMonitoring]);
    assert_eq!(token.revoked_at, None);
    assert_eq!(
        store.token("token-digest").await.expect("get"),
        Some(token.clone())
    );
    assert_eq!(store.token("other").await.expect("get"), None);
    assert_eq!(store.tokens(Some(user.id)).await.expect("list").len(), 1);
    assert_eq!(
        store.tokens(Some(user.id + 1)).await.expect("list").len(),
        0
    );
    assert_eq!(store.tokens(None).await.expect("list all").len(), 1);

    let revoked = store
        .revoke_token(token.id, &audit_at(minute(5)))
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at, Some(minute(5)));
    let again = store
        .revoke_token(token.id, &audit_at(minute(9)))
        .await
        .expect("revoke again");
    assert_eq!(again.revoked_at, Some(minute(5)));
    let missing = store.revoke_token(token.id + 1, &audit_at(minute(9))).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    let unnamed = NewApiToken {
        name: " ".to_owned(),
        digest: "digest-2".to_owned(),
        ..new
    };
    let unnamed = store.create_token(&unnamed, &audit()).await;
    assert!(
        matches!(unnamed, Err(StoreError::Invalid(_))),
        "{unnamed:?}"
    );
}

/// A TOTP step is accepted once, and only after the last accepted one.
pub async fn accounts_totp_steps(store: Arc<dyn Store>) {
    let user = store
        .create_user(&new_user("root", Role::SystemAdmin, None), &audit())
        .await
        .expect("create");
    let totp = TotpState {
        secret: "c2VjcmV0".to_owned(),
        confirmed: true,
        last_step: None,
    };
    store
        .set_totp(user.id, Some(&totp), &audit())
        .await
        .expect("set totp");
    assert!(store.use_totp_step(user.id, 100).await.expect("use"));
    assert!(!store.use_totp_step(user.id, 100).await.expect("reuse"));
    assert!(!store.use_totp_step(user.id, 99).await.expect("older"));
    assert!(store.use_totp_step(user.id, 101).await.expect("next"));
    let stored = store.user(user.id).await.expect("get").expect("exists");
    let stored_totp = stored.totp.expect("enrolled");
    assert_eq!(stored_totp.last_step, Some(101));
    assert!(stored_totp.confirmed);

    store
        .set_totp(user.id, None, &audit())
        .await
        .expect("remove");
    let stored = store.user(user.id).await.expect("get").expect("exists");
    assert_eq!(stored.totp, None);
}

/// Failed logins are counted per name and address within the window, and
/// events come back newest first.
pub async fn accounts_login_failures(store: Arc<dyn Store>) {
    let event = |at: i64, kind: AuthEventKind, actor: &str, address: &str| AuthEvent {
        at: minute(at),
        kind,
        actor: actor.to_owned(),
        target: None,
        address: Some(address.to_owned()),
        detail: None,
    };
    let events = [
        event(1, AuthEventKind::LoginFailed, "root", "127.0.0.1"),
        event(2, AuthEventKind::LoginFailed, "root", "127.0.0.2"),
        event(3, AuthEventKind::LoginFailed, "chen", "127.0.0.1"),
        event(4, AuthEventKind::LoginSucceeded, "root", "127.0.0.1"),
        event(20, AuthEventKind::LoginFailed, "root", "127.0.0.1"),
    ];
    for event in &events {
        store.record_auth_event(event).await.expect("record");
    }
    let counts = store
        .login_failures("root", Some("127.0.0.1"), minute(2))
        .await
        .expect("count");
    assert_eq!(counts.account, 2);
    assert_eq!(counts.address, 2);
    assert_eq!(counts.latest, Some(minute(20)));

    let none = store
        .login_failures("nobody", None, minute(0))
        .await
        .expect("count");
    assert_eq!(none.account, 0);
    assert_eq!(none.address, 0);
    assert_eq!(none.latest, None);

    let latest = store.auth_events(2).await.expect("list");
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0], events[4]);
    assert_eq!(latest[1], events[3]);
}

/// Checks that every account, department, token and TOTP change stores its
/// event in the authentication log and the ledger, and a rejected change
/// stores neither.
pub async fn accounts_changes_recorded(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let siming = store
        .create_department(&department("Siming EEB", &["350203"]), &audit())
        .await
        .expect("create department");
    store
        .update_department(
            siming.id,
            &department("Siming EEB", &["350203", "350206"]),
            &audit(),
        )
        .await
        .expect("update department");
    let user = store
        .create_user(
            &new_user("chen", Role::Inspector, Some(siming.id)),
            &audit(),
        )
        .await
        .expect("create user");
    let update = UserUpdate {
        disabled: Some(true),
        ..UserUpdate::default()
    };
    store
        .update_user(user.id, &update, &audit())
        .await
        .expect("update user");
    store
        .set_password_hash(user.id, "$argon2id$new", &audit())
        .await
        .expect("set password");
    let totp = TotpState {
        secret: "c2VjcmV0".to_owned(),
        confirmed: false,
        last_step: None,
    };
    store
        .set_totp(user.id, Some(&totp), &audit())
        .await
        .expect("enrol totp");
    let new_token = NewApiToken {
        user_id: user.id,
        name: "exporter".to_owned(),
        digest: "token-digest".to_owned(),
        actions: Vec::new(),
        created_at: minute(0),
        expires_at: minute(60),
    };
    let token = store
        .create_token(&new_token, &audit())
        .await
        .expect("create token");
    store
        .revoke_token(token.id, &audit_at(minute(5)))
        .await
        .expect("revoke token");
    let before_rejected = store.ledger_head().await.expect("head");
    let duplicate = store
        .create_user(&new_user("chen", Role::SystemAdmin, None), &audit())
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let missing = store.revoke_token(token.id + 1, &audit()).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(store.ledger_head().await.expect("head"), before_rejected);

    let token_target = format!("token {}", token.id);
    let changed_detail = format!(
        "role inspector, department Some({}), disabled true",
        siming.id
    );
    let expected = [
        (
            AuthEventKind::DepartmentChanged,
            "Siming EEB",
            Some("areas 350203"),
        ),
        (
            AuthEventKind::DepartmentChanged,
            "Siming EEB",
            Some("areas 350203,350206"),
        ),
        (AuthEventKind::UserCreated, "chen", Some("role inspector")),
        (
            AuthEventKind::UserChanged,
            "chen",
            Some(changed_detail.as_str()),
        ),
        (AuthEventKind::PasswordChanged, "chen", None),
        (AuthEventKind::TotpChanged, "chen", Some("enrolled")),
        (
            AuthEventKind::TokenCreated,
            token_target.as_str(),
            Some("exporter"),
        ),
        (AuthEventKind::TokenRevoked, token_target.as_str(), None),
    ];
    let mut events = store.auth_events(20).await.expect("events");
    events.reverse();
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for (event, (kind, target, detail)) in events.iter().zip(expected) {
        assert_eq!(event.kind, kind);
        assert_eq!(event.actor, "root");
        assert_eq!(event.target.as_deref(), Some(target));
        assert_eq!(event.detail.as_deref(), detail);
        assert_eq!(event.address.as_deref(), Some("127.0.0.1"));
    }
    assert_eq!(events[7].at, minute(5));

    let entries = store.ledger_entries(0, 100).await.expect("ledger");
    let recorded: Vec<(&str, &str)> = entries
        .iter()
        .filter(|entry| entry.kind.starts_with("auth."))
        .map(|entry| (entry.kind.as_str(), entry.subject.as_str()))
        .collect();
    let token_subject = format!("token:{}", token.id);
    let expected_entries = [
        ("auth.department_changed", "department:Siming EEB"),
        ("auth.department_changed", "department:Siming EEB"),
        ("auth.user_created", "user:chen"),
        ("auth.user_changed", "user:chen"),
        ("auth.password_changed", "user:chen"),
        ("auth.totp_changed", "user:chen"),
        ("auth.token_created", token_subject.as_str()),
        ("auth.token_revoked", token_subject.as_str()),
    ];
    assert_eq!(recorded, expected_entries);
}
