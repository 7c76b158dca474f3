//! Parses arbitrary text as signer and verifier keys; a key that parses must encode back
//! to a key that parses to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oversight_ledger::{SignerKey, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = VerifierKey::parse(text) {
        let again = VerifierKey::parse(&key.to_string()).expect("an encoded verifier key parses");
        assert_eq!(again, key);
    }
    if let Ok(key) = SignerKey::parse(text) {
        let encoded = key.to_signer_key_text();
        let again = SignerKey::parse(&encoded).expect("an encoded signer key parses");
        assert_eq!(again.verifier_key(), key.verifier_key());
    }
});
