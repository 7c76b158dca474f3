//! Random bearer secrets (session ids, API tokens, CSRF tokens) and the
//! digests stored in their place.
//!
//! A secret is 32 random bytes from the operating system, base64url-encoded
//! behind a prefix that tells what it is. Only its SHA-256 digest is stored,
//! so a copy of the database does not let anyone act as a user. A plain hash
//! is enough here, unlike for passwords, because 256 random bits cannot be
//! guessed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of API tokens, so that leaked tokens can be recognised by scanners.
pub const API_TOKEN_PREFIX: &str = "ovt_";
/// Prefix of session ids.
pub const SESSION_PREFIX: &str = "ovs_";

/// A newly generated secret: the value handed out once, and its digest.
#[derive(Clone)]
pub struct NewSecret {
    /// The secret itself, shown to its owner once and never stored.
    pub value: String,
    /// The lowercase hex SHA-256 digest of `value`, which is stored.
    pub digest: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("value", &"****")
            .field("digest", &self.digest)
            .finish()
    }
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot generate a random secret: {0}")]
pub struct RandomError(pub String);

/// Generates a secret that starts with `prefix`.
pub fn generate(prefix: &str) -> Result<NewSecret, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| RandomError(error.to_string()))?;
    let value = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = digest(&value);
    Ok(NewSecret { value, digest })
}

/// Returns the lowercase hex SHA-256 digest of a secret, as stored.
pub fn digest(value: &str) -> String {
    let hash = Sha256::digest(value.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.bytes()
        .zip(right.bytes())
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_and_unique() {
        let first = generate(API_TOKEN_PREFIX).unwrap();
        let second = generate(API_TOKEN_PREFIX).unwrap();
        assert!(first.value.starts_with("ovt_"));
        assert_eq!(first.value.len(), 4 + 43);
        assert_ne!(first.value, second.value);
        assert_eq!(first.digest, digest(&first.value));
        assert_eq!(first.digest.len(), 64);
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_hides_value() {
        let secret = generate(SESSION_PREFIX).unwrap();
        assert!(!format!("{secret:?}").contains(&secret.value));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
