//! The ledger's storage layout: hash tiles and entry bundles.
//!
//! The layout follows the C2SP tlog-tiles model. A tile holds up to
//! [`TILE_WIDTH`] hashes of one tree level, concatenated. The tile
//! `(level L, index N)` contains the hashes of the nodes at tree level
//! `TILE_HEIGHT * L`, from `N * 256` on. Level 0 tiles contain the leaf hashes.
//! Nodes at the tree levels between two tile levels are hashed from the tile
//! below when a proof needs them. An entry bundle holds up to
//! [`BUNDLE_WIDTH`] entries, each as its canonical leaf data followed by a
//! newline (the canonical encoding escapes newlines inside strings).
//!
//! Full tiles and bundles never change. An append adds to the last, partial
//! tile of each level and to the last bundle in place, so a batch of 1,000
//! entries writes about a dozen rows instead of three rows per entry.
//!
//! A bundle is stored compressed with LZ4 once it is full, and as it is
//! while it is the partial last one, so that an append to it adds bytes
//! without decompressing anything. The first byte differs: a
//! bundle stored as it is starts with `{`, which opens its first entry, and
//! a compressed one with [`COMPRESSED_BUNDLE`]. Ledger entries repeat their
//! keys, kinds and actors, so LZ4 shrinks a bundle several times, and the
//! bytes that SQLite writes to its WAL and then copies into the database
//! file shrink with it.

use std::cell::RefCell;
use std::ops::Range;

use jiff::Timestamp;
use oversight_ledger::{HASH_LEN, Hash, Hasher, NodeId, NodeSource};
use oversight_store::LedgerEntry;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{SqliteError, corrupt};

/// Hashes per tile.
pub(crate) const TILE_WIDTH: u64 = 256;

/// Tree levels one tile level spans: 2^8 = [`TILE_WIDTH`].
pub(crate) const TILE_HEIGHT: u8 = 8;

/// Entries per bundle.
pub(crate) const BUNDLE_WIDTH: u64 = 256;

/// First byte of a compressed bundle. The length of the bundle's entries
/// follows as a 32-bit little-endian number, then the LZ4 block of them.
const COMPRESSED_BUNDLE: u8 = 0x01;

/// Bytes before the LZ4 block of a compressed bundle.
const COMPRESSED_HEADER: usize = 5;

/// The largest bundle stored compressed. A larger one, of entries of more
/// than 1 MiB on average, is stored as it is, so that reading a damaged
/// compressed bundle never allocates more than this.
const MAX_COMPRESSED_ENTRIES: usize = 256 << 20;

/// Returns the stored form of the entries of a full bundle: compressed,
/// unless they exceed [`MAX_COMPRESSED_ENTRIES`].
fn compress_bundle(entries: &[u8]) -> Vec<u8> {
    if entries.len() > MAX_COMPRESSED_ENTRIES {
        return entries.to_vec();
    }
    let length = u32::try_from(entries.len()).expect("the limit is below 4 GiB");
    let mut stored =
        vec![0; COMPRESSED_HEADER + lz4_flex::block::get_maximum_output_size(entries.len())];
    stored[0] = COMPRESSED_BUNDLE;
    stored[1..COMPRESSED_HEADER].copy_from_slice(&length.to_le_bytes());
    let written = lz4_flex::block::compress_into(entries, &mut stored[COMPRESSED_HEADER..])
        .expect("the buffer has the maximum compressed size");
    stored.truncate(COMPRESSED_HEADER + written);
    stored
}

