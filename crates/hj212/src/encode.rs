//! Encoding: frames (`##`, length, segment, CRC, CR LF), data segments and the
//! 9014 acknowledgement.
//!
//! The CRC is always written as four upper-case hex digits, zero-padded, and
//! `Flag` always comes before `PNUM`, `PNO` and `CP`, because encoders that got
//! either wrong produced packets that platforms reject.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::Offset;
use oversight_core::{DataFlag, FactorValues};

use crate::crc::CrcVariant;
use crate::frame::MAX_SEGMENT_LEN;
use crate::packet::{Flag, Packet, Version, excerpt};

/// An error from encoding a segment or frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// The segment does not fit the 4-digit length field.
    #[error(
        "data segment of {len} bytes exceeds the {max} bytes a 4-digit length can declare; \
         split it into parts with PNUM and PNO"
    )]
    SegmentTooLong {
        /// The segment's length in bytes.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A key is empty or contains a separator.
    #[error("invalid key {key:?}: keys must be non-empty without ';', ',', '=', '&' or spaces")]
    InvalidKey {
        /// The key, shortened.
        key: String,
    },
    /// A value contains a separator or a line break.
    #[error(
        "invalid value {value:?} for {key}: values must not contain ';', ',', '&' or line \
         breaks, unless wrapped in '//…//' as log text without '//' and '&&' inside"
    )]
    InvalidValue {
        /// The key the value belongs to.
        key: String,
        /// The value, shortened.
        value: String,
    },
    /// A number is infinite or NaN.
    #[error("value of {key} is {value}, but HJ 212 numbers must be finite")]
    NonFiniteNumber {
        /// The key the value belongs to.
        key: String,
        /// The number.
        value: f64,
    },
}

/// Encodes a data segment into a frame with the HJ 212 CRC.
pub fn encode_frame(segment: &str) -> Result<String, EncodeError> {
    encode_frame_with(segment, CrcVariant::Hj212)
}

/// Encodes a data segment into a frame with the given CRC variant.
pub fn encode_frame_with(segment: &str, variant: CrcVariant) -> Result<String, EncodeError> {
    let mut frame = String::with_capacity(segment.len() + 12);
    write_frame(segment, variant, &mut frame)?;
    Ok(frame)
}

/// Appends the frame of `segment` to `out`.
pub fn write_frame(
    segment: &str,
    variant: CrcVariant,
    out: &mut String,
) -> Result<(), EncodeError> {
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(EncodeError::SegmentTooLong {
            len: segment.len(),
            max: MAX_SEGMENT_LEN,
        });
    }
    let crc = variant.compute(segment.as_bytes());
    // Writing to a String cannot fail.
    let _ = write!(out, "##{:04}{segment}{crc:04X}\r\n", segment.len());
    Ok(())
}

/// Encodes the 9014 acknowledgement of `packet` with the HJ 212 CRC.
///
/// It echoes QN, PW and MN, with `ST=91`, `CN=9014`, `CP=&&&&` and a flag of
/// the packet's version without A and D: `Flag=4` for 2017 and 2005 devices,
/// `Flag=8` for 2025 devices.
pub fn ack_9014(packet: &Packet<'_>) -> String {
    ack_9014_with(packet, CrcVariant::Hj212)
}

/// Encodes the 9014 acknowledgement of `packet` with the given CRC variant.
pub fn ack_9014_with(packet: &Packet<'_>, variant: CrcVariant) -> String {
    let version = match packet.version() {
        Version::V2025 => Version::V2025,
        _ => Version::V2017,
    };
    let mut segment = String::with_capacity(96);
    if let Some(qn) = packet.qn() {
        let _ = write!(segment, "QN={qn};");
    }
    let _ = write!(
        segment,
        "ST=91;CN=9014;PW={};MN={};Flag={};CP=&&&&",
        packet.pw(),
        packet.mn(),
        Flag::new(version, false, false).bits()
    );
    let mut frame = String::with_capacity(segment.len() + 12);
    // The segment contains the packet's own short header fields, which were read
    // from a segment of at most 9999 bytes, so it is shorter than that too.
    write_frame(&segment, variant, &mut frame)
        .expect("an acknowledgement segment is far shorter than 9999 bytes");
    frame
}

