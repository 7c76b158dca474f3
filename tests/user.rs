//! Tests that drive `oversight user`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_oversight");

/// Standard input that answers the password prompt of `oversight user`.
const PASSWORD_INPUT: &str = "correct horse battery\n";

/// Runs `oversight user ARGS --data-dir DIR` with `stdin` as standard input.
fn user(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    user_with_env(dir, args, &[], stdin)
}

/// Runs `oversight user ARGS --data-dir DIR` like [`user`], with `env` set.
fn user_with_env(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Output {
    let mut child = Command::new(BINARY)
        .arg("user")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oversight user");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for oversight user")
}

/// Fails with the command's standard error unless it exited successfully.
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn user_add_admin_and_list() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let added = user(dir.path(), &["add", "--admin", "root"], PASSWORD_INPUT);
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert_success(&added);
    assert!(
        stdout.contains("created system_admin \"root\" with id 1"),
        "{stdout}"
    );

    let listed = user(dir.path(), &["list"], "");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success());
    assert!(
        stdout.contains("1\troot\tsystem_admin\t-\tactive\toff"),
        "{stdout}"
    );
}

#[test]
fn user_add_rejects_weak_password_and_duplicates() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let weak = user(dir.path(), &["add", "--admin", "root"], "short\n");
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert_eq!(weak.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("shorter than 12 characters"), "{stderr}");

    let first = user(dir.path(), &["add", "--admin", "root"], PASSWORD_INPUT);
    assert_success(&first);
    let second = user(dir.path(), &["add", "--admin", "root"], PASSWORD_INPUT);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exists already"), "{stderr}");

    let listed = user(dir.path(), &["list"], "");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn user_add_requires_role() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = user(dir.path(), &["add", "chen"], PASSWORD_INPUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pass --admin or --role ROLE"), "{stderr}");

    let department = user(
        dir.path(),
        &["add", "chen", "--role", "inspector"],
        PASSWORD_INPUT,
    );
    let stderr = String::from_utf8_lossy(&department.stderr);
    assert_eq!(department.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("department"), "{stderr}");
}

/// Exports the ledger of `dir` and returns its lines.
fn ledger_lines(dir: &std::path::Path) -> Vec<String> {
    let export = dir.join("ledger.jsonl");
    let output = Command::new(BINARY)
        .args(["ledger", "export", "--data-dir"])
        .arg(dir)
        .arg("--output")
        .arg(&export)
        .output()
        .expect("run oversight ledger export");
    assert_success(&output);
    std::fs::read_to_string(&export)
        .expect("read the export")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn user_commands_record_cli_actor() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = |args: &[&str]| {
        let env = [("USER", "ops-wang")];
        assert_success(&user_with_env(dir.path(), args, &env, PASSWORD_INPUT));
    };
    run(&["add", "--admin", "root"]);
    run(&["passwd", "root"]);

    let lines = ledger_lines(dir.path());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains(r#""actor":"cli:ops-wang","kind":"auth.user_created""#),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(r#""actor":"cli:ops-wang","kind":"auth.password_changed""#),
        "{}",
        lines[1]
    );
    assert!(
        !lines.iter().any(|line| line.contains("user:cli")),
        "{lines:?}"
    );
}

#[test]
fn ledger_hash_mismatch_reported_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let added = user(dir.path(), &["add", "--admin", "root"], PASSWORD_INPUT);
    assert_success(&added);

    // The account was recorded in a SHA-256 ledger, so a server configured
    // for SM3 must not start on this data directory.
    let mut child = Command::new(BINARY)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--hj212",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("OVERSIGHT_LEDGER__HASH", "sm3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oversight serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("poll oversight serve").is_none() {
        if std::time::Instant::now() >= deadline {
            child.kill().expect("stop oversight serve");
            panic!("oversight serve started on a ledger with another hash function");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("wait for oversight serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("hashed with sha256").count(), 1, "{stderr}");
    assert!(stderr.contains("has 1 entry hashed"), "{stderr}");
    assert!(stderr.contains("[ledger] hash"), "{stderr}");
    assert!(stderr.contains("OVERSIGHT_LEDGER__HASH"), "{stderr}");
    assert!(
        stderr.contains(r#"Remove the setting or set it to "sha256""#),
        "{stderr}"
    );
}

/// Runs `oversight user` with the ledger hash set to SM3.
fn user_with_sm3(dir: &std::path::Path, args: &[&str]) -> Output {
    let env = [("OVERSIGHT_LEDGER__HASH", "sm3")];
    user_with_env(dir, args, &env, PASSWORD_INPUT)
}

/// Returns a data directory whose ledger uses SM3, because its first account
/// was added with that setting.
fn sm3_ledger_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert_success(&user_with_sm3(dir.path(), &["add", "--admin", "root"]));
    dir
}

#[test]
fn user_commands_open_sm3_ledger() {
    let dir = sm3_ledger_dir();
    // A command with the same setting opens the SM3 ledger the first created.
    assert_success(&user_with_sm3(dir.path(), &["list"]));
}

#[test]
fn user_commands_adopt_stored_ledger_hash() {
    let dir = sm3_ledger_dir();
    // Without the setting, a command uses the stored SM3.
    assert_success(&user(
        dir.path(),
        &["add", "--admin", "ops"],
        PASSWORD_INPUT,
    ));
    let listed = user(dir.path(), &["list"], "");
    assert_success(&listed);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.contains("ops"), "{stdout}");

    // A setting that contradicts the stored hash function is rejected.
    let contradicting = user_with_env(
        dir.path(),
        &["list"],
        &[("OVERSIGHT_LEDGER__HASH", "sha256")],
        "",
    );
    let stderr = String::from_utf8_lossy(&contradicting.stderr);
    assert_eq!(contradicting.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("hashed with sm3").count(), 1, "{stderr}");
    assert!(stderr.contains("has 2 entries hashed with sm3"), "{stderr}");
    assert!(stderr.contains("selects sha256"), "{stderr}");
}
