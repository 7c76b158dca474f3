//! HJ 212 codec: framing, CRC, data segment parsing and encoding, without I/O.
//!
//! HJ 212 (HJ/T 212-2005, HJ 212-2017, HJ 212-2025) is the protocol Chinese
//! environmental dataloggers use to upload monitoring data. A packet is
//! `##` + 4-digit segment length + data segment + 4 hex CRC digits + CR LF, and
//! the data segment is `QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&`.
//!
//! # API
//!
//! | step | items |
//! |---|---|
//! | CRC | [`crc::hj212`] (Appendix A), [`crc::modbus`], [`CrcVariant`] |
//! | framing a stream | [`Framer`] (`push`, then `next_frame` until `None`; or `next_frame_in` to borrow whole frames from the input), [`FramerConfig`], [`Frame`], [`FrameError`] (with [`FrameError::reason`] for metric labels), [`UnverifiedFrame::verify`] to recheck a CRC mismatch under another variant |
//! | one complete frame | [`decode_frame`] |
//! | data segment | [`Packet::parse`] → `qn`, `st`, `cn`, `pw`, `mn`, [`Flag`] (`ack_requested`, `has_parts`, `version`), `pnum`, `pno`, [`DataArea`] |
//! | data area | [`DataArea::get`], [`DataArea::items`], [`DataArea::data_time`], [`DataArea::factors`] yielding [`Factor`] (code, [`FactorValues`](oversight_core::FactorValues), [`DataFlag`](oversight_core::DataFlag)) or a [`FieldError`] for that factor |
//! | readings | [`Packet::readings`] for uploads 2011, 2051, 2061, 2031 |
//! | encoding | [`encode_frame`], [`SegmentBuilder`], [`ack_9014`] |
//! | split uploads | [`Reassembler`] merging parts by (MN, CN, DataTime) |
//!
//! Typical receive loop of one connection:
//!
//! ```
//! use jiff::Timestamp;
//! use oversight_hj212::{CHINA_STANDARD_TIME, Framer, ack_9014};
//!
//! let mut framer = Framer::new();
//! let input = b"##0125QN=20160801085857223;ST=32;CN=2011;PW=123456;\
//! MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085800;w01018-Rtd=2.2&&2D00\r\n";
//! let taken = framer.push(input);
//! assert_eq!(taken, input.len());
//! while let Some(result) = framer.next_frame() {
//!     let frame = result.expect("the sample packet verifies");
//!     let packet = frame.parse().expect("the sample segment parses");
//!     let (readings, errors) = packet.readings(Timestamp::UNIX_EPOCH, CHINA_STANDARD_TIME);
//!     assert_eq!(readings.len(), 1);
//!     assert!(errors.is_empty());
//!     if packet.ack_requested() {
//!         let ack = ack_9014(&packet);
//!         assert!(ack.contains("CN=9014"));
//!     }
//! }
//! ```
//!
//! Every parser here takes untrusted bytes: none panics on any input, and
//! each error names the value and the rule it broke.

pub mod crc;
mod data;
mod encode;
mod frame;
mod number;
mod packet;
mod readings;
mod scan;
mod split;
mod time;

pub use crc::CrcVariant;
pub use data::{CHINA_STANDARD_TIME, DataArea, Factor, Factors, FieldError, Item, Items};
pub use encode::{
    EncodeError, SegmentBuilder, ack_9014, ack_9014_with, encode_frame, encode_frame_with,
    write_frame,
};
pub use frame::{
    DEFAULT_MAX_SEGMENT_LEN, Frame, FrameError, Framer, FramerConfig, MAX_SEGMENT_LEN, Trailer,
    UnverifiedFrame, decode_frame,
};
pub use number::parse_number;
pub use packet::{Flag, Packet, ParseError, ParseOptions, TrailingText, Version};
pub use split::{Inserted, Part, PartKey, Reassembled, Reassembler, ReassemblerConfig, SplitError};
pub use time::parse_time;
