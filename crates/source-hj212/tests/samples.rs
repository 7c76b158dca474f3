//! Every framed public sample of `data/hj212/samples-public.txt` sent over
//! TCP to a source with a real SQLite store.
//!
//! Each sample is followed on the same connection by a probe upload, so
//! the probe's acknowledgement shows that the connection survived, and the
//! acknowledgements read before it show whether the sample was acknowledged.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::{Harness, time, upload};
use jiff::Timestamp;
use oversight_core::{DataKind, Mn, Reading};
use oversight_hj212::{CHINA_STANDARD_TIME, CrcVariant, Packet, decode_frame, encode_frame};
use oversight_source_hj212::CrcSetting;
use oversight_store::Store;

const PROBE_MN: &str = "PROBE0000000001";

struct Sample {
    line: usize,
    text: String,
    outcome: String,
    crc: String,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/hj212")
}

/// Returns the framed samples (lines starting with `##`) with their
/// expected outcome and CRC variant.
fn samples() -> Vec<Sample> {
    let text =
        std::fs::read_to_string(data_dir().join("samples-public.txt")).expect("samples file");
    let lines: Vec<&str> = text.split('\n').collect();
    let expected = std::fs::read_to_string(data_dir().join("expected.tsv")).expect("expected file");
    expected
        .lines()
        .skip(1)
        .filter_map(|row| {
            let cells: Vec<&str> = row.split('\t').collect();
            let line: usize = cells[0].parse().expect("line number");
            let text = lines[line - 1];
            text.starts_with("##").then(|| Sample {
                line,
                text: text.to_owned(),
                outcome: cells[1].to_owned(),
                crc: cells[2].to_owned(),
            })
        })
        .collect()
}

fn variant(name: &str) -> Option<CrcVariant> {
    match name {
        "hj212" => Some(CrcVariant::Hj212),
        "modbus_le" => Some(CrcVariant::ModbusLowByteFirst),
        _ => None,
    }
}

/// Returns whether the source should store and acknowledge `sample`, given
/// whether Modbus-CRC devices are configured.
fn accepted(sample: &Sample, modbus_configured: bool) -> bool {
    match sample.outcome.as_str() {
        "ok" => true,
        "crc_mismatch" => modbus_configured && sample.crc == "modbus_le",
        _ => false,
    }
}

/// Decodes a sample the way the source should, or `None` when it rejects it.
fn decode(sample: &Sample) -> Option<(String, u16, String, bool, Option<String>)> {
    let bytes = format!("{}\r\n", sample.text);
    let frame = decode_frame(bytes.as_bytes(), variant(&sample.crc)?).ok()?;
    let text = frame.text();
    let packet = Packet::parse(&text).ok()?;
    Some((
        packet.mn().to_owned(),
        packet.cn(),
        packet.pw().to_owned(),
        packet.ack_requested(),
        packet.qn().map(str::to_owned),
    ))
}

async fn registered_uploads(harness: &Harness, samples: &[Sample], modbus_configured: bool) {
    harness.register(PROBE_MN, "123456").await;
    for sample in samples
        .iter()
        .filter(|sample| accepted(sample, modbus_configured))
    {
        let Some((mn, cn, pw, _, _)) = decode(sample) else {
            continue;
        };
        if DataKind::from_command(cn).is_some() && !mn.is_empty() {
            harness.register(&mn, &pw).await;
        }
    }
}

/// Sends every sample, each followed by a probe, and checks which were acknowledged.
async fn send_all(harness: &Harness, samples: &[Sample], modbus_configured: bool) {
    let mut client = harness.connect().await;
    for (index, sample) in samples.iter().enumerate() {
        client.send(format!("{}\r\n", sample.text).as_bytes()).await;
        let probe_qn = format!("2026030100{index:07}");
        let probe = upload(PROBE_MN, "123456", &probe_qn, time(index as i64), 20.0);
        client.send(probe.as_bytes()).await;
        let acks = client.acks_until(&probe_qn).await;

        let expected_ack = accepted(sample, modbus_configured)
            .then(|| decode(sample))
            .flatten()
            .filter(|(mn, cn, _, ack, qn)| {
                *ack && qn.is_some()
                    && DataKind::from_command(*cn).is_some()
                    && Mn::parse(mn).is_ok()
            })
            .and_then(|(_, _, _, _, qn)| qn);
        match expected_ack {
            Some(qn) => assert_eq!(
                acks,
                [qn, probe_qn],
                "line {}: sample acknowledged, then probe",
                sample.line
            ),
            None => assert_eq!(
                acks,
                [probe_qn],
                "line {}: only the probe acknowledged",
                sample.line
            ),
        }
    }
}

/// Returns the stored readings of `mn` keyed by (kind, factor, data time).
async fn stored(store: &dyn Store, mn: &str) -> BTreeMap<(String, String, Timestamp), Reading> {
    common::readings(store, mn)
        .await
        .into_iter()
        .map(|reading| (key(&reading), reading))
        .collect()
}

