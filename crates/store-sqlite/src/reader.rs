//! [`LedgerReader`]: read-only access to the ledger tables of a database
//! file, for offline verification without starting a store.
//!
//! The reader opens the file read-only and applies no migrations, so it
//! changes nothing on disk, also when the database is being examined after
//! tampering.

use std::path::Path;

use oversight_ledger::{Hasher, NodeSource};
use oversight_store::{LedgerEntry, StoreError, StoreResult, StoredCheckpoint};
use rusqlite::{Connection, OpenFlags};

use crate::error::{SqliteError, backend, corrupt};
use crate::ledger;
use crate::ledger_tiles::{self, StoredNodes};
use crate::store::DATABASE_FILE_NAME;

/// Read-only access to a database's ledger.
#[derive(Debug)]
pub struct LedgerReader {
    conn: Connection,
    hasher: Hasher,
}

impl LedgerReader {
    /// Opens the database at `path`, or `oversight.db` inside it when `path`
    /// is a directory, read-only.
    pub fn open(path: &Path) -> StoreResult<Self> {
        const OPERATION: &str = "open database read-only";
        let file = if path.is_dir() {
            path.join(DATABASE_FILE_NAME)
        } else {
            path.to_owned()
        };
        if !file.is_file() {
            return Err(StoreError::NotFound {
                what: "database file",
                key: file.display().to_string(),
            });
        }
        let conn = Connection::open_with_flags(
            &file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend(OPERATION))?;
        let has_table = |name: &str| -> StoreResult<bool> {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0).map(|count| count > 0),
            )
            .map_err(backend(OPERATION))
        };
        if !has_table("ledger_state")? {
            return Err(backend(OPERATION)(corrupt(
                "database",
                &file.display(),
                &"it has no ledger tables: start `oversight serve` on it once, or pick the \
                  data directory of an Oversight server",
            )));
        }
        if !has_table("ledger_tiles")? {
            return Err(backend(OPERATION)(corrupt(
                "database",
                &file.display(),
                &"it stores the ledger in the layout of an older Oversight, one row per \
                  entry and node: open it once with this version (for example with \
                  `oversight serve`) to convert it to tiles, or verify it with the older \
                  version",
            )));
        }
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(backend(OPERATION))?;
        let supported = crate::schema::latest_version();
        if version > supported {
            return Err(backend(OPERATION)(SqliteError::TooNew {
                found: version,
                supported,
            }));
        }
        // One read transaction for the reader's whole life, so that every
        // read returns the same commit even while a server appends.
        conn.execute_batch("BEGIN").map_err(backend(OPERATION))?;
        let hasher = ledger::head(&conn)?.hasher;
        Ok(Self { conn, hasher })
    }

    /// Returns the ledger's hash function and its size according to `ledger_state`.
    pub fn state(&self) -> StoreResult<(Hasher, u64)> {
        let head = ledger::head(&self.conn)?;
        Ok((head.hasher, head.size))
    }

    /// Calls `visit` with every entry stored in `ledger_entry_bundles`, in
    /// bundle and line order, or with the decoding error of an entry, until
    /// `visit` returns `false`. A compressed bundle that fails to decompress
    /// is one error, after which nothing more is visited.
    ///
    /// An entry's index is its position in that order, and its leaf hash is
    /// the hash of its stored bytes. An entry that is not in the canonical
    /// encoding is a decoding error.
    pub fn for_each_entry(
        &self,
        mut visit: impl FnMut(Result<LedgerEntry, String>) -> bool,
    ) -> StoreResult<()> {
        const OPERATION: &str = "read ledger entries";
        let mut statement = self
            .conn
            .prepare("SELECT idx, entries FROM ledger_entry_bundles ORDER BY idx")
            .map_err(backend(OPERATION))?;
        let mut rows = statement.query([]).map_err(backend(OPERATION))?;
        let mut position: u64 = 0;
        while let Some(row) = rows.next().map_err(backend(OPERATION))? {
            let index: i64 = row.get(0).map_err(backend(OPERATION))?;
            let stored: Vec<u8> = row.get(1).map_err(backend(OPERATION))?;
            let bundle = u64::try_from(index)
                .map_err(|_| format!("stored ledger bundle index {index} is negative"))
                .and_then(|index| {
                    ledger_tiles::bundle_entries_data(index, stored)
                        .map_err(|error| error.to_string())
                });
            let bundle = match bundle {
                Ok(bundle) => bundle,
                Err(error) => {
                    visit(Err(error));
                    return Ok(());
                }
            };
            for data in ledger_tiles::bundle_entries(&bundle) {
                let leaf_hash = self.hasher.hash_leaf(data);
                let entry = ledger_tiles::decode_leaf(position, data, leaf_hash);
                if !visit(entry.map_err(|error| error.to_string())) {
                    return Ok(());
                }
                position += 1;
            }
        }
        Ok(())
    }

    /// Returns the stored tree nodes, leaf hashes included.
    pub fn nodes(
        &self,
    ) -> impl NodeSource<Error = impl std::error::Error + Send + Sync + 'static> + '_ {
        StoredNodes::new(&self.conn, self.hasher)
    }

    /// Returns every stored checkpoint, smallest size first.
    pub fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        ledger::checkpoints(&self.conn, 0, u32::MAX)
    }
}
