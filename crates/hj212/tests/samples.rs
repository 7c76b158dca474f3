//! The codec against the public samples in `data/hj212`, whose expected
//! outcomes (`expected.tsv`) were computed by an independent implementation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use oversight_core::{DataFlag, DataKind};
use oversight_hj212::{
    CHINA_STANDARD_TIME, CrcVariant, Frame, FrameError, Framer, Packet, Version, crc, decode_frame,
    encode_frame,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Expected {
    line: usize,
    outcome: String,
    crc: String,
    mn: String,
    cn: String,
    factors: String,
    readings: String,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/hj212")
}

/// Returns the message lines of the samples file by line number (from 1).
fn sample_lines() -> BTreeMap<usize, String> {
    let text = std::fs::read_to_string(data_dir().join("samples-public.txt"))
        .expect("data/hj212/samples-public.txt is readable UTF-8");
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with("# "))
        .map(|(index, line)| (index + 1, line.to_owned()))
        .collect()
}

fn expected_rows() -> Vec<Expected> {
    let text = std::fs::read_to_string(data_dir().join("expected.tsv"))
        .expect("data/hj212/expected.tsv is readable");
    text.lines()
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row.split('\t').collect();
            assert_eq!(cells.len(), 7, "row {row:?}");
            Expected {
                line: cells[0].parse().expect("line column is a number"),
                outcome: cells[1].to_owned(),
                crc: cells[2].to_owned(),
                mn: cells[3].to_owned(),
                cn: cells[4].to_owned(),
                factors: cells[5].to_owned(),
                readings: cells[6].to_owned(),
            }
        })
        .collect()
}

fn with_crlf(line: &str) -> Vec<u8> {
    let mut bytes = line.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    bytes
}

fn received_at() -> Timestamp {
    "2024-06-01T00:00:00Z".parse().expect("valid timestamp")
}

/// Checks MN, CN, factor and reading counts of a parsed packet against a row.
fn check_counts(packet: &Packet<'_>, row: &Expected) {
    let line = row.line;
    assert_eq!(packet.mn(), row.mn, "line {line}: MN");
    assert_eq!(packet.cn().to_string(), row.cn, "line {line}: CN");
    assert_eq!(
        packet.factors().count().to_string(),
        row.factors,
        "line {line}: factors"
    );
    let (readings, _) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert_eq!(
        readings.len().to_string(),
        row.readings,
        "line {line}: readings"
    );
}

fn frame_outcome(result: &Result<Frame, FrameError>) -> String {
    match result {
        Ok(frame) => match frame.parse() {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.reason().to_owned(),
        },
        Err(error) => error.reason().to_owned(),
    }
}

#[test]
fn expected_covers_every_message_line() {
    let lines = sample_lines();
    let rows = expected_rows();
    let listed: Vec<usize> = rows.iter().map(|row| row.line).collect();
    let messages: Vec<usize> = lines.keys().copied().collect();
    assert_eq!(listed, messages);
    assert_eq!(rows.len(), 105);
}

#[test]
fn framed_samples_give_expected_outcome() {
    let lines = sample_lines();
    let framed = expected_rows()
        .into_iter()
        .filter(|row| row.outcome != "segment" && row.outcome != "fragment");
    let mut checked = 0;
    for row in framed {
        let result = decode_frame(&with_crlf(&lines[&row.line]), CrcVariant::Hj212);
        assert_eq!(frame_outcome(&result), row.outcome, "line {}", row.line);
        if row.outcome == "ok" {
            let frame = result.expect("outcome ok means the frame verified");
            check_counts(&frame.parse().expect("outcome ok means it parses"), &row);
        }
        checked += 1;
    }
    assert_eq!(checked, 35);
}

