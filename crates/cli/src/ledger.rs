//! `oversight ledger verify` and `oversight ledger export`: offline checks of
//! the ledger against signed checkpoints.
//!
//! `verify` reads the database file read-only, hashes each stored entry,
//! and compares the entries with the stored leaf hashes and with every
//! checkpoint that verifies under the log's key. It names the
//! first entry that was altered, removed, inserted or reordered, and exits
//! with status 2 when it finds one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use oversight_ledger::{
    Audit, CheckpointVerifier, CompactRange, Finding, Hasher, Progress, VerifiedCheckpoint,
    VerifierKey,
};
use oversight_server::ledger::VERIFIER_KEY_FILE;
use oversight_store_sqlite::LedgerReader;

/// Exit status when verification found tampering; 1 means it could not run.
const EXIT_TAMPERED: u8 = 2;

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Verify the ledger of a data directory, or an exported log, against signed checkpoints.
    ///
    /// Exit status: 0 when the ledger is intact, 2 when an entry was altered, removed,
    /// inserted or reordered or a checkpoint does not verify, 1 when verification could
    /// not run.
    Verify(VerifyArgs),
    /// Write the ledger's entries to a file, one canonical JSON entry per line, the bytes
    /// each leaf hash covers.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Data directory (or database file) whose ledger to verify. This or --export is required.
    #[arg(long, value_name = "DIR", required_unless_present = "export")]
    data_dir: Option<PathBuf>,
    /// An exported log (from `oversight ledger export`) to verify instead of a data directory.
    /// This or --data-dir is required.
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    export: Option<PathBuf>,
    /// A signed checkpoint (C2SP note) obtained earlier, such as from a witness. Repeatable.
    #[arg(long, value_name = "FILE")]
    checkpoint: Vec<PathBuf>,
    /// The log's verifier key (`name+keyid+base64`) or a file containing it. Default: the
    /// `ledger-verifier.key` file of the data directory.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Hash function of an exported log: sha256 or sm3. A data directory records its own.
    #[arg(long, value_name = "HASH", default_value = "sha256")]
    hash: Hasher,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Data directory (or database file) whose ledger to export (required).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Output file. Default: standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(crate) fn run(command: &LedgerCommand) -> anyhow::Result<ExitCode> {
    match command {
        LedgerCommand::Verify(args) => verify(args),
        LedgerCommand::Export(args) => export(args).map(|()| ExitCode::SUCCESS),
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let reader = LedgerReader::open(&args.data_dir)
        .with_context(|| format!("cannot open the ledger in {}", args.data_dir.display()))?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut failure = None;
    reader.for_each_entry(|entry| {
        let result = entry.map_err(anyhow::Error::msg).and_then(|entry| {
            out.write_all(&entry.leaf_data())?;
            out.write_all(b"\n")?;
            Ok(())
        });
        match result {
            Ok(()) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        }
    })?;
    if let Some(error) = failure {
        return Err(error.context("cannot export the ledger"));
    }
    out.flush().context("cannot write the export")?;
    Ok(())
}

/// Loads the verifier key from `--key` (text or file) or the data directory.
fn verifier_key(args: &VerifyArgs) -> anyhow::Result<VerifierKey> {
    let (text, source) = match (&args.key, &args.data_dir) {
        (Some(key), _) if Path::new(key).is_file() => (
            std::fs::read_to_string(key).with_context(|| format!("cannot read key file {key}"))?,
            key.clone(),
        ),
        (Some(key), _) => (key.clone(), "--key".to_owned()),
        (None, Some(dir)) => {
            let path = dir.join(VERIFIER_KEY_FILE);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {}: pass the log's verifier key with --key",
                    path.display()
                )
            })?;
            (text, path.display().to_string())
        }
        (None, None) => bail!("missing --key: an exported log needs the log's verifier key"),
    };
    VerifierKey::parse(text.trim()).with_context(|| format!("invalid verifier key in {source}"))
}

/// Verifies the checkpoint files; a file that does not verify is tampering.
fn checkpoint_files(
    verifier: &CheckpointVerifier,
    files: &[PathBuf],
) -> anyhow::Result<Result<Vec<VerifiedCheckpoint>, String>> {
    let mut verified = Vec::with_capacity(files.len());
    for file in files {
        let note = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        match verifier.verify(&note) {
            Ok(checkpoint) => verified.push(checkpoint),
            Err(error) => {
                return Ok(Err(format!(
                    "checkpoint {} does not verify with the log's key: {error}; it is forged \
                     or belongs to another log",
                    file.display()
                )));
            }
        }
    }
    Ok(Ok(verified))
}

/// Writes the result line to standard output.
fn report(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("cannot write to standard output")
}

fn tampered(message: &str) -> anyhow::Result<ExitCode> {
    report(&format!("TAMPERED: {message}"))?;
    Ok(ExitCode::from(EXIT_TAMPERED))
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = verifier_key(args)?;
    let verifier = CheckpointVerifier::new(key.name(), key.clone());
    let checkpoints = match checkpoint_files(&verifier, &args.checkpoint)? {
        Ok(checkpoints) => checkpoints,
        Err(message) => return tampered(&message),
    };
    match (&args.data_dir, &args.export) {
        (Some(dir), _) => verify_database(dir, &verifier, checkpoints),
        (None, Some(file)) => verify_export(file, args.hash, &checkpoints),
        (None, None) => bail!("missing --data-dir or --export: name the ledger to verify"),
    }
}

