//! Tree hashes and proof generation over a [`NodeSource`].
//!
//! A [`MerkleTree`] computes the root of any tree size, inclusion proofs (RFC 9162
//! §2.1.3.1) and consistency proofs (RFC 9162 §2.1.4.1) from the leaf hashes a store
//! keeps, using the store's hashes of complete subtrees where it has them. Only the
//! O(log n) subtrees a proof needs are visited, so a log of 100 million entries never has
//! to be held in memory.

use std::ops::Range;

use crate::compact::CompactRange;
use crate::hash::{Hash, Hasher};
use crate::proof::{ConsistencyProof, InclusionProof};

/// Largest complete subtree, as a level, whose leaves are read in one
/// [`NodeSource::leaf_hashes`] call: 2^16 leaf hashes are 2 MiB.
const MAX_FOLD_LEVEL: u8 = 16;

/// Position of a complete subtree: the node at `level` with `index` covers the leaves
/// `index * 2^level .. (index + 1) * 2^level`. Leaves are level 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves. A node at level `l` covers 2^l leaves.
    pub level: u8,
    /// Position among the nodes of the same level, counted from the left.
    pub index: u64,
}

impl NodeId {
    /// Creates the id of the node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// Returns the range of leaf indexes this node covers.
    pub const fn leaf_range(self) -> Range<u64> {
        let start = self.index << self.level;
        start..start + (1 << self.level)
    }
}

/// Storage of leaf hashes, and optionally of complete-subtree hashes, that a
/// [`MerkleTree`] reads.
///
/// A store implements it over its tables: leaf hashes by index, and interior hashes of
/// complete subtrees by [`NodeId`] from [`CompactRange::append_leaf_hash_with`]. Hashes
/// returned here are trusted as stored: a wrong one yields proofs that fail verification,
/// never a verifier that accepts altered data.
pub trait NodeSource {
    /// Error of the underlying storage.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the leaf hash of the entry at `index`.
    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error>;

    /// Appends the leaf hashes of `range` to `out`, in index order.
    ///
    /// Stores override it to read a whole range in one query.
    fn leaf_hashes(&self, range: Range<u64>, out: &mut Vec<Hash>) -> Result<(), Self::Error> {
        for index in range {
            out.push(self.leaf_hash(index)?);
        }
        Ok(())
    }

    /// Returns the stored hash of a complete subtree, or `None` when it is not stored.
    ///
    /// Only called for levels at or above [`NodeSource::min_cached_level`].
    fn complete_subtree_hash(&self, node: NodeId) -> Result<Option<Hash>, Self::Error> {
        let _ = node;
        Ok(None)
    }

    /// Returns the lowest level at which [`NodeSource::complete_subtree_hash`] can return a
    /// hash. Complete subtrees below it are hashed from their leaves.
    ///
    /// The default, `u8::MAX`, means no interior hashes are stored.
    fn min_cached_level(&self) -> u8 {
        u8::MAX
    }
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
        (**self).leaf_hash(index)
    }

    fn leaf_hashes(&self, range: Range<u64>, out: &mut Vec<Hash>) -> Result<(), Self::Error> {
        (**self).leaf_hashes(range, out)
    }

    fn complete_subtree_hash(&self, node: NodeId) -> Result<Option<Hash>, Self::Error> {
        (**self).complete_subtree_hash(node)
    }

    fn min_cached_level(&self) -> u8 {
        (**self).min_cached_level()
    }
}

