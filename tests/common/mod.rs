//! Helpers for tests that drive the `oversight` binary: start it on free
//! ports and a temporary data directory, talk HJ 212 to it over TCP and read
//! its HTTP API.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses its own subset of these helpers"
)]

mod login;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use oversight_core::{DataFlag, FactorValues};
use oversight_hj212::{CHINA_STANDARD_TIME, Flag, SegmentBuilder, Version, encode_frame};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The binary under test, built by cargo for integration tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_oversight");

/// How long a condition polled through the API may take to become true.
pub const SETTLE: Duration = Duration::from_secs(20);

/// How long a datalogger waits for the acknowledgement of an upload that the
/// server should accept. An acknowledgement ends the wait, so the bound costs
/// time only when the test fails. It is long because a debug build on a
/// loaded machine can take seconds to store an upload.
pub const ACK_WAIT: Duration = Duration::from_secs(60);

/// How long a datalogger waits before it concludes that an upload the server
/// should reject was not acknowledged. Tests that expect a rejection also
/// check the server's log, because a missing acknowledgement alone could be
/// a slow one.
pub const NO_ACK_WAIT: Duration = Duration::from_secs(5);

/// A temporary data directory that outlives server restarts.
pub struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to a file in the directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// Returns a new data directory with the built-in areas of Fujian (35)
    /// and `points` imported as [`points_csv`] describes them.
    pub fn with_points(points: &[(&str, u32)]) -> Self {
        let data = Self::new();
        let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let file = data.file("points.csv", &points_csv(points));
        let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        data
    }

    /// Runs `oversight import ...` on this directory and returns its exit code and output.
    pub fn import(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(BINARY)
            .arg("import")
            .arg("--data-dir")
            .arg(self.path().join("data"))
            .args(args)
            .output()
            .expect("run oversight import");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Login name and password of the administrator every test server has.
pub const ADMIN: (&str, &str) = ("root", "correct horse battery");

impl DataDir {
    /// Creates the administrator [`ADMIN`] unless it exists.
    pub fn ensure_admin(&self) {
        use std::io::Write;

        let mut child = Command::new(BINARY)
            .args(["user", "add", "--admin", ADMIN.0, "--data-dir"])
            .arg(self.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run oversight user add");
        let mut stdin = child.stdin.take().expect("piped stdin");
        writeln!(stdin, "{}", ADMIN.1).expect("write password");
        drop(stdin);
        let output = child
            .wait_with_output()
            .expect("wait for oversight user add");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() || stderr.contains("exists already"),
            "oversight user add failed: {stderr}"
        );
    }
}

/// A running `oversight serve`, with a logged-in administrator session.
pub struct Server {
    child: Child,
    pub http: SocketAddr,
    pub hj212: SocketAddr,
    client: reqwest::Client,
    /// `http`, or `https` when the server serves TLS.
    scheme: &'static str,
    /// The `Cookie` and `X-CSRF-Token` headers of the session.
    session: Vec<(String, String)>,
    /// Every line the server wrote to standard error so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `oversight serve` on free ports with `env` set, and waits until both listeners are up.
    pub async fn start(data: &DataDir, env: &[(&str, &str)]) -> Self {
        Self::spawn(data, env, None, reqwest::Client::new(), "http").await
    }

    /// Starts `oversight serve --config FILE` on free ports.
    pub async fn start_with_config(data: &DataDir, config: &Path) -> Self {
        Self::spawn(data, &[], Some(config), reqwest::Client::new(), "http").await
    }

    /// Starts the server like [`Server::start`], and reaches its HTTP API
    /// with `client` by `scheme` (`http` or `https`).
    pub async fn start_with_client(
        data: &DataDir,
        env: &[(&str, &str)],
        client: reqwest::Client,
        scheme: &'static str,
    ) -> Self {
        Self::spawn(data, env, None, client, scheme).await
    }

    async fn spawn(
        data: &DataDir,
        env: &[(&str, &str)],
        config: Option<&Path>,
        client: reqwest::Client,
        scheme: &'static str,
    ) -> Self {
        data.ensure_admin();
        let mut command = Command::new(BINARY);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
            .args([
                "serve",
                "--log-format",
                "json",
                "--http",
                "127.0.0.1:0",
                "--hj212",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start oversight serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, receiver) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_lines = Arc::clone(&log);
        std::thread::spawn(move || forward_log(stderr, &sender, &log_lines));
        let (http, hj212) = wait_for_listeners(&receiver);
        let mut server = Self {
            child,
            http,
            hj212,
            client,
            scheme,
            session: Vec::new(),
            log,
        };
        server.session = server.login().await;
        server
    }

    /// Logs in as [`ADMIN`] and returns the headers that carry the session.
    async fn login(&self) -> Vec<(String, String)> {
        self.login_as(ADMIN.0, ADMIN.1).await
    }

    /// Makes the requests that follow act as another account.
    pub async fn switch_user(&mut self, username: &str, password: &str) {
        self.session = self.login_as(username, password).await;
    }

    async fn login_as(&self, username: &str, password: &str) -> Vec<(String, String)> {
        let url = self.url("/api/v1/auth/login");
        login::login(&self.client, url, username, password).await
    }

    /// Returns the session's headers as lines of a raw HTTP/1.1 request head.
    pub fn session_head_lines(&self) -> String {
        self.session
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect()
    }

    /// Returns the session's `Cookie` header value, without its CSRF token.
    pub fn session_cookie(&self) -> &str {
        self.session
            .iter()
            .find(|(name, _)| name == "cookie")
            .map(|(_, value)| value.as_str())
            .expect("the session has a cookie")
    }

    /// Adds the session's headers to a request.
    pub fn with_session(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        login::with_headers(request, &self.session)
    }

    /// Returns the log lines the server has written so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Polls the server's log until a JSON line satisfies `check`, or fails
    /// after [`SETTLE`]. Returns that line.
    pub async fn wait_for_log(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let found = self
                .log_lines()
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|event| check(event));
            if let Some(event) = found {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the server to log {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns the process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("kill oversight");
        self.child.wait().expect("reap oversight");
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        self.child.wait().expect("reap oversight")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.http)
    }

    /// GETs an API path and returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .with_session(self.client.get(self.url(path)))
            .send()
            .await
            .expect("GET request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs JSON to an API path and returns status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .with_session(self.client.post(self.url(path)))
            .json(body)
            .send()
            .await
            .expect("POST request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// PATCHes JSON to an API path and returns status and JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .with_session(self.client.patch(self.url(path)))
            .json(body)
            .send()
            .await
            .expect("PATCH request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// DELETEs an API path and returns status and JSON body.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let response = self
            .with_session(self.client.delete(self.url(path)))
            .send()
            .await
            .expect("DELETE request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `path` until `check` accepts the body, or fails after [`SETTLE`].
    pub async fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && check(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last {path}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Returns every reading of `mn`, following the cursors.
    pub async fn readings(&self, mn: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = format!("/api/v1/points/{mn}/readings?limit=10000");
        loop {
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "{page}");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            let Some(cursor) = page["next_cursor"].as_str() else {
                break;
            };
            path = format!("/api/v1/points/{mn}/readings?limit=10000&cursor={cursor}");
        }
        items
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the server's log lines to the test's output and to `log`, and sends each to `sender`.
#[expect(
    clippy::print_stderr,
    reason = "the test harness captures eprintln output per test"
)]
fn forward_log(
    stderr: impl std::io::Read,
    sender: &mpsc::Sender<String>,
    log: &Mutex<Vec<String>>,
) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        eprintln!("server: {line}");
        log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line.clone());
        // The receiver stops listening once both listeners are known.
        let _ = sender.send(line);
    }
}

/// Reads log lines until both "listening" lines have named their addresses.
fn wait_for_listeners(lines: &mpsc::Receiver<String>) -> (SocketAddr, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut http, mut hj212) = (None, None);
    while http.is_none() || hj212.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("server logged both listening addresses in time");
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let addr = event["addr"].as_str().and_then(|addr| addr.parse().ok());
        match event["message"].as_str() {
            Some("http listening") => http = addr,
            Some("hj212 listening") => hj212 = addr,
            _ => {}
        }
    }
    (http.expect("http address"), hj212.expect("hj212 address"))
}

/// A byte stream a datalogger talks over: plain TCP or TLS.
pub trait DeviceStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> DeviceStream for S {}

/// A simulated datalogger on one TCP connection.
pub struct Datalogger {
    stream: Box<dyn DeviceStream>,
    mn: String,
    password: String,
    buffer: Vec<u8>,
    sequence: u64,
}

impl Datalogger {
    pub async fn connect(target: SocketAddr, mn: &str, password: &str) -> Self {
        let stream = TcpStream::connect(target)
            .await
            .expect("connect to the HJ 212 listener");
        Self::over(stream, mn, password)
    }

    /// Returns a datalogger that talks over an open `stream`.
    pub fn over(stream: impl DeviceStream + 'static, mn: &str, password: &str) -> Self {
        Self {
            stream: Box::new(stream),
            mn: mn.to_owned(),
            password: password.to_owned(),
            buffer: Vec::new(),
            sequence: 0,
        }
    }

    /// Builds a real-time upload (CN 2011) asking for an acknowledgement.
    pub fn upload(&mut self, data_time: Timestamp, factors: &[(&str, f64)]) -> (String, String) {
        self.sequence += 1;
        let qn = format!(
            "{}{:03}",
            data_time.strftime("%Y%m%d%H%M%S"),
            self.sequence % 1000
        );
        let mut builder = SegmentBuilder::new("32", 2011, &self.password, &self.mn)
            .qn(&qn)
            .flag(Flag::new(Version::V2017, false, true))
            .data_time(data_time, CHINA_STANDARD_TIME);
        for (code, value) in factors {
            let values = FactorValues {
                rtd: Some(*value),
                ..FactorValues::default()
            };
            builder = builder.factor(code, &values, Some(DataFlag::NORMAL));
        }
        let segment = builder.build().expect("valid test segment");
        (qn, encode_frame(&segment).expect("segment fits a frame"))
    }

    /// Sends a frame and waits for its 9014 acknowledgement; returns false if
    /// the connection closed or no acknowledgement came within [`ACK_WAIT`].
    pub async fn send_and_ack(&mut self, qn: &str, frame: &str) -> bool {
        self.send_and_wait(qn, frame, ACK_WAIT).await
    }

    /// Sends a frame and waits up to `wait` for its 9014 acknowledgement.
    /// Returns false if the connection closed or none came in time.
    pub async fn send_and_wait(&mut self, qn: &str, frame: &str, wait: Duration) -> bool {
        if self.stream.write_all(frame.as_bytes()).await.is_err() {
            return false;
        }
        // A TLS stream keeps written bytes until flushed.
        if self.stream.flush().await.is_err() {
            return false;
        }
        let wanted = format!("QN={qn};");
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = find_line(&self.buffer) {
                let line: Vec<u8> = self.buffer.drain(..end).collect();
                let text = String::from_utf8_lossy(&line);
                if text.contains("CN=9014") && text.contains(&wanted) {
                    return true;
                }
                continue;
            }
            let mut chunk = [0u8; 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(count)) if count > 0 => self.buffer.extend_from_slice(&chunk[..count]),
                _ => return false,
            }
        }
    }

    /// Sends one upload with `factors` at `data_time` and returns whether it was acknowledged.
    pub async fn send(&mut self, data_time: Timestamp, factors: &[(&str, f64)]) -> bool {
        let (qn, frame) = self.upload(data_time, factors);
        self.send_and_ack(&qn, &frame).await
    }

    /// Sends one upload that the server should reject, and returns whether it
    /// was acknowledged within [`NO_ACK_WAIT`] after all.
    pub async fn send_rejected(&mut self, data_time: Timestamp, factors: &[(&str, f64)]) -> bool {
        let (qn, frame) = self.upload(data_time, factors);
        self.send_and_wait(&qn, &frame, NO_ACK_WAIT).await
    }
}

/// Returns the index after the first CR LF in `buffer`.
fn find_line(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|index| index + 2)
}

/// Builds a point import file with one wastewater outlet per MN, COD limited to 100 mg/L.
pub fn points_csv(points: &[(&str, u32)]) -> String {
    let mut text = String::from("mn,name,area,st,password,interval_secs,limits\n");
    for (mn, interval) in points {
        text.push_str(&format!(
            "{mn},outlet {mn},350203001,32,123456,{interval},w01018::100:mg/L|w01001:6:9:\n"
        ));
    }
    text
}
