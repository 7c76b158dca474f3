-- A replaced HJ 212 password that the point's datalogger may still send
-- until previous_password_until (microseconds since the Unix epoch), so the
-- device can be switched to the new password without rejected uploads. Both
-- are NULL when no replaced password is valid.
ALTER TABLE points ADD COLUMN previous_password TEXT;
ALTER TABLE points ADD COLUMN previous_password_until INTEGER;
