//! Settings of an HJ 212 simulation run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Profile, SimulateError};

/// The MN and password of one simulated datalogger.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceIdentity {
    /// The datalogger's MN.
    pub mn: String,
    /// The access password (PW) it sends.
    pub password: String,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("mn", &self.mn)
            .field("password", &"****")
            .finish()
    }
}

/// Settings of `oversight simulate hj212`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateConfig {
    /// The HJ 212 listener to connect to, `host:port`. Default `127.0.0.1:9212`.
    pub target: String,
    /// How many dataloggers, each on its own TCP connection. Default 10.
    pub connections: usize,
    /// Real-time uploads (CN 2011) per second per connection; 0 sends as
    /// fast as `max_in_flight` allows. Default 1.
    pub rate: f64,
    /// How many uploads a connection may have sent without a 9014
    /// acknowledgement before it waits. Default 16; 1 is how dataloggers
    /// that wait for each acknowledgement behave.
    pub max_in_flight: usize,
    /// How long to run, in seconds; 0 runs until cancelled. Default 0.
    pub duration_secs: f64,
    /// The kind of site. Default wastewater.
    pub profile: Profile,
    /// The dataloggers' MNs and passwords. When empty, `connections`
    /// identities `SIM` + 21-digit number are generated, starting at
    /// `first_index`, all with `password`.
    pub devices: Vec<DeviceIdentity>,
    /// The number of the first generated MN. Default 0.
    pub first_index: u64,
    /// The password of generated identities. Default `123456`.
    pub password: String,
    /// Also send minute (CN 2051) and hourly (CN 2061) data at the end of each
    /// period. Default false.
    pub aggregates: bool,
    /// The minute-data period, in minutes. Default 10.
    pub minute_interval_mins: u32,
    /// Share of values, 0 to 1, sent above their factor's upper limit. Default 0.
    pub exceedance_share: f64,
    /// Share of devices, 0 to 1, whose values never change. Default 0.
    pub flatline_share: f64,
    /// Share of devices, 0 to 1, that fall silent for `dropout_secs` at a
    /// random moment in every cycle of twice that length. Default 0.
    pub dropout_share: f64,
    /// How long a dropout lasts, in seconds. Default 300.
    pub dropout_secs: f64,
    /// Share of uploads, 0 to 1, sent malformed: alternately with a wrong
    /// CRC and with a wrong length. They expect no acknowledgement. Default 0.
    pub malformed_share: f64,
    /// How long to wait for a 9014 acknowledgement, in seconds. Default 10,
    /// the standard's default request timeout for mobile networks.
    pub ack_timeout_secs: f64,
    /// How long a TCP connect may take, in seconds. Default 5.
    pub connect_timeout_secs: f64,
    /// How often to report progress, in seconds; 0 reports only at the end.
    /// Default 5.
    pub report_interval_secs: f64,
    /// The random seed; the same seed sends the same values. Default 1.
    pub seed: u64,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        Self {
            target: "127.0.0.1:9212".to_owned(),
            connections: 10,
            rate: 1.0,
            max_in_flight: 16,
            duration_secs: 0.0,
            profile: Profile::default(),
            devices: Vec::new(),
            first_index: 0,
            password: "123456".to_owned(),
            aggregates: false,
            minute_interval_mins: 10,
            exceedance_share: 0.0,
            flatline_share: 0.0,
            dropout_share: 0.0,
            dropout_secs: 300.0,
            malformed_share: 0.0,
            ack_timeout_secs: 10.0,
            connect_timeout_secs: 5.0,
            report_interval_secs: 5.0,
            seed: 1,
        }
    }
}