fn key(reading: &Reading) -> (String, String, Timestamp) {
    (
        reading.kind.as_str().to_owned(),
        reading.factor.to_string(),
        reading.data_time,
    )
}

/// Checks that the store contains exactly what the codec reads from the
/// accepted uploads, values and flags included. A later reading with the
/// same key replaces an earlier one, as `Store::insert_readings` documents.
async fn check_stored(harness: &Harness, samples: &[Sample], modbus_configured: bool) {
    let mut expected: BTreeMap<String, BTreeMap<(String, String, Timestamp), Reading>> =
        BTreeMap::new();
    for sample in samples
        .iter()
        .filter(|sample| accepted(sample, modbus_configured))
    {
        let bytes = format!("{}\r\n", sample.text);
        let Some(crc) = variant(&sample.crc) else {
            continue;
        };
        let frame = decode_frame(bytes.as_bytes(), crc).expect("accepted sample decodes");
        let text = frame.text();
        let packet = Packet::parse(&text).expect("accepted sample parses");
        if packet.mn().is_empty() || DataKind::from_command(packet.cn()).is_none() {
            continue;
        }
        let (readings, _) = packet.readings(Timestamp::UNIX_EPOCH, CHINA_STANDARD_TIME);
        let by_key = expected.entry(packet.mn().to_owned()).or_default();
        for reading in readings {
            by_key.insert(key(&reading), reading);
        }
    }
    assert!(
        expected.len() >= 10,
        "expected uploads from at least 10 MNs, got {}",
        expected.len()
    );
    for (mn, readings) in &expected {
        let stored = stored(&*harness.store, mn).await;
        let stored_keys: BTreeSet<_> = stored.keys().collect();
        let expected_keys: BTreeSet<_> = readings.keys().collect();
        assert_eq!(stored_keys, expected_keys, "MN {mn}: stored reading keys");
        for (key, reading) in readings {
            let actual = &stored[key];
            assert_eq!(actual.values, reading.values, "MN {mn} {key:?}: values");
            assert_eq!(actual.flag, reading.flag, "MN {mn} {key:?}: flag");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_samples_over_tcp() {
    let harness = Harness::start(|_| {}, None).await;
    let samples = samples();
    assert!(samples.len() >= 30, "framed samples: {}", samples.len());
    registered_uploads(&harness, &samples, false).await;
    send_all(&harness, &samples, false).await;
    check_stored(&harness, &samples, false).await;

    // Line 131 has an empty MN, which can never be registered, so it is
    // rejected and not acknowledged instead of quarantined.
    let quarantine = harness.quarantine_summaries().await;
    assert!(
        quarantine.iter().all(|summary| !summary.mn.is_empty()),
        "{quarantine:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modbus_crc_devices_when_configured() {
    let samples = samples();
    let modbus_mns: Vec<String> = samples
        .iter()
        .filter(|sample| sample.crc == "modbus_le")
        .filter_map(|sample| decode(sample).map(|(mn, ..)| mn))
        .collect();
    assert_eq!(modbus_mns.len(), 3, "modbus samples");
    let harness = Harness::start(
        |config| {
            for mn in &modbus_mns {
                config
                    .crc_overrides
                    .insert(mn.clone(), CrcSetting::ModbusLe);
            }
        },
        None,
    )
    .await;
    registered_uploads(&harness, &samples, true).await;
    send_all(&harness, &samples, true).await;
    check_stored(&harness, &samples, true).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_join_across_writes() {
    let harness = Harness::start(|_| {}, None).await;
    harness.register(PROBE_MN, "123456").await;
    let text =
        std::fs::read_to_string(data_dir().join("samples-public.txt")).expect("samples file");
    let lines: Vec<&str> = text.split('\n').collect();
    // Lines 129 and 130 are one packet cut by TCP inside a key. Its MN is
    // empty, which the source rejects, so the packet is framed again with a
    // registered MN and cut at the same place of the data area.
    let (first, second) = (lines[128], lines[129]);
    assert!(first.starts_with("##"), "line 129 starts the packet");
    let mn = "FRAGMENT0000001";
    harness.register(mn, "123456").await;
    let joined = format!("{first}{second}");
    let segment = &joined[6..joined.len() - 4];
    assert!(segment.contains("MN=;"), "line 129 has an empty MN");
    let frame = encode_frame(&segment.replacen("MN=;", &format!("MN={mn};"), 1))
        .expect("segment fits a frame");
    let cut = first.len() + mn.len();
    let mut client = harness.connect().await;
    client.send(&frame.as_bytes()[..cut]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.send(&frame.as_bytes()[cut..]).await;
    let probe = upload(PROBE_MN, "123456", "20260301000000001", time(0), 20.0);
    client.send(probe.as_bytes()).await;
    // The joined packet requests an acknowledgement (Flag=5) and gets it.
    let acks = client.acks_until("20260301000000001").await;
    assert_eq!(acks, ["20230201211705000", "20260301000000001"]);
    let stored = common::readings(&*harness.store, mn).await;
    assert_eq!(stored.len(), 6, "readings of the joined packet: {stored:?}");
    harness.stop().await;
}
