//! The documented override order of `oversight serve`: built-in defaults,
//! then the `--config` file, then `OVERSIGHT_*` environment variables, then
//! flags. Each layer is checked on the data directory and the HTTP and
//! HJ 212 addresses the server logs when it starts.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::BINARY;
use serde_json::Value;

/// Returns a port on 127.0.0.1 that was free a moment ago.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

/// What a started server logged about where it runs.
#[derive(Debug, PartialEq)]
struct Started {
    database: PathBuf,
    http: SocketAddr,
    hj212: SocketAddr,
}

/// Starts `oversight serve` with `args` and `env`, reads its log until both
/// listeners are up, then stops it.
fn start(args: &[&str], env: &[(&str, String)]) -> Started {
    let mut command = Command::new(BINARY);
    command
        .args(["serve", "--log-format", "json"])
        .args(args)
        .env_remove("OVERSIGHT_DATA_DIR")
        .env_remove("OVERSIGHT_HTTP__LISTEN")
        .env_remove("OVERSIGHT_HJ212__LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start oversight serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (mut database, mut http, mut hj212) = (None, None, None);
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("read log line");
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let addr = event["addr"].as_str().and_then(|addr| addr.parse().ok());
        match event["message"].as_str() {
            Some("opened sqlite store") => {
                database = event["path"].as_str().map(PathBuf::from);
            }
            Some("http listening") => http = addr,
            Some("hj212 listening") => hj212 = addr,
            _ => {}
        }
        if database.is_some() && http.is_some() && hj212.is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Started {
        database: database.expect("server logged its database"),
        http: http.expect("server logged its HTTP address"),
        hj212: hj212.expect("server logged its HJ 212 address"),
    }
}

fn database_in(dir: &Path) -> PathBuf {
    dir.join("oversight.db")
}

#[test]
fn file_then_environment_then_flags() {
    let root = tempfile::tempdir().expect("temporary directory");
    let layer = |name: &str| (root.path().join(name), free_addr(), free_addr());
    let (file_dir, file_http, file_hj212) = layer("from-file");
    let (env_dir, env_http, env_hj212) = layer("from-env");
    let (flag_dir, flag_http, flag_hj212) = layer("from-flag");

    let config = root.path().join("oversight.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[http]\nlisten = \"{file_http}\"\n[hj212]\nlisten = \"{file_hj212}\"\n",
            file_dir.display().to_string()
        ),
    )
    .expect("write config file");
    let config = config.to_str().expect("utf-8 path").to_owned();

    let from_file = start(&["--config", &config], &[]);
    assert_eq!(from_file.database, database_in(&file_dir));
    assert_eq!(from_file.http, file_http);
    assert_eq!(from_file.hj212, file_hj212);

    let env = [
        ("OVERSIGHT_DATA_DIR", env_dir.display().to_string()),
        ("OVERSIGHT_HTTP__LISTEN", env_http.to_string()),
        ("OVERSIGHT_HJ212__LISTEN", env_hj212.to_string()),
    ];
    let from_env = start(&["--config", &config], &env);
    assert_eq!(from_env.database, database_in(&env_dir));
    assert_eq!(from_env.http, env_http);
    assert_eq!(from_env.hj212, env_hj212);

    let flag_dir_text = flag_dir.display().to_string();
    let flag_http_text = flag_http.to_string();
    let flag_hj212_text = flag_hj212.to_string();
    let from_flags = start(
        &[
            "--config",
            &config,
            "--data-dir",
            &flag_dir_text,
            "--http",
            &flag_http_text,
            "--hj212",
            &flag_hj212_text,
        ],
        &env,
    );
    assert_eq!(from_flags.database, database_in(&flag_dir));
    assert_eq!(from_flags.http, flag_http);
    assert_eq!(from_flags.hj212, flag_hj212);
}

/// Every option that takes a value names its default, its unit of
/// repetition or that it is required, in `--help` of every command.
#[test]
fn help_names_every_default() {
    let commands: &[&[&str]] = &[
        &["serve"],
        &["demo"],
        &["import"],
        &["import", "areas"],
        &["import", "points"],
        &["simulate", "hj212"],
        &["rules", "check"],
        &["rules", "test"],
        &["ledger", "verify"],
        &["ledger", "export"],
        &["user"],
        &["user", "add"],
        &["point", "password"],
        &["backup"],
    ];
    let mut missing = Vec::new();
    for command in commands {
        let output = Command::new(BINARY)
            .args(*command)
            .arg("--help")
            .output()
            .expect("run oversight --help");
        assert!(output.status.success(), "{command:?} --help failed");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        for (option, help) in options_with_values(&text) {
            let lower = help.to_lowercase();
            let named =
                lower.contains("default") || lower.contains("required") || lower.contains("repeat");
            if !named {
                missing.push(format!("{command:?} {option}: {help}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "options whose help names no default:\n{}",
        missing.join("\n")
    );
}

/// Returns each `--option <VALUE>` of a help text with its description,
/// which runs until the next option or section heading.
fn options_with_values(text: &str) -> Vec<(String, String)> {
    let mut options = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        // Lines of "Possible values" start with "- ", options with "--" or "-o,".
        if trimmed.starts_with('-') && !trimmed.starts_with("- ") {
            options.extend(current.take());
            let (head, rest) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
            if head.contains('<') && !head.contains("--help") {
                current = Some((head.to_owned(), rest.trim().to_owned()));
            }
        } else if trimmed.is_empty() {
            // clap separates the `[default: …]` line from the description by a blank line.
            continue;
        } else if !line.starts_with(' ') {
            options.extend(current.take());
        } else if let Some((_, help)) = &mut current {
            help.push(' ');
            help.push_str(trimmed);
        }
    }
    options.extend(current);
    options
}
