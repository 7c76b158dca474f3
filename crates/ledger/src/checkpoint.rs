//! Checkpoints (C2SP tlog-checkpoint): the origin, size and root of the log, signed by the
//! log and cosigned by witnesses.
//!
//! ```text
//! oversight.example.gov.cn/ledger
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//! time 1764806400
//!
//! — oversight.example.gov.cn/ledger Az3grlgtzPICa5OS8npVmf1Myq/5IZni…
//! — witness.example.gov.cn/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9…
//! ```
//!
//! The optional extension line `time <POSIX seconds>` records when the log signed the
//! checkpoint, in the form C2SP tlog-cosignature uses for its timestamp line. Other
//! extension lines are kept as they are.
//!
//! A [`VerifiedCheckpoint`] exists only after the log's signature, the pinned origin and
//! the witness quorum were checked, and proofs are verified against it rather than
//! against a bare root. An inclusion proof is worth nothing unless its root is tied to a
//! signed checkpoint of the same log.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::{Hash, Hasher};
use crate::keys::{SignatureAlgorithm, SignerKey, VerifierKey};
use crate::note::{Note, NoteError, VerifiedSignature};
use crate::proof::{ConsistencyProof, InclusionProof, ProofError};

/// Prefix of the timestamp extension line.
const TIME_PREFIX: &str = "time ";

/// Errors from building, parsing, signing or verifying checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note is malformed or a signature does not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note text is not a checkpoint body.
    #[error("invalid checkpoint: {reason}")]
    Malformed {
        /// The defect found.
        reason: String,
    },
    /// The origin differs from the one the verifier pins.
    #[error("checkpoint origin {actual:?} differs from the trusted origin {expected:?}")]
    OriginMismatch {
        /// The pinned origin.
        expected: String,
        /// The checkpoint's origin.
        actual: String,
    },
    /// The log's own key did not sign the checkpoint.
    #[error("checkpoint has no valid signature from the log key {name} ({key_id:08x})")]
    MissingLogSignature {
        /// Name of the log key.
        name: String,
        /// Key ID of the log key.
        key_id: u32,
    },
    /// Fewer witnesses cosigned than the verifier requires.
    #[error("checkpoint has {verified} valid witness cosignatures, but {required} are required")]
    NotEnoughCosignatures {
        /// The quorum.
        required: usize,
        /// Valid cosignatures found.
        verified: usize,
    },
    /// A key of the wrong algorithm was given for the role.
    #[error(
        "a {algorithm} key cannot {role}: use an ed25519 or sm2 key for a log, any key for a witness"
    )]
    WrongKeyRole {
        /// Algorithm of the key.
        algorithm: SignatureAlgorithm,
        /// The role it was given.
        role: &'static str,
    },
    /// A proof is for a different tree size than the checkpoint.
    #[error("proof is for tree size {proof} but the checkpoint has size {checkpoint}")]
    SizeMismatch {
        /// Size of the checkpoint.
        checkpoint: u64,
        /// Size the proof is for.
        proof: u64,
    },
    /// The proof does not lead to the checkpoint's root.
    #[error("proof does not match the checkpoint: {0}")]
    Proof(#[from] ProofError),
}

