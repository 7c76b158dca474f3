//! The ledger's signing key and the checkpointer that signs the ledger's head.
//!
//! The signing key is a C2SP signed-note signer key kept in the data
//! directory. [`load_or_generate_key`] creates it on first start, readable
//! by its owner only (mode 0600 on Unix), and writes the matching verifier
//! key beside it for witnesses and auditors.
//!
//! [`Checkpointer`] signs a checkpoint (origin, tree size, root, time) when
//! the ledger has grown since the last one and either `interval` has passed
//! or `entries` entries were appended, and once more at shutdown.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oversight_ledger::{
    Checkpoint, CheckpointVerifier, Hasher, SignatureAlgorithm, SignerKey, VerifierKey,
};
use oversight_store::{Store, StoreError, StoredCheckpoint};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// File name of the signer key in the data directory.
pub const SIGNER_KEY_FILE: &str = "ledger-signer.key";

/// File name of the verifier key in the data directory.
pub const VERIFIER_KEY_FILE: &str = "ledger-verifier.key";

/// Validated ledger settings.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// Identity of the log in its checkpoints, and the name of its key.
    pub origin: String,
    /// Hash function of the tree, when configured. `None` uses the one
    /// recorded in the data directory.
    pub hash: Option<Hasher>,
    /// Signature algorithm of a newly generated key.
    pub signature: SignatureAlgorithm,
    /// Maximum time a new entry waits for a checkpoint.
    pub checkpoint_interval: Duration,
    /// Number of new entries that trigger a checkpoint before the interval ends.
    pub checkpoint_entries: u64,
    /// Witness verifier keys whose cosignatures the API accepts.
    pub witnesses: Vec<VerifierKey>,
}

/// The ledger facts the API publishes: origin, hash function and keys.
#[derive(Debug, Clone)]
pub struct LedgerPublic {
    /// Identity of the log.
    pub origin: String,
    /// Hash function of the tree.
    pub hash: Hasher,
    /// The log's verifier key.
    pub verifier_key: VerifierKey,
    /// Accepted witness keys.
    pub witnesses: Vec<VerifierKey>,
}

impl LedgerPublic {
    /// Returns a verifier of this log's checkpoints that also checks
    /// cosignatures from the configured witnesses, with a quorum of `quorum`.
    pub fn checkpoint_verifier(&self, quorum: usize) -> CheckpointVerifier {
        CheckpointVerifier::new(self.origin.clone(), self.verifier_key.clone())
            .with_witnesses(self.witnesses.clone(), quorum)
    }
}

/// The signing key could not be read, created or used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerKeyError {
    /// Reading or writing a key file failed.
    #[error("ledger key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not contain a valid signer key.
    #[error("ledger key file {path} is invalid: {message}; restore it from a backup")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// The reason the key was rejected.
        message: String,
    },
    /// The stored key belongs to another origin or algorithm than configured.
    #[error(
        "ledger key file {path} holds a {found_algorithm} key named {found_name:?}, but the \
         configuration selects {algorithm} for origin {origin:?}: set [ledger] origin and \
         signature to match the key, because the key signs every checkpoint of this ledger"
    )]
    Mismatch {
        /// The key file.
        path: PathBuf,
        /// The stored key's name.
        found_name: String,
        /// The stored key's algorithm.
        found_algorithm: SignatureAlgorithm,
        /// The configured origin.
        origin: String,
        /// The configured algorithm.
        algorithm: SignatureAlgorithm,
    },
}

/// Loads the signer key from `data_dir`, or generates one on first start.
pub fn load_or_generate_key(
    data_dir: &Path,
    origin: &str,
    algorithm: SignatureAlgorithm,
) -> Result<SignerKey, LedgerKeyError> {
    let path = data_dir.join(SIGNER_KEY_FILE);
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| LedgerKeyError::Io { path, source }
    };
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => SignerKey::parse(text.trim()).map_err(|error| LedgerKeyError::Invalid {
            path: path.clone(),
            message: error.to_string(),
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SignerKey::generate(origin, algorithm).map_err(|error| {
                LedgerKeyError::Invalid {
                    path: path.clone(),
                    message: error.to_string(),
                }
            })?;
            std::fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
            write_private(&path, &key.to_signer_key_text()).map_err(io_error(&path))?;
            tracing::info!(path = %path.display(), algorithm = %algorithm, "generated ledger signing key");
            key
        }
        Err(error) => return Err(io_error(&path)(error)),
    };
    if key.name() != origin || key.algorithm() != algorithm {
        return Err(LedgerKeyError::Mismatch {
            path,
            found_name: key.name().to_owned(),
            found_algorithm: key.algorithm(),
            origin: origin.to_owned(),
            algorithm,
        });
    }
    let verifier_path = data_dir.join(VERIFIER_KEY_FILE);
    std::fs::write(&verifier_path, format!("{}\n", key.verifier_key()))
        .map_err(io_error(&verifier_path))?;
    Ok(key)
}

