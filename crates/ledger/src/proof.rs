//! Inclusion and consistency proofs and their verification, RFC 9162 §2.1.3.2 and
//! §2.1.4.2.
//!
//! The verification loops follow the RFC step lists. Each loop runs at most once per
//! path element, and every inner shift loop ends because `fn` reaches zero, so hostile
//! input cannot make them spin. Extra or missing path elements are caught by the
//! `sn == 0` checks. A consistency proof from the empty tree is rejected: it would prove
//! nothing about the later tree.

use crate::hash::{Hash, Hasher};

/// Proof that a leaf is in a tree of a given size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the leaf, from 0.
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes from the leaf's level up to the root's children.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Verifies that `leaf_hash` is at `leaf_index` in the tree whose root is `root`.
    pub fn verify(&self, hasher: Hasher, leaf_hash: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(
            hasher,
            self.leaf_index,
            self.tree_size,
            leaf_hash,
            &self.path,
            root,
        )
    }
}

/// Proof that a tree of `second_size` leaves extends the tree of `first_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the earlier tree.
    pub first_size: u64,
    /// Size of the later tree.
    pub second_size: u64,
    /// Subtree hashes, as RFC 9162 §2.1.4.1 orders them.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Verifies that the tree with root `second_root` extends the one with `first_root`.
    pub fn verify(
        &self,
        hasher: Hasher,
        first_root: &Hash,
        second_root: &Hash,
    ) -> Result<(), ProofError> {
        verify_consistency(
            hasher,
            self.first_size,
            self.second_size,
            first_root,
            second_root,
            &self.path,
        )
    }
}

/// Reasons a proof is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("invalid inclusion proof: leaf index {leaf_index} is not below tree size {tree_size}")]
    LeafIndexOutOfRange {
        /// Claimed leaf index.
        leaf_index: u64,
        /// Claimed tree size.
        tree_size: u64,
    },
    /// The path has more elements than the sizes allow.
    #[error("invalid proof: path has {actual} hashes, but the tree sizes need {expected}")]
    TrailingElements {
        /// Path length the sizes require.
        expected: usize,
        /// Path length received.
        actual: usize,
    },
    /// The path has fewer elements than the sizes need.
    #[error("invalid proof: path has {actual} hashes, but the tree sizes need {expected}")]
    MissingElements {
        /// Path length the sizes require.
        expected: usize,
        /// Path length received.
        actual: usize,
    },
    /// The root recomputed from an inclusion proof differs from the trusted root.
    #[error(
        "invalid inclusion proof: recomputed root {computed} differs from trusted root {expected}"
    )]
    RootMismatch {
        /// Trusted root.
        expected: Hash,
        /// Root recomputed from the proof.
        computed: Hash,
    },
    /// A consistency proof starts at the empty tree.
    #[error(
        "invalid consistency proof: the first tree is empty, and a proof from size 0 proves \
         nothing; verify from a non-empty checkpoint"
    )]
    EmptyFirstTree,
    /// The first tree is larger than the second.
    #[error("invalid consistency proof: first size {first} is larger than second size {second}")]
    FirstLargerThanSecond {
        /// Size of the earlier tree.
        first: u64,
        /// Size of the later tree.
        second: u64,
    },
    /// Sizes are equal but the proof is not empty.
    #[error("invalid consistency proof: sizes are equal ({size}) but the path has {len} hashes")]
    NonEmptyForEqualSizes {
        /// The tree size.
        size: u64,
        /// Path length received.
        len: usize,
    },
    /// Sizes are equal but the roots differ: two histories of the same size.
    #[error("inconsistent trees: both have size {size} but roots {first} and {second} differ")]
    EqualSizeRootsDiffer {
        /// The tree size.
        size: u64,
        /// Root of the first tree.
        first: Hash,
        /// Root of the second tree.
        second: Hash,
    },
    /// The root of the earlier tree recomputed from the proof differs from the trusted one.
    #[error(
        "invalid consistency proof: recomputed first root {computed} differs from trusted root \
         {expected}"
    )]
    FirstRootMismatch {
        /// Trusted root of the earlier tree.
        expected: Hash,
        /// Root recomputed from the proof.
        computed: Hash,
    },
    /// The root of the later tree recomputed from the proof differs from the trusted one.
    #[error(
        "invalid consistency proof: recomputed second root {computed} differs from trusted root \
         {expected}"
    )]
    SecondRootMismatch {
        /// Trusted root of the later tree.
        expected: Hash,
        /// Root recomputed from the proof.
        computed: Hash,
    },
}

