//! The `oversight` binary: a thin command-line layer over `oversight-server`.

mod backup;
mod demo;
mod import;
mod ledger;
mod point;
mod rules;
mod serve;
mod simulate;
mod user;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use oversight_server::config::{Config, ConfigOverrides, LogFormat, Settings};

/// mimalloc replaces glibc malloc, which took about a sixth of the server's
/// CPU time while it ingested HJ 212 uploads (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status when an import skipped bad rows but kept the good ones.
const EXIT_ROWS_REJECTED: u8 = 2;

/// Oversight: environmental monitoring data over HJ 212, stored, checked
/// against limits and shown with alerts in an HTTP API and a web dashboard.
#[derive(Debug, Parser)]
#[command(name = "oversight", version, propagate_version = true)]
struct Cli {
    /// TOML configuration file; environment variables OVERSIGHT_* and flags override it
    /// (see docs/configuration.md). Default: none, the built-in defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log line format on standard error. Default: text, or `log.format` of the configuration.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives. Default:
    /// info, or `log.level` of the configuration.
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HJ 212 listener, the rules and the HTTP API and dashboard until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Start a server on a new data directory with built-in areas, demo points and
    /// simulated dataloggers.
    Demo(demo::DemoArgs),
    /// Import areas or monitoring points from CSV into the data directory.
    ///
    /// Bad rows are reported with their line number, column, value and fix, and skipped;
    /// good rows are imported. Exit status: 0 when every row was imported, 2 when some
    /// rows were rejected, 1 when the import could not run.
    Import(import::ImportArgs),
    /// Run device simulators against a server.
    #[command(subcommand)]
    Simulate(simulate::SimulateCommand),
    /// Verify or export the tamper-evident ledger offline.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Check rule packs, or replay readings through them to see what would have fired.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Create, list and reset accounts; `user add --admin NAME` creates the first administrator.
    User(user::UserArgs),
    /// Change a monitoring point, such as its HJ 212 password.
    Point(point::PointArgs),
    /// Copy the database to a new file while a server may keep writing, and check the copy.
    Backup(backup::BackupArgs),
}

/// The data directory and listen addresses of a server.
#[derive(Debug, Clone, Args)]
struct ListenArgs {
    /// Data directory (database and state); created if missing. Default: ./oversight-data,
    /// or `data_dir` of the configuration.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the HTTP API and dashboard. Default: 127.0.0.1:8080, or `http.listen` of
    /// the configuration.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Address of the HJ 212 TCP listener. Default: 127.0.0.1:9212, or `hj212.listen` of the
    /// configuration.
    #[arg(long, value_name = "ADDR")]
    hj212: Option<SocketAddr>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    listen: ListenArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// Returns the flag layer of the configuration.
    fn overrides(&self, listen: Option<&ListenArgs>) -> ConfigOverrides {
        ConfigOverrides {
            data_dir: listen.and_then(|args| args.data_dir.clone()),
            http_listen: listen.and_then(|args| args.http),
            hj212_listen: listen.and_then(|args| args.hj212),
            log_format: self.log_format.map(|format| match format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
            log_level: self.log_level.clone(),
        }
    }

    /// Reads and validates the configuration with `overrides` as the flag layer.
    fn settings(&self, overrides: &ConfigOverrides) -> anyhow::Result<Settings> {
        Config::load(self.config.as_deref(), overrides).context("cannot start")
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report_error(&anyhow::Error::new(error).context("cannot start the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(code) => code,
        Err(error) => {
            report_error(&error);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Serve(args) => {
            let settings = cli.settings(&cli.overrides(Some(&args.listen)))?;
            serve::run(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(cli, args).await,
        Command::Import(args) => import::run(cli, args).await,
        Command::Simulate(command) => simulate::run(cli, command).await,
        Command::Rules(command) => rules::run(cli, command).await,
        Command::User(args) => user::run(cli, args).await,
        Command::Point(args) => point::run(cli, args).await,
        Command::Backup(args) => backup::run(cli, args).await,
        Command::Ledger(command) => ledger::run(command),
    }
}

/// Writes an error and its causes to standard error.
fn report_error(error: &anyhow::Error) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    // Nothing useful is left to do when standard error is closed.
    let _ = writeln!(stderr, "error: {}", error_chain(error));
}

/// Joins an error's message and its causes' with ": ", leaving out a cause
/// whose message ends the one before. Some errors, such as `store failed
/// during import: CAUSE`, include their cause and also return it as their
/// source, so it would otherwise print twice.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !previous.ends_with(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        previous = message;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that writes its source into its message and also returns it
    /// as its source.
    #[derive(Debug)]
    struct Wrapping(std::io::Error);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "open ledger failed: {}", self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chain_prints_each_cause_once() {
        let cause = std::io::Error::other("the ledger is hashed with sha256");
        let error = anyhow::Error::new(Wrapping(cause)).context("cannot open the store");
        assert_eq!(
            error_chain(&error),
            "cannot open the store: open ledger failed: the ledger is hashed with sha256"
        );
    }

    #[test]
    fn error_chain_of_store_error() {
        let cause = std::io::Error::other("the ledger is hashed with sha256");
        let error = anyhow::Error::new(oversight_store::StoreError::Backend {
            operation: "open ledger",
            source: Box::new(cause),
        })
        .context("cannot open the store");
        let expected =
            "cannot open the store: open ledger failed: the ledger is hashed with sha256";
        assert_eq!(format!("{error:#}"), expected);
        assert_eq!(error_chain(&error), expected);
    }

    #[test]
    fn error_chain_keeps_distinct_causes() {
        let error = anyhow::anyhow!("invalid row").context("cannot import points");
        assert_eq!(error_chain(&error), "cannot import points: invalid row");
    }
}
