//! The ledger tables: entry bundles, hash tiles, the append state and
//! checkpoints.
//!
//! [`append`] is the facility every state-changing write uses: it runs on
//! the writer's connection inside the transaction (or savepoint) of the
//! change, so the entry commits or rolls back with it. The append state (the
//! [`CompactRange`]: tree size and one peak hash per set bit of the size)
//! lives in the one-row table `ledger_state`, not in memory, so a rolled back
//! request also rolls back its appends without any bookkeeping in the writer.
//!
//! Entries and hashes are stored in bundles and tiles of 256
//! ([`crate::ledger_tiles`]). The leaf hashes are kept apart from the
//! entries so that an offline audit can compare the entries with them and
//! tell an altered entry from a removed, inserted or reordered one.

use jiff::Timestamp;
use oversight_ledger::{
    CompactRange, ConsistencyProof, HASH_LEN, Hash, Hasher, InclusionProof, MerkleTree, TreeError,
};
use oversight_store::{
    LeafTime, LedgerEntry, LedgerHead, NewLedgerEntry, StoreError, StoreResult, StoredCheckpoint,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{micros, timestamp};
use crate::error::{SqliteError, backend, corrupt};
use crate::ledger_tiles::{self, PendingWrites, StoredNodes, to_i64};

/// Records the hash function on a new ledger, or checks the configured one
/// against the one an existing ledger uses. With none configured, a new
/// ledger uses SHA-256 and an existing one keeps its own.
///
/// The hash function of a ledger with entries cannot change, because its
/// checkpoints and proofs commit to it.
pub(crate) fn init(conn: &Connection, configured: Option<Hasher>) -> StoreResult<()> {
    const OPERATION: &str = "open ledger";
    let stored: Option<(String, i64)> = conn
        .query_row(
            "SELECT hash, size FROM ledger_state WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(backend(OPERATION))?;
    let Some((name, size)) = stored else {
        return conn
            .execute(
                "INSERT INTO ledger_state (id, hash, size, peaks) VALUES (1, ?1, 0, x'')",
                [configured.unwrap_or_default().name()],
            )
            .map(drop)
            .map_err(backend(OPERATION));
    };
    let Some(configured) = configured.filter(|hasher| hasher.name() != name) else {
        return Ok(());
    };
    if size == 0 {
        return conn
            .execute(
                "UPDATE ledger_state SET hash = ?1 WHERE id = 1",
                [configured.name()],
            )
            .map(drop)
            .map_err(backend(OPERATION));
    }
    Err(backend(OPERATION)(SqliteError::LedgerHashMismatch {
        stored: name,
        configured: configured.name(),
        size: u64::try_from(size).unwrap_or(0),
    }))
}

/// Appends entries to the ledger within the caller's transaction and
/// returns their indexes. All entries of one call get the same time. An
/// identifier that [`NewLedgerEntry::check_identifiers`] rejects fails the
/// whole call before anything is written to the database.
///
/// Each entry is checked and encoded straight into the batch's bundle
/// buffer, so an entry costs no allocation of its own. The batch is then
/// hashed from that buffer in one call, which hashes several entries at
/// once with SHA-256.
pub(crate) fn append(conn: &Connection, entries: &[NewLedgerEntry]) -> StoreResult<Vec<u64>> {
    const OPERATION: &str = "append ledger entry";
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut range = load_range(conn)?;
    let time = LeafTime::new(Timestamp::now());
    let first = range.size();
    let mut pending = PendingWrites::new(first, entries.len());
    for entry in entries {
        pending.push_entry_with(|out| entry.write_checked_leaf_data(out, &time))?;
    }
    let mut leaves = vec![Hash::default(); entries.len()];
    range
        .hasher()
        .hash_leaves(&pending.entries().collect::<Vec<_>>(), &mut leaves);
    range.append_leaf_hashes_with(&leaves, |node, hash| pending.push_node(node, hash));
    pending.write(conn).map_err(backend(OPERATION))?;
    save_range(conn, &range)?;
    Ok((first..range.size()).collect())
}

/// Appends one entry; see [`append`].
pub(crate) fn append_one(conn: &Connection, entry: NewLedgerEntry) -> StoreResult<u64> {
    let indexes = append(conn, &[entry])?;
    Ok(indexes[0])
}

fn load_range(conn: &Connection) -> StoreResult<CompactRange> {
    const OPERATION: &str = "read ledger state";
    let (name, size, peaks): (String, i64, Vec<u8>) = conn
        .prepare_cached("SELECT hash, size, peaks FROM ledger_state WHERE id = 1")
        .and_then(|mut statement| {
            statement.query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        })
        .map_err(backend(OPERATION))?;
    let hasher: Hasher = name
        .parse()
        .map_err(|error| backend(OPERATION)(corrupt("ledger hash", &name, &error)))?;
    let size = u64::try_from(size)
        .map_err(|error| backend(OPERATION)(corrupt("ledger size", &size, &error)))?;
    let peaks = split_hashes(&peaks).map_err(backend(OPERATION))?;
    CompactRange::from_parts(hasher, size, peaks)
        .map_err(|error| backend(OPERATION)(corrupt("ledger peaks", &size, &error)))
}

fn save_range(conn: &Connection, range: &CompactRange) -> StoreResult<()> {
    let peaks: Vec<u8> = range
        .peaks()
        .iter()
        .flat_map(|peak| peak.as_bytes().iter().copied())
        .collect();
    conn.prepare_cached("UPDATE ledger_state SET size = ?1, peaks = ?2 WHERE id = 1")
        .and_then(|mut statement| statement.execute(params![to_i64(range.size()), peaks]))
        .map(drop)
        .map_err(backend("save ledger state"))
}

fn split_hashes(bytes: &[u8]) -> Result<Vec<Hash>, SqliteError> {
    if !bytes.len().is_multiple_of(HASH_LEN) {
        return Err(corrupt(
            "ledger peaks",
            &bytes.len(),
            &format!("length is not a multiple of {HASH_LEN}"),
        ));
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|chunk| Hash::from_slice(chunk).expect("chunks have the hash length"))
        .collect())
}

fn hash_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Result<Hash, SqliteError>> {
    let bytes: Vec<u8> = row.get(index)?;
    Ok(Hash::from_slice(&bytes).map_err(|error| corrupt("ledger hash", &hex(&bytes), &error)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// --- reads -------------------------------------------------------------------

/// Returns the size and root after the latest commit.
pub(crate) fn head(conn: &Connection) -> StoreResult<LedgerHead> {
    let range = load_range(conn)?;
    Ok(LedgerHead {
        size: range.size(),
        root: range.root(),
        hasher: range.hasher(),
    })
}

/// Returns one entry.
pub(crate) fn entry(conn: &Connection, index: u64) -> StoreResult<Option<LedgerEntry>> {
    const OPERATION: &str = "get ledger entry";
    let hasher = load_range(conn)?.hasher();
    let mut found =
        ledger_tiles::read_entries(conn, hasher, index, 1).map_err(backend(OPERATION))?;
    Ok(found.pop().filter(|entry| entry.index == index))
}

/// Returns up to `limit` entries from `from` on.
pub(crate) fn entries(conn: &Connection, from: u64, limit: u32) -> StoreResult<Vec<LedgerEntry>> {
    const OPERATION: &str = "list ledger entries";
    let hasher = load_range(conn)?.hasher();
    ledger_tiles::read_entries(conn, hasher, from, u64::from(limit)).map_err(backend(OPERATION))
}

fn tree_error(operation: &'static str) -> impl Fn(TreeError<SqliteError>) -> StoreError {
    move |error| match error {
        TreeError::Source(source) => backend(operation)(source),
        other => StoreError::InvalidArgument(other.to_string()),
    }
}

/// Returns the inclusion proof of `index` in the tree of `size` entries.
pub(crate) fn inclusion_proof(
    conn: &Connection,
    index: u64,
    size: u64,
) -> StoreResult<InclusionProof> {
    const OPERATION: &str = "prove ledger inclusion";
    let range = load_range(conn)?;
    let ledger_size = range.size();
    if size > ledger_size {
        return Err(StoreError::InvalidArgument(format!(
            "tree size {size} is beyond the ledger, which has {ledger_size} entries: \
             request a size up to {ledger_size}"
        )));
    }
    if index >= size {
        return Err(StoreError::InvalidArgument(format!(
            "entry index {index} is not below tree size {size}: an inclusion proof needs \
             index < size"
        )));
    }
    MerkleTree::new(range.hasher(), StoredNodes::new(conn, range.hasher()))
        .inclusion_proof(index, size)
        .map_err(tree_error(OPERATION))
}

/// Returns the consistency proof from the tree of `first` entries to `second`.
pub(crate) fn consistency_proof(
    conn: &Connection,
    first: u64,
    second: u64,
) -> StoreResult<ConsistencyProof> {
    const OPERATION: &str = "prove ledger consistency";
    let range = load_range(conn)?;
    let ledger_size = range.size();
    if first == 0 {
        return Err(StoreError::InvalidArgument(
            "first tree size 0 has no consistency proof: every tree extends the empty tree, \
             so request first >= 1"
                .to_owned(),
        ));
    }
    if first > second {
        return Err(StoreError::InvalidArgument(format!(
            "first tree size {first} is larger than second tree size {second}: \
             request first <= second"
        )));
    }
    if second > ledger_size {
        return Err(StoreError::InvalidArgument(format!(
            "second tree size {second} is beyond the ledger, which has {ledger_size} entries: \
             request a size up to {ledger_size}"
        )));
    }
    MerkleTree::new(range.hasher(), StoredNodes::new(conn, range.hasher()))
        .consistency_proof(first, second)
        .map_err(tree_error(OPERATION))
}

// --- checkpoints -------------------------------------------------------------

const CHECKPOINT_COLUMNS: &str = "size, root, at, note";

fn decode_checkpoint(row: &Row<'_>) -> rusqlite::Result<Result<StoredCheckpoint, SqliteError>> {
    let size: i64 = row.get(0)?;
    let root = hash_column(row, 1)?;
    let at: i64 = row.get(2)?;
    let note: String = row.get(3)?;
    Ok((|| {
        Ok(StoredCheckpoint {
            size: u64::try_from(size).map_err(|error| corrupt("checkpoint size", &size, &error))?,
            root: root?,
            time: timestamp(at)?,
            note,
        })
    })())
}

/// Stores a checkpoint; a second one of the same size must have the same root.
pub(crate) fn add_checkpoint(conn: &Connection, checkpoint: &StoredCheckpoint) -> StoreResult<()> {
    const OPERATION: &str = "store ledger checkpoint";
    let existing = checkpoint_at(conn, checkpoint.size)?;
    if let Some(existing) = existing {
        if existing.root != checkpoint.root {
            return Err(StoreError::Conflict(format!(
                "a checkpoint of size {} with root {} is stored, so one with root {} \
                 would sign two histories",
                checkpoint.size, existing.root, checkpoint.root
            )));
        }
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO ledger_checkpoints (size, root, at, note) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            to_i64(checkpoint.size),
            checkpoint.root.as_bytes().as_slice(),
            micros(checkpoint.time),
            checkpoint.note
        ])
    })
    .map(drop)
    .map_err(backend(OPERATION))
}

/// Replaces the note of the checkpoint of `size`.
pub(crate) fn replace_checkpoint_note(conn: &Connection, size: u64, note: &str) -> StoreResult<()> {
    let changed = conn
        .prepare_cached("UPDATE ledger_checkpoints SET note = ?2 WHERE size = ?1")
        .and_then(|mut statement| statement.execute(params![to_i64(size), note]))
        .map_err(backend("update ledger checkpoint"))?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "ledger checkpoint of size",
            key: size.to_string(),
        });
    }
    Ok(())
}