#[test]
fn modbus_samples_verify_only_as_modbus() {
    let lines = sample_lines();
    let rows: Vec<Expected> = expected_rows()
        .into_iter()
        .filter(|row| row.crc == "modbus_le")
        .collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let bytes = with_crlf(&lines[&row.line]);
        let error = decode_frame(&bytes, CrcVariant::Hj212).expect_err("HJ 212 CRC must fail");
        assert_eq!(error.reason(), "crc_mismatch", "line {}", row.line);
        let FrameError::CrcMismatch { frame, .. } = error else {
            panic!("line {}: expected a CRC mismatch", row.line);
        };
        let frame = frame
            .verify(CrcVariant::ModbusLowByteFirst)
            .expect("Modbus CRC verifies");
        check_counts(&frame.parse().expect("segment parses"), &row);
        let direct = decode_frame(&bytes, CrcVariant::ModbusLowByteFirst).expect("verifies");
        assert_eq!(direct.crc_variant(), CrcVariant::ModbusLowByteFirst);
    }
}

#[test]
fn segments_framed_by_encoder_parse() {
    let lines = sample_lines();
    let rows: Vec<Expected> = expected_rows()
        .into_iter()
        .filter(|row| row.outcome == "segment")
        .collect();
    assert_eq!(rows.len(), 68);
    for row in rows {
        let framed = encode_frame(&lines[&row.line]).expect("segment fits a frame");
        let frame = decode_frame(framed.as_bytes(), CrcVariant::Hj212).expect("own frame verifies");
        assert_eq!(
            frame.segment(),
            lines[&row.line].as_bytes(),
            "line {}",
            row.line
        );
        check_counts(&frame.parse().expect("segment parses"), &row);
    }
}

#[test]
fn appendix_c40_chinese_log_crc_over_utf8() {
    let lines = sample_lines();
    let segment = &lines[&35];
    assert!(segment.contains("i11001-Info=//清洗管路//"));
    assert_eq!(segment.chars().count(), 144);
    assert_eq!(segment.len(), 152);
    assert_eq!(crc::hj212(segment.as_bytes()), 0x9741);
    let framed = encode_frame(segment).expect("segment fits a frame");
    assert!(framed.starts_with("##0152QN="), "{framed}");
    assert!(framed.ends_with("&&9741\r\n"), "{framed}");
    let frame = decode_frame(framed.as_bytes(), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.get("i11001-Info"), Some("//清洗管路//"));
    assert_eq!(packet.get("PolId"), Some("w01018"));
}

#[test]
fn appendix_a_packet_values() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&9]), CrcVariant::Hj212).expect("verifies");
    assert_eq!(frame.crc(), 0x1C80);
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.qn(), Some("20160801085857223"));
    assert_eq!(packet.st(), "32");
    assert_eq!(packet.cn(), 1062);
    assert_eq!(packet.pw(), "100000");
    let flag = packet.flag().expect("Flag=5");
    assert_eq!(flag.bits(), 5);
    assert!(flag.ack_requested());
    assert!(!flag.has_parts());
    assert_eq!(flag.version(), Version::V2017);
    assert_eq!(packet.get("RtdInterval"), Some("30"));
}

#[test]
fn xiaoyao_2005_packet_values() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&43]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.qn(), None);
    assert_eq!(packet.flag(), None);
    assert_eq!(packet.version(), Version::V2005);
    assert!(!packet.ack_requested());
    let data_time = packet
        .data_time(CHINA_STANDARD_TIME)
        .expect("valid")
        .expect("present");
    assert_eq!(data_time.to_string(), "2016-08-23T16:38:17Z");
    let factors: Vec<_> = packet
        .factors()
        .map(|factor| factor.expect("valid"))
        .collect();
    assert_eq!(factors[0].code(), "B01");
    assert_eq!(factors[0].values().rtd, Some(36.91));
    assert_eq!(factors[0].flag(), None);
    assert_eq!(factors[1].code(), "011");
    assert_eq!(factors[1].values().rtd, Some(231.0));
    assert_eq!(factors[1].flag(), Some(DataFlag::NORMAL));
    assert_eq!(factors[2].code(), "060");
    assert_eq!(factors[2].values().rtd, Some(1.803));
}

#[test]
fn lowercase_crc_sample_verifies() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&44]), CrcVariant::Hj212).expect("verifies");
    assert_eq!(frame.crc(), 0x1DC0);
    assert_eq!(frame.parse().expect("parses").pw(), "000000");
}

