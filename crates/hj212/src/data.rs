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
use crate::scan::Separators;
use crate::time::{are_eight_digits, parse_time};

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
            separators: Separators::new(self.text.as_bytes()),
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
        self.leading_data_time()
            .or_else(|| self.get("DataTime"))
            .map(|value| parse_time("DataTime", value, offset))
            .transpose()
    }

    /// Returns the value of a first item `DataTime=DIGITS` with 14 or 17
    /// digits, which is where uploads put it, or `None` for any other text,
    /// which [`get`] then reads.
    ///
    /// [`get`]: DataArea::get
    #[inline]
    fn leading_data_time(&self) -> Option<&'a str> {
        const PREFIX: &str = "DataTime=";
        let value = self.text.strip_prefix(PREFIX)?;
        let bytes = value.as_bytes();
        let digits: &[u8; 14] = bytes.first_chunk()?;
        if !(are_eight_digits(&digits[..8]) && are_eight_digits(&digits[6..])) {
            return None;
        }
        let length = match bytes.get(14..17) {
            Some(milliseconds) if milliseconds.iter().all(u8::is_ascii_digit) => 17,
            _ => 14,
        };
        match bytes.get(length) {
            None | Some(b';' | b',') => value.get(..length),
            Some(_) => None,
        }
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

/// A piece of the data area between separators, as byte offsets into the
/// text. Offsets instead of string slices, because the factor iterator reads
/// most pieces as bytes and each `str` slice costs two boundary checks.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// The offset of the first byte.
    start: usize,
    /// The offset just past the last byte, before the `;` or `,` that ends it.
    end: usize,
    /// The offset of the first `=`, or `None` for non-blank text without `=`.
    equals: Option<usize>,
}

impl Piece {
    /// Returns the trimmed key range, which is empty for a piece without `=`.
    #[inline]
    fn key(&self, text: &str) -> (usize, usize) {
        trim_range(text, self.start, self.equals.unwrap_or(self.start))
    }

    /// Returns the trimmed value range.
    #[inline]
    fn value(&self, text: &str) -> (usize, usize) {
        let from = self.equals.map_or(self.end, |equals| equals + 1);
        trim_range(text, from, self.end)
    }

    /// Returns the error for a piece without `=`.
    #[cold]
    fn missing_equals_error(&self, text: &str) -> FieldError {
        FieldError::MissingEquals {
            text: excerpt(trim(&text[self.start..self.end])),
        }
    }

    #[inline]
    fn into_result<'a>(self, text: &'a str) -> Result<Item<'a>, FieldError> {
        if self.equals.is_none() {
            return Err(self.missing_equals_error(text));
        }
        let (key_start, key_end) = self.key(text);
        let (value_start, value_end) = self.value(text);
        Ok(Item {
            key: &text[key_start..key_end],
            value: &text[value_start..value_end],
        })
    }
}

/// An iterator over the items of a data area.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    text: &'a str,
    /// The start of the next piece.
    position: usize,
    /// The separators at or after `position`.
    separators: Separators<'a>,
}

impl<'a> Items<'a> {
    #[inline(always)]
    fn next_piece(&mut self) -> Option<Piece> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.position;
            if start >= bytes.len() {
                return None;
            }
            let Some(stop) = self.separators.next() else {
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
            let end = self.find_value_end(stop + 1);
            self.position = end + 1;
            return Some(Piece {
                start,
                end,
                equals: Some(stop),
            });
        }
    }

    /// Finds the end of the value starting at `from`: the next `;` or `,`, or
    /// for a value that starts with `//`, the first one after the closing `//`.
    #[inline(always)]
    fn find_value_end(&mut self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        if matches!(bytes.get(from), Some(b'/' | b' '))
            && let Some(close) = find_log_text_end(bytes, from)
        {
            self.separators.seek(close);
        }
        // A value may contain `=`, so only `;` and `,` end it.
        loop {
            match self.separators.next() {
                Some(position) if bytes[position] == b'=' => continue,
                Some(position) => return position,
                None => return bytes.len(),
            }
        }
    }

    /// Returns a piece without `=` for non-blank text, or `None` for blank text.
    #[cold]
    fn missing_equals(&self, start: usize, end: usize) -> Option<Piece> {
        if trim(&self.text[start..end]).is_empty() {
            return None;
        }
        Some(Piece {
            start,
            end,
            equals: None,
        })
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().map(|piece| piece.into_result(self.text))
    }
}

