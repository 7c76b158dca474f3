//! The data segment (数据段): header fields `QN;ST;CN;PW;MN;Flag;PNUM;PNO` and
//! the data area `CP=&&…&&`.
//!
//! Parsing borrows from the segment and allocates nothing. It tolerates what
//! the standard's own examples and field devices do: spaces around fields, `,`
//! instead of `;` between header fields, no `;` before `CP=`, no `QN` or `Flag`
//! (HJ/T 212-2005 devices), fields in any order, and unknown header fields. It
//! rejects what cannot be read: no `CP=&&`, a data area without its closing
//! `&&`, text after the closing `&&` (unless [`TrailingText::Ignore`]), a
//! missing `ST`, `CN`, `PW` or `MN`, and numeric fields that are not numbers.

use jiff::Timestamp;
use jiff::tz::Offset;
use oversight_core::Reading;

use crate::data::{DataArea, FieldError, trim};
use crate::scan::{Separators, find_cp};

/// The HJ 212 version a [`Flag`] declares in its bits 2–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HJ/T 212-2005 (version bits 0, or no `Flag` field at all).
    V2005,
    /// HJ 212-2017 (version bits 1: Flag 4–7).
    V2017,
    /// HJ 212-2025 (version bits 2: Flag 8–11).
    V2025,
    /// Version bits this codec does not know.
    Unknown(u8),
}

/// The `Flag` header field: bits `V5..V0 D A` (HJ 212-2017 Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flag(u8);

impl Flag {
    const ACK: u8 = 0b01;
    const PARTS: u8 = 0b10;

    /// Creates a flag from its wire value.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// Creates a flag from its parts: `version << 2 | parts << 1 | ack`.
    pub fn new(version: Version, has_parts: bool, ack_requested: bool) -> Self {
        let version_bits = match version {
            Version::V2005 => 0,
            Version::V2017 => 1,
            Version::V2025 => 2,
            Version::Unknown(bits) => bits & 0x3F,
        };
        Self(version_bits << 2 | u8::from(has_parts) << 1 | u8::from(ack_requested))
    }

    /// Returns the wire value.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Returns true if the sender wants an acknowledgement (bit A).
    pub fn ack_requested(self) -> bool {
        self.0 & Self::ACK != 0
    }

    /// Returns true if the packet is one part of a split upload and carries
    /// `PNUM` and `PNO` (bit D).
    pub fn has_parts(self) -> bool {
        self.0 & Self::PARTS != 0
    }

    /// Returns the protocol version from bits 2–7.
    pub fn version(self) -> Version {
        match self.0 >> 2 {
            0 => Version::V2005,
            1 => Version::V2017,
            2 => Version::V2025,
            other => Version::Unknown(other),
        }
    }
}

/// The handling of text after the closing `&&`, an option of [`Packet::parse_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrailingText {
    /// Reject the packet, because such text is usually a header field written
    /// after the data area by a faulty encoder (for example `&&;Flag=0`).
    #[default]
    Reject,
    /// Ignore it; [`Packet::trailing_text`] still returns it.
    Ignore,
}

/// Options of [`Packet::parse_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The handling of text after the closing `&&` of the data area.
    pub trailing_text: TrailingText,
}

