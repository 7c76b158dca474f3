//! Codec throughput on one core: framing, CRC, parsing and factor decoding of
//! the valid public samples, and the CRC alone.
//!
//! Run with `cargo bench -p oversight-hj212 --bench codec`. The stream is every
//! sample line of `data/hj212/samples-public.txt` that verifies under the HJ 212
//! CRC, each with CR LF, repeated until the stream contains at least 1 MiB.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oversight_hj212::{CHINA_STANDARD_TIME, CrcVariant, Frame, Framer, crc, decode_frame};

/// The smallest stream size; large enough that per-iteration overhead vanishes.
const STREAM_BYTES: usize = 1 << 20;

fn valid_packets() -> Vec<Vec<u8>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/hj212/samples-public.txt");
    let text = std::fs::read_to_string(&path).expect("data/hj212/samples-public.txt is readable");
    text.lines()
        .filter(|line| line.starts_with("##"))
        .map(|line| format!("{line}\r\n").into_bytes())
        .filter(|packet| decode_frame(packet, CrcVariant::Hj212).is_ok_and(|f| f.parse().is_ok()))
        .collect()
}

fn stream(packets: &[Vec<u8>]) -> (Vec<u8>, usize) {
    let mut stream = Vec::with_capacity(STREAM_BYTES + 4096);
    let mut count = 0;
    while stream.len() < STREAM_BYTES {
        for packet in packets {
            stream.extend_from_slice(packet);
            count += 1;
        }
    }
    (stream, count)
}

/// How far [`run_stream`] takes each packet.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Framing and CRC only.
    Frame,
    /// Framing, CRC and data segment parsing.
    Parse,
    /// Everything: also `DataTime` and every factor's values.
    Decode,
}

/// Frames, verifies, parses and decodes every factor; returns a checksum so
/// nothing is optimised away.
fn decode_stream(stream: &[u8]) -> (usize, f64) {
    run_stream(stream, Stage::Decode)
}

fn run_stream(stream: &[u8], stage: Stage) -> (usize, f64) {
    let mut framer = Framer::new();
    let mut packets = 0;
    let mut sum = 0.0;
    let mut input = stream;
    while !input.is_empty() {
        // Whole frames are borrowed from the input, as a receiver does with
        // the frames of one read. A frame that the end cuts goes through the
        // buffer.
        while let Some(result) = framer.next_frame_in(&mut input) {
            let Ok(frame) = result else { continue };
            if let Some(share) = decode(&frame, stage) {
                sum += share;
                packets += 1;
            }
        }
        let taken = framer.push(input);
        input = &input[taken..];
        while let Some(result) = framer.next_frame() {
            let Ok(frame) = result else { continue };
            if let Some(share) = decode(&frame, stage) {
                sum += share;
                packets += 1;
            }
        }
    }
    (packets, sum)
}

/// Takes one frame as far as `stage` and returns its share of the checksum,
/// or `None` if its segment does not parse.
fn decode<B: AsRef<[u8]>>(frame: &Frame<B>, stage: Stage) -> Option<f64> {
    if stage == Stage::Frame {
        return Some(f64::from(frame.crc()));
    }
    let packet = frame.parse().ok()?;
    if stage == Stage::Parse {
        return Some(f64::from(packet.cn()));
    }
    let mut sum = 0.0;
    if let Ok(Some(time)) = packet.data_time(CHINA_STANDARD_TIME) {
        sum += time.as_second() as f64;
    }
    for factor in packet.factors().flatten() {
        sum += factor.values().primary().unwrap_or(0.0);
    }
    Some(sum)
}

fn bench_decode(c: &mut Criterion) {
    let packets = valid_packets();
    assert_eq!(packets.len(), 22, "the valid, parseable sample packets");
    let (stream, count) = stream(&packets);
    let (decoded, _) = decode_stream(&stream);
    assert_eq!(decoded, count, "every packet of the stream decodes");

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("bytes", |b| b.iter(|| decode_stream(black_box(&stream))));
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("packets", |b| b.iter(|| decode_stream(black_box(&stream))));
    group.finish();

    let mut stages = c.benchmark_group("stage");
    stages.throughput(Throughput::Bytes(stream.len() as u64));
    stages.bench_function("frame", |b| {
        b.iter(|| run_stream(black_box(&stream), Stage::Frame));
    });
    stages.bench_function("parse", |b| {
        b.iter(|| run_stream(black_box(&stream), Stage::Parse));
    });
    stages.finish();
}

fn bench_crc(c: &mut Criterion) {
    let packets = valid_packets();
    let (stream, _) = stream(&packets);
    let mut group = c.benchmark_group("crc");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("hj212_folded", |b| {
        b.iter(|| crc::hj212(black_box(&stream)));
    });
    group.bench_function("hj212_bitwise", |b| {
        b.iter(|| crc::hj212_bitwise(black_box(&stream)));
    });
    group.bench_function("modbus", |b| b.iter(|| crc::modbus(black_box(&stream))));
    // Packets are short, so the per-call cost matters as much as the per-byte cost.
    let segment = &packets[0][6..packets[0].len() - 6];
    group.throughput(Throughput::Bytes(segment.len() as u64));
    group.bench_function("hj212_one_segment", |b| {
        b.iter(|| crc::hj212(black_box(segment)));
    });
    group.finish();
}

criterion_group!(benches, bench_decode, bench_crc);
criterion_main!(benches);
