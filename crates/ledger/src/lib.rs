//! Tamper-evident ledger: an append-only Merkle log with the RFC 9162 tree structure.
//!
//! The platform appends every state change that matters (alerts, tasks, rules,
//! configuration, users and access grants, inspection draws, publications) to one log, in
//! the same database transaction as the change. Anyone holding a signed checkpoint can
//! then check that history was not rewritten.
//!
//! - [`Hasher`]: SHA-256 (default) or SM3, with RFC 9162 leaf and node hashing.
//! - [`CompactRange`]: O(log n) append state that yields the current root.
//! - [`NodeSource`] and [`MerkleTree`]: roots and proofs from stored leaf and subtree hashes.
//! - [`verify_inclusion`] and [`verify_consistency`]: RFC 9162 §2.1.3.2 and §2.1.4.2.
//! - [`Checkpoint`], [`CheckpointVerifier`] and [`VerifiedCheckpoint`]: C2SP checkpoints
//!   signed with Ed25519 or SM2 ([`SignerKey`], [`VerifierKey`]) and cosigned by witnesses.
//! - [`ProofBundle`]: a C2SP tlog-proof, an inclusion proof with its signed checkpoint.
//! - [`Audit`]: finds the first altered, removed, inserted or reordered entry of an export.
//!
//! The crate does no I/O: storage, transport and clocks belong to its callers.
//!
//! ```
//! use oversight_ledger::{
//!     Checkpoint, CheckpointVerifier, Hasher, MemoryNodeSource, MerkleTree, SignatureAlgorithm,
//!     SignerKey,
//! };
//!
//! // Append entries; a store would persist what `append_leaf_hash_with` reports.
//! let hasher = Hasher::Sm3;
//! let mut log = MemoryNodeSource::new(hasher);
//! for entry in ["alert 17 acknowledged", "task 4 assigned", "rule pm25 changed"] {
//!     log.append(entry.as_bytes());
//! }
//!
//! // The log signs a checkpoint of its current size and root.
//! let origin = "oversight.example.gov.cn/ledger";
//! let key = SignerKey::generate(origin, SignatureAlgorithm::Sm2)?;
//! let signed = Checkpoint::new(origin, log.size(), log.root(), Some(1_764_806_400)).sign(&key)?;
//!
//! // A verifier that trusts the log's key checks the checkpoint, then an entry's proof.
//! let verifier = CheckpointVerifier::new(origin, key.verifier_key().clone());
//! let checkpoint = verifier.verify(&signed)?;
//! let proof = MerkleTree::new(hasher, &log).inclusion_proof(1, checkpoint.size())?;
//! checkpoint.verify_inclusion(hasher, &hasher.hash_leaf(b"task 4 assigned"), &proof)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit;
mod bundle;
mod checkpoint;
mod compact;
mod hash;
mod keys;
mod memory;
mod note;
mod proof;
mod tree;

pub use audit::{Audit, AuditError, AuditReport, Finding, Progress, audit_entries};
pub use bundle::{ProofBundle, ProofBundleError};
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointVerifier, Cosignature, VerifiedCheckpoint,
};
pub use compact::{CompactRange, CompactRangeError};
pub use hash::{HASH_LEN, Hash, HashParseError, Hasher};
pub use keys::{KeyError, SM2_DISTINGUISHING_ID, SignatureAlgorithm, SignerKey, VerifierKey};
pub use memory::{MemoryNodeSource, MemoryNodeSourceError};
pub use note::{MAX_NOTE_LEN, MAX_SIGNATURES, Note, NoteError, NoteSignature, VerifiedSignature};
pub use proof::{
    ConsistencyProof, InclusionProof, ProofError, consistency_path_len, inclusion_path_len,
    root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
pub use tree::{MerkleTree, NodeId, NodeSource, TreeAtSize, TreeError};