fn malformed(reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        reason: reason.into(),
    }
}

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identity of the log, for example `oversight.example.gov.cn/ledger`.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// Root of the tree of `size` entries.
    pub root: Hash,
    /// When the log signed the checkpoint, in POSIX seconds.
    pub timestamp: Option<u64>,
    /// Other extension lines, without newlines, in order.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Creates a checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash, timestamp: Option<u64>) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            timestamp,
            extensions: Vec::new(),
        }
    }

    /// Formats the note text: origin, size, base64 root, then extension lines, each
    /// ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        if let Some(timestamp) = self.timestamp {
            text.push_str(&format!("{TIME_PREFIX}{timestamp}\n"));
        }
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint note text.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(malformed("the text must end with a newline"));
        };
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("expected origin, tree size and root hash lines"));
        };
        if origin.is_empty() {
            return Err(malformed("the origin line is empty"));
        }
        let checkpoint = Self {
            origin: origin.into(),
            size: parse_decimal(size).ok_or_else(|| {
                malformed(format!(
                    "tree size {size:?} is not a decimal without leading zeros"
                ))
            })?,
            root: parse_root(root)?,
            timestamp: None,
            extensions: Vec::new(),
        };
        lines.try_fold(checkpoint, add_extension)
    }

    /// Signs the checkpoint with the log's key and returns the signed note.
    pub fn sign(&self, log_key: &SignerKey) -> Result<String, CheckpointError> {
        if log_key.algorithm() == SignatureAlgorithm::Ed25519Cosignature {
            return Err(CheckpointError::WrongKeyRole {
                algorithm: log_key.algorithm(),
                role: "sign checkpoints as a log",
            });
        }
        self.check_lines()?;
        let text = self.to_text();
        let mut note = Note::unsigned(text);
        note.sign(log_key, 0);
        Ok(note.to_string())
    }

    /// Rejects an origin or extension line that would change the shape of the body.
    fn check_lines(&self) -> Result<(), CheckpointError> {
        let single_line = |line: &str| !line.is_empty() && !line.chars().any(char::is_control);
        if !single_line(&self.origin) {
            return Err(malformed(format!(
                "origin {:?} must be a non-empty line without control characters",
                self.origin
            )));
        }
        for extension in &self.extensions {
            if !single_line(extension) || extension.starts_with(TIME_PREFIX) {
                return Err(malformed(format!(
                    "extension line {extension:?} must be a non-empty line without control \
                     characters, and the time line is set through the timestamp field"
                )));
            }
        }
        Ok(())
    }
}

/// Parses a decimal with no sign and no leading zeros.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

fn parse_root(text: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(text)
        .map_err(|_| malformed(format!("root hash {text:?} is not valid standard base64")))?;
    Hash::from_slice(&bytes)
        .map_err(|_| malformed(format!("root hash has {} bytes, expected 32", bytes.len())))
}

fn add_extension(mut checkpoint: Checkpoint, line: &str) -> Result<Checkpoint, CheckpointError> {
    if line.is_empty() {
        return Err(malformed("extension lines must not be empty"));
    }
    let Some(value) = line.strip_prefix(TIME_PREFIX) else {
        checkpoint.extensions.push(line.into());
        return Ok(checkpoint);
    };
    if checkpoint.timestamp.is_some() {
        return Err(malformed("more than one time extension line"));
    }
    let timestamp = parse_decimal(value)
        .filter(|&seconds| seconds <= i64::MAX as u64)
        .ok_or_else(|| malformed(format!("time {value:?} is not POSIX seconds in decimal")))?;
    checkpoint.timestamp = Some(timestamp);
    Ok(checkpoint)
}

/// A witness cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// Witness key name.
    pub name: String,
    /// Witness key ID.
    pub key_id: u32,
    /// When the witness cosigned, in POSIX seconds (cosignature/v1 keys only).
    pub timestamp: Option<u64>,
}

impl From<VerifiedSignature> for Cosignature {
    fn from(signature: VerifiedSignature) -> Self {
        Self {
            name: signature.name,
            key_id: signature.key_id,
            timestamp: signature.timestamp,
        }
    }
}

/// Verifies checkpoints of one log: the origin and log key are pinned, and optionally a
/// quorum of known witnesses must cosign.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    origin: String,
    log_key: VerifierKey,
    witnesses: Vec<VerifierKey>,
    quorum: usize,
}

impl CheckpointVerifier {
    /// Creates a verifier that trusts `log_key` for checkpoints whose origin is `origin`.
    pub fn new(origin: impl Into<String>, log_key: VerifierKey) -> Self {
        Self {
            origin: origin.into(),
            log_key,
            witnesses: Vec::new(),
            quorum: 0,
        }
    }

    /// Adds witness keys and requires at least `quorum` of them to cosign.
    #[must_use]
    pub fn with_witnesses(mut self, witnesses: Vec<VerifierKey>, quorum: usize) -> Self {
        self.witnesses = witnesses;
        self.quorum = quorum;
        self
    }

