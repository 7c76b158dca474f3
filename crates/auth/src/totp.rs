//! Time-based one-time passwords (RFC 6238) as a second login factor.
//!
//! Codes are 6 digits from HMAC-SHA1 over 30-second steps, which is what
//! common authenticator apps expect from an `otpauth://` URI. A code is
//! accepted for the current step and one step either side, to allow for
//! clock drift, and each step is accepted at most once per account, so an
//! observed code cannot be replayed.

use base64::Engine;
use totp_rs::{Algorithm, Secret, TOTP};

/// Length of a secret, in bytes (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// Digits per code.
const DIGITS: usize = 6;
/// Length of a step, in seconds.
const STEP_SECS: u64 = 30;

/// A TOTP secret could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The random number generator failed.
    #[error("cannot generate a TOTP secret: {0}")]
    Random(String),
    /// A stored secret is unusable.
    #[error("stored TOTP secret is invalid ({0}); enrol the account again")]
    InvalidSecret(String),
}

/// Generates a new secret and returns its raw bytes.
pub fn generate_secret() -> Result<Vec<u8>, TotpError> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| TotpError::Random(error.to_string()))?;
    Ok(bytes)
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<TOTP, TotpError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|error| TotpError::InvalidSecret(error.to_string()))
}

/// Returns the base32 form of a secret, for typing into an authenticator app.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// Returns the `otpauth://totp/…` URI that authenticator apps read from a QR code.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Result<String, TotpError> {
    Ok(totp(secret, issuer, account)?.get_url())
}

/// Checks `code` at Unix time `now_secs` and returns the step it belongs to,
/// or `None` if it matches none of the accepted steps after `last_step`.
pub fn verify(
    secret: &[u8],
    code: &str,
    now_secs: u64,
    last_step: Option<u64>,
) -> Result<Option<u64>, TotpError> {
    let totp = totp(secret, "oversight", "account")?;
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Ok(None);
    }
    let current = now_secs / STEP_SECS;
    for step in [current.saturating_sub(1), current, current + 1] {
        if last_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = totp.generate(step * STEP_SECS);
        if crate::secret::constant_time_eq(&expected, code) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// Returns the code of `secret` at Unix time `unix_secs`, as an
/// authenticator app shows it.
pub fn code_at(secret: &[u8], unix_secs: u64) -> Result<String, TotpError> {
    Ok(totp(secret, "oversight", "account")?.generate(unix_secs))
}

/// Encodes a secret for storage.
pub fn encode_secret(secret: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(secret)
}

/// Decodes a stored secret.
pub fn decode_secret(stored: &str) -> Result<Vec<u8>, TotpError> {
    base64::engine::general_purpose::STANDARD
        .decode(stored)
        .map_err(|error| TotpError::InvalidSecret(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 test secret of RFC 6238, appendix B.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn code_at(secs: u64) -> String {
        totp(RFC_SECRET, "oversight", "test")
            .unwrap()
            .generate(secs)
    }

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 gives 94287082 for T = 59 with 8 digits; 6 digits keep the last six.
        assert_eq!(code_at(59), "287082");
    }

    #[test]
    fn accepts_adjacent_steps_once() {
        let now = 1_111_111_109;
        let code = code_at(now);
        let step = verify(RFC_SECRET, &code, now, None).unwrap();
        assert_eq!(step, Some(now / 30));
        assert_eq!(verify(RFC_SECRET, &code, now, step).unwrap(), None);
        assert_eq!(
            verify(RFC_SECRET, &code_at(now - 30), now, None).unwrap(),
            Some(now / 30 - 1)
        );
        assert_eq!(
            verify(RFC_SECRET, &code_at(now - 90), now, None).unwrap(),
            None
        );
    }

    #[test]
    fn rejects_malformed_codes() {
        assert_eq!(verify(RFC_SECRET, "12345", 59, None).unwrap(), None);
        assert_eq!(verify(RFC_SECRET, "abcdef", 59, None).unwrap(), None);
    }

    #[test]
    fn short_secret_is_invalid() {
        assert!(matches!(
            verify(b"short", "123456", 59, None),
            Err(TotpError::InvalidSecret(_))
        ));
    }

    #[test]
    fn uri_and_storage_round_trip() {
        let secret = generate_secret().unwrap();
        let uri = otpauth_uri(&secret, "Oversight", "chen").unwrap();
        assert!(uri.starts_with("otpauth://totp/Oversight:chen?"), "{uri}");
        assert!(uri.contains(&secret_base32(&secret)), "{uri}");
        assert_eq!(decode_secret(&encode_secret(&secret)).unwrap(), secret);
    }
}
