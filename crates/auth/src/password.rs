//! Password hashing with Argon2id and the password policy.
//!
//! Parameters follow the OWASP Password Storage Cheat Sheet's first
//! Argon2id option: 19 MiB of memory, 2 iterations, 1 lane. Hashes are
//! stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), which carry
//! their parameters, so raising them later still verifies old hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 12;
/// Longest accepted password, in bytes; longer input is rejected before hashing.
pub const MAX_BYTES: usize = 1024;

/// Memory cost, in KiB.
const MEMORY_KIB: u32 = 19 * 1024;
/// Number of passes over memory.
const ITERATIONS: u32 = 2;
/// Degree of parallelism.
const LANES: u32 = 1;

/// A password could not be hashed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The password breaks the policy.
    #[error("invalid password: {0}")]
    Policy(&'static str),
    /// A stored hash is not a PHC string this build can verify.
    #[error(
        "stored password hash is invalid ({0}); reset the password with `oversight user passwd`"
    )]
    InvalidHash(String),
    /// The system's random number generator failed.
    #[error("cannot generate a salt: {0}")]
    Random(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .expect("the OWASP parameters are within Argon2's limits");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks `password` against the policy: at least [`MIN_LENGTH`] characters,
/// at most [`MAX_BYTES`] bytes, not only whitespace.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_BYTES {
        return Err(PasswordError::Policy(
            "longer than 1024 bytes; use a shorter one",
        ));
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::Policy(
            "shorter than 12 characters; use a longer one, such as several words",
        ));
    }
    if password.trim().is_empty() {
        return Err(PasswordError::Policy(
            "only whitespace; use visible characters",
        ));
    }
    Ok(())
}

/// Checks the policy, then hashes `password` with a fresh random salt and
/// returns the PHC string to store.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| PasswordError::Random(error.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| PasswordError::Random(error.to_string()))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| PasswordError::InvalidHash(error.to_string()))?;
    Ok(hash.to_string())
}

/// Returns true if `password` matches the stored PHC string `stored`.
pub fn verify(password: &str, stored: &str) -> Result<bool, PasswordError> {
    if password.len() > MAX_BYTES {
        return Ok(false);
    }
    let parsed =
        PasswordHash::new(stored).map_err(|error| PasswordError::InvalidHash(error.to_string()))?;
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(error) => Err(PasswordError::InvalidHash(error.to_string())),
    }
}

/// Spends the time of one verification without an account, so that a login
/// for an unknown name takes as long as one with a wrong password.
pub fn verify_nothing(password: &str) {
    // A well-formed hash with the current parameters; its digest bytes are
    // arbitrary, so no known password matches it.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$\
                         1B9oRmUZ0Trbb8l0ZdBCZr3qYDn3AJjgXsDpCJM0Zts";
    let _ = verify(password, DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_rejects() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(verify("correct horse battery", &stored), Ok(true));
        assert_eq!(verify("correct horse batterY", &stored), Ok(false));
    }

    #[test]
    fn salts_differ() {
        let first = hash("correct horse battery").unwrap();
        let second = hash("correct horse battery").unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn policy_rejects_short_and_long() {
        assert!(matches!(hash("short"), Err(PasswordError::Policy(_))));
        let long = "x".repeat(MAX_BYTES + 1);
        assert!(matches!(hash(&long), Err(PasswordError::Policy(_))));
        assert!(matches!(
            check_policy("            "),
            Err(PasswordError::Policy(_))
        ));
        assert!(check_policy("twelve chars").is_ok());
    }

    #[test]
    fn invalid_stored_hash_is_an_error() {
        let error = verify("correct horse battery", "plaintext").unwrap_err();
        assert!(matches!(error, PasswordError::InvalidHash(_)));
    }

    #[test]
    fn dummy_hash_parses() {
        // The dummy must be a valid hash, or `verify_nothing` would return
        // early and leak that the account does not exist.
        verify_nothing("anything");
        assert!(
            PasswordHash::new(
                "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$\
             1B9oRmUZ0Trbb8l0ZdBCZr3qYDn3AJjgXsDpCJM0Zts"
            )
            .is_ok()
        );
    }
}
