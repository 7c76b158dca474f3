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

use crate::number::{parse_number_at, parse_number_from_word};
use crate::packet::excerpt;
use crate::scan::Separators;
use crate::time::{are_eight_digits, parse_digit_time, parse_time};

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
    /// The length of the value of a first item `DataTime=DIGITS` with 14 or
    /// 17 digits, or 0 for any other text. Both [`DataArea::data_time`] and
    /// [`DataArea::factors`] need it, so it is found once.
    leading_data_time_length: u8,
}

impl<'a> DataArea<'a> {
    /// Wraps data area text (without the surrounding `&&`).
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            leading_data_time_length: leading_data_time_length(text),
        }
    }

    /// Creates a data area from its text and the result of
    /// [`leading_data_time_length`](Self::leading_data_time_length) for it.
    pub(crate) fn from_parts(text: &'a str, leading_data_time_length: u8) -> Self {
        Self {
            text,
            leading_data_time_length,
        }
    }

    /// Returns the length of the value of a first item `DataTime=DIGITS`
    /// with 14 or 17 digits, or 0 for any other text.
    pub(crate) fn leading_data_time_length(&self) -> u8 {
        self.leading_data_time_length
    }

    /// Returns the text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Iterates over the items in order; a piece without `=` is an error item.
    pub fn items(&self) -> Items<'a> {
        Items::new(self.text)
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
        if let Some(value) = self.leading_data_time() {
            // Its digits were checked when the data area was created.
            return parse_digit_time("DataTime", value, offset).map(Some);
        }
        self.contains_data_time()
            .then(|| self.get("DataTime"))
            .flatten()
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
        const PREFIX_LENGTH: usize = "DataTime=".len();
        let length = usize::from(self.leading_data_time_length);
        if length == 0 {
            return None;
        }
        self.text.get(PREFIX_LENGTH..PREFIX_LENGTH + length)
    }

    /// Returns false if the text does not contain `DataTime`, so that a
    /// packet without it, such as a command or a reply, skips the item
    /// search.
    #[inline]
    fn contains_data_time(&self) -> bool {
        let bytes = self.text.as_bytes();
        memchr::memchr_iter(b'D', bytes).any(|at| bytes[at..].starts_with(b"DataTime"))
    }

    /// Iterates over the factors: runs of adjacent `CODE-Suffix` items with
    /// the same code, such as `w01018-Rtd=2.2,w01018-Flag=N`.
    ///
    /// Items without `-` (`DataTime`, `RtdInterval`, vendor keys) are skipped.
    /// A factor with a value that is not a number, or with a flag that is not
    /// one letter, is an error item naming the key. The factors after it still
    /// come through. A code that appears again after other factors is yielded again.
    pub fn factors(&self) -> Factors<'a> {
        // Most factors are read from word loads, so no block is scanned for
        // separators until the general path needs them.
        let mut items = Items {
            text: self.text,
            position: 0,
            separators: Separators::unscanned(self.text.as_bytes()),
        };
        // The leading `DataTime` of an upload is no factor, so the iterator
        // starts after it and its separator.
        let length = usize::from(self.leading_data_time_length);
        if length != 0 {
            items.skip_to("DataTime=".len() + length + 1);
        }
        Factors {
            text: self.text,
            items,
        }
    }
}

