-- Supervision tasks with their full record, transition history and outcome
-- records. The task itself is stored as JSON (oversight_tasks::Task); the
-- columns beside it are copies of its fields that queries filter and order by.

ALTER TABLE tasks RENAME TO tasks_v1;

-- Hands out task numbers: `T` followed by the row id.
CREATE TABLE task_ids (
    n INTEGER PRIMARY KEY AUTOINCREMENT
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    -- 0 once the state is terminal.
    open INTEGER NOT NULL,
    lead_department TEXT,
    -- person:ID or group:NAME.
    assignee TEXT,
    parent TEXT,
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    subject TEXT,
    -- The running deadline in microseconds, or the largest integer when no
    -- clock runs, so that ascending order lists overdue tasks first and tasks
    -- without a deadline last.
    due_key INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;

-- The inbox of a department, of a person or group, and of every department.
CREATE INDEX tasks_department_inbox ON tasks (lead_department, open, due_key, created_at, id);
CREATE INDEX tasks_assignee_inbox ON tasks (assignee, open, due_key, created_at, id);
CREATE INDEX tasks_inbox ON tasks (open, due_key, created_at, id);
-- The tasks about a regulated party's own points.
CREATE INDEX tasks_subject_inbox ON tasks (subject, open, due_key, created_at, id)
    WHERE subject IS NOT NULL;
CREATE INDEX tasks_parent ON tasks (parent) WHERE parent IS NOT NULL;

CREATE TABLE task_transitions (
    seq INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    at INTEGER NOT NULL,
    -- JSON of oversight_tasks::TransitionRecord.
    record TEXT NOT NULL,
    -- The ledger entry of the transition; NULL for the migrated creations.
    ledger_index INTEGER,
    UNIQUE (task_id, version)
);

CREATE TABLE task_outcomes (
    task_id TEXT PRIMARY KEY,
    subject TEXT,
    decided_at INTEGER NOT NULL,
    -- JSON of oversight_tasks::OutcomeRecord.
    record TEXT NOT NULL
);

CREATE INDEX task_outcomes_subject ON task_outcomes (subject, decided_at) WHERE subject IS NOT NULL;

-- Tasks of the first schema became tasks in state `created` with the same
-- number, their alert as origin and their department as lead department.
-- Their deadline came from the escalation policy and has no place in the
-- workflow, whose deadlines start with dispatch, so it goes into the
-- description.
INSERT INTO task_ids (n) SELECT id FROM tasks_v1;

INSERT INTO tasks (id, version, state, open, lead_department, assignee, parent, area, category,
                   subject, due_key, created_at, updated_at, body)
SELECT
    'T' || t.id, 1, 'created', 1, t.department, NULL, NULL, a.area,
    CASE WHEN a.category = '' THEN 'exceedance' ELSE a.category END,
    a.mn, 9223372036854775807, t.created_at, t.created_at,
    json_object(
        'id', 'T' || t.id,
        'version', 1,
        'origin', json_object('kind', 'alert', 'alert_id', a.id),
        'subject', a.mn,
        'area', a.area,
        'category', CASE WHEN a.category = '' THEN 'exceedance' ELSE a.category END,
        'title', t.title,
        'description', t.title || ' (due by '
            || strftime('%Y-%m-%dT%H:%M:%SZ', t.deadline / 1000000, 'unixepoch')
            || ' under the escalation policy)',
        'lead_department', t.department,
        'co_departments', json('[]'),
        'parent', NULL,
        'children', json('[]'),
        'assignee', NULL,
        'state', 'created',
        'created_at', strftime('%Y-%m-%dT%H:%M:%SZ', t.created_at / 1000000, 'unixepoch'),
        'updated_at', strftime('%Y-%m-%dT%H:%M:%SZ', t.created_at / 1000000, 'unixepoch'),
        'deadlines', json_object('sign_by', NULL, 'handle_by', NULL,
                                 'pending_extension', NULL, 'extensions', json('[]')),
        'evidence', json('[]'),
        'outcome', NULL,
        'notices_sent', json('[]'),
        'follow_ups', 0
    )
FROM tasks_v1 t JOIN alerts a ON t.origin = 'alert:' || a.id;

INSERT INTO task_transitions (task_id, version, action, at, record)
SELECT
    'T' || t.id, 1, 'create', t.created_at,
    json_object(
        'task', 'T' || t.id,
        'version', 1,
        'action', 'create',
        'from', NULL,
        'to', 'created',
        'actor', NULL,
        'at', strftime('%Y-%m-%dT%H:%M:%SZ', t.created_at / 1000000, 'unixepoch'),
        'reason', 'escalated from alert ' || substr(t.origin, 7) || ' before the task workflow existed',
        'changes', json('[]')
    )
FROM tasks_v1 t JOIN alerts a ON t.origin = 'alert:' || a.id;

DROP TABLE tasks_v1;
