//! The data area (指令参数 CP): `KEY=value` items separated by `;`, with the
//! values of one factor separated by `,` (HJ 212-2017 §6.3.3).
//!
//! Reading it allocates nothing until an error is reported. Both `;` and `,`
//! end an item, because devices and the standard's own examples mix them
//! (`BeginTime=…,EndTime=…`). A value runs from the first `=` of its item to
//! the next separator, so values may contain `=`. A value that starts with
//! `//` (log text such as `i11001-Info=//清洗管路//`) runs to the closing `//`,
//! so it may contain separators.

use jiff::Timestamp;
use jiff::tz::Offset;
use oversight_core::{DataFlag, FactorValues};

use crate::packet::excerpt;
use crate::scan::find_any;

/// The time zone HJ 212 devices in China report in: UTC+08:00.
pub const CHINA_STANDARD_TIME: Offset = Offset::constant(8);

/// A value of the data area that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A piece between separators has no `=`.
    #[error("data area item {text:?} has no '='; expected KEY=value")]
    MissingEquals {
        /// The piece, shortened.
        text: String,
    },
    /// A factor value is not a finite decimal number.
    #[error("invalid number {value:?} for {key}; expected a decimal such as 12.5")]
    InvalidNumber {
        /// The full key, such as `w01018-Rtd`.
        key: String,
        /// The value as received, shortened.
        value: String,
    },
    /// A data flag is not one letter.
    #[error("invalid data flag {value:?} for {key}; expected one letter such as N")]
    InvalidFlag {
        /// The full key, such as `w01018-Flag`.
        key: String,
        /// The value as received, shortened.
        value: String,
    },
    /// A key appears twice within one factor, so its value is ambiguous.
    #[error("{key} appears twice in one factor, so its value is ambiguous")]
    DuplicateKey {
        /// The full key.
        key: String,
    },
    /// A time field is not a valid `YYYYMMDDhhmmss[zzz]` time.
    #[error("invalid {key} {value:?}: {detail}")]
    InvalidTime {
        /// The key, such as `DataTime`.
        key: String,
        /// The value as received, shortened.
        value: String,
        /// The reason it is invalid.
        detail: String,
    },
    /// An upload has no `DataTime`.
    #[error("upload has no DataTime, so its values cannot be placed in time")]
    MissingDataTime,
    /// A factor code is not valid.
    #[error("invalid factor code {code:?}: {detail}")]
    InvalidFactorCode {
        /// The code as received, shortened.
        code: String,
        /// The reason it is invalid.
        detail: String,
    },
    /// The packet's MN is not valid for a reading.
    #[error("invalid MN {mn:?}: {detail}")]
    InvalidMn {
        /// The MN as received, shortened.
        mn: String,
        /// The reason it is invalid.
        detail: String,
    },
    /// The packet's command does not upload readings.
    #[error("CN {cn} does not upload readings; expected 2011, 2051, 2061 or 2031")]
    NotAnUpload {
        /// The packet's command code.
        cn: u16,
    },
    /// A factor appears again after other factors.
    #[error("factor {code} appears more than once in the upload; the first was kept")]
    DuplicateFactor {
        /// The factor code.
        code: String,
    },
}

impl FieldError {
    /// Returns a short stable name of the error kind, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingEquals { .. } => "missing_equals",
            Self::InvalidNumber { .. } => "invalid_number",
            Self::InvalidFlag { .. } => "invalid_flag",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::InvalidTime { .. } => "invalid_time",
            Self::MissingDataTime => "missing_data_time",
            Self::InvalidFactorCode { .. } => "invalid_factor_code",
            Self::InvalidMn { .. } => "invalid_mn",
            Self::NotAnUpload { .. } => "not_an_upload",
            Self::DuplicateFactor { .. } => "duplicate_factor",
        }
    }
}

/// The data area of a packet: the text between `CP=&&` and the closing `&&`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataArea<'a> {
    text: &'a str,
}