/// An error from parsing a data segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The segment is not UTF-8.
    #[error(
        "data segment is not valid UTF-8 (invalid byte at offset {valid_up_to}); \
         decode it with Frame::text, which falls back to GBK"
    )]
    NotUtf8 {
        /// The length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// There is no `CP=` field.
    #[error("data segment has no 'CP=' field; every packet must end with CP=&&…&&")]
    MissingCp,
    /// `CP=` is not followed by `&&`.
    #[error("'CP=' is followed by {found:?} instead of '&&'")]
    CpNotOpened {
        /// The text after `CP=`, shortened.
        found: String,
    },
    /// The data area has no closing `&&`.
    #[error("data area has no closing '&&': {data_area:?}")]
    UnterminatedCp {
        /// The text after `CP=&&`, shortened.
        data_area: String,
    },
    /// There is text after the closing `&&`.
    #[error(
        "text {text:?} follows the closing '&&' of the data area; \
         header fields must come before CP"
    )]
    TrailingText {
        /// The text after the data area, shortened.
        text: String,
    },
    /// A header piece has no `=`.
    #[error("header field {text:?} has no '='; expected NAME=value")]
    MalformedHeaderField {
        /// The piece, shortened.
        text: String,
    },
    /// A required header field is missing.
    #[error("required header field {name} is missing")]
    MissingField {
        /// The field's name.
        name: &'static str,
    },
    /// A header field appears twice.
    #[error("header field {name} appears twice")]
    DuplicateField {
        /// The field's name.
        name: &'static str,
    },
    /// A header field's value is invalid.
    #[error("invalid {name} {value:?}: expected {expected}")]
    InvalidField {
        /// The field's name.
        name: &'static str,
        /// The value as received, shortened.
        value: String,
        /// A description of a valid value.
        expected: &'static str,
    },
}

impl ParseError {
    /// Returns a short stable name of the error kind, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotUtf8 { .. } => "not_utf8",
            Self::MissingCp => "missing_cp",
            Self::CpNotOpened { .. } => "bad_cp",
            Self::UnterminatedCp { .. } => "unterminated_cp",
            Self::TrailingText { .. } => "trailing_text",
            Self::MalformedHeaderField { .. } => "malformed_header_field",
            Self::MissingField { .. } => "missing_field",
            Self::DuplicateField { .. } => "duplicate_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}

/// The maximum length of input that an error message quotes, in characters.
const EXCERPT_CHARS: usize = 48;

pub(crate) fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

/// A parsed data segment, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    segment: &'a str,
    qn: Option<&'a str>,
    st: &'a str,
    cn: u16,
    pw: &'a str,
    mn: &'a str,
    flag: Option<Flag>,
    pnum: Option<u16>,
    pno: Option<u16>,
    /// The data area's text and its [`DataArea`] leading `DataTime`
    /// length, kept apart so that the length fits in the padding after the
    /// numeric fields.
    cp_text: &'a str,
    cp_data_time_length: u8,
    trailing_text: &'a str,
}

impl<'a> Packet<'a> {
    /// Parses a data segment with the default [`ParseOptions`].
    pub fn parse(segment: &'a str) -> Result<Self, ParseError> {
        Self::parse_with(segment, &ParseOptions::default())
    }

    /// Parses a data segment.
    pub fn parse_with(segment: &'a str, options: &ParseOptions) -> Result<Self, ParseError> {
        let (header, cp, trailing_text) = split_segment(segment)?;
        if options.trailing_text == TrailingText::Reject
            && !trailing_text.is_empty()
            && !trailing_text.trim().is_empty()
        {
            return Err(ParseError::TrailingText {
                text: excerpt(trailing_text),
            });
        }
        let fields = HeaderFields::parse(header)?;
        let cp = DataArea::new(cp);
        let missing = |name| ParseError::MissingField { name };
        Ok(Self {
            segment,
            qn: fields.qn,
            st: fields.st.ok_or_else(|| missing("ST"))?,
            cn: fields.cn.ok_or_else(|| missing("CN"))?,
            pw: fields.pw.ok_or_else(|| missing("PW"))?,
            mn: fields.mn.ok_or_else(|| missing("MN"))?,
            flag: fields.flag,
            pnum: fields.pnum,
            pno: fields.pno,
            cp_text: cp.as_str(),
            cp_data_time_length: cp.leading_data_time_length(),
            trailing_text,
        })
    }

