//! Known-answer tests, exhaustive proofs for every size up to 64, and corrupt-proof probes
//! for inclusion and consistency proofs with SHA-256 and SM3.

use oversight_ledger::{
    CompactRange, ConsistencyProof, Hash, Hasher, InclusionProof, MemoryNodeSource, MerkleTree,
    ProofError, verify_consistency, verify_inclusion,
};

/// Test leaves of the transparency-dev/merkle test suite (`proof/verify_test.go`).
const TEST_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the first n test leaves with SHA-256, from transparency-dev/merkle.
const SHA256_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Roots of the first n test leaves with SM3, computed independently with Python's
/// `hashlib.new("sm3")` (OpenSSL 3) and the RFC 9162 recursion.
const SM3_ROOTS: [&str; 8] = [
    "2daef60e7a0b8f5e024c81cd2ab3109f2b4f155cf83adeb2ae5532f74a157fdf",
    "0b990fe0c7ad70f1bf1a1262f2c7908ea48146b14253a6db99f2917ab1f5cc4d",
    "209ec96a210d662a964772680e8544d18cab7b88ffec3e00962220349b56ea56",
    "28e4e307ef6d2d0c62d84b11ef96e835efe490f35b93c8f024ecfe38c8dd4377",
    "bb10c996aeebbcdc69be3715fc847344de77442d37a5ab8213da9f41785b103b",
    "8723c1ab1f82ddfba4a3733ac0c80d936d9f4c208c7dbc8cc81ca9fff8584f66",
    "bd36c22a1ac6ff4308e0c3cc1a85bf0ffa30538ec60a55c70413ab15d45db4d2",
    "bc48ba7a709184b5f2a631e1adeb8dc2a0d4c018c1d6cc89b5664fe154c93b38",
];

/// SM3 of the empty string, the empty tree's root (GB/T 32905, and OpenSSL 3 gives the same).
const SM3_EMPTY: &str = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b";

const HASHERS: [Hasher; 2] = [Hasher::Sha256, Hasher::Sm3];

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("test vectors are hex"))
        .collect()
}

fn test_log(hasher: Hasher) -> MemoryNodeSource {
    let mut log = MemoryNodeSource::new(hasher);
    for leaf in TEST_LEAVES {
        log.append(&decode_hex(leaf));
    }
    log
}

fn numbered_log(hasher: Hasher, count: u64) -> MemoryNodeSource {
    let mut log = MemoryNodeSource::new(hasher);
    for index in 0..count {
        log.append(format!("entry {index}").as_bytes());
    }
    log
}

fn hash(text: &str) -> Hash {
    Hash::from_hex(text).expect("test vectors are 64 hex digits")
}

#[test]
fn sha256_roots_match_published_vectors() {
    let log = test_log(Hasher::Sha256);
    let tree = MerkleTree::new(Hasher::Sha256, &log);
    for (size, expected) in (1u64..).zip(SHA256_ROOTS) {
        assert_eq!(
            tree.root(size).expect("stored"),
            hash(expected),
            "size {size}"
        );
    }
}

#[test]
fn sm3_roots_match_independent_vectors() {
    let log = test_log(Hasher::Sm3);
    let tree = MerkleTree::new(Hasher::Sm3, &log);
    assert_eq!(tree.root(0).expect("empty"), hash(SM3_EMPTY));
    for (size, expected) in (1u64..).zip(SM3_ROOTS) {
        assert_eq!(
            tree.root(size).expect("stored"),
            hash(expected),
            "size {size}"
        );
    }
}

#[test]
fn compact_range_matches_vectors_for_each_size() {
    for (hasher, roots) in [(Hasher::Sha256, SHA256_ROOTS), (Hasher::Sm3, SM3_ROOTS)] {
        let mut range = CompactRange::new(hasher);
        for (leaf, expected) in TEST_LEAVES.iter().zip(roots) {
            range.append(&decode_hex(leaf));
            assert_eq!(
                range.root(),
                hash(expected),
                "{hasher} size {}",
                range.size()
            );
        }
    }
}

/// The 7-leaf tree of RFC 9162 §2.1.5: a–f are the leaf hashes of d0–d5, j is the leaf
/// hash of d6, and g, h, i, k, l are interior nodes.
struct RfcExample {
    tree: MerkleTree<MemoryNodeSource>,
    nodes: [Hash; 12],
}

