//! `oversight user`: create, list and reset accounts in a data directory.
//!
//! These commands work on the store directly, without a running server, so
//! the first administrator can be created before the API is reachable.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use oversight_auth::{Role, password};
use oversight_core::{Actor, Mn};
use oversight_server::config::ConfigOverrides;
use oversight_store::{AuditContext, NewUser};

use crate::Cli;
use crate::import::open_store;

#[derive(Debug, Args)]
pub(crate) struct UserArgs {
    /// Data directory whose accounts to manage. Default: ./oversight-data, or `data_dir` of
    /// the configuration.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is prompted for on a terminal, or read
    /// from the first line of standard input otherwise.
    Add(AddArgs),
    /// List the accounts.
    List,
    /// Set an account's password, end its sessions and revoke its API tokens.
    Passwd {
        /// The login name.
        #[arg(value_name = "NAME")]
        username: String,
    },
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The login name: 1 to 64 letters, digits, '.', '_', '-' or '@'.
    #[arg(value_name = "NAME")]
    username: String,
    /// Create a system administrator (the same as --role system_admin).
    #[arg(long, conflicts_with = "role")]
    admin: bool,
    /// The role: system_admin, department_admin, department_staff, inspector or
    /// regulated_party. Required unless --admin is given.
    #[arg(long, value_name = "ROLE")]
    role: Option<Role>,
    /// The department id, required for department roles. Default: none.
    #[arg(long, value_name = "ID")]
    department: Option<i64>,
    /// A monitoring point the regulated party owns, by MN; repeat for several. Default: none.
    #[arg(long = "point", value_name = "MN")]
    points: Vec<String>,
    /// The name shown in the dashboard. Default: the login name.
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
}

pub(crate) async fn run(cli: &Cli, args: &UserArgs) -> anyhow::Result<ExitCode> {
    let overrides = ConfigOverrides {
        data_dir: args.data_dir.clone(),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    oversight_server::telemetry::init_logging(&settings.log)?;
    let store = open_store(&settings).await?;
    match &args.command {
        UserCommand::Add(add) => {
            let role = match (add.admin, add.role) {
                (true, _) => Role::SystemAdmin,
                (false, Some(role)) => role,
                (false, None) => bail!("missing role: pass --admin or --role ROLE"),
            };
            let points = add
                .points
                .iter()
                .map(|mn| Mn::parse(mn))
                .collect::<Result<Vec<_>, _>>()?;
            let password = read_new_password(&add.username)?;
            let password_hash = hash_blocking(password).await?;
            let new = NewUser {
                username: add.username.clone(),
                display_name: add
                    .display_name
                    .clone()
                    .unwrap_or_else(|| add.username.clone()),
                role,
                department_id: add.department,
                points,
                password_hash,
            };
            let user = store
                .create_user(&new, &cli_audit())
                .await
                .with_context(|| format!("cannot create account {:?}", add.username))?;
            writeln!(
                std::io::stdout(),
                "created {} {:?} with id {}",
                user.role,
                user.username,
                user.id
            )?;
        }
        UserCommand::List => {
            let users = store.users().await.context("cannot list accounts")?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "id\tname\trole\tdepartment\tstatus\ttotp")?;
            for user in users {
                let department = user
                    .department_id
                    .map_or_else(|| "-".to_owned(), |id| id.to_string());
                let status = if user.disabled { "disabled" } else { "active" };
                let totp = match &user.totp {
                    Some(totp) if totp.confirmed => "on",
                    _ => "off",
                };
                writeln!(
                    stdout,
                    "{}\t{}\t{}\t{department}\t{status}\t{totp}",
                    user.id, user.username, user.role
                )?;
            }
        }
        UserCommand::Passwd { username } => {
            let Some(user) = store.user_by_name(username).await? else {
                bail!("account {username:?} not found; `oversight user list` shows the accounts");
            };
            let password = read_new_password(username)?;
            let password_hash = hash_blocking(password).await?;
            store
                .set_password_hash(user.id, &password_hash, &cli_audit())
                .await?;
            writeln!(std::io::stdout(), "password of {username:?} set")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns the context of a change made now on the command line.
pub(crate) fn cli_audit() -> AuditContext {
    AuditContext::new(jiff::Timestamp::now(), Actor::command_line().to_string())
}

/// Hashes a password off the async threads, because Argon2id takes tens of milliseconds.
async fn hash_blocking(password: String) -> anyhow::Result<String> {
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .context("password hashing task panicked")??;
    Ok(hash)
}

/// Prompts twice for a new password on a terminal, or reads one line from
/// standard input when it is not a terminal.
fn read_new_password(username: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        password::check_policy(&password)?;
        return Ok(password);
    }
    let first = rpassword::prompt_password(format!("new password for {username}: "))
        .context("cannot read the password")?;
    password::check_policy(&first)?;
    let second =
        rpassword::prompt_password("repeat the password: ").context("cannot read the password")?;
    if first != second {
        bail!("the passwords differ; run the command again");
    }
    Ok(first)
}
