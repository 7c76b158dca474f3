-- When each point last made contact without data: an HJ 212 heartbeat or
-- another command without readings, sent with the point's password.
-- Microseconds since the Unix epoch, NULL before the first contact.
ALTER TABLE points ADD COLUMN last_contact_at INTEGER;
