//! Parses arbitrary bytes as a signed checkpoint note, verifies it against fixed Ed25519
//! and SM2 keys, and parses them as a tlog-proof bundle. Any outcome but a panic is correct.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oversight_ledger::{
    Checkpoint, CheckpointVerifier, Note, ProofBundle, SignatureAlgorithm, SignerKey,
};

const ORIGIN: &str = "fuzz.example/ledger";

/// Verifiers for an Ed25519 log with an SM2 witness, from fixed secret keys.
static VERIFIER: LazyLock<CheckpointVerifier> = LazyLock::new(|| {
    let log = SignerKey::from_hex(ORIGIN, SignatureAlgorithm::Ed25519, &"11".repeat(32))
        .expect("fixed Ed25519 seed is valid");
    let witness = SignerKey::from_hex(
        "fuzz.example/witness",
        SignatureAlgorithm::Sm2,
        &"22".repeat(32),
    )
    .expect("fixed SM2 scalar is below the group order");
    CheckpointVerifier::new(ORIGIN, log.verifier_key().clone())
        .with_witnesses(vec![witness.verifier_key().clone()], 1)
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = Note::parse(text) {
        let _ = Checkpoint::parse_text(note.text());
        assert_eq!(
            Note::parse(&note.to_string()).as_ref(),
            Ok(&note),
            "a parsed note reformats to itself"
        );
    }
    let _ = VERIFIER.verify(text);
    let _ = Checkpoint::parse_text(text);
    if let Ok(bundle) = ProofBundle::parse(text) {
        assert_eq!(
            ProofBundle::parse(&bundle.to_text()).as_ref(),
            Ok(&bundle),
            "a parsed bundle reformats to itself"
        );
    }
});
