-- The ledger: an append-only Merkle log (RFC 9162 tree) of state changes,
-- appended in the transaction of each change.

CREATE TABLE ledger_entries (
    -- Position in the log, from 0.
    idx INTEGER PRIMARY KEY,
    -- Append time, microseconds since the Unix epoch.
    at INTEGER NOT NULL,
    -- domain.action, such as alert.firing or rule.enabled.
    kind TEXT NOT NULL,
    -- type:id of the changed record, such as alert:17.
    subject TEXT NOT NULL,
    -- engine, user:NAME or unattributed.
    actor TEXT NOT NULL,
    -- Canonical JSON: sorted keys, no whitespace.
    payload TEXT NOT NULL,
    -- RFC 9162 leaf hash of the entry's canonical encoding.
    leaf_hash BLOB NOT NULL
);

-- Hash of every complete subtree: level 0 holds the leaf hashes, and the
-- node (level, idx) covers leaves idx * 2^level .. (idx + 1) * 2^level.
CREATE TABLE ledger_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- One row: the hash function (sha256 or sm3) and the append state, the tree
-- size and the concatenated peak hashes, largest subtree first.
CREATE TABLE ledger_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    peaks BLOB NOT NULL
);

-- Signed checkpoints (C2SP signed notes), with witness cosignatures added
-- to the note as they arrive.
CREATE TABLE ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    -- Signing time, microseconds since the Unix epoch.
    at INTEGER NOT NULL,
    note TEXT NOT NULL
);
