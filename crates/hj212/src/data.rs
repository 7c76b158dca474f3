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
        /// What is wrong with it.
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
        /// Why it is invalid.
        detail: String,
    },
    /// The packet's MN is not valid for a reading.
    #[error("invalid MN {mn:?}: {detail}")]
    InvalidMn {
        /// The MN as received, shortened.
        mn: String,
        /// Why it is invalid.
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
    /// A factor with a value that is not a number or a flag that is not one
    /// letter is an error item naming the key; the factors after it still come
    /// through. A code that appears again after other factors is yielded again.
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

/// A piece of the data area: its byte range and the item it holds.
type Piece<'a> = (usize, usize, Result<Item<'a>, FieldError>);

/// An iterator over the items of a data area.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Items<'a> {
    fn next_piece(&mut self) -> Option<Piece<'a>> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.position;
            if start >= bytes.len() {
                return None;
            }
            let Some(offset) = memchr::memchr3(b';', b',', b'=', &bytes[start..]) else {
                self.position = bytes.len();
                return self.missing_equals(start, bytes.len());
            };
            let stop = start + offset;
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
                key: self.text[start..stop].trim(),
                value: self.text[stop + 1..value_end].trim(),
            };
            return Some((start, value_end, Ok(item)));
        }
    }

    /// Returns an error piece for non-blank text without `=`, or `None` for blank text.
    fn missing_equals(&self, start: usize, end: usize) -> Option<Piece<'a>> {
        let text = self.text[start..end].trim();
        if text.is_empty() {
            return None;
        }
        Some((
            start,
            end,
            Err(FieldError::MissingEquals {
                text: excerpt(text),
            }),
        ))
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().map(|(_, _, item)| item)
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
    memchr::memchr2(b';', b',', &bytes[scan_from..]).map_or(bytes.len(), |at| scan_from + at)
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
    /// Noise uploads (ST 23) send one value per period as `-Data`; it is
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
                let (_, suffix) = item.key.split_once('-')?;
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
            let (start, end, item) = self.pending.take().or_else(|| self.items.next_piece())?;
            let item = match item {
                Ok(item) => item,
                Err(error) => return Some(Err(error)),
            };
            let Some((code, _)) = item.key.split_once('-') else {
                continue;
            };
            let mut group = FactorBuilder::new(code);
            group.add(item);
            let mut group_end = end;
            while let Some(piece) = self.items.next_piece() {
                match &piece.2 {
                    Ok(next) if factor_code(next.key) == Some(code) => {
                        group.add(*next);
                        group_end = piece.1;
                    }
                    _ => {
                        self.pending = Some(piece);
                        break;
                    }
                }
            }
            return Some(group.finish(&self.text[start..group_end]));
        }
    }
}

fn factor_code(key: &str) -> Option<&str> {
    key.split_once('-').map(|(code, _)| code)
}

/// Which suffixes a factor has seen, to catch duplicates.
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

    fn add(&mut self, item: Item<'a>) {
        if self.error.is_some() {
            return;
        }
        let suffix = item.key.split_once('-').map_or("", |(_, suffix)| suffix);
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

/// Exact powers of ten up to 10^22, the largest that an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a finite decimal number such as `-12.50`.
///
/// Plain decimals with at most 19 digits take a fast path that is exact:
/// when the digits form an integer up to 2^53 and there are at most 22
/// fraction digits, both the integer and the power of ten are exact `f64`
/// values, and IEEE division rounds their quotient correctly. Everything else
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