/// Returns the position just after the closing `//` of a value at `from`
/// that starts with `//` after optional spaces, or `None` for any other value
/// and for log text without its closing `//`.
fn find_log_text_end(bytes: &[u8], from: usize) -> Option<usize> {
    let lead = from
        + bytes[from..]
            .iter()
            .take_while(|&&byte| byte == b' ')
            .count();
    if !bytes[lead..].starts_with(b"//") {
        return None;
    }
    let close = memchr::memmem::find(&bytes[lead + 2..], b"//")?;
    Some(lead + 2 + close + 2)
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

/// Returns the range of `text[start..end]` after [`trim`]. Both ends must be
/// character boundaries, as separator positions are.
#[inline(always)]
fn trim_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    if start < end && bytes[start].is_ascii_graphic() && bytes[end - 1].is_ascii_graphic() {
        return (start, end);
    }
    trim_range_slow(text, start, end)
}

#[cold]
fn trim_range_slow(text: &str, start: usize, end: usize) -> (usize, usize) {
    let piece = &text[start..end];
    let trimmed_start = start + (piece.len() - piece.trim_start().len());
    (trimmed_start, trimmed_start + piece.trim().len())
}

/// Splits `CODE-Suffix` at the first `-`.
#[inline]
fn split_factor_key(key: &str) -> Option<(&str, &str)> {
    let dash = key.bytes().position(|byte| byte == b'-')?;
    Some((&key[..dash], &key[dash + 1..]))
}

/// One factor of the data area: its code, values and data flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factor<'a> {
    code: &'a str,
    /// The numbers of `-Rtd`, `-Avg` (or `-Data`), `-Min`, `-Max` and
    /// `-Cou` in this order, each valid only where its bit of `present` is
    /// set. Kept as plain numbers rather than a [`FactorValues`] of five
    /// `Option<f64>`, which is twice as large and so costs a memory copy each
    /// time the iterator returns a factor.
    numbers: [f64; 5],
    present: u8,
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
        let number =
            |slot: Slot| (self.present & slot.bit() != 0).then_some(self.numbers[slot as usize]);
        FactorValues {
            rtd: number(Slot::Rtd),
            avg: number(Slot::Avg),
            min: number(Slot::Min),
            max: number(Slot::Max),
            cou: number(Slot::Cou),
        }
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
    pending: Option<Piece>,
}

impl<'a> Factors<'a> {
    /// Splits the trimmed key of an item piece at its first `-`; returns
    /// `None` for keys without `-`.
    #[inline(always)]
    fn split_key(&self, piece: &Piece) -> Option<FactorKey> {
        let (key_start, key_end) = piece.key(self.text);
        let bytes = self.text.as_bytes();
        // Codes are short, so the dash is nearly always within the key's
        // first eight bytes, which one word test searches.
        let dash = match load_word(bytes, key_start) {
            Some(word) if first_byte_equal(word, b'-') < 8 => {
                key_start + first_byte_equal(word, b'-')
            }
            // A key such as `DataTime` that fits the word has no dash.
            Some(_) if key_end - key_start <= 8 => return None,
            _ => {
                key_start
                    + bytes[key_start..key_end]
                        .iter()
                        .position(|&byte| byte == b'-')?
            }
        };
        (dash < key_end).then_some(FactorKey {
            key_start,
            dash,
            key_end,
        })
    }

