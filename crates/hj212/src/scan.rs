//! Search for separator bytes, several bytes at a time.
//!
//! [`Separators`] yields every separator position of a text in order. It
//! computes a 64-bit mask per 64-byte block, with SSE2 on x86_64 and eight
//! bytes at a time in a `u64` (SWAR) elsewhere, so each byte is tested once
//! however many items the caller splits the text into.

/// Returns `byte` repeated in all eight bytes of a word.
#[inline(always)]
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// The separators of HJ 212 text: `;` and `,` end a field or an item, and
/// the first `=` of a piece ends its name.
pub(crate) const SEPARATORS: [u8; 3] = [b';', b',', b'='];

/// The length of a block whose separators one `u64` mask holds.
const BLOCK: usize = 64;

/// An iterator over the positions of the [`SEPARATORS`] in a text, in order.
#[derive(Debug, Clone)]
pub(crate) struct Separators<'a> {
    bytes: &'a [u8],
    /// The offset of the block that `mask` describes.
    block_start: usize,
    /// Bit `i` is set where `bytes[block_start + i]` is a separator not yet returned.
    mask: u64,
}

impl<'a> Separators<'a> {
    /// Creates an iterator over the separator positions of `bytes`.
    #[inline]
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            block_start: 0,
            mask: block_mask(bytes, 0),
        }
    }

    /// Creates an iterator that scans no block until [`seek`](Self::seek)
    /// or [`reset`](Self::reset) is called, which must come before any
    /// call to `next`.
    #[inline]
    pub(crate) fn unscanned(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            // A block start of -BLOCK (wrapping) makes the first `seek`
            // scan the block of its position.
            block_start: BLOCK.wrapping_neg(),
            mask: 0,
        }
    }

    /// Skips the separators before `position`.
    pub(crate) fn seek(&mut self, position: usize) {
        if position >= self.block_start.wrapping_add(BLOCK) {
            self.block_start = position - position % BLOCK;
            self.mask = block_mask(self.bytes, self.block_start);
        }
        let offset = position.saturating_sub(self.block_start);
        self.mask &= u64::MAX.checked_shl(offset as u32).unwrap_or(0);
    }

    /// Moves to `position`, forward or back, so that the next separator
    /// returned is the first at or after it.
    pub(crate) fn reset(&mut self, position: usize) {
        self.block_start = position - position % BLOCK;
        let mask = block_mask(self.bytes, self.block_start);
        self.mask = mask & (u64::MAX << (position - self.block_start));
    }

    /// Moves to the next block with a separator; returns false at the end.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        while self.mask == 0 {
            self.block_start += BLOCK;
            if self.block_start >= self.bytes.len() {
                // Stay past the end so later calls return `None` at once.
                self.block_start = self.bytes.len();
                return false;
            }
            self.mask = block_mask(self.bytes, self.block_start);
        }
        true
    }
}

impl Iterator for Separators<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.mask == 0 && !self.refill() {
            return None;
        }
        let position = self.block_start + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(position)
    }
}

