//! Offline audit of an exported log: finds the first entry that was altered, removed,
//! inserted or reordered.
//!
//! Three inputs meet here. The exported entries are what is being checked. The stored
//! leaf hashes (from the log's own tables, through a [`NodeSource`]) locate a change to
//! an entry, but an attacker able to rewrite entries can rewrite these hashes too. Verified
//! checkpoints are the trust anchor: when the export reproduces a checkpoint's root, every
//! entry below its size is authentic, whatever the stored hashes say.
//!
//! The audit streams the export once, keeps a [`CompactRange`] of it, and compares its
//! root at every checkpoint size. At the first entry whose hash differs from the stored
//! leaf hash it reads a window of following hashes from both sides to tell a removal,
//! insertion or reordering from an alteration, and stops at the next checkpoint.
//!
//! NOTE: a removal or insertion of more than 32 consecutive entries falls outside the
//! window, so it is reported as a reordering or an alteration at the same first index.

use std::fmt;

use crate::checkpoint::VerifiedCheckpoint;
use crate::compact::CompactRange;
use crate::hash::{Hash, Hasher};
use crate::tree::NodeSource;

/// Largest number of consecutive entries a removal or insertion is recognised over.
const MAX_SHIFT: usize = 32;

/// Entries compared after the first difference to classify it.
const WINDOW: usize = 2 * MAX_SHIFT;

/// Stored leaf hashes read per [`NodeSource::leaf_hashes`] call while streaming.
const STORED_CHUNK: u64 = 4096;

/// The first problem an audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The entry at `index` differs from the one the log stored there.
    Altered {
        /// Position in the export.
        index: u64,
    },
    /// `count` entries the log stored from `index` on are missing from the export.
    Removed {
        /// First missing position.
        index: u64,
        /// Number of consecutive missing entries.
        count: u64,
    },
    /// `count` entries at `index` in the export were never stored by the log.
    Inserted {
        /// Position of the first extra entry in the export.
        index: u64,
        /// Number of consecutive extra entries.
        count: u64,
    },
    /// The entry at `index` was stored at another position.
    Reordered {
        /// Position in the export.
        index: u64,
        /// Position where the log stored this entry, when it is within the compared window.
        stored_index: Option<u64>,
    },
    /// The export matches a verified checkpoint, but the stored leaf hash at `index`
    /// differs: the log's hash table was altered, not the entries.
    StoredLeafHashAltered {
        /// Position of the wrong stored hash.
        index: u64,
    },
    /// The export has entries a verified checkpoint covers, but the log stores only
    /// `stored_size` leaf hashes.
    StoredLeafHashesMissing {
        /// Number of leaf hashes stored.
        stored_size: u64,
    },
    /// The export and the stored hashes agree but miss a verified checkpoint's root, so
    /// both were rewritten. The first changed entry lies in `verified_size..checkpoint_size`.
    CheckpointMismatch {
        /// Largest checkpoint size the export reproduced (0 if none).
        verified_size: u64,
        /// Size of the checkpoint whose root differs.
        checkpoint_size: u64,
    },
    /// Two verified checkpoints of the same size have different roots: the log signed two
    /// histories.
    ConflictingCheckpoints {
        /// The shared size.
        size: u64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Altered { index } => write!(f, "entry {index} was altered"),
            Self::Removed { index, count } => {
                write!(f, "{count} entries were removed at entry {index}")
            }
            Self::Inserted { index, count } => {
                write!(f, "{count} entries were inserted at entry {index}")
            }
            Self::Reordered {
                index,
                stored_index: Some(stored),
            } => {
                write!(f, "entry {index} was moved: the log stored it at {stored}")
            }
            Self::Reordered {
                index,
                stored_index: None,
            } => {
                write!(f, "entries were reordered at entry {index}")
            }
            Self::StoredLeafHashAltered { index } => write!(
                f,
                "the stored leaf hash of entry {index} was altered, and the entries match the checkpoint"
            ),
            Self::StoredLeafHashesMissing { stored_size } => write!(
                f,
                "the log stores only {stored_size} leaf hashes, fewer than a verified checkpoint covers"
            ),
            Self::CheckpointMismatch {
                verified_size,
                checkpoint_size,
            } => write!(
                f,
                "entries and stored leaf hashes were both rewritten between entry {verified_size} \
                 and entry {checkpoint_size}: the root at size {checkpoint_size} differs from the checkpoint"
            ),
            Self::ConflictingCheckpoints { size } => {
                write!(f, "the log signed two different roots for size {size}")
            }
        }
    }
}

/// Result of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Export entries read.
    pub entries: u64,
    /// Leaf hashes the log stores.
    pub stored_size: u64,
    /// Largest checkpoint size whose root the export reproduced (0 if none).
    pub verified_size: u64,
    /// Size of the first checkpoint whose root the export did not reproduce, if any.
    pub failed_checkpoint: Option<u64>,
    /// The first problem found, or `None` when the export is intact.
    pub finding: Option<Finding>,
}

