-- The contact of the person who reported a public-report task. It is kept
-- out of the task's JSON body and its transition records, so the ledger
-- never holds it and a row can be erased without touching the ledger.
CREATE TABLE task_reporters (
    task_id TEXT PRIMARY KEY REFERENCES tasks (id),
    name TEXT NOT NULL,
    -- Digits only, as oversight_core::personal::PhoneNumber stores it.
    phone TEXT NOT NULL,
    -- 18 characters with an upper-case X, or NULL when not given.
    id_number TEXT
) WITHOUT ROWID;