/// Errors from computing roots and proofs over a [`NodeSource`].
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    /// The node source failed to return a hash.
    #[error("failed to read a hash from the node source: {0}")]
    Source(#[source] E),
    /// The leaf index is not below the tree size.
    #[error(
        "leaf index {index} is out of range for tree size {size}: request an index below the size"
    )]
    LeafIndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Requested tree size.
        size: u64,
    },
    /// The node source returned a different number of leaf hashes than requested.
    #[error(
        "node source returned {actual} leaf hashes for node {node:?}, expected {expected}: \
         the store's leaf_hashes implementation is wrong"
    )]
    WrongLeafCount {
        /// The subtree being hashed.
        node: NodeId,
        /// Leaf hashes requested.
        expected: usize,
        /// Leaf hashes returned.
        actual: usize,
    },
    /// The requested leaf range is empty, and an empty range has no subtree hash.
    #[error("invalid leaf range {start}..{end}: the range must contain at least one leaf")]
    EmptyRange {
        /// First index of the range.
        start: u64,
        /// End of the range, exclusive.
        end: u64,
    },
    /// The sizes do not describe an earlier and a later non-empty tree.
    #[error(
        "invalid consistency proof request from size {first} to size {second}: \
         the first size must be at least 1 and at most the second"
    )]
    InvalidSizes {
        /// Size of the earlier tree.
        first: u64,
        /// Size of the later tree.
        second: u64,
    },
}

/// A log's Merkle tree as seen through a [`NodeSource`].
#[derive(Debug, Clone)]
pub struct MerkleTree<S> {
    hasher: Hasher,
    source: S,
}

impl<S: NodeSource> MerkleTree<S> {
    /// Creates a view of the tree whose hashes `source` stores.
    pub const fn new(hasher: Hasher, source: S) -> Self {
        Self { hasher, source }
    }

    /// Returns the hash function of the tree.
    pub const fn hasher(&self) -> Hasher {
        self.hasher
    }

    /// Returns the node source.
    pub const fn source(&self) -> &S {
        &self.source
    }

    /// Computes the root of the tree of the first `size` leaves (`MTH(D[0:size])`).
    pub fn root(&self, size: u64) -> Result<Hash, TreeError<S::Error>> {
        if size == 0 {
            return Ok(self.hasher.empty_root());
        }
        self.range_root(0..size)
    }

    /// Computes `MTH(D[range])`, the hash of the leaves in a non-empty range.
    pub fn range_root(&self, range: Range<u64>) -> Result<Hash, TreeError<S::Error>> {
        if range.start >= range.end {
            return Err(TreeError::EmptyRange {
                start: range.start,
                end: range.end,
            });
        }
        let width = range.end - range.start;
        if width.is_power_of_two() && range.start.is_multiple_of(width) {
            let level = width.trailing_zeros() as u8;
            return self.node_hash(NodeId::new(level, range.start >> level));
        }
        let split = range.start + split_point(width);
        let left = self.range_root(range.start..split)?;
        let right = self.range_root(split..range.end)?;
        Ok(self.hasher.hash_children(&left, &right))
    }

    /// Computes the hash of a complete subtree, from the source's stored hash where it has
    /// one.
    pub fn node_hash(&self, node: NodeId) -> Result<Hash, TreeError<S::Error>> {
        if node.level == 0 {
            return self.source.leaf_hash(node.index).map_err(TreeError::Source);
        }
        let min_cached = self.source.min_cached_level();
        if node.level >= min_cached {
            if let Some(hash) = self
                .source
                .complete_subtree_hash(node)
                .map_err(TreeError::Source)?
            {
                return Ok(hash);
            }
        } else if node.level <= MAX_FOLD_LEVEL {
            return self.fold_leaves(node);
        }
        let left = self.node_hash(NodeId::new(node.level - 1, node.index * 2))?;
        let right = self.node_hash(NodeId::new(node.level - 1, node.index * 2 + 1))?;
        Ok(self.hasher.hash_children(&left, &right))
    }

    /// Hashes a complete subtree from its leaves, read in one call.
    fn fold_leaves(&self, node: NodeId) -> Result<Hash, TreeError<S::Error>> {
        let mut hashes = Vec::with_capacity(1 << node.level);
        self.source
            .leaf_hashes(node.leaf_range(), &mut hashes)
            .map_err(TreeError::Source)?;
        let expected = 1usize << node.level;
        if hashes.len() != expected {
            return Err(TreeError::WrongLeafCount {
                node,
                expected,
                actual: hashes.len(),
            });
        }
        let mut width = expected;
        while width > 1 {
            for pair in 0..width / 2 {
                hashes[pair] = self
                    .hasher
                    .hash_children(&hashes[2 * pair], &hashes[2 * pair + 1]);
            }
            width /= 2;
        }
        Ok(hashes[0])
    }