/// Returns the separator mask of the block of `bytes` at `start`; bits past
/// the end of `bytes` are clear.
#[inline]
fn block_mask(bytes: &[u8], start: usize) -> u64 {
    let rest = bytes.get(start..).unwrap_or_default();
    if let Some(block) = rest.first_chunk::<BLOCK>() {
        return block_mask_full(block);
    }
    if rest.is_empty() {
        return 0;
    }
    // A short last block: test the last 64 bytes and drop the bits before
    // `start`, or pad a text shorter than a block with zeros, which are not
    // separators.
    if let Some(last) = bytes.last_chunk::<BLOCK>() {
        return block_mask_full(last) >> (BLOCK - rest.len());
    }
    let mut block = [0u8; BLOCK];
    block[..rest.len()].copy_from_slice(rest);
    block_mask_full(&block)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask_full(block: &[u8; BLOCK]) -> u64 {
    block_mask_sse2(block)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_mask_full(block: &[u8; BLOCK]) -> u64 {
    block_mask_swar(block)
}

/// Computes the mask of a block sixteen bytes at a time with SSE2, which
/// every x86_64 processor has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask_sse2(block: &[u8; BLOCK]) -> u64 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let [first, second, third] = SEPARATORS.map(|byte| set_splat_i8_m128i(byte as i8));
    let mut mask = 0u64;
    for (index, lane) in block.chunks_exact(16).enumerate() {
        let lane = load_unaligned_m128i(lane.try_into().expect("chunks of 16 bytes"));
        let matches = bitor_m128i(
            bitor_m128i(
                cmp_eq_mask_i8_m128i(lane, first),
                cmp_eq_mask_i8_m128i(lane, second),
            ),
            cmp_eq_mask_i8_m128i(lane, third),
        );
        let bits = u64::from(move_mask_i8_m128i(matches) as u16);
        mask |= bits << (16 * index);
    }
    mask
}

/// Computes the mask of a block eight bytes at a time in a `u64`, the
/// portable fallback of [`block_mask_sse2`].
#[cfg_attr(
    all(target_arch = "x86_64", not(test)),
    expect(dead_code, reason = "x86_64 uses SSE2; tests compare the two")
)]
#[inline(always)]
fn block_mask_swar(block: &[u8; BLOCK]) -> u64 {
    const LOW_BITS: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut mask = 0u64;
    for (index, word) in block.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of 8 bytes"));
        // A byte of `word ^ splat(b)` is zero exactly where `word` has `b`.
        // Adding `LOW_BITS` to its low seven bits sets the high bit of every
        // byte whose low bits are not all zero, without a carry into the next
        // byte, so OR-ing in the byte itself sets the high bit of every
        // non-zero byte.
        let mut all_differ = !LOW_BITS;
        for byte in SEPARATORS {
            let difference = word ^ splat(byte);
            all_differ &= ((difference & LOW_BITS) + LOW_BITS) | difference;
        }
        let matches = !all_differ & !LOW_BITS;
        // Moves the high bit of byte i to bit 56 + i: the multiplier has bit
        // 56 - 7i set for byte i, and no two partial products share a bit.
        let bits = ((matches >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * index);
    }
    mask
}

/// Returns the position of the first `CP=` in `bytes`, the start of the
/// data area field.
pub(crate) fn find_cp(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    // Each step tests the 16 positions whose `CP=` lies within 18 bytes.
    #[cfg(target_arch = "x86_64")]
    while let Some(window) = bytes.get(start..).and_then(<[u8]>::first_chunk::<18>) {
        let mask = cp_mask_sse2(window);
        if mask != 0 {
            return Some(start + mask.trailing_zeros() as usize);
        }
        start += 16;
    }
    (start..bytes.len()).find(|&at| bytes[at..].starts_with(b"CP="))
}

