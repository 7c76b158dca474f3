//! Settings of the HJ 212 listener, and their validated form.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use jiff::tz::Offset;
use oversight_hj212::{CrcVariant, DEFAULT_MAX_SEGMENT_LEN, MAX_SEGMENT_LEN, TrailingText};
use serde::{Deserialize, Serialize};

use oversight_store::QuarantineLimits;
use oversight_tls::{TlsConfig, TlsFiles};

use crate::SourceError;

/// The largest `future_tolerance_secs`: one year.
const MAX_FUTURE_TOLERANCE_SECS: i64 = 365 * 24 * 3600;

/// A CRC variant as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrcSetting {
    /// HJ 212-2017 Appendix A, the standard.
    Hj212,
    /// CRC-16/MODBUS written low byte first, as some field devices send it.
    ModbusLe,
}

impl From<CrcSetting> for CrcVariant {
    fn from(setting: CrcSetting) -> Self {
        match setting {
            CrcSetting::Hj212 => Self::Hj212,
            CrcSetting::ModbusLe => Self::ModbusLowByteFirst,
        }
    }
}

/// Settings of the HJ 212 TCP listener (`[hj212]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hj212Config {
    /// Address to listen on. Default `127.0.0.1:9212`; use `0.0.0.0:9212`
    /// to accept dataloggers from other machines.
    pub listen: SocketAddr,
    /// Connections open at once; further ones are closed at once. Default 10000.
    pub max_connections: usize,
    /// Connections open at once from one IP address; further ones from that
    /// address are closed at once. Dataloggers behind one carrier NAT share
    /// an address, so keep it well above the devices of one site. Default 64.
    pub max_connections_per_address: usize,
    /// Time allowed for a frame to arrive whole, in seconds: the first
    /// frame counted from the connect, each later frame from the read that
    /// brought its first bytes. A connection that misses it is closed, so a client that sends
    /// a byte at a time cannot hold a connection. Default 60.
    pub frame_timeout_secs: u64,
    /// How far a `DataTime` may lie ahead of the receive time, in seconds.
    /// An upload beyond it is stored in quarantine with reason
    /// `future_data_time` instead of with the readings. Default 600.
    pub future_tolerance_secs: u64,
    /// Wrong passwords from one IP address within `auth_block_secs` after
    /// which that address is blocked for `auth_block_secs`. The connection
    /// that sent the last one is closed, and new connections from the
    /// address are closed at once. 0 turns blocking off. Default 10.
    pub auth_failures_before_block: u32,
    /// How long an address is blocked, and the window in which its wrong
    /// passwords are counted, in seconds. Default 300.
    pub auth_block_secs: u64,
    /// Uploads held in quarantine per MN at most. Uploads past it are
    /// rejected with reason `quarantine_full` and not acknowledged, so the
    /// device keeps them. Default 1000.
    pub quarantine_max_uploads_per_mn: u64,
    /// Uploads held in quarantine in total at most, with the same
    /// rejection past it. Default 100000.
    pub quarantine_max_uploads: u64,
    /// Maximum data segment length accepted, in bytes, up to 9999. The
    /// standard's maximum is 1024, but devices send longer ones. Default 4096.
    pub max_segment_len: usize,
    /// A connection without any bytes received for this long is closed, in
    /// seconds. Default 300.
    pub idle_timeout_secs: u64,
    /// A connection whose device does not read its acknowledgements for this
    /// long is closed, in seconds. Default 30.
    pub write_timeout_secs: u64,
    /// Bytes read from a socket at a time. Default 4096.
    pub read_buffer_bytes: usize,
    /// The UTC offset `DataTime` is written in, such as `+08:00`. Default
    /// `+08:00` (China Standard Time).
    pub time_zone: String,
    /// Accept packets with text after the data area's closing `&&` (such as
    /// `&&;Flag=0`, written by some faulty encoders), ignoring the text.
    /// Default false: such packets are rejected with reason `trailing_text`.
    pub accept_trailing_text: bool,
    /// CRC variant per MN, for devices that do not send the HJ 212 CRC, such
    /// as `{ "010000A8900016F000169DC0" = "modbus_le" }`. Default none.
    pub crc_overrides: BTreeMap<String, CrcSetting>,
    /// How long a point looked up by MN is reused before the store is asked
    /// again, in seconds. A newly registered point is seen within this time.
    /// Default 5.
    pub point_cache_secs: u64,
    /// Rejected frames logged per connection; later ones are only counted.
    /// Default 5.
    pub logged_rejections_per_connection: u32,
    /// How often the contact times of commands without readings (such as
    /// 9015 heartbeats) are written to the store, in milliseconds, from 100
    /// to 60000. After a crash, a point's stored last contact lags its real
    /// last contact by at most this long plus one store write, while the
    /// store accepts writes. Default 1000.
    pub contact_flush_ms: u64,
    /// TLS for every connection (`[hj212.tls]`). Default none: plain TCP.
    pub tls: TlsConfig,
}