    /// Generates the inclusion proof of leaf `index` in the tree of `size` leaves
    /// (RFC 9162 §2.1.3.1), ordered from the leaf's sibling up to the root's child.
    ///
    /// For many proofs at one size, [`MerkleTree::at_size`] avoids rehashing the right
    /// edge of the tree for each proof.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, TreeError<S::Error>> {
        inclusion_proof_with(index, size, |range| self.range_root(range))
    }

    /// Generates the consistency proof between the trees of `first` and `second` leaves
    /// (RFC 9162 §2.1.4.1). Equal sizes give an empty proof.
    pub fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, TreeError<S::Error>> {
        consistency_proof_with(first, second, |range| self.range_root(range))
    }

    /// Prepares proof generation at one tree size: the roots of the subtrees that end at
    /// the right edge of the tree are hashed once, so each proof reads stored hashes and
    /// hashes only subtrees below [`NodeSource::min_cached_level`].
    pub fn at_size(&self, size: u64) -> Result<TreeAtSize<'_, S>, TreeError<S::Error>> {
        let range = self.compact_range(size)?;
        let mut edge = Vec::with_capacity(range.peaks().len());
        let mut right: Option<Hash> = None;
        for (id, peak) in range.peak_ids().iter().zip(range.peaks()).rev() {
            let root = match right {
                None => *peak,
                Some(right) => self.hasher.hash_children(peak, &right),
            };
            edge.push((id.leaf_range().start, root));
            right = Some(root);
        }
        edge.reverse();
        let root = right.unwrap_or_else(|| self.hasher.empty_root());
        Ok(TreeAtSize {
            tree: self,
            size,
            edge,
            root,
        })
    }

    /// Rebuilds the compact range of the first `size` leaves, so appends can continue
    /// from a stored log.
    pub fn compact_range(&self, size: u64) -> Result<CompactRange, TreeError<S::Error>> {
        let mut peaks = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0;
        for level in (0..u64::BITS as u8).rev() {
            if size & (1 << level) != 0 {
                peaks.push(self.node_hash(NodeId::new(level, start >> level))?);
                start += 1 << level;
            }
        }
        Ok(CompactRange::from_parts(self.hasher, size, peaks)
            .expect("one peak per set bit of the size is what from_parts requires"))
    }
}

/// Proof generation at one tree size, from [`MerkleTree::at_size`].
#[derive(Debug, Clone)]
pub struct TreeAtSize<'a, S> {
    tree: &'a MerkleTree<S>,
    size: u64,
    /// `(start, MTH(D[start..size]))` for each peak start, by increasing start.
    edge: Vec<(u64, Hash)>,
    root: Hash,
}

impl<S: NodeSource> TreeAtSize<'_, S> {
    /// Returns the tree size.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Returns the root of the tree.
    pub const fn root(&self) -> &Hash {
        &self.root
    }

    /// Generates the inclusion proof of leaf `index`, as [`MerkleTree::inclusion_proof`].
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, TreeError<S::Error>> {
        inclusion_proof_with(index, self.size, |range| self.range_root(range))
    }

    /// Generates the consistency proof from the tree of `first` leaves to this size, as
    /// [`MerkleTree::consistency_proof`].
    pub fn consistency_proof(&self, first: u64) -> Result<ConsistencyProof, TreeError<S::Error>> {
        consistency_proof_with(first, self.size, |range| self.range_root(range))
    }

    fn range_root(&self, range: Range<u64>) -> Result<Hash, TreeError<S::Error>> {
        let on_edge = (range.end == self.size)
            .then(|| {
                self.edge
                    .binary_search_by_key(&range.start, |&(start, _)| start)
                    .ok()
            })
            .flatten();
        match on_edge {
            Some(at) => Ok(self.edge[at].1),
            None => self.tree.range_root(range),
        }
    }
}

