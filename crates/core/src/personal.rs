//! Personal data (names, phone numbers, resident identity card numbers) and
//! its masking.
//!
//! Every type here serializes masked (`张*`, `138****5678`,
//! `3502**********1234`) unless the serialization runs inside [`disclosed`]
//! with [`Disclosure::Full`]. Masked is the default, so a response that does
//! not choose shows the masked form. Code that persists
//! these values (the store, the ledger) must serialize them inside
//! `disclosed(Disclosure::Full, …)`, or it stores the masked form.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ValidationError;

/// Whether personal data is written out in full or masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Disclosure {
    /// Names, phone numbers and ID numbers are masked.
    #[default]
    Masked,
    /// Everything is written as stored.
    Full,
}

thread_local! {
    static CURRENT: Cell<Disclosure> = const { Cell::new(Disclosure::Masked) };
}

/// Runs `f` with `disclosure` in effect for every personal value serialized
/// on this thread, and restores the previous setting afterwards, also when `f`
/// panics.
///
/// The setting is per thread, so `f` must serialize synchronously: a value
/// serialized after an `.await` on another thread is masked.
pub fn disclosed<R>(disclosure: Disclosure, f: impl FnOnce() -> R) -> R {
    struct Restore(Disclosure);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|current| current.replace(disclosure)));
    f()
}

/// Returns the disclosure in effect on this thread.
pub fn current_disclosure() -> Disclosure {
    CURRENT.with(Cell::get)
}

/// Writes `full` or `masked` depending on the disclosure in effect.
fn serialize_shown<S: Serializer>(
    serializer: S,
    full: &str,
    masked: impl FnOnce() -> String,
) -> Result<S::Ok, S::Error> {
    match current_disclosure() {
        Disclosure::Full => serializer.serialize_str(full),
        Disclosure::Masked => serializer.serialize_str(&masked()),
    }
}

/// Keeps the first `head` and last `tail` characters and stars the rest.
fn star_middle(value: &str, head: usize, tail: usize) -> String {
    let count = value.chars().count();
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i + tail >= count {
                c
            } else {
                '*'
            }
        })
        .collect()
}

macro_rules! personal_string {
    ($name:ident) => {
        impl $name {
            /// Returns the value as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Returns the value as `disclosure` allows it to be shown.
            pub fn shown(&self, disclosure: Disclosure) -> Cow<'_, str> {
                match disclosure {
                    Disclosure::Full => Cow::Borrowed(&self.0),
                    Disclosure::Masked => Cow::Owned(self.masked()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_shown(serializer, &self.0, || self.masked())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(&value).map_err(serde::de::Error::custom)
            }
        }

        /// Prints the masked value, so that logs never carry the full one.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.masked())
            }
        }
    };
}

/// A person's name, such as a reporter's.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

personal_string!(PersonName);

impl PersonName {
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 50;

    /// Parses a name: 1 to 50 characters after trimming, without digits or
    /// control characters.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        let rule = if name.is_empty() {
            "expected 1 to 50 characters, such as 张三"
        } else if name.chars().count() > Self::MAX_CHARS {
            "expected at most 50 characters"
        } else if name.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
            "expected a name without digits or control characters; put a phone number in phone"
        } else {
            return Ok(Self(name.to_owned()));
        };
        Err(ValidationError::new("name", input, rule))
    }

    /// Returns the first character followed by one star per other character
    /// (at least one): `张*`, `欧***`.
    pub fn masked(&self) -> String {
        let mut chars = self.0.chars();
        let first = chars.next().unwrap_or('*');
        let stars = chars.count().max(1);
        std::iter::once(first)
            .chain(std::iter::repeat_n('*', stars))
            .collect()
    }
}

/// A phone number in mainland China: a mobile number of 11 digits, or a
/// landline number with its area code. Stored as digits only.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

personal_string!(PhoneNumber);

impl PhoneNumber {
    const RULE: &'static str = "expected a mobile number of 11 digits starting with 13 to 19, \
         such as 13812345678, or a landline number with its area code, such as 0592-1234567";