/// The first problem found by [`verify_database`] outside the audit itself.
#[derive(Debug, Default)]
struct EntryProblem {
    message: Option<String>,
}

impl EntryProblem {
    fn note(&mut self, message: impl FnOnce() -> String) {
        if self.message.is_none() {
            self.message = Some(message());
        }
    }
}

fn verify_database(
    dir: &Path,
    verifier: &CheckpointVerifier,
    mut checkpoints: Vec<VerifiedCheckpoint>,
) -> anyhow::Result<ExitCode> {
    let reader = LedgerReader::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let (hasher, size) = reader.state().context("cannot read the ledger state")?;
    for stored in reader
        .checkpoints()
        .context("cannot read stored checkpoints")?
    {
        match verifier.verify(&stored.note) {
            Ok(checkpoint) => checkpoints.push(checkpoint),
            Err(error) => {
                return tampered(&format!(
                    "stored checkpoint of size {} does not verify with the log's key: {error}",
                    stored.size
                ));
            }
        }
    }

    let nodes = reader.nodes();
    let mut audit = Audit::new(hasher, &nodes, size, &checkpoints);
    let mut problem = EntryProblem::default();
    let mut position: u64 = 0;
    let mut audit_error = None;
    reader.for_each_entry(|entry| {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                problem.note(|| {
                    format!("entry {position} was altered: its stored encoding is invalid: {error}")
                });
                return false;
            }
        };
        position += 1;
        match audit.push(&entry.leaf_data()) {
            Ok(Progress::Continue) => true,
            Ok(Progress::Done) => false,
            Err(error) => {
                audit_error = Some(error.to_string());
                false
            }
        }
    })?;
    if let Some(error) = audit_error {
        return tampered(&format!(
            "the stored tree does not match the ledger state: {error}"
        ));
    }
    // An entry that cannot be decoded ends the stream, so the audit would
    // report the entries after it as removed: name the entry instead.
    if let Some(message) = problem.message {
        return tampered(&message);
    }
    let audit_report = audit.finish().context("cannot finish the audit")?;
    if let Some(finding) = &audit_report.finding {
        return tampered(&describe(finding));
    }
    let verified = checkpoints.iter().map(VerifiedCheckpoint::size).max();
    report(&format!(
        "OK: {} entries, {} hash; {}",
        audit_report.entries,
        hasher.name(),
        match verified {
            Some(size) => format!("the entries reproduce the signed checkpoint of size {size}"),
            None => "no signed checkpoint to verify against yet".to_owned(),
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn describe(finding: &Finding) -> String {
    match finding {
        Finding::Altered { index } => format!("entry {index} was altered"),
        other => other.to_string(),
    }
}

/// Verifies an export: its root at each checkpoint's size must match.
fn verify_export(
    file: &Path,
    hasher: Hasher,
    checkpoints: &[VerifiedCheckpoint],
) -> anyhow::Result<ExitCode> {
    if checkpoints.is_empty() {
        bail!("missing --checkpoint: an exported log is verified against signed checkpoints");
    }
    let mut sizes: Vec<&VerifiedCheckpoint> = checkpoints.iter().collect();
    sizes.sort_by_key(|checkpoint| checkpoint.size());
    let input = BufReader::new(
        File::open(file).with_context(|| format!("cannot open export {}", file.display()))?,
    );
    let mut range = CompactRange::new(hasher);
    // The same entries under the other hash function, kept until the first
    // checkpoint matches, so that a wrong --hash is named instead of being
    // reported as tampering.
    let other_hasher = match hasher {
        Hasher::Sha256 => Hasher::Sm3,
        Hasher::Sm3 => Hasher::Sha256,
    };
    let mut other = CompactRange::new(other_hasher);
    let mut next = 0;
    let mut verified_size = 0;
    for line in input.split(b'\n') {
        let line = line.with_context(|| format!("cannot read export {}", file.display()))?;
        range.append(&line);
        if verified_size == 0 {
            other.append(&line);
        }
        while let Some(checkpoint) = sizes.get(next).filter(|c| c.size() == range.size()) {
            if range.root() != *checkpoint.root() {
                if verified_size == 0 && other.root() == *checkpoint.root() {
                    bail!(
                        "the export reproduces the checkpoint of size {} with the {} hash, not \
                         {}: pass --hash {}",
                        checkpoint.size(),
                        other_hasher.name(),
                        hasher.name(),
                        other_hasher.name()
                    );
                }
                return tampered(&format!(
                    "the export differs from the checkpoint of size {}: an entry from {} to {} \
                     was altered, removed, inserted or reordered",
                    checkpoint.size(),
                    verified_size,
                    checkpoint.size() - 1
                ));
            }
            verified_size = checkpoint.size();
            next += 1;
        }
    }
    if let Some(checkpoint) = sizes.get(next) {
        return tampered(&format!(
            "the export has {} entries but the checkpoint of size {} covers more: entries from {} \
             on were removed",
            range.size(),
            checkpoint.size(),
            range.size()
        ));
    }
    report(&format!(
        "OK: {} entries, {} hash; the export reproduces the signed checkpoint of size {verified_size}",
        range.size(),
        hasher.name()
    ))?;
    Ok(ExitCode::SUCCESS)
}
