//! `oversight import`: areas and points from CSV, with a progress bar and a row report.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use oversight_core::Actor;
use oversight_server::config::{ConfigOverrides, Settings};
use oversight_server::import::{
    FileEncoding, ImportReport, Progress, import_area_file, import_builtin_areas, import_point_file,
};
use oversight_store::Store;
use oversight_store_sqlite::SqliteStore;

use crate::{Cli, EXIT_ROWS_REJECTED};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Data directory to import into; created if missing. Default: ./oversight-data, or
    /// `data_dir` of the configuration.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    what: ImportCommand,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import areas: the built-in divisions (province to street), or a CSV file with the
    /// columns code,name whose parent areas exist (communities under a street, compounds
    /// under a community).
    Areas(AreaArgs),
    /// Import monitoring points from a CSV file with the columns
    /// mn,name,area,st,password and optionally longitude,latitude,interval_secs,limits.
    ///
    /// limits contains factor:lower:upper:unit items separated by |, such as
    /// w01018::100:mg/L|w01001:6:9: (COD at most 100 mg/L, pH from 6 to 9). A point whose
    /// MN exists already is replaced.
    Points(PointArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "source")]
struct AreaSource {
    /// CSV file with the columns code,name.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Import the built-in divisions (2023 statistical codes, province to street).
    #[arg(long)]
    builtin: bool,
}

#[derive(Debug, Args)]
struct AreaArgs {
    #[command(flatten)]
    source: AreaSource,
    /// With --builtin: import only this province, by 2-digit code (35 Fujian, 50 Chongqing);
    /// repeat for several. Default: every province.
    #[arg(long = "province", value_name = "CODE", requires = "builtin")]
    provinces: Vec<String>,
}

#[derive(Debug, Args)]
struct PointArgs {
    /// CSV file of points.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub(crate) async fn run(cli: &Cli, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let overrides = ConfigOverrides {
        data_dir: args.data_dir.clone(),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    oversight_server::telemetry::init_logging(&settings.log)?;
    let store = open_store(&settings).await?;
    let mut progress = Bar::new();
    let report = match &args.what {
        ImportCommand::Areas(areas) => match &areas.source.file {
            Some(file) => import_area_file(store.as_ref(), file, &mut progress).await,
            None => import_builtin_areas(store.as_ref(), &areas.provinces, &mut progress).await,
        },
        ImportCommand::Points(points) => {
            import_point_file(
                store.as_ref(),
                &points.file,
                &Actor::command_line(),
                &mut progress,
            )
            .await
        }
    };
    progress.finish();
    let report = report?;
    print_report(&report)?;
    if report.is_clean() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(EXIT_ROWS_REJECTED))
    }
}

/// Creates the data directory if needed and opens its store.
pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let dir = settings.data_dir.clone();
    oversight_server::data_dir::prepare_data_dir(&dir)?;
    let options = settings.store.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, options))
        .await
        .context("store opening task panicked")?
        .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Writes every rejected row to standard error and a summary line to standard output.
fn print_report(report: &ImportReport) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr().lock();
    for error in &report.errors {
        writeln!(stderr, "rejected: {error}")?;
    }
    let mut stdout = std::io::stdout().lock();
    if report.encoding == Some(FileEncoding::Gb18030) {
        writeln!(stdout, "the file is not UTF-8; read it as GB18030 (GBK)")?;
    }
    writeln!(
        stdout,
        "imported {} of {} rows; {} rejected",
        report.imported,
        report.rows,
        report.errors.len()
    )?;
    Ok(())
}

/// A progress bar on standard error; indicatif hides it when standard error is not a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self(bar)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn start(&mut self, total: u64) {
        self.0.set_length(total);
    }

    fn advance(&mut self, written: u64) {
        self.0.set_position(written);
    }
}
