//! Decimal numbers of factor values, such as `-12.50`, parsed to `f64`.
//!
//! Factor values of at most eight bytes after their sign are parsed as one word
//! (SWAR) and give the same results as the digit loop that reads the rest.
//! Every value that the digit loop cannot read exactly goes through the
//! standard library.

use crate::data::load_word;
use crate::time::are_eight_digits;

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
pub(crate) fn parse_number_at(bytes: &[u8], start: usize, end: usize) -> Option<f64> {
    parse_number_from_word(load_word(bytes, start), bytes, start, end)
}

/// Parses the number at `bytes[start..end]`, as [`parse_number_at`] does,
/// where `word` is the eight bytes at `start` if the caller has loaded
/// them. Bytes of `word` past `end` are ignored, so they may lie past the
/// end of `bytes`.
#[inline(always)]
pub(crate) fn parse_number_from_word(
    word: Option<u64>,
    bytes: &[u8],
    start: usize,
    end: usize,
) -> Option<f64> {
    // Most values have no sign, so the word at `start` is tried first. A
    // sign fails its digit test and takes the second try.
    let length = end.wrapping_sub(start);
    if let Some(word) = word {
        if length.wrapping_sub(1) < 8
            && let Some(magnitude) = parse_decimal_word(word, length)
        {
            return Some(magnitude);
        }
        let negative = word as u8 == b'-';
        if (negative || word as u8 == b'+')
            && length.wrapping_sub(2) < 8
            && let Some(word) = load_word(bytes, start + 1)
            && let Some(magnitude) = parse_decimal_word(word, length - 1)
        {
            return Some(if negative { -magnitude } else { magnitude });
        }
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
            // The bytes before the dot stay, and those after it move down
            // by one byte over it.
            let before = (1u64 << (8 * dot)) - 1;
            let digits = (word & before) | ((word >> 8) & !before);
            (digits, length - 1, length - 1 - dot)
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
    // At most seven fraction digits fit in eight bytes with a dot.
    Some(f64::from(mantissa) / POWERS_OF_TEN[fraction_digits & 7])
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
    }
}