/// Returns the length of the value of a first item `DataTime=DIGITS` of
/// `text` with 14 or 17 digits, or 0 for any other text.
#[inline]
fn leading_data_time_length(text: &str) -> u8 {
    const NAME: u64 = u64::from_le_bytes(*b"DataTime");
    const PREFIX_LENGTH: usize = "DataTime=".len();
    let bytes = text.as_bytes();
    // The name, its `=` and 14 digits.
    let Some(head) = bytes.first_chunk::<23>() else {
        return 0;
    };
    let name = u64::from_le_bytes(*head.first_chunk::<8>().expect("23 bytes"));
    if name != NAME
        || head[8] != b'='
        || !(are_eight_digits(&head[9..17]) && are_eight_digits(&head[15..23]))
    {
        return 0;
    }
    let length = match bytes.get(23..26) {
        Some(milliseconds) if milliseconds.iter().all(u8::is_ascii_digit) => 17,
        _ => 14,
    };
    match bytes.get(PREFIX_LENGTH + usize::from(length)) {
        None | Some(b';' | b',') => length,
        Some(_) => 0,
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
    /// The separators of the text. The factor iterator's word paths move
    /// `position` without it, so it may still hold separators before
    /// `position`, and [`next_piece`](Self::next_piece) skips them first.
    separators: Separators<'a>,
}

impl<'a> Items<'a> {
    fn new(text: &'a str) -> Self {
        Items {
            text,
            position: 0,
            separators: Separators::new(text.as_bytes()),
        }
    }

    #[inline(always)]
    fn next_piece(&mut self) -> Option<Piece> {
        let bytes = self.text.as_bytes();
        self.separators.seek(self.position);
        loop {
            let start = self.position;
            if start >= bytes.len() {
                return None;
            }
            let Some(stop) = self.separators.next() else {
                self.position = bytes.len();
                return missing_equals(self.text, start, bytes.len());
            };
            if bytes[stop] != b'=' {
                self.position = stop + 1;
                match missing_equals(self.text, start, stop) {
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

    /// Moves forward to `position`, the start of a piece or the end of the
    /// text, so that the next call returns the piece there. The separator
    /// iterator catches up in [`next_piece`](Self::next_piece).
    #[inline]
    fn skip_to(&mut self, position: usize) {
        self.position = position;
    }

    /// Moves back to `start`, the start of a piece returned before, so that
    /// the next call returns that piece again.
    #[cold]
    fn rewind(&mut self, start: usize) {
        self.position = start;
        self.separators.reset(start);
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().map(|piece| piece.into_result(self.text))
    }
}

/// Returns a piece without `=` for non-blank text, or `None` for blank text.
#[cold]
fn missing_equals(text: &str, start: usize, end: usize) -> Option<Piece> {
    if trim(&text[start..end]).is_empty() {
        return None;
    }
    Some(Piece {
        start,
        end,
        equals: None,
    })
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
///
/// The code and the factor's text are kept as byte offsets into the data
/// area and sliced only when [`code`](Factor::code), [`get`](Factor::get)
/// or [`suffixes`](Factor::suffixes) is called. Each `str` slice checks two
/// character boundaries, and many callers read only the values.
#[derive(Debug, Clone, Copy)]
pub struct Factor<'a> {
    /// The whole data area.
    area: &'a str,
    /// The offset of the factor's first item in `area`, which may start
    /// with whitespace.
    start: usize,
    /// The offsets of the code in `area`: the trimmed key start of the
    /// first item, and its first `-`.
    code_start: usize,
    code_end: usize,
    /// The offset just past the factor's last item in `area`.
    end: usize,
    /// The numbers of `-Rtd`, `-Avg` (or `-Data`), `-Min`, `-Max` and
    /// `-Cou` in this order, each valid only where its bit of `present` is
    /// set. Kept as plain numbers rather than a [`FactorValues`] of five
    /// `Option<f64>`, which is twice as large and so costs a memory copy each
    /// time the iterator returns a factor.
    numbers: [f64; 5],
    present: u8,
    flag: Option<DataFlag>,
}

impl PartialEq for Factor<'_> {
    /// Compares the code, the numbers, the flag and the factor's text, not
    /// where the factor lies in its data area.
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
            && self.numbers == other.numbers
            && self.present == other.present
            && self.flag == other.flag
            && self.text() == other.text()
    }
}

impl<'a> Factor<'a> {
    /// Returns the factor code, such as `w01018`.
    pub fn code(&self) -> &'a str {
        &self.area[self.code_start..self.code_end]
    }

    /// Returns the factor's items as they appear in the data area.
    fn text(&self) -> &'a str {
        &self.area[self.start..self.end]
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
        Items::new(self.text()).flatten().filter_map(|item| {
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
                _ => bytes[dash] == b'-' && bytes.get(key_start..dash) == code.bytes_in(bytes),
            };
        matches.then_some(FactorKey {
            key_start,
            dash,
            key_end,
        })
    }
}

impl Factors<'_> {
    /// Returns the next item if it belongs to the factor `code`, and
    /// otherwise leaves it for the next factor.
    ///
    /// A piece that starts with printable ASCII other than `;` and `,`
    /// needs no trimming at its start, so it belongs to the factor exactly
    /// when the code and `-` start it. Most pieces after a factor are
    /// rejected with that test before they are read, and only pieces that
    /// start with whitespace or a separator take the general path.
    #[inline(always)]
    fn next_item_of(&mut self, code: &CodePattern) -> Option<FactorItem> {
        let bytes = self.text.as_bytes();
        let start = self.items.position;
        if code.starts_at(bytes, start) {
            // A code never starts with whitespace, so the key needs no
            // trimming at its start.
            let dash = start + code.length;
            if let Some(item) = self.read_flag_item(dash) {
                return Some(item);
            }
            if let Some(item) = self.read_value_item(dash) {
                return Some(item);
            }
        } else {
            let first = *bytes.get(start)?;
            if first.is_ascii_graphic() && first != b';' && first != b',' {
                return None;
            }
        }
        let piece = self.items.next_piece()?;
        let Some(key) = self.has_code(&piece, code) else {
            self.items.rewind(piece.start);
            return None;
        };
        Some(FactorItem::new(self.text, &piece, key))
    }

    /// Reads the item at the current position when it is `-Flag=` and one
    /// letter, ended by `;` or `,`, after the dash at `dash` that follows the
    /// current factor's code.
    ///
    /// The code contains no separator, because it was read from a key, so
    /// the item's only separators are its `=` and the one that ends it. They
    /// are skipped without reading them one by one. Any other item returns
    /// `None` without moving.
    #[inline(always)]
    fn read_flag_item(&mut self, dash: usize) -> Option<FactorItem> {
        const FLAG_EQUALS: u64 = u64::from_le_bytes(*b"Flag=\0\0\0");
        const FLAG_EQUALS_MASK: u64 = 0xFF_FFFF_FFFF;
        let word = load_word(self.text.as_bytes(), dash + 1)?;
        let letter = (word >> 40) as u8;
        let separator = (word >> 48) as u8;
        if word & FLAG_EQUALS_MASK != FLAG_EQUALS
            || !letter.is_ascii_alphabetic()
            || !(separator == b';' || separator == b',')
        {
            return None;
        }
        let start = self.items.position;
        let equals = dash + 5;
        let end = equals + 2;
        self.items.position = end + 1;
        Some(FactorItem::untrimmed(
            start,
            dash,
            equals,
            end,
            Target::FlagLetter(letter),
        ))
    }

    /// Reads the item at the current position if it can start a factor and
    /// its key is `CODE-Suffix` with a value suffix directly before `=`, as
    /// [`read_value_item`](Self::read_value_item) reads later items. Also
    /// returns the pattern of its code, built from the item's first eight
    /// bytes, and its number when the suffix takes one and the value parses.
    ///
    /// The key, the suffix and the value's first eight bytes are read from
    /// one [`Window`], so their bounds are checked once.
    #[inline(always)]
    fn first_value_item(&mut self) -> Option<(FactorItem, CodePattern, Option<f64>)> {
        let start = self.items.position;
        let bytes = self.text.as_bytes();
        let mut padding = [0; 24];
        let window = Window::at(bytes, start, &mut padding)?;
        let word = window.word(0);
        // The key must need no trimming at its start.
        if !(word as u8).is_ascii_graphic() {
            return None;
        }
        let offset = first_byte_equal(word, b'-');
        // The key must contain no separator before its dash, or the general
        // path splits the text there.
        if offset == 8 || first_separator(word) < offset {
            return None;
        }
        let dash = start + offset;
        let (equals_offset, target) = match window.suffix(offset + 1) {
            RTD_EQUALS => (offset + 4, Target::Number(Slot::Rtd)),
            AVG_EQUALS => (offset + 4, Target::Number(Slot::Avg)),
            MIN_EQUALS => (offset + 4, Target::Number(Slot::Min)),
            MAX_EQUALS => (offset + 4, Target::Number(Slot::Max)),
            COU_EQUALS => (offset + 4, Target::Number(Slot::Cou)),
            DATA if window.byte(offset + 5) == b'=' => (offset + 5, Target::Number(Slot::Avg)),
            FLAG_SUFFIX if window.byte(offset + 5) == b'=' => (offset + 5, Target::Flag),
            _ => return None,
        };
        let value_start = start + equals_offset + 1;
        let value_word = window.word(equals_offset + 1);
        let end = find_plain_value_end(bytes, value_start, Some(value_word))?;
        self.items.position = end + 1;
        let number = match target {
            Target::Number(_) => parse_number_from_word(Some(value_word), bytes, value_start, end),
            _ => None,
        };
        let item = FactorItem::untrimmed(start, dash, start + equals_offset, end, target);
        // The dash is one of the word's eight bytes, so the code and its
        // dash fill at most the whole word.
        let mask = u64::MAX >> (8 * (7 - offset));
        let code = CodePattern {
            start,
            length: offset,
            word: Some((word & mask, mask)),
        };
        Some((item, code, number))
    }

    /// Reads the item at the current position when its key runs from there
    /// to a value suffix (`Rtd`, `Avg`, `Min`, `Max`, `Cou`, `Data` or
    /// `Flag`) after the dash at `dash`, followed directly by `=`.
    ///
    /// The caller checks that the key needs no trimming at its start and
    /// has no separator before the dash, and the suffix needs none at its
    /// end. Any other item, or a value that [`find_plain_value_end`] does
    /// not end, returns `None` without moving, so the general path reads
    /// it. This path only skips the work of finding and trimming a key and
    /// of the separator iterator, and finds the same offsets.
    #[inline(always)]
    fn read_value_item(&mut self, dash: usize) -> Option<FactorItem> {
        let bytes = self.text.as_bytes();
        let start = self.items.position;
        let suffix = u32::from_le_bytes(*bytes.get(dash + 1..)?.first_chunk::<4>()?);
        let (equals, target) = match suffix {
            RTD_EQUALS => (dash + 4, Target::Number(Slot::Rtd)),
            AVG_EQUALS => (dash + 4, Target::Number(Slot::Avg)),
            MIN_EQUALS => (dash + 4, Target::Number(Slot::Min)),
            MAX_EQUALS => (dash + 4, Target::Number(Slot::Max)),
            COU_EQUALS => (dash + 4, Target::Number(Slot::Cou)),
            DATA if bytes.get(dash + 5) == Some(&b'=') => (dash + 5, Target::Number(Slot::Avg)),
            FLAG_SUFFIX if bytes.get(dash + 5) == Some(&b'=') => (dash + 5, Target::Flag),
            _ => return None,
        };
        let end = find_plain_value_end(bytes, equals + 1, None)?;
        self.items.position = end + 1;
        Some(FactorItem::untrimmed(start, dash, equals, end, target))
    }
}

/// A factor code to compare keys against.
struct CodePattern {
    /// The offset of the code in the data area.
    start: usize,
    length: usize,
    /// The code followed by `-` as a little-endian word, and the mask of its
    /// bytes, for codes of at most seven bytes.
    word: Option<(u64, u64)>,
}

impl CodePattern {
    /// Returns the code's bytes in `text`, the data area it was read from.
    /// Not kept as a slice, because slicing checks bounds, and only codes
    /// of eight bytes or more need the bytes.
    fn bytes_in<'a>(&self, text: &'a [u8]) -> Option<&'a [u8]> {
        text.get(self.start..self.start + self.length)
    }

    /// Returns true if the code and `-` start at `position`.
    #[inline(always)]
    fn starts_at(&self, text: &[u8], position: usize) -> bool {
        match (self.word, load_word(text, position)) {
            (Some((pattern, mask)), Some(word)) => word & mask == pattern,
            _ => {
                text.get(position..position + self.length) == self.bytes_in(text)
                    && text.get(position + self.length) == Some(&b'-')
            }
        }
    }

    #[inline(always)]
    fn new(text: &[u8], key: &FactorKey) -> Self {
        let length = key.dash - key.key_start;
        let word = match load_word(text, key.key_start) {
            Some(word) if length < 8 => {
                let mask = u64::MAX >> (8 * (7 - length));
                Some((word & mask, mask))
            }
            _ => None,
        };
        Self {
            start: key.key_start,
            length,
            word,
        }
    }
}

