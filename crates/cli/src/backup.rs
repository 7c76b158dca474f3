//! `oversight backup`: a consistent copy of the database while a server runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use oversight_server::config::ConfigOverrides;
use oversight_server::ledger::SIGNER_KEY_FILE;
use oversight_server::name_key::NAME_KEY_FILE;

use crate::Cli;

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Data directory whose database to copy. Default: the configured data directory
    /// (`./oversight-data` unless the configuration sets another).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The new file to write the copy to (required); it must not exist.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub(crate) async fn run(cli: &Cli, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let overrides = ConfigOverrides {
        data_dir: args.data_dir.clone(),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    oversight_server::telemetry::init_logging(&settings.log)?;

    let data_dir = settings.data_dir.clone();
    let out = args.out.clone();
    let report = tokio::task::spawn_blocking(move || {
        oversight_store_sqlite::backup_database(&data_dir, &out)
    })
    .await
    .context("backup task panicked")?
    .with_context(|| format!("cannot back up {}", settings.data_dir.display()))?;

    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "copied {} to {}: {} bytes, schema version {}, {} ledger entries, integrity check ok",
        report.source.display(),
        args.out.display(),
        report.bytes,
        report.schema_version,
        report.ledger_entries
    )?;
    let keys = [
        ("ledger signing key", SIGNER_KEY_FILE),
        ("login name key", NAME_KEY_FILE),
    ];
    for (what, file) in keys {
        let key = settings.data_dir.join(file);
        if key.is_file() {
            writeln!(
                stdout,
                "the copy does not include the {what} {}; keep a copy of it too",
                key.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