    /// Returns the whole data segment.
    pub fn segment(&self) -> &'a str {
        self.segment
    }

    /// Returns the request code `QN`, absent from HJ/T 212-2005 uploads.
    pub fn qn(&self) -> Option<&'a str> {
        self.qn
    }

    /// Returns the system code `ST`, such as `32` (wastewater source).
    pub fn st(&self) -> &'a str {
        self.st
    }

    /// Returns the command code `CN`, such as 2011 (real-time upload).
    pub fn cn(&self) -> u16 {
        self.cn
    }

    /// Returns the access password `PW`.
    pub fn pw(&self) -> &'a str {
        self.pw
    }

    /// Returns the device identifier `MN`, which may be empty.
    pub fn mn(&self) -> &'a str {
        self.mn
    }

    /// Returns the `Flag` field, absent from HJ/T 212-2005 packets.
    pub fn flag(&self) -> Option<Flag> {
        self.flag
    }

    /// Returns the protocol version: from `Flag`, or 2005 when there is none.
    pub fn version(&self) -> Version {
        self.flag.map_or(Version::V2005, Flag::version)
    }

    /// Returns true if the sender wants a 9014 acknowledgement.
    pub fn ack_requested(&self) -> bool {
        self.flag.is_some_and(Flag::ack_requested)
    }

    /// Returns the total number of parts `PNUM` of a split upload.
    pub fn pnum(&self) -> Option<u16> {
        self.pnum
    }

    /// Returns this part's number `PNO` (from 1) of a split upload.
    pub fn pno(&self) -> Option<u16> {
        self.pno
    }

    /// Returns the data area, the text between `CP=&&` and the closing `&&`.
    pub fn cp(&self) -> DataArea<'a> {
        DataArea::from_parts(self.cp_text, self.cp_data_time_length)
    }

    /// Returns the text after the closing `&&`, empty for a well-formed packet.
    pub fn trailing_text(&self) -> &'a str {
        self.trailing_text
    }

    /// Returns the first value of `key` in the data area, trimmed.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.cp().get(key)
    }

    /// Parses the data area's `DataTime`, read in the fixed UTC `offset`.
    pub fn data_time(&self, offset: Offset) -> Result<Option<Timestamp>, FieldError> {
        self.cp().data_time(offset)
    }

    /// Iterates over the factors of the data area (see [`DataArea::factors`]).
    pub fn factors(&self) -> crate::data::Factors<'a> {
        self.cp().factors()
    }

    /// Converts an upload (CN 2011, 2051, 2061 or 2031) into readings.
    ///
    /// Returns the readings that could be read and an error for each factor
    /// that could not, so one bad value never costs the others. A packet that
    /// is not an upload, has an invalid MN, or no valid `DataTime` gives no
    /// readings and one error. Factors without any value (only a flag, or
    /// only `-Info`, `-SN` and the like) give no reading. A factor code that
    /// appears again after other factors gives a `duplicate_factor` error and
    /// the first occurrence is kept.
    pub fn readings(
        &self,
        received_at: Timestamp,
        offset: Offset,
    ) -> (Vec<Reading>, Vec<FieldError>) {
        crate::readings::readings(self, received_at, offset)
    }
}

/// Splits a segment into the header before `CP=`, the data area and the text
/// after the closing `&&`.
fn split_segment(segment: &str) -> Result<(&str, &str, &str), ParseError> {
    let cp_at = find_cp(segment.as_bytes()).ok_or(ParseError::MissingCp)?;
    let header = &segment[..cp_at];
    let after = segment[cp_at + 3..].trim_start_matches(' ');
    let Some(body) = after.strip_prefix("&&") else {
        return Err(ParseError::CpNotOpened {
            found: excerpt(after),
        });
    };
    // The last `&&` closes the data area, so `&&` inside a value (log text)
    // does not end it early.
    let Some(close) = rfind_double_ampersand(body.as_bytes()) else {
        return Err(ParseError::UnterminatedCp {
            data_area: excerpt(body),
        });
    };
    Ok((header, &body[..close], &body[close + 2..]))
}

