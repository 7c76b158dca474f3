//! Signing and verifier keys for checkpoints: Ed25519, SM2 and Ed25519 witness
//! cosignatures, in the C2SP signed-note key formats.
//!
//! A key has a name (for a log, its origin) and a 32-bit key ID. Following C2SP
//! signed-note, the key ID is the first four bytes, big-endian, of
//! `SHA-256(name || 0x0A || signature type || public key)`, and keys are written as
//!
//! ```text
//! verifier key:  <name>+<key ID, 8 hex digits>+<base64(signature type || public key)>
//! signer key:    PRIVATE+KEY+<name>+<key ID>+<base64(signature type || secret key)>
//! ```
//!
//! | algorithm | signature type | public key | secret key | signature |
//! |---|---|---|---|---|
//! | Ed25519 | `0x01` | 32 bytes (RFC 8032) | 32-byte seed | 64 bytes over the note text |
//! | SM2 | `0xFF` then ASCII `SM2-with-SM3` | 33-byte compressed SEC1 point | 32-byte scalar, big-endian | 64 bytes `r || s` over the note text |
//! | Ed25519 cosignature | `0x04` | 32 bytes | 32-byte seed | 8-byte timestamp then 64 bytes, per C2SP tlog-cosignature |
//!
//! SM2 has no signature type registered in C2SP signed-note, which reserves `0xFF`
//! followed by a longer identifier for such types. The identifier here is `SM2-with-SM3`,
//! the name OpenSSL 3.0 gives the signature OID 1.2.156.10197.1.501. SM2 signatures use the
//! distinguishing ID [`SM2_DISTINGUISHING_ID`], the default of most SM2 implementations.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use sha2::{Digest as _, Sha256};
use sm2::elliptic_curve::sec1::ToSec1Point as _;
use zeroize::{Zeroize as _, Zeroizing};

/// Distinguishing ID of SM2 signatures (GB/T 32918.2 `ID_A`), the value most SM2
/// implementations use by default.
pub const SM2_DISTINGUISHING_ID: &str = "1234567812345678";

/// Prefix of a signer key in the signed-note format.
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Signature type of Ed25519 note signatures (C2SP signed-note).
const ED25519_TYPE: &[u8] = &[0x01];

/// Signature type of timestamped Ed25519 cosignatures (C2SP tlog-cosignature).
const COSIGNATURE_TYPE: &[u8] = &[0x04];

/// Signature type of SM2 note signatures: the C2SP escape byte and an identifier.
const SM2_TYPE: &[u8] = b"\xffSM2-with-SM3";

/// Length of secret keys and Ed25519 public keys, in bytes.
const KEY_LEN: usize = 32;

/// Length of Ed25519 and SM2 signatures, in bytes.
const SIGNATURE_LEN: usize = 64;

/// The signature algorithm of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    /// Ed25519 (RFC 8032) over the note text, the default for logs.
    Ed25519,
    /// SM2 with SM3 (GB/T 32918.2) over the note text.
    Sm2,
    /// Timestamped Ed25519 witness cosignature, C2SP `cosignature/v1`.
    Ed25519Cosignature,
}

impl SignatureAlgorithm {
    /// Returns the configuration name: `ed25519`, `sm2` or `ed25519-cosignature`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Sm2 => "sm2",
            Self::Ed25519Cosignature => "ed25519-cosignature",
        }
    }

    const fn type_id(self) -> &'static [u8] {
        match self {
            Self::Ed25519 => ED25519_TYPE,
            Self::Sm2 => SM2_TYPE,
            Self::Ed25519Cosignature => COSIGNATURE_TYPE,
        }
    }

    /// Splits encoded key material into its algorithm and key bytes.
    fn split_material(material: &[u8]) -> Result<(Self, &[u8]), KeyError> {
        for algorithm in [Self::Ed25519, Self::Sm2, Self::Ed25519Cosignature] {
            if let Some(key) = material.strip_prefix(algorithm.type_id()) {
                return Ok((algorithm, key));
            }
        }
        Err(KeyError::UnknownSignatureType {
            first_byte: material.first().copied(),
        })
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = KeyError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(Self::Ed25519),
            "sm2" => Ok(Self::Sm2),
            "ed25519-cosignature" => Ok(Self::Ed25519Cosignature),
            _ => Err(KeyError::UnknownAlgorithm { name: name.into() }),
        }
    }
}

