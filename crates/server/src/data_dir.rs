//! Creation and permission check of the data directory.
//!
//! The data directory contains the database, its WAL and the ledger's signing
//! key, so only the account that runs Oversight may write to it. A new
//! directory is created with mode 0700. An existing directory that its group
//! or other users may write to is rejected, because they could replace the
//! database or the key.

use std::path::{Path, PathBuf};

/// A data directory that cannot be created or is unsafe to use.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Creating the directory or reading its metadata failed.
    #[error("cannot create or inspect data directory {}: {source}", path.display())]
    Io {
        /// The data directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not a directory.
    #[error(
        "data directory {} exists but is not a directory; choose another with --data-dir",
        path.display()
    )]
    NotADirectory {
        /// The configured path.
        path: PathBuf,
    },
    /// Users other than the owner may write to the directory.
    #[error(
        "data directory {} has mode {mode:04o}, so other users may write to it; \
         run `chmod 700 {}` and start again",
        path.display(),
        path.display()
    )]
    WritableByOthers {
        /// The data directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Creates `path` and its missing parents with mode 0700, or checks that the
/// existing directory is writable by its owner only.
pub fn prepare_data_dir(path: &Path) -> Result<(), DataDirError> {
    let io_error = |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_dir() => {
            return Err(DataDirError::NotADirectory {
                path: path.to_owned(),
            });
        }
        Ok(metadata) => return check_mode(path, &metadata),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(error)),
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(io_error)?;
    tracing::info!(path = %path.display(), "created data directory");
    Ok(())
}

#[cfg(unix)]
fn check_mode(path: &Path, metadata: &std::fs::Metadata) -> Result<(), DataDirError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(DataDirError::WritableByOthers {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), DataDirError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn new_directory_is_private() {
        let parent = tempfile::tempdir().expect("temporary directory");
        let dir = parent.path().join("a").join("data");
        prepare_data_dir(&dir).expect("create");
        assert_eq!(mode(&dir), 0o700);
        prepare_data_dir(&dir).expect("existing private directory is accepted");
    }

    #[test]
    fn writable_by_others_is_rejected() {
        let parent = tempfile::tempdir().expect("temporary directory");
        for bits in [0o777, 0o770, 0o702] {
            let dir = parent.path().join(format!("data{bits:o}"));
            std::fs::create_dir(&dir).expect("create");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(bits)).expect("chmod");
            let error = prepare_data_dir(&dir).expect_err("unsafe directory");
            let message = error.to_string();
            assert!(message.contains(&dir.display().to_string()), "{message}");
            assert!(message.contains(&format!("{bits:04o}")), "{message}");
            assert!(message.contains("chmod 700"), "{message}");
        }
    }

    #[test]
    fn readable_by_group_is_accepted() {
        let parent = tempfile::tempdir().expect("temporary directory");
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).expect("create");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        prepare_data_dir(&dir).expect("group may read");
    }

    #[test]
    fn file_is_rejected() {
        let parent = tempfile::tempdir().expect("temporary directory");
        let file = parent.path().join("data");
        std::fs::write(&file, "x").expect("write");
        let error = prepare_data_dir(&file).expect_err("a file");
        assert!(error.to_string().contains("not a directory"), "{error}");
    }
}
