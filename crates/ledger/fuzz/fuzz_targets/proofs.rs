//! Verifies arbitrary inclusion and consistency proofs: the verifiers must return, and a
//! proof they accept must be one the RFC 9162 path lengths allow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oversight_ledger::{
    Hash, Hasher, consistency_path_len, inclusion_path_len, verify_consistency, verify_inclusion,
};

/// Reads the next `N` bytes, or zeros when the input is exhausted.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut bytes = [0u8; N];
    let count = N.min(data.len());
    bytes[..count].copy_from_slice(&data[..count]);
    *data = &data[count..];
    bytes
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let hasher = if take::<1>(&mut data)[0] & 1 == 0 {
        Hasher::Sha256
    } else {
        Hasher::Sm3
    };
    let first = u64::from_le_bytes(take(&mut data));
    let second = u64::from_le_bytes(take(&mut data));
    let leaf = Hash::from_bytes(take(&mut data));
    let root = Hash::from_bytes(take(&mut data));
    let path: Vec<Hash> = data
        .chunks_exact(32)
        .map(|chunk| Hash::from_bytes(take(&mut &chunk[..])))
        .collect();

    if verify_inclusion(hasher, first, second, &leaf, &path, &root).is_ok() {
        assert!(first < second);
        assert_eq!(path.len(), inclusion_path_len(first, second));
    }
    if verify_consistency(hasher, first, second, &leaf, &root, &path).is_ok() {
        assert!(first > 0);
        assert!(first <= second);
        if first < second {
            assert_eq!(path.len(), consistency_path_len(first, second));
        }
    }
});
