//! The source's Prometheus metrics, read through the exporter the server
//! uses. A test binary of its own, because the recorder is process-global.

mod common;

use common::{Harness, invalid_date_upload, time, upload};
use metrics_exporter_prometheus::PrometheusBuilder;

const MN: &str = "010000A8900016F000169DC0";
const PW: &str = "123456";

/// Returns the value of the sample line that starts with `series`.
fn sample(rendered: &str, series: &str) -> Option<f64> {
    rendered
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_traffic() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("recorder installs");
    let harness = Harness::start(|_| {}, None).await;
    harness.register(MN, PW).await;
    let mut client = harness.connect().await;

    let good = upload(MN, PW, "20260301000000001", time(0), 20.0);
    let bad_crc = format!("{}0000\r\n", &good[..good.len() - 6]);
    client.send(bad_crc.as_bytes()).await;
    client
        .send(upload(MN, "999999", "20260301000000002", time(30), 20.0).as_bytes())
        .await;
    client.send(invalid_date_upload(MN, PW).as_bytes()).await;
    client.send(good.as_bytes()).await;
    client.acks_until("20260301000000001").await;

    // The counter is bumped after the write returns, which can be after the
    // client read the acknowledgement.
    let mut rendered = handle.render();
    for _ in 0..100 {
        if sample(&rendered, "oversight_hj212_acknowledged_total").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        rendered = handle.render();
    }
    let rejected = "oversight_hj212_frames_rejected_total";
    assert_eq!(
        sample(&rendered, &format!("{rejected}{{reason=\"crc_mismatch\"}}")),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        sample(
            &rendered,
            &format!("{rejected}{{reason=\"wrong_password\"}}")
        ),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        sample(&rendered, &format!("{rejected}{{reason=\"invalid_time\"}}")),
        Some(1.0),
        "an impossible DataTime is rejected and counted: {rendered}"
    );
    assert_eq!(
        sample(&rendered, "oversight_hj212_frames_received_total"),
        Some(3.0),
        "{rendered}"
    );
    assert_eq!(
        sample(&rendered, "oversight_hj212_acknowledged_total"),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        sample(&rendered, "oversight_hj212_readings_stored_total"),
        Some(2.0),
        "{rendered}"
    );
    assert_eq!(
        sample(&rendered, "oversight_hj212_connections"),
        Some(1.0),
        "{rendered}"
    );

    drop(client);
    harness.stop().await;
    let rendered = handle.render();
    assert_eq!(
        sample(&rendered, "oversight_hj212_connections"),
        Some(0.0),
        "{rendered}"
    );
}
