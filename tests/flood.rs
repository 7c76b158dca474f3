//! Flood tests through the real binary: 10,000 connections that send
//! nothing, and clients that send one byte a second, must not stop a
//! well-behaved datalogger from getting its acknowledgements or an HTTP
//! client from getting responses.
//!
//! The HJ 212 flood and the HTTP flood run one after the other, so each
//! process needs about 10,000 file descriptors rather than 20,000.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{DataDir, Datalogger, Server, points_csv};
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Silent connections per flood.
const FLOOD: usize = 10_000;

/// Rounds of well-behaved traffic checked while a flood is held, one every 500 ms.
const ROUNDS: usize = 8;

/// The address the flood comes from.
const FLOOD_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// Another loopback address, for clients that are not part of the flood.
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Floods need most of the test process's file descriptors, so they run one at a time.
static ONE_FLOOD: Mutex<()> = Mutex::const_new(());

/// Raises the test process's open files limit to its hard limit and checks
/// that it fits one flood.
fn raise_open_files_limit() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    let needed = FLOOD as u64 + 500;
    assert!(
        limit >= needed,
        "the open files limit is {limit}, below the {needed} a flood needs; raise ulimit -Hn"
    );
}

/// Imports Fujian's areas and the outlet `FLOOD01`.
fn prepared() -> DataDir {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = data.file("points.csv", &points_csv(&[("FLOOD01", 60)]));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    data
}

/// Opens a TCP connection to `target` from `source`.
async fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(target).await
}

/// Opens `count` connections to `target` that send nothing. They come
/// from 127.0.0.1, [`FLOOD_IP`], the address the kernel picks for a
/// loopback target. They are not bound to it explicitly, because binding
/// to port 0 cannot reuse ports that earlier connections left in
/// TIME_WAIT, and gets slow once thousands of ports are taken.
#[expect(
    clippy::print_stderr,
    reason = "the figures go to the test's captured output"
)]
async fn flood(target: SocketAddr, count: usize) -> Vec<TcpStream> {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(count);
    for index in 0..count {
        let stream = TcpStream::connect(target)
            .await
            .unwrap_or_else(|error| panic!("flood connection {index} to {target}: {error}"));
        streams.push(stream);
    }
    eprintln!(
        "opened {count} connections to {target} in {:?}",
        started.elapsed()
    );
    streams
}

