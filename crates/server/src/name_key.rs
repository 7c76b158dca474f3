//! The key of the hashes that stand in for login names no account has.
//!
//! A failed login with an unknown name is counted, logged and recorded in
//! the ledger under `unknown:` and the hex HMAC-SHA-256 of the normalised
//! name, because the name may be a password typed into the name field. The
//! key stays in the data directory, so the lockout count of one name
//! continues across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use oversight_auth::secret;
use sha2::Sha256;

/// File of the key in the data directory.
pub const NAME_KEY_FILE: &str = "login-name.key";

/// Prefix of a hashed login name. Account names cannot contain `:`, so a
/// hashed name never equals an account's name.
pub const HASHED_NAME_PREFIX: &str = "unknown:";

/// Loading or creating the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum NameKeyError {
    /// The file could not be read or written.
    #[error("login name key file {path}: {source}; check the data directory's permissions")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate the login name key: {0}")]
    Random(#[from] secret::RandomError),
}

/// The HMAC key that hashes unknown login names.
#[derive(Clone)]
pub struct NameKey(Arc<[u8]>);

impl std::fmt::Debug for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameKey(..)")
    }
}

impl NameKey {
    /// Loads the key from `data_dir`, or generates it on first start.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, NameKeyError> {
        let path = data_dir.join(NAME_KEY_FILE);
        let io_error = |source| NameKeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Self::from_text(text.trim())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let text = secret::generate("")?.value;
                std::fs::create_dir_all(data_dir).map_err(io_error)?;
                crate::ledger::write_private(&path, &text).map_err(io_error)?;
                tracing::info!(path = %path.display(), "generated login name key");
                Ok(Self::from_text(&text))
            }
            Err(error) => Err(io_error(error)),
        }
    }

    /// Generates a key that lasts as long as the process, for tests. Panics
    /// when the operating system's random number generator fails.
    pub fn random() -> Self {
        let text = secret::generate("")
            .map(|secret| secret.value)
            .unwrap_or_else(|error| panic!("{error}"));
        Self::from_text(&text)
    }

    fn from_text(text: &str) -> Self {
        Self(Arc::from(text.as_bytes()))
    }

    /// Returns `unknown:` and the hex HMAC-SHA-256 of a normalised login name.
    pub fn hash_name(&self, normalized: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(normalized.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{HASHED_NAME_PREFIX}{}", hex::encode(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_persists_in_data_dir() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let first = NameKey::load_or_generate(dir.path()).expect("generate key");
        let second = NameKey::load_or_generate(dir.path()).expect("load key");
        assert_eq!(first.hash_name("admin"), second.hash_name("admin"));
        assert_ne!(first.hash_name("admin"), first.hash_name("root"));
        assert!(first.hash_name("admin").starts_with(HASHED_NAME_PREFIX));
    }
}