/// Returns bit `i` set where `CP=` starts at `window[i]`, for `i` below 16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn cp_mask_sse2(window: &[u8; 18]) -> u32 {
    use safe_arch::{
        bitand_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let lane = |offset: usize, byte: u8| {
        let bytes: &[u8; 16] = window[offset..offset + 16]
            .try_into()
            .expect("an 18-byte window has 16 bytes at offsets 0 to 2");
        cmp_eq_mask_i8_m128i(load_unaligned_m128i(bytes), set_splat_i8_m128i(byte as i8))
    };
    let matches = bitand_m128i(bitand_m128i(lane(0, b'C'), lane(1, b'P')), lane(2, b'='));
    move_mask_i8_m128i(matches) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn high_bytes_not_confused_with_separators() {
        // 0xBB differs from ';' (0x3B) only in the high bit, and UTF-8 text
        // such as Chinese log messages consists of such bytes.
        let mut bytes = [0xBB, 0xAC, 0xBD, 0x80, 0xFF, 0x00, 0x7F, 0xBB, 0xBB, b','].repeat(8);
        bytes.push(b';');
        let found: Vec<usize> = Separators::new(&bytes).collect();
        let expected: Vec<usize> = (0..8).map(|index| index * 10 + 9).chain([80]).collect();
        assert_eq!(found, expected);
    }

    fn positions_by_byte_loop(bytes: &[u8], from: usize, set: [u8; 3]) -> Vec<usize> {
        (from..bytes.len())
            .filter(|&index| set.contains(&bytes[index]))
            .collect()
    }

    #[test]
    fn separators_at_block_edges() {
        let set = SEPARATORS;
        for length in [0, 1, 63, 64, 65, 127, 128, 129, 200] {
            let mut bytes = vec![b'a'; length];
            for at in [0, 62, 63, 64, 65, 127, 128, length.saturating_sub(1)] {
                if at < length {
                    bytes[at] = b'=';
                }
            }
            let found: Vec<usize> = Separators::new(&bytes).collect();
            assert_eq!(found, positions_by_byte_loop(&bytes, 0, set), "{length}");
        }
    }

    #[test]
    fn separators_none_after_end() {
        let mut separators = Separators::new(b"a;b");
        assert_eq!(separators.next(), Some(1));
        assert_eq!(separators.next(), None);
        assert_eq!(separators.next(), None);
        separators.seek(9);
        assert_eq!(separators.next(), None);
    }

    #[test]
    fn cp_found_at_every_offset() {
        for length in [3, 17, 18, 19, 33, 40] {
            for at in 0..=length - 3 {
                let mut bytes = vec![b'C'; length];
                bytes[at..at + 3].copy_from_slice(b"CP=");
                assert_eq!(find_cp(&bytes), Some(at), "{length} {at}");
            }
            assert_eq!(find_cp(&vec![b'C'; length]), None);
        }
        assert_eq!(find_cp(b""), None);
        assert_eq!(find_cp(b"CP"), None);
    }

    proptest! {
        #[test]
        fn cp_search_matches_byte_loop(bytes in proptest::collection::vec(prop_oneof![Just(b'C'), Just(b'P'), Just(b'='), any::<u8>()], 0..80)) {
            let expected = (0..bytes.len()).find(|&at| bytes[at..].starts_with(b"CP="));
            prop_assert_eq!(find_cp(&bytes), expected);
        }

        #[test]
        fn separators_match_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b';'), Just(b'=')], 0..300),
            seek in proptest::option::of(0usize..320),
        ) {
            let set = SEPARATORS;
            let mut separators = Separators::new(&bytes);
            let from = seek.unwrap_or(0);
            if let Some(position) = seek {
                separators.seek(position);
            }
            let found: Vec<usize> = separators.collect();
            prop_assert_eq!(found, positions_by_byte_loop(&bytes, from, set));
        }

        #[test]
        fn separators_seek_after_next(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b',')], 0..300),
            skip in 0usize..200,
        ) {
            // Takes one separator, then seeks forward from it, as the data
            // area iterator does after a value that starts with `//`.
            let set = SEPARATORS;
            let mut separators = Separators::new(&bytes);
            let first = separators.next().unwrap_or(0);
            separators.seek(first + 1 + skip);
            let found: Vec<usize> = separators.collect();
            prop_assert_eq!(found, positions_by_byte_loop(&bytes, first + 1 + skip, set));
        }

        #[test]
        fn swar_block_mask_matches_byte_loop(block in proptest::array::uniform32(prop_oneof![any::<u8>(), Just(b';'), Just(b',')]), tail in proptest::array::uniform32(any::<u8>())) {
            let mut bytes = [0u8; BLOCK];
            bytes[..32].copy_from_slice(&block);
            bytes[32..].copy_from_slice(&tail);
            let set = SEPARATORS;
            let expected = (0..BLOCK)
                .filter(|&index| set.contains(&bytes[index]))
                .fold(0u64, |mask, index| mask | 1 << index);
            prop_assert_eq!(block_mask_swar(&bytes), expected);
            #[cfg(target_arch = "x86_64")]
            prop_assert_eq!(block_mask_sse2(&bytes), expected);
        }
    }
}
