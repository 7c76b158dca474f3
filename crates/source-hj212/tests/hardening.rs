//! Defences of the HJ 212 source against hostile or broken clients, over
//! real sockets with a real SQLite store: connection caps per address,
//! slow clients, wrong passwords, implausible DataTime and quarantine caps.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{Client, Harness, readings, time, upload};
use jiff::{SignedDuration, Timestamp};
use oversight_store::QuarantineReason;
use tokio::io::AsyncWriteExt;

const MN: &str = "010000A8900016F000169DC0";
const OTHER_MN: &str = "010000A8900016F000169DC1";
const PW: &str = "123456";
const SECOND_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_cap_closes_excess() {
    let harness = Harness::start(|config| config.max_connections_per_address = 2, None).await;
    harness.register(MN, PW).await;
    let mut first = harness.connect().await;
    let mut second = harness.connect().await;
    first
        .send_acknowledged(MN, PW, "20260301000000000", time(0))
        .await;
    second
        .send_acknowledged(MN, PW, "20260301000000001", time(1))
        .await;

    let mut third = harness.connect().await;
    assert!(
        third.closed_within(Duration::from_secs(2)).await,
        "third connection from one address accepted"
    );
    let mut elsewhere = Client::connect_from(harness.addr, SECOND_LOOPBACK).await;
    elsewhere
        .send_acknowledged(MN, PW, "20260301000000002", time(2))
        .await;

    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = harness.connect().await;
    fourth
        .send_acknowledged(MN, PW, "20260301000000003", time(3))
        .await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_dropped_others_served() {
    let harness = Harness::start(|config| config.frame_timeout_secs = 2, None).await;
    harness.register(MN, PW).await;
    let packet = upload(MN, PW, "20260301000000000", time(0), 20.0);
    let mut slow = harness.connect().await;
    let trickle = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        for byte in packet.as_bytes() {
            if slow.stream.write_all(&[*byte]).await.is_err() {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the whole packet was sent one byte at a time without being dropped");
    });

    // A device on another connection is acknowledged at once meanwhile.
    let mut fast = harness.connect().await;
    for index in 0..5 {
        let qn = format!("2026030100000100{index}");
        let started = tokio::time::Instant::now();
        fast.send(upload(MN, PW, &qn, time(30 + index), 20.0).as_bytes())
            .await;
        fast.acks_until(&qn).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "acknowledgement took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let dropped_after = tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .expect("slow client dropped within 10 s")
        .expect("trickle task");
    assert!(
        dropped_after < Duration::from_secs(5),
        "slow client dropped only after {dropped_after:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_dropped_after_frame_timeout() {
    let harness = Harness::start(|config| config.frame_timeout_secs = 1, None).await;
    let mut client = harness.connect().await;
    assert!(
        client.closed_within(Duration::from_secs(3)).await,
        "connection without a frame still open"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_block_address() {
    let harness = Harness::start(
        |config| {
            config.auth_failures_before_block = 3;
            config.auth_block_secs = 60;
        },
        None,
    )
    .await;
    harness.register(MN, PW).await;
    let mut good_device = Client::connect_from(harness.addr, SECOND_LOOPBACK).await;
    let mut guesser = harness.connect().await;
    for index in 0..3 {
        let qn = format!("2026030100000200{index}");
        guesser
            .send(upload(MN, "000000", &qn, time(index), 20.0).as_bytes())
            .await;
    }
    assert!(
        guesser.closed_within(Duration::from_secs(3)).await,
        "connection with three wrong passwords still open"
    );
    let mut again = harness.connect().await;
    assert!(
        again.closed_within(Duration::from_secs(2)).await,
        "blocked address accepted again"
    );

    good_device
        .send_acknowledged(MN, PW, "20260301000000300", time(60))
        .await;
    let mut new_device = Client::connect_from(harness.addr, SECOND_LOOPBACK).await;
    new_device
        .send_acknowledged(MN, PW, "20260301000000301", time(90))
        .await;
    assert_eq!(readings(&*harness.store, MN).await.len(), 4);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_data_time_quarantined() {
    let harness = Harness::start(|config| config.future_tolerance_secs = 600, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    let now = Timestamp::now();
    let within = now + SignedDuration::from_mins(5);
    let beyond = now + SignedDuration::from_hours(2);
    client
        .send(upload(MN, PW, "20260301000000400", within, 20.0).as_bytes())
        .await;
    client
        .send(upload(MN, PW, "20260301000000401", beyond, 20.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000401").await;
    assert_eq!(acks.len(), 2, "both uploads acknowledged: {acks:?}");

    let stored = readings(&*harness.store, MN).await;
    assert_eq!(
        stored.len(),
        2,
        "only the upload within tolerance is stored"
    );
    assert!(stored.iter().all(|reading| reading.data_time < beyond));
    let held = harness.quarantined_uploads(MN).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].reason, QuarantineReason::FutureDataTime);
    assert_eq!(held[0].readings.len(), 2);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_data_time_rejected() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;
    client
        .send(common::invalid_date_upload(MN, PW).as_bytes())
        .await;
    client
        .send(upload(MN, PW, "20260301000000500", time(0), 20.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000500").await;
    assert_eq!(
        acks,
        ["20260301000000500"],
        "30 February is not acknowledged"
    );
    assert_eq!(readings(&*harness.store, MN).await.len(), 2);
    assert!(harness.quarantine_summaries().await.is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_caps_stop_acknowledging() {
    let harness = Harness::start(
        |config| {
            config.quarantine_max_uploads_per_mn = 2;
            config.quarantine_max_uploads = 3;
        },
        None,
    )
    .await;
    let mut client = harness.connect().await;
    for index in 0..2 {
        let qn = format!("2026030100000600{index}");
        client
            .send(upload(MN, PW, &qn, time(index), 20.0).as_bytes())
            .await;
        client.acks_until(&qn).await;
    }
    // Past the cap of the MN: not acknowledged, so the device keeps it.
    client
        .send(upload(MN, PW, "20260301000000602", time(2), 20.0).as_bytes())
        .await;
    client
        .send(upload(OTHER_MN, PW, "20260301000000603", time(3), 20.0).as_bytes())
        .await;
    let acks = client.acks_until("20260301000000603").await;
    assert_eq!(
        acks,
        ["20260301000000603"],
        "upload past the MN cap acknowledged"
    );
    // Past the total cap: three uploads are held.
    let third_mn = "010000A8900016F000169DC2";
    client
        .send(upload(third_mn, PW, "20260301000000604", time(4), 20.0).as_bytes())
        .await;
    client
        .send(upload(OTHER_MN, PW, "20260301000000605", time(5), 20.0).as_bytes())
        .await;
    assert!(
        !client.closed_within(Duration::from_millis(500)).await,
        "connection closed"
    );
    let summaries = harness.quarantine_summaries().await;
    let held: u64 = summaries.iter().map(|summary| summary.uploads).sum();
    assert_eq!(held, 3, "{summaries:?}");
    assert!(summaries.iter().all(|summary| summary.mn != third_mn));
    harness.stop().await;
}