#[test]
fn air_quality_realtime_values() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&59]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.version(), Version::V2017);
    assert!(!packet.ack_requested());
    let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(readings.len(), 7);
    let no2 = readings
        .iter()
        .find(|r| r.factor.as_str() == "a21004")
        .expect("a21004");
    assert_eq!(no2.values.rtd, Some(0.0));
    let o3 = readings
        .iter()
        .find(|r| r.factor.as_str() == "a21002")
        .expect("a21002");
    assert_eq!(o3.values.rtd, Some(49.2));
    assert_eq!(o3.flag, Some(DataFlag::NORMAL));
    assert_eq!(o3.kind, DataKind::Realtime);
    assert_eq!(o3.mn.as_str(), "Y80110010000010");
    assert_eq!(o3.data_time.to_string(), "2019-10-12T05:37:10Z");
    assert_eq!(o3.received_at, received_at());
}

#[test]
fn minute_data_averages() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&71]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        readings
            .iter()
            .all(|reading| reading.kind == DataKind::Minute)
    );
    let pm25 = readings
        .iter()
        .find(|r| r.factor.as_str() == "a34004")
        .expect("a34004");
    assert_eq!(pm25.values.avg, Some(14.0));
    assert_eq!(pm25.values.rtd, None);
    let co = readings
        .iter()
        .find(|r| r.factor.as_str() == "a21005")
        .expect("a21005");
    assert_eq!(co.values.avg, Some(0.427));
}

#[test]
fn flag_8_packet_is_version_2025() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&75]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.version(), Version::V2025);
    assert!(!packet.ack_requested());
    let ammonia = packet
        .factors()
        .map(|factor| factor.expect("valid"))
        .find(|factor| factor.code() == "w21003")
        .expect("w21003");
    assert_eq!(ammonia.values().rtd, Some(0.09055002));
}

#[test]
fn hourly_data_with_token_password() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&87]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.pw(), "BF470F88957588DE902D1A52");
    assert!(packet.ack_requested());
    let (readings, _) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert!(
        readings
            .iter()
            .all(|reading| reading.kind == DataKind::Hour)
    );
    let pm = readings
        .iter()
        .find(|r| r.factor.as_str() == "a34049")
        .expect("a34049");
    assert_eq!(pm.values.avg, Some(10.663));
}

#[test]
fn live_log_three_digit_codes() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&92]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert!(errors.is_empty(), "{errors:?}");
    let first = &readings[0];
    assert_eq!(first.factor.as_str(), "831");
    assert_eq!(first.values.rtd, Some(3.128));
    assert_eq!(first.flag, Some(DataFlag::NORMAL));
}

#[test]
fn bare_flag_item_is_not_a_factor() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&102]), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.get("Flag"), Some("N"));
    let (readings, _) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].values.rtd, Some(92.0));
    assert_eq!(readings[0].flag, None);
}

#[test]
fn flag_after_data_area_rejected_or_ignored() {
    let lines = sample_lines();
    let frame = decode_frame(&with_crlf(&lines[&120]), CrcVariant::Hj212).expect("verifies");
    let error = frame
        .parse()
        .expect_err("trailing text is rejected by default");
    assert_eq!(error.reason(), "trailing_text");
    assert!(error.to_string().contains(";Flag=0"), "{error}");
    let options = oversight_hj212::ParseOptions {
        trailing_text: oversight_hj212::TrailingText::Ignore,
    };
    let packet = frame
        .parse_with(&options)
        .expect("parses when trailing text is ignored");
    assert_eq!(packet.trailing_text(), ";Flag=0");
    assert_eq!(packet.flag(), None);
    assert_eq!(packet.get("PolId"), Some("w01018"));
}

#[test]
fn reassembled_fragments_parse() {
    let lines = sample_lines();
    let mut joined = lines[&129].clone();
    joined.push_str(&lines[&130]);
    assert_eq!(joined, lines[&131]);
    let frame = decode_frame(&with_crlf(&joined), CrcVariant::Hj212).expect("verifies");
    let packet = frame.parse().expect("parses");
    assert_eq!(packet.mn(), "");
    let pm10 = packet
        .factors()
        .map(|factor| factor.expect("valid"))
        .find(|factor| factor.code() == "a34002")
        .expect("a34002 is read whole, not as 'td'");
    assert_eq!(pm10.values().rtd, Some(16.0));
    let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
    assert!(readings.is_empty());
    assert_eq!(errors[0].reason(), "invalid_mn");
}

