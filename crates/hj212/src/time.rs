//! HJ 212 times: `YYYYMMDDhhmmss`, or 17 digits with milliseconds, in a
//! fixed UTC offset.
//!
//! Every upload carries a `DataTime`, so the common case converts the digits
//! to a timestamp directly. Years 0 and 9999 and every invalid value go
//! through jiff, which checks the range limits and words the errors.

use jiff::Timestamp;
use jiff::tz::Offset;

use crate::data::FieldError;
use crate::packet::excerpt;

/// The years that [`parse_time`] converts without jiff. Their timestamps,
/// shifted by any offset jiff allows (at most 25:59:59), lie inside jiff's
/// timestamp range, which ends a day or two inside years -9999 and 9999.
const DIRECT_YEARS: std::ops::RangeInclusive<u32> = 1..=9998;

const SECONDS_PER_DAY: i64 = 86_400;

/// Parses an HJ 212 time (`YYYYMMDDhhmmss`, or 17 digits with milliseconds)
/// given in the fixed UTC `offset`. `key` names the field in the error.
#[inline]
pub fn parse_time(key: &str, value: &str, offset: Offset) -> Result<Timestamp, FieldError> {
    match parse_time_direct(value.as_bytes(), offset) {
        Some(timestamp) => Ok(timestamp),
        None => parse_time_with_jiff(key, value, offset),
    }
}

/// Converts a valid time of the [`DIRECT_YEARS`] without jiff's civil types;
/// returns `None` for anything else, which [`parse_time_with_jiff`] then
/// converts or rejects.
#[inline]
fn parse_time_direct(bytes: &[u8], offset: Offset) -> Option<Timestamp> {
    let millisecond = match bytes.len() {
        14 => 0,
        17 => {
            let [hundreds, tens, ones] = *bytes.last_chunk::<3>()?;
            if !(hundreds.is_ascii_digit() && tens.is_ascii_digit() && ones.is_ascii_digit()) {
                return None;
            }
            u32::from(hundreds - b'0') * 100 + u32::from(tens - b'0') * 10 + u32::from(ones - b'0')
        }
        _ => return None,
    };

    let digits: &[u8; 14] = bytes.first_chunk()?;
    if !(are_eight_digits(&digits[..8]) && are_eight_digits(&digits[6..])) {
        return None;
    }
    time_from_digits(digits, millisecond, offset)
}

/// Parses a time of 14 or 17 bytes that the caller has checked to be ASCII
/// digits, as [`parse_time`] does, without checking the digits again.
#[inline]
pub(crate) fn parse_digit_time(
    key: &str,
    value: &str,
    offset: Offset,
) -> Result<Timestamp, FieldError> {
    let bytes = value.as_bytes();
    debug_assert!(matches!(bytes.len(), 14 | 17) && bytes.iter().all(u8::is_ascii_digit));
    let millisecond = match *bytes {
        [.., hundreds, tens, ones] if bytes.len() == 17 => {
            u32::from(hundreds - b'0') * 100 + u32::from(tens - b'0') * 10 + u32::from(ones - b'0')
        }
        _ => 0,
    };
    let timestamp = bytes
        .first_chunk::<14>()
        .and_then(|digits| time_from_digits(digits, millisecond, offset));
    match timestamp {
        Some(timestamp) => Ok(timestamp),
        None => parse_time_with_jiff(key, value, offset),
    }
}

/// Converts 14 ASCII digits `YYYYMMDDhhmmss` and a millisecond of a time
/// in the [`DIRECT_YEARS`]; returns `None` for any other time.
#[inline(always)]
fn time_from_digits(digits: &[u8; 14], millisecond: u32, offset: Offset) -> Option<Timestamp> {
    // Each even byte of `pairs(word)` is the 2-digit number of that byte
    // and the next, at most 99, so no byte carries into the next.
    let pairs = |word: &[u8]| {
        let bytes: [u8; 8] = word.try_into().expect("a slice of eight bytes");
        let digits = u64::from_le_bytes(bytes) - 0x3030_3030_3030_3030;
        digits * 10 + (digits >> 8)
    };
    let date = pairs(&digits[..8]);
    let time = pairs(&digits[6..]);
    let pair = |word: u64, index: u32| u32::from((word >> (8 * index)) as u8);
    let year = pair(date, 0) * 100 + pair(date, 2);
    let (month, day) = (pair(date, 4), pair(date, 6));
    let (hour, minute, second) = (pair(time, 2), pair(time, 4), pair(time, 6));
    let valid = DIRECT_YEARS.contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }

    let days = days_from_civil(year, month, day);
    let local_second = days * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
    let utc_second = local_second - i64::from(offset.seconds());
    // `DIRECT_YEARS` keeps the second inside jiff's range, so `new` returns
    // a timestamp. The tests compare this function with jiff for every year.
    Timestamp::new(utc_second, (millisecond * 1_000_000) as i32).ok()
}