impl<'a> DataArea<'a> {
    /// Wraps data area text (without the surrounding `&&`).
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// Returns the text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Iterates over the items in order; a piece without `=` is an error item.
    pub fn items(&self) -> Items<'a> {
        Items {
            text: self.text,
            position: 0,
        }
    }

    /// Returns the first value of `key`, trimmed, such as `get("RtdInterval")`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.items()
            .flatten()
            .find(|item| item.key == key)
            .map(|item| item.value)
    }

    /// Parses `DataTime` in the fixed UTC `offset`; `Ok(None)` if absent.
    pub fn data_time(&self, offset: Offset) -> Result<Option<Timestamp>, FieldError> {
        self.get("DataTime")
            .map(|value| parse_time("DataTime", value, offset))
            .transpose()
    }

    /// Iterates over the factors: runs of adjacent `CODE-Suffix` items with
    /// the same code, such as `w01018-Rtd=2.2,w01018-Flag=N`.
    ///
    /// Items without `-` (`DataTime`, `RtdInterval`, vendor keys) are skipped.
    /// A factor with a value that is not a number, or with a flag that is not
    /// one letter, is an error item naming the key. The factors after it still
    /// come through. A code that appears again after other factors is yielded again.
    pub fn factors(&self) -> Factors<'a> {
        Factors {
            text: self.text,
            items: self.items(),
            pending: None,
        }
    }
}

/// One `KEY=value` item of the data area, both trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The key, such as `DataTime` or `w01018-Rtd`.
    pub key: &'a str,
    /// The value, such as `20160801085857` or `2.2`.
    pub value: &'a str,
}

/// A piece of the data area between separators: its byte range and its item,
/// or `None` for non-blank text without `=`. Small and `Copy`, because the
/// factor iterator moves pieces around on every item.
#[derive(Debug, Clone, Copy)]
struct Piece<'a> {
    start: usize,
    end: usize,
    item: Option<Item<'a>>,
}

impl<'a> Piece<'a> {
    #[inline]
    fn into_result(self, text: &str) -> Result<Item<'a>, FieldError> {
        self.item.ok_or_else(|| FieldError::MissingEquals {
            text: excerpt(trim(&text[self.start..self.end])),
        })
    }
}

/// An iterator over the items of a data area.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Items<'a> {
    #[inline]
    fn next_piece(&mut self) -> Option<Piece<'a>> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.position;
            if start >= bytes.len() {
                return None;
            }
            let Some(stop) = find_any(bytes, start, [b';', b',', b'=']) else {
                self.position = bytes.len();
                return self.missing_equals(start, bytes.len());
            };
            if bytes[stop] != b'=' {
                self.position = stop + 1;
                match self.missing_equals(start, stop) {
                    Some(piece) => return Some(piece),
                    None => continue,
                }
            }
            let value_end = find_value_end(bytes, stop + 1);
            self.position = value_end + 1;
            let item = Item {
                key: trim(&self.text[start..stop]),
                value: trim(&self.text[stop + 1..value_end]),
            };
            return Some(Piece {
                start,
                end: value_end,
                item: Some(item),
            });
        }
    }

    /// Returns a piece without item for non-blank text, or `None` for blank text.
    fn missing_equals(&self, start: usize, end: usize) -> Option<Piece<'a>> {
        if trim(&self.text[start..end]).is_empty() {
            return None;
        }
        Some(Piece {
            start,
            end,
            item: None,
        })
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().map(|piece| piece.into_result(self.text))
    }
}

/// Finds the end of the value starting at `from`: the next `;` or `,`, or for
/// a value that starts with `//`, the first separator after the closing `//`.
fn find_value_end(bytes: &[u8], from: usize) -> usize {
    let mut scan_from = from;
    let lead = from
        + bytes[from..]
            .iter()
            .take_while(|&&byte| byte == b' ')
            .count();
    if bytes[lead..].starts_with(b"//")
        && let Some(close) = memchr::memmem::find(&bytes[lead + 2..], b"//")
    {
        scan_from = lead + 2 + close + 2;
    }
    find_any(bytes, scan_from, [b';', b',']).unwrap_or(bytes.len())
}

