//! Readings: one factor's values from one upload, with both event and receive time.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{FactorCode, Mn, ValidationError};

/// What period an upload covers, from its HJ 212 command code (CN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// Real-time data, CN 2011: `DataTime` is the sampling instant.
    Realtime,
    /// Minute data, CN 2051: `DataTime` is the start of the period.
    Minute,
    /// Hourly data, CN 2061: `DataTime` is the start of the hour.
    Hour,
    /// Daily data, CN 2031: `DataTime` is the start of the day.
    Day,
}

impl DataKind {
    /// Returns the kind an upload command code carries, or `None` for other commands.
    pub fn from_command(cn: u16) -> Option<Self> {
        match cn {
            2011 => Some(Self::Realtime),
            2051 => Some(Self::Minute),
            2061 => Some(Self::Hour),
            2031 => Some(Self::Day),
            _ => None,
        }
    }

    /// Returns the HJ 212 command code that uploads this kind.
    pub fn command(self) -> u16 {
        match self {
            Self::Realtime => 2011,
            Self::Minute => 2051,
            Self::Hour => 2061,
            Self::Day => 2031,
        }
    }

    /// Returns the kind's name as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Realtime => "realtime",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// Parses a kind's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "realtime" => Ok(Self::Realtime),
            "minute" => Ok(Self::Minute),
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            _ => Err(ValidationError::new(
                "data kind",
                input,
                "expected realtime, minute, hour or day",
            )),
        }
    }
}

/// An instrument data flag (数据标记, HJ 212-2017 Table 8).
///
/// Devices also send flags outside the table, so any ASCII letter is kept as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataFlag(char);

impl DataFlag {
    /// `N`: instrument normal.
    pub const NORMAL: Self = Self('N');
    /// `F`: instrument stopped.
    pub const STOPPED: Self = Self('F');
    /// `M`: produced during maintenance.
    pub const MAINTENANCE: Self = Self('M');
    /// `S`: manually entered set value.
    pub const MANUAL: Self = Self('S');
    /// `D`: instrument fault.
    pub const FAULT: Self = Self('D');
    /// `C`: instrument calibrating.
    pub const CALIBRATING: Self = Self('C');
    /// `T`: above the instrument's measuring range.
    pub const OVER_RANGE: Self = Self('T');
    /// `B`: instrument-to-datalogger communication abnormal.
    pub const COMMUNICATION: Self = Self('B');

    /// Parses a one-letter flag.
    #[inline]
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let mut chars = input.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Ok(Self(c)),
            _ => Err(ValidationError::new(
                "data flag",
                input,
                "expected one letter, such as N",
            )),
        }
    }

    /// Returns the flag letter.
    pub fn as_char(self) -> char {
        self.0
    }

    /// Returns true if the value was measured by a working instrument (`N`)
    /// and so may count as a valid reading for limit checks.
    pub fn is_normal(self) -> bool {
        self == Self::NORMAL
    }
}

impl fmt::Display for DataFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<String> for DataFlag {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DataFlag> for String {
    fn from(flag: DataFlag) -> Self {
        flag.0.to_string()
    }
}

/// The values of one factor in one upload (`-Rtd`, `-Avg`, `-Min`, `-Max`, `-Cou`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorValues {
    /// Real-time value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtd: Option<f64>,
    /// Average over the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg: Option<f64>,
    /// Minimum over the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Maximum over the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Cumulative value over the period (emission amount, flow total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cou: Option<f64>,
}

impl FactorValues {
    /// Returns the value a limit is checked against: the real-time value for
    /// real-time data, else the period average.
    pub fn primary(&self) -> Option<f64> {
        self.rtd.or(self.avg)
    }

    /// Returns true if no value is present.
    pub fn is_empty(&self) -> bool {
        self.rtd.is_none()
            && self.avg.is_none()
            && self.min.is_none()
            && self.max.is_none()
            && self.cou.is_none()
    }
}

/// One factor's values from one upload of one monitoring point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The datalogger that sent it.
    pub mn: Mn,
    /// The period the values cover.
    pub kind: DataKind,
    /// The factor measured.
    pub factor: FactorCode,
    /// Event time: the `DataTime` the device reported.
    pub data_time: Timestamp,
    /// When Oversight received the upload.
    pub received_at: Timestamp,
    /// The measured values.
    pub values: FactorValues,
    /// The instrument's data flag, when the device sent one.
    pub flag: Option<DataFlag>,
}