/// Finds the last `&&`, which is usually at the very end of the segment.
fn rfind_double_ampersand(bytes: &[u8]) -> Option<usize> {
    if bytes.ends_with(b"&&") {
        return Some(bytes.len() - 2);
    }
    let mut end = bytes.len();
    while let Some(at) = memchr::memrchr(b'&', &bytes[..end]) {
        if at > 0 && bytes[at - 1] == b'&' {
            return Some(at - 1);
        }
        end = at;
    }
    None
}

#[derive(Debug, Default)]
struct HeaderFields<'a> {
    qn: Option<&'a str>,
    st: Option<&'a str>,
    cn: Option<u16>,
    pw: Option<&'a str>,
    mn: Option<&'a str>,
    flag: Option<Flag>,
    pnum: Option<u16>,
    pno: Option<u16>,
}

impl<'a> HeaderFields<'a> {
    fn parse(header: &'a str) -> Result<Self, ParseError> {
        let mut fields = Self::default();
        let bytes = header.as_bytes();
        let mut separators = Separators::new(bytes);
        let mut start = 0;
        // Pieces run to the next `;` or `,`, and a piece's first `=` splits it.
        while start < bytes.len() {
            let stop = separators.next().unwrap_or(bytes.len());
            if bytes.get(stop) != Some(&b'=') {
                let piece = trim(&header[start..stop]);
                if !piece.is_empty() {
                    return Err(ParseError::MalformedHeaderField {
                        text: excerpt(piece),
                    });
                }
                start = stop + 1;
                continue;
            }
            let end = separators
                .find(|&position| bytes[position] != b'=')
                .unwrap_or(bytes.len());
            fields.set(trim(&header[start..stop]), trim(&header[stop + 1..end]))?;
            start = end + 1;
        }
        if let (Some(pnum), Some(pno)) = (fields.pnum, fields.pno)
            && pno > pnum
        {
            return Err(ParseError::InvalidField {
                name: "PNO",
                value: pno.to_string(),
                expected: "a part number from 1 to PNUM",
            });
        }
        Ok(fields)
    }

    fn set(&mut self, name: &str, value: &'a str) -> Result<(), ParseError> {
        match name {
            "QN" => put(&mut self.qn, "QN", value),
            "ST" if value.is_empty() => Err(invalid("ST", value, "a system code such as 32")),
            "ST" => put(&mut self.st, "ST", value),
            "CN" => put(&mut self.cn, "CN", parse_cn(value)?),
            "PW" => put(&mut self.pw, "PW", value),
            "MN" => put(&mut self.mn, "MN", value),
            "Flag" => put(&mut self.flag, "Flag", parse_flag(value)?),
            "PNUM" => put(&mut self.pnum, "PNUM", parse_part_number("PNUM", value)?),
            "PNO" => put(&mut self.pno, "PNO", parse_part_number("PNO", value)?),
            // Unknown header fields (vendor extensions) are ignored.
            _ => Ok(()),
        }
    }
}

fn put<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateField { name });
    }
    *slot = Some(value);
    Ok(())
}

fn invalid(name: &'static str, value: &str, expected: &'static str) -> ParseError {
    ParseError::InvalidField {
        name,
        value: excerpt(value),
        expected,
    }
}

/// Parses 1 to `max_digits` ASCII digits.
fn parse_digits(value: &str, max_digits: usize) -> Option<u32> {
    if value.is_empty() || value.len() > max_digits {
        return None;
    }
    value.bytes().try_fold(0u32, |number, byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + u32::from(byte - b'0'))
    })
}

fn parse_cn(value: &str) -> Result<u16, ParseError> {
    parse_digits(value, 4)
        .and_then(|cn| u16::try_from(cn).ok())
        .ok_or_else(|| invalid("CN", value, "a command code of 4 digits, such as 2011"))
}