/// Returns the entries of bundle `index` from its stored form, which is
/// compressed or not.
pub(crate) fn bundle_entries_data(index: u64, stored: Vec<u8>) -> Result<Vec<u8>, SqliteError> {
    if stored.first() != Some(&COMPRESSED_BUNDLE) {
        return Ok(stored);
    }

    let invalid = |reason: &dyn std::fmt::Display| {
        let first = index.saturating_mul(BUNDLE_WIDTH);
        let last = first.saturating_add(BUNDLE_WIDTH - 1);
        corrupt(
            "ledger bundle",
            &index,
            &format!("{reason}. It contains entries {first} to {last}"),
        )
    };
    let Some((header, block)) = stored.split_at_checked(COMPRESSED_HEADER) else {
        return Err(invalid(&"its compressed form is cut short"));
    };

    let length = u32::from_le_bytes(
        header[1..]
            .try_into()
            .expect("the header has 4 length bytes"),
    );
    let length = usize::try_from(length).expect("u32 fits usize");

    // An LZ4 block expands at most 255 times, and larger bundles are not
    // compressed, so a larger length was not written by the compressor and
    // is not allocated.
    if length > block.len().saturating_mul(255) || length > MAX_COMPRESSED_ENTRIES {
        return Err(invalid(&format!(
            "its compressed form claims {length} bytes from a block of {}",
            block.len()
        )));
    }

    let entries = lz4_flex::block::decompress(block, length)
        .map_err(|error| invalid(&format!("its LZ4 block failed to decompress: {error}")))?;
    if entries.len() != length {
        return Err(invalid(&format!(
            "its LZ4 block contains {} bytes, not the {length} its header states",
            entries.len()
        )));
    }
    Ok(entries)
}

/// Hashes and entries of one append, grouped by the rows they go to.
#[derive(Debug)]
pub(crate) struct PendingWrites {
    /// The ledger size before the append.
    start: u64,
    /// Canonical leaf data of the new entries, each followed by a newline.
    entries: Vec<u8>,
    /// End offset in `entries` of each new entry.
    entry_ends: Vec<usize>,
    /// New hashes per tile level, in node order.
    tile_hashes: Vec<Vec<u8>>,
}

impl PendingWrites {
    /// Starts collecting an append to a ledger of `start` entries.
    pub(crate) fn new(start: u64, capacity: usize) -> Self {
        Self {
            start,
            entries: Vec::with_capacity(capacity * 192),
            entry_ends: Vec::with_capacity(capacity),
            tile_hashes: vec![Vec::with_capacity(capacity * HASH_LEN)],
        }
    }

    /// Adds the next entry, whose leaf data `write` appends to the buffer it
    /// is given. When `write` fails, the entry is not added and its error is
    /// returned.
    pub(crate) fn push_entry_with<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.entries.len();
        if let Err(error) = write(&mut self.entries) {
            self.entries.truncate(start);
            return Err(error);
        }
        self.entries.push(b'\n');
        self.entry_ends.push(self.entries.len());
        Ok(())
    }

    /// Returns the leaf data of each entry added, in order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.entry_ends.iter().map(move |&end| {
            let data = &self.entries[start..end - 1];
            start = end;
            data
        })
    }

    /// Adds a completed tree node. Only nodes at tile levels are stored.
    pub(crate) fn push_node(&mut self, node: NodeId, hash: &Hash) {
        if !node.level.is_multiple_of(TILE_HEIGHT) {
            return;
        }
        let tile_level = usize::from(node.level / TILE_HEIGHT);
        if self.tile_hashes.len() <= tile_level {
            self.tile_hashes.resize_with(tile_level + 1, Vec::new);
        }
        self.tile_hashes[tile_level].extend_from_slice(hash.as_bytes());
    }

    /// Writes the collected entries and hashes, appending to the partial
    /// bundle and tiles.
    pub(crate) fn write(&self, conn: &Connection) -> Result<(), SqliteError> {
        let mut from = 0;
        for (bundle, count) in rows_touched(self.start, self.entry_ends.len() as u64, BUNDLE_WIDTH)
        {
            let to = from + usize::try_from(count).expect("a batch fits in memory");
            let start_byte = if from == 0 {
                0
            } else {
                self.entry_ends[from - 1]
            };
            let end_byte = self.entry_ends[to - 1];
            let first = bundle * BUNDLE_WIDTH;
            let position = self.start.max(first) - first;
            write_bundle(
                conn,
                bundle,
                position,
                position + count == BUNDLE_WIDTH,
                &self.entries[start_byte..end_byte],
            )?;
            from = to;
        }

        let mut append_tile = conn.prepare_cached(
            "INSERT INTO ledger_tiles (level, idx, hashes) VALUES (?1, ?2, ?3) \
             ON CONFLICT (level, idx) DO UPDATE SET hashes = CAST(hashes || excluded.hashes AS BLOB)",
        )?;
        for (tile_level, hashes) in self.tile_hashes.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let tree_level =
                u32::try_from(tile_level).expect("few tile levels") * u32::from(TILE_HEIGHT);
            let first_node = self.start >> tree_level;
            let count = (hashes.len() / HASH_LEN) as u64;
            let mut offset = 0;
            for (tile, in_tile) in rows_touched(first_node, count, TILE_WIDTH) {
                let end =
                    offset + usize::try_from(in_tile).expect("a tile fits in memory") * HASH_LEN;
                append_tile.execute(params![tile_level, to_i64(tile), &hashes[offset..end]])?;
                offset = end;
            }
        }
        Ok(())
    }
}

