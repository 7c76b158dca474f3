-- Uploads of registered points whose DataTime lies too far ahead are held
-- in quarantine too, so each held upload records why it is held.
ALTER TABLE quarantine ADD COLUMN reason TEXT NOT NULL DEFAULT 'unregistered';
