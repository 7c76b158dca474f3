//! A running HJ 212 source on 127.0.0.1 with a real SQLite store, and a
//! datalogger client that reads 9014 acknowledgements.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use oversight_core::{
    Actor, Area, AreaCode, DataFlag, FactorCode, FactorLimit, FactorValues, Mn, MonitoringPoint,
    Secret, SystemClock, SystemCode,
};
use oversight_hj212::{CHINA_STANDARD_TIME, Flag, Framer, SegmentBuilder, Version, encode_frame};
use oversight_source_hj212::{Hj212Config, Hj212Source, ReadingSink};
use oversight_store::{QuarantineQuery, QuarantineSummary, QuarantinedUpload, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The area every test point is registered in.
pub(crate) const AREA: &str = "350203";

/// A source serving on an ephemeral port until dropped.
pub(crate) struct Harness {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Starts a source with `config` changed by `adjust`, and `sink`.
    pub(crate) async fn start(
        adjust: impl FnOnce(&mut Hj212Config),
        sink: Option<Arc<dyn ReadingSink>>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(dir.path().join("oversight.db"), SqliteOptions::default())
            .expect("sqlite store opens");
        Self::start_on(Arc::new(store), dir, adjust, sink).await
    }

    /// Starts a source on an existing store; `dir` is kept until the harness is dropped.
    pub(crate) async fn start_on(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Hj212Config),
        sink: Option<Arc<dyn ReadingSink>>,
    ) -> Self {
        let areas = ["35", "3502", AREA]
            .map(|code| Area::new(AreaCode::parse(code).expect("area code"), code).expect("area"));
        store.upsert_areas(&areas).await.expect("areas stored");
        let mut config = Hj212Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Hj212Config::default()
        };
        adjust(&mut config);
        let source = Hj212Source::bind(&config, Arc::clone(&store), Arc::new(SystemClock), sink)
            .await
            .expect("source binds");
        let addr = source.local_addr();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(source.run(cancel.clone()));
        Self {
            store,
            addr,
            cancel,
            task: Some(task),
            _dir: dir,
        }
    }

    /// Registers a point with a COD limit of 100 and returns it.
    pub(crate) async fn register(&self, mn: &str, password: &str) -> MonitoringPoint {
        let point = point(mn, password);
        self.store
            .upsert_points(std::slice::from_ref(&point), &Actor::System)
            .await
            .expect("point stored");
        point
    }

    /// Returns every quarantine summary.
    pub(crate) async fn quarantine_summaries(&self) -> Vec<QuarantineSummary> {
        self.store
            .quarantine_summaries(&QuarantineQuery::default())
            .await
            .expect("quarantine query")
            .items
    }

    /// Returns the first 1000 quarantined uploads of `mn`.
    pub(crate) async fn quarantined_uploads(&self, mn: &str) -> Vec<QuarantinedUpload> {
        self.store
            .quarantined_uploads(mn, &QuarantineQuery::default())
            .await
            .expect("quarantined uploads")
            .items
    }

    /// Opens a datalogger connection.
    pub(crate) async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Stops the source and waits for it to finish.
    pub(crate) async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("source stops within 10 s")
                .expect("source task does not panic");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Returns a point in [`AREA`] with a COD (w01018) upper limit of 100 mg/L.
pub(crate) fn point(mn: &str, password: &str) -> MonitoringPoint {
    MonitoringPoint {
        mn: Mn::parse(mn).expect("test MN is valid"),
        name: format!("point {mn}"),
        area: AreaCode::parse(AREA).expect("area code"),
        system_code: SystemCode::parse("32").expect("system code"),
        password: Secret::new(password.to_owned()),
        previous_password: None,
        location: None,
        limits: vec![
            FactorLimit::new(
                FactorCode::parse("w01018").expect("factor"),
                None,
                Some(100.0),
                None,
            )
            .expect("limit"),
        ],
        interval_secs: 30,
        attributes: Default::default(),
    }
}