impl Default for Hj212Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9212)),
            max_connections: 10_000,
            max_connections_per_address: 64,
            frame_timeout_secs: 60,
            future_tolerance_secs: 600,
            auth_failures_before_block: 10,
            auth_block_secs: 300,
            quarantine_max_uploads_per_mn: 1000,
            quarantine_max_uploads: 100_000,
            max_segment_len: DEFAULT_MAX_SEGMENT_LEN,
            idle_timeout_secs: 300,
            write_timeout_secs: 30,
            read_buffer_bytes: 4096,
            time_zone: "+08:00".to_owned(),
            accept_trailing_text: false,
            crc_overrides: BTreeMap::new(),
            point_cache_secs: 5,
            logged_rejections_per_connection: 5,
            contact_flush_ms: 1000,
            tls: TlsConfig::default(),
        }
    }
}

/// The settings in the form the listener uses, after validation.
#[derive(Debug, Clone)]
pub struct Hj212Settings {
    pub(crate) listen: SocketAddr,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
    pub(crate) frame_timeout: Duration,
    pub(crate) future_tolerance: jiff::SignedDuration,
    pub(crate) auth_failures_before_block: u32,
    pub(crate) auth_block: Duration,
    pub(crate) quarantine_limits: QuarantineLimits,
    pub(crate) max_segment_len: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) read_buffer_bytes: usize,
    pub(crate) offset: Offset,
    pub(crate) trailing_text: TrailingText,
    pub(crate) crc_overrides: BTreeMap<String, CrcVariant>,
    pub(crate) point_cache_ttl: Duration,
    pub(crate) logged_rejections: u32,
    pub(crate) contact_flush: Duration,
    pub(crate) tls: Option<TlsFiles>,
}

impl Hj212Config {
    /// Checks the settings and converts them, naming the first invalid one.
    pub fn validate(&self) -> Result<Hj212Settings, SourceError> {
        let invalid = |field: &'static str, value: String, rule: &'static str| {
            SourceError::InvalidConfig { field, value, rule }
        };
        if self.max_connections == 0 {
            return Err(invalid(
                "max_connections",
                "0".to_owned(),
                "must be at least 1",
            ));
        }
        if self.max_connections_per_address == 0 {
            return Err(invalid(
                "max_connections_per_address",
                "0".to_owned(),
                "must be at least 1",
            ));
        }
        for (field, value) in [
            (
                "quarantine_max_uploads_per_mn",
                self.quarantine_max_uploads_per_mn,
            ),
            ("quarantine_max_uploads", self.quarantine_max_uploads),
        ] {
            if value == 0 {
                return Err(invalid(field, "0".to_owned(), "must be at least 1"));
            }
        }
        let future_tolerance = i64::try_from(self.future_tolerance_secs)
            .ok()
            .filter(|secs| *secs <= MAX_FUTURE_TOLERANCE_SECS)
            .map(jiff::SignedDuration::from_secs)
            .ok_or_else(|| {
                invalid(
                    "future_tolerance_secs",
                    self.future_tolerance_secs.to_string(),
                    "must be at most 31536000 (one year)",
                )
            })?;
        if !(1024..=MAX_SEGMENT_LEN).contains(&self.max_segment_len) {
            return Err(invalid(
                "max_segment_len",
                self.max_segment_len.to_string(),
                "must be from 1024 (the standard's maximum) to 9999 (what 4 digits can declare)",
            ));
        }
        for (field, secs) in [
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("write_timeout_secs", self.write_timeout_secs),
            ("frame_timeout_secs", self.frame_timeout_secs),
            ("auth_block_secs", self.auth_block_secs),
        ] {
            if secs == 0 {
                return Err(invalid(field, "0".to_owned(), "must be at least 1 second"));
            }
        }
        if !(100..=60_000).contains(&self.contact_flush_ms) {
            return Err(invalid(
                "contact_flush_ms",
                self.contact_flush_ms.to_string(),
                "must be from 100 to 60000 milliseconds",
            ));
        }
        if !(64..=1 << 20).contains(&self.read_buffer_bytes) {
            return Err(invalid(
                "read_buffer_bytes",
                self.read_buffer_bytes.to_string(),
                "must be from 64 to 1048576 bytes",
            ));
        }
        let offset = parse_offset(&self.time_zone).ok_or_else(|| {
            invalid(
                "time_zone",
                self.time_zone.clone(),
                "expected a fixed UTC offset such as +08:00",
            )
        })?;
        let trailing_text = match self.accept_trailing_text {
            true => TrailingText::Ignore,
            false => TrailingText::Reject,
        };
        let crc_overrides = self
            .crc_overrides
            .iter()
            .map(|(mn, setting)| (mn.clone(), CrcVariant::from(*setting)))
            .collect();
        Ok(Hj212Settings {
            listen: self.listen,
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            frame_timeout: Duration::from_secs(self.frame_timeout_secs),
            future_tolerance,
            auth_failures_before_block: self.auth_failures_before_block,
            auth_block: Duration::from_secs(self.auth_block_secs),
            quarantine_limits: QuarantineLimits {
                per_mn: self.quarantine_max_uploads_per_mn,
                total: self.quarantine_max_uploads,
            },
            max_segment_len: self.max_segment_len,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            write_timeout: Duration::from_secs(self.write_timeout_secs),
            read_buffer_bytes: self.read_buffer_bytes,
            offset,
            trailing_text,
            crc_overrides,
            point_cache_ttl: Duration::from_secs(self.point_cache_secs),
            logged_rejections: self.logged_rejections_per_connection,
            contact_flush: Duration::from_millis(self.contact_flush_ms),
            tls: self.tls.validate("hj212.tls")?,
        })
    }
}