/// Counts the connections the server keeps open: those with nothing to read and no end of stream.
fn still_open(streams: &[TcpStream]) -> usize {
    let mut buffer = [0_u8; 256];
    streams
        .iter()
        .filter(|stream| {
            matches!(stream.try_read(&mut buffer), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count()
}

/// Starts a client that sends `bytes` to `target` one byte a second until
/// the server closes the connection or the bytes run out.
fn trickle(target: SocketAddr, bytes: Vec<u8>) -> JoinHandle<usize> {
    tokio::spawn(async move {
        let Ok(mut stream) = connect_from(FLOOD_IP, target).await else {
            return 0;
        };
        let mut sent = 0;
        for byte in bytes {
            if stream.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        sent
    })
}

/// Well-behaved clients from `source`: a datalogger of `FLOOD01` and an HTTP client.
struct WellBehaved {
    logger: Datalogger,
    http: reqwest::Client,
    /// Uploads sent so far; each upload is a minute after the one before.
    uploads: i64,
}

impl WellBehaved {
    async fn connect(server: &Server, source: IpAddr) -> Self {
        let stream = connect_from(source, server.hj212)
            .await
            .expect("datalogger connects");
        let http = reqwest::Client::builder()
            .local_address(source)
            .build()
            .expect("http client");
        Self {
            logger: Datalogger::over(stream, "FLOOD01", "123456"),
            http,
            uploads: 0,
        }
    }

    /// Sends [`ROUNDS`] uploads and health requests, 500 ms apart, and
    /// checks that each upload is acknowledged and each request gets a 200.
    /// Returns the slowest acknowledgement and response.
    #[expect(
        clippy::print_stderr,
        reason = "the figures go to the test's captured output"
    )]
    async fn check(&mut self, server: &Server, phase: &str) -> (Duration, Duration) {
        let mut slowest = (Duration::ZERO, Duration::ZERO);
        let base: Timestamp = "2026-12-04T00:00:00Z".parse().expect("literal time");
        for round in 0..ROUNDS {
            self.uploads += 1;
            let data_time = base
                .checked_add(jiff::SignedDuration::from_mins(self.uploads))
                .expect("time in range");
            let started = Instant::now();
            let acked = self.logger.send(data_time, &[("w01018", 20.0)]).await;
            assert!(acked, "{phase}: upload {round} not acknowledged");
            slowest.0 = slowest.0.max(started.elapsed());

            let started = Instant::now();
            let response = self
                .http
                .get(server.url("/api/v1/health"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap_or_else(|error| panic!("{phase}: health request {round}: {error}"));
            assert_eq!(response.status().as_u16(), 200, "{phase}: round {round}");
            slowest.1 = slowest.1.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        eprintln!(
            "{phase}: slowest acknowledgement {:?}, slowest answer {:?}",
            slowest.0, slowest.1
        );
        slowest
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_with_raised_caps() {
    let _flood = ONE_FLOOD.lock().await;
    raise_open_files_limit();
    let data = prepared();
    let caps = (FLOOD + 100).to_string();
    let server = Server::start(
        &data,
        &[
            ("OVERSIGHT_HJ212__MAX_CONNECTIONS", &caps),
            ("OVERSIGHT_HJ212__MAX_CONNECTIONS_PER_ADDRESS", &caps),
            ("OVERSIGHT_HTTP__MAX_CONNECTIONS", &caps),
            ("OVERSIGHT_HTTP__MAX_CONNECTIONS_PER_IP", &caps),
            // Long enough that the silent connections are held for the whole check.
            ("OVERSIGHT_HTTP__HEADER_TIMEOUT_SECS", "60"),
            ("OVERSIGHT_HJ212__FRAME_TIMEOUT_SECS", "60"),
        ],
    )
    .await;
    let mut clients = WellBehaved::connect(&server, FLOOD_IP).await;
    let slow_http = trickle(server.http, b"GET /api/v1/health HTTP/1.1\r\n".to_vec());
    let slow_hj212 = trickle(server.hj212, b"##0101QN=20261204000000000;ST=32".to_vec());

    let silent = flood(server.hj212, FLOOD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        still_open(&silent),
        FLOOD,
        "the raised cap closed silent HJ 212 connections"
    );
    clients.check(&server, "hj212 flood, raised caps").await;
    drop(silent);

    let silent = flood(server.http, FLOOD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        still_open(&silent),
        FLOOD,
        "the raised cap closed silent HTTP connections"
    );
    clients.check(&server, "http flood, raised caps").await;
    drop(silent);

    slow_http.abort();
    slow_hj212.abort();
    let status = server.terminate();
    assert!(
        status.success(),
        "serve exited with {status} after the flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_cap_shields_others() {
    let _flood = ONE_FLOOD.lock().await;
    raise_open_files_limit();
    let data = prepared();
    // Default caps: 64 HJ 212 and 256 HTTP connections per address. The
    // header timeout is raised so that the first silent connections still
    // hold their slots when opening the flood takes longer than the default
    // 10 s on a busy machine.
    let server = Server::start(&data, &[("OVERSIGHT_HTTP__HEADER_TIMEOUT_SECS", "300")]).await;
    let mut clients = WellBehaved::connect(&server, OTHER_IP).await;
    let slow_http = trickle(server.http, b"GET /api/v1/health HTTP/1.1\r\n".to_vec());

    let silent = flood(server.hj212, FLOOD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open = still_open(&silent);
    assert!(
        open <= 64,
        "{open} silent HJ 212 connections held from one address"
    );
    clients.check(&server, "hj212 flood, default caps").await;
    drop(silent);

    let silent = flood(server.http, FLOOD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open = still_open(&silent);
    // The trickling client uses one of the address's 256 slots.
    assert!(
        open <= 256,
        "{open} silent HTTP connections held from one address"
    );
    let mut over_cap = connect_from(FLOOD_IP, server.http)
        .await
        .expect("connect over the cap");
    let mut answer = Vec::new();
    // The server may still be rejecting the tail of the flood, which is queued before this one.
    tokio::time::timeout(Duration::from_secs(30), over_cap.read_to_end(&mut answer))
        .await
        .expect("the server closed a connection over the cap")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("max_connections_per_ip"), "{answer}");
    clients.check(&server, "http flood, default caps").await;
    drop(silent);

    slow_http.abort();
    let status = server.terminate();
    assert!(
        status.success(),
        "serve exited with {status} after the flood"
    );
}