/// Returns the eight bytes at `at` as a little-endian word, or `None` when
/// fewer than eight bytes remain.
#[inline(always)]
pub(crate) fn load_word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_le_bytes(*chunk))
}

/// Returns the end of the value that starts at `from`: the first `;` or
/// `,` within 16 bytes, or the end of `bytes` when fewer bytes remain.
/// Returns `None` for a longer value and for one that starts with `/` or a
/// space, which may be log text (see [`find_log_text_end`]). `word` is
/// the value's first eight bytes if the caller has loaded them, with `;`
/// past the end of `bytes` as in a [`Window`].
#[inline(always)]
fn find_plain_value_end(bytes: &[u8], from: usize, word: Option<u64>) -> Option<usize> {
    let Some(word) = word.or_else(|| load_word(bytes, from)) else {
        let rest = bytes.get(from..)?;
        if matches!(rest.first(), Some(b'/' | b' ')) {
            return None;
        }
        return Some(from + item_end_in(rest));
    };
    if matches!(word as u8, b'/' | b' ') {
        return None;
    }
    let offset = first_item_end(word);
    if offset < 8 {
        return Some(from + offset);
    }
    let second = from + 8;
    match load_word(bytes, second) {
        Some(word) => {
            let offset = first_item_end(word);
            (offset < 8).then_some(second + offset)
        }
        None => Some(second + item_end_in(bytes.get(second..)?)),
    }
}

