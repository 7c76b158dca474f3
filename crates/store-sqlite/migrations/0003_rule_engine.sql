-- The rule engine: alerts per rule with a lifecycle (pending, firing,
-- acknowledged, resolved) and a stored history of transitions; silences,
-- changes of the active rules, supervision tasks, and point attributes.

ALTER TABLE points ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

ALTER TABLE alerts ADD COLUMN rule_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN rule_version TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN department TEXT;
ALTER TABLE alerts ADD COLUMN fired_at INTEGER;
ALTER TABLE alerts ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
ALTER TABLE alerts ADD COLUMN resolution TEXT;
ALTER TABLE alerts ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN escalated_at INTEGER;
-- JSON of oversight_core::Explanation.
ALTER TABLE alerts ADD COLUMN explanation TEXT;
-- 1 when the largest value is the peak, 0 when the smallest is.
ALTER TABLE alerts ADD COLUMN peak_is_max INTEGER NOT NULL DEFAULT 1;

-- Alerts of the first version become alerts of the built-in rules that
-- replace its checks, with the same fingerprint scheme (rule:mn[:factor]).
UPDATE alerts SET
    rule_id = CASE kind
        WHEN 'above_upper' THEN 'env.limit.upper'
        WHEN 'below_lower' THEN 'env.limit.lower'
        ELSE 'env.data_missing' END,
    category = CASE kind WHEN 'data_missing' THEN 'data_missing' ELSE 'exceedance' END,
    peak_is_max = (kind <> 'below_lower'),
    rule_version = '0',
    fired_at = first_at;
UPDATE alerts SET fingerprint = rule_id || substr(fingerprint, length(kind) + 1);
UPDATE alerts SET status = 'firing' WHERE status = 'open';

DROP INDEX alerts_open_fingerprint;
-- At most one open alert per fingerprint.
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE status <> 'resolved';
CREATE INDEX alerts_rule ON alerts (rule_id, id);

CREATE TABLE alert_transitions (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    -- pending, firing, repeated, acknowledged, resolved or escalated.
    transition TEXT NOT NULL,
    at INTEGER NOT NULL,
    -- engine, or user:NAME.
    actor TEXT NOT NULL,
    reason TEXT
);

CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, id);

INSERT INTO alert_transitions (alert_id, transition, at, actor)
    SELECT id, 'firing', first_at, 'engine' FROM alerts;
INSERT INTO alert_transitions (alert_id, transition, at, actor)
    SELECT id, 'resolved', resolved_at, 'engine' FROM alerts WHERE status = 'resolved';

CREATE TABLE silences (
    id INTEGER PRIMARY KEY,
    mn TEXT,
    area TEXT,
    rule_id TEXT,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX silences_ends ON silences (ends_at);

CREATE TABLE rule_changes (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    -- loaded, reloaded, rejected, enabled or disabled.
    action TEXT NOT NULL,
    rule_id TEXT,
    actor TEXT NOT NULL,
    digest TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    -- alert:ID for tasks created from alerts.
    origin TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    deadline INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