    /// Verifies a signed checkpoint note.
    pub fn verify(&self, signed_note: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
        let note = Note::parse(signed_note)?;
        let mut trusted = vec![&self.log_key];
        trusted.extend(self.witnesses.iter());
        let signatures = note.verify(&trusted).map_err(|error| match error {
            NoteError::NoTrustedSignature { .. } => self.missing_log_signature(),
            other => CheckpointError::Note(other),
        })?;
        let log_signed = signatures
            .iter()
            .any(|s| s.name == self.log_key.name() && s.key_id == self.log_key.key_id());
        if !log_signed {
            return Err(self.missing_log_signature());
        }
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != self.origin {
            return Err(CheckpointError::OriginMismatch {
                expected: self.origin.clone(),
                actual: checkpoint.origin,
            });
        }
        let cosignatures: Vec<Cosignature> = signatures
            .into_iter()
            .filter(|s| s.name != self.log_key.name() || s.key_id != self.log_key.key_id())
            .map(Cosignature::from)
            .collect();
        if cosignatures.len() < self.quorum {
            return Err(CheckpointError::NotEnoughCosignatures {
                required: self.quorum,
                verified: cosignatures.len(),
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            cosignatures,
            note,
        })
    }

    fn missing_log_signature(&self) -> CheckpointError {
        CheckpointError::MissingLogSignature {
            name: self.log_key.name().into(),
            key_id: self.log_key.key_id(),
        }
    }
}

/// A checkpoint whose log signature, origin and witness quorum were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    cosignatures: Vec<Cosignature>,
    note: Note,
}

impl VerifiedCheckpoint {
    /// Returns the checkpoint body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Returns the tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// Returns the root hash.
    pub fn root(&self) -> &Hash {
        &self.checkpoint.root
    }

    /// Returns the witness cosignatures that verified.
    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }

    /// Verifies that `leaf_hash` is in this checkpoint's tree.
    pub fn verify_inclusion(
        &self,
        hasher: Hasher,
        leaf_hash: &Hash,
        proof: &InclusionProof,
    ) -> Result<(), CheckpointError> {
        if proof.tree_size != self.size() {
            return Err(CheckpointError::SizeMismatch {
                checkpoint: self.size(),
                proof: proof.tree_size,
            });
        }
        proof.verify(hasher, leaf_hash, self.root())?;
        Ok(())
    }

    /// Verifies that this checkpoint's tree extends the `earlier` checkpoint's tree.
    pub fn verify_extends(
        &self,
        hasher: Hasher,
        earlier: &VerifiedCheckpoint,
        proof: &ConsistencyProof,
    ) -> Result<(), CheckpointError> {
        if proof.first_size != earlier.size() {
            return Err(CheckpointError::SizeMismatch {
                checkpoint: earlier.size(),
                proof: proof.first_size,
            });
        }
        if proof.second_size != self.size() {
            return Err(CheckpointError::SizeMismatch {
                checkpoint: self.size(),
                proof: proof.second_size,
            });
        }
        proof.verify(hasher, earlier.root(), self.root())?;
        Ok(())
    }

    /// Adds a witness cosignature and returns the signed note with it.
    ///
    /// A witness calls this only after checking, with [`VerifiedCheckpoint::verify_extends`],
    /// that the checkpoint extends the last one it cosigned. `timestamp` is POSIX seconds.
    pub fn cosign(&self, witness_key: &SignerKey, timestamp: u64) -> String {
        let mut note = self.note.clone();
        note.sign(witness_key, timestamp);
        note.to_string()
    }

    /// Returns the signed note as verified.
    pub fn signed_note(&self) -> String {
        self.note.to_string()
    }
}

impl fmt::Display for Checkpoint {
    /// Formats the note text, as [`Checkpoint::to_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint signed with Go's golang.org/x/mod/sumdb/note, from the
    /// transparency-dev test data, with its verifier key.
    const GO_CHECKPOINT: &str = "example.com/log/testdata\n100270\n\
        GRV1O0dCqmjjPvYi7CtOT79zb/fPwLNsMFWsynwU8Ac=\n\n\
        \u{2014} example.com/log/testdata M9e0lkcvy5bAe7rrC8tCyAP+my+CLzswA91zOpBNWVU7qCojkUOHnfdQzDImoYeYH8G8PJSwOqsx0RkSa261OmKVwwM=\n";
    const GO_VERIFIER: &str =
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
    const GO_SIGNER: &str = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";

    const ORIGIN: &str = "oversight.example/ledger";

    fn go_verifier() -> CheckpointVerifier {
        let key = VerifierKey::parse(GO_VERIFIER).expect("valid Go verifier key");
        CheckpointVerifier::new("example.com/log/testdata", key)
    }

    fn sample(size: u64) -> Checkpoint {
        Checkpoint::new(
            ORIGIN,
            size,
            Hasher::Sha256.hash_leaf(&size.to_be_bytes()),
            Some(1_764_806_400),
        )
    }