/// Returns true if all eight bytes of `bytes` are ASCII digits. A byte is a
/// digit when its high nibble is 3 and adding 6 keeps it there. A carry out
/// of a byte happens only for bytes from 0xFA, which already fail the test.
#[inline(always)]
pub(crate) fn are_eight_digits(bytes: &[u8]) -> bool {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let Some(&word) = bytes.first_chunk::<8>() else {
        return false;
    };
    let word = u64::from_le_bytes(word);
    let high = word & HIGH_NIBBLES;
    let high_after_six = (word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) >> 4;
    high | high_after_six == 0x3333_3333_3333_3333
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns the days from 1970-01-01 to a proleptic Gregorian date, for a
/// year of at least 1. Years start in March here, so the leap day ends a
/// year, and every 400 years (146,097 days) the calendar repeats.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(if month <= 2 { year - 1 } else { year });
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days lie between 0000-03-01 and 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// Parses a time with jiff's civil types; the reference for every value and
/// the path for the values that [`parse_time_direct`] leaves out.
#[cold]
fn parse_time_with_jiff(key: &str, value: &str, offset: Offset) -> Result<Timestamp, FieldError> {
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
    use crate::CHINA_STANDARD_TIME;
    use proptest::prelude::*;

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
    fn data_time_calendar_edges_match_jiff() {
        let cases = [
            "00000101000000",
            "00010101000000",
            "16000229120000",
            "17000229120000",
            "19000228235959",
            "19691231235959999",
            "19700101000000",
            "20000229000000",
            "20240229235959",
            "20250229000000",
            "20991231235959",
            "99981231235959999",
            "99991230235959",
            "99991231235959",
            "20240431000000",
            "20240100000000",
            "20240001000000",
            "20240101240000",
            "20240101006000",
            "20240101000060",
            "2024010100000/",
            "20240101000000:",
        ];
        for offset in [Offset::UTC, CHINA_STANDARD_TIME, Offset::MIN, Offset::MAX] {
            for value in cases {
                assert_eq!(
                    parse_time("DataTime", value, offset),
                    parse_time_with_jiff("DataTime", value, offset),
                    "{value} at {offset}"
                );
            }
        }
    }

    #[test]
    fn eight_digits_detected() {
        assert!(are_eight_digits(b"01234567"));
        assert!(are_eight_digits(b"99999999"));
        assert!(!are_eight_digits(b"1234567"));
        for byte in (0..=255u8).filter(|byte| !byte.is_ascii_digit()) {
            let mut word = *b"12345678";
            word[3] = byte;
            assert!(!are_eight_digits(&word), "{byte:#04x}");
        }
    }

    fn offsets() -> impl Strategy<Value = Offset> {
        (-93_599i32..=93_599).prop_map(|seconds| Offset::from_seconds(seconds).expect("in range"))
    }

    proptest! {
        #[test]
        fn direct_time_matches_jiff_over_valid_range(
            year in 0u32..=9999,
            month in 1u32..=12,
            day in 1u32..=31,
            hour in 0u32..=23,
            minute in 0u32..=59,
            second in 0u32..=59,
            millisecond in proptest::option::of(0u32..=999),
            offset in offsets(),
        ) {
            let mut value = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}");
            if let Some(millisecond) = millisecond {
                value.push_str(&format!("{millisecond:03}"));
            }
            prop_assert_eq!(
                parse_time("DataTime", &value, offset),
                parse_time_with_jiff("DataTime", &value, offset),
                "{}", value
            );
        }

        #[test]
        fn direct_time_matches_jiff_on_any_text(
            value in "[0-9]{14}|[0-9]{17}|[0-9 /:.x\u{4e2d}-]{0,19}",
            offset in offsets(),
        ) {
            prop_assert_eq!(
                parse_time("DataTime", &value, offset),
                parse_time_with_jiff("DataTime", &value, offset)
            );
        }
    }
}
