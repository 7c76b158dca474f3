//! The compact range: the right edge of the tree, enough to append and to compute the
//! current root.
//!
//! For a tree of `n` leaves the state is one hash per set bit of `n`: the roots of the
//! complete subtrees ("peaks") that partition the leaves, largest first. Appending a leaf
//! merges it with the peaks of equal height, which costs one hash per trailing one bit
//! of `n`, so appends are O(1) amortised. The root costs O(log n) hashes.

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