impl RfcExample {
    fn new(hasher: Hasher) -> Self {
        let mut log = MemoryNodeSource::new(hasher);
        for leaf in &TEST_LEAVES[..7] {
            log.append(&decode_hex(leaf));
        }
        let leaves = log.leaf_hash_slice().to_vec();
        let [a, b, c, d, e, f, j] = leaves[..] else {
            unreachable!("seven leaves")
        };
        let g = hasher.hash_children(&a, &b);
        let h = hasher.hash_children(&c, &d);
        let i = hasher.hash_children(&e, &f);
        let k = hasher.hash_children(&g, &h);
        let l = hasher.hash_children(&i, &j);
        let root = hasher.hash_children(&k, &l);
        Self {
            tree: MerkleTree::new(hasher, log),
            nodes: [a, b, c, d, e, f, g, h, i, j, k, l],
        }
        .with_root_check(root)
    }

    fn with_root_check(self, root: Hash) -> Self {
        assert_eq!(self.tree.root(7).expect("stored"), root, "RFC 7-leaf root");
        self
    }

    /// Returns the hashes named by letters a–l.
    fn named(&self, letters: &str) -> Vec<Hash> {
        letters
            .bytes()
            .map(|letter| self.nodes[usize::from(letter - b'a')])
            .collect()
    }
}

#[test]
fn rfc_example_inclusion_proofs() {
    for hasher in HASHERS {
        let example = RfcExample::new(hasher);
        for (index, letters) in [(0, "bhl"), (3, "cgl"), (4, "fjk"), (6, "ik")] {
            let proof = example.tree.inclusion_proof(index, 7).expect("in range");
            assert_eq!(proof.path, example.named(letters), "{hasher} d{index}");
        }
    }
}

#[test]
fn rfc_example_consistency_proofs() {
    for hasher in HASHERS {
        let example = RfcExample::new(hasher);
        for (first, letters) in [(3, "cdgl"), (4, "l"), (6, "ijk")] {
            let proof = example.tree.consistency_proof(first, 7).expect("in range");
            assert_eq!(
                proof.path,
                example.named(letters),
                "{hasher} PROOF({first})"
            );
        }
    }
}

/// Inclusion proofs with one parameter or element changed, after the probes of
/// transparency-dev/merkle `corruptInclusionProof`.
fn corrupt_inclusion(
    proof: &InclusionProof,
    leaf: Hash,
    root: Hash,
    hasher: Hasher,
) -> Vec<(String, u64, u64, Hash, Vec<Hash>, Hash)> {
    let (index, size, path) = (proof.leaf_index, proof.tree_size, &proof.path);
    let garbage = hasher.hash_leaf(b"garbage");
    let random_root = hash("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut probes = vec![
        (
            "index + 1".into(),
            index + 1,
            size,
            leaf,
            path.clone(),
            root,
        ),
        (
            "index ^ 2".into(),
            index ^ 2,
            size,
            leaf,
            path.clone(),
            root,
        ),
        ("size * 2".into(), index, size * 2, leaf, path.clone(), root),
        ("size / 2".into(), index, size / 2, leaf, path.clone(), root),
        (
            "wrong leaf".into(),
            index,
            size,
            hasher.hash_leaf(b"WrongLeaf"),
            path.clone(),
            root,
        ),
        (
            "empty root".into(),
            index,
            size,
            leaf,
            path.clone(),
            hasher.empty_root(),
        ),
        (
            "random root".into(),
            index,
            size,
            leaf,
            path.clone(),
            random_root,
        ),
        (
            "trailing garbage".into(),
            index,
            size,
            leaf,
            with_last(path, garbage),
            root,
        ),
        (
            "trailing root".into(),
            index,
            size,
            leaf,
            with_last(path, root),
            root,
        ),
        (
            "preceding garbage".into(),
            index,
            size,
            leaf,
            with_first(path, garbage),
            root,
        ),
        (
            "preceding root".into(),
            index,
            size,
            leaf,
            with_first(path, root),
            root,
        ),
    ];
    if index > 0 {
        probes.push((
            "index - 1".into(),
            index - 1,
            size,
            leaf,
            path.clone(),
            root,
        ));
    }
    if let Some((_, shorter)) = path.split_last() {
        probes.push((
            "removed last".into(),
            index,
            size,
            leaf,
            shorter.to_vec(),
            root,
        ));
        probes.push((
            "removed first".into(),
            index,
            size,
            leaf,
            path[1..].to_vec(),
            root,
        ));
    }
    if path.len() > 1 {
        let mut inserted = vec![path[0], random_root];
        inserted.extend_from_slice(&path[1..]);
        probes.push(("inserted element".into(), index, size, leaf, inserted, root));
    }
    for position in 0..path.len() {
        let mut flipped = path.clone();
        flipped[position] = flip_bit(flipped[position]);
        probes.push((
            format!("flipped path[{position}]"),
            index,
            size,
            leaf,
            flipped,
            root,
        ));
    }
    probes
}

fn with_last(path: &[Hash], extra: Hash) -> Vec<Hash> {
    let mut longer = path.to_vec();
    longer.push(extra);
    longer
}