/// A builder of data segments, used by simulators and tests.
///
/// ```
/// use oversight_core::{DataFlag, FactorValues};
/// use oversight_hj212::{Flag, SegmentBuilder, Version, encode_frame};
///
/// let values = FactorValues { rtd: Some(2.2), ..FactorValues::default() };
/// let segment = SegmentBuilder::new("32", 2011, "123456", "010000A8900016F000169DC0")
///     .qn("20160801085857223")
///     .flag(Flag::new(Version::V2017, false, true))
///     .item("DataTime", "20160801085800")
///     .factor("w01018", &values, Some(DataFlag::NORMAL))
///     .build()
///     .unwrap();
/// assert_eq!(
///     segment,
///     "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;\
///      Flag=5;CP=&&DataTime=20160801085800;w01018-Rtd=2.2,w01018-Flag=N&&"
/// );
/// assert!(encode_frame(&segment).unwrap().starts_with("##0139QN="));
/// ```
#[derive(Debug, Clone)]
pub struct SegmentBuilder {
    qn: Option<String>,
    st: String,
    cn: u16,
    pw: String,
    mn: String,
    flag: Option<Flag>,
    parts: Option<(u16, u16)>,
    data_area: String,
    error: Option<EncodeError>,
}

impl SegmentBuilder {
    /// Starts a segment with the fields every packet has.
    pub fn new(st: &str, cn: u16, pw: &str, mn: &str) -> Self {
        let mut builder = Self {
            qn: None,
            st: st.to_owned(),
            cn,
            pw: pw.to_owned(),
            mn: mn.to_owned(),
            flag: None,
            parts: None,
            data_area: String::new(),
            error: None,
        };
        builder.check_value("ST", st);
        builder.check_value("PW", pw);
        builder.check_value("MN", mn);
        builder
    }

    /// Sets the request code `QN`.
    pub fn qn(mut self, qn: &str) -> Self {
        self.check_value("QN", qn);
        self.qn = Some(qn.to_owned());
        self
    }

    /// Sets `Flag`.
    pub fn flag(mut self, flag: Flag) -> Self {
        self.flag = Some(flag);
        self
    }

    /// Sets `PNUM` and `PNO` of one part of a split upload. Set a flag with
    /// bit D too.
    pub fn parts(mut self, pnum: u16, pno: u16) -> Self {
        self.parts = Some((pnum, pno));
        self
    }

    /// Appends a `key=value` item to the data area.
    pub fn item(mut self, key: &str, value: &str) -> Self {
        self.check_key(key);
        self.check_value(key, value);
        self.push_separator(';');
        self.data_area.push_str(key);
        self.data_area.push('=');
        self.data_area.push_str(value);
        self
    }

    /// Appends a `DataTime` item for `time` in the fixed UTC `offset`.
    pub fn data_time(self, time: Timestamp, offset: Offset) -> Self {
        let civil = offset.to_datetime(time);
        let value = civil.strftime("%Y%m%d%H%M%S").to_string();
        self.item("DataTime", &value)
    }

    /// Appends a factor: its values in the order Rtd, Avg, Min, Max, Cou, then
    /// its flag, separated by `,`.
    pub fn factor(mut self, code: &str, values: &FactorValues, flag: Option<DataFlag>) -> Self {
        self.check_key(code);
        if code.contains('-') {
            self.fail(EncodeError::InvalidKey { key: excerpt(code) });
        }
        let numbers = [
            ("Rtd", values.rtd),
            ("Avg", values.avg),
            ("Min", values.min),
            ("Max", values.max),
            ("Cou", values.cou),
        ];
        let mut separator = ';';
        for (suffix, number) in numbers {
            let Some(number) = number else { continue };
            if !number.is_finite() {
                self.fail(EncodeError::NonFiniteNumber {
                    key: format!("{code}-{suffix}"),
                    value: number,
                });
            }
            self.push_separator(separator);
            let _ = write!(self.data_area, "{code}-{suffix}={number}");
            separator = ',';
        }
        if let Some(flag) = flag {
            self.push_separator(separator);
            let _ = write!(self.data_area, "{code}-Flag={flag}");
        }
        self
    }