    /// Splits the key of an item piece whose key is `code-Suffix`; returns
    /// `None` for any other piece.
    #[inline(always)]
    fn has_code(&self, piece: &Piece, code: &CodePattern) -> Option<FactorKey> {
        piece.equals?;
        let (key_start, key_end) = piece.key(self.text);
        let bytes = self.text.as_bytes();
        let dash = key_start + code.length;
        let matches = dash < key_end
            && match (code.word, load_word(bytes, key_start)) {
                // The pattern word contains the code and its dash.
                (Some((pattern, mask)), Some(word)) => word & mask == pattern,
                _ => {
                    bytes[dash] == b'-'
                        && bytes[key_start..dash]
                            .iter()
                            .zip(code.bytes)
                            .all(|(left, right)| left == right)
                }
            };
        matches.then_some(FactorKey {
            key_start,
            dash,
            key_end,
        })
    }
}

/// A factor code to compare keys against.
struct CodePattern<'a> {
    bytes: &'a [u8],
    length: usize,
    /// The code followed by `-` as a little-endian word, and the mask of its
    /// bytes, for codes of at most seven bytes.
    word: Option<(u64, u64)>,
}

impl<'a> CodePattern<'a> {
    #[inline(always)]
    fn new(text: &'a [u8], key: &FactorKey) -> Self {
        let length = key.dash - key.key_start;
        let word = match load_word(text, key.key_start) {
            Some(word) if length < 8 => {
                let mask = u64::MAX >> (8 * (7 - length));
                Some((word & mask, mask))
            }
            _ => None,
        };
        Self {
            bytes: &text[key.key_start..key.dash],
            length,
            word,
        }
    }
}

/// Returns the eight bytes at `at` as a little-endian word, or `None` when
/// fewer than eight bytes remain.
#[inline(always)]
fn load_word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_le_bytes(*chunk))
}

/// Returns the index of the first byte of `word` equal to `byte`, or 8.
///
/// A byte of `word ^ splat(byte)` is zero where `word` has `byte`.
/// Subtracting 1 from every byte sets the high bit of a zero byte. A borrow
/// can also flag the byte after a zero byte, but never one before the first,
/// so the lowest flag is exact.
#[inline(always)]
fn first_byte_equal(word: u64, byte: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let difference = word ^ (ONES * u64::from(byte));
    let zeros = difference.wrapping_sub(ONES) & !difference & HIGH_BITS;
    zeros.trailing_zeros() as usize / 8
}

/// The parts of a `CODE-Suffix` key, as byte offsets into the data area.
#[derive(Debug, Clone, Copy)]
struct FactorKey {
    key_start: usize,
    /// The offset of the first `-`.
    dash: usize,
    key_end: usize,
}

impl<'a> Iterator for Factors<'a> {
    type Item = Result<Factor<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        loop {
            let piece = match self.pending.take() {
                Some(piece) => piece,
                None => self.items.next_piece()?,
            };
            if piece.equals.is_none() {
                return Some(Err(piece.missing_equals_error(text)));
            }
            let Some(key) = self.split_key(&piece) else {
                continue;
            };
            let code = CodePattern::new(text.as_bytes(), &key);
            let mut group = FactorBuilder::default();
            group.add(text, &piece, key);
            let mut group_end = piece.end;
            while let Some(next_piece) = self.items.next_piece() {
                match self.has_code(&next_piece, &code) {
                    Some(next_key) => {
                        group.add(text, &next_piece, next_key);
                        group_end = next_piece.end;
                    }
                    None => {
                        self.pending = Some(next_piece);
                        break;
                    }
                }
            }
            return Some(group.finish(
                &text[key.key_start..key.dash],
                &text[piece.start..group_end],
            ));
        }
    }
}

/// The value slots of a factor, in the order of [`Factor`]'s numbers.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Rtd,
    Avg,
    Min,
    Max,
    Cou,
}

