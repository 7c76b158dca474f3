-- Later copies of a stored reading whose values or flag differ from it. A
-- datalogger resends an upload (same MN, CN, DataTime and factor) when it
-- misses the acknowledgement, sometimes with other values. The reading in
-- uploads or recent_uploads keeps the first value received, and each
-- differing resend is appended here. Identical resends are not stored.
CREATE TABLE reading_revisions (
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL,
    data_time INTEGER NOT NULL,
    -- The HJ 212 command code (CN) of the data kind, as in uploads.
    kind INTEGER NOT NULL,
    factor_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    rtd REAL,
    avg REAL,
    min REAL,
    max REAL,
    cou REAL,
    flag TEXT
);

CREATE INDEX reading_revisions_key ON reading_revisions (point_id, data_time, kind, factor_id);
