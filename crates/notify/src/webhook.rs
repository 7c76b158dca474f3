//! Webhook delivery: a signed JSON POST.
//!
//! Each request carries
//! - `Idempotency-Key: oversight-notification-<id>`, the same on every
//!   attempt, so a receiver that stores the keys it has processed can drop
//!   the duplicates that at-least-once delivery produces;
//! - `X-Oversight-Timestamp`: Unix seconds when the attempt was signed;
//! - `X-Oversight-Signature: v1=<hex>`: HMAC-SHA256 with the endpoint's
//!   secret over the timestamp, a `.` and the raw body bytes.
//!
//! A receiver verifies by computing the same HMAC over the bytes it
//! received, comparing in constant time, and rejecting timestamps far from
//! its clock (five minutes is usual) to stop replays.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use oversight_store::Notification;
use sha2::Sha256;

use crate::config::WebhookConfig;
use crate::message;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Oversight-Signature";
/// The header that carries the signing time.
pub const TIMESTAMP_HEADER: &str = "X-Oversight-Timestamp";

/// Returns the signature header's value for `body` signed at `timestamp`
/// (Unix seconds) with `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Returns true if `signature` is the header value [`sign`] gives for
/// `body` and `timestamp`. The comparison takes constant time.
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(hex_digest) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(digest) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

/// Posts `notification` to `endpoint`. Any response other than 2xx is a failure.
pub(crate) async fn send(
    client: &reqwest::Client,
    endpoint: &WebhookConfig,
    notification: &Notification,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let body = message::webhook_body(notification);
    let timestamp = now.as_second();
    let signature = sign(endpoint.secret.expose().as_bytes(), timestamp, &body);
    let response = client
        .post(&endpoint.url)
        .timeout(Duration::from_secs(endpoint.timeout_secs))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", message::idempotency_key(notification))
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|error| describe(&error, endpoint))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(format!(
        "webhook {} answered HTTP {}",
        endpoint.id,
        status.as_u16()
    ))
}

fn describe(error: &reqwest::Error, endpoint: &WebhookConfig) -> String {
    if error.is_timeout() {
        format!(
            "webhook {} timed out after {} s",
            endpoint.id, endpoint.timeout_secs
        )
    } else if error.is_connect() {
        format!("webhook {} connection failed: {error}", endpoint.id)
    } else {
        format!("webhook {} request failed: {error}", endpoint.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies() {
        let secret = b"0123456789abcdef";
        let signature = sign(secret, 1_700_000_000, b"{\"id\":1}");
        assert!(signature.starts_with("v1="));
        assert!(verify(secret, 1_700_000_000, b"{\"id\":1}", &signature));
    }

    #[test]
    fn signature_rejects_changes() {
        let secret = b"0123456789abcdef";
        let signature = sign(secret, 1_700_000_000, b"{\"id\":1}");
        assert!(!verify(secret, 1_700_000_001, b"{\"id\":1}", &signature));
        assert!(!verify(secret, 1_700_000_000, b"{\"id\":2}", &signature));
        assert!(!verify(
            b"another-secret-16",
            1_700_000_000,
            b"{\"id\":1}",
            &signature
        ));
        assert!(!verify(secret, 1_700_000_000, b"{\"id\":1}", "v1=zz"));
    }

    #[test]
    fn signature_matches_known_value() {
        // The value Python's `hmac.new(key, b"1700000000.{}", hashlib.sha256)` returns.
        let signature = sign(b"0123456789abcdef", 1_700_000_000, b"{}");
        assert_eq!(
            signature,
            "v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
    }
}