impl Slot {
    /// Returns the bit of the slot in `present` and `seen`.
    #[inline(always)]
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The bit of `-Flag` in `seen`, after those of the value slots.
const FLAG: u8 = 1 << 5;

/// Returns a suffix of at most four bytes as a little-endian word, with the
/// bytes past a 3-byte suffix clear, to compare with four bytes of a key.
const fn suffix_word(suffix: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    let mut index = 0;
    while index < suffix.len() {
        bytes[index] = suffix[index];
        index += 1;
    }
    u32::from_le_bytes(bytes)
}
const RTD: u32 = suffix_word(b"Rtd");
const AVG: u32 = suffix_word(b"Avg");
const MIN: u32 = suffix_word(b"Min");
const MAX: u32 = suffix_word(b"Max");
const COU: u32 = suffix_word(b"Cou");
const DATA: u32 = suffix_word(b"Data");
const FLAG_SUFFIX: u32 = suffix_word(b"Flag");

#[derive(Default)]
struct FactorBuilder {
    numbers: [f64; 5],
    present: u8,
    flag: Option<DataFlag>,
    /// The suffixes seen so far: the slot bits and [`FLAG`], to catch duplicates.
    seen: u8,
    error: Option<FieldError>,
}

impl FactorBuilder {
    #[inline(always)]
    fn add(&mut self, text: &str, piece: &Piece, key: FactorKey) {
        if self.error.is_some() {
            return;
        }
        let bytes = text.as_bytes();
        // A suffix of at most four bytes ends at or before the `=`, so its
        // first four bytes are in the text.
        let Some(&suffix) = bytes[key.dash + 1..].first_chunk::<4>() else {
            return;
        };
        let suffix = u32::from_le_bytes(suffix);
        let slot = match key.key_end - key.dash - 1 {
            3 => match suffix & 0x00FF_FFFF {
                RTD => Slot::Rtd,
                AVG => Slot::Avg,
                MIN => Slot::Min,
                MAX => Slot::Max,
                COU => Slot::Cou,
                _ => return,
            },
            4 if suffix == DATA => Slot::Avg,
            4 if suffix == FLAG_SUFFIX => {
                self.add_flag(text, piece, key);
                return;
            }
            _ => return,
        };
        if self.seen & slot.bit() != 0 {
            self.error = Some(duplicate_key(text, key));
            return;
        }
        self.seen |= slot.bit();
        let (value_start, value_end) = piece.value(text);
        match parse_number_at(bytes, value_start, value_end) {
            Some(number) => {
                self.numbers[slot as usize] = number;
                self.present |= slot.bit();
            }
            None => self.error = Some(invalid_number(text, key, value_start, value_end)),
        }
    }

    #[inline(always)]
    fn add_flag(&mut self, text: &str, piece: &Piece, key: FactorKey) {
        if self.seen & FLAG != 0 {
            self.error = Some(duplicate_key(text, key));
            return;
        }
        self.seen |= FLAG;
        let (value_start, value_end) = piece.value(text);
        let value = &text[value_start..value_end];
        match DataFlag::parse(value) {
            Ok(flag) => self.flag = Some(flag),
            Err(_) => {
                self.error = Some(FieldError::InvalidFlag {
                    key: text[key.key_start..key.key_end].to_owned(),
                    value: excerpt(value),
                });
            }
        }
    }

    #[inline(always)]
    fn finish<'a>(self, code: &'a str, text: &'a str) -> Result<Factor<'a>, FieldError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(Factor {
                code,
                numbers: self.numbers,
                present: self.present,
                flag: self.flag,
                text,
            }),
        }
    }
}

#[cold]
fn duplicate_key(text: &str, key: FactorKey) -> FieldError {
    FieldError::DuplicateKey {
        key: text[key.key_start..key.key_end].to_owned(),
    }
}

