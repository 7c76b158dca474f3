//! `oversight point`: change a monitoring point in a data directory.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use oversight_core::{Actor, Mn, Secret};
use oversight_server::config::ConfigOverrides;

use crate::Cli;
use crate::import::open_store;

#[derive(Debug, Args)]
pub(crate) struct PointArgs {
    /// Data directory whose points to change. Default: ./oversight-data, or `data_dir` of
    /// the configuration.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: PointCommand,
}

#[derive(Debug, Subcommand)]
enum PointCommand {
    /// Set the HJ 212 password (PW) a point's datalogger must send.
    ///
    /// The password is prompted for on a terminal, or read from the first
    /// line of standard input otherwise. A running server applies it to the
    /// next upload.
    Password(PasswordArgs),
}

#[derive(Debug, Args)]
struct PasswordArgs {
    /// The point's MN.
    #[arg(value_name = "MN")]
    mn: String,
    /// Keep the replaced password valid until this RFC 3339 time, such as
    /// 2026-12-11T00:00:00+08:00, or until the datalogger's first upload
    /// with the new one. Default: the replaced password stops at once, and a
    /// running server stops accepting it within `hj212.point_cache_secs`.
    #[arg(long, value_name = "TIME")]
    previous_valid_until: Option<Timestamp>,
}

pub(crate) async fn run(cli: &Cli, args: &PointArgs) -> anyhow::Result<ExitCode> {
    let overrides = ConfigOverrides {
        data_dir: args.data_dir.clone(),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    oversight_server::telemetry::init_logging(&settings.log)?;
    match &args.command {
        PointCommand::Password(password_args) => {
            let mn = Mn::parse(&password_args.mn)?;
            if let Some(until) = password_args.previous_valid_until
                && until <= Timestamp::now()
            {
                bail!(
                    "invalid --previous-valid-until {until}: must be in the future; leave it \
                     out to stop the replaced password at once"
                );
            }
            let store = open_store(&settings).await?;
            if store.point(&mn).await?.is_none() {
                bail!(
                    "monitoring point {mn} not found; register it with `oversight import points`"
                );
            }
            let password = read_point_password(&mn)?;
            store
                .set_point_password(
                    &mn,
                    &password,
                    password_args.previous_valid_until,
                    &Actor::command_line(),
                )
                .await
                .with_context(|| format!("cannot set the password of {mn}"))?;
            let mut stdout = std::io::stdout().lock();
            match password_args.previous_valid_until {
                Some(until) => writeln!(
                    stdout,
                    "password of {mn} set; the previous one stays valid until {until} or the \
                     first upload with the new one"
                )?,
                None => writeln!(stdout, "password of {mn} set")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prompts for a point password on a terminal, or reads one line from
/// standard input when it is not a terminal, and checks it as the HJ 212
/// PW field requires.
fn read_point_password(mn: &Mn) -> anyhow::Result<Secret<String>> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        rpassword::prompt_password(format!("new HJ 212 password for {mn}: "))
            .context("cannot read the password")?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if let Err(error) = oversight_server::api::check_password(&password) {
        bail!("{}", error.message);
    }
    Ok(Secret::new(password))
}
