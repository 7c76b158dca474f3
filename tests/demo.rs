//! Tests that drive `oversight demo`.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_oversight");

/// Returns a free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address").port()
}

#[test]
fn demo_rejects_foreign_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("notes.txt"), "not a demo").expect("write file");
    let output = Command::new(BINARY)
        .args(["demo", "--duration", "1", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run oversight demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not empty and was not created by `oversight demo`"),
        "{stderr}"
    );
    assert!(
        dir.path().join("notes.txt").is_file(),
        "the foreign file must stay"
    );
}

#[test]
fn demo_runs_and_stores_readings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("demo");
    let run = || {
        Command::new(BINARY)
            .args(["demo", "--duration", "12", "--data-dir"])
            .arg(&data)
            .arg("--http")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--hj212")
            .arg(format!("127.0.0.1:{}", free_port()))
            .output()
            .expect("run oversight demo")
    };
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("dashboard: http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("public sample packets"), "{stdout}");
    for account in ["admin", "staff", "inspector", "enterprise"] {
        assert!(
            stdout.contains(&format!("login: {account} password: ")),
            "{stdout}"
        );
    }
    let last = stdout
        .lines()
        .rfind(|line| line.starts_with("readings stored: "));
    let stored: u64 = last
        .and_then(|line| line.split([' ', ',']).nth(2))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in {stdout}"));
    assert!(stored > 0, "{stdout}");
    assert!(data.join(".oversight-demo").is_file());

    // A second demo on the same directory reuses it.
    let again = run();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again_stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again_stdout.contains("login: admin password: "),
        "{again_stdout}"
    );
}
