-- The address (IP:port) of the connection that sent each revision, so an
-- operator can tell whether a differing resend came from the point's own
-- datalogger. NULL for revisions stored before this column existed and for
-- readings stored without a connection, such as those of a released
-- quarantined upload that had no recorded address.
ALTER TABLE reading_revisions ADD COLUMN peer TEXT;
