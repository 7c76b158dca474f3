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
