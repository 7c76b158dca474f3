//! The compact range: the right edge of the tree, enough to append and to compute the
//! current root.
//!
//! For a tree of `n` leaves the state is one hash per set bit of `n`: the roots of the
//! complete subtrees ("peaks") that partition the leaves, largest first. Appending a leaf
//! merges it with the peaks of equal height, which costs one hash per trailing one bit
//! of `n`, so appends are O(1) amortised. The root costs O(log n) hashes.
//!
//! A batch append builds the new nodes one level at a time instead, so that each level's
//! node hashes can go to [`Hasher::hash_parents`] in one call.

use crate::hash::{Hash, Hasher};
use crate::tree::NodeId;

/// Errors from restoring a [`CompactRange`] from stored parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactRangeError {
    /// The number of peaks does not match the size.
    #[error(
        "invalid compact range: size {size} needs {expected} peak hashes (one per set bit), got {actual}"
    )]
    PeakCount {
        /// The stored size.
        size: u64,
        /// Peaks a tree of that size has.
        expected: usize,
        /// Peaks supplied.
        actual: usize,
    },
}

/// The right edge of a log's Merkle tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRange {
    hasher: Hasher,
    size: u64,
    /// Roots of the complete subtrees covering `0..size`, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// Creates the range of an empty log.
    pub const fn new(hasher: Hasher) -> Self {
        Self {
            hasher,
            size: 0,
            peaks: Vec::new(),
        }
    }

    /// Restores a range from a stored size and its peak hashes, largest subtree first.
    pub fn from_parts(
        hasher: Hasher,
        size: u64,
        peaks: Vec<Hash>,
    ) -> Result<Self, CompactRangeError> {
        let expected = size.count_ones() as usize;
        if peaks.len() != expected {
            return Err(CompactRangeError::PeakCount {
                size,
                expected,
                actual: peaks.len(),
            });
        }
        Ok(Self {
            hasher,
            size,
            peaks,
        })
    }

    /// Returns the hash function.
    pub const fn hasher(&self) -> Hasher {
        self.hasher
    }

    /// Returns the number of leaves appended.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Returns the peak hashes, largest subtree first. A store keeps them to resume appending.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Returns the ids of the peaks, in the order of [`CompactRange::peaks`].
    pub fn peak_ids(&self) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(self.peaks.len());
        let mut start = 0u64;
        for level in (0..u64::BITS as u8).rev() {
            if self.size & (1 << level) != 0 {
                ids.push(NodeId::new(level, start >> level));
                start += 1 << level;
            }
        }
        ids
    }

    /// Appends one entry and returns its leaf hash.
    pub fn append(&mut self, data: &[u8]) -> Hash {
        let leaf = self.hasher.hash_leaf(data);
        self.append_leaf_hash(leaf);
        leaf
    }

    /// Appends every entry in order and returns the new root.
    pub fn append_batch<I>(&mut self, entries: I) -> Hash
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        for entry in entries {
            self.append(entry.as_ref());
        }
        self.root()
    }

    /// Appends an entry by its leaf hash.
    pub fn append_leaf_hash(&mut self, leaf: Hash) {
        self.append_leaf_hash_with(leaf, |_, _| {});
    }

    /// Appends an entry by its leaf hash and calls `on_node` for every complete subtree
    /// the append completes: the leaf itself (level 0), then each new interior node
    /// upwards. A store persists these to serve [`crate::NodeSource`].
    pub fn append_leaf_hash_with(&mut self, leaf: Hash, mut on_node: impl FnMut(NodeId, &Hash)) {
        let index = self.size;
        on_node(NodeId::new(0, index), &leaf);
        let mut hash = leaf;
        // Each trailing one bit of the old size is a peak as high as the node being built.
        for level in 1..=index.trailing_ones() as u8 {
            let left = self
                .peaks
                .pop()
                .expect("every set bit of the size has a peak");
            hash = self.hasher.hash_children(&left, &hash);
            on_node(NodeId::new(level, index >> level), &hash);
        }
        self.peaks.push(hash);
        self.size = index
            .checked_add(1)
            .expect("a log cannot hold 2^64 entries");
    }

    /// Appends entries in order by their leaf hashes and calls `on_node` for every complete
    /// subtree the batch completes.
    ///
    /// The new size and peaks, and the set of reported nodes with their hashes, are those of
    /// calling [`CompactRange::append_leaf_hash_with`] for each leaf in turn. The order of
    /// the reports differs. This method reports level by level from the leaves (level 0)
    /// up, and within a level in index order, where one-by-one appends report each leaf
    /// followed by the nodes it completes. The interior nodes of a level are hashed with one
    /// [`Hasher::hash_parents`] call.
    ///
    /// # Panics
    ///
    /// Panics if the log would hold more than `u64::MAX` entries, before changing the range.
    pub fn append_leaf_hashes_with(&mut self, leaves: &[Hash], on_node: impl FnMut(NodeId, &Hash)) {
        if leaves.is_empty() {
            return;
        }
        let mut row = self.start_batch(leaves.len());
        row.extend_from_slice(leaves);
        self.finish_batch(row, leaves.len(), on_node);
    }

    /// Appends entries in order and calls `on_node` for every complete subtree the batch
    /// completes, leaves included. The leaf hashes are computed with
    /// [`Hasher::hash_leaves`], and the rest is [`CompactRange::append_leaf_hashes_with`],
    /// including the order of the reports.
    ///
    /// # Panics
    ///
    /// Panics if the log would hold more than `u64::MAX` entries, before changing the range.
    pub fn append_entries_with(&mut self, entries: &[&[u8]], on_node: impl FnMut(NodeId, &Hash)) {
        if entries.is_empty() {
            return;
        }
        let mut row = self.start_batch(entries.len());
        let first_leaf = row.len();
        row.resize(first_leaf + entries.len(), Hash::default());
        self.hasher.hash_leaves(entries, &mut row[first_leaf..]);
        self.finish_batch(row, entries.len(), on_node);
    }

    /// Checks that `count` more leaves fit and returns the level-0 row buffer of a batch
    /// append. When the size is odd, the row starts with the peak of level 0, taken off the
    /// peaks, because that peak is the left sibling of the first new leaf.
    fn start_batch(&mut self, count: usize) -> Vec<Hash> {
        u64::try_from(count)
            .ok()
            .and_then(|count| self.size.checked_add(count))
            .expect("a log cannot hold 2^64 entries");
        let mut row = Vec::with_capacity(count + 1);
        if self.size & 1 == 1 {
            row.push(
                self.peaks
                    .pop()
                    .expect("every set bit of the size has a peak"),
            );
        }
        row
    }

    /// Completes a batch append whose level-0 row (see [`Self::start_batch`]) ends with
    /// `added` new leaves.
    ///
    /// The row of each level contains that level's new nodes in index order, preceded by the
    /// old peak of the level when it is their left sibling. Hashing the row's pairs gives
    /// the new nodes of the level above. A row of odd length ends with a node that has no
    /// sibling yet, which becomes the new peak of its level.
    fn finish_batch(
        &mut self,
        mut row: Vec<Hash>,
        added: usize,
        mut on_node: impl FnMut(NodeId, &Hash),
    ) {
        let old_size = self.size;
        let first_leaf = row.len() - added;
        // The slice goes first in each `zip` so that the index range is never advanced past
        // the last node, which overflows when the batch ends at size `u64::MAX`.
        for (leaf, index) in row[first_leaf..].iter().zip(old_size..) {
            on_node(NodeId::new(0, index), leaf);
        }

        // New peaks below the highest level the batch reaches, lowest level first. A size
        // has at most 64 set bits.
        let mut low_peaks = [Hash::default(); u64::BITS as usize];
        let mut low_peak_count = 0;
        let mut next = Vec::with_capacity(row.len() / 2 + 1);
        let mut level = 0u8;
        loop {
            if row.len() % 2 == 1 {
                low_peaks[low_peak_count] = row[row.len() - 1];
                low_peak_count += 1;
            }
            let pairs = row.len() / 2;
            if pairs == 0 {
                break;
            }
            level += 1;
            // Index of the first node of this level that the batch completes.
            let first = old_size >> level;
            next.clear();
            if first & 1 == 1 {
                // Peaks of the levels below were taken earlier, so the last is this level's.
                next.push(
                    self.peaks
                        .pop()
                        .expect("every set bit of the size has a peak"),
                );
            }
            let first_new = next.len();
            next.resize(first_new + pairs, Hash::default());
            self.hasher
                .hash_parents(&row[..2 * pairs], &mut next[first_new..]);
            for (node, index) in next[first_new..].iter().zip(first..) {
                on_node(NodeId::new(level, index), node);
            }
            std::mem::swap(&mut row, &mut next);
        }
        // The peaks left are those of the levels above `level`, which the batch did not
        // reach. The new lower peaks follow them, largest first.
        self.peaks.extend(low_peaks[..low_peak_count].iter().rev());
        self.size = old_size + added as u64;
    }

    /// Computes the root of the current tree (`MTH(D[0:size])`).
    pub fn root(&self) -> Hash {
        let Some((last, rest)) = self.peaks.split_last() else {
            return self.hasher.empty_root();
        };
        rest.iter()
            .rev()
            .fold(*last, |right, left| self.hasher.hash_children(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_range_has_empty_root() {
        let range = CompactRange::new(Hasher::Sm3);
        assert_eq!(range.root(), Hasher::Sm3.empty_root());
        assert!(range.peaks().is_empty());
    }

    #[test]
    fn peaks_follow_size_bits() {
        let mut range = CompactRange::new(Hasher::Sha256);
        for index in 0u64..13 {
            range.append(&index.to_be_bytes());
        }
        // 13 = 8 + 4 + 1.
        assert_eq!(range.peaks().len(), 3);
        let ids = range.peak_ids();
        assert_eq!(
            ids,
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
    }

    #[test]
    fn append_reports_completed_nodes() {
        let mut range = CompactRange::new(Hasher::Sha256);
        for index in 0u64..7 {
            range.append(&index.to_be_bytes());
        }
        let mut reported = Vec::new();
        range.append_leaf_hash_with(Hasher::Sha256.hash_leaf(b"7"), |node, _| {
            reported.push(node);
        });
        let expected = vec![
            NodeId::new(0, 7),
            NodeId::new(1, 3),
            NodeId::new(2, 1),
            NodeId::new(3, 0),
        ];
        assert_eq!(reported, expected);
        assert_eq!(range.peaks().len(), 1);
    }

    #[test]
    fn batch_append_reports_level_by_level() {
        let hasher = Hasher::Sha256;
        let mut range = CompactRange::new(hasher);
        range.append_batch([b"0", b"1", b"2"]);
        let leaves: Vec<Hash> = (3u64..8)
            .map(|index| hasher.hash_leaf(&index.to_be_bytes()))
            .collect();
        let mut reported = Vec::new();
        range.append_leaf_hashes_with(&leaves, |node, _| reported.push(node));
        let expected = vec![
            NodeId::new(0, 3),
            NodeId::new(0, 4),
            NodeId::new(0, 5),
            NodeId::new(0, 6),
            NodeId::new(0, 7),
            NodeId::new(1, 1),
            NodeId::new(1, 2),
            NodeId::new(1, 3),
            NodeId::new(2, 0),
            NodeId::new(2, 1),
            NodeId::new(3, 0),
        ];
        assert_eq!(reported, expected);
        assert_eq!(range.size(), 8);
        assert_eq!(range.peak_ids(), vec![NodeId::new(3, 0)]);
    }

    #[test]
    fn empty_batch_changes_nothing() {
        let mut range = CompactRange::new(Hasher::Sm3);
        range.append_batch([b"a", b"b", b"c"]);
        let before = range.clone();
        let mut reported = 0;
        range.append_leaf_hashes_with(&[], |_, _| reported += 1);
        range.append_entries_with(&[], |_, _| reported += 1);
        assert_eq!(range, before);
        assert_eq!(reported, 0);
    }

    #[test]
    fn batch_past_max_size_panics_before_changing_range() {
        let size = u64::MAX - 1;
        let peaks = vec![Hash::default(); size.count_ones() as usize];
        let mut range = CompactRange::from_parts(Hasher::Sha256, size, peaks).expect("peaks match");
        let before = range.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            range.append_leaf_hashes_with(&[Hash::default(); 2], |_, _| {});
        }));
        assert!(result.is_err(), "the batch should overflow the size");
        assert_eq!(range, before);
    }

    #[test]
    fn from_parts_rejects_wrong_peak_count() {
        let error = CompactRange::from_parts(Hasher::Sha256, 3, vec![Hash::default()])
            .expect_err("size 3 has two peaks");
        assert_eq!(
            error,
            CompactRangeError::PeakCount {
                size: 3,
                expected: 2,
                actual: 1
            }
        );
    }

    #[test]
    fn from_parts_resumes_appending() {
        let mut whole = CompactRange::new(Hasher::Sm3);
        whole.append_batch([b"a", b"b", b"c"]);
        let mut resumed =
            CompactRange::from_parts(Hasher::Sm3, 3, whole.peaks().to_vec()).expect("peaks match");
        whole.append(b"d");
        resumed.append(b"d");
        assert_eq!(resumed, whole);
    }
}
