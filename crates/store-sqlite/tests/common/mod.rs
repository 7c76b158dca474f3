//! Runs an ignored test of the same test binary as a child process and kills
//! it with SIGKILL, for the tests that check what a killed store leaves on
//! disk.
//!
//! The child test does nothing unless the parent's environment variables are
//! set. It prints one line per write that returned `Ok`, and the parent reads
//! those lines to learn which writes must survive the kill.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the child may take to print the acknowledgements the parent waits for.
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the ignored test `test_name` of this binary with `envs` and passes
/// each line it prints to `on_line`, which returns whether the line was an
/// acknowledgement. Once `acks_before_kill` lines were acknowledgements, the
/// child is killed with SIGKILL and the lines still in the pipe are passed on
/// too, because the child wrote them before it died.
///
/// Panics when the child exits early, takes longer than two minutes, or
/// exits successfully after the signal.
pub(crate) fn run_and_kill(
    test_name: &str,
    envs: &[(&str, &OsStr)],
    acks_before_kill: usize,
    mut on_line: impl FnMut(&str) -> bool,
) {
    let (child, mut lines) = spawn(test_name, envs);
    // A failed assertion below must not leave the child running.
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + ACK_TIMEOUT;
    let mut count = 0;
    while count < acks_before_kill {
        assert!(
            Instant::now() < deadline,
            "{test_name} acknowledged only {count} of {acks_before_kill} writes in time"
        );
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{test_name} exited early"))
            .expect("read child output");
        if on_line(&line) {
            count += 1;
        }
    }
    child.0.kill().expect("send SIGKILL");
    for line in lines {
        let Ok(line) = line else { break };
        on_line(&line);
    }
    let status = child.0.wait().expect("reap child");
    assert!(
        !status.success(),
        "{test_name} must die from the signal: {status:?}"
    );
}

/// A child process that is killed when the test panics.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // The child is usually killed and reaped already, so errors are expected.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(test_name: &str, envs: &[(&str, &OsStr)]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(std::env::current_exe().expect("path of the test binary"))
        .args([
            test_name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, BufReader::new(stdout).lines())
}