    /// Parses a phone number. Spaces and hyphens between digits are dropped,
    /// as is a leading `+86` or `0086` before a mobile number.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let trimmed = input.trim();
        let digits: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let national = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .filter(|rest| is_mobile(rest))
            .unwrap_or(&digits);
        if is_mobile(national) || is_landline(national) {
            return Ok(Self(national.to_owned()));
        }
        Err(ValidationError::new("phone number", input, Self::RULE))
    }

    /// Returns the number with all but the first 3 and last 4 digits starred:
    /// `138****5678`.
    pub fn masked(&self) -> String {
        star_middle(&self.0, 3, 4)
    }
}

fn all_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// Returns true for an 11-digit mobile number: `1`, then 3 to 9, then 9 digits.
fn is_mobile(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 11 && all_digits(value) && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1])
}

/// Returns true for a landline number with its area code: `0`, a non-zero
/// digit and 8 to 10 more digits (an area code of 3 or 4 digits and 7 or 8
/// subscriber digits).
fn is_landline(value: &str) -> bool {
    let bytes = value.as_bytes();
    (10..=12).contains(&bytes.len()) && all_digits(value) && bytes[0] == b'0' && bytes[1] != b'0'
}

/// A resident identity card number (居民身份证号码, GB 11643-1999): 6 digits
/// of address code, 8 of birth date, 3 of sequence and a check digit.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

personal_string!(IdNumber);

impl IdNumber {
    /// Parses an ID number, with the check digit `x` upper-cased, and checks
    /// its birth date and its check digit.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let value = input.trim().to_ascii_uppercase();
        let rule = if !is_id_shaped(&value) {
            "expected 18 characters: 17 digits and a check digit 0 to 9 or X, \
             such as 11010519491231002X"
        } else if !has_birth_date(&value) {
            "characters 7 to 14 must be a birth date YYYYMMDD"
        } else if id_check_digit(&value[..17]) != value.as_bytes()[17] {
            "the check digit (the 18th character) does not match the first 17 digits \
             (GB 11643-1999, ISO 7064 MOD 11-2); check the number for a typo"
        } else {
            return Ok(Self(value));
        };
        Err(ValidationError::new("ID number", input, rule))
    }

    /// Returns the number with all but the first 4 and last 4 characters
    /// starred: `3502**********1234`.
    pub fn masked(&self) -> String {
        star_middle(&self.0, 4, 4)
    }
}

/// 17 ASCII digits followed by a digit or `X`.
fn is_id_shaped(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X')
}

/// True if characters 7 to 14 of an ID-shaped value are a date from 1900 on.
fn has_birth_date(value: &str) -> bool {
    let field = |range: std::ops::Range<usize>| value[range].parse::<i16>().ok();
    let (Some(year), Some(month), Some(day)) = (field(6..10), field(10..12), field(12..14)) else {
        return false;
    };
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return false;
    };
    year >= 1900 && jiff::civil::Date::new(year, month, day).is_ok()
}

/// Computes the ISO 7064 MOD 11-2 check character of 17 digits.
fn id_check_digit(digits: &str) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = digits
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// Free text written by people (a task's title or description, a note, a
/// reason), in which phone numbers and ID numbers are masked when shown.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Text(String);

