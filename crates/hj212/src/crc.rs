//! HJ 212 check values: the Appendix A "ANSI CRC16" and the CRC-16/MODBUS variant
//! that some field devices send instead.
//!
//! HJ 212-2017 Appendix A shifts the register right by 8 *before* XOR-ing in each
//! byte (`crc = (crc >> 8) ^ byte`, then eight shifts with polynomial 0xA001), so
//! it is not CRC-16/MODBUS and not CRC-16/ARC. Because the shift discards the low
//! byte, the register after byte `n` is `T[h ^ b_n]`, where `T` is the reflected
//! 0xA001 table and `h` the high byte of the previous register. Only the high byte
//! carries state, so the result is one of 256 table entries and the check is
//! about as strong as an 8-bit checksum.
//!
//! Speed: let `U[x]` be the high byte of `T[x]`. The table is linear over GF(2)
//! (`T[a ^ b] = T[a] ^ T[b]`), so `h_n = U[h_{n-1} ^ b_n] = U[h_{n-1}] ^ U[b_n]`,
//! and after `m` bytes `h_m = U^m[h_0] ^ U^m[b_1] ^ U^(m-1)[b_2] ^ … ^ U^1[b_m]`,
//! where `U^k` is `U` applied `k` times. `U^8` is the identity (the test
//! `high_byte_map_has_order_8` checks it), so a byte's term depends only on its
//! distance from the end modulo 8. [`hj212`] therefore XORs the input together
//! in 8-byte words aligned to its end, which runs at memory speed, and then
//! needs eight table lookups in all.

/// The HJ 212 CRC of the empty input, which is also the initial register value.
const INITIAL: u16 = 0xFFFF;

/// The reflected form of the CRC-16 polynomial 0x8005, used by both variants.
const POLYNOMIAL: u16 = 0xA001;

/// The order of the high-byte map `U`: `U^PERIOD` is the identity.
const PERIOD: usize = 8;

/// `TABLE[x]` is the register after eight reflected shifts of `x`.
static TABLE: [u16; 256] = build_table();

/// `HIGH_POWERS[k - 1][x]` is `U` applied `k` times to `x` (see the module docs),
/// for `k` from 1 to [`PERIOD`].
static HIGH_POWERS: [[u8; 256]; PERIOD] = build_high_powers();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
}

const fn build_high_powers() -> [[u8; 256]; PERIOD] {
    let table = build_table();
    let mut powers = [[0u8; 256]; PERIOD];
    let mut index = 0;
    while index < 256 {
        powers[0][index] = (table[index] >> 8) as u8;
        index += 1;
    }
    let mut power = 1;
    while power < PERIOD {
        let mut index = 0;
        while index < 256 {
            let previous = powers[power - 1][index];
            powers[power][index] = powers[0][previous as usize];
            index += 1;
        }
        power += 1;
    }
    powers
}

/// The check-value algorithm a device uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CrcVariant {
    /// HJ 212-2017 Appendix A, written high byte first (the standard).
    #[default]
    Hj212,
    /// CRC-16/MODBUS written low byte first, as some field devices send it.
    ModbusLowByteFirst,
}

impl CrcVariant {
    /// Computes the check value of `data` as its four hex digits read on the wire.
    pub fn compute(self, data: &[u8]) -> u16 {
        match self {
            Self::Hj212 => hj212(data),
            Self::ModbusLowByteFirst => modbus(data).swap_bytes(),
        }
    }

    /// Returns the variant's name as used in configuration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hj212 => "hj212",
            Self::ModbusLowByteFirst => "modbus_le",
        }
    }
}

impl std::fmt::Display for CrcVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Computes the HJ 212-2017 Appendix A CRC of `data`.
///
/// `123456789` gives 0x2F80 and the empty input 0xFFFF.
pub fn hj212(data: &[u8]) -> u16 {
    let Some((&last, body)) = data.split_last() else {
        return INITIAL;
    };
    let initial_high = (INITIAL >> 8) as u8;
    let mut high = match body.len() % PERIOD {
        0 => initial_high,
        power => HIGH_POWERS[power - 1][usize::from(initial_high)],
    };
    // The byte at index `j` of the folded word is `PERIOD - j` bytes (modulo
    // PERIOD) from the end of `body`, so it takes the power `U^(PERIOD - j)`.
    for (index, &byte) in fold_words(body).iter().enumerate() {
        high ^= HIGH_POWERS[PERIOD - 1 - index][usize::from(byte)];
    }
    TABLE[usize::from(high ^ last)]
}