/// Builds an inclusion path with `range_root` computing `MTH(D[range])`.
fn inclusion_proof_with<E>(
    index: u64,
    size: u64,
    mut range_root: impl FnMut(Range<u64>) -> Result<Hash, TreeError<E>>,
) -> Result<InclusionProof, TreeError<E>> {
    if index >= size {
        return Err(TreeError::LeafIndexOutOfRange { index, size });
    }
    // PATH(m, D[lo:hi]) descends into the half holding m and emits the other half's
    // root after the deeper elements, so the loop collects top-down and reverses.
    let mut path = Vec::new();
    let (mut low, mut high) = (0, size);
    while high - low > 1 {
        let split = low + split_point(high - low);
        if index < split {
            path.push(range_root(split..high)?);
            high = split;
        } else {
            path.push(range_root(low..split)?);
            low = split;
        }
    }
    path.reverse();
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        path,
    })
}

/// Builds a consistency path with `range_root` computing `MTH(D[range])`.
fn consistency_proof_with<E>(
    first: u64,
    second: u64,
    mut range_root: impl FnMut(Range<u64>) -> Result<Hash, TreeError<E>>,
) -> Result<ConsistencyProof, TreeError<E>> {
    if first == 0 || first > second {
        return Err(TreeError::InvalidSizes { first, second });
    }
    // SUBPROOF(m, D[lo:hi], b) unrolled into a loop, which emits the elements top-down.
    let mut path = Vec::new();
    let (mut low, mut high, mut m) = (0, second, first);
    let mut whole_old_tree = true;
    while m != high - low {
        let split = split_point(high - low);
        if m <= split {
            path.push(range_root(low + split..high)?);
            high = low + split;
        } else {
            path.push(range_root(low..low + split)?);
            low += split;
            m -= split;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        path.push(range_root(low..high)?);
    }
    path.reverse();
    Ok(ConsistencyProof {
        first_size: first,
        second_size: second,
        path,
    })
}

/// Returns the largest power of two strictly below `n` (RFC 9162 §2.1.1's `k`).
///
/// `n` must be at least 2.
pub(crate) const fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryNodeSource, MemoryNodeSourceError};

    fn log_of(hasher: Hasher, count: u64) -> MemoryNodeSource {
        let mut log = MemoryNodeSource::new(hasher);
        for index in 0..count {
            log.append(&index.to_be_bytes());
        }
        log
    }

    /// MTH by the RFC recursion over a slice of leaf hashes.
    fn reference_root(hasher: Hasher, leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => hasher.empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                let left = reference_root(hasher, &leaves[..k]);
                let right = reference_root(hasher, &leaves[k..]);
                hasher.hash_children(&left, &right)
            }
        }
    }

    #[test]
    fn split_point_is_largest_power_below() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ];
        for (n, expected) in cases {
            assert_eq!(split_point(n), expected, "n = {n}");
        }
    }

    #[test]
    fn node_id_leaf_range() {
        assert_eq!(NodeId::new(0, 5).leaf_range(), 5..6);
        assert_eq!(NodeId::new(3, 2).leaf_range(), 16..24);
    }

    #[test]
    fn roots_match_reference_recursion() {
        let log = log_of(Hasher::Sha256, 70);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        for size in 0..=70 {
            let expected = reference_root(Hasher::Sha256, &log.leaf_hash_slice()[..size]);
            let root = tree.root(size as u64).expect("leaves are in memory");
            assert_eq!(root, expected, "size {size}");
        }
    }

    #[test]
    fn roots_without_cached_nodes_match() {
        /// Leaf hashes only, as a store that keeps no interior nodes.
        struct LeavesOnly<'a>(&'a [Hash]);
        impl NodeSource for LeavesOnly<'_> {
            type Error = std::convert::Infallible;
            fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
                Ok(self.0[index as usize])
            }
        }
        let log = log_of(Hasher::Sm3, 37);
        let cached = MerkleTree::new(Hasher::Sm3, &log);
        let uncached = MerkleTree::new(Hasher::Sm3, LeavesOnly(log.leaf_hash_slice()));
        for size in 1..=37 {
            let expected = cached.root(size).expect("leaves are in memory");
            let root = uncached.root(size).expect("leaves are in memory");
            assert_eq!(root, expected, "size {size}");
        }
    }

    #[test]
    fn short_leaf_read_is_an_error() {
        /// A store whose batch read drops the last hash.
        struct Short<'a>(&'a MemoryNodeSource);
        impl NodeSource for Short<'_> {
            type Error = MemoryNodeSourceError;
            fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
                self.0.leaf_hash(index)
            }
            fn leaf_hashes(
                &self,
                range: Range<u64>,
                out: &mut Vec<Hash>,
            ) -> Result<(), Self::Error> {
                for index in range.start..range.end - 1 {
                    out.push(self.0.leaf_hash(index)?);
                }
                Ok(())
            }
        }
        let log = log_of(Hasher::Sha256, 8);
        let tree = MerkleTree::new(Hasher::Sha256, Short(&log));
        let error = tree.root(8).expect_err("the batch read is short");
        assert!(matches!(
            error,
            TreeError::WrongLeafCount {
                expected: 8,
                actual: 7,
                ..
            }
        ));
    }

    #[test]
    fn empty_range_is_rejected() {
        let log = log_of(Hasher::Sha256, 4);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let error = tree.range_root(3..3).expect_err("no leaves in 3..3");
        assert!(matches!(error, TreeError::EmptyRange { start: 3, end: 3 }));
    }

    #[test]
    fn inclusion_rejects_index_at_size() {
        let log = log_of(Hasher::Sha256, 4);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let error = tree
            .inclusion_proof(4, 4)
            .expect_err("index 4 is not in a 4-leaf tree");
        assert!(matches!(
            error,
            TreeError::LeafIndexOutOfRange { index: 4, size: 4 }
        ));
    }

    #[test]
    fn consistency_rejects_empty_and_shrinking() {
        let log = log_of(Hasher::Sha256, 4);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let empty = tree
            .consistency_proof(0, 4)
            .expect_err("size 0 has nothing to prove");
        assert!(matches!(
            empty,
            TreeError::InvalidSizes {
                first: 0,
                second: 4
            }
        ));
        let shrink = tree
            .consistency_proof(4, 3)
            .expect_err("a log never shrinks");
        assert!(matches!(
            shrink,
            TreeError::InvalidSizes {
                first: 4,
                second: 3
            }
        ));
    }

    #[test]
    fn consistency_of_equal_sizes_is_empty() {
        let log = log_of(Hasher::Sha256, 5);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let proof = tree.consistency_proof(5, 5).expect("equal sizes are valid");
        assert!(proof.path.is_empty());
    }

    #[test]
    fn compact_range_from_source_matches_appends() {
        let log = log_of(Hasher::Sha256, 45);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        for size in 0..=45 {
            let range = tree.compact_range(size).expect("leaves are in memory");
            assert_eq!(range.size(), size);
            assert_eq!(range.root(), tree.root(size).expect("leaves are in memory"));
        }
    }

    #[test]
    fn proofs_at_size_match_direct_proofs() {
        let log = log_of(Hasher::Sm3, 77);
        let tree = MerkleTree::new(Hasher::Sm3, &log);
        for size in 1..=77 {
            let at = tree.at_size(size).expect("leaves are in memory");
            assert_eq!(at.root(), &tree.root(size).expect("stored"), "root {size}");
            for index in 0..size {
                let direct = tree.inclusion_proof(index, size).expect("in range");
                assert_eq!(at.inclusion_proof(index).expect("in range"), direct);
                let direct = tree.consistency_proof(index + 1, size).expect("in range");
                assert_eq!(at.consistency_proof(index + 1).expect("in range"), direct);
            }
        }
        let empty = tree.at_size(0).expect("empty tree");
        assert_eq!(empty.root(), &Hasher::Sm3.empty_root());
    }

    #[test]
    fn missing_leaf_is_a_source_error() {
        let log = log_of(Hasher::Sha256, 3);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let error = tree.root(9).expect_err("only 3 leaves are stored");
        assert!(matches!(error, TreeError::Source(_)));
        assert!(error.to_string().contains("node source"));
    }
}