#[cold]
fn invalid_number(text: &str, key: FactorKey, value_start: usize, value_end: usize) -> FieldError {
    FieldError::InvalidNumber {
        key: text[key.key_start..key.key_end].to_owned(),
        value: excerpt(&text[value_start..value_end]),
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
    parse_number_bytes(text.as_bytes())
}

/// Parses a finite decimal number, as [`parse_number`] does, from the bytes
/// of a string.
#[inline]
fn parse_number_bytes(bytes: &[u8]) -> Option<f64> {
    let (negative, unsigned) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mut mantissa, integer_digits) = accumulate_digits(0, unsigned);
    let mut end = integer_digits;
    let mut fraction_digits = 0;
    if unsigned.get(end) == Some(&b'.') {
        let fraction = &unsigned[end + 1..];
        (mantissa, fraction_digits) = accumulate_digits(mantissa, fraction);
        end += 1 + fraction_digits;
    }
    let digits = integer_digits + fraction_digits;
    if end != unsigned.len() || digits > 19 {
        return parse_number_slow_bytes(bytes);
    }
    if digits == 0 {
        return None;
    }
    if mantissa > 1 << 53 || fraction_digits >= POWERS_OF_TEN.len() {
        return parse_number_slow_bytes(bytes);
    }
    let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses the number at `bytes[start..end]`, as [`parse_number`] does.
///
/// A value of at most eight bytes after its sign, with eight bytes of
/// `bytes` readable from its start, is parsed as one word (SWAR). Anything
/// else, and any value that the word path cannot read as a plain decimal,
/// goes through [`parse_number_bytes`].
#[inline(always)]
fn parse_number_at(bytes: &[u8], start: usize, end: usize) -> Option<f64> {
    let (negative, digits_start) = match bytes.get(start) {
        Some(b'-') => (true, start + 1),
        Some(b'+') => (false, start + 1),
        _ => (false, start),
    };
    let length = end.saturating_sub(digits_start);
    if (1..=8).contains(&length)
        && let Some(word) = load_word(bytes, digits_start)
        && let Some(magnitude) = parse_decimal_word(word, length)
    {
        return Some(if negative { -magnitude } else { magnitude });
    }
    parse_number_bytes(bytes.get(start..end)?)
}

/// Parses the first `length` bytes (1 to 8) of `word`, read little-endian
/// from the text, as digits with at most one `.`. Returns `None` for
/// anything else, including text without digits.
///
/// The mantissa and the count of fraction digits are the same as
/// [`parse_number_bytes`] computes, and so is the division that follows, so
/// the result is bit-identical.
#[inline(always)]
fn parse_decimal_word(word: u64, length: usize) -> Option<f64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let value_mask = u64::MAX >> (8 * (8 - length));
    let word = word & value_mask;
    // Flags a byte equal to '.', and possibly a '/' after one (see
    // `first_byte_equal`), so a second flag sends the value elsewhere.
    let difference = (word ^ (ONES * u64::from(b'.'))) | !value_mask;
    let dots = difference.wrapping_sub(ONES) & !difference & HIGH_BITS;
    // `count_ones` would be a long sequence without the POPCNT instruction,
    // which the baseline x86_64 target lacks, so test for one set bit.
    let (digits, digit_count, fraction_digits) = match dots {
        0 => (word, length, 0),
        _ if dots & (dots - 1) == 0 => {
            let dot = dots.trailing_zeros() as usize / 8;
            let before = word & ((1u64 << (8 * dot)) - 1);
            // A dot in the last byte leaves nothing after it.
            let after = word.checked_shr(8 * dot as u32 + 8).unwrap_or(0) << (8 * dot);
            (before | after, length - 1, length - 1 - dot)
        }
        _ => return None,
    };
    if digit_count == 0 {
        return None;
    }
    // Shift the digits to the end of the word, behind leading zeros, so
    // that the first digit is the most significant of eight.
    let shift = 8 * (8 - digit_count);
    let padded = (digits << shift) | ((ONES * u64::from(b'0')) & !(u64::MAX << shift));
    if !are_eight_digits(&padded.to_le_bytes()) {
        return None;
    }
    let mantissa = eight_digits_value(padded);
    Some(f64::from(mantissa) / POWERS_OF_TEN[fraction_digits])
}

