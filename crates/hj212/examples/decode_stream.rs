//! Decodes the valid public samples, concatenated into a 1 MiB stream, a given
//! number of times, and prints the wall time. Run it under
//! `perf stat -e task-clock` to get the CPU time of the decoding alone, which a
//! shared machine distorts less than wall time.
//!
//! Usage: `decode_stream STAGE PASSES`, where STAGE is `frame` (framing and
//! CRC), `parse` (also the data segment) or `decode` (also DataTime and every
//! factor's values).

use std::path::PathBuf;
use std::time::Instant;

use oversight_hj212::{CHINA_STANDARD_TIME, CrcVariant, Frame, Framer, decode_frame};

fn main() {
    let mut arguments = std::env::args().skip(1);
    let stage = arguments.next().unwrap_or_else(|| "decode".to_owned());
    let passes: usize = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);

    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/hj212/samples-public.txt");
    let text = std::fs::read_to_string(&path).expect("data/hj212/samples-public.txt is readable");
    let packets: Vec<Vec<u8>> = text
        .lines()
        .filter(|line| line.starts_with("##"))
        .map(|line| format!("{line}\r\n").into_bytes())
        .filter(|packet| decode_frame(packet, CrcVariant::Hj212).is_ok_and(|f| f.parse().is_ok()))
        .collect();
    let mut stream = Vec::new();
    let mut count = 0;
    while stream.len() < 1 << 20 {
        for packet in &packets {
            stream.extend_from_slice(packet);
            count += 1;
        }
    }

    let start = Instant::now();
    let mut checksum = 0.0;
    for _ in 0..passes {
        checksum += run(&stream, &stage);
    }
    let elapsed = start.elapsed();
    let line = format!(
        "{stage}: {passes} passes over {} bytes ({count} packets) in {elapsed:?}, checksum {checksum}",
        stream.len()
    );
    std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes())
        .expect("stderr is writable");
}

fn run(stream: &[u8], stage: &str) -> f64 {
    let mut framer = Framer::new();
    let mut checksum = 0.0;
    let mut input = stream;
    while !input.is_empty() {
        // Frames that lie whole in the input are borrowed from it. Only a
        // frame that the end of the input cuts is copied into the buffer.
        while let Some(result) = framer.next_frame_in(&mut input) {
            if let Ok(frame) = result {
                checksum += decode(&frame, stage);
            }
        }
        let taken = framer.push(input);
        input = &input[taken..];
        while let Some(result) = framer.next_frame() {
            if let Ok(frame) = result {
                checksum += decode(&frame, stage);
            }
        }
    }
    checksum
}

/// Takes one frame as far as `stage` and returns its share of the checksum.
fn decode<B: AsRef<[u8]>>(frame: &Frame<B>, stage: &str) -> f64 {
    if stage == "frame" {
        return f64::from(frame.crc());
    }
    let Ok(packet) = frame.parse() else {
        return 0.0;
    };
    if stage == "parse" {
        return f64::from(packet.cn());
    }
    let mut checksum = 0.0;
    if let Ok(Some(time)) = packet.data_time(CHINA_STANDARD_TIME) {
        checksum += time.as_second() as f64;
    }
    for factor in packet.factors().flatten() {
        checksum += factor.values().primary().unwrap_or(0.0);
    }
    checksum
}
