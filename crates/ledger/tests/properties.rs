//! Property tests: proofs from random logs verify, altered proofs are rejected, and the
//! verifiers return (rather than loop or panic) on arbitrary input.

use oversight_ledger::{
    CompactRange, Hash, Hasher, MemoryNodeSource, MerkleTree, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn hasher_strategy() -> impl Strategy<Value = Hasher> {
    prop_oneof![Just(Hasher::Sha256), Just(Hasher::Sm3)]
}

fn hash_strategy() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash::from_bytes)
}

fn log_of(hasher: Hasher, count: u64) -> MemoryNodeSource {
    let mut log = MemoryNodeSource::new(hasher);
    for index in 0..count {
        log.append(&index.to_le_bytes());
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn inclusion_round_trip(hasher in hasher_strategy(), size in 1u64..600, pick in any::<u64>()) {
        let log = log_of(hasher, size);
        let tree = MerkleTree::new(hasher, &log);
        let index = pick % size;
        let proof = tree.inclusion_proof(index, size).expect("in range");
        let leaf = log.leaf_hash_slice()[index as usize];
        prop_assert_eq!(proof.verify(hasher, &leaf, &log.root()), Ok(()));
    }

    #[test]
    fn consistency_round_trip(hasher in hasher_strategy(), second in 1u64..600, pick in any::<u64>()) {
        let log = log_of(hasher, second);
        let tree = MerkleTree::new(hasher, &log);
        let first = pick % second + 1;
        let proof = tree.consistency_proof(first, second).expect("in range");
        let first_root = tree.root(first).expect("stored");
        prop_assert_eq!(proof.verify(hasher, &first_root, &log.root()), Ok(()));
    }

    #[test]
    fn altered_inclusion_element_is_rejected(
        size in 2u64..600,
        pick in any::<u64>(),
        element in any::<usize>(),
        bit in 0usize..256,
    ) {
        let hasher = Hasher::Sha256;
        let log = log_of(hasher, size);
        let tree = MerkleTree::new(hasher, &log);
        let index = pick % size;
        let mut proof = tree.inclusion_proof(index, size).expect("in range");
        let position = element % proof.path.len();
        let mut bytes = *proof.path[position].as_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        proof.path[position] = Hash::from_bytes(bytes);
        let leaf = log.leaf_hash_slice()[index as usize];
        prop_assert!(proof.verify(hasher, &leaf, &log.root()).is_err());
    }

    #[test]
    fn altered_consistency_element_is_rejected(
        second in 3u64..600,
        pick in any::<u64>(),
        element in any::<usize>(),
        bit in 0usize..256,
    ) {
        let hasher = Hasher::Sm3;
        let log = log_of(hasher, second);
        let tree = MerkleTree::new(hasher, &log);
        let first = pick % (second - 1) + 1;
        let mut proof = tree.consistency_proof(first, second).expect("in range");
        let position = element % proof.path.len();
        let mut bytes = *proof.path[position].as_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        proof.path[position] = Hash::from_bytes(bytes);
        let first_root = tree.root(first).expect("stored");
        prop_assert!(proof.verify(hasher, &first_root, &log.root()).is_err());
    }

    #[test]
    fn inclusion_verifier_returns_on_any_input(
        index in any::<u64>(),
        size in any::<u64>(),
        leaf in hash_strategy(),
        root in hash_strategy(),
        path in proptest::collection::vec(hash_strategy(), 0..80),
    ) {
        // Random input essentially never verifies, and the property is that the call returns.
        let result = verify_inclusion(Hasher::Sha256, index, size, &leaf, &path, &root);
        prop_assert!(result.is_err());
    }

    #[test]
    fn consistency_verifier_returns_on_any_input(
        first in any::<u64>(),
        second in any::<u64>(),
        first_root in hash_strategy(),
        second_root in hash_strategy(),
        path in proptest::collection::vec(hash_strategy(), 0..80),
    ) {
        let result =
            verify_consistency(Hasher::Sha256, first, second, &first_root, &second_root, &path);
        prop_assert!(result.is_err());
    }

    #[test]
    fn compact_range_matches_tree(
        hasher in hasher_strategy(),
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..300),
    ) {
        let mut range = CompactRange::new(hasher);
        let mut log = MemoryNodeSource::new(hasher);
        for entry in &entries {
            range.append(entry);
            log.append(entry);
        }
        let tree = MerkleTree::new(hasher, &log);
        prop_assert_eq!(range.root(), tree.root(entries.len() as u64).expect("stored"));
    }
}