/// Writes `entries` into bundle `bundle`, after the `position` entries it
/// holds. A bundle that this write fills is stored compressed; any other is
/// appended to as it is.
fn write_bundle(
    conn: &Connection,
    bundle: u64,
    position: u64,
    fills: bool,
    entries: &[u8],
) -> Result<(), SqliteError> {
    let store = |stored: &[u8]| -> Result<(), SqliteError> {
        conn.prepare_cached(
            "INSERT INTO ledger_entry_bundles (idx, entries) VALUES (?1, ?2) \
             ON CONFLICT (idx) DO UPDATE SET entries = excluded.entries",
        )?
        .execute(params![to_i64(bundle), stored])?;
        Ok(())
    };
    if position == 0 {
        return if fills {
            store(&compress_bundle(entries))
        } else {
            store(entries)
        };
    }
    if !fills {
        // Adds the bytes to a partial bundle stored as it is. Appends never
        // compress a partial bundle, but readers accept one that is, so
        // such a bundle is decompressed below instead of extended.
        let appended = conn
            .prepare_cached(
                "UPDATE ledger_entry_bundles \
                 SET entries = CAST(entries || ?2 AS BLOB) \
                 WHERE idx = ?1 AND substr(entries, 1, 1) <> x'01'",
            )?
            .execute(params![to_i64(bundle), entries])?;
        if appended == 1 {
            return Ok(());
        }
    }
    let partial: Vec<u8> = conn
        .prepare_cached("SELECT entries FROM ledger_entry_bundles WHERE idx = ?1")?
        .query_row([to_i64(bundle)], |row| row.get(0))
        .optional()?
        .ok_or_else(|| {
            corrupt(
                "ledger bundle",
                &bundle,
                &format!("missing although the ledger state counts {position} entries in it"),
            )
        })?;
    let mut whole = bundle_entries_data(bundle, partial)?;
    whole.extend_from_slice(entries);
    if fills {
        store(&compress_bundle(&whole))
    } else {
        store(&whole)
    }
}

/// Splits `count` items from position `first` into the rows of `width`
/// items they fall in, as (row index, items in that row).
fn rows_touched(first: u64, count: u64, width: u64) -> Vec<(u64, u64)> {
    let mut rows = Vec::new();
    let mut position = first;
    let end = first + count;
    while position < end {
        let row = position / width;
        let row_end = ((row + 1) * width).min(end);
        rows.push((row, row_end - position));
        position = row_end;
    }
    rows
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).expect("ledger indexes stay below 2^63")
}

/// Reads one tile, or `None` when it does not exist yet.
fn read_tile(conn: &Connection, level: u8, index: u64) -> Result<Option<Vec<u8>>, SqliteError> {
    let Ok(index) = i64::try_from(index) else {
        return Ok(None);
    };
    let mut statement =
        conn.prepare_cached("SELECT hashes FROM ledger_tiles WHERE level = ?1 AND idx = ?2")?;
    let hashes: Option<Vec<u8>> = statement
        .query_row(params![level, index], |row| row.get(0))
        .optional()?;
    match hashes {
        Some(hashes) if !hashes.len().is_multiple_of(HASH_LEN) => Err(corrupt(
            "ledger tile",
            &format!("level {level} index {index}"),
            &format!(
                "its length {} is not a multiple of {HASH_LEN}",
                hashes.len()
            ),
        )),
        other => Ok(other),
    }
}

