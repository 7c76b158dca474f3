//! Cross-checks roots, proofs and signed checkpoints against an independent Python
//! implementation (tests/crosscheck.py), which uses OpenSSL's SHA-256 and SM3 and the
//! `cryptography` package's Ed25519.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

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

/// Signs a checkpoint with an SM2 log key and returns the note with the key's name and
/// SubjectPublicKeyInfo PEM.
fn export_sm2_note() -> Value {
    let log = SignerKey::generate(ORIGIN, SignatureAlgorithm::Sm2).expect("random");
    let root = Hasher::Sm3.hash_leaf(b"root");
    let signed = Checkpoint::new(ORIGIN, 7, root, None)
        .sign(&log)
        .expect("log key");
    let pem = log.verifier_key().to_public_key_pem().expect("encodable");
    json!({"note": signed, "name": ORIGIN, "public_key_pem": pem})
}

#[test]
fn python_reproduces_roots_proofs_and_signatures() {
    let data = json!({
        "logs": [export_log(Hasher::Sha256), export_log(Hasher::Sm3)],
        "notes": [export_note()],
        "sm2_notes": [export_sm2_note()],
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
        stdout.contains("sm2 note: 1 signature verified by OpenSSL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sm3: 820 inclusion"),
        "SM3 proofs were not compared:\n{stdout}"
    );
}

/// Runs `openssl` with `arguments` and returns its standard output.
fn openssl(arguments: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(arguments)
        .output()
        .expect("the openssl command (OpenSSL 3) must be installed to run the SM2 cross-check");
    assert!(
        output.status.success(),
        "openssl {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn openssl_sm2_key_and_signature_verify_here() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = |name: &str| directory.path().join(name).to_string_lossy().into_owned();
    let (key, public, text, signature) = (
        path("key.pem"),
        path("public.pem"),
        path("text"),
        path("signature.der"),
    );
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:SM2",
        "-out",
        &key,
    ]);
    openssl(&["pkey", "-in", &key, "-pubout", "-out", &public]);

    let private_pem = std::fs::read_to_string(&key).expect("openssl wrote the key");
    let signer = SignerKey::from_pkcs8_pem(ORIGIN, SignatureAlgorithm::Sm2, &private_pem)
        .expect("OpenSSL's PKCS#8 SM2 key loads");
    let public_pem = std::fs::read_to_string(&public).expect("openssl wrote the public key");
    let verifier_key = oversight_ledger::VerifierKey::from_public_key_pem(
        ORIGIN,
        SignatureAlgorithm::Sm2,
        &public_pem,
    )
    .expect("OpenSSL's SM2 public key loads");
    assert_eq!(signer.verifier_key(), &verifier_key);

    let body = Checkpoint::new(ORIGIN, 3, Hasher::Sm3.hash_leaf(b"root"), None).to_text();
    std::fs::write(&text, &body).expect("write note text");
    let distid = format!("distid:{}", oversight_ledger::SM2_DISTINGUISHING_ID);
    let sign = [
        "pkeyutl", "-sign", "-inkey", &key, "-rawin", "-in", &text, "-digest", "sm3",
    ];
    let mut arguments = sign.to_vec();
    arguments.extend(["-pkeyopt", &distid, "-out", &signature]);
    openssl(&arguments);
    let der = std::fs::read(&signature).expect("openssl wrote the signature");
    let raw = sm2::dsa::Signature::from_der(&der).expect("OpenSSL writes DER signatures");

    let mut line = verifier_key.key_id().to_be_bytes().to_vec();
    line.extend_from_slice(&raw.to_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(line);
    let note = format!("{body}\n\u{2014} {ORIGIN} {encoded}\n");
    let verified = CheckpointVerifier::new(ORIGIN, verifier_key.clone())
        .verify(&note)
        .expect("an OpenSSL SM2 signature verifies");
    assert_eq!(verified.size(), 3);

    let altered = note.replacen("\n3\n", "\n4\n", 1);
    let result = CheckpointVerifier::new(ORIGIN, verifier_key).verify(&altered);
    assert!(result.is_err(), "an altered size must not verify");
}
