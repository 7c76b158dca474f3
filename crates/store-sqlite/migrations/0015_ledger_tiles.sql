-- The ledger moves from one row per entry and per tree node to entry
-- bundles and hash tiles of 256 (the C2SP tlog-tiles layout). The
-- conversion that follows this script in the same transaction
-- (ledger_migration.rs) fills the new tables from ledger_entries and
-- ledger_nodes, then drops those.

-- Up to 256 entries, entry i at line i % 256 of bundle i / 256: each line
-- is the entry's canonical leaf data (the bytes its leaf hash covers)
-- followed by a newline.
CREATE TABLE ledger_entry_bundles (
    idx INTEGER PRIMARY KEY,
    entries BLOB NOT NULL
);

-- Up to 256 concatenated 32-byte hashes of tree level 8 * level: tile
-- (level, idx) holds the nodes idx * 256 .. idx * 256 + 255 of that tree
-- level, so level 0 tiles hold the leaf hashes. Only the last tile of each
-- level is partial.
CREATE TABLE ledger_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