/// Trims whitespace, checking the first and last byte before doing the full
/// Unicode-aware trim, because almost every key and value needs no trimming.
#[inline]
pub(crate) fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(&first), Some(&last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Splits `CODE-Suffix` at the first `-`.
#[inline]
fn split_factor_key(key: &str) -> Option<(&str, &str)> {
    let dash = key.bytes().position(|byte| byte == b'-')?;
    Some((&key[..dash], &key[dash + 1..]))
}

/// Returns true if `key` is `code-Suffix`, for a `code` without `-`.
#[inline]
fn has_factor_code(key: &str, code: &str) -> bool {
    let (key, code) = (key.as_bytes(), code.as_bytes());
    // A byte loop, because codes are a few bytes long and a `memcmp` call
    // costs more than comparing them.
    key.len() > code.len()
        && key[code.len()] == b'-'
        && key.iter().zip(code).all(|(left, right)| left == right)
}

/// One factor of the data area: its code, values and data flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factor<'a> {
    code: &'a str,
    values: FactorValues,
    flag: Option<DataFlag>,
    text: &'a str,
}

impl<'a> Factor<'a> {
    /// Returns the factor code, such as `w01018`.
    pub fn code(&self) -> &'a str {
        self.code
    }

    /// Returns the numeric values: `-Rtd`, `-Avg`, `-Min`, `-Max` and `-Cou`.
    ///
    /// Noise uploads (ST 23) send one value per period as `-Data`. It is
    /// stored as the period value `avg`, because `FactorValues` has no other
    /// slot for it. `-DayData` and `-NightData` are only reachable by [`get`].
    ///
    /// [`get`]: Factor::get
    pub fn values(&self) -> FactorValues {
        self.values
    }

    /// Returns the instrument data flag (`-Flag`), if sent.
    pub fn flag(&self) -> Option<DataFlag> {
        self.flag
    }

    /// Returns the raw value of any suffix, such as `get("ZsRtd")` or
    /// `get("SampleTime")`.
    pub fn get(&self, suffix: &str) -> Option<&'a str> {
        self.suffixes()
            .find(|(name, _)| *name == suffix)
            .map(|(_, value)| value)
    }

    /// Iterates over `(suffix, value)` for every item of the factor.
    pub fn suffixes(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        DataArea::new(self.text)
            .items()
            .flatten()
            .filter_map(|item| {
                let (_, suffix) = split_factor_key(item.key)?;
                Some((suffix, item.value))
            })
    }
}

/// An iterator over the factors of a data area; see [`DataArea::factors`].
#[derive(Debug, Clone)]
pub struct Factors<'a> {
    text: &'a str,
    items: Items<'a>,
    pending: Option<Piece<'a>>,
}

impl<'a> Iterator for Factors<'a> {
    type Item = Result<Factor<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let piece = self.pending.take().or_else(|| self.items.next_piece())?;
            let item = match piece.into_result(self.text) {
                Ok(item) => item,
                Err(error) => return Some(Err(error)),
            };
            let Some((code, suffix)) = split_factor_key(item.key) else {
                continue;
            };
            let mut group = FactorBuilder::new(code);
            group.add(item, suffix);
            let mut group_end = piece.end;
            while let Some(next_piece) = self.items.next_piece() {
                match next_piece.item {
                    Some(next) if has_factor_code(next.key, code) => {
                        group.add(next, &next.key[code.len() + 1..]);
                        group_end = next_piece.end;
                    }
                    _ => {
                        self.pending = Some(next_piece);
                        break;
                    }
                }
            }
            return Some(group.finish(&self.text[piece.start..group_end]));
        }
    }
}