mod parsers {
    //! The parsers of untrusted text return an error instead of panicking, and a signed
    //! checkpoint with any one character changed is rejected.

    use oversight_ledger::{
        Checkpoint, CheckpointVerifier, Hasher, Note, ProofBundle, SignatureAlgorithm, SignerKey,
        VerifierKey,
    };
    use proptest::prelude::*;

    const ORIGIN: &str = "proptest.example/ledger";

    /// Text built from the characters the formats use, so that cases reach deep branches.
    fn format_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9+/=. \n\u{2014}-]{0,300}").expect("valid regex")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn parsers_return_on_any_text(text in format_text(), other in any::<String>()) {
            for input in [&text, &other] {
                let _ = Note::parse(input);
                let _ = Checkpoint::parse_text(input);
                let _ = VerifierKey::parse(input);
                let _ = SignerKey::parse(input);
                let _ = input.parse::<Hasher>();
                let _ = ProofBundle::parse(input);
            }
        }
    }

    fn signed_checkpoint(algorithm: SignatureAlgorithm) -> (String, CheckpointVerifier) {
        let key = SignerKey::generate(ORIGIN, algorithm).expect("random");
        let root = Hasher::Sha256.hash_leaf(b"root");
        let signed = Checkpoint::new(ORIGIN, 1234, root, Some(1_764_806_400))
            .sign(&key)
            .expect("log key");
        (
            signed,
            CheckpointVerifier::new(ORIGIN, key.verifier_key().clone()),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_changed_character_is_rejected(
            sm2 in any::<bool>(),
            position in any::<usize>(),
            replacement in proptest::char::range(' ', '~'),
        ) {
            let algorithm = if sm2 { SignatureAlgorithm::Sm2 } else { SignatureAlgorithm::Ed25519 };
            let (signed, verifier) = signed_checkpoint(algorithm);
            let mut characters: Vec<char> = signed.chars().collect();
            let position = position % characters.len();
            prop_assume!(characters[position] != replacement);
            characters[position] = replacement;
            let altered: String = characters.into_iter().collect();
            prop_assert!(verifier.verify(&altered).is_err(), "accepted {altered:?}");
        }
    }
}

mod batch_append {
    //! A batch append leaves the same size, peaks and root as appending the same leaves one
    //! by one, and reports the same nodes with the same hashes, in index order within each
    //! level. The batch hash functions agree with the single-hash ones.

    use std::collections::BTreeMap;

    use oversight_ledger::{CompactRange, Hash, MemoryNodeSource, MerkleTree, NodeId};
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::{hash_strategy, hasher_strategy};

    /// Maximum number of leaves in one generated batch: several 64-leaf hashing chunks and 10
    /// levels of new nodes.
    const MAX_BATCH: usize = 1100;

