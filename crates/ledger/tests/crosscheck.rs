//! Cross-checks roots, proofs and signed checkpoints against an independent Python
//! implementation (tests/crosscheck.py), which uses OpenSSL's SHA-256 and SM3 and the
//! `cryptography` package's Ed25519.

use std::path::Path;
use std::process::Command;

use oversight_ledger::{
    Checkpoint, CheckpointVerifier, Hash, Hasher, MemoryNodeSource, MerkleTree, SignatureAlgorithm,
    SignerKey,
};
use serde_json::{Value, json};

/// Largest log size whose every proof is exported.
const MAX_SIZE: u64 = 40;

const ORIGIN: &str = "crosscheck.example/ledger";

fn hex_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_hex).collect()
}

fn export_log(hasher: Hasher) -> Value {
    let entries: Vec<Vec<u8>> = (0..MAX_SIZE)
        .map(|index| format!("ledger entry {index}").into_bytes())
        .collect();
    let mut log = MemoryNodeSource::new(hasher);
    for entry in &entries {
        log.append(entry);
    }
    let tree = MerkleTree::new(hasher, &log);
    let roots: Vec<String> = (0..=MAX_SIZE)
        .map(|size| tree.root(size).expect("stored").to_hex())
        .collect();
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for size in 1..=MAX_SIZE {
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).expect("in range");
            inclusion.push(json!({"index": index, "size": size, "path": hex_list(&proof.path)}));
        }
        for first in 1..=size {
            let proof = tree.consistency_proof(first, size).expect("in range");
            consistency
                .push(json!({"first": first, "second": size, "path": hex_list(&proof.path)}));
        }
    }
    let leaves: Vec<String> = entries.iter().map(hex::encode).collect();
    json!({
        "hasher": hasher.name(),
        "leaves": leaves,
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
    })
}

/// Signs a checkpoint with an Ed25519 log key, cosigns it with an Ed25519
/// cosignature/v1 witness, and returns the note with both verifier keys.
fn export_note() -> Value {
    let log = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("random");
    let witness = SignerKey::generate("witness.example/w1", SignatureAlgorithm::Ed25519Cosignature)
        .expect("random");
    let root = Hasher::Sha256.hash_leaf(b"root");
    let signed = Checkpoint::new(ORIGIN, 12, root, Some(1_764_806_400))
        .sign(&log)
        .expect("log key");
    let verifier = CheckpointVerifier::new(ORIGIN, log.verifier_key().clone());
    let cosigned = verifier
        .verify(&signed)
        .expect("verifies")
        .cosign(&witness, 1_764_806_460);
    json!({
        "note": cosigned,
        "ed25519_keys": [log.verifier_key().to_string(), witness.verifier_key().to_string()],
    })
}

#[test]
fn python_reproduces_roots_proofs_and_signatures() {
    let data = json!({
        "logs": [export_log(Hasher::Sha256), export_log(Hasher::Sm3)],
        "notes": [export_note()],
    });
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = directory.path().join("crosscheck.json");
    std::fs::write(&file, data.to_string()).expect("write cross-check data");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .output()
        .expect("python3 must be installed, with the cryptography package, to run the cross-check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "crosscheck.py failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output:\n{stdout}"
    );
    assert!(
        stdout.contains("sm3: 820 inclusion"),
        "SM3 proofs were not compared:\n{stdout}"
    );
}
