//! Evidence files, stored content-addressed under the data directory.
//!
//! A file lives at `evidence/sha256/<first two hex digits>/<digest>`. An
//! upload is streamed into a temporary file in the same directory tree while
//! its SHA-256 is computed, synced to disk, and then renamed to its address,
//! so a stored file is always complete and matches its name. Uploading the
//! same content twice stores it once.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use oversight_tasks::{ContentDigest, HashAlgorithm};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The reason storing an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The upload is larger than the configured maximum.
    #[error(
        "evidence file is larger than {max_bytes} bytes; send a smaller file or raise tasks.evidence_max_bytes"
    )]
    TooLarge {
        /// The maximum.
        max_bytes: u64,
    },
    /// The upload is empty.
    #[error("evidence file is empty; send a file of at least one byte")]
    Empty,
    /// Reading the request body failed.
    #[error("reading the upload failed: {0}")]
    Body(String),
    /// Writing to the data directory failed.
    #[error("storing the evidence file in {path} failed: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceUpload {
    /// The SHA-256 digest of the content.
    pub digest: ContentDigest,
    /// The size in bytes.
    pub size: u64,
}

/// The directory of evidence files and the size limit of an upload.
#[derive(Debug, Clone)]
pub struct EvidenceFiles {
    root: PathBuf,
    max_bytes: u64,
}

impl EvidenceFiles {
    /// Uses `data_dir/evidence`, created on the first upload.
    pub fn new(data_dir: &Path, max_bytes: u64) -> Self {
        Self {
            root: data_dir.join("evidence"),
            max_bytes,
        }
    }

    /// Returns the largest upload accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Returns the path of the file with `digest`, whether or not it exists.
    pub fn path_of(&self, digest: &ContentDigest) -> PathBuf {
        let algorithm = match digest.algorithm {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sm3 => "sm3",
        };
        self.root
            .join(algorithm)
            .join(&digest.hex[..2])
            .join(&digest.hex)
    }

    /// Streams `body` into the store and returns its digest and size.
    pub async fn store<S, B, E>(&self, mut body: S) -> Result<EvidenceUpload, EvidenceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let staging = self.root.join("staging");
        create_dir(&staging).await?;
        let temp = tempfile::NamedTempFile::new_in(&staging).map_err(io_error(&staging))?;
        let std_file = temp.as_file().try_clone().map_err(io_error(temp.path()))?;
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| EvidenceError::Body(error.to_string()))?;
            let bytes = chunk.as_ref();
            size += u64::try_from(bytes.len()).expect("a chunk length fits u64");
            if size > self.max_bytes {
                return Err(EvidenceError::TooLarge {
                    max_bytes: self.max_bytes,
                });
            }
            hasher.update(bytes);
            file.write_all(bytes).await.map_err(io_error(temp.path()))?;
        }
        if size == 0 {
            return Err(EvidenceError::Empty);
        }
        file.sync_all().await.map_err(io_error(temp.path()))?;
        drop(file);
        let digest = ContentDigest {
            algorithm: HashAlgorithm::Sha256,
            hex: hex::encode(hasher.finalize()),
        };
        let target = self.path_of(&digest);
        if let Some(parent) = target.parent() {
            create_dir(parent).await?;
        }
        let persisted = tokio::task::spawn_blocking(move || {
            temp.persist(&target)
                .map_err(|error| io_error(&target)(error.error))
        })
        .await
        .map_err(|error| EvidenceError::Body(error.to_string()))?;
        persisted?;
        Ok(EvidenceUpload { digest, size })
    }
}

async fn create_dir(path: &Path) -> Result<(), EvidenceError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(io_error(path))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin {
        futures::stream::iter(parts.iter().map(|part| Ok(*part)).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn store_names_file_by_sha256() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = EvidenceFiles::new(dir.path(), 1024);
        let upload = files.store(chunks(&[b"ab", b"c"])).await.expect("store");
        assert_eq!(
            upload.digest.hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(upload.size, 3);
        let stored = std::fs::read(files.path_of(&upload.digest)).expect("read stored file");
        assert_eq!(stored, b"abc");
        let again = files.store(chunks(&[b"abc"])).await.expect("store again");
        assert_eq!(again, upload);
    }

    #[tokio::test]
    async fn store_rejects_empty_and_oversized() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = EvidenceFiles::new(dir.path(), 4);
        let empty = files.store(chunks(&[])).await;
        assert!(matches!(empty, Err(EvidenceError::Empty)), "{empty:?}");
        let large = files.store(chunks(&[b"abc", b"de"])).await;
        assert!(
            matches!(large, Err(EvidenceError::TooLarge { max_bytes: 4 })),
            "{large:?}"
        );
        let staged = std::fs::read_dir(dir.path().join("evidence/staging"))
            .expect("staging directory")
            .count();
        assert_eq!(staged, 0, "a rejected upload leaves no file behind");
    }
}