    /// Returns the segment, or the first invalid input.
    pub fn build(self) -> Result<String, EncodeError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut segment = String::with_capacity(96 + self.data_area.len());
        if let Some(qn) = &self.qn {
            let _ = write!(segment, "QN={qn};");
        }
        let _ = write!(
            segment,
            "ST={};CN={:04};PW={};MN={};",
            self.st, self.cn, self.pw, self.mn
        );
        if let Some(flag) = self.flag {
            let _ = write!(segment, "Flag={};", flag.bits());
        }
        if let Some((pnum, pno)) = self.parts {
            let _ = write!(segment, "PNUM={pnum};PNO={pno};");
        }
        let _ = write!(segment, "CP=&&{}&&", self.data_area);
        if segment.len() > MAX_SEGMENT_LEN {
            return Err(EncodeError::SegmentTooLong {
                len: segment.len(),
                max: MAX_SEGMENT_LEN,
            });
        }
        Ok(segment)
    }

    fn push_separator(&mut self, separator: char) {
        if !self.data_area.is_empty() {
            self.data_area.push(separator);
        }
    }

    fn fail(&mut self, error: EncodeError) {
        self.error.get_or_insert(error);
    }

    fn check_key(&mut self, key: &str) {
        let valid = !key.is_empty()
            && key
                .bytes()
                .all(|byte| byte.is_ascii_graphic() && !b";,=&".contains(&byte));
        if !valid {
            self.fail(EncodeError::InvalidKey { key: excerpt(key) });
        }
    }

    fn check_value(&mut self, key: &str, value: &str) {
        if !is_valid_value(value) {
            self.fail(EncodeError::InvalidValue {
                key: excerpt(key),
                value: excerpt(value),
            });
        }
    }
}

