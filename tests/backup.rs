//! `oversight backup` against a running `oversight serve` that keeps
//! storing uploads: the copy opens, passes `oversight ledger verify`, and a
//! server restored from it serves the readings acknowledged before it began.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{BINARY, DataDir, Datalogger, Server, points_csv};
use jiff::{SignedDuration, Timestamp};

/// Runs the binary with `args` and returns its exit code and output.
fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(args)
        .output()
        .expect("run oversight");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_then_restore() {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = data.file("points.csv", &points_csv(&[("BAK0001", 60)]));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let server = Server::start(&data, &[]).await;

    // A datalogger keeps uploading while the backup runs.
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut logger = Datalogger::connect(server.hj212, "BAK0001", "123456").await;
    let sender = {
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let start: Timestamp = "2026-12-04T00:00:00Z".parse().expect("literal time");
            let mut minute = 0;
            while !stop.load(Ordering::SeqCst) {
                let time = start + SignedDuration::from_mins(minute);
                assert!(
                    logger.send(time, &[("w01018", 40.0)]).await,
                    "upload not acked"
                );
                acked.fetch_add(1, Ordering::SeqCst);
                minute += 1;
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let acked_before = acked.load(Ordering::SeqCst);

    let data_dir = data.path().join("data");
    let copy = data.path().join("copy.db");
    let args: Vec<std::ffi::OsString> = vec![
        "backup".into(),
        "--data-dir".into(),
        data_dir.clone().into(),
        "--out".into(),
        copy.clone().into(),
    ];
    let (code, output) = tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsString::as_os_str).collect();
        run(&args)
    })
    .await
    .expect("backup task");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("integrity check ok"), "{output}");
    assert!(output.contains("ledger-signer.key"), "{output}");
    assert!(output.contains("login-name.key"), "{output}");

    stop.store(true, Ordering::SeqCst);
    sender.await.expect("sender task");
    assert!(
        acked.load(Ordering::SeqCst) > acked_before,
        "the server kept storing during the backup"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = data_dir.join("ledger-verifier.key");
    let (code, output) = run(&[
        "ledger".as_ref(),
        "verify".as_ref(),
        "--data-dir".as_ref(),
        copy.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(code, 0, "{output}");

    // A second backup to the same file is rejected and leaves it intact.
    let size = std::fs::metadata(&copy).expect("copy").len();
    let (code, output) = run(&[
        "backup".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--out".as_ref(),
        copy.as_os_str(),
    ]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("exists already"), "{output}");
    assert_eq!(std::fs::metadata(&copy).expect("copy").len(), size);
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");

    // Restore: the copy and the signing key in a new data directory.
    let restored = DataDir::new();
    let restored_dir = restored.path().join("data");
    std::fs::create_dir(&restored_dir).expect("create restored data directory");
    std::fs::copy(&copy, restored_dir.join("oversight.db")).expect("copy database");
    std::fs::copy(
        data_dir.join("ledger-signer.key"),
        restored_dir.join("ledger-signer.key"),
    )
    .expect("copy signing key");
    let server = Server::start(&restored, &[]).await;
    let readings = server.readings("BAK0001").await;
    assert!(
        readings.len() >= acked_before,
        "{} readings restored, {acked_before} acknowledged before the backup began",
        readings.len()
    );
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}