/// Returns the offset of the first `;` or `,` in `rest`, or its length.
fn item_end_in(rest: &[u8]) -> usize {
    rest.iter()
        .position(|&byte| byte == b';' || byte == b',')
        .unwrap_or(rest.len())
}

/// The 24 bytes of a data area at an offset, read with one bounds check,
/// with `;` in place of any bytes past the end of the text. A `;` there
/// ends an item where the text ends, as the end of the text does.
///
/// A window borrows the text where 24 bytes remain. A version that
/// copied them to the stack took about a quarter more CPU time for the
/// whole decode, with 33 more instructions per packet. The likely cause
/// is that a word read across two of the copy's stores cannot be
/// forwarded from them and waits until they reach the cache.
struct Window<'a>(&'a [u8; 24]);

impl<'a> Window<'a> {
    /// Returns the window at `at`, or `None` past the end of `bytes`.
    /// `padding` receives the padded bytes when fewer than 24 remain.
    #[inline(always)]
    fn at(bytes: &'a [u8], at: usize, padding: &'a mut [u8; 24]) -> Option<Self> {
        let rest = bytes.get(at..)?;
        match rest.first_chunk::<24>() {
            Some(bytes) => Some(Self(bytes)),
            None => {
                pad(padding, rest);
                Some(Self(padding))
            }
        }
    }

    /// Returns the `N` bytes at `offset`, which must leave `N` bytes in
    /// the window. The clamp to that range lets the compiler drop the
    /// bounds check.
    #[inline(always)]
    fn bytes<const N: usize>(&self, offset: usize) -> [u8; N] {
        let offset = offset.min(24 - N);
        self.0[offset..offset + N]
            .try_into()
            .expect("N bytes within the window")
    }

