//! Prometheus metric names of the HJ 212 source. Every label has a bounded
//! set of values: reasons come from the codec's error kinds, never from
//! device input.

/// Gauge: connections open.
pub(crate) const CONNECTIONS: &str = "oversight_hj212_connections";
/// Counter, label `reason` (`total_limit`, `per_address_limit`,
/// `address_blocked`): connections closed at once after accepting.
pub(crate) const CONNECTIONS_REJECTED: &str = "oversight_hj212_connections_rejected_total";
/// Counter: connections closed because a frame did not arrive whole
/// within `frame_timeout_secs`.
pub(crate) const FRAME_TIMEOUTS: &str = "oversight_hj212_frame_timeouts_total";
/// Counter: addresses blocked after too many wrong passwords.
pub(crate) const ADDRESSES_BLOCKED: &str = "oversight_hj212_addresses_blocked_total";
/// Counter, label `reason` (`quarantine_full`, `per_mn_limit`): uploads
/// that quarantine could not hold; they are not acknowledged.
pub(crate) const QUARANTINE_REJECTED: &str = "oversight_hj212_quarantine_rejected_total";
/// Counter: connections closed after `idle_timeout_secs` without data.
pub(crate) const IDLE_TIMEOUTS: &str = "oversight_hj212_idle_timeouts_total";
/// Counter: frames that passed framing and the CRC check.
pub(crate) const FRAMES_RECEIVED: &str = "oversight_hj212_frames_received_total";
/// Counter, label `reason`: frames dropped without acknowledgement.
pub(crate) const FRAMES_REJECTED: &str = "oversight_hj212_frames_rejected_total";
/// Counter, label `reason`: factors of an upload that could not be read;
/// the other factors of the upload are stored.
pub(crate) const FIELDS_REJECTED: &str = "oversight_hj212_fields_rejected_total";
/// Counter: 9014 acknowledgements written.
pub(crate) const ACKNOWLEDGED: &str = "oversight_hj212_acknowledged_total";
/// Counter: readings the store accepted.
pub(crate) const READINGS_STORED: &str = "oversight_hj212_readings_stored_total";
/// Counter, label `reason` (`unregistered`, `future_data_time`): uploads
/// stored in quarantine.
pub(crate) const QUARANTINED: &str = "oversight_hj212_uploads_quarantined_total";
/// Counter: uploads not acknowledged because the store failed.
pub(crate) const STORE_FAILURES: &str = "oversight_hj212_store_failures_total";
/// Counter, label `kind` (`heartbeat`, `reply`, `other`): frames of commands
/// that carry no readings.
pub(crate) const OTHER_COMMANDS: &str = "oversight_hj212_other_commands_total";
/// Counter, label `reason` (`plain_text`, `timeout`, `failed`): connections
/// to a TLS listener closed before or during the handshake.
pub(crate) const TLS_HANDSHAKES_FAILED: &str = "oversight_hj212_tls_handshakes_failed_total";

/// Registers the descriptions shown in the Prometheus output.
pub(crate) fn describe() {
    metrics::describe_gauge!(CONNECTIONS, "HJ 212 connections open");
    metrics::describe_counter!(
        CONNECTIONS_REJECTED,
        "HJ 212 connections closed at once, by the limit that refused them"
    );
    metrics::describe_counter!(
        FRAME_TIMEOUTS,
        "HJ 212 connections closed because a frame did not arrive whole in time"
    );
    metrics::describe_counter!(
        ADDRESSES_BLOCKED,
        "addresses blocked after too many wrong HJ 212 passwords"
    );
    metrics::describe_counter!(
        QUARANTINE_REJECTED,
        "HJ 212 uploads not held because the quarantine was at its cap, by cap"
    );
    metrics::describe_counter!(
        IDLE_TIMEOUTS,
        "HJ 212 connections closed after the idle timeout"
    );
    metrics::describe_counter!(
        FRAMES_RECEIVED,
        "HJ 212 frames that passed framing and the CRC check"
    );
    metrics::describe_counter!(
        FRAMES_REJECTED,
        "HJ 212 frames dropped without acknowledgement, by reason"
    );
    metrics::describe_counter!(
        FIELDS_REJECTED,
        "HJ 212 factor values that could not be read, by reason"
    );
    metrics::describe_counter!(ACKNOWLEDGED, "HJ 212 9014 acknowledgements written");
    metrics::describe_counter!(READINGS_STORED, "readings stored from HJ 212 uploads");
    metrics::describe_counter!(
        QUARANTINED,
        "HJ 212 uploads from unregistered MNs stored in quarantine"
    );
    metrics::describe_counter!(
        STORE_FAILURES,
        "HJ 212 uploads not acknowledged because the store failed"
    );
    metrics::describe_counter!(
        OTHER_COMMANDS,
        "HJ 212 frames of commands without readings, by kind"
    );
    metrics::describe_counter!(
        TLS_HANDSHAKES_FAILED,
        "HJ 212 connections closed before a TLS handshake completed, by reason"
    );
}
