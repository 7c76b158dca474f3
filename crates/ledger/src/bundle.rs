//! Offline-verifiable proofs of inclusion (C2SP tlog-proof@v1): an entry's index, its
//! inclusion path and the signed checkpoint the path leads to, in one text.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 opaque data>          (optional, not authenticated)
//! index 73894
//! <base64 hash, from the leaf's sibling up to the root's child, one per line>
//!
//! <the signed checkpoint, verbatim>
//! ```
//!
//! A decision record (a penalty, an inspection draw) can carry such a bundle so that anyone
//! holding the log's verifier key can check it was logged, without asking the log.
//!
//! NOTE: tlog-proof@v1 specifies SHA-256 path hashes. A bundle from an SM3 log has the same
//! layout with SM3 hashes, so only verifiers configured for SM3 accept it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{CheckpointError, CheckpointVerifier, VerifiedCheckpoint, parse_decimal};
use crate::hash::{Hash, Hasher};
use crate::proof::InclusionProof;

/// First line of every bundle.
const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most path lines a bundle can need: one per level of a tree of up to 2^64 entries.
const MAX_PATH_LEN: usize = 64;

/// Errors from parsing or verifying a [`ProofBundle`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofBundleError {
    /// The text is not a tlog-proof.
    #[error("invalid tlog-proof: {reason}")]
    Malformed {
        /// The defect found.
        reason: String,
    },
    /// The checkpoint or the inclusion proof did not verify.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

fn malformed(reason: impl Into<String>) -> ProofBundleError {
    ProofBundleError::Malformed {
        reason: reason.into(),
    }
}

/// An entry's inclusion proof together with the signed checkpoint it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBundle {
    /// Opaque application data; it is not authenticated.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion path, from the leaf's sibling up to the root's child.
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub signed_checkpoint: String,
}

impl ProofBundle {
    /// Bundles an inclusion proof with the signed checkpoint of the same tree size.
    pub fn new(proof: &InclusionProof, signed_checkpoint: String, extra: Option<Vec<u8>>) -> Self {
        Self {
            extra,
            index: proof.leaf_index,
            path: proof.path.clone(),
            signed_checkpoint,
        }
    }

    /// Formats the bundle as tlog-proof text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.path {
            text.push_str(&BASE64.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.signed_checkpoint);
        text
    }

    /// Parses tlog-proof text. The checkpoint is kept as text until [`ProofBundle::verify`].
    pub fn parse(text: &str) -> Result<Self, ProofBundleError> {
        let Some((head, signed_checkpoint)) = text.split_once("\n\n") else {
            return Err(malformed("no empty line before the checkpoint"));
        };
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(malformed(format!("the first line must be {HEADER}")));
        }
        let mut line = lines.next();
        let mut extra = None;
        if let Some(encoded) = line.and_then(|l| l.strip_prefix("extra ")) {
            let bytes = BASE64
                .decode(encoded)
                .map_err(|_| malformed("the extra line is not valid standard base64"))?;
            extra = Some(bytes);
            line = lines.next();
        }
        let index = line
            .and_then(|l| l.strip_prefix("index "))
            .and_then(parse_decimal)
            .ok_or_else(|| {
                malformed("expected an index line: index <decimal without leading zeros>")
            })?;
        let path = lines
            .take(MAX_PATH_LEN + 1)
            .map(parse_hash)
            .collect::<Result<Vec<_>, _>>()?;
        if path.len() > MAX_PATH_LEN {
            return Err(malformed(format!(
                "the inclusion path has more than {MAX_PATH_LEN} lines, more than any tree needs"
            )));
        }
        Ok(Self {
            extra,
            index,
            path,
            signed_checkpoint: signed_checkpoint.into(),
        })
    }

    /// Verifies the checkpoint with `verifier`, then that `leaf_hash` is at the bundle's
    /// index in the checkpoint's tree. Returns the verified checkpoint.
    pub fn verify(
        &self,
        verifier: &CheckpointVerifier,
        hasher: Hasher,
        leaf_hash: &Hash,
    ) -> Result<VerifiedCheckpoint, ProofBundleError> {
        let checkpoint = verifier.verify(&self.signed_checkpoint)?;
        let proof = InclusionProof {
            leaf_index: self.index,
            tree_size: checkpoint.size(),
            path: self.path.clone(),
        };
        checkpoint.verify_inclusion(hasher, leaf_hash, &proof)?;
        Ok(checkpoint)
    }
}