/// Builds the stream of every framed line in file order, each followed by CR LF,
/// with the two TCP fragments joined into the packet they came from.
fn framed_stream() -> (Vec<u8>, Vec<String>) {
    let lines = sample_lines();
    let mut stream = Vec::new();
    let mut outcomes = Vec::new();
    for row in expected_rows() {
        match row.outcome.as_str() {
            "segment" => continue,
            "fragment" => {
                stream.extend_from_slice(lines[&row.line].as_bytes());
                if row.line == 130 {
                    stream.extend_from_slice(b"\r\n");
                    outcomes.push("ok".to_owned());
                }
            }
            _ => {
                stream.extend_from_slice(&with_crlf(&lines[&row.line]));
                // Parse errors come after framing; the framer yields the frame.
                let framed = if row.outcome == "trailing_text" {
                    "ok"
                } else {
                    &row.outcome
                };
                outcomes.push(framed.to_owned());
            }
        }
    }
    (stream, outcomes)
}

fn frame_stream(chunks: &[&[u8]]) -> Vec<Result<Frame, FrameError>> {
    let mut framer = Framer::new();
    let mut results = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        while !input.is_empty() {
            let taken = framer.push(input);
            input = &input[taken..];
            while let Some(result) = framer.next_frame() {
                results.push(result);
            }
        }
        assert!(framer.buffered() <= framer.max_buffered());
    }
    results
}

/// Frames each chunk as a receiver does with the bytes of one read: whole
/// frames are borrowed from the chunk and the rest goes through the buffer.
/// Borrowed frames are copied only to compare them with owned ones.
fn frame_stream_borrowed(chunks: &[&[u8]]) -> Vec<Result<Frame, FrameError>> {
    let mut framer = Framer::new();
    let mut results = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        while !input.is_empty() {
            while let Some(result) = framer.next_frame_in(&mut input) {
                results.push(result.map(|frame| frame.to_owned_frame()));
            }
            let taken = framer.push(input);
            input = &input[taken..];
            while let Some(result) = framer.next_frame() {
                results.push(result);
            }
        }
        assert!(framer.buffered() <= framer.max_buffered());
    }
    results
}

/// Splits `stream` at the given cut points.
fn chunks_at(stream: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut offsets: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len())).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for offset in offsets {
        chunks.push(stream[start..offset].to_vec());
        start = offset;
    }
    chunks.push(stream[start..].to_vec());
    chunks
}

fn framer_reason(result: &Result<Frame, FrameError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.reason().to_owned(),
    }
}

#[test]
fn whole_file_stream_gives_one_outcome_per_packet() {
    let (stream, expected) = framed_stream();
    let results = frame_stream(&[&stream]);
    let reasons: Vec<String> = results.iter().map(framer_reason).collect();
    assert_eq!(reasons, expected);
}

#[test]
fn borrowed_frames_match_buffered_frames() {
    let (stream, _) = framed_stream();
    let buffered = frame_stream(&[&stream]);
    let borrowed = frame_stream_borrowed(&[&stream]);
    assert_eq!(borrowed, buffered);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stream_resplit_gives_same_frames(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let (stream, _) = framed_stream();
        let whole = frame_stream(&[&stream]);
        let chunks = chunks_at(&stream, &cuts);
        let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let split = frame_stream(&chunks);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn borrowed_framing_gives_same_frames(
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
        garbage in proptest::collection::vec(prop_oneof![Just(b'#'), Just(b'0'), Just(b'\n'), any::<u8>()], 0..20),
        garbage_at in any::<prop::sample::Index>(),
    ) {
        // Garbage in the middle of the stream reaches the skip and
        // length-mismatch paths as well as whole frames.
        let (mut stream, _) = framed_stream();
        let at = garbage_at.index(stream.len());
        stream.splice(at..at, garbage);
        let whole = frame_stream(&[&stream]);
        let chunks = chunks_at(&stream, &cuts);
        let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(frame_stream_borrowed(&chunks), whole);
    }
}
