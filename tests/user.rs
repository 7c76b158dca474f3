//! Tests that drive `oversight user`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_oversight");

/// Runs `oversight user ARGS --data-dir DIR` with `stdin` as standard input.
fn user(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BINARY)
        .arg("user")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
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

#[test]
fn user_add_admin_and_list() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let added = user(
        dir.path(),
        &["add", "--admin", "root"],
        "correct horse battery\n",
    );
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
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

    let first = user(
        dir.path(),
        &["add", "--admin", "root"],
        "correct horse battery\n",
    );
    assert!(first.status.success());
    let second = user(
        dir.path(),
        &["add", "--admin", "root"],
        "correct horse battery\n",
    );
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
    let output = user(dir.path(), &["add", "chen"], "correct horse battery\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pass --admin or --role ROLE"), "{stderr}");

    let department = user(
        dir.path(),
        &["add", "chen", "--role", "inspector"],
        "correct horse battery\n",
    );
    let stderr = String::from_utf8_lossy(&department.stderr);
    assert_eq!(department.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("department"), "{stderr}");
}