/// Returns the value of eight ASCII digits in a little-endian word, the
/// first byte most significant, by combining neighbours into 2-, 4- and then
/// 8-digit numbers with three multiplications.
#[inline(always)]
fn eight_digits_value(word: u64) -> u32 {
    const PAIRS: u64 = 0x0000_00FF_0000_00FF;
    let digits = word.wrapping_sub(0x3030_3030_3030_3030);
    // The low byte of each byte pair is now its 2-digit number.
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let high = (pairs & PAIRS).wrapping_mul(100 + (1_000_000 << 32));
    let low = ((pairs >> 16) & PAIRS).wrapping_mul(1 + (10_000 << 32));
    (high.wrapping_add(low) >> 32) as u32
}

/// Appends the leading ASCII digits of `bytes` to `mantissa` in base ten;
/// returns the new mantissa and the number of digits. The mantissa wraps
/// past 19 digits, so callers must not use it then.
#[inline(always)]
fn accumulate_digits(mut mantissa: u64, bytes: &[u8]) -> (u64, usize) {
    let mut count = 0;
    while let Some(&byte) = bytes.get(count) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
        count += 1;
    }
    (mantissa, count)
}

#[cold]
fn parse_number_slow_bytes(bytes: &[u8]) -> Option<f64> {
    parse_number_slow(std::str::from_utf8(bytes).ok()?)
}

fn parse_number_slow(text: &str) -> Option<f64> {
    let has_digit = text.bytes().any(|byte| byte.is_ascii_digit());
    text.parse::<f64>()
        .ok()
        .filter(|number| has_digit && number.is_finite())
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

    /// The number parser before digits were accumulated in runs, kept to
    /// prove that the current one returns bit-identical values.
    fn parse_number_reference(text: &str) -> Option<f64> {
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

    fn same_bits(left: Option<f64>, right: Option<f64>) -> bool {
        left.map(f64::to_bits) == right.map(f64::to_bits)
    }

    proptest! {
        #[test]
        fn number_parse_matches_reference_on_decimals(text in "[-+]?[0-9]{0,24}(\\.[0-9]{0,24})?") {
            prop_assert!(same_bits(parse_number(&text), parse_number_reference(&text)), "{text:?}");
        }

        #[test]
        fn number_parse_matches_reference_on_any_text(text in "[-+.0-9eE ]{0,26}") {
            prop_assert!(same_bits(parse_number(&text), parse_number_reference(&text)), "{text:?}");
        }

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
        fn leading_data_time_matches_get(value in "[0-9]{0,18}[0-9;,= /a]{0,3}", rest in "[a-z0-9=;,/ -]{0,12}") {
            let text = format!("DataTime={value}{rest}");
            let area = DataArea::new(&text);
            if let Some(leading) = area.leading_data_time() {
                prop_assert_eq!(Some(leading), area.get("DataTime"));
            }
        }

        #[test]
        fn number_word_path_matches_parse_number(
            value in "[-+]?[0-9.]{0,9}|[-+]?[0-9]{0,4}[./:a ,\u{e9}][0-9]{0,4}",
            prefix in "[0-9a-z=;,.]{0,3}",
            suffix in "[0-9;,.=&/]{0,10}",
        ) {
            // The bytes around the value are what the word path loads past
            // its end, and they must not change the result.
            let text = format!("{prefix}{value}{suffix}");
            let start = prefix.len();
            let parsed = parse_number_at(text.as_bytes(), start, start + value.len());
            prop_assert!(same_bits(parsed, parse_number(&value)), "{value:?} in {text:?}");
        }

        #[test]
        fn eight_digits_value_matches_loop(number in 0u32..100_000_000) {
            let text = format!("{number:08}");
            let word = u64::from_le_bytes(text.as_bytes().try_into().expect("8 bytes"));
            prop_assert_eq!(eight_digits_value(word), number);
        }

        #[test]
        fn items_never_panic(text in "[a-z0-9=;,&/ -]{0,64}") {
            let area = DataArea::new(&text);
            let _ = area.items().count();
            let _ = area.factors().count();
        }
    }
}