fn with_first(path: &[Hash], extra: Hash) -> Vec<Hash> {
    let mut longer = vec![extra];
    longer.extend_from_slice(path);
    longer
}

fn flip_bit(hash: Hash) -> Hash {
    let mut bytes = *hash.as_bytes();
    bytes[0] ^= 8;
    Hash::from_bytes(bytes)
}

#[test]
fn inclusion_exhaustive_up_to_64_with_probes() {
    for hasher in HASHERS {
        let log = numbered_log(hasher, 64);
        let tree = MerkleTree::new(hasher, &log);
        for size in 1..=64 {
            let root = tree.root(size).expect("stored");
            for index in 0..size {
                let leaf = log.leaf_hash_slice()[index as usize];
                let proof = tree.inclusion_proof(index, size).expect("in range");
                assert_eq!(
                    proof.verify(hasher, &leaf, &root),
                    Ok(()),
                    "{hasher} {index}/{size}"
                );
                for (name, p_index, p_size, p_leaf, p_path, p_root) in
                    corrupt_inclusion(&proof, leaf, root, hasher)
                {
                    let result =
                        verify_inclusion(hasher, p_index, p_size, &p_leaf, &p_path, &p_root);
                    assert!(
                        result.is_err(),
                        "{hasher} {index}/{size}: probe {name:?} verified"
                    );
                }
            }
        }
    }
}

/// Consistency proofs with one parameter or element changed, after the probes of
/// transparency-dev/merkle `corruptConsistencyProof`.
fn corrupt_consistency(
    proof: &ConsistencyProof,
    first_root: Hash,
    second_root: Hash,
    hasher: Hasher,
) -> Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> {
    let (first, second, path) = (proof.first_size, proof.second_size, &proof.path);
    let garbage = hasher.hash_leaf(b"garbage");
    let wrong = hasher.hash_leaf(b"WrongRoot");
    let (r1, r2) = (first_root, second_root);
    let mut probes = vec![
        ("first - 1".into(), first - 1, second, r1, r2, path.clone()),
        ("first + 1".into(), first + 1, second, r1, r2, path.clone()),
        ("first ^ 2".into(), first ^ 2, second, r1, r2, path.clone()),
        ("second * 2".into(), first, second * 2, r1, r2, path.clone()),
        ("second / 2".into(), first, second / 2, r1, r2, path.clone()),
        (
            "wrong first root".into(),
            first,
            second,
            wrong,
            r2,
            path.clone(),
        ),
        (
            "wrong second root".into(),
            first,
            second,
            r1,
            wrong,
            path.clone(),
        ),
        ("swapped roots".into(), first, second, r2, r1, path.clone()),
        (
            "empty root".into(),
            first,
            second,
            hasher.empty_root(),
            r2,
            path.clone(),
        ),
        ("empty proof".into(), first, second, r1, r2, Vec::new()),
        (
            "trailing garbage".into(),
            first,
            second,
            r1,
            r2,
            with_last(path, garbage),
        ),
        (
            "trailing first root".into(),
            first,
            second,
            r1,
            r2,
            with_last(path, r1),
        ),
        (
            "trailing second root".into(),
            first,
            second,
            r1,
            r2,
            with_last(path, r2),
        ),
        (
            "preceding garbage".into(),
            first,
            second,
            r1,
            r2,
            with_first(path, garbage),
        ),
        (
            "preceding first root".into(),
            first,
            second,
            r1,
            r2,
            with_first(path, r1),
        ),
        (
            "preceding second root".into(),
            first,
            second,
            r1,
            r2,
            with_first(path, r2),
        ),
        (
            "preceding path[0]".into(),
            first,
            second,
            r1,
            r2,
            with_first(path, path[0]),
        ),
    ];
    if let Some((_, shorter)) = path.split_last() {
        probes.push(("truncated".into(), first, second, r1, r2, shorter.to_vec()));
        probes.push((
            "removed first".into(),
            first,
            second,
            r1,
            r2,
            path[1..].to_vec(),
        ));
    }
    for position in 0..path.len() {
        let mut flipped = path.clone();
        flipped[position] = flip_bit(flipped[position]);
        probes.push((
            format!("flipped path[{position}]"),
            first,
            second,
            r1,
            r2,
            flipped,
        ));
    }
    probes
}