    /// Returns the eight bytes at `offset`, at most 16, as a little-endian
    /// word.
    #[inline(always)]
    fn word(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.bytes(offset))
    }

    /// Returns the four bytes at `offset`, at most 20, as a little-endian
    /// word.
    #[inline(always)]
    fn suffix(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.bytes(offset))
    }

    #[inline(always)]
    fn byte(&self, offset: usize) -> u8 {
        self.0[offset.min(23)]
    }
}

/// Fills `padding` with `rest`, fewer than 24 bytes, and `;` after them.
#[cold]
fn pad(padding: &mut [u8; 24], rest: &[u8]) {
    *padding = [b';'; 24];
    padding[..rest.len()].copy_from_slice(rest);
}

/// Returns the bytes of `word` that are zero with their high bit set, and
/// possibly bytes after a zero byte (see [`first_byte_equal`]).
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    word.wrapping_sub(ONES) & !word & HIGH_BITS
}

/// Returns the index of the first `;` or `,` in `word`, or 8.
///
/// Each byte test flags bytes only at or after its first match, so the
/// lowest flag of the two tests together is exact.
#[inline(always)]
fn first_item_end(word: u64) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let flags =
        zero_bytes(word ^ (ONES * u64::from(b';'))) | zero_bytes(word ^ (ONES * u64::from(b',')));
    flags.trailing_zeros() as usize / 8
}

/// Returns the index of the first separator (`;`, `,` or `=`) in `word`,
/// or 8, exact for the same reason as [`first_item_end`].
#[inline(always)]
fn first_separator(word: u64) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let flags = zero_bytes(word ^ (ONES * u64::from(b';')))
        | zero_bytes(word ^ (ONES * u64::from(b',')))
        | zero_bytes(word ^ (ONES * u64::from(b'=')));
    flags.trailing_zeros() as usize / 8
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

/// The value that a factor item sets.
#[derive(Debug, Clone, Copy)]
enum Target {
    Number(Slot),
    Flag,
    /// A flag already checked to be one ASCII letter.
    FlagLetter(u8),
}

/// One item of a factor, as byte offsets into the data area.
#[derive(Debug, Clone, Copy)]
struct FactorItem {
    /// The offset of the piece's first byte, before any trimmed whitespace.
    start: usize,
    /// The offset of the `;` or `,` that ends the piece, or the text length.
    end: usize,
    key: FactorKey,
    /// The value's range, which may still have whitespace at its ends.
    value_start: usize,
    value_end: usize,
    /// The value the suffix sets, or `None` for other suffixes such as
    /// `ZsRtd` or `Info`.
    target: Option<Target>,
}

impl FactorItem {
    #[inline(always)]
    fn new(text: &str, piece: &Piece, key: FactorKey) -> Self {
        let (value_start, value_end) = piece.value(text);
        Self {
            start: piece.start,
            end: piece.end,
            key,
            value_start,
            value_end,
            target: suffix_target(text.as_bytes(), key),
        }
    }

    /// Returns an item that starts at `start` with no whitespace to trim:
    /// the key runs to the `=` at `equals` and the value from after it to the
    /// separator at `end`.
    #[inline(always)]
    fn untrimmed(start: usize, dash: usize, equals: usize, end: usize, target: Target) -> Self {
        Self {
            start,
            end,
            key: FactorKey {
                key_start: start,
                dash,
                key_end: equals,
            },
            value_start: equals + 1,
            value_end: end,
            target: Some(target),
        }
    }
}

/// Returns the value that the suffix of `key` sets, if any.
#[inline(always)]
fn suffix_target(bytes: &[u8], key: FactorKey) -> Option<Target> {
    // A suffix of at most four bytes ends at or before the `=`, so its
    // first four bytes are in the text.
    let suffix = u32::from_le_bytes(*bytes[key.dash + 1..].first_chunk::<4>()?);
    let slot = match key.key_end - key.dash - 1 {
        3 => match suffix & 0x00FF_FFFF {
            RTD => Slot::Rtd,
            AVG => Slot::Avg,
            MIN => Slot::Min,
            MAX => Slot::Max,
            COU => Slot::Cou,
            _ => return None,
        },
        4 if suffix == DATA => Slot::Avg,
        4 if suffix == FLAG_SUFFIX => return Some(Target::Flag),
        _ => return None,
    };
    Some(Target::Number(slot))
}