fn parse_flag(value: &str) -> Result<Flag, ParseError> {
    parse_digits(value, 3)
        .and_then(|bits| u8::try_from(bits).ok())
        .map(Flag)
        .ok_or_else(|| invalid("Flag", value, "an integer from 0 to 255"))
}

fn parse_part_number(name: &'static str, value: &str) -> Result<u16, ParseError> {
    parse_digits(value, 4)
        .and_then(|number| u16::try_from(number).ok())
        .filter(|&number| number >= 1)
        .ok_or_else(|| invalid(name, value, "a number from 1 to 9999"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0";

    fn parse(segment: &str) -> Result<Packet<'_>, ParseError> {
        Packet::parse(segment)
    }

    #[test]
    fn standard_header_fields() {
        let segment = format!("{HEADER};Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20160801085857&&");
        let packet = parse(&segment).expect("parses");
        assert_eq!(packet.qn(), Some("20160801085857223"));
        assert_eq!(packet.st(), "32");
        assert_eq!(packet.cn(), 2011);
        assert_eq!(packet.pw(), "123456");
        assert_eq!(packet.mn(), "010000A8900016F000169DC0");
        assert_eq!(packet.flag(), Some(Flag::from_bits(7)));
        assert_eq!(packet.pnum(), Some(2));
        assert_eq!(packet.pno(), Some(1));
        assert_eq!(packet.cp().as_str(), "DataTime=20160801085857");
        assert_eq!(packet.trailing_text(), "");
    }

    #[test]
    fn flag_bits_decoded() {
        let cases = [
            (0, Version::V2005, false, false),
            (4, Version::V2017, false, false),
            (5, Version::V2017, false, true),
            (7, Version::V2017, true, true),
            (8, Version::V2025, false, false),
            (11, Version::V2025, true, true),
            (12, Version::Unknown(3), false, false),
        ];
        for (bits, version, parts, ack) in cases {
            let flag = Flag::from_bits(bits);
            assert_eq!(flag.version(), version, "Flag={bits}");
            assert_eq!(flag.has_parts(), parts, "Flag={bits}");
            assert_eq!(flag.ack_requested(), ack, "Flag={bits}");
            assert_eq!(Flag::new(version, parts, ack), flag, "Flag={bits}");
        }
    }

    #[test]
    fn missing_semicolon_before_cp() {
        let segment = format!("{HEADER};Flag=5CP=&&DataTime=20160801085857&&");
        let packet = parse(&segment).expect("C.19 layout parses");
        assert_eq!(packet.flag(), Some(Flag::from_bits(5)));
    }

    #[test]
    fn comma_between_header_fields() {
        let segment =
            "QN=20160801085857534,ST=32;CN=2011;PW=123456;MN=A1;Flag=7;PNUM=2;PNO=1;CP=&&&&";
        let packet = parse(segment).expect("C.48 layout parses");
        assert_eq!(packet.qn(), Some("20160801085857534"));
        assert_eq!(packet.st(), "32");
    }

    #[test]
    fn stray_spaces_trimmed() {
        let segment = "QN=1;ST=32;CN=3020;PW=123456;MN=A1 ; Flag=5;CP=&& i13004-Info=168.0 ; i13005-Info =40&&";
        let packet = parse(segment).expect("C.45 layout parses");
        assert_eq!(packet.mn(), "A1");
        assert_eq!(packet.flag(), Some(Flag::from_bits(5)));
        assert_eq!(packet.get("i13004-Info"), Some("168.0"));
        assert_eq!(packet.get("i13005-Info"), Some("40"));
        let empty = parse("ST=91;CN=9013;PW=1;MN=A1;Flag=4;CP=&& &&").expect("C.9 parses");
        assert_eq!(empty.cp().items().count(), 0);
    }

    #[test]
    fn version_2005_without_qn_and_flag() {
        let packet = parse("ST=32;CN=2011;PW=123456;MN=LD130133000015;CP=&&&&").expect("parses");
        assert_eq!(packet.qn(), None);
        assert_eq!(packet.flag(), None);
        assert_eq!(packet.version(), Version::V2005);
        assert!(!packet.ack_requested());
    }

    #[test]
    fn data_area_errors_named() {
        let cases = [
            ("ST=32;CN=2011;PW=1;MN=A", "missing_cp"),
            ("ST=32;CN=2011;PW=1;MN=A;CP=DataTime=1", "bad_cp"),
            ("ST=32;CN=2011;PW=1;MN=A;CP=&&DataTime=1", "unterminated_cp"),
            ("ST=32;CN=2011;PW=1;MN=A;CP=&&&", "unterminated_cp"),
            (
                "ST=32;CN=2011;PW=1;MN=A;CP=&&DataTime=1&&;Flag=0",
                "trailing_text",
            ),
        ];
        for (segment, reason) in cases {
            let error = parse(segment).expect_err(segment);
            assert_eq!(error.reason(), reason, "{segment}: {error}");
        }
    }

    #[test]
    fn header_errors_named() {
        let cases = [
            ("CN=2011;PW=1;MN=A;CP=&&&&", "missing_field", "ST"),
            ("ST=32;PW=1;MN=A;CP=&&&&", "missing_field", "CN"),
            ("ST=32;CN=2011;MN=A;CP=&&&&", "missing_field", "PW"),
            ("ST=32;CN=2011;PW=1;CP=&&&&", "missing_field", "MN"),
            ("ST=32;CN=20x1;PW=1;MN=A;CP=&&&&", "invalid_field", "20x1"),
            ("ST=32;CN=20111;PW=1;MN=A;CP=&&&&", "invalid_field", "20111"),
            (
                "ST=32;CN=2011;PW=1;MN=A;Flag=256;CP=&&&&",
                "invalid_field",
                "256",
            ),
            (
                "ST=32;CN=2011;PW=1;MN=A;Flag=7;PNUM=2;PNO=3;CP=&&&&",
                "invalid_field",
                "PNO",
            ),
            (
                "ST=32;CN=2011;PW=1;MN=A;Flag=7;PNUM=0;PNO=0;CP=&&&&",
                "invalid_field",
                "PNUM",
            ),
            (
                "ST=32;ST=31;CN=2011;PW=1;MN=A;CP=&&&&",
                "duplicate_field",
                "ST",
            ),
            (
                "ST=32;CN=2011;PW=1;MN=A;junk;CP=&&&&",
                "malformed_header_field",
                "junk",
            ),
            ("ST=;CN=2011;PW=1;MN=A;CP=&&&&", "invalid_field", "ST"),
        ];
        for (segment, reason, named) in cases {
            let error = parse(segment).expect_err(segment);
            assert_eq!(error.reason(), reason, "{segment}: {error}");
            assert!(error.to_string().contains(named), "{segment}: {error}");
        }
    }

    #[test]
    fn trailing_text_ignored_on_request() {
        let options = ParseOptions {
            trailing_text: TrailingText::Ignore,
        };
        let segment = "ST=32;CN=1012;PW=1;MN=A;CP=&&PolId=w01018&&;Flag=0";
        let packet = Packet::parse_with(segment, &options).expect("parses");
        assert_eq!(packet.trailing_text(), ";Flag=0");
        assert_eq!(packet.get("PolId"), Some("w01018"));
    }

    #[test]
    fn unknown_header_fields_ignored() {
        let packet = parse("ST=32;CN=2011;PW=1;MN=A;Vendor=x;CP=&&&&").expect("parses");
        assert_eq!(packet.cn(), 2011);
    }

    #[test]
    fn empty_mn_accepted() {
        let packet = parse("QN=1;ST=91;CN=9013;PW=123456;MN=;Flag=8;CP=&&&&").expect("parses");
        assert_eq!(packet.mn(), "");
    }
}