#[test]
fn consistency_exhaustive_up_to_64_with_probes() {
    for hasher in HASHERS {
        let log = numbered_log(hasher, 64);
        let tree = MerkleTree::new(hasher, &log);
        let roots: Vec<Hash> = (0..=64)
            .map(|size| tree.root(size).expect("stored"))
            .collect();
        for second in 1..=64u64 {
            for first in 1..=second {
                let (r1, r2) = (roots[first as usize], roots[second as usize]);
                let proof = tree.consistency_proof(first, second).expect("in range");
                assert_eq!(
                    proof.verify(hasher, &r1, &r2),
                    Ok(()),
                    "{hasher} {first}->{second}"
                );
                if first == second {
                    assert!(proof.path.is_empty());
                    continue;
                }
                for (name, p_first, p_second, p_r1, p_r2, p_path) in
                    corrupt_consistency(&proof, r1, r2, hasher)
                {
                    let result =
                        verify_consistency(hasher, p_first, p_second, &p_r1, &p_r2, &p_path);
                    assert!(
                        result.is_err(),
                        "{hasher} {first}->{second}: probe {name:?} verified"
                    );
                }
            }
        }
    }
}

#[test]
fn consistency_one_to_two() {
    for hasher in HASHERS {
        let log = numbered_log(hasher, 2);
        let tree = MerkleTree::new(hasher, &log);
        let proof = tree.consistency_proof(1, 2).expect("in range");
        // The old tree is leaf 0, a complete subtree, so only its sibling is sent.
        assert_eq!(proof.path, vec![log.leaf_hash_slice()[1]]);
        let (r1, r2) = (tree.root(1).expect("stored"), tree.root(2).expect("stored"));
        assert_eq!(proof.verify(hasher, &r1, &r2), Ok(()));
    }
}

#[test]
fn rewritten_history_has_no_consistency_proof() {
    // Keep 5 entries, then append 3 different ones where the old log had 3 others: the
    // size is unchanged at 8 but no proof from the old 8 to the new 8 or beyond exists.
    for hasher in HASHERS {
        let original = numbered_log(hasher, 8);
        let mut rewritten = MemoryNodeSource::new(hasher);
        for index in 0..5u64 {
            rewritten.append(format!("entry {index}").as_bytes());
        }
        for index in 5..8u64 {
            rewritten.append(format!("forged entry {index}").as_bytes());
        }
        let old_root = original.root();
        let new_root = rewritten.root();
        let equal = verify_consistency(hasher, 8, 8, &old_root, &new_root, &[]);
        assert!(matches!(
            equal,
            Err(ProofError::EqualSizeRootsDiffer { size: 8, .. })
        ));
        rewritten.append(b"entry 8");
        let tree = MerkleTree::new(hasher, &rewritten);
        let forged = tree.consistency_proof(8, 9).expect("in range");
        let result = forged.verify(hasher, &old_root, &rewritten.root());
        // The old size is a power of two, so its root seeds the proof and the mismatch
        // shows in the new root.
        assert!(
            matches!(result, Err(ProofError::SecondRootMismatch { .. })),
            "{result:?}"
        );
        let forged = tree.consistency_proof(7, 9).expect("in range");
        let old_seven = MerkleTree::new(hasher, &original).root(7).expect("stored");
        let result = forged.verify(hasher, &old_seven, &rewritten.root());
        assert!(
            matches!(result, Err(ProofError::FirstRootMismatch { .. })),
            "{result:?}"
        );
        // The prefix the forger kept is still provably consistent.
        let kept = tree.consistency_proof(5, 9).expect("in range");
        let kept_root = MerkleTree::new(hasher, &original).root(5).expect("stored");
        assert_eq!(kept.verify(hasher, &kept_root, &rewritten.root()), Ok(()));
    }
}

#[test]
fn proof_errors_name_the_problem() {
    let hasher = Hasher::Sha256;
    let log = numbered_log(hasher, 10);
    let tree = MerkleTree::new(hasher, &log);
    let proof = tree.inclusion_proof(3, 10).expect("in range");
    let leaf = log.leaf_hash_slice()[3];
    let root = log.root();
    let mut long = proof.path.clone();
    long.push(root);
    let error = verify_inclusion(hasher, 3, 10, &leaf, &long, &root).expect_err("trailing");
    assert_eq!(
        error,
        ProofError::TrailingElements {
            expected: 4,
            actual: 5
        }
    );
    assert_eq!(
        error.to_string(),
        "invalid proof: path has 5 hashes, but the tree sizes need 4"
    );
    let error = verify_inclusion(hasher, 3, 10, &leaf, &proof.path[..3], &root).expect_err("short");
    assert_eq!(
        error,
        ProofError::MissingElements {
            expected: 4,
            actual: 3
        }
    );
    let error = verify_inclusion(hasher, 10, 10, &leaf, &proof.path, &root).expect_err("index");
    assert_eq!(
        error,
        ProofError::LeafIndexOutOfRange {
            leaf_index: 10,
            tree_size: 10
        }
    );
    let other = hasher.hash_leaf(b"other");
    let error = verify_inclusion(hasher, 3, 10, &other, &proof.path, &root).expect_err("leaf");
    assert!(matches!(error, ProofError::RootMismatch { expected, .. } if expected == root));
}