/// Errors from parsing, loading or generating keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The algorithm name is not one this crate implements.
    #[error("unknown signature algorithm {name:?}: expected ed25519, sm2 or ed25519-cosignature")]
    UnknownAlgorithm {
        /// The rejected name.
        name: String,
    },
    /// The key name is empty or contains a space, a plus sign or a control character.
    #[error(
        "invalid key name {name:?}: a name must be non-empty, without spaces, '+' or control \
         characters (for example example.gov.cn/ledger)"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The encoded key does not have the `name+keyid+base64` shape.
    #[error("invalid {kind} key encoding: {reason}")]
    Malformed {
        /// `verifier` or `signer`.
        kind: &'static str,
        /// The defect found.
        reason: String,
    },
    /// The key material starts with a signature type this crate does not implement.
    #[error(
        "unknown signature type {first_byte:02x?} in key material: expected 0x01 (Ed25519), \
         0x04 (Ed25519 cosignature) or 0xFF SM2-with-SM3"
    )]
    UnknownSignatureType {
        /// First byte of the key material, if any.
        first_byte: Option<u8>,
    },
    /// The key ID in the encoding does not match the one computed from name and key.
    #[error(
        "key ID mismatch for {name:?}: encoding has {actual:08x}, name and key give {expected:08x}"
    )]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// Key ID computed from the name and the public key.
        expected: u32,
        /// Key ID written in the encoding.
        actual: u32,
    },
    /// The public key bytes are not a valid key for the algorithm.
    #[error("invalid {algorithm} public key: {reason}")]
    InvalidPublicKey {
        /// The key's algorithm.
        algorithm: SignatureAlgorithm,
        /// The reason for rejection.
        reason: String,
    },
    /// The secret key bytes are not a valid key for the algorithm.
    #[error("invalid {algorithm} secret key: {reason}")]
    InvalidSecretKey {
        /// The key's algorithm.
        algorithm: SignatureAlgorithm,
        /// The reason, without any key material.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("failed to read random bytes for key generation: {reason}")]
    Random {
        /// The generator's error.
        reason: String,
    },
}

/// A public key of either curve.
#[derive(Clone)]
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(sm2::dsa::VerifyingKey),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    fn from_bytes(algorithm: SignatureAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidPublicKey { algorithm, reason };
        match algorithm {
            SignatureAlgorithm::Sm2 => {
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTINGUISHING_ID, bytes)
                    .map(Self::Sm2)
                    .map_err(|_| {
                        invalid(format!("{} bytes are not a SEC1 point on SM2", bytes.len()))
                    })
            }
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::Ed25519Cosignature => {
                let array: &[u8; KEY_LEN] = bytes
                    .try_into()
                    .map_err(|_| invalid(format!("{} bytes, expected 32", bytes.len())))?;
                ed25519_dalek::VerifyingKey::from_bytes(array)
                    .map(Self::Ed25519)
                    .map_err(|_| invalid("not a point on Edwards25519".into()))
            }
        }
    }

    /// Returns the canonical encoding used in verifier keys and key IDs.
    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(key) => key.to_bytes().to_vec(),
            Self::Sm2(key) => sm2::PublicKey::from(key)
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        match self {
            Self::Ed25519(key) => {
                let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
                    return false;
                };
                key.verify_strict(message, &signature).is_ok()
            }
            Self::Sm2(key) => {
                let Ok(signature) = sm2::dsa::Signature::from_slice(signature) else {
                    return false;
                };
                key.verify(message, &signature).is_ok()
            }
        }
    }
}

/// Computes a C2SP signed-note key ID.
fn key_id(name: &str, algorithm: SignatureAlgorithm, public_key: &[u8]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update(algorithm.type_id())
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let invalid = name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
    if invalid {
        return Err(KeyError::InvalidName { name: name.into() });
    }
    Ok(())
}