/// Error of an audit: the node source failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError<E> {
    /// Reading stored leaf hashes failed.
    #[error("failed to read stored leaf hashes: {0}")]
    Source(#[source] E),
    /// The node source returned no hash for an index below the stored size.
    #[error("stored leaf hash {index} is missing although it is below the stored size")]
    MissingLeafHash {
        /// Index of the missing leaf hash.
        index: u64,
    },
}

/// Whether an audit needs more entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Push the next entry.
    Continue,
    /// The outcome is decided, so call [`Audit::finish`].
    Done,
}

/// The first entry whose hash differs from the stored leaf hash, with the export hashes
/// that follow it.
#[derive(Debug)]
struct Difference {
    index: u64,
    window: Vec<Hash>,
}

impl Difference {
    /// Keeps `leaf` if the window has room.
    fn record(&mut self, leaf: Hash) {
        if self.window.len() < WINDOW {
            self.window.push(leaf);
        }
    }
}

/// A streaming audit of an exported log.
#[derive(Debug)]
pub struct Audit<S> {
    hasher: Hasher,
    stored: S,
    stored_size: u64,
    /// `(size, root)` of the verified checkpoints, by increasing size.
    checkpoints: Vec<(u64, Hash)>,
    next_checkpoint: usize,
    conflict: Option<u64>,
    range: CompactRange,
    verified_size: u64,
    failed_checkpoint: Option<u64>,
    stored_chunk: Vec<Hash>,
    stored_chunk_start: u64,
    difference: Option<Difference>,
}

impl<S: NodeSource> Audit<S> {
    /// Starts an audit against `stored_size` leaf hashes in `stored` and the given
    /// checkpoints, which must all belong to the audited log.
    pub fn new(
        hasher: Hasher,
        stored: S,
        stored_size: u64,
        checkpoints: &[VerifiedCheckpoint],
    ) -> Self {
        let mut sizes: Vec<(u64, Hash)> = checkpoints
            .iter()
            .filter(|checkpoint| checkpoint.size() > 0)
            .map(|checkpoint| (checkpoint.size(), *checkpoint.root()))
            .collect();
        sizes.sort();
        let conflict = sizes
            .windows(2)
            .find(|pair| pair[0].0 == pair[1].0 && pair[0].1 != pair[1].1)
            .map(|pair| pair[0].0);
        sizes.dedup();
        Self {
            hasher,
            stored,
            stored_size,
            checkpoints: sizes,
            next_checkpoint: 0,
            conflict,
            range: CompactRange::new(hasher),
            verified_size: 0,
            failed_checkpoint: None,
            stored_chunk: Vec::new(),
            stored_chunk_start: 0,
            difference: None,
        }
    }

    /// Hashes the next exported entry and compares it.
    pub fn push(&mut self, entry: &[u8]) -> Result<Progress, AuditError<S::Error>> {
        if self.is_decided() {
            return Ok(Progress::Done);
        }
        let index = self.range.size();
        let leaf = self.hasher.hash_leaf(entry);
        self.range.append_leaf_hash(leaf);
        match self.difference.as_mut() {
            Some(difference) => difference.record(leaf),
            None => self.compare_with_stored(index, leaf)?,
        }
        self.check_checkpoints();
        Ok(if self.is_decided() {
            Progress::Done
        } else {
            Progress::Continue
        })
    }

    /// Starts the difference window when `leaf` differs from the stored leaf hash.
    fn compare_with_stored(&mut self, index: u64, leaf: Hash) -> Result<(), AuditError<S::Error>> {
        if index < self.stored_size && self.stored_leaf_hash(index)? != leaf {
            self.difference = Some(Difference {
                index,
                window: vec![leaf],
            });
        }
        Ok(())
    }

    /// Compares the root at each checkpoint whose size the export just reached.
    fn check_checkpoints(&mut self) {
        let size = self.range.size();
        while let Some(&(checkpoint_size, root)) = self.checkpoints.get(self.next_checkpoint) {
            if checkpoint_size != size {
                break;
            }
            self.next_checkpoint += 1;
            if self.failed_checkpoint.is_some() {
                continue;
            }
            if self.range.root() == root {
                self.verified_size = size;
            } else {
                self.failed_checkpoint = Some(size);
            }
        }
    }

    fn stored_leaf_hash(&mut self, index: u64) -> Result<Hash, AuditError<S::Error>> {
        let offset = index.wrapping_sub(self.stored_chunk_start);
        if let Some(hash) = usize::try_from(offset)
            .ok()
            .and_then(|at| self.stored_chunk.get(at))
        {
            return Ok(*hash);
        }
        let end = self.stored_size.min(index + STORED_CHUNK);
        self.stored_chunk.clear();
        self.stored
            .leaf_hashes(index..end, &mut self.stored_chunk)
            .map_err(AuditError::Source)?;
        self.stored_chunk_start = index;
        self.stored_chunk
            .first()
            .copied()
            .ok_or(AuditError::MissingLeafHash { index })
    }