fn parse_hash(line: &str) -> Result<Hash, ProofBundleError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| malformed(format!("proof line {line:?} is not valid standard base64")))?;
    Hash::from_slice(&bytes).map_err(|_| {
        malformed(format!(
            "proof line {line:?} has {} bytes, expected 32",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::keys::{SignatureAlgorithm, SignerKey};
    use crate::memory::MemoryNodeSource;
    use crate::proof::ProofError;
    use crate::tree::MerkleTree;

    const ORIGIN: &str = "bundle.example/ledger";

    struct Fixture {
        log: MemoryNodeSource,
        verifier: CheckpointVerifier,
        bundle: ProofBundle,
    }

    fn fixture(hasher: Hasher) -> Fixture {
        let mut log = MemoryNodeSource::new(hasher);
        for index in 0u64..21 {
            log.append(format!("decision {index}").as_bytes());
        }
        let key = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("random");
        let signed = Checkpoint::new(ORIGIN, 21, log.root(), Some(1_764_806_400))
            .sign(&key)
            .expect("log key");
        let proof = MerkleTree::new(hasher, &log)
            .inclusion_proof(13, 21)
            .expect("in range");
        let bundle = ProofBundle::new(&proof, signed, Some(b"penalty 2026-0042".to_vec()));
        let verifier = CheckpointVerifier::new(ORIGIN, key.verifier_key().clone());
        Fixture {
            log,
            verifier,
            bundle,
        }
    }

    #[test]
    fn bundle_round_trips_and_verifies() {
        let fixture = fixture(Hasher::Sm3);
        let text = fixture.bundle.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        let parsed = ProofBundle::parse(&text).expect("own output parses");
        assert_eq!(parsed, fixture.bundle);
        let leaf = fixture.log.leaf_hash_slice()[13];
        let checkpoint = parsed
            .verify(&fixture.verifier, Hasher::Sm3, &leaf)
            .expect("verifies");
        assert_eq!(checkpoint.size(), 21);
    }

    #[test]
    fn other_leaf_is_rejected() {
        let fixture = fixture(Hasher::Sha256);
        let leaf = fixture.log.leaf_hash_slice()[12];
        let result = fixture
            .bundle
            .verify(&fixture.verifier, Hasher::Sha256, &leaf);
        let Err(ProofBundleError::Checkpoint(CheckpointError::Proof(error))) = result else {
            panic!("expected a proof error, got {result:?}");
        };
        assert!(
            matches!(error, ProofError::RootMismatch { expected, .. } if expected == fixture.log.root())
        );
    }

    #[test]
    fn unsigned_checkpoint_is_rejected() {
        let fixture = fixture(Hasher::Sha256);
        let mut bundle = fixture.bundle.clone();
        bundle.signed_checkpoint = bundle.signed_checkpoint.replace("\n21\n", "\n22\n");
        let leaf = fixture.log.leaf_hash_slice()[13];
        let error = bundle
            .verify(&fixture.verifier, Hasher::Sha256, &leaf)
            .expect_err("altered");
        assert!(matches!(
            error,
            ProofBundleError::Checkpoint(CheckpointError::Note(_))
        ));
    }

    #[test]
    fn malformed_bundles_are_rejected() {
        let fixture = fixture(Hasher::Sha256);
        let text = fixture.bundle.to_text();
        let cases = [
            text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            text.replacen("index 13", "index 013", 1),
            text.replacen("index 13", "idx 13", 1),
            text.replacen("extra ", "extra !", 1),
            text.replacen("\n\n", "\n", 1),
        ];
        for case in cases {
            let result = ProofBundle::parse(&case);
            assert!(
                matches!(result, Err(ProofBundleError::Malformed { .. })),
                "{case:?}"
            );
        }
        let hash_line = format!("{}\n", BASE64.encode([0u8; 32]));
        let long_path = format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{}",
            hash_line.repeat(MAX_PATH_LEN + 1),
            fixture.bundle.signed_checkpoint
        );
        let error = ProofBundle::parse(&long_path).expect_err("65 path lines");
        assert!(error.to_string().contains("more than 64 lines"), "{error}");
        let short_hash = format!(
            "c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n{}",
            fixture.bundle.signed_checkpoint
        );
        assert!(matches!(
            ProofBundle::parse(&short_hash),
            Err(ProofBundleError::Malformed { .. })
        ));
    }

    #[test]
    fn bundle_without_extra_parses() {
        let fixture = fixture(Hasher::Sha256);
        let mut bundle = fixture.bundle;
        bundle.extra = None;
        let text = bundle.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 13\n"));
        assert_eq!(ProofBundle::parse(&text), Ok(bundle));
    }
}