/// Verifies an inclusion proof, RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    hasher: Hasher,
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(hasher, leaf_index, tree_size, leaf_hash, path)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Recomputes the root an inclusion proof implies, RFC 9162 §2.1.3.2 steps 1–4 without
/// the final comparison. Compare the result with a root from a verified checkpoint.
pub fn root_from_inclusion_proof(
    hasher: Hasher,
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
) -> Result<Hash, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::LeafIndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    let expected = inclusion_path_len(leaf_index, tree_size);
    let mut walk = PathWalk {
        f_n: leaf_index,
        s_n: tree_size - 1,
    };
    let mut r = *leaf_hash;
    for p in path {
        if walk.s_n == 0 {
            return Err(ProofError::TrailingElements {
                expected,
                actual: path.len(),
            });
        }
        if walk.step() {
            r = hasher.hash_children(p, &r);
        } else {
            r = hasher.hash_children(&r, p);
        }
    }
    if walk.s_n != 0 {
        return Err(ProofError::MissingElements {
            expected,
            actual: path.len(),
        });
    }
    Ok(r)
}

/// Verifies a consistency proof, RFC 9162 §2.1.4.2.
///
/// Equal sizes need an empty path and equal roots. A first size of 0 is rejected.
pub fn verify_consistency(
    hasher: Hasher,
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    if first > second {
        return Err(ProofError::FirstLargerThanSecond { first, second });
    }
    if first == second {
        if !path.is_empty() {
            return Err(ProofError::NonEmptyForEqualSizes {
                size: first,
                len: path.len(),
            });
        }
        if first_root != second_root {
            return Err(ProofError::EqualSizeRootsDiffer {
                size: first,
                first: *first_root,
                second: *second_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_path_len(first, second);
    let Some((first_element, after_first)) = path.split_first() else {
        return Err(ProofError::MissingElements {
            expected,
            actual: 0,
        });
    };
    // Step 2: a first tree that is a complete subtree is left out of the proof, so its
    // root seeds the computation.
    let (seed, rest) = if first.is_power_of_two() {
        (first_root, path)
    } else {
        (first_element, after_first)
    };
    let mut walk = PathWalk {
        f_n: first - 1,
        s_n: second - 1,
    };
    while walk.f_n & 1 == 1 {
        walk.f_n >>= 1;
        walk.s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*seed, *seed);
    for c in rest {
        if walk.s_n == 0 {
            return Err(ProofError::TrailingElements {
                expected,
                actual: path.len(),
            });
        }
        if walk.step() {
            f_r = hasher.hash_children(c, &f_r);
            s_r = hasher.hash_children(c, &s_r);
        } else {
            s_r = hasher.hash_children(&s_r, c);
        }
    }
    if walk.s_n != 0 {
        return Err(ProofError::MissingElements {
            expected,
            actual: path.len(),
        });
    }
    if f_r != *first_root {
        return Err(ProofError::FirstRootMismatch {
            expected: *first_root,
            computed: f_r,
        });
    }
    if s_r != *second_root {
        return Err(ProofError::SecondRootMismatch {
            expected: *second_root,
            computed: s_r,
        });
    }
    Ok(())
}

/// The `fn` and `sn` counters of the RFC 9162 verification loops.
struct PathWalk {
    f_n: u64,
    s_n: u64,
}

impl PathWalk {
    /// Advances past one path element and returns whether that element is the left
    /// sibling (`LSB(fn)` set or `fn == sn`). The caller checks `sn == 0` first.
    fn step(&mut self) -> bool {
        let left = self.f_n & 1 == 1 || self.f_n == self.s_n;
        if left {
            // Skip the levels where the node is the right edge with no sibling. The loop
            // ends because `fn` reaches zero within 64 shifts.
            while self.f_n & 1 == 0 && self.f_n != 0 {
                self.f_n >>= 1;
                self.s_n >>= 1;
            }
        }
        self.f_n >>= 1;
        self.s_n >>= 1;
        left
    }
}

/// Returns the length of the inclusion path of `index` in a tree of `size` leaves:
/// the levels below the point where the leaf's path and the right edge part, plus one
/// element per left sibling above it.
pub fn inclusion_path_len(index: u64, size: u64) -> usize {
    debug_assert!(index < size);
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    // `inner` is 64 when the top bit differs, and a 64-bit shift would overflow.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    inner + border
}

/// Returns the length of the consistency path between `first` and `second` leaves,
/// for `0 < first < second`.
pub fn consistency_path_len(first: u64, second: u64) -> usize {
    debug_assert!(0 < first && first < second);
    let full = inclusion_path_len(first - 1, second);
    // The lowest `shift` levels lie inside the complete subtree ending at `first`,
    // whose root is one element (or, when it is the whole first tree, no element).
    let shift = first.trailing_zeros() as usize;
    let seed = usize::from(!first.is_power_of_two());
    full - shift + seed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryNodeSource;
    use crate::tree::MerkleTree;

    fn log_of(count: u64) -> MemoryNodeSource {
        let mut log = MemoryNodeSource::new(Hasher::Sha256);
        for index in 0..count {
            log.append(&index.to_be_bytes());
        }
        log
    }

    #[test]
    fn single_leaf_tree_has_empty_path() {
        let log = log_of(1);
        let leaf = log.leaf_hash_slice()[0];
        assert_eq!(
            verify_inclusion(Hasher::Sha256, 0, 1, &leaf, &[], &leaf),
            Ok(())
        );
    }

    #[test]
    fn path_lengths_match_generated_proofs() {
        let log = log_of(33);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        for size in 1..=33 {
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).expect("in range");
                assert_eq!(
                    proof.path.len(),
                    inclusion_path_len(index, size),
                    "{index}/{size}"
                );
            }
            for first in 1..size {
                let proof = tree.consistency_proof(first, size).expect("in range");
                assert_eq!(
                    proof.path.len(),
                    consistency_path_len(first, size),
                    "{first}->{size}"
                );
            }
        }
    }

    #[test]
    fn consistency_from_zero_is_rejected() {
        let root = Hasher::Sha256.empty_root();
        let error = verify_consistency(Hasher::Sha256, 0, 5, &root, &root, &[]);
        assert_eq!(error, Err(ProofError::EmptyFirstTree));
        let error = verify_consistency(Hasher::Sha256, 0, 0, &root, &root, &[]);
        assert_eq!(error, Err(ProofError::EmptyFirstTree));
    }

    #[test]
    fn equal_sizes_need_empty_path_and_equal_roots() {
        let log = log_of(6);
        let root = log.root();
        assert_eq!(
            verify_consistency(Hasher::Sha256, 6, 6, &root, &root, &[]),
            Ok(())
        );
        let other = Hasher::Sha256.hash_leaf(b"other");
        assert!(matches!(
            verify_consistency(Hasher::Sha256, 6, 6, &root, &other, &[]),
            Err(ProofError::EqualSizeRootsDiffer { size: 6, .. })
        ));
        assert_eq!(
            verify_consistency(Hasher::Sha256, 6, 6, &root, &root, &[root]),
            Err(ProofError::NonEmptyForEqualSizes { size: 6, len: 1 })
        );
    }

    #[test]
    fn empty_path_for_growing_tree_is_rejected() {
        let log = log_of(4);
        let tree = MerkleTree::new(Hasher::Sha256, &log);
        let (old, new) = (tree.root(2).expect("stored"), tree.root(4).expect("stored"));
        let result = verify_consistency(Hasher::Sha256, 2, 4, &old, &new, &[]);
        assert_eq!(
            result,
            Err(ProofError::MissingElements {
                expected: 1,
                actual: 0
            })
        );
        let result = verify_consistency(Hasher::Sha256, 3, 4, &old, &new, &[]);
        assert!(matches!(
            result,
            Err(ProofError::MissingElements { actual: 0, .. })
        ));
    }

    #[test]
    fn shrinking_tree_is_rejected() {
        let root = Hasher::Sha256.empty_root();
        let result = verify_consistency(Hasher::Sha256, 5, 4, &root, &root, &[root]);
        assert_eq!(
            result,
            Err(ProofError::FirstLargerThanSecond {
                first: 5,
                second: 4
            })
        );
    }

    #[test]
    fn huge_sizes_with_short_path_terminate() {
        let hash = Hasher::Sha256.hash_leaf(b"x");
        let result = verify_inclusion(Hasher::Sha256, 0, u64::MAX, &hash, &[hash; 3], &hash);
        assert!(matches!(
            result,
            Err(ProofError::MissingElements { actual: 3, .. })
        ));
        let result = verify_consistency(
            Hasher::Sha256,
            u64::MAX - 1,
            u64::MAX,
            &hash,
            &hash,
            &[hash; 70],
        );
        assert!(matches!(
            result,
            Err(ProofError::TrailingElements { actual: 70, .. })
        ));
    }
}
