//! Word-at-a-time search for separator bytes.
//!
//! Items of a data segment are 5 to 20 bytes long, too short for a vectorised
//! searcher's setup to pay off, but a byte loop costs a branch per byte. These
//! functions test eight bytes at once in a `u64` (SWAR), which needs no
//! `unsafe` and no target features.

/// The low seven bits of every byte.
const LOW_BITS: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// The high bit of every byte.
const HIGH_BITS: u64 = !LOW_BITS;

/// Returns `byte` repeated in all eight bytes of a word.
#[inline(always)]
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// Returns a word whose byte `i` has its high bit set exactly when byte `i`
/// of `word` is one of `set`, and every other bit clear.
///
/// A byte of `word ^ splat(b)` is zero exactly where `word` has `b`. Adding
/// `LOW_BITS` to the low seven bits sets the high bit of every byte whose low
/// bits are not all zero, without a carry into the next byte, so OR-ing in
/// the byte itself sets the high bit of every non-zero byte.
#[inline(always)]
fn match_bits<const N: usize>(word: u64, set: [u8; N]) -> u64 {
    let mut all_differ = HIGH_BITS;
    for byte in set {
        let difference = word ^ splat(byte);
        all_differ &= ((difference & LOW_BITS) + LOW_BITS) | difference;
    }
    !all_differ & HIGH_BITS
}

/// Finds the first byte at or after `from` that is one of `set`.
///
/// Returns `None` when there is none, or when `from` is past the end.
#[inline(always)]
pub(crate) fn find_any<const N: usize>(bytes: &[u8], from: usize, set: [u8; N]) -> Option<usize> {
    let mut position = from;
    let mut rest = bytes.get(from..)?;
    while let Some((word, after)) = rest.split_first_chunk::<8>() {
        let found = match_bits(u64::from_le_bytes(*word), set);
        if found != 0 {
            return Some(position + (found.trailing_zeros() / 8) as usize);
        }
        position += 8;
        rest = after;
    }
    rest.iter()
        .position(|byte| set.contains(byte))
        .map(|offset| position + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_each_position_in_word_and_tail() {
        for length in 1..40 {
            for at in 0..length {
                let mut bytes = vec![b'a'; length];
                bytes[at] = b';';
                assert_eq!(find_any(&bytes, 0, [b';', b',']), Some(at), "{length} {at}");
                assert_eq!(find_any(&bytes, at, [b';']), Some(at), "{length} {at}");
                assert_eq!(find_any(&bytes, at + 1, [b';']), None, "{length} {at}");
            }
        }
    }

    #[test]
    fn high_bytes_not_confused_with_separators() {
        // 0xBB differs from ';' (0x3B) only in the high bit, and UTF-8 text
        // such as Chinese log messages consists of such bytes.
        let bytes = [0xBB, 0xAC, 0xBD, 0x80, 0xFF, 0x00, 0x7F, 0xBB, 0xBB, b','];
        assert_eq!(find_any(&bytes, 0, [b';', b',', b'=']), Some(9));
    }

    #[test]
    fn past_end_is_none() {
        assert_eq!(find_any(b"a;b", 3, [b';']), None);
        assert_eq!(find_any(b"a;b", 9, [b';']), None);
    }

    proptest! {
        #[test]
        fn matches_byte_loop(bytes in proptest::collection::vec(any::<u8>(), 0..80), from in 0usize..90) {
            let set = [b';', b',', b'='];
            let expected = bytes
                .get(from..)
                .and_then(|rest| rest.iter().position(|byte| set.contains(byte)))
                .map(|offset| from + offset);
            prop_assert_eq!(find_any(&bytes, from, set), expected);
        }
    }
}