/// XORs `data` together in [`PERIOD`]-byte words aligned to its end, with
/// the bytes before the first whole word right-aligned in a zero-padded word.
#[inline]
fn fold_words(data: &[u8]) -> [u8; PERIOD] {
    let (head, words) = data.as_rchunks::<PERIOD>();
    let head_word = match data.first_chunk::<PERIOD>() {
        // The first word starts with the head, so shifting it up by the
        // bytes after the head right-aligns the head and drops the rest.
        // This avoids a copy of variable length, which calls `memcpy`.
        Some(first) => u64::from_le_bytes(*first)
            .checked_shl((8 * (PERIOD - head.len())) as u32)
            .unwrap_or(0),
        None => {
            let mut padded = [0u8; PERIOD];
            padded[PERIOD - head.len()..].copy_from_slice(head);
            u64::from_le_bytes(padded)
        }
    };
    let folded = words
        .iter()
        .fold(head_word, |folded, word| folded ^ u64::from_le_bytes(*word));
    folded.to_le_bytes()
}

/// Computes the HJ 212 CRC one bit at a time, exactly as the C code in
/// HJ 212-2017 Appendix A does. Slow; kept as the reference for tests and fuzzing.
pub fn hj212_bitwise(data: &[u8]) -> u16 {
    let mut crc = INITIAL;
    for &byte in data {
        crc = (crc >> 8) ^ u16::from(byte);
        for _ in 0..8 {
            let carry = crc & 1 == 1;
            crc >>= 1;
            if carry {
                crc ^= POLYNOMIAL;
            }
        }
    }
    crc
}

/// Computes the standard CRC-16/MODBUS of `data` (`123456789` gives 0x4B37).
///
/// Devices of the [`CrcVariant::ModbusLowByteFirst`] kind print this value with
/// its bytes swapped.
pub fn modbus(data: &[u8]) -> u16 {
    let mut crc = INITIAL;
    for &byte in data {
        crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APPENDIX_A_SEGMENT: &[u8] = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;\
MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    #[test]
    fn hj212_check_values() {
        assert_eq!(hj212(b"123456789"), 0x2F80);
        assert_eq!(hj212(b"A"), 0x7080);
        assert_eq!(hj212(b""), 0xFFFF);
        assert_eq!(APPENDIX_A_SEGMENT.len(), 101);
        assert_eq!(hj212(APPENDIX_A_SEGMENT), 0x1C80);
    }

    #[test]
    fn bitwise_reference_check_values() {
        assert_eq!(hj212_bitwise(b"123456789"), 0x2F80);
        assert_eq!(hj212_bitwise(APPENDIX_A_SEGMENT), 0x1C80);
        assert_eq!(hj212_bitwise(b""), 0xFFFF);
    }

    #[test]
    fn modbus_check_values() {
        assert_eq!(modbus(b"123456789"), 0x4B37);
        assert_eq!(CrcVariant::ModbusLowByteFirst.compute(b"123456789"), 0x374B);
        assert_eq!(CrcVariant::Hj212.compute(b"123456789"), 0x2F80);
    }

    #[test]
    fn hj212_low_byte_is_from_table_pattern() {
        let allowed = [0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1];
        for length in 1..64u8 {
            let data: Vec<u8> = (0..length).map(|i| i.wrapping_mul(37)).collect();
            let low = (hj212(&data) & 0xFF) as u8;
            assert!(
                allowed.contains(&low),
                "length {length}: low byte {low:#04x}"
            );
        }
    }

    #[test]
    fn folded_equals_bitwise_every_length() {
        let data: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(89) ^ 0x5A).collect();
        for length in 0..data.len() {
            let input = &data[..length];
            assert_eq!(hj212(input), hj212_bitwise(input), "length {length}");
        }
    }

    #[test]
    fn high_byte_map_has_order_8() {
        for value in 0..=u8::MAX {
            assert_eq!(
                HIGH_POWERS[PERIOD - 1][usize::from(value)],
                value,
                "U^8({value:#04x})"
            );
        }
    }

    proptest! {
        #[test]
        fn folded_equals_bitwise(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(hj212(&data), hj212_bitwise(&data));
        }
    }
}