/// Frames a 2011 upload of COD (w01018) and NH₃-N (w21003) with `Flag=5`.
pub(crate) fn upload(mn: &str, password: &str, qn: &str, data_time: Timestamp, cod: f64) -> String {
    let cod = FactorValues {
        rtd: Some(cod),
        ..FactorValues::default()
    };
    let ammonia = FactorValues {
        rtd: Some(1.5),
        ..FactorValues::default()
    };
    let segment = SegmentBuilder::new("32", 2011, password, mn)
        .qn(qn)
        .flag(Flag::new(Version::V2017, false, true))
        .data_time(data_time, CHINA_STANDARD_TIME)
        .factor("w01018", &cod, Some(DataFlag::NORMAL))
        .factor("w21003", &ammonia, Some(DataFlag::NORMAL))
        .build()
        .expect("test segment encodes");
    encode_frame(&segment).expect("test frame encodes")
}

/// Frames a 2011 upload of COD whose `DataTime` is 30 February, a date
/// that does not exist.
pub(crate) fn invalid_date_upload(mn: &str, password: &str) -> String {
    let cod = FactorValues {
        rtd: Some(20.0),
        ..FactorValues::default()
    };
    let segment = SegmentBuilder::new("32", 2011, password, mn)
        .qn("20260301000000099")
        .flag(Flag::new(Version::V2017, false, true))
        .item("DataTime", "20260230120000")
        .factor("w01018", &cod, Some(DataFlag::NORMAL))
        .build()
        .expect("test segment encodes");
    encode_frame(&segment).expect("test frame encodes")
}

/// Returns every stored reading of `mn`, oldest first.
pub(crate) async fn readings(store: &dyn Store, mn: &str) -> Vec<oversight_core::Reading> {
    let query = oversight_store::ReadingQuery {
        mn: Mn::parse(mn).expect("test MN is valid"),
        factor: None,
        kind: None,
        from: None,
        to: None,
        order: oversight_store::SortOrder::Ascending,
        limit: 10_000,
        cursor: None,
    };
    store.readings(&query).await.expect("readings query").items
}

/// Returns `2026-03-01T00:00:00Z` plus `seconds`.
pub(crate) fn time(seconds: i64) -> Timestamp {
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().expect("literal timestamp");
    start
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .expect("small offset")
}

/// A datalogger connection.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    framer: Framer,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to source");
        Self {
            stream,
            framer: Framer::new(),
        }
    }

    /// Writes `bytes` in one write.
    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to source");
    }

    /// Returns the QNs of the 9014 acknowledgements read until one with
    /// `qn` arrives, that one included; fails after 10 s.
    pub(crate) async fn acks_until(&mut self, qn: &str) -> Vec<String> {
        let mut qns = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(frame) = self.framer.next_frame() {
                let frame = frame.expect("acknowledgement frame is valid");
                let packet = frame.parse().expect("acknowledgement parses");
                assert_eq!(packet.cn(), 9014, "only 9014 replies are expected");
                assert_eq!(packet.st(), "91");
                let ack_qn = packet.qn().unwrap_or_default().to_owned();
                let done = ack_qn == qn;
                qns.push(ack_qn);
                if done {
                    return qns;
                }
            }
            let mut buffer = [0_u8; 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buffer))
                .await
                .unwrap_or_else(|_| {
                    panic!("no acknowledgement of QN {qn} within 10 s; got {qns:?}")
                })
                .expect("read from source");
            assert!(
                read > 0,
                "source closed the connection before acknowledging QN {qn}; got {qns:?}"
            );
            let taken = self.framer.push(&buffer[..read]);
            assert_eq!(taken, read, "acknowledgements fit the framer");
        }
    }

    /// Opens a datalogger connection from the local address `from`, such as
    /// 127.0.0.2, which Linux routes over the loopback interface.
    pub(crate) async fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(from, 0))
            .expect("bind loopback address");
        let stream = socket.connect(addr).await.expect("connect to source");
        Self {
            stream,
            framer: Framer::new(),
        }
    }

    /// Sends a COD upload of 20 and waits for its acknowledgement.
    pub(crate) async fn send_acknowledged(
        &mut self,
        mn: &str,
        password: &str,
        qn: &str,
        data_time: Timestamp,
    ) {
        self.send(upload(mn, password, qn, data_time, 20.0).as_bytes())
            .await;
        self.acks_until(qn).await;
    }

    /// Returns true if the source closes the connection within `wait`.
    pub(crate) async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut buffer = [0_u8; 256];
        loop {
            match tokio::time::timeout(wait, self.stream.read(&mut buffer)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}