/// The fields of an entry's leaf data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeafFields {
    actor: String,
    kind: String,
    payload: Value,
    subject: String,
    time: String,
}

/// Decodes the leaf data of the entry at `index`, which must be in its
/// canonical encoding.
pub(crate) fn decode_leaf(
    index: u64,
    data: &[u8],
    leaf_hash: Hash,
) -> Result<LedgerEntry, SqliteError> {
    let text = || excerpt(data);
    let fields: LeafFields =
        serde_json::from_slice(data).map_err(|error| corrupt("ledger entry", &text(), &error))?;
    let time: Timestamp = fields
        .time
        .parse()
        .map_err(|error| corrupt("ledger entry time", &fields.time, &error))?;
    let entry = LedgerEntry {
        index,
        time,
        kind: fields.kind,
        subject: fields.subject,
        actor: fields.actor,
        payload: fields.payload,
        leaf_hash,
    };
    if entry.leaf_data() != data {
        return Err(corrupt(
            "ledger entry",
            &text(),
            &"it is not in the canonical encoding",
        ));
    }
    Ok(entry)
}

/// Returns the start of `data` as text for an error message, with the
/// number of bytes left out.
fn excerpt(data: &[u8]) -> String {
    const SHOWN: usize = 300;
    let Some(rest) = data.len().checked_sub(SHOWN).filter(|rest| *rest > 0) else {
        return String::from_utf8_lossy(data).into_owned();
    };
    format!(
        "{}… ({rest} more bytes)",
        String::from_utf8_lossy(&data[..SHOWN])
    )
}

/// Splits a bundle into the leaf data of its entries.
pub(crate) fn bundle_entries(bundle: &[u8]) -> impl Iterator<Item = &[u8]> {
    bundle
        .strip_suffix(b"\n")
        .unwrap_or(bundle)
        .split(|byte| *byte == b'\n')
        .filter(move |_| !bundle.is_empty())
}

/// Reads up to `limit` entries from `from` on, with their leaf hashes.
pub(crate) fn read_entries(
    conn: &Connection,
    hasher: Hasher,
    from: u64,
    limit: u64,
) -> Result<Vec<LedgerEntry>, SqliteError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let Ok(first_bundle) = i64::try_from(from / BUNDLE_WIDTH) else {
        return Ok(out);
    };
    let mut statement = conn.prepare_cached(
        "SELECT idx, entries FROM ledger_entry_bundles WHERE idx >= ?1 ORDER BY idx",
    )?;
    let mut rows = statement.query([first_bundle])?;
    let nodes = StoredNodes::new(conn, hasher);
    let mut leaf_hashes = Vec::new();
    while let Some(row) = rows.next()? {
        let bundle: i64 = row.get(0)?;
        let bundle =
            u64::try_from(bundle).map_err(|error| corrupt("ledger bundle", &bundle, &error))?;
        let data = bundle_entries_data(bundle, row.get(1)?)?;
        let base = bundle * BUNDLE_WIDTH;
        let lines: Vec<&[u8]> = bundle_entries(&data).collect();
        let skip = from.saturating_sub(base);
        let end = (base + lines.len() as u64).min(from + limit);
        if base + skip >= end {
            continue;
        }
        leaf_hashes.clear();
        nodes.leaf_hashes(base + skip..end, &mut leaf_hashes)?;
        for (offset, line) in lines[usize::try_from(skip).unwrap_or(usize::MAX)..]
            .iter()
            .take(leaf_hashes.len())
            .enumerate()
        {
            let index = base + skip + offset as u64;
            out.push(decode_leaf(index, line, leaf_hashes[offset])?);
        }
        if out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// The stored tree nodes, read from the tiles through a connection.
///
/// A node between two tile levels is hashed from the `2^r` hashes of the
/// tile below it (`r` < 8), so a proof costs at most 255 hashes per tile
/// level on top of its O(log n) reads. The last tile read is kept, because
/// a proof reads neighbouring nodes of the same tile.
#[derive(Debug)]
pub(crate) struct StoredNodes<'a> {
    conn: &'a Connection,
    hasher: Hasher,
    last_tile: RefCell<Option<(u8, u64, Vec<u8>)>>,
}