/// Parses `+HH:MM` or `-HH:MM`, up to ±14 hours.
fn parse_offset(text: &str) -> Option<Offset> {
    let text = text.trim();
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = text[1..].split_once(':')?;
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = Hj212Config::default().validate().unwrap();
        assert_eq!(settings.offset, Offset::constant(8));
        assert_eq!(settings.trailing_text, TrailingText::Reject);
    }

    #[test]
    fn validate_names_the_field() {
        let cases = [
            (
                Hj212Config {
                    max_connections: 0,
                    ..Hj212Config::default()
                },
                "max_connections",
            ),
            (
                Hj212Config {
                    max_segment_len: 100,
                    ..Hj212Config::default()
                },
                "max_segment_len",
            ),
            (
                Hj212Config {
                    idle_timeout_secs: 0,
                    ..Hj212Config::default()
                },
                "idle_timeout_secs",
            ),
            (
                Hj212Config {
                    time_zone: "Asia/Shanghai".into(),
                    ..Hj212Config::default()
                },
                "time_zone",
            ),
            (
                Hj212Config {
                    read_buffer_bytes: 1,
                    ..Hj212Config::default()
                },
                "read_buffer_bytes",
            ),
            (
                Hj212Config {
                    contact_flush_ms: 99,
                    ..Hj212Config::default()
                },
                "contact_flush_ms",
            ),
            (
                Hj212Config {
                    contact_flush_ms: 60_001,
                    ..Hj212Config::default()
                },
                "contact_flush_ms",
            ),
        ];
        for (config, field) in cases {
            let error = config.validate().unwrap_err();
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+08:00"), Some(Offset::constant(8)));
        assert_eq!(
            parse_offset("-05:30").map(|offset| offset.seconds()),
            Some(-(5 * 3600 + 1800))
        );
        assert_eq!(parse_offset("08:00"), None);
        assert_eq!(parse_offset("+15:00"), None);
    }

    #[test]
    fn toml_style_overrides_deserialize() {
        let json = r#"{"crc_overrides": {"010000A8900016F000169DC0": "modbus_le"}, "listen": "127.0.0.1:0"}"#;
        let config: Hj212Config = serde_json::from_str(json).unwrap();
        let settings = config.validate().unwrap();
        assert_eq!(
            settings.crc_overrides.get("010000A8900016F000169DC0"),
            Some(&CrcVariant::ModbusLowByteFirst)
        );
        let unknown = serde_json::from_str::<Hj212Config>(r#"{"listen_addr": "127.0.0.1:0"}"#);
        assert!(unknown.is_err());
    }
}