    /// Sizes to start from: 0, 1, powers of two and their neighbours, small sizes, and any
    /// size that leaves room for the largest batch.
    fn start_size_strategy() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(1u64),
            (0u32..64, -1i64..=1)
                .prop_map(|(exponent, offset)| (1u64 << exponent).saturating_add_signed(offset)),
            0u64..5000,
            0u64..=u64::MAX - MAX_BATCH as u64,
        ]
    }

    /// Generates a range of a random start size with random peak hashes.
    fn range_strategy() -> impl Strategy<Value = CompactRange> {
        (hasher_strategy(), start_size_strategy()).prop_flat_map(|(hasher, size)| {
            vec(hash_strategy(), size.count_ones() as usize).prop_map(move |peaks| {
                CompactRange::from_parts(hasher, size, peaks).expect("one peak per set bit")
            })
        })
    }

    fn batch_len_strategy() -> impl Strategy<Value = usize> {
        prop_oneof![Just(0usize), Just(1usize), 2usize..70, 70..=MAX_BATCH]
    }

    /// Reported nodes grouped by level, each level in report order.
    fn by_level(reports: &[(NodeId, Hash)]) -> BTreeMap<u8, Vec<(u64, Hash)>> {
        let mut levels: BTreeMap<u8, Vec<(u64, Hash)>> = BTreeMap::new();
        for (node, hash) in reports {
            levels
                .entry(node.level)
                .or_default()
                .push((node.index, *hash));
        }
        levels
    }

    /// Appends `leaves` one by one to a copy of `start` and with `append_batch` to another,
    /// checks that both give the same range and reports, and returns the batch-appended range.
    fn check_batch(
        start: &CompactRange,
        leaves: &[Hash],
        append_batch: impl FnOnce(&mut CompactRange, &mut dyn FnMut(NodeId, &Hash)),
    ) -> Result<CompactRange, TestCaseError> {
        let mut single = start.clone();
        let mut single_reports = Vec::new();
        for leaf in leaves {
            single.append_leaf_hash_with(*leaf, |node, hash| single_reports.push((node, *hash)));
        }

        let mut batch = start.clone();
        let mut batch_reports = Vec::new();
        append_batch(&mut batch, &mut |node, hash| {
            batch_reports.push((node, *hash));
        });

        prop_assert_eq!(batch.size(), single.size());
        prop_assert_eq!(batch.peaks(), single.peaks());
        prop_assert_eq!(batch.root(), single.root());
        prop_assert_eq!(batch_reports.len(), single_reports.len());
        prop_assert_eq!(by_level(&batch_reports), by_level(&single_reports));
        let levels: Vec<u8> = batch_reports.iter().map(|(node, _)| node.level).collect();
        prop_assert!(
            levels.is_sorted(),
            "batch reports are not level by level: {:?}",
            levels
        );
        Ok(batch)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn leaf_hash_batch_matches_one_by_one(
            start in range_strategy(),
            leaves in batch_len_strategy().prop_flat_map(|len| vec(hash_strategy(), len)),
        ) {
            check_batch(&start, &leaves, |range, on_node| {
                range.append_leaf_hashes_with(&leaves, on_node);
            })?;
        }

        #[test]
        fn entry_batch_matches_one_by_one(
            start in range_strategy(),
            entries in batch_len_strategy().prop_flat_map(|len| vec(vec(any::<u8>(), 0..300), len)),
        ) {
            let hasher = start.hasher();
            let leaves: Vec<Hash> = entries.iter().map(|entry| hasher.hash_leaf(entry)).collect();
            let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            check_batch(&start, &leaves, |range, on_node| {
                range.append_entries_with(&entries, on_node);
            })?;
        }

        #[test]
        fn batch_up_to_max_size_matches(
            hasher in hasher_strategy(),
            leaves in vec(hash_strategy(), 0..70),
            peaks in vec(hash_strategy(), 64),
        ) {
            let size = u64::MAX - leaves.len() as u64;
            let peaks = peaks[..size.count_ones() as usize].to_vec();
            let start = CompactRange::from_parts(hasher, size, peaks).expect("one peak per set bit");
            let batch = check_batch(&start, &leaves, |range, on_node| {
                range.append_leaf_hashes_with(&leaves, on_node);
            })?;
            prop_assert_eq!(batch.size(), u64::MAX);
        }

        #[test]
        fn batches_match_tree(
            hasher in hasher_strategy(),
            entries in vec(vec(any::<u8>(), 0..40), 0..600),
            cuts in vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(entries.len() + 1)).collect();
            cuts.push(0);
            cuts.push(entries.len());
            cuts.sort_unstable();
            let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            let mut range = CompactRange::new(hasher);
            let mut log = MemoryNodeSource::new(hasher);
            for batch in cuts.windows(2).map(|bounds| &entries[bounds[0]..bounds[1]]) {
                range.append_entries_with(batch, |_, _| {});
                for entry in batch {
                    log.append(entry);
                }
            }
            let tree = MerkleTree::new(hasher, &log);
            prop_assert_eq!(range.size(), entries.len() as u64);
            prop_assert_eq!(range.root(), tree.root(entries.len() as u64).expect("stored"));
        }

        #[test]
        fn hash_leaves_matches_hash_leaf(
            hasher in hasher_strategy(),
            entries in vec(vec(any::<u8>(), 0..300), 0..150),
        ) {
            let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            let mut leaves = vec![Hash::default(); entries.len()];
            hasher.hash_leaves(&entries, &mut leaves);
            for (entry, leaf) in entries.iter().zip(&leaves) {
                prop_assert_eq!(*leaf, hasher.hash_leaf(entry), "{} bytes", entry.len());
            }
        }

        #[test]
        fn hash_parents_matches_hash_children(
            hasher in hasher_strategy(),
            children in (0usize..150).prop_flat_map(|pairs| vec(hash_strategy(), 2 * pairs)),
        ) {
            let mut parents = vec![Hash::default(); children.len() / 2];
            hasher.hash_parents(&children, &mut parents);
            for (pair, parent) in children.chunks_exact(2).zip(&parents) {
                prop_assert_eq!(*parent, hasher.hash_children(&pair[0], &pair[1]));
            }
        }
    }
}
