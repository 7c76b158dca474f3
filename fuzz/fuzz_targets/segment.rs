//! Parses arbitrary text as a data segment and exercises every accessor: the
//! data area, factors, readings, the 9014 acknowledgement and reassembly.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use oversight_hj212::{
    CHINA_STANDARD_TIME, CrcVariant, Packet, ParseOptions, Reassembler, TrailingText, ack_9014,
    decode_frame, encode_frame,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = ParseOptions { trailing_text: TrailingText::Ignore };
    let Ok(packet) = Packet::parse_with(text, &options) else {
        return;
    };
    let _ = packet.data_time(CHINA_STANDARD_TIME);
    let _ = packet.get("DataTime");
    for item in packet.cp().items().flatten() {
        assert!(packet.get(item.key).is_some());
    }
    for factor in packet.factors().flatten() {
        let _ = factor.suffixes().count();
        let _ = factor.get("Rtd");
    }
    let received_at = jiff::Timestamp::UNIX_EPOCH;
    let (readings, _) = packet.readings(received_at, CHINA_STANDARD_TIME);
    assert!(readings.len() <= packet.factors().count());

    // The acknowledgement of any packet is a frame this codec reads back.
    let ack = ack_9014(&packet);
    let frame = decode_frame(ack.as_bytes(), CrcVariant::Hj212).expect("own ack verifies");
    let parsed = frame.parse().expect("own ack parses");
    assert_eq!(parsed.cn(), 9014);
    assert_eq!(parsed.qn(), packet.qn());
    assert_eq!(parsed.mn(), packet.mn());

    // Any parsed segment framed by the encoder decodes to the same segment.
    if let Ok(framed) = encode_frame(text) {
        let frame = decode_frame(framed.as_bytes(), CrcVariant::Hj212).expect("own frame verifies");
        assert_eq!(frame.segment(), text.as_bytes());
    }

    let mut reassembler = Reassembler::default();
    if let Ok(oversight_hj212::Inserted::Complete(set)) = reassembler.insert(&packet, Instant::now()) {
        let _ = set.segment();
    }
});
