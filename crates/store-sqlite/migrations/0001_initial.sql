-- Initial schema. Times are integer microseconds since the Unix epoch (UTC).

CREATE TABLE areas (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- NULL for a province.
    parent TEXT REFERENCES areas (code)
) WITHOUT ROWID;

CREATE INDEX areas_parent ON areas (parent, code);

CREATE TABLE points (
    id INTEGER PRIMARY KEY,
    mn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    area TEXT NOT NULL REFERENCES areas (code),
    system_code TEXT NOT NULL,
    password TEXT NOT NULL,
    longitude REAL,
    latitude REAL,
    -- JSON array of FactorLimit.
    limits TEXT NOT NULL,
    interval_secs INTEGER NOT NULL,
    last_data_time INTEGER,
    last_received_at INTEGER
);

CREATE INDEX points_area ON points (area, mn);

-- Factor codes, numbered so that each reading stores a small integer.
CREATE TABLE factors (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE
);

-- One row per upload: one point's readings of one data kind at one data
-- time. Rows are appended in arrival order (rowid); the factors' values are
-- packed in one blob, in the format that src/packed.rs documents. The unique
-- index enforces the retransmission rule together with the per-factor merge
-- in the writer, and serves one point's time-range queries.
CREATE TABLE uploads (
    point_id INTEGER NOT NULL,
    data_time INTEGER NOT NULL,
    -- The HJ 212 command code (CN) of the data kind: 2011, 2051, 2061 or 2031.
    kind INTEGER NOT NULL,
    factors BLOB NOT NULL
);

CREATE UNIQUE INDEX uploads_key ON uploads (point_id, data_time, kind);

-- New readings per point per hour of receive time, so that the dashboard
-- counts without scanning readings.
CREATE TABLE reading_counts (
    -- Hours since the Unix epoch.
    hour INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    PRIMARY KEY (hour, point_id)
) WITHOUT ROWID;

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    mn TEXT NOT NULL,
    peer TEXT,
    received_at INTEGER NOT NULL,
    raw TEXT NOT NULL,
    -- JSON array of Reading.
    readings TEXT NOT NULL,
    reading_count INTEGER NOT NULL
);

CREATE INDEX quarantine_mn ON quarantine (mn, id);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    mn TEXT NOT NULL,
    factor TEXT,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    area TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    resolved_at INTEGER,
    trigger_value REAL,
    last_value REAL,
    peak_value REAL,
    limit_value REAL,
    count INTEGER NOT NULL
);

-- At most one open alert per fingerprint.
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE status = 'open';
CREATE INDEX alerts_status_area ON alerts (status, area);
CREATE INDEX alerts_mn ON alerts (mn, id);