impl SimulateConfig {
    /// Checks the settings, naming the first invalid one.
    pub fn validate(&self) -> Result<(), SimulateError> {
        let invalid = |field: &'static str, value: String, rule: &'static str| {
            Err(SimulateError::InvalidConfig { field, value, rule })
        };
        if self.connections == 0 {
            return invalid("connections", "0".to_owned(), "must be at least 1");
        }
        if !self.devices.is_empty() && self.devices.len() < self.connections {
            return invalid(
                "devices",
                self.devices.len().to_string(),
                "must list at least as many devices as connections, or none to generate them",
            );
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return invalid(
                "rate",
                self.rate.to_string(),
                "must be 0 or more uploads per second",
            );
        }
        if self.max_in_flight == 0 {
            return invalid("max_in_flight", "0".to_owned(), "must be at least 1");
        }
        if ![1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].contains(&self.minute_interval_mins) {
            return invalid(
                "minute_interval_mins",
                self.minute_interval_mins.to_string(),
                "must divide an hour as HJ 212 allows: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30",
            );
        }
        let shares = [
            ("exceedance_share", self.exceedance_share),
            ("flatline_share", self.flatline_share),
            ("dropout_share", self.dropout_share),
            ("malformed_share", self.malformed_share),
        ];
        for (field, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return invalid(field, share.to_string(), "must be a share from 0 to 1");
            }
        }
        let seconds = [
            ("duration_secs", self.duration_secs, true),
            ("dropout_secs", self.dropout_secs, false),
            ("ack_timeout_secs", self.ack_timeout_secs, false),
            ("connect_timeout_secs", self.connect_timeout_secs, false),
            ("report_interval_secs", self.report_interval_secs, true),
        ];
        for (field, value, zero_allowed) in seconds {
            let valid = value.is_finite() && (value > 0.0 || (zero_allowed && value == 0.0));
            if !valid {
                return invalid(
                    field,
                    value.to_string(),
                    "must be a positive number of seconds",
                );
            }
        }
        Ok(())
    }

    /// Returns the identity of connection `index`.
    pub fn device(&self, index: usize) -> DeviceIdentity {
        match self.devices.get(index) {
            Some(identity) => identity.clone(),
            None => DeviceIdentity {
                mn: generated_mn(self.first_index + index as u64),
                password: self.password.clone(),
            },
        }
    }

    /// Returns the upload interval the simulated points should be registered
    /// with, in seconds: the time between real-time uploads, at least 1.
    pub fn upload_interval_secs(&self) -> u32 {
        if self.rate <= 0.0 {
            return 1;
        }
        (1.0 / self.rate).round().clamp(1.0, f64::from(u32::MAX)) as u32
    }

    pub(crate) fn duration(&self) -> Option<Duration> {
        (self.duration_secs > 0.0).then(|| Duration::from_secs_f64(self.duration_secs))
    }

    pub(crate) fn report_interval(&self) -> Option<Duration> {
        (self.report_interval_secs > 0.0)
            .then(|| Duration::from_secs_f64(self.report_interval_secs))
    }
}

/// Returns the generated MN number `index`: `SIM` and 21 digits, 24
/// characters like a 2017 MN.
pub fn generated_mn(index: u64) -> String {
    format!("SIM{index:021}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(SimulateConfig::default().validate().is_ok());
    }

    #[test]
    fn validate_names_the_field() {
        let cases = [
            SimulateConfig {
                connections: 0,
                ..SimulateConfig::default()
            },
            SimulateConfig {
                rate: -1.0,
                ..SimulateConfig::default()
            },
            SimulateConfig {
                exceedance_share: 1.5,
                ..SimulateConfig::default()
            },
            SimulateConfig {
                minute_interval_mins: 7,
                ..SimulateConfig::default()
            },
            SimulateConfig {
                ack_timeout_secs: 0.0,
                ..SimulateConfig::default()
            },
        ];
        let fields = [
            "connections",
            "rate",
            "exceedance_share",
            "minute_interval_mins",
            "ack_timeout_secs",
        ];
        for (config, field) in cases.iter().zip(fields) {
            let error = config.validate().unwrap_err();
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn generated_identities() {
        let config = SimulateConfig {
            first_index: 5,
            ..SimulateConfig::default()
        };
        let device = config.device(2);
        assert_eq!(device.mn, "SIM000000000000000000007");
        assert_eq!(device.mn.len(), 24);
        assert_eq!(device.password, "123456");
        assert!(!format!("{device:?}").contains("123456"));
    }

    #[test]
    fn upload_interval_from_rate() {
        let every_30_secs = SimulateConfig {
            rate: 1.0 / 30.0,
            ..SimulateConfig::default()
        };
        assert_eq!(every_30_secs.upload_interval_secs(), 30);
        let fast = SimulateConfig {
            rate: 20.0,
            ..SimulateConfig::default()
        };
        assert_eq!(fast.upload_interval_secs(), 1);
    }
}