    #[test]
    fn go_signed_checkpoint_verifies() {
        let verified = go_verifier()
            .verify(GO_CHECKPOINT)
            .expect("Go signature verifies");
        assert_eq!(verified.size(), 100_270);
        assert_eq!(verified.checkpoint().timestamp, None);
        assert_eq!(verified.signed_note(), GO_CHECKPOINT);
    }

    #[test]
    fn signing_reproduces_go_signature() {
        // Ed25519 is deterministic, so the same key and text give the same bytes.
        let key = SignerKey::parse(GO_SIGNER).expect("valid Go signer key");
        let body = Checkpoint::parse_text(Note::parse(GO_CHECKPOINT).expect("valid").text())
            .expect("valid body");
        assert_eq!(body.sign(&key).expect("log key"), GO_CHECKPOINT);
    }

    #[test]
    fn text_round_trips_with_extensions() {
        let mut checkpoint = sample(42);
        checkpoint.extensions.push("note: rotated key".into());
        let text = checkpoint.to_text();
        assert!(text.contains("\ntime 1764806400\nnote: rotated key\n"));
        assert_eq!(Checkpoint::parse_text(&text), Ok(checkpoint));
    }

    #[test]
    fn sm2_checkpoint_signs_and_verifies() {
        let log = SignerKey::generate(ORIGIN, SignatureAlgorithm::Sm2).expect("random");
        let signed = sample(7).sign(&log).expect("log key");
        let verifier = CheckpointVerifier::new(ORIGIN, log.verifier_key().clone());
        let verified = verifier.verify(&signed).expect("SM2 signature verifies");
        assert_eq!(verified.checkpoint(), &sample(7));
    }