/// Bits of the suffixes a factor has seen, to catch duplicates.
const RTD: u8 = 1;
const AVG: u8 = 1 << 1;
const MIN: u8 = 1 << 2;
const MAX: u8 = 1 << 3;
const COU: u8 = 1 << 4;
const FLAG: u8 = 1 << 5;

struct FactorBuilder<'a> {
    code: &'a str,
    values: FactorValues,
    flag: Option<DataFlag>,
    seen: u8,
    error: Option<FieldError>,
}

impl<'a> FactorBuilder<'a> {
    fn new(code: &'a str) -> Self {
        Self {
            code,
            values: FactorValues::default(),
            flag: None,
            seen: 0,
            error: None,
        }
    }

    fn add(&mut self, item: Item<'a>, suffix: &str) {
        if self.error.is_some() {
            return;
        }
        let (bit, slot) = match suffix {
            "Rtd" => (RTD, &mut self.values.rtd),
            "Avg" | "Data" => (AVG, &mut self.values.avg),
            "Min" => (MIN, &mut self.values.min),
            "Max" => (MAX, &mut self.values.max),
            "Cou" => (COU, &mut self.values.cou),
            "Flag" => {
                self.add_flag(item);
                return;
            }
            _ => return,
        };
        if self.seen & bit != 0 {
            self.error = Some(FieldError::DuplicateKey {
                key: item.key.to_owned(),
            });
            return;
        }
        self.seen |= bit;
        match parse_number(item.value) {
            Some(number) => *slot = Some(number),
            None => {
                self.error = Some(FieldError::InvalidNumber {
                    key: item.key.to_owned(),
                    value: excerpt(item.value),
                });
            }
        }
    }

    fn add_flag(&mut self, item: Item<'a>) {
        if self.seen & FLAG != 0 {
            self.error = Some(FieldError::DuplicateKey {
                key: item.key.to_owned(),
            });
            return;
        }
        self.seen |= FLAG;
        match DataFlag::parse(item.value) {
            Ok(flag) => self.flag = Some(flag),
            Err(_) => {
                self.error = Some(FieldError::InvalidFlag {
                    key: item.key.to_owned(),
                    value: excerpt(item.value),
                });
            }
        }
    }

    fn finish(self, text: &'a str) -> Result<Factor<'a>, FieldError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(Factor {
                code: self.code,
                values: self.values,
                flag: self.flag,
                text,
            }),
        }
    }
}

/// Powers of ten up to 10^22, the largest that an `f64` represents exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a finite decimal number such as `-12.50`.
///
/// Plain decimals with at most 19 digits take an exact fast path. When the
/// digits form an integer up to 2^53 and there are at most 22 fraction digits,
/// both the integer and the power of ten are exact `f64` values. IEEE division
/// then rounds their quotient correctly. Everything else
/// (exponents, long mantissas) goes through `str::parse`. Infinity and NaN are
/// rejected.
pub fn parse_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut fraction_digits = 0usize;
    let mut seen_point = false;
    for &byte in unsigned {
        match byte {
            b'0'..=b'9' if digits < 19 => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                digits += 1;
                fraction_digits += usize::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return parse_number_slow(text),
        }
    }
    if digits == 0 {
        return None;
    }
    if mantissa > 1 << 53 || fraction_digits >= POWERS_OF_TEN.len() {
        return parse_number_slow(text);
    }
    let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_number_slow(text: &str) -> Option<f64> {
    let has_digit = text.bytes().any(|byte| byte.is_ascii_digit());
    text.parse::<f64>()
        .ok()
        .filter(|number| has_digit && number.is_finite())
}