impl<'a> Iterator for Factors<'a> {
    type Item = Result<Factor<'a>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        // The end needs no separator search.
        if self.items.position >= text.len() {
            return None;
        }
        let mut group = FactorBuilder::default();
        let (first, code) = loop {
            if let Some((item, code, number)) = self.first_value_item() {
                match (item.target, number) {
                    (Some(Target::Number(slot)), Some(number)) => group.set_number(slot, number),
                    _ => group.add(text, &item),
                }
                break (item, code);
            }
            let piece = self.items.next_piece()?;
            if piece.equals.is_none() {
                return Some(Err(piece.missing_equals_error(text)));
            }
            if let Some(key) = self.split_key(&piece) {
                let item = FactorItem::new(text, &piece, key);
                group.add(text, &item);
                break (item, CodePattern::new(text.as_bytes(), &item.key));
            }
        };
        let mut group_end = first.end;
        while let Some(item) = self.next_item_of(&code) {
            group.add(text, &item);
            group_end = item.end;
        }
        Some(group.finish(text, &first, group_end))
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
const RTD_EQUALS: u32 = suffix_word(b"Rtd=");
const AVG_EQUALS: u32 = suffix_word(b"Avg=");
const MIN_EQUALS: u32 = suffix_word(b"Min=");
const MAX_EQUALS: u32 = suffix_word(b"Max=");
const COU_EQUALS: u32 = suffix_word(b"Cou=");

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
    fn add(&mut self, text: &str, item: &FactorItem) {
        if self.error.is_some() {
            return;
        }
        let Some(target) = item.target else {
            return;
        };
        let bit = match target {
            Target::Number(slot) => slot.bit(),
            Target::Flag | Target::FlagLetter(_) => FLAG,
        };
        if self.seen & bit != 0 {
            self.error = Some(duplicate_key(text, item.key));
            return;
        }
        self.seen |= bit;
        match target {
            Target::Number(slot) => {
                // A number never has whitespace at its ends, so the value
                // needs trimming only when it does not parse as it is.
                let number = parse_number_at(text.as_bytes(), item.value_start, item.value_end)
                    .or_else(|| parse_trimmed_number(text, item));
                match number {
                    Some(number) => {
                        self.numbers[slot as usize] = number;
                        self.present |= slot.bit();
                    }
                    None => {
                        let (value_start, value_end) =
                            trim_range(text, item.value_start, item.value_end);
                        self.error = Some(invalid_number(text, item.key, value_start, value_end));
                    }
                }
            }
            Target::FlagLetter(letter) => self.set_flag_letter(letter),
            Target::Flag => {
                if let Some(&[letter]) = text.as_bytes().get(item.value_start..item.value_end)
                    && letter.is_ascii_alphabetic()
                {
                    // One ASCII letter, the usual flag, is checked without
                    // slicing the text, which checks character boundaries.
                    self.set_flag_letter(letter);
                    return;
                }
                let (value_start, value_end) = trim_range(text, item.value_start, item.value_end);
                match DataFlag::parse(&text[value_start..value_end]) {
                    Ok(flag) => self.flag = Some(flag),
                    Err(_) => {
                        self.error = Some(invalid_flag(text, item.key, value_start, value_end));
                    }
                }
            }
        }
    }

    /// Sets the number of `slot` for the factor's first item, whose value
    /// the caller has parsed.
    #[inline(always)]
    fn set_number(&mut self, slot: Slot, number: f64) {
        self.seen |= slot.bit();
        self.present |= slot.bit();
        self.numbers[slot as usize] = number;
    }

    /// Sets the flag from one ASCII letter. `N`, the flag of a normal
    /// reading, needs no parsing.
    #[inline(always)]
    fn set_flag_letter(&mut self, letter: u8) {
        self.flag = match letter {
            b'N' => Some(DataFlag::NORMAL),
            _ => parse_flag_letter(letter),
        };
    }

    /// Returns the factor whose first item is `first` and whose last item
    /// ends at `end`, or the first error of its items.
    #[inline(always)]
    fn finish<'a>(
        self,
        area: &'a str,
        first: &FactorItem,
        end: usize,
    ) -> Result<Factor<'a>, FieldError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(Factor {
                area,
                start: first.start,
                code_start: first.key.key_start,
                code_end: first.key.dash,
                end,
                numbers: self.numbers,
                present: self.present,
                flag: self.flag,
            }),
        }
    }
}

/// Parses a flag that is one ASCII letter.
fn parse_flag_letter(letter: u8) -> Option<DataFlag> {
    let mut buffer = [0; 4];
    DataFlag::parse(char::from(letter).encode_utf8(&mut buffer)).ok()
}

#[cold]
fn duplicate_key(text: &str, key: FactorKey) -> FieldError {
    FieldError::DuplicateKey {
        key: text[key.key_start..key.key_end].to_owned(),
    }
}

/// Parses the value of `item` after trimming it, for a value that did not
/// parse untrimmed.
#[cold]
fn parse_trimmed_number(text: &str, item: &FactorItem) -> Option<f64> {
    let (value_start, value_end) = trim_range(text, item.value_start, item.value_end);
    parse_number_at(text.as_bytes(), value_start, value_end)
}

#[cold]
fn invalid_flag(text: &str, key: FactorKey, value_start: usize, value_end: usize) -> FieldError {
    FieldError::InvalidFlag {
        key: text[key.key_start..key.key_end].to_owned(),
        value: excerpt(&text[value_start..value_end]),
    }
}