/// Returns true if `value` can be written without breaking the item syntax.
fn is_valid_value(value: &str) -> bool {
    let breaks_line = value.contains(['\r', '\n']);
    if let Some(text) = value
        .strip_prefix("//")
        .and_then(|rest| rest.strip_suffix("//"))
    {
        return !breaks_line && !text.contains("//") && !text.contains('&');
    }
    !breaks_line && !value.contains([';', ',', '&'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::decode_frame;
    use proptest::prelude::*;

    #[test]
    fn frame_crc_zero_padded_uppercase() {
        // "A" has CRC 0x7080; find a segment whose CRC is below 0x1000 to pin padding.
        let segment = (0..10_000)
            .map(|n| format!("ST=32;CN=2011;PW=1;MN=M{n};CP=&&&&"))
            .find(|segment| crate::crc::hj212(segment.as_bytes()) < 0x1000)
            .expect("some CRC below 0x1000 within 10,000 segments");
        let frame = encode_frame(&segment).expect("short segment");
        let crc = &frame[frame.len() - 6..frame.len() - 2];
        assert_eq!(crc.len(), 4);
        assert!(crc.starts_with('0'), "{frame}");
        assert_eq!(crc, crc.to_uppercase());
        assert!(frame.ends_with("\r\n"));
    }

    #[test]
    fn appendix_a_frame_reproduced() {
        let segment = "QN=20160801085857223;ST=32;CN=1062;PW=100000;\
MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
        let expected = format!("##0101{segment}1C80\r\n");
        assert_eq!(encode_frame(segment).expect("short segment"), expected);
    }

    #[test]
    fn oversized_segment_rejected() {
        let segment = "x".repeat(10_000);
        let error = encode_frame(&segment).expect_err("too long");
        assert_eq!(
            error,
            EncodeError::SegmentTooLong {
                len: 10_000,
                max: 9999
            }
        );
    }

    #[test]
    fn ack_echoes_request_fields() {
        let packet = Packet::parse(
            "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&&&",
        )
        .expect("parses");
        let ack = ack_9014(&packet);
        let segment = "QN=20160801085857223;ST=91;CN=9014;PW=123456;\
MN=010000A8900016F000169DC0;Flag=4;CP=&&&&";
        assert_eq!(ack, encode_frame(segment).expect("short segment"));
    }

    #[test]
    fn ack_keeps_2025_version() {
        let packet = Packet::parse("QN=1;ST=32;CN=2011;PW=1;MN=A;Flag=9;CP=&&&&").expect("parses");
        let ack = ack_9014(&packet);
        assert!(ack.contains(";Flag=8;CP=&&&&"), "{ack}");
        let frame = decode_frame(ack.as_bytes(), CrcVariant::Hj212).expect("verifies");
        let parsed = frame.parse().expect("parses");
        assert_eq!(parsed.cn(), 9014);
        assert_eq!(parsed.st(), "91");
        assert_eq!(parsed.qn(), Some("1"));
    }

    #[test]
    fn ack_with_modbus_crc() {
        let packet = Packet::parse("QN=1;ST=32;CN=2011;PW=1;MN=A;Flag=5;CP=&&&&").expect("parses");
        let ack = ack_9014_with(&packet, CrcVariant::ModbusLowByteFirst);
        assert!(decode_frame(ack.as_bytes(), CrcVariant::ModbusLowByteFirst).is_ok());
    }

    #[test]
    fn builder_rejects_separators() {
        let bad_value = SegmentBuilder::new("32", 2011, "1", "A")
            .item("PolId", "a;b")
            .build();
        let message = bad_value.expect_err("separator").to_string();
        assert!(message.contains("a;b"), "{message}");
        let bad_key = SegmentBuilder::new("32", 2011, "1", "A")
            .item("Pol=Id", "a")
            .build();
        assert!(matches!(bad_key, Err(EncodeError::InvalidKey { .. })));
        let bad_mn = SegmentBuilder::new("32", 2011, "1", "A;B").build();
        assert!(matches!(bad_mn, Err(EncodeError::InvalidValue { .. })));
        let values = FactorValues {
            rtd: Some(f64::NAN),
            ..FactorValues::default()
        };
        let nan = SegmentBuilder::new("32", 2011, "1", "A")
            .factor("w01018", &values, None)
            .build();
        assert!(matches!(nan, Err(EncodeError::NonFiniteNumber { .. })));
        let log = SegmentBuilder::new("32", 3020, "1", "A")
            .item("i11001-Info", "//a;b,c//")
            .build();
        assert!(log.is_ok());
    }

    #[test]
    fn builder_writes_flag_before_parts() {
        let segment = SegmentBuilder::new("32", 2011, "1", "A")
            .flag(Flag::new(Version::V2017, true, true))
            .parts(2, 1)
            .build()
            .expect("valid");
        assert_eq!(
            segment,
            "ST=32;CN=2011;PW=1;MN=A;Flag=7;PNUM=2;PNO=1;CP=&&&&"
        );
    }

    fn optional_number() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![Just(None), (-1.0e9..1.0e9f64).prop_map(Some)]
    }

    fn factor_values() -> impl Strategy<Value = FactorValues> {
        (
            optional_number(),
            optional_number(),
            optional_number(),
            optional_number(),
            optional_number(),
        )
            .prop_map(|(rtd, avg, min, max, cou)| FactorValues {
                rtd,
                avg,
                min,
                max,
                cou,
            })
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(
            qn in proptest::option::of("[0-9]{17}"),
            st in "[0-9A-Z]{2,3}",
            cn in 1000u16..9999,
            pw in "[0-9A-Za-z]{0,8}",
            mn in "[0-9A-Za-z_]{1,24}",
            flag in proptest::option::of(any::<u8>()),
            time in 0i64..4_000_000_000,
            factors in proptest::collection::vec(("[a-z][0-9]{5}", factor_values(), proptest::option::of("[A-Z]")), 0..12),
        ) {
            let time = Timestamp::from_second(time).expect("in range");

            let mut builder = SegmentBuilder::new(&st, cn, &pw, &mn).data_time(time, crate::CHINA_STANDARD_TIME);
            if let Some(qn) = &qn {
                builder = builder.qn(qn);
            }
            if let Some(bits) = flag {
                builder = builder.flag(Flag::from_bits(bits));
            }
            let mut distinct = Vec::new();
            for (code, values, flag) in &factors {
                if distinct.iter().any(|(known, _, _)| known == code) || (values.is_empty() && flag.is_none()) {
                    continue;
                }
                let flag = flag.as_deref().map(|letter| DataFlag::parse(letter).expect("one letter"));
                builder = builder.factor(code, values, flag);
                distinct.push((code.clone(), *values, flag));
            }

            let segment = builder.build().expect("valid input");
            let frame_text = encode_frame(&segment).expect("short segment");
            let frame = decode_frame(frame_text.as_bytes(), CrcVariant::Hj212).expect("own frame verifies");
            let packet = frame.parse().expect("own segment parses");

            prop_assert_eq!(packet.qn(), qn.as_deref());
            prop_assert_eq!(packet.st(), st.as_str());
            prop_assert_eq!(packet.cn(), cn);
            prop_assert_eq!(packet.pw(), pw.as_str());
            prop_assert_eq!(packet.mn(), mn.as_str());
            prop_assert_eq!(packet.flag().map(Flag::bits), flag);
            prop_assert_eq!(packet.data_time(crate::CHINA_STANDARD_TIME).expect("valid"), Some(time));
            let decoded: Vec<_> = packet.factors().map(|factor| factor.expect("valid")).collect();
            prop_assert_eq!(decoded.len(), distinct.len());
            for (factor, (code, values, flag)) in decoded.iter().zip(&distinct) {
                prop_assert_eq!(factor.code(), code.as_str());
                prop_assert_eq!(factor.values(), *values);
                prop_assert_eq!(factor.flag(), *flag);
            }
        }
    }
}
