//! Connection behaviour of the HJ 212 source over real sockets with a real
//! SQLite store: stream framing, authentication, quarantine, limits and the
//! hand-off to the rules.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Harness, readings, time, upload};
use oversight_core::{
    Actor, AlertStatus, DataFlag, FactorValues, Mn, MonitoringPoint, Reading, Secret, Severity,
    SystemClock,
};
use oversight_hj212::{CHINA_STANDARD_TIME, Flag, SegmentBuilder, Version, encode_frame};
use oversight_rules::{ReadingBatch, RulesConfig, RulesHandle, RulesService};
use oversight_simulate::SimulateConfig;
use oversight_source_hj212::ReadingSink;
use oversight_store::{AlertQuery, RevisionQuery, Store};
use tokio_util::sync::CancellationToken;

const MN: &str = "010000A8900016F000169DC0";
const PW: &str = "123456";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_packets_in_one_write() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    let batch: String = (0..3)
        .map(|index| {
            upload(
                MN,
                PW,
                &format!("2026030100000000{index}"),
                time(index * 30),
                20.0,
            )
        })
        .collect();
    client.send(batch.as_bytes()).await;
    let acks = client.acks_until("20260301000000002").await;
    assert_eq!(
        acks,
        [
            "20260301000000000",
            "20260301000000001",
            "20260301000000002"
        ]
    );
    assert_eq!(
        readings(&*harness.store, MN).await.len(),
        6,
        "2 factors × 3 uploads"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_write_keeps_ack_order() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    let batch = [
        upload(MN, PW, "20260301000000001", time(0), 20.0),
        upload("UNREGISTERED01", PW, "20260301000000002", time(0), 20.0),
        upload(MN, "999999", "20260301000000003", time(30), 20.0),
        upload(MN, PW, "20260301000000004", time(60), 20.0),
        upload(MN, PW, "20260301000000005", time(90), 20.0),
    ]
    .concat();
    client.send(batch.as_bytes()).await;
    let acks = client.acks_until("20260301000000005").await;
    assert_eq!(
        acks,
        [
            "20260301000000001",
            "20260301000000002",
            "20260301000000004",
            "20260301000000005"
        ]
    );
    let stored = readings(&*harness.store, MN).await;
    let times: Vec<_> = stored.iter().map(|reading| reading.data_time).collect();
    assert_eq!(
        times,
        [time(0), time(0), time(60), time(60), time(90), time(90)]
    );
    let quarantine = harness.quarantine_summaries().await;
    assert_eq!(quarantine.len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_split_across_writes() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    let frame = upload(MN, PW, "20260301000000000", time(0), 20.0);
    for chunk in frame.as_bytes().chunks(7) {
        client.send(chunk).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(client.acks_until("20260301000000000").await.len(), 1);
    let stored = readings(&*harness.store, MN).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].data_time, time(0));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_upload_parts_stored_separately() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let part = |pno: u16, qn: &str, factors: &[(&str, f64)]| {
        let mut builder = SegmentBuilder::new("32", 2011, PW, MN)
            .qn(qn)
            .flag(Flag::new(Version::V2017, true, true))
            .parts(2, pno)
            .data_time(time(0), CHINA_STANDARD_TIME);
        for (code, value) in factors {
            let values = FactorValues {
                rtd: Some(*value),
                ..FactorValues::default()
            };
            builder = builder.factor(code, &values, Some(DataFlag::NORMAL));
        }
        encode_frame(&builder.build().expect("part encodes")).expect("part frame")
    };
    let first = part(1, "20260301000000001", &[("w00000", 12.5), ("w01001", 7.1)]);
    let second = part(2, "20260301000000002", &[("w01018", 35.0)]);
    let mut client = harness.connect().await;
    client.send(first.as_bytes()).await;
    assert_eq!(
        client.acks_until("20260301000000001").await.len(),
        1,
        "first part acknowledged alone"
    );
    client.send(second.as_bytes()).await;
    assert_eq!(
        client.acks_until("20260301000000002").await.len(),
        1,
        "second part acknowledged alone"
    );
    let stored = readings(&*harness.store, MN).await;
    let mut factors: Vec<String> = stored
        .iter()
        .map(|reading| reading.factor.to_string())
        .collect();
    factors.sort();
    assert_eq!(factors, ["w00000", "w01001", "w01018"]);
    assert!(stored.iter().all(|reading| reading.data_time == time(0)));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_with_chinese_text() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let cod = FactorValues {
        rtd: Some(35.5),
        ..FactorValues::default()
    };
    let segment = SegmentBuilder::new("32", 2011, PW, MN)
        .qn("20260301000000000")
        .flag(Flag::new(Version::V2017, false, true))
        .data_time(time(0), CHINA_STANDARD_TIME)
        .factor("w01018", &cod, Some(DataFlag::NORMAL))
        .item("i11001-Info", "//清洗管路//")
        .build()
        .expect("segment encodes");
    let frame = encode_frame(&segment).expect("frame encodes");
    assert!(
        frame.len() > segment.chars().count() + 12,
        "length counts bytes, not characters"
    );
    let mut client = harness.connect().await;
    client.send(frame.as_bytes()).await;
    assert_eq!(client.acks_until("20260301000000000").await.len(), 1);
    let stored = readings(&*harness.store, MN).await;
    assert_eq!(
        stored.len(),
        1,
        "the log item carries no reading: {stored:?}"
    );
    assert_eq!(stored[0].values.rtd, Some(35.5));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_rejected() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    client
        .send(upload(MN, "999999", "20260301000000000", time(0), 20.0).as_bytes())
        .await;
    client
        .send(upload(MN, PW, "20260301000000001", time(30), 20.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000001").await;
    assert_eq!(
        acks,
        ["20260301000000001"],
        "the wrong-password upload is not acknowledged"
    );
    let stored = readings(&*harness.store, MN).await;
    assert_eq!(stored.len(), 2, "only the good upload is stored");
    assert!(stored.iter().all(|reading| reading.data_time == time(30)));
    let quarantine = harness.quarantine_summaries().await;
    assert!(
        quarantine.is_empty(),
        "a registered MN is never quarantined: {quarantine:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_rotation_without_rejections() {
    // A long cache time shows that a password change takes effect at once.
    let harness = Harness::start(|config| config.point_cache_secs = 3600, None).await;
    harness.register(MN, PW).await;
    let mn = Mn::parse(MN).expect("valid MN");
    let mut client = harness.connect().await;
    client
        .send(upload(MN, PW, "20260301000000000", time(0), 20.0).as_bytes())
        .await;
    client.acks_until("20260301000000000").await;

    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    harness
        .store
        .set_point_password(
            &mn,
            &Secret::new("654321".to_owned()),
            Some(until),
            &Actor::System,
        )
        .await
        .expect("set new password");
    // The device still sends the old password, then switches to the new one.
    client
        .send(upload(MN, PW, "20260301000000001", time(30), 21.0).as_bytes())
        .await;
    client
        .send(upload(MN, "654321", "20260301000000002", time(60), 22.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000002").await;
    assert_eq!(acks, ["20260301000000001", "20260301000000002"]);
    let point = harness.store.point(&mn).await.expect("get").expect("point");
    assert_eq!(
        point.previous_password, None,
        "the new password retires the old one"
    );

    // After that the old password is wrong.
    client
        .send(upload(MN, PW, "20260301000000003", time(90), 23.0).as_bytes())
        .await;
    client
        .send(upload(MN, "654321", "20260301000000004", time(120), 24.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000004").await;
    assert_eq!(acks, ["20260301000000004"], "the old password is rejected");
    let stored = readings(&*harness.store, MN).await;
    assert_eq!(stored.len(), 8, "four uploads of two factors stored");
    assert!(stored.iter().all(|reading| reading.data_time != time(90)));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_mn_is_quarantined() {
    let harness = Harness::start(|config| config.point_cache_secs = 1, None).await;
    let mut client = harness.connect().await;
    client
        .send(upload(MN, PW, "20260301000000000", time(0), 20.0).as_bytes())
        .await;
    assert_eq!(
        client.acks_until("20260301000000000").await.len(),
        1,
        "quarantined uploads are acknowledged"
    );
    let summaries = harness.quarantine_summaries().await;
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].mn, MN);
    assert_eq!(summaries[0].readings, 2);
    let uploads = harness.quarantined_uploads(MN).await;
    assert!(
        uploads[0].raw.starts_with("##"),
        "raw packet kept: {}",
        uploads[0].raw
    );
    assert!(
        uploads[0]
            .peer
            .as_deref()
            .is_some_and(|peer| peer.starts_with("127.0.0.1:"))
    );

    // Registering the point releases the held readings, and the cache
    // returns the new point once its entry expired.
    harness.register(MN, PW).await;
    let moved = harness
        .store
        .release_quarantine(&Mn::parse(MN).expect("MN"), &Actor::System)
        .await
        .expect("release");
    assert_eq!(moved, 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .send(upload(MN, PW, "20260301000000001", time(30), 20.0).as_bytes())
        .await;
    client.acks_until("20260301000000001").await;
    assert_eq!(readings(&*harness.store, MN).await.len(), 4);
    assert!(harness.quarantine_summaries().await.is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_keep_connection_open() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    let good = upload(MN, PW, "20260301000000000", time(0), 20.0);
    let declared: usize = good[2..6].parse().expect("length digits");
    let bad_crc = format!("{}0000\r\n", &good[..good.len() - 6]);
    let short_length = format!("##{:04}{}", declared - 1, &good[6..]);
    let garbage = "GET / HTTP/1.1\r\n\r\n";
    for (index, bad) in [bad_crc.as_str(), short_length.as_str(), garbage]
        .into_iter()
        .enumerate()
    {
        client.send(bad.as_bytes()).await;
        let qn = format!("2026030100000010{index}");
        client
            .send(upload(MN, PW, &qn, time(60 + index as i64), 20.0).as_bytes())
            .await;
        let acks = client.acks_until(&qn).await;
        assert_eq!(
            acks,
            std::slice::from_ref(&qn),
            "bad frame {index} not acknowledged"
        );
    }

    // A declared length longer than the packet is only found out once that
    // many bytes arrived. The good packets read meanwhile are then framed
    // from the buffer, so none is lost.
    let long_length = format!("##{:04}{}", declared + 900, &good[6..]);
    client.send(long_length.as_bytes()).await;
    let qns: Vec<String> = (0..10)
        .map(|index| format!("2026030100000020{index}"))
        .collect();
    for (index, qn) in qns.iter().enumerate() {
        client
            .send(upload(MN, PW, qn, time(120 + index as i64), 20.0).as_bytes())
            .await;
    }
    assert_eq!(client.acks_until(&qns[9]).await, qns);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_is_closed() {
    let harness = Harness::start(|config| config.idle_timeout_secs = 1, None).await;
    let mut client = harness.connect().await;
    assert!(
        client.closed_within(Duration::from_secs(3)).await,
        "idle connection still open"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_closes_excess() {
    let harness = Harness::start(|config| config.max_connections = 2, None).await;
    harness.register(MN, PW).await;
    let mut first = harness.connect().await;
    let mut second = harness.connect().await;
    // Both are accepted once they have been served.
    first
        .send(upload(MN, PW, "20260301000000000", time(0), 20.0).as_bytes())
        .await;
    first.acks_until("20260301000000000").await;
    second
        .send(upload(MN, PW, "20260301000000001", time(1), 20.0).as_bytes())
        .await;
    second.acks_until("20260301000000001").await;

    let mut third = harness.connect().await;
    assert!(
        third.closed_within(Duration::from_secs(2)).await,
        "third connection accepted"
    );

    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = harness.connect().await;
    fourth
        .send(upload(MN, PW, "20260301000000002", time(2), 20.0).as_bytes())
        .await;
    fourth.acks_until("20260301000000002").await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_is_acknowledged() {
    let harness = Harness::start(|_| {}, None).await;
    let segment = SegmentBuilder::new("32", 9015, PW, MN)
        .qn("20260301000000000")
        .flag(Flag::new(Version::V2025, false, true))
        .build()
        .expect("heartbeat encodes");
    let mut client = harness.connect().await;
    client
        .send(encode_frame(&segment).expect("frame").as_bytes())
        .await;
    assert_eq!(client.acks_until("20260301000000000").await.len(), 1);
    let summaries = harness.quarantine_summaries().await;
    assert!(summaries.is_empty(), "a heartbeat stores nothing");
    harness.stop().await;
}

/// Feeds stored readings to the rules service, as the server does.
#[derive(Debug)]
struct RulesSink(RulesHandle);

#[async_trait]
impl ReadingSink for RulesSink {
    async fn readings_stored(&self, point: Arc<MonitoringPoint>, readings: Vec<Reading>) {
        self.0
            .submit(ReadingBatch { point, readings })
            .await
            .expect("rules service runs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceedance_opens_alert() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store =
        oversight_store_sqlite::SqliteStore::open(dir.path().join("rules.db"), Default::default())
            .expect("sqlite store opens");
    let store: Arc<dyn Store> = Arc::new(store);
    let (rules, handle) = RulesService::new(
        RulesConfig::default(),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(oversight_rules::LogEventSink),
        oversight_rules::EngineConfig::default(),
    )
    .expect("rules config");
    let cancel = CancellationToken::new();
    let rules_task = tokio::spawn(rules.run(cancel.clone()));
    let harness = Harness::start_on(store, dir, |_| {}, Some(Arc::new(RulesSink(handle)))).await;
    harness.register(MN, PW).await;

    let mut client = harness.connect().await;
    client
        .send(upload(MN, PW, "20260301000000000", time(0), 250.0).as_bytes())
        .await;
    client.acks_until("20260301000000000").await;

    // The drop from 250 to 20 below also fires the built-in jump rule, so
    // the query follows the limit rule's alert only.
    let query = AlertQuery {
        rule_id: Some("env.limit.upper".to_owned()),
        limit: 10,
        ..AlertQuery::default()
    };
    let mut alerts = Vec::new();
    for _ in 0..50 {
        alerts = harness
            .store
            .alerts(&query)
            .await
            .expect("alerts query")
            .items;
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule_id, "env.limit.upper");
    assert_eq!(
        alerts[0].severity,
        Severity::Critical,
        "250 is at least twice the limit of 100"
    );
    assert_eq!(alerts[0].status, AlertStatus::Firing);
    assert_eq!(alerts[0].first_at, time(0));

    client
        .send(upload(MN, PW, "20260301000000001", time(30), 20.0).as_bytes())
        .await;
    client.acks_until("20260301000000001").await;
    let mut status = AlertStatus::Firing;
    for _ in 0..50 {
        status = harness
            .store
            .alerts(&query)
            .await
            .expect("alerts query")
            .items[0]
            .status;
        if status == AlertStatus::Resolved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, AlertStatus::Resolved);
    harness.stop().await;
    cancel.cancel();
    rules_task
        .await
        .expect("rules task")
        .expect("rules service stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_uploads_are_acknowledged() {
    let harness = Harness::start(|_| {}, None).await;
    let config = SimulateConfig {
        target: harness.addr.to_string(),
        connections: 5,
        rate: 20.0,
        duration_secs: 2.0,
        report_interval_secs: 0.0,
        malformed_share: 0.1,
        exceedance_share: 0.05,
        ..SimulateConfig::default()
    };
    let area = oversight_core::AreaCode::parse(common::AREA).expect("area");
    let points = oversight_simulate::points(&config, &area).expect("simulated points");
    harness
        .store
        .upsert_points(&points, &Actor::System)
        .await
        .expect("points stored");

    let report = oversight_simulate::run(&config, CancellationToken::new(), |_| {})
        .await
        .expect("simulation runs");
    let counters = report.counters;
    assert!(counters.uploads_sent >= 100, "{report}");
    assert_eq!(counters.connection_errors, 0, "{report}");
    assert!(counters.malformed_sent > 0, "{report}");
    assert_eq!(counters.ack_timeouts, 0, "{report}");
    let answered = counters.acks + counters.unacknowledged_at_end;
    assert_eq!(answered, counters.uploads_sent, "{report}");
    assert_eq!(report.latency_ms.count, counters.acks);

    let mut stored = 0;
    for point in &points {
        stored += readings(&*harness.store, point.mn.as_str()).await.len() as u64;
    }
    assert!(
        stored >= counters.acks * 10,
        "every acknowledged upload stored: {stored} readings, {report}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_revision_records_sender_address() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let from = std::net::IpAddr::from([127, 0, 0, 2]);
    let mut client = common::Client::connect_from(harness.addr, from).await;
    let sender = client.stream.local_addr().expect("client address");

    client
        .send(upload(MN, PW, "20260301000000001", time(0), 20.0).as_bytes())
        .await;
    client.acks_until("20260301000000001").await;
    // The device missed the acknowledgement and resends with another value.
    client
        .send(upload(MN, PW, "20260301000000002", time(0), 25.0).as_bytes())
        .await;
    client.acks_until("20260301000000002").await;

    let revisions = harness
        .store
        .reading_revisions(&RevisionQuery {
            mn: Mn::parse(MN).expect("test MN is valid"),
            factor: None,
            kind: None,
            from: None,
            to: None,
            limit: 100,
            cursor: None,
        })
        .await
        .expect("query revisions");
    assert_eq!(revisions.items.len(), 1, "{:?}", revisions.items);
    let revision = &revisions.items[0];
    assert_eq!(revision.reading.factor.as_str(), "w01018");
    assert_eq!(revision.reading.values.rtd, Some(25.0));
    assert_eq!(revision.peer, Some(sender.to_string()));
    assert!(
        revision
            .peer
            .as_deref()
            .is_some_and(|peer| peer.starts_with("127.0.0.2:")),
        "{:?}",
        revision.peer
    );
    harness.stop().await;
}
