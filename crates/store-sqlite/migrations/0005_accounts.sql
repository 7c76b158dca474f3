-- Accounts, departments and credentials. Secrets are stored only as
-- Argon2id PHC strings (passwords) or SHA-256 digests (sessions, tokens).

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- A JSON array of category names.
    categories TEXT NOT NULL
);

-- The roots of each department's jurisdiction.
CREATE TABLE department_areas (
    department_id INTEGER NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    area TEXT NOT NULL REFERENCES areas (code),
    PRIMARY KEY (department_id, area)
) WITHOUT ROWID;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    -- system_admin, department_admin, department_staff, inspector or regulated_party.
    role TEXT NOT NULL,
    department_id INTEGER REFERENCES departments (id),
    password_hash TEXT NOT NULL,
    -- Base64 of the raw TOTP secret, or NULL when not enrolled.
    totp_secret TEXT,
    totp_confirmed INTEGER NOT NULL DEFAULT 0,
    -- The latest 30-second step whose code was accepted.
    totp_last_step INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- The monitoring points a regulated party owns.
CREATE TABLE user_points (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mn TEXT NOT NULL REFERENCES points (mn),
    PRIMARY KEY (user_id, mn)
) WITHOUT ROWID;

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- A JSON array of action names; empty for all of the account's actions.
    actions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE auth_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    target TEXT,
    address TEXT,
    detail TEXT
);

-- Failed logins are counted per login name and per address for throttling.
CREATE INDEX auth_events_failed_actor ON auth_events (actor, at) WHERE kind = 'login_failed';
CREATE INDEX auth_events_failed_address ON auth_events (address, at) WHERE kind = 'login_failed';
