//! Feeds arbitrary bytes to a `Framer` in arbitrary chunks, either pushing
//! every byte or first taking the frames it can borrow from each chunk. It
//! asserts that the framer always takes bytes after draining, never buffers
//! past its bound and only returns frames whose CRC verifies, then parses
//! each segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oversight_hj212::{CrcVariant, Frame, Framer, FramerConfig, crc};

fn check_frame<B: AsRef<[u8]>>(frame: &Frame<B>, variant: CrcVariant, max_segment_len: usize) {
    assert!(frame.segment().len() <= max_segment_len);
    assert_eq!(variant.compute(frame.segment()), frame.crc());
    if variant == CrcVariant::Hj212 {
        assert_eq!(crc::hj212(frame.segment()), crc::hj212_bitwise(frame.segment()));
    }
    let text = frame.text();
    if let Ok(packet) = oversight_hj212::Packet::parse(&text) {
        for factor in packet.factors() {
            let _ = factor;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    // A small maximum reaches the too-long and full-buffer paths quickly.
    let max_segment_len = if control & 1 == 0 { 64 } else { 4096 };
    let variant = if control & 2 == 0 { CrcVariant::Hj212 } else { CrcVariant::ModbusLowByteFirst };
    let mut framer = Framer::with_config(FramerConfig { max_segment_len, crc: variant });
    let borrow = control & 0x80 != 0;
    let chunk_len = usize::from((control >> 2) & 0x1F) + 1;
    for chunk in rest.chunks(chunk_len) {
        let mut input = chunk;
        while !input.is_empty() {
            while borrow && let Some(result) = framer.next_frame_in(&mut input) {
                if let Ok(frame) = result {
                    check_frame(&frame, variant, max_segment_len);
                }
            }
            if input.is_empty() {
                break;
            }
            let taken = framer.push(input);
            assert!(taken > 0, "a drained framer takes at least one byte");
            input = &input[taken..];
            assert!(framer.buffered() <= framer.max_buffered());
            while let Some(result) = framer.next_frame() {
                if let Ok(frame) = result {
                    check_frame(&frame, variant, max_segment_len);
                }
            }
        }
    }
});