/// Creates `path` with `text`, readable and writable by the owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Signs checkpoints of the ledger's head.
#[derive(Debug)]
pub struct Checkpointer {
    store: Arc<dyn Store>,
    key: SignerKey,
    interval: Duration,
    entries: u64,
}

impl Checkpointer {
    /// How often the checkpointer looks at the ledger's size.
    const POLL: Duration = Duration::from_millis(200);

    /// Creates a checkpointer that signs with `key`.
    pub fn new(store: Arc<dyn Store>, key: SignerKey, settings: &LedgerSettings) -> Self {
        Self {
            store,
            key,
            interval: settings.checkpoint_interval,
            entries: settings.checkpoint_entries.max(1),
        }
    }

    /// Signs and stores a checkpoint of the current head unless the latest
    /// checkpoint already has its size. Returns the new checkpoint.
    pub async fn sign_head(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let head = self.store.ledger_head().await?;
        let latest = self.store.latest_ledger_checkpoint().await?;
        if latest.is_some_and(|latest| latest.size >= head.size) {
            return Ok(None);
        }
        let time = jiff::Timestamp::now();
        let seconds = u64::try_from(time.as_second()).unwrap_or(0);
        let body = Checkpoint::new(self.key.name(), head.size, head.root, Some(seconds));
        let note = body.sign(&self.key).map_err(|error| StoreError::Backend {
            operation: "sign ledger checkpoint",
            source: Box::new(error),
        })?;
        let checkpoint = StoredCheckpoint {
            size: head.size,
            root: head.root,
            time: jiff::Timestamp::from_second(time.as_second()).unwrap_or(time),
            note,
        };
        self.store.add_ledger_checkpoint(&checkpoint).await?;
        tracing::debug!(size = head.size, "signed ledger checkpoint");
        Ok(Some(checkpoint))
    }

    /// Signs checkpoints until `cancel` fires, then signs a last one.
    pub async fn run(self, cancel: CancellationToken) {
        let mut signed_size = match self.store.latest_ledger_checkpoint().await {
            Ok(latest) => latest.map_or(0, |checkpoint| checkpoint.size),
            Err(error) => {
                tracing::error!(%error, "reading the latest ledger checkpoint failed");
                0
            }
        };
        let mut signed_at = Instant::now();
        let mut failures: u64 = 0;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(Self::POLL) => {}
            }
            let size = match self.store.ledger_head().await {
                Ok(head) => head.size,
                Err(error) => {
                    self.log_failure(&error, &mut failures);
                    continue;
                }
            };
            let grown = size.saturating_sub(signed_size);
            let due = grown >= self.entries || signed_at.elapsed() >= self.interval;
            if grown == 0 || !due {
                continue;
            }
            match self.sign_head().await {
                Ok(signed) => {
                    signed_size = signed.map_or(size, |checkpoint| checkpoint.size);
                    signed_at = Instant::now();
                    failures = 0;
                }
                Err(error) => self.log_failure(&error, &mut failures),
            }
        }
        if let Err(error) = self.sign_head().await {
            tracing::error!(%error, "signing the last ledger checkpoint failed");
        }
    }

    /// Logs the first failure and every 100th of a run of failures.
    fn log_failure(&self, error: &StoreError, failures: &mut u64) {
        if failures.is_multiple_of(100) {
            tracing::error!(%error, failures = *failures + 1, origin = self.key.name(), "ledger checkpoint failed");
        }
        *failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_generated_once_and_private() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let origin = "test.example/ledger";
        let first = load_or_generate_key(dir.path(), origin, SignatureAlgorithm::Sm2)
            .expect("generate key");
        let second =
            load_or_generate_key(dir.path(), origin, SignatureAlgorithm::Sm2).expect("load key");
        assert_eq!(first.verifier_key(), second.verifier_key());
        let published =
            std::fs::read_to_string(dir.path().join(VERIFIER_KEY_FILE)).expect("verifier key file");
        assert_eq!(published.trim(), first.verifier_key().to_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SIGNER_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn key_of_other_origin_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        load_or_generate_key(dir.path(), "a.example/ledger", SignatureAlgorithm::Ed25519)
            .expect("generate key");
        let error =
            load_or_generate_key(dir.path(), "b.example/ledger", SignatureAlgorithm::Ed25519)
                .expect_err("origin differs");
        let message = error.to_string();
        assert!(message.contains("a.example/ledger"), "{message}");
        assert!(message.contains("[ledger] origin"), "{message}");
    }

    #[test]
    fn corrupt_key_file_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join(SIGNER_KEY_FILE), "not a key\n").expect("write");
        let error =
            load_or_generate_key(dir.path(), "a.example/ledger", SignatureAlgorithm::Ed25519)
                .expect_err("invalid key");
        assert!(error.to_string().contains("is invalid"), "{error}");
    }
}
