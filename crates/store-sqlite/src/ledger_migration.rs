//! Conversion of a ledger stored one row per entry and per tree node
//! (schema versions 4 to 14) to entry bundles and hash tiles.
//!
//! The stored hashes are copied, not recomputed, so that tampering done
//! before the conversion stays visible to `oversight ledger verify`. Only
//! the nodes at tile levels (tree levels 0, 8, 16, …) are kept, because the
//! levels between them are hashed from the tile below.

use jiff::Timestamp;
use oversight_ledger::HASH_LEN;
use oversight_store::leaf_data;
use rusqlite::{Connection, params};
use serde_json::Value;
use tracing::info;

use crate::error::{SqliteError, corrupt};
use crate::ledger_tiles::{BUNDLE_WIDTH, TILE_HEIGHT, TILE_WIDTH, to_i64};

/// Fills `ledger_entry_bundles` and `ledger_tiles` from the old tables and
/// drops them. Runs inside the migration's transaction.
pub(crate) fn convert_to_tiles(conn: &Connection) -> Result<(), SqliteError> {
    let entries = convert_entries(conn)?;
    let hashes = convert_nodes(conn)?;
    conn.execute_batch("DROP TABLE ledger_entries; DROP TABLE ledger_nodes;")?;
    if entries > 0 {
        info!(
            entries,
            hashes, "converted the ledger to entry bundles and hash tiles"
        );
    }
    Ok(())
}

/// Writes each entry row as its canonical leaf data into the bundle of its
/// index, and returns the number of entries.
fn convert_entries(conn: &Connection) -> Result<u64, SqliteError> {
    let mut select = conn.prepare(
        "SELECT idx, at, kind, subject, actor, payload FROM ledger_entries ORDER BY idx",
    )?;
    let mut insert =
        conn.prepare("INSERT INTO ledger_entry_bundles (idx, entries) VALUES (?1, ?2)")?;
    let mut rows = select.query([])?;
    let mut bundle: Option<(u64, Vec<u8>)> = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let index: i64 = row.get(0)?;
        let at: i64 = row.get(1)?;
        let kind: String = row.get(2)?;
        let subject: String = row.get(3)?;
        let actor: String = row.get(4)?;
        let payload: String = row.get(5)?;
        let unconvertible = |reason: &dyn std::fmt::Display| {
            corrupt(
                "ledger entry",
                &index,
                &format!(
                    "{reason}, so the ledger cannot be converted to tiles: restore the data \
                     directory from a backup, or run `oversight ledger verify` with the \
                     previous version to find the damage"
                ),
            )
        };
        let position = u64::try_from(index).map_err(|error| unconvertible(&error))?;
        let time = Timestamp::from_microsecond(at).map_err(|error| unconvertible(&error))?;
        let payload: Value =
            serde_json::from_str(&payload).map_err(|error| unconvertible(&error))?;
        let data = leaf_data(time, &kind, &subject, &actor, &payload);

        let target = position / BUNDLE_WIDTH;
        if let Some((current, bytes)) = bundle.take_if(|(current, _)| *current != target) {
            insert.execute(params![to_i64(current), bytes])?;
        }
        let (_, bytes) = bundle.get_or_insert_with(|| (target, Vec::new()));
        bytes.extend_from_slice(&data);
        bytes.push(b'\n');
        count += 1;
    }
    if let Some((current, bytes)) = bundle {
        insert.execute(params![to_i64(current), bytes])?;
    }
    Ok(count)
}

/// Copies the hashes of the tile levels into tiles, and returns the number
/// of hashes copied.
fn convert_nodes(conn: &Connection) -> Result<u64, SqliteError> {
    let mut select = conn.prepare(
        "SELECT level, idx, hash FROM ledger_nodes WHERE level % ?1 = 0 ORDER BY level, idx",
    )?;
    let mut insert =
        conn.prepare("INSERT INTO ledger_tiles (level, idx, hashes) VALUES (?1, ?2, ?3)")?;
    let mut rows = select.query([TILE_HEIGHT])?;
    let mut tile: Option<((u8, u64), Vec<u8>)> = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let level: u8 = row.get(0)?;
        let index: i64 = row.get(1)?;
        let hash: Vec<u8> = row.get(2)?;
        let node = format!("level {level} index {index}");
        if hash.len() != HASH_LEN {
            return Err(corrupt(
                "ledger node hash",
                &node,
                &format!(
                    "it has {} bytes instead of {HASH_LEN}, so the ledger cannot be converted \
                     to tiles: restore the data directory from a backup",
                    hash.len()
                ),
            ));
        }
        let index = u64::try_from(index).map_err(|error| corrupt("ledger node", &node, &error))?;
        let target = (level / TILE_HEIGHT, index / TILE_WIDTH);
        if let Some(((tile_level, tile_index), bytes)) =
            tile.take_if(|(current, _)| *current != target)
        {
            insert.execute(params![tile_level, to_i64(tile_index), bytes])?;
        }
        let (_, bytes) = tile.get_or_insert_with(|| (target, Vec::new()));
        bytes.extend_from_slice(&hash);
        count += 1;
    }
    if let Some(((tile_level, tile_index), bytes)) = tile {
        insert.execute(params![tile_level, to_i64(tile_index), bytes])?;
    }
    Ok(count)
}