fn checkpoint_at(conn: &Connection, size: u64) -> StoreResult<Option<StoredCheckpoint>> {
    const OPERATION: &str = "get ledger checkpoint";
    let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE size = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_row([to_i64(size)], decode_checkpoint)
                .optional()
        })
        .map_err(backend(OPERATION))?
        .transpose()
        .map_err(backend(OPERATION))
}

/// Returns the checkpoint of the largest size.
pub(crate) fn latest_checkpoint(conn: &Connection) -> StoreResult<Option<StoredCheckpoint>> {
    const OPERATION: &str = "get latest ledger checkpoint";
    let sql =
        format!("SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY size DESC LIMIT 1");
    conn.prepare_cached(&sql)
        .and_then(|mut statement| statement.query_row([], decode_checkpoint).optional())
        .map_err(backend(OPERATION))?
        .transpose()
        .map_err(backend(OPERATION))
}

/// Returns up to `limit` checkpoints larger than `after_size`, smallest first.
pub(crate) fn checkpoints(
    conn: &Connection,
    after_size: u64,
    limit: u32,
) -> StoreResult<Vec<StoredCheckpoint>> {
    const OPERATION: &str = "list ledger checkpoints";
    let after = i64::try_from(after_size).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE size > ?1 \
         ORDER BY size LIMIT ?2"
    );
    let rows: Vec<Result<StoredCheckpoint, SqliteError>> = conn
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params![after, limit], decode_checkpoint)?
                .collect()
        })
        .map_err(backend(OPERATION))?;
    rows.into_iter()
        .collect::<Result<_, _>>()
        .map_err(backend(OPERATION))
}