impl Text {
    /// Wraps text; length and blankness are checked by the code that accepts it.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Returns the text as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the text with every phone number and ID number masked.
    pub fn masked(&self) -> Cow<'_, str> {
        mask_text(&self.0)
    }

    /// Returns the text as `disclosure` allows it to be shown.
    pub fn shown(&self, disclosure: Disclosure) -> Cow<'_, str> {
        match disclosure {
            Disclosure::Full => Cow::Borrowed(&self.0),
            Disclosure::Masked => self.masked(),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Prints the masked text, so that logs never carry a phone or ID number.
impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.masked(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_shown(serializer, &self.0, || self.masked().into_owned())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Returns `text` with the phone numbers and ID numbers it contains masked.
///
/// A number is a run of ASCII digits not preceded or followed by another
/// digit. Three kinds of run are masked:
///
/// - 11-digit mobile numbers, also written `138 1234 5678` or
///   `138-1234-5678` and with a leading `86`;
/// - landline numbers of 10 to 12 digits starting with `0`, also with a
///   hyphen or space after the area code;
/// - ID-shaped runs (17 digits and a digit or `X`) whose characters 7 to 14
///   are a date. The check digit is not checked, because a mistyped ID
///   number is still personal data.
pub fn mask_text(text: &str) -> Cow<'_, str> {
    let mut masked = String::new();
    let mut copied = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
        if !starts_number {
            i += 1;
            continue;
        }
        match personal_number_at(bytes, i) {
            Some((end, replacement)) => {
                masked.push_str(&text[copied..i]);
                masked.push_str(&replacement);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    masked.push_str(&text[copied..]);
    Cow::Owned(masked)
}

/// Returns the end and the masked form of a phone or ID number that starts at
/// `start`, a digit not preceded by another digit.
fn personal_number_at(bytes: &[u8], start: usize) -> Option<(usize, String)> {
    let run_end = |from: usize| {
        let mut end = from;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        end
    };
    let followed_by_digit = |end: usize| end < bytes.len() && bytes[end].is_ascii_digit();

    // The first run of digits, with a trailing X of an ID number.
    let first_end = run_end(start);
    let mut run = std::str::from_utf8(&bytes[start..first_end])
        .ok()?
        .to_owned();
    let mut end = first_end;
    if run.len() == 17 && end < bytes.len() && matches!(bytes[end], b'X' | b'x') {
        run.push('X');
        end += 1;
    }
    if is_id_shaped(&run) && has_birth_date(&run) && !followed_by_alnum(bytes, end) {
        return Some((end, star_middle(&run, 4, 4)));
    }

    // Groups joined by single spaces or hyphens: 138 1234 5678, 0592-1234567.
    let mut joined = run.clone();
    let mut joined_end = first_end;
    let mut groups = 1;
    while groups < 3
        && joined_end + 1 < bytes.len()
        && matches!(bytes[joined_end], b' ' | b'-')
        && bytes[joined_end + 1].is_ascii_digit()
    {
        let next_end = run_end(joined_end + 1);
        joined.push_str(std::str::from_utf8(&bytes[joined_end + 1..next_end]).ok()?);
        joined_end = next_end;
        groups += 1;
        if let Some(masked) = phone_masked(&joined)
            && !followed_by_digit(joined_end)
        {
            return Some((joined_end, masked));
        }
    }
    phone_masked(&run).map(|masked| (first_end, masked))
}

fn followed_by_alnum(bytes: &[u8], end: usize) -> bool {
    end < bytes.len() && bytes[end].is_ascii_alphanumeric()
}

/// Returns the masked form of a run of digits that is a phone number.
fn phone_masked(digits: &str) -> Option<String> {
    if let Some(national) = digits.strip_prefix("86").filter(|rest| is_mobile(rest)) {
        return Some(format!("86{}", star_middle(national, 3, 4)));
    }
    (is_mobile(digits) || is_landline(digits)).then(|| star_middle(digits, 3, 4))
}

/// A reporter's contact, given with a task that comes from a public report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The reporter's name.
    pub name: PersonName,
    /// The reporter's phone number.
    pub phone: PhoneNumber,
    /// The reporter's resident identity card number, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<IdNumber>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: Serialize>(value: &T, disclosure: Disclosure) -> String {
        disclosed(disclosure, || serde_json::to_string(value).unwrap())
    }

    #[test]
    fn name_masks_all_but_first_character() {
        assert_eq!(PersonName::parse("张三").unwrap().masked(), "张*");
        assert_eq!(PersonName::parse("欧阳娜娜").unwrap().masked(), "欧***");
        assert_eq!(PersonName::parse("王").unwrap().masked(), "王*");
    }

    #[test]
    fn name_rejects_blank_digits_and_long() {
        for bad in ["", "  ", "张三13812345678", &"名".repeat(51)] {
            let error = PersonName::parse(bad).unwrap_err();
            assert_eq!(error.what, "name", "{bad:?}");
        }
    }

    #[test]
    fn phone_accepts_mobile_and_landline_forms() {
        let cases = [
            ("13812345678", "13812345678"),
            ("138 1234 5678", "13812345678"),
            ("+86 138-1234-5678", "13812345678"),
            ("0086 13812345678", "13812345678"),
            ("0592-1234567", "05921234567"),
            ("010-12345678", "01012345678"),
        ];
        for (input, stored) in cases {
            assert_eq!(
                PhoneNumber::parse(input).unwrap().as_str(),
                stored,
                "{input}"
            );
        }
    }

    #[test]
    fn phone_rejects_malformed_numbers() {
        for bad in [
            "",
            "12812345678",
            "1381234567",
            "138123456789",
            "abc",
            "0012345678",
        ] {
            let error = PhoneNumber::parse(bad).unwrap_err();
            assert!(error.rule.contains("11 digits"), "{bad:?}: {error}");
            assert_eq!(error.value, bad);
        }
    }

    #[test]
    fn phone_masks_middle_digits() {
        let phone = PhoneNumber::parse("13812345678").unwrap();
        assert_eq!(phone.masked(), "138****5678");
    }

    #[test]
    fn id_number_checks_check_digit() {
        // A valid number whose check digit is X.
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "1101**********002X");
        let error = IdNumber::parse("110105194912310021").unwrap_err();
        assert!(error.rule.contains("check digit"), "{error}");
        assert_eq!(error.value, "110105194912310021");
    }

    #[test]
    fn id_number_rejects_bad_shape_and_date() {
        let shape = IdNumber::parse("1101051949123100").unwrap_err();
        assert!(shape.rule.contains("18 characters"), "{shape}");
        let date = IdNumber::parse("110105194913310025").unwrap_err();
        assert!(date.rule.contains("birth date"), "{date}");
    }

    #[test]
    fn contact_serializes_masked_by_default() {
        let contact = Contact {
            name: PersonName::parse("张三").unwrap(),
            phone: PhoneNumber::parse("13812345678").unwrap(),
            id_number: Some(IdNumber::parse("11010519491231002X").unwrap()),
        };
        let masked = serde_json::to_string(&contact).unwrap();
        assert_eq!(
            masked,
            r#"{"name":"张*","phone":"138****5678","id_number":"1101**********002X"}"#
        );
        let full = json(&contact, Disclosure::Full);
        assert_eq!(
            full,
            r#"{"name":"张三","phone":"13812345678","id_number":"11010519491231002X"}"#
        );
        let back: Contact = serde_json::from_str(&full).unwrap();
        assert_eq!(back, contact);
    }

    #[test]
    fn contact_rejects_masked_values() {
        let error =
            serde_json::from_str::<Contact>(r#"{"name":"张*","phone":"138****5678"}"#).unwrap_err();
        assert!(error.to_string().contains("phone number"), "{error}");
    }

    #[test]
    fn disclosure_is_restored_after_scope() {
        assert_eq!(current_disclosure(), Disclosure::Masked);
        disclosed(Disclosure::Full, || {
            assert_eq!(current_disclosure(), Disclosure::Full);
            disclosed(Disclosure::Masked, || {
                assert_eq!(current_disclosure(), Disclosure::Masked);
            });
            assert_eq!(current_disclosure(), Disclosure::Full);
        });
        assert_eq!(current_disclosure(), Disclosure::Masked);
    }

    #[test]
    fn text_masks_numbers_in_free_text() {
        let cases = [
            ("电话13812345678，请回电", "电话138****5678，请回电"),
            ("call 138 1234 5678 now", "call 138****5678 now"),
            ("tel 138-1234-5678.", "tel 138****5678."),
            ("+8613812345678", "+86138****5678"),
            ("座机0592-1234567", "座机059****4567"),
            ("身份证11010519491231002X。", "身份证1101**********002X。"),
            ("id 110105194912310021 typo", "id 1101**********0021 typo"),
            (
                "a 13812345678 and 13912345678",
                "a 138****5678 and 139****5678",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_text(input), expected, "{input}");
        }
    }

    #[test]
    fn text_keeps_other_numbers() {
        for kept in [
            "COD 120.5 mg/L at 2024-05-04 08:00",
            "MN 88888880000001",
            "order 123456789012345678901",
            "23812345678",
            "T12 version 3",
        ] {
            assert!(matches!(mask_text(kept), Cow::Borrowed(_)), "{kept}");
        }
    }

    #[test]
    fn text_serializes_masked_unless_disclosed() {
        let text = Text::from("联系人13812345678");
        assert_eq!(json(&text, Disclosure::Masked), r#""联系人138****5678""#);
        assert_eq!(json(&text, Disclosure::Full), r#""联系人13812345678""#);
        assert_eq!(format!("{text:?}"), r#""联系人138****5678""#);
    }
}