    /// Returns whether more entries cannot change the report.
    fn is_decided(&self) -> bool {
        if self.conflict.is_some() {
            return true;
        }
        let Some(difference) = &self.difference else {
            return self.failed_checkpoint.is_some();
        };
        if self.verified_size > difference.index {
            return true;
        }
        let window_full = difference.window.len() >= WINDOW;
        let no_checkpoint_ahead = self.next_checkpoint == self.checkpoints.len();
        window_full && (self.failed_checkpoint.is_some() || no_checkpoint_ahead)
    }

    /// Ends the audit and reports the first problem, if any.
    pub fn finish(mut self) -> Result<AuditReport, AuditError<S::Error>> {
        let finding = self.decide()?;
        Ok(AuditReport {
            entries: self.range.size(),
            stored_size: self.stored_size,
            verified_size: self.verified_size,
            failed_checkpoint: self.failed_checkpoint,
            finding,
        })
    }

    fn decide(&mut self) -> Result<Option<Finding>, AuditError<S::Error>> {
        if let Some(size) = self.conflict {
            return Ok(Some(Finding::ConflictingCheckpoints { size }));
        }
        if let Some(difference) = self.difference.take() {
            if self.verified_size > difference.index {
                return Ok(Some(Finding::StoredLeafHashAltered {
                    index: difference.index,
                }));
            }
            return self.classify(&difference).map(Some);
        }
        if let Some(checkpoint_size) = self.failed_checkpoint {
            return Ok(Some(Finding::CheckpointMismatch {
                verified_size: self.verified_size,
                checkpoint_size,
            }));
        }
        Ok(self.compare_lengths())
    }

    /// Reports a difference in length when every compared entry matched.
    fn compare_lengths(&self) -> Option<Finding> {
        let exported = self.range.size();
        let unreached = self.checkpoints.last().map_or(0, |&(size, _)| size);
        let expected = self.stored_size.max(unreached);
        if expected > exported {
            return Some(Finding::Removed {
                index: exported,
                count: expected - exported,
            });
        }
        if exported > self.stored_size {
            if self.verified_size > self.stored_size {
                return Some(Finding::StoredLeafHashesMissing {
                    stored_size: self.stored_size,
                });
            }
            return Some(Finding::Inserted {
                index: self.stored_size,
                count: exported - self.stored_size,
            });
        }
        None
    }

    /// Tells a removal, insertion or reordering from an alteration at the first
    /// difference, by aligning the export window with the stored hashes.
    fn classify(&self, difference: &Difference) -> Result<Finding, AuditError<S::Error>> {
        let index = difference.index;
        let end = self.stored_size.min(index + WINDOW as u64);
        let mut stored = Vec::new();
        self.stored
            .leaf_hashes(index..end, &mut stored)
            .map_err(AuditError::Source)?;

        let export = &difference.window;
        // A window that is not full means the export ended, because pushes fill it first.
        let export_ended = export.len() < WINDOW;
        let stored_ended = end == self.stored_size;

        for shift in 1..=MAX_SHIFT {
            let count = shift as u64;
            let removed = stored.get(shift..);
            if removed.is_some_and(|rest| aligned(export, export_ended, rest, stored_ended)) {
                return Ok(Finding::Removed { index, count });
            }
            let inserted = export.get(shift..);
            if inserted.is_some_and(|rest| aligned(rest, export_ended, &stored, stored_ended)) {
                return Ok(Finding::Inserted { index, count });
            }
        }

        if let Some(position) = stored.iter().position(|hash| *hash == export[0]) {
            let stored_index = Some(index + position as u64);
            return Ok(Finding::Reordered {
                index,
                stored_index,
            });
        }
        if stored.first().is_some_and(|first| export.contains(first)) {
            return Ok(Finding::Reordered {
                index,
                stored_index: None,
            });
        }
        Ok(Finding::Altered { index })
    }
}

/// Returns whether two hash sequences agree on their overlap of at least one element,
/// and, where both sequences end inside their windows, have the same length.
fn aligned(export: &[Hash], export_ended: bool, stored: &[Hash], stored_ended: bool) -> bool {
    let overlap = export.len().min(stored.len());
    if overlap == 0 || export[..overlap] != stored[..overlap] {
        return false;
    }
    let export_short = export_ended && export.len() < stored.len();
    let stored_short = stored_ended && stored.len() < export.len();
    !(export_short || stored_short)
}

/// Audits a whole export in one call, with an [`Audit`].
pub fn audit_entries<S, I>(
    hasher: Hasher,
    entries: I,
    stored: S,
    stored_size: u64,
    checkpoints: &[VerifiedCheckpoint],
) -> Result<AuditReport, AuditError<S::Error>>
where
    S: NodeSource,
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut audit = Audit::new(hasher, stored, stored_size, checkpoints);
    for entry in entries {
        if audit.push(entry.as_ref())? == Progress::Done {
            break;
        }
    }
    audit.finish()
}