    #[test]
    fn altered_size_is_rejected() {
        let altered = GO_CHECKPOINT.replace("100270", "100271");
        let error = go_verifier().verify(&altered).expect_err("text changed");
        assert!(matches!(
            error,
            CheckpointError::Note(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn other_origin_is_rejected() {
        let key = VerifierKey::parse(GO_VERIFIER).expect("valid Go verifier key");
        let verifier = CheckpointVerifier::new("example.com/other", key);
        let error = verifier
            .verify(GO_CHECKPOINT)
            .expect_err("origin is pinned");
        assert!(matches!(error, CheckpointError::OriginMismatch { .. }));
    }

    #[test]
    fn witness_quorum_is_enforced() {
        let log = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("random");
        let cosigner = SignatureAlgorithm::Ed25519Cosignature;
        let first = SignerKey::generate("witness.example/1", cosigner).expect("random");
        let second =
            SignerKey::generate("witness.example/2", SignatureAlgorithm::Sm2).expect("random");
        let witnesses = vec![first.verifier_key().clone(), second.verifier_key().clone()];
        let verifier = CheckpointVerifier::new(ORIGIN, log.verifier_key().clone())
            .with_witnesses(witnesses, 2);

        let signed = sample(9).sign(&log).expect("log key");
        let error = verifier.verify(&signed).expect_err("no cosignatures yet");
        assert_eq!(
            error,
            CheckpointError::NotEnoughCosignatures {
                required: 2,
                verified: 0
            }
        );

        let solo = CheckpointVerifier::new(ORIGIN, log.verifier_key().clone());
        let once = solo
            .verify(&signed)
            .expect("log signature")
            .cosign(&first, 1_764_806_401);
        let twice = solo
            .verify(&once)
            .expect("log signature")
            .cosign(&second, 0);
        let verified = verifier.verify(&twice).expect("quorum reached");
        assert_eq!(verified.cosignatures().len(), 2);
        assert_eq!(verified.cosignatures()[0].timestamp, Some(1_764_806_401));
        assert_eq!(verified.cosignatures()[1].timestamp, None);
    }

    #[test]
    fn witness_signature_alone_is_not_enough() {
        let log = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("random");
        let witness =
            SignerKey::generate("witness.example/1", SignatureAlgorithm::Ed25519Cosignature)
                .expect("random");
        let mut note = Note::unsigned(sample(3).to_text());
        note.sign(&witness, 5);
        let verifier = CheckpointVerifier::new(ORIGIN, log.verifier_key().clone())
            .with_witnesses(vec![witness.verifier_key().clone()], 1);
        let error = verifier
            .verify(&note.to_string())
            .expect_err("log did not sign");
        assert!(matches!(error, CheckpointError::MissingLogSignature { .. }));
    }

    #[test]
    fn invalid_lines_are_not_signed() {
        let key = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("random");
        let mut two_lines = sample(1);
        two_lines.origin = "a\nb".into();
        let mut empty_extension = sample(1);
        empty_extension.extensions.push(String::new());
        let mut second_time = sample(1);
        second_time.extensions.push("time 5".into());
        let mut control = sample(1);
        control.origin = "tab\there".into();
        for checkpoint in [two_lines, empty_extension, second_time, control] {
            let result = checkpoint.sign(&key);
            assert!(
                matches!(result, Err(CheckpointError::Malformed { .. })),
                "{checkpoint:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn cosignature_key_cannot_sign_as_log() {
        let witness = SignerKey::generate("w.example/1", SignatureAlgorithm::Ed25519Cosignature)
            .expect("random");
        let error = sample(1)
            .sign(&witness)
            .expect_err("witness keys only cosign");
        assert!(matches!(error, CheckpointError::WrongKeyRole { .. }));
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let root = BASE64.encode([0u8; 32]);
        let cases = [
            "origin\n5\n".to_string(),
            format!("\n5\n{root}\n"),
            format!("origin\n05\n{root}\n"),
            format!("origin\n-5\n{root}\n"),
            format!("origin\n5\n{root}"),
            "origin\n5\nAAAA\n".to_string(),
            format!("origin\n5\n{root}\n\n"),
            format!("origin\n5\n{root}\ntime 1\ntime 2\n"),
            format!("origin\n5\n{root}\ntime 01\n"),
        ];
        for text in cases {
            let result = Checkpoint::parse_text(&text);
            assert!(
                matches!(result, Err(CheckpointError::Malformed { .. })),
                "{text:?}"
            );
        }
        assert!(Checkpoint::parse_text(&format!("origin\n0\n{root}\n")).is_ok());
    }

    #[test]
    fn proofs_are_checked_against_checkpoint() {
        use crate::{MemoryNodeSource, MerkleTree};
        let hasher = Hasher::Sm3;
        let mut log = MemoryNodeSource::new(hasher);
        for index in 0u64..10 {
            log.append(&index.to_be_bytes());
        }
        let key = SignerKey::generate(ORIGIN, SignatureAlgorithm::Sm2).expect("random");
        let verifier = CheckpointVerifier::new(ORIGIN, key.verifier_key().clone());
        let tree = MerkleTree::new(hasher, &log);
        let sign = |size| {
            let checkpoint = Checkpoint::new(ORIGIN, size, tree.root(size).expect("stored"), None);
            verifier
                .verify(&checkpoint.sign(&key).expect("log key"))
                .expect("verifies")
        };
        let (six, ten) = (sign(6), sign(10));
        let leaf = log.leaf_hash_slice()[4];

        let proof = tree.inclusion_proof(4, 10).expect("in range");
        assert_eq!(ten.verify_inclusion(hasher, &leaf, &proof), Ok(()));
        let error = six
            .verify_inclusion(hasher, &leaf, &proof)
            .expect_err("wrong size");
        assert_eq!(
            error,
            CheckpointError::SizeMismatch {
                checkpoint: 6,
                proof: 10
            }
        );

        let consistency = tree.consistency_proof(6, 10).expect("in range");
        assert_eq!(ten.verify_extends(hasher, &six, &consistency), Ok(()));
        let error = six
            .verify_extends(hasher, &ten, &consistency)
            .expect_err("wrong order");
        assert!(matches!(error, CheckpointError::SizeMismatch { .. }));

        // A valid proof from another log (same size, other leaves) does not match.
        let mut other = MemoryNodeSource::new(hasher);
        for index in 0u64..10 {
            other.append(&(index + 100).to_be_bytes());
        }
        let foreign = MerkleTree::new(hasher, &other)
            .inclusion_proof(4, 10)
            .expect("in range");
        let foreign_leaf = other.leaf_hash_slice()[4];
        let error = ten
            .verify_inclusion(hasher, &foreign_leaf, &foreign)
            .expect_err("other log");
        assert!(matches!(
            error,
            CheckpointError::Proof(ProofError::RootMismatch { .. })
        ));
    }
}