/// Splits `name+keyid+base64` into its parts and decodes the key material.
fn split_encoded(kind: &'static str, text: &str) -> Result<(String, u32, Vec<u8>), KeyError> {
    let malformed = |reason: &str| KeyError::Malformed {
        kind,
        reason: reason.into(),
    };
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected <name>+<key ID>+<base64 key>"));
    };
    check_name(name)?;
    if id.len() != 8 {
        return Err(malformed("the key ID must be 8 hexadecimal digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| malformed("the key ID must be 8 hexadecimal digits"))?;
    let material = BASE64
        .decode(material)
        .map_err(|_| malformed("the key material is not valid standard base64"))?;
    Ok((name.into(), id, material))
}

/// A key that verifies note signatures: a log's key or a witness's key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    algorithm: SignatureAlgorithm,
    key: PublicKey,
}

impl VerifierKey {
    /// Parses a verifier key, `<name>+<key ID>+<base64(type || public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (name, encoded_id, material) = split_encoded("verifier", text)?;
        let (algorithm, key_bytes) = SignatureAlgorithm::split_material(&material)?;
        let key = PublicKey::from_bytes(algorithm, key_bytes)?;
        let verifier = Self::new(name, algorithm, key)?;
        if verifier.key_id != encoded_id {
            return Err(KeyError::KeyIdMismatch {
                name: verifier.name,
                expected: verifier.key_id,
                actual: encoded_id,
            });
        }
        Ok(verifier)
    }

    /// Loads a public key from a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document.
    pub fn from_public_key_pem(
        name: &str,
        algorithm: SignatureAlgorithm,
        pem: &str,
    ) -> Result<Self, KeyError> {
        let invalid = |error: &dyn fmt::Display| KeyError::InvalidPublicKey {
            algorithm,
            reason: format!("invalid PEM public key: {error}"),
        };
        let key = match algorithm {
            SignatureAlgorithm::Sm2 => {
                let public =
                    <sm2::PublicKey as sm2::pkcs8::DecodePublicKey>::from_public_key_pem(pem)
                        .map_err(|error| invalid(&error))?;
                let verifying = sm2::dsa::VerifyingKey::new(SM2_DISTINGUISHING_ID, public)
                    .map_err(|error| invalid(&error))?;
                PublicKey::Sm2(verifying)
            }
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::Ed25519Cosignature => {
                let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|error| invalid(&error))?;
                PublicKey::Ed25519(key)
            }
        };
        Self::new(name.into(), algorithm, key)
    }

    /// Loads a public key from hexadecimal bytes: 32 bytes for Ed25519, a SEC1 point
    /// (33 or 65 bytes) for SM2.
    pub fn from_hex(
        name: &str,
        algorithm: SignatureAlgorithm,
        hex: &str,
    ) -> Result<Self, KeyError> {
        let bytes = hex::decode(hex.trim()).map_err(|error| KeyError::InvalidPublicKey {
            algorithm,
            reason: format!("invalid hexadecimal: {error}"),
        })?;
        let key = PublicKey::from_bytes(algorithm, &bytes)?;
        Self::new(name.into(), algorithm, key)
    }

    fn new(name: String, algorithm: SignatureAlgorithm, key: PublicKey) -> Result<Self, KeyError> {
        check_name(&name)?;
        let key_id = key_id(&name, algorithm, &key.to_bytes());
        Ok(Self {
            name,
            key_id,
            algorithm,
            key,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the key ID.
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Returns the signature algorithm.
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Encodes the public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document.
    pub fn to_public_key_pem(&self) -> Result<String, KeyError> {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let line_ending = sm2::pkcs8::LineEnding::LF;
        let pem = match &self.key {
            PublicKey::Ed25519(key) => key.to_public_key_pem(line_ending),
            PublicKey::Sm2(key) => sm2::PublicKey::from(key).to_public_key_pem(line_ending),
        };
        pem.map_err(|error| KeyError::InvalidPublicKey {
            algorithm: self.algorithm,
            reason: format!("SubjectPublicKeyInfo encoding failed: {error}"),
        })
    }

    /// Returns the public key bytes as encoded in the verifier key.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        self.key.to_bytes()
    }

    /// Verifies the signature bytes (after the key ID) of a note signature line over
    /// `text`. Returns the cosignature timestamp for cosignature keys, `None` otherwise.
    pub(crate) fn verify_note(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, ()> {
        if self.algorithm != SignatureAlgorithm::Ed25519Cosignature {
            return if self.key.verify(text.as_bytes(), signature) {
                Ok(None)
            } else {
                Err(())
            };
        }
        let Some((timestamp, signature)) = signature.split_first_chunk::<8>() else {
            return Err(());
        };
        let timestamp = u64::from_be_bytes(*timestamp);
        // C2SP tlog-cosignature: the timestamp must not exceed 2^63 - 1.
        if timestamp > i64::MAX as u64 {
            return Err(());
        }
        let message = cosignature_message(timestamp, text);
        if self.key.verify(message.as_bytes(), signature) {
            Ok(Some(timestamp))
        } else {
            Err(())
        }
    }
}

impl fmt::Display for VerifierKey {
    /// Formats the key as `<name>+<key ID>+<base64(type || public key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = self.algorithm.type_id().to_vec();
        material.extend_from_slice(&self.key.to_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey")
            .field(&self.to_string())
            .finish()
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Returns the message an Ed25519 cosignature/v1 signs.
fn cosignature_message(timestamp: u64, text: &str) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A secret key of either curve.
#[derive(Clone)]
enum SecretKey {
    Ed25519(ed25519_dalek::SigningKey),
    Sm2(sm2::dsa::SigningKey),
}

/// A key that signs checkpoints (a log) or cosigns them (a witness).
///
/// `Debug` prints only the name, algorithm and key ID, never key material.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    algorithm: SignatureAlgorithm,
    key: SecretKey,
    verifier: VerifierKey,
}

impl SignerKey {
    /// Generates a new key from the operating system's random number generator.
    pub fn generate(name: &str, algorithm: SignatureAlgorithm) -> Result<Self, KeyError> {
        // A random 256-bit value is at or above the SM2 group order with probability
        // below 2^-32, so a few attempts always suffice in practice.
        let mut last_error = None;
        for _ in 0..8 {
            let mut secret = Zeroizing::new([0u8; KEY_LEN]);
            getrandom::fill(secret.as_mut()).map_err(|error| KeyError::Random {
                reason: error.to_string(),
            })?;
            match Self::from_secret_bytes(name, algorithm, secret.as_ref()) {
                Ok(key) => return Ok(key),
                Err(error @ KeyError::InvalidSecretKey { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("the loop ran at least once and recorded its error"))
    }

    /// Parses a signer key, `PRIVATE+KEY+<name>+<key ID>+<base64(type || secret)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix(SIGNER_KEY_PREFIX) else {
            return Err(KeyError::Malformed {
                kind: "signer",
                reason: "a signer key starts with PRIVATE+KEY+".into(),
            });
        };
        let (name, encoded_id, material) = split_encoded("signer", rest)?;
        let material = Zeroizing::new(material);
        let (algorithm, secret) = SignatureAlgorithm::split_material(&material)?;
        let signer = Self::from_secret_bytes(&name, algorithm, secret)?;
        if signer.key_id() != encoded_id {
            return Err(KeyError::KeyIdMismatch {
                name,
                expected: signer.key_id(),
                actual: encoded_id,
            });
        }
        Ok(signer)
    }

    /// Loads a secret key from a PEM `PRIVATE KEY` (PKCS#8) document.
    pub fn from_pkcs8_pem(
        name: &str,
        algorithm: SignatureAlgorithm,
        pem: &str,
    ) -> Result<Self, KeyError> {
        let invalid = |error: &dyn fmt::Display| KeyError::InvalidSecretKey {
            algorithm,
            reason: format!("invalid PEM private key: {error}"),
        };
        let key = match algorithm {
            SignatureAlgorithm::Sm2 => {
                let secret = sm2::SecretKey::from_pem(pem).map_err(|error| invalid(&error))?;
                let signing = sm2::dsa::SigningKey::new(SM2_DISTINGUISHING_ID, &secret)
                    .map_err(|error| invalid(&error))?;
                SecretKey::Sm2(signing)
            }
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::Ed25519Cosignature => {
                let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                    .map_err(|error| invalid(&error))?;
                SecretKey::Ed25519(signing)
            }
        };
        Self::from_secret_key(name, algorithm, key)
    }

    /// Loads a secret key from 64 hexadecimal digits: the Ed25519 seed or the SM2 scalar.
    pub fn from_hex(
        name: &str,
        algorithm: SignatureAlgorithm,
        hex: &str,
    ) -> Result<Self, KeyError> {
        let bytes =
            Zeroizing::new(
                hex::decode(hex.trim()).map_err(|_| KeyError::InvalidSecretKey {
                    algorithm,
                    reason: "invalid hexadecimal".into(),
                })?,
            );
        Self::from_secret_bytes(name, algorithm, &bytes)
    }

    fn from_secret_bytes(
        name: &str,
        algorithm: SignatureAlgorithm,
        secret: &[u8],
    ) -> Result<Self, KeyError> {
        let invalid = |reason: &str| KeyError::InvalidSecretKey {
            algorithm,
            reason: reason.into(),
        };
        let Ok(array) = <&[u8; KEY_LEN]>::try_from(secret) else {
            return Err(invalid("expected 32 bytes"));
        };
        let key = match algorithm {
            SignatureAlgorithm::Sm2 => {
                let signing = sm2::dsa::SigningKey::from_slice(SM2_DISTINGUISHING_ID, array)
                    .map_err(|_| invalid("the scalar is zero or not below the SM2 group order"))?;
                SecretKey::Sm2(signing)
            }
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::Ed25519Cosignature => {
                SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(array))
            }
        };
        Self::from_secret_key(name, algorithm, key)
    }

    fn from_secret_key(
        name: &str,
        algorithm: SignatureAlgorithm,
        key: SecretKey,
    ) -> Result<Self, KeyError> {
        let public = match &key {
            SecretKey::Ed25519(signing) => PublicKey::Ed25519(signing.verifying_key()),
            SecretKey::Sm2(signing) => PublicKey::Sm2(signing.verifying_key().clone()),
        };
        let verifier = VerifierKey::new(name.into(), algorithm, public)?;
        Ok(Self {
            name: name.into(),
            algorithm,
            key,
            verifier,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the key ID.
    pub const fn key_id(&self) -> u32 {
        self.verifier.key_id
    }

    /// Returns the signature algorithm.
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Returns the matching verifier key.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Encodes the key as `PRIVATE+KEY+<name>+<key ID>+<base64(type || secret)>`.
    pub fn to_signer_key_text(&self) -> Zeroizing<String> {
        let mut material = Zeroizing::new(self.algorithm.type_id().to_vec());
        material.extend_from_slice(self.secret_bytes().as_ref());
        let encoded = Zeroizing::new(BASE64.encode(material.as_slice()));
        Zeroizing::new(format!(
            "{SIGNER_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id(),
            encoded.as_str()
        ))
    }

    /// Encodes the secret key as a PEM `PRIVATE KEY` (PKCS#8) document.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let line_ending = sm2::pkcs8::LineEnding::LF;
        let pem = match &self.key {
            SecretKey::Ed25519(signing) => signing.to_pkcs8_pem(line_ending),
            SecretKey::Sm2(signing) => {
                let secret = sm2::SecretKey::from_bytes(&signing.to_bytes())
                    .expect("a signing key's scalar is a valid secret key");
                secret.to_pkcs8_pem(line_ending)
            }
        };
        pem.map_err(|error| KeyError::InvalidSecretKey {
            algorithm: self.algorithm,
            reason: format!("PKCS#8 encoding failed: {error}"),
        })
    }

    fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        match &self.key {
            SecretKey::Ed25519(signing) => bytes.copy_from_slice(signing.as_bytes()),
            SecretKey::Sm2(signing) => {
                let mut scalar = signing.to_bytes();
                bytes.copy_from_slice(&scalar);
                scalar.as_mut_slice().zeroize();
            }
        }
        bytes
    }

    /// Signs a note text and returns the signature bytes that follow the key ID.
    ///
    /// `timestamp` (POSIX seconds) is used only by cosignature keys.
    pub(crate) fn sign_note(&self, text: &str, timestamp: u64) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        match (&self.key, self.algorithm) {
            (SecretKey::Ed25519(signing), SignatureAlgorithm::Ed25519Cosignature) => {
                let message = cosignature_message(timestamp, text);
                let mut bytes = timestamp.to_be_bytes().to_vec();
                bytes.extend_from_slice(&signing.sign(message.as_bytes()).to_bytes());
                bytes
            }
            (SecretKey::Ed25519(signing), _) => signing.sign(text.as_bytes()).to_bytes().to_vec(),
            (SecretKey::Sm2(signing), _) => {
                let signature: sm2::dsa::Signature = signing.sign(text.as_bytes());
                debug_assert_eq!(signature.to_bytes().len(), SIGNATURE_LEN);
                signature.to_bytes().to_vec()
            }
        }
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("key_id", &format_args!("{:08x}", self.key_id()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair published in the transparency-dev/tessera test data, made with Go's
    /// golang.org/x/mod/sumdb/note.
    const GO_SIGNER: &str = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";
    const GO_VERIFIER: &str =
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";

    #[test]
    fn go_signer_key_gives_go_verifier_key() {
        let signer = SignerKey::parse(GO_SIGNER).expect("valid Go note key");
        assert_eq!(signer.key_id(), 0x33d7_b496);
        assert_eq!(signer.verifier_key().to_string(), GO_VERIFIER);
        assert_eq!(signer.to_signer_key_text().as_str(), GO_SIGNER);
    }

    #[test]
    fn verifier_key_round_trips() {
        let verifier = VerifierKey::parse(GO_VERIFIER).expect("valid Go verifier key");
        assert_eq!(verifier.name(), "example.com/log/testdata");
        assert_eq!(verifier.algorithm(), SignatureAlgorithm::Ed25519);
        assert_eq!(verifier.to_string(), GO_VERIFIER);
    }

    #[test]
    fn generated_keys_round_trip_each_algorithm() {
        let algorithms = [
            SignatureAlgorithm::Ed25519,
            SignatureAlgorithm::Sm2,
            SignatureAlgorithm::Ed25519Cosignature,
        ];
        for algorithm in algorithms {
            let signer =
                SignerKey::generate("oversight.example/ledger", algorithm).expect("random");
            let text = signer.to_signer_key_text();
            let parsed = SignerKey::parse(&text).expect("own encoding parses");
            assert_eq!(parsed.verifier_key(), signer.verifier_key(), "{algorithm}");
            let verifier = VerifierKey::parse(&signer.verifier_key().to_string()).expect("parses");
            assert_eq!(&verifier, signer.verifier_key(), "{algorithm}");
        }
    }

    #[test]
    fn pem_keys_load_each_algorithm() {
        for algorithm in [SignatureAlgorithm::Ed25519, SignatureAlgorithm::Sm2] {
            let signer = SignerKey::generate("pem.example/log", algorithm).expect("random");
            let pem = signer.to_pkcs8_pem().expect("encodable");
            assert!(
                pem.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{algorithm}"
            );
            let loaded =
                SignerKey::from_pkcs8_pem("pem.example/log", algorithm, &pem).expect("loads");
            assert_eq!(loaded.verifier_key(), signer.verifier_key(), "{algorithm}");
            let public_pem = signer
                .verifier_key()
                .to_public_key_pem()
                .expect("encodable");
            assert!(
                public_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
                "{algorithm}"
            );
            let verifier =
                VerifierKey::from_public_key_pem("pem.example/log", algorithm, &public_pem)
                    .expect("loads");
            assert_eq!(&verifier, signer.verifier_key(), "{algorithm}");
        }
    }

    #[test]
    fn hex_keys_load_each_algorithm() {
        for algorithm in [SignatureAlgorithm::Ed25519, SignatureAlgorithm::Sm2] {
            let signer = SignerKey::generate("hex.example/log", algorithm).expect("random");
            let secret_hex = hex::encode(signer.secret_bytes().as_ref());
            let loaded =
                SignerKey::from_hex("hex.example/log", algorithm, &secret_hex).expect("loads");
            assert_eq!(loaded.verifier_key(), signer.verifier_key(), "{algorithm}");
            let public_hex = hex::encode(signer.verifier_key().public_key_bytes());
            let verifier =
                VerifierKey::from_hex("hex.example/log", algorithm, &public_hex).expect("loads");
            assert_eq!(&verifier, signer.verifier_key(), "{algorithm}");
        }
    }

    #[test]
    fn sm2_sign_and_verify() {
        let signer =
            SignerKey::generate("sm2.example/log", SignatureAlgorithm::Sm2).expect("random");
        let signature = signer.sign_note("text\n", 0);
        assert_eq!(signature.len(), SIGNATURE_LEN);
        assert_eq!(
            signer.verifier_key().verify_note("text\n", &signature),
            Ok(None)
        );
        assert_eq!(
            signer.verifier_key().verify_note("other\n", &signature),
            Err(())
        );
    }

    #[test]
    fn cosignature_carries_timestamp() {
        let algorithm = SignatureAlgorithm::Ed25519Cosignature;
        let signer = SignerKey::generate("witness.example/w1", algorithm).expect("random");
        let signature = signer.sign_note("text\n", 1_700_000_000);
        assert_eq!(signature.len(), 8 + SIGNATURE_LEN);
        let verified = signer.verifier_key().verify_note("text\n", &signature);
        assert_eq!(verified, Ok(Some(1_700_000_000)));
    }

    #[test]
    fn key_id_mismatch_is_rejected() {
        let wrong_id = GO_VERIFIER.replace("33d7b496", "33d7b497");
        let error = VerifierKey::parse(&wrong_id).expect_err("key ID does not match");
        assert!(matches!(
            error,
            KeyError::KeyIdMismatch {
                expected: 0x33d7_b496,
                ..
            }
        ));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        let missing = VerifierKey::parse("name-only").expect_err("no parts");
        assert!(matches!(
            missing,
            KeyError::Malformed {
                kind: "verifier",
                ..
            }
        ));
        let spaced = VerifierKey::parse("bad name+33d7b496+AQ==").expect_err("space in name");
        assert!(matches!(spaced, KeyError::InvalidName { .. }));
        let unknown = VerifierKey::parse("n+00000000+Bw==").expect_err("type 0x07");
        assert_eq!(
            unknown,
            KeyError::UnknownSignatureType {
                first_byte: Some(7)
            }
        );
        let short = VerifierKey::parse("n+00000000+AQID").expect_err("2-byte key");
        assert!(matches!(short, KeyError::InvalidPublicKey { .. }));
        let no_prefix = SignerKey::parse(GO_VERIFIER).expect_err("not a signer key");
        assert!(matches!(
            no_prefix,
            KeyError::Malformed { kind: "signer", .. }
        ));
    }

    #[test]
    fn sm2_scalar_out_of_range_is_rejected() {
        let error = SignerKey::from_hex("n", SignatureAlgorithm::Sm2, &"ff".repeat(32))
            .expect_err("2^256 - 1 is above the group order");
        assert!(matches!(error, KeyError::InvalidSecretKey { .. }));
        assert!(
            !error.to_string().contains("ffff"),
            "errors never echo key material"
        );
    }

    #[test]
    fn debug_hides_key_material() {
        let signer = SignerKey::parse(GO_SIGNER).expect("valid Go note key");
        let printed = format!("{signer:?}");
        assert!(printed.contains("33d7b496"));
        assert!(!printed.contains("AeymY"));
    }

    #[test]
    fn algorithm_deserializes_from_configuration_name() {
        let parsed: SignatureAlgorithm =
            serde_json::from_str("\"ed25519-cosignature\"").expect("known name");
        assert_eq!(parsed, SignatureAlgorithm::Ed25519Cosignature);
        let name = serde_json::to_string(&SignatureAlgorithm::Sm2).expect("serializes");
        assert_eq!(name, "\"sm2\"");
    }

    #[test]
    fn algorithm_names_parse() {
        assert_eq!("SM2".parse(), Ok(SignatureAlgorithm::Sm2));
        assert_eq!("ed25519".parse(), Ok(SignatureAlgorithm::Ed25519));
        assert!("rsa".parse::<SignatureAlgorithm>().is_err());
    }
}
