//! An in-memory [`NodeSource`] that keeps every leaf hash and every complete-subtree
//! hash, the same layout a store keeps in its tables. Used by tests and benchmarks, and
//! by tools that load a small exported log.

use crate::compact::CompactRange;
use crate::hash::{Hash, Hasher};
use crate::tree::{NodeId, NodeSource};

/// Error of [`MemoryNodeSource`]: a hash that was never appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryNodeSourceError {
    /// The requested node covers leaves beyond the log's size.
    #[error("node at level {level} index {index} is not stored: the log has {size} leaves")]
    NotFound {
        /// Level of the requested node.
        level: u8,
        /// Index of the requested node.
        index: u64,
        /// Number of leaves appended so far.
        size: u64,
    },
}

/// A log kept in memory: leaf hashes and complete-subtree hashes by level.
#[derive(Debug, Clone)]
pub struct MemoryNodeSource {
    /// Hashes by level: `levels[l][i]` is the hash of [`NodeId`] `(l, i)`, and level 0 contains the leaf hashes.
    levels: Vec<Vec<Hash>>,
    range: CompactRange,
}

impl MemoryNodeSource {
    /// Creates an empty log.
    pub fn new(hasher: Hasher) -> Self {
        Self {
            levels: vec![Vec::new()],
            range: CompactRange::new(hasher),
        }
    }

    /// Returns the number of leaves.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Returns the root of the current tree.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// Appends one entry and returns its leaf hash.
    pub fn append(&mut self, data: &[u8]) -> Hash {
        let leaf = self.range.hasher().hash_leaf(data);
        self.append_leaf_hash(leaf);
        leaf
    }

    /// Appends an entry by its leaf hash.
    pub fn append_leaf_hash(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.range.append_leaf_hash_with(leaf, |node, hash| {
            let level = usize::from(node.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(
                levels[level].len() as u64,
                node.index,
                "nodes arrive in order"
            );
            levels[level].push(*hash);
        });
    }

    /// Returns all leaf hashes in index order.
    pub fn leaf_hash_slice(&self) -> &[Hash] {
        &self.levels[0]
    }

    fn lookup(&self, node: NodeId) -> Result<Hash, MemoryNodeSourceError> {
        self.levels
            .get(usize::from(node.level))
            .and_then(|level| level.get(usize::try_from(node.index).ok()?))
            .copied()
            .ok_or(MemoryNodeSourceError::NotFound {
                level: node.level,
                index: node.index,
                size: self.size(),
            })
    }
}

impl NodeSource for MemoryNodeSource {
    type Error = MemoryNodeSourceError;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
        self.lookup(NodeId::new(0, index))
    }

    fn complete_subtree_hash(&self, node: NodeId) -> Result<Option<Hash>, Self::Error> {
        self.lookup(node).map(Some)
    }

    fn min_cached_level(&self) -> u8 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_every_complete_subtree() {
        let mut log = MemoryNodeSource::new(Hasher::Sha256);
        for index in 0u64..11 {
            log.append(&index.to_be_bytes());
        }
        // 11 leaves: 5 complete pairs, 2 groups of four, 1 group of eight.
        let counts: Vec<usize> = log.levels.iter().map(Vec::len).collect();
        assert_eq!(counts, vec![11, 5, 2, 1]);
        let pair = log.hasher_pair(0);
        assert_eq!(log.levels[1][0], pair);
    }

    #[test]
    fn unknown_node_is_not_found() {
        let mut log = MemoryNodeSource::new(Hasher::Sm3);
        log.append(b"only");
        let error = log.leaf_hash(1).expect_err("one leaf was appended");
        assert_eq!(
            error,
            MemoryNodeSourceError::NotFound {
                level: 0,
                index: 1,
                size: 1
            }
        );
        assert!(error.to_string().contains("1 leaves"));
    }

    impl MemoryNodeSource {
        fn hasher_pair(&self, index: usize) -> Hash {
            let leaves = &self.levels[0];
            self.range
                .hasher()
                .hash_children(&leaves[2 * index], &leaves[2 * index + 1])
        }
    }
}