#[cold]
fn invalid_number(text: &str, key: FactorKey, value_start: usize, value_end: usize) -> FieldError {
    FieldError::InvalidNumber {
        key: text[key.key_start..key.key_end].to_owned(),
        value: excerpt(&text[value_start..value_end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::parse_number;
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
    fn data_time_found_after_other_items() {
        let time = |text| DataArea::new(text).data_time(CHINA_STANDARD_TIME);
        let expected = parse_time("DataTime", "20160801085857", CHINA_STANDARD_TIME).ok();
        assert_eq!(time("DataTime=20160801085857"), Ok(expected));
        assert_eq!(
            time("RtdInterval=30; DataTime =20160801085857"),
            Ok(expected)
        );
        assert_eq!(time("PolId=a34004,MB_BgnAddr=192"), Ok(None));
        assert_eq!(time("DataTimeX=20160801085857;Data=1"), Ok(None));
        assert_eq!(time(""), Ok(None));
        let error = time("QnRtn=1;DataTime=2016").expect_err("too short");
        assert_eq!(error.reason(), "invalid_time");
    }

    #[test]
    fn item_with_leading_space_joins_factor() {
        let all = factors("w01018-Rtd=1.5, w01018-Flag=N;w01001-Rtd=7; w01001-Rtd =8;");
        assert_eq!(all.len(), 2);
        let cod = all[0].as_ref().expect("valid");
        assert_eq!(cod.values().rtd, Some(1.5));
        assert_eq!(cod.flag(), Some(DataFlag::NORMAL));
        assert_eq!(
            all[1],
            Err(FieldError::DuplicateKey {
                key: "w01001-Rtd".into()
            })
        );
    }

    #[test]
    fn factor_code_after_leading_space() {
        let all = factors("a01-Rtd=1; w01018-Rtd=1.5,w01018-Flag=N");
        assert_eq!(all.len(), 2);
        let first = all[0].as_ref().expect("valid");
        assert_eq!(first.code(), "a01");
        let second = all[1].as_ref().expect("valid");
        assert_eq!(second.code(), "w01018");
        assert_eq!(second.values().rtd, Some(1.5));
        assert_eq!(second.get("Flag"), Some("N"));
    }

    #[test]
    fn factor_equality_ignores_position() {
        let first = factors("w01018-Rtd=2.2,w01018-Flag=N");
        let later = factors("DataTime=20160801085857;a01-Rtd=1;w01018-Rtd=2.2,w01018-Flag=N");
        let first = first[0].as_ref().expect("valid");
        let later = later[1].as_ref().expect("valid");
        assert_eq!(first, later);
        assert_eq!(later.code(), "w01018");
        assert_eq!(later.get("Flag"), Some("N"));

        let other_flag = factors("w01018-Rtd=2.2,w01018-Flag=D");
        assert_ne!(first, other_flag[0].as_ref().expect("valid"));
    }

    #[test]
    fn flag_items_after_value() {
        let all = factors(
            "a01-Rtd=1,a01-Flag=d;a02-Rtd=2,a02-Flag=N,a02-Flag=D;a03-Rtd=3,a03-Flag=NN;\
a04-Rtd=4,a04-Flag=1;a05-Rtd=5,a05-Flag=N;;a06-Rtd=6,a06-Flag=T; a07-Rtd=7,a07-Flag=C;",
        );
        assert_eq!(all.len(), 7);
        assert_eq!(
            all[0]
                .as_ref()
                .expect("valid")
                .flag()
                .map(DataFlag::as_char),
            Some('d')
        );
        assert_eq!(
            all[1],
            Err(FieldError::DuplicateKey {
                key: "a02-Flag".into()
            })
        );
        assert_eq!(
            all[2].as_ref().expect_err("two letters").reason(),
            "invalid_flag"
        );
        assert_eq!(
            all[3].as_ref().expect_err("a digit").reason(),
            "invalid_flag"
        );
        let fifth = all[4].as_ref().expect("valid");
        assert_eq!(fifth.flag(), Some(DataFlag::NORMAL));
        assert_eq!(fifth.get("Flag"), Some("N"));
        assert_eq!(
            all[5].as_ref().expect("valid").flag(),
            Some(DataFlag::OVER_RANGE)
        );
        // A code read after whitespace is matched at the start of its flag item.
        let seventh = all[6].as_ref().expect("valid");
        assert_eq!(seventh.code(), "a07");
        assert_eq!(seventh.flag(), Some(DataFlag::CALIBRATING));
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

    /// A factor as the tests compare it: its code and items, the code alone
    /// for a factor whose values failed, or the text of a piece without `=`.
    #[derive(Debug, PartialEq)]
    enum Group {
        Items(String, Vec<(String, String)>),
        Failed(String),
        MissingEquals(String),
    }

    fn factor_groups(text: &str) -> Vec<Group> {
        let code_of = |key: &str| key.split_once('-').map_or(key, |(code, _)| code).to_owned();
        DataArea::new(text)
            .factors()
            .map(|factor| match factor {
                Ok(factor) => {
                    let items = factor
                        .suffixes()
                        .map(|(suffix, value)| {
                            (format!("{}-{suffix}", factor.code()), value.to_owned())
                        })
                        .collect();
                    Group::Items(factor.code().to_owned(), items)
                }
                Err(FieldError::MissingEquals { text }) => Group::MissingEquals(text),
                Err(
                    FieldError::InvalidNumber { key, .. }
                    | FieldError::InvalidFlag { key, .. }
                    | FieldError::DuplicateKey { key },
                ) => Group::Failed(code_of(&key)),
                Err(other) => panic!("unexpected factor error {other}"),
            })
            .collect()
    }

    /// Groups the items of `text` into factors from [`DataArea::items`]:
    /// an item whose key has a `-` starts a factor, and the following items
    /// whose keys start with the same code and `-` join it. A factor counts
    /// as failed when one of its `Rtd`, `Avg`, `Min`, `Max`, `Cou` or
    /// `Data` values is not a number, a key repeats, or its flag is not one
    /// letter.
    fn reference_factor_groups(text: &str) -> Vec<Group> {
        let mut groups = Vec::new();
        let mut current: Option<(String, Vec<(String, String)>)> = None;
        for item in DataArea::new(text).items() {
            let item = match item {
                Ok(item) => item,
                Err(FieldError::MissingEquals { text }) => {
                    groups.extend(current.take().map(reference_group));
                    groups.push(Group::MissingEquals(text));
                    continue;
                }
                Err(other) => panic!("unexpected item error {other}"),
            };
            if let Some((code, items)) = &mut current
                && item
                    .key
                    .strip_prefix(code.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            {
                items.push((item.key.to_owned(), item.value.to_owned()));
                continue;
            }
            groups.extend(current.take().map(reference_group));
            if let Some((code, _)) = item.key.split_once('-') {
                current = Some((
                    code.to_owned(),
                    vec![(item.key.to_owned(), item.value.to_owned())],
                ));
            }
        }
        groups.extend(current.take().map(reference_group));
        groups
    }

    fn reference_group((code, items): (String, Vec<(String, String)>)) -> Group {
        let mut seen = Vec::new();
        for (key, value) in &items {
            let suffix = &key[code.len() + 1..];
            let numeric = matches!(suffix, "Rtd" | "Avg" | "Min" | "Max" | "Cou" | "Data");
            if !(numeric || suffix == "Flag") {
                continue;
            }
            // `Data` fills the slot of `Avg`, so the two count as one key.
            let slot = if suffix == "Data" { "Avg" } else { suffix };
            let repeated = seen.contains(&slot);
            let invalid = if numeric {
                parse_number(value).is_none()
            } else {
                DataFlag::parse(value).is_err()
            };
            if repeated || invalid {
                return Group::Failed(code);
            }
            seen.push(slot);
        }
        Group::Items(code, items)
    }

    proptest! {
        #[test]
        fn leading_data_time_parsed_as_parse_time(
            value in "[0-9]{4}(0[0-9]|1[0-3])[0-3][0-9][0-2][0-9][0-6][0-9][0-6][0-9]([0-9]{3})?",
            offset_hours in -25i8..=25,
        ) {
            let offset = Offset::constant(offset_hours);
            let text = format!("DataTime={value};a-Rtd=1");
            prop_assert_eq!(
                DataArea::new(&text).data_time(offset),
                parse_time("DataTime", &value, offset).map(Some)
            );
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
        fn factors_group_items_as_reference(
            text in "((a|ab|w01018|abcdefgh| a|a\u{3000}|x=a)-(Rtd|Flag|Avg|Data|Min|Cou|x|Rtdx|Dat)( =|=)([0-9.N ]{0,3}|//[a;=]{0,2}//)[;,]{1,2}|DataTime=1;|DataTime=20160801085857(000)?[;,]?|junk;| ;|a-;){0,12}",
        ) {
            prop_assert_eq!(factor_groups(&text), reference_factor_groups(&text), "{:?}", text);
        }

        #[test]
        fn factor_values_match_item_values(
            text in "((a|w01018|abcdefg|ab;a)-(Rtd|Avg|Min|Max|Cou|Data|Flag)=([0-9.N+ -]{0,18}|//[0-9;,]{0,3}//|[0-9]{1,7})[;,]{1,2}){0,8}",
        ) {
            // Values of up to 18 bytes reach the end of the text and the
            // second word of the value end search.
            for factor in DataArea::new(&text).factors().flatten() {
                let mut expected = FactorValues::default();
                let mut flag = None;
                for (suffix, value) in factor.suffixes() {
                    let number = parse_number(value);
                    match suffix {
                        "Rtd" => expected.rtd = number,
                        "Avg" | "Data" => expected.avg = number,
                        "Min" => expected.min = number,
                        "Max" => expected.max = number,
                        "Cou" => expected.cou = number,
                        _ => flag = DataFlag::parse(value).ok(),
                    }
                }
                prop_assert_eq!(factor.values(), expected, "{:?}", text);
                prop_assert_eq!(factor.flag(), flag, "{:?}", text);
            }
        }

        #[test]
        fn items_never_panic(text in "[a-z0-9=;,&/ -]{0,64}") {
            let area = DataArea::new(&text);
            let _ = area.items().count();
            let _ = area.factors().count();
        }
    }
}
