-- New uploads land in recent_uploads, whose unique index is ordered by data
-- time first. Data arrives in time order, so each commit changes only the
-- last few pages of that index, where an index ordered by point changes a
-- page per point. The writer moves recent_uploads into uploads at an
-- interval (SqliteOptions::move_interval), in key order, so a move changes
-- each point's page of uploads_key once. A key is stored in at most one of the two tables: the writer merges
-- a retransmission into the table that holds the key.
CREATE TABLE recent_uploads (
    point_id INTEGER NOT NULL,
    data_time INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    factors BLOB NOT NULL
);

CREATE UNIQUE INDEX recent_uploads_key ON recent_uploads (data_time, point_id, kind);