impl<'a> StoredNodes<'a> {
    pub(crate) fn new(conn: &'a Connection, hasher: Hasher) -> Self {
        Self {
            conn,
            hasher,
            last_tile: RefCell::new(None),
        }
    }

    /// Calls `read` with the hashes of a tile, empty when the tile does not exist.
    fn with_tile<T>(
        &self,
        level: u8,
        index: u64,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, SqliteError> {
        let mut cached = self.last_tile.borrow_mut();
        let hit = matches!(&*cached, Some((l, i, _)) if *l == level && *i == index);
        if !hit {
            let hashes = read_tile(self.conn, level, index)?.unwrap_or_default();
            *cached = Some((level, index, hashes));
        }
        let (_, _, hashes) = cached.as_ref().expect("the tile was just cached");
        Ok(read(hashes))
    }

    /// Returns the hash of the complete subtree `node`, hashing it from the
    /// tile below when its level is not a tile level.
    fn node(&self, node: NodeId) -> Result<Option<Hash>, SqliteError> {
        let tile_level = node.level / TILE_HEIGHT;
        let rise = node.level % TILE_HEIGHT;
        let Some(first) = node.index.checked_shl(u32::from(rise)) else {
            return Ok(None);
        };
        let count = 1_usize << rise;
        let slot = usize::try_from(first % TILE_WIDTH).expect("a slot fits usize");
        self.with_tile(tile_level, first / TILE_WIDTH, |hashes| {
            let bytes = hashes.get(slot * HASH_LEN..(slot + count) * HASH_LEN)?;
            let mut level: Vec<Hash> = bytes
                .chunks_exact(HASH_LEN)
                .map(|chunk| Hash::from_slice(chunk).expect("chunks have the hash length"))
                .collect();
            while level.len() > 1 {
                level = level
                    .chunks_exact(2)
                    .map(|pair| self.hasher.hash_children(&pair[0], &pair[1]))
                    .collect();
            }
            level.pop()
        })
    }
}

impl NodeSource for StoredNodes<'_> {
    type Error = SqliteError;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
        self.node(NodeId::new(0, index))?.ok_or_else(|| {
            corrupt(
                "ledger leaf hash",
                &index,
                &"missing from ledger_tiles although below the ledger size",
            )
        })
    }

    fn leaf_hashes(&self, range: Range<u64>, out: &mut Vec<Hash>) -> Result<(), Self::Error> {
        let mut position = range.start;
        while position < range.end {
            let tile = position / TILE_WIDTH;
            let tile_end = ((tile + 1) * TILE_WIDTH).min(range.end);
            let first = usize::try_from(position % TILE_WIDTH).expect("a slot fits usize");
            let count = usize::try_from(tile_end - position).expect("a count fits usize");
            let complete = self.with_tile(0, tile, |hashes| {
                let Some(bytes) = hashes.get(first * HASH_LEN..(first + count) * HASH_LEN) else {
                    return false;
                };
                out.extend(
                    bytes
                        .chunks_exact(HASH_LEN)
                        .map(|chunk| Hash::from_slice(chunk).expect("chunks have the hash length")),
                );
                true
            })?;
            if !complete {
                return Err(corrupt(
                    "ledger leaf hashes",
                    &format!("{}..{}", position, tile_end),
                    &"some are missing from ledger_tiles",
                ));
            }
            position = tile_end;
        }
        Ok(())
    }

    fn complete_subtree_hash(&self, node: NodeId) -> Result<Option<Hash>, Self::Error> {
        self.node(node)
    }

    fn min_cached_level(&self) -> u8 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_leaf_accepts_computed_floats() {
        // Averages and sums of readings, whose shortest decimal form has up
        // to 17 significant digits, must decode to the same bits, or the
        // entry's canonical encoding changes and reads as altered.
        let mut values = vec![42.98600000000001, 43.431000000000004, 0.1 + 0.2, 1.0 / 3.0];
        let mut sum = 0.0_f64;
        for step in 1..20_000_u32 {
            sum += f64::from(step) * 0.001 + 0.017;
            values.push(sum / f64::from(step));
        }
        let time: Timestamp = "2026-12-05T10:56:04.686121Z".parse().unwrap();
        let mut failures = Vec::new();
        for value in values {
            let payload = serde_json::json!({"values": {"value": value}});
            let data =
                oversight_store::leaf_data(time, "alert.repeated", "alert:5", "engine", &payload);
            if let Err(error) = decode_leaf(0, &data, Hash::default()) {
                failures.push(format!("{value:?}: {error}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} floats failed, first: {}",
            failures.len(),
            failures[0]
        );
    }

    fn sample_bundle() -> Vec<u8> {
        let mut entries = Vec::new();
        for number in 0..BUNDLE_WIDTH {
            entries.extend_from_slice(
                format!("{{\"actor\":\"engine\",\"kind\":\"rule.enabled\",\"subject\":\"rule:{number}\"}}\n")
                    .as_bytes(),
            );
        }
        entries
    }

    #[test]
    fn compressed_bundle_round_trips() {
        let entries = sample_bundle();
        let stored = compress_bundle(&entries);
        assert_eq!(stored[0], COMPRESSED_BUNDLE);
        assert!(stored.len() * 4 < entries.len(), "{} bytes", stored.len());
        assert_eq!(
            bundle_entries_data(3, stored).expect("decompresses"),
            entries
        );
        // A bundle stored as it is comes back unchanged.
        assert_eq!(
            bundle_entries_data(3, entries.clone()).expect("plain"),
            entries
        );
    }

    #[test]
    fn damaged_compressed_bundle_is_named() {
        let stored = compress_bundle(&sample_bundle());
        let cases = [
            (stored[..3].to_vec(), "cut short"),
            (stored[..stored.len() - 8].to_vec(), "failed to decompress"),
            (
                {
                    let mut longer = stored.clone();
                    longer[1..COMPRESSED_HEADER].copy_from_slice(&u32::MAX.to_le_bytes());
                    longer
                },
                "claims 4294967295 bytes",
            ),
            (
                {
                    let mut shorter = stored.clone();
                    shorter[1..COMPRESSED_HEADER].copy_from_slice(&100_u32.to_le_bytes());
                    shorter
                },
                "100",
            ),
        ];
        for (damaged, expected) in cases {
            let error = bundle_entries_data(2, damaged)
                .expect_err("a damaged bundle is rejected")
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(error.contains("ledger bundle \"2\""), "{error}");
            assert!(error.contains("entries 512 to 767"), "{error}");
        }
    }

    #[test]
    fn rows_touched_splits_at_row_ends() {
        assert_eq!(rows_touched(0, 3, 256), vec![(0, 3)]);
        assert_eq!(rows_touched(250, 10, 256), vec![(0, 6), (1, 4)]);
        assert_eq!(rows_touched(256, 512, 256), vec![(1, 256), (2, 256)]);
        assert!(rows_touched(7, 0, 256).is_empty());
    }

    #[test]
    fn bundle_entries_splits_lines() {
        let bundle = b"{\"a\":1}\n{\"b\":\"x\\ny\"}\n";
        let lines: Vec<&[u8]> = bundle_entries(bundle).collect();
        assert_eq!(lines, vec![&b"{\"a\":1}"[..], &b"{\"b\":\"x\\ny\"}"[..]]);
        assert_eq!(bundle_entries(b"").count(), 0);
    }
}