/// Parses an HJ 212 time (`YYYYMMDDhhmmss`, or 17 digits with milliseconds)
/// given in the fixed UTC `offset`. `key` names the field in the error.
pub fn parse_time(key: &str, value: &str, offset: Offset) -> Result<Timestamp, FieldError> {
    let error = |detail: String| FieldError::InvalidTime {
        key: key.to_owned(),
        value: excerpt(value),
        detail,
    };
    let bytes = value.as_bytes();
    if !matches!(bytes.len(), 14 | 17) || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(error(
            "expected 14 digits YYYYMMDDhhmmss, or 17 with milliseconds".to_owned(),
        ));
    }
    let number = |from: usize, to: usize| -> i32 {
        bytes[from..to]
            .iter()
            .fold(0, |total, &byte| total * 10 + i32::from(byte - b'0'))
    };
    let millisecond = if bytes.len() == 17 { number(14, 17) } else { 0 };
    // Every part fits its type: at most 4 digits for the year, 2 for the others.
    let civil = jiff::civil::DateTime::new(
        number(0, 4) as i16,
        number(4, 6) as i8,
        number(6, 8) as i8,
        number(8, 10) as i8,
        number(10, 12) as i8,
        number(12, 14) as i8,
        millisecond * 1_000_000,
    )
    .map_err(|source| error(source.to_string()))?;
    offset
        .to_timestamp(civil)
        .map_err(|source| error(source.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn factors(text: &str) -> Vec<Result<Factor<'_>, FieldError>> {
        DataArea::new(text).factors().collect()
    }

    #[test]
    fn factor_groups_by_adjacent_code() {
        let text = "DataTime=20160801085857;w01018-Rtd=2.2,w01018-Flag=N;w01001-Avg=7.1,\
w01001-Min=7.0,w01001-Max=7.3,w01001-Cou=1.5,w01001-Flag=D,w01001-ZsAvg=7.2";
        let all = factors(text);
        assert_eq!(all.len(), 2);
        let cod = all[0].as_ref().expect("valid");
        assert_eq!(cod.code(), "w01018");
        assert_eq!(cod.values().rtd, Some(2.2));
        assert_eq!(cod.flag(), Some(DataFlag::NORMAL));
        let ph = all[1].as_ref().expect("valid");
        let values = ph.values();
        assert_eq!(values.avg, Some(7.1));
        assert_eq!(values.min, Some(7.0));
        assert_eq!(values.max, Some(7.3));
        assert_eq!(values.cou, Some(1.5));
        assert_eq!(values.rtd, None);
        assert_eq!(ph.flag(), Some(DataFlag::FAULT));
        assert_eq!(ph.get("ZsAvg"), Some("7.2"));
        assert_eq!(ph.suffixes().count(), 6);
    }

    #[test]
    fn invalid_value_keeps_other_factors() {
        let text = "w01018-Rtd=abc,w01018-Flag=N;w01001-Rtd=7.1;w21003-Flag=NN;w00000-Rtd=1";
        let all = factors(text);
        assert_eq!(all.len(), 4);
        assert_eq!(
            all[0],
            Err(FieldError::InvalidNumber {
                key: "w01018-Rtd".into(),
                value: "abc".into()
            })
        );
        assert_eq!(all[1].as_ref().expect("valid").values().rtd, Some(7.1));
        assert_eq!(
            all[2].as_ref().expect_err("bad flag").reason(),
            "invalid_flag"
        );
        assert_eq!(all[3].as_ref().expect("valid").values().rtd, Some(1.0));
        let message = all[0].as_ref().expect_err("bad value").to_string();
        assert!(
            message.contains("w01018-Rtd") && message.contains("abc"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_key_in_factor_rejected() {
        let all = factors("w01018-Rtd=1,w01018-Rtd=2;w01001-Rtd=7");
        assert_eq!(
            all[0],
            Err(FieldError::DuplicateKey {
                key: "w01018-Rtd".into()
            })
        );
        assert!(all[1].is_ok());
    }

    #[test]
    fn value_may_contain_equals() {
        let area = DataArea::new("Cmd=a=b;PolId=w01018");
        assert_eq!(area.get("Cmd"), Some("a=b"));
        assert_eq!(area.get("PolId"), Some("w01018"));
    }

    #[test]
    fn log_text_may_contain_separators() {
        let area = DataArea::new("i11001-Info=//管路;清洗,完成 a=b//;PolId=w01018");
        assert_eq!(area.get("i11001-Info"), Some("//管路;清洗,完成 a=b//"));
        assert_eq!(area.get("PolId"), Some("w01018"));
    }

    #[test]
    fn long_keys_not_truncated() {
        let area = DataArea::new("w01018-SampleTime=20160801085857,i13004-Info=1");
        assert_eq!(area.get("w01018-SampleTime"), Some("20160801085857"));
    }

    #[test]
    fn piece_without_equals_is_error() {
        let items: Vec<_> = DataArea::new("DataTime=1;;junk ; ;w01-Rtd=1")
            .items()
            .collect();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[1],
            Err(FieldError::MissingEquals {
                text: "junk".into()
            })
        );
        assert_eq!(
            items[2],
            Ok(Item {
                key: "w01-Rtd",
                value: "1"
            })
        );
    }

    #[test]
    fn noise_data_stored_as_period_value() {
        let all = factors("LA-Rtd=50.1;Leq-Data=50.0;L10-DayData=53.0");
        assert_eq!(all[0].as_ref().expect("valid").values().rtd, Some(50.1));
        assert_eq!(all[1].as_ref().expect("valid").values().avg, Some(50.0));
        let day = all[2].as_ref().expect("valid");
        assert!(day.values().is_empty());
        assert_eq!(day.get("DayData"), Some("53.0"));
    }

    #[test]
    fn data_time_14_and_17_digits() {
        let seconds = parse_time("DataTime", "20160801085857", CHINA_STANDARD_TIME).expect("valid");
        assert_eq!(seconds.to_string(), "2016-08-01T00:58:57Z");
        let millis =
            parse_time("DataTime", "20160801085857223", CHINA_STANDARD_TIME).expect("valid");
        assert_eq!(millis.to_string(), "2016-08-01T00:58:57.223Z");
        let utc = parse_time("DataTime", "20160801085857", Offset::UTC).expect("valid");
        assert_eq!(utc.to_string(), "2016-08-01T08:58:57Z");
    }

    #[test]
    fn data_time_invalid_named() {
        for value in [
            "2016080108585",
            "2016112320423050",
            "20161301085857",
            "2016080108585x",
            "20160230000000",
        ] {
            let error = parse_time("DataTime", value, CHINA_STANDARD_TIME).expect_err(value);
            assert_eq!(error.reason(), "invalid_time", "{value}");
            assert!(error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn numbers_parsed_exactly() {
        let cases = [
            ("0", 0.0),
            ("36.91", 36.91),
            ("-1.5", -1.5),
            ("+2", 2.0),
            ("0.09055002", 0.09055002),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("12345678901234567890.5", 12345678901234567890.5),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_number(text), Some(expected), "{text}");
        }
        for text in [
            "", "-", ".", "abc", "1.2.3", "NaN", "inf", "1e999", "1,5", " 1",
        ] {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn number_parse_matches_std(integer in 0u64..10_000_000_000, fraction in 0u32..1_000_000, width in 0usize..7, negative: bool) {
            let sign = if negative { "-" } else { "" };
            let text = if width == 0 {
                format!("{sign}{integer}")
            } else {
                format!("{sign}{integer}.{:0width$}", fraction % 10u32.pow(width as u32))
            };
            prop_assert_eq!(parse_number(&text), text.parse::<f64>().ok());
        }

        #[test]
        fn items_never_panic(text in "[a-z0-9=;,&/ -]{0,64}") {
            let area = DataArea::new(&text);
            let _ = area.items().count();
            let _ = area.factors().count();
        }
    }
}
