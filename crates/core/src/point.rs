//! Monitoring points: the registry entries that HJ 212 dataloggers report for.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AreaCode, Secret, ValidationError};

/// Characters that separate fields in an HJ 212 data segment and so can never
/// appear inside an identifier.
const HJ212_SEPARATORS: &[char] = &[';', '=', ',', '&', '-'];

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_graphic() && !HJ212_SEPARATORS.contains(&c)
}

/// A datalogger's unique identifier (MN, 设备唯一标识).
///
/// HJ 212-2017 specifies 24 hexadecimal characters, but devices in the field
/// send anything from 7 to 24 characters, with letters of either case and
/// underscores, so any 1 to 64 printable ASCII characters other than the
/// HJ 212 separators are accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mn(String);

impl Mn {
    /// Parses an MN, rejecting empty, overlong or separator-containing input.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "MN";
        if input.is_empty() {
            return Err(ValidationError::new(WHAT, input, "must not be empty"));
        }
        if input.len() > 64 {
            return Err(ValidationError::new(
                WHAT,
                input,
                "must be at most 64 characters",
            ));
        }
        // A hyphen is allowed here: it only separates factor codes from suffixes.
        if !input.chars().all(|c| is_identifier_char(c) || c == '-') {
            return Err(ValidationError::new(
                WHAT,
                input,
                "must be printable ASCII without spaces, ';', '=', ',' or '&'",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// Returns the MN as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Mn {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Mn> for String {
    fn from(mn: Mn) -> Self {
        mn.0
    }
}

/// A monitored factor's code (污染物因子编码), such as `w01018` (COD) or `LA`
/// (A-weighted noise level).
///
/// Codes are free-form because devices send 2005 short codes (`011`), vendor
/// codes (`ele01`) and names such as `O3` beside the 2017 tables.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FactorCode(String);

impl FactorCode {
    /// Parses a factor code: 1 to 32 printable ASCII characters other than the
    /// HJ 212 separators `;`, `=`, `,`, `&` and `-`.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "factor code";
        if input.is_empty() || input.len() > 32 {
            return Err(ValidationError::new(
                WHAT,
                input,
                "must be 1 to 32 characters",
            ));
        }
        if !input.chars().all(is_identifier_char) {
            return Err(ValidationError::new(
                WHAT,
                input,
                "must be printable ASCII without spaces, ';', '=', ',', '&' or '-'",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// Returns the code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FactorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for FactorCode {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<FactorCode> for String {
    fn from(code: FactorCode) -> Self {
        code.0
    }
}

/// An HJ 212 system code (ST, 系统编码), such as `32` for a wastewater outlet.
///
/// The 2017 table uses two digits or letters; `101` has been seen in the field,
/// so two or three alphanumerics are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SystemCode(String);

impl SystemCode {
    /// Parses a system code of 2 or 3 ASCII letters or digits.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let valid =
            (2..=3).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(ValidationError::new(
                "system code (ST)",
                input,
                "expected 2 or 3 letters or digits, such as 22 (air quality) or 32 (wastewater)",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// Returns the code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SystemCode {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SystemCode> for String {
    fn from(code: SystemCode) -> Self {
        code.0
    }
}

/// A position in degrees, as the registry supplies it (WGS-84 unless the
/// registry says otherwise; Chinese web maps use GCJ-02 and need converting).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Longitude in degrees east, -180 to 180.
    pub longitude: f64,
    /// Latitude in degrees north, -90 to 90.
    pub latitude: f64,
}

impl GeoPoint {
    /// Creates a position, rejecting coordinates out of range or not finite.
    pub fn new(longitude: f64, latitude: f64) -> Result<Self, ValidationError> {
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(ValidationError::new(
                "longitude",
                &longitude.to_string(),
                "must be between -180 and 180 degrees",
            ));
        }
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(ValidationError::new(
                "latitude",
                &latitude.to_string(),
                "must be between -90 and 90 degrees",
            ));
        }
        Ok(Self {
            longitude,
            latitude,
        })
    }
}

/// The permitted range of one factor at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorLimit {
    /// The factor the limit applies to.
    pub factor: FactorCode,
    /// Readings above this value exceed the limit.
    pub upper: Option<f64>,
    /// Readings below this value fall short of the limit (pH, dissolved oxygen).
    pub lower: Option<f64>,
    /// The unit the limit and the readings are in, such as `mg/L`.
    pub unit: Option<String>,
}

impl FactorLimit {
    /// Creates a limit, rejecting non-finite bounds and a lower bound above the upper one.
    pub fn new(
        factor: FactorCode,
        lower: Option<f64>,
        upper: Option<f64>,
        unit: Option<String>,
    ) -> Result<Self, ValidationError> {
        for bound in [lower, upper].into_iter().flatten() {
            if !bound.is_finite() {
                return Err(ValidationError::new(
                    "limit",
                    &bound.to_string(),
                    "must be a finite number",
                ));
            }
        }
        if let (Some(low), Some(high)) = (lower, upper)
            && low > high
        {
            return Err(ValidationError::new(
                "limit",
                &format!("{factor}: lower {low} > upper {high}"),
                "lower limit must not exceed upper limit",
            ));
        }
        if lower.is_none() && upper.is_none() {
            return Err(ValidationError::new(
                "limit",
                factor.as_str(),
                "needs an upper or a lower bound",
            ));
        }
        Ok(Self {
            factor,
            upper,
            lower,
            unit,
        })
    }
}

/// A monitoring point (监测点位): one datalogger and what it is allowed to emit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringPoint {
    /// The datalogger's unique identifier.
    pub mn: Mn,
    /// A human-readable name, such as the enterprise and outlet.
    pub name: String,
    /// The area the point sits in.
    pub area: AreaCode,
    /// The HJ 212 system code the datalogger sends.
    pub system_code: SystemCode,
    /// The HJ 212 access password (PW) the datalogger must send.
    pub password: Secret<String>,
    /// Where the point is.
    pub location: Option<GeoPoint>,
    /// Per-factor limits; factors without one are stored but not checked.
    pub limits: Vec<FactorLimit>,
    /// The expected interval between uploads, in seconds; the data-missing
    /// check counts silence in multiples of it.
    pub interval_secs: u32,
    /// Registry attributes that rules read, such as `noise_class = "2"` or
    /// `tags = "key-polluter,river"`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The password that `password` replaced, while the datalogger may still
    /// send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_password: Option<PreviousPassword>,
}

/// A replaced HJ 212 password that stays valid for a while, so that a
/// datalogger can be switched to the new one without rejected uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousPassword {
    /// The replaced password.
    pub password: Secret<String>,
    /// The end of its validity.
    pub valid_until: Timestamp,
}

/// The password of a point, current or replaced, that an upload's PW matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMatch {
    /// The current password.
    Current,
    /// The previous password, still within its validity.
    Previous,
    /// Neither, or the previous password after its validity ended.
    Wrong,
}

impl MonitoringPoint {
    /// The expected upload interval when the registry gives none, in seconds.
    pub const DEFAULT_INTERVAL_SECS: u32 = 60;

    /// Returns the limit configured for `factor`, if any.
    pub fn limit(&self, factor: &FactorCode) -> Option<&FactorLimit> {
        self.limits.iter().find(|limit| &limit.factor == factor)
    }

    /// Checks the PW a datalogger sent at `now` against the current password
    /// and against the previous one while it is valid.
    pub fn check_password(&self, sent: &str, now: Timestamp) -> PasswordMatch {
        if sent == self.password.expose() {
            return PasswordMatch::Current;
        }
        match &self.previous_password {
            Some(previous) if now < previous.valid_until && sent == previous.password.expose() => {
                PasswordMatch::Previous
            }
            _ => PasswordMatch::Wrong,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mn_accepts_field_variants() {
        for input in [
            "010000A8900016F000169DC0",
            "LD130133000015",
            "JLYP01_AIR01_0001",
            "NJGDKYYC202101q0001w0001",
        ] {
            assert!(Mn::parse(input).is_ok(), "{input}");
        }
    }

    #[test]
    fn mn_rejects_separators_and_empty() {
        for input in ["", "AB;CD", "A=B", "A B", "A&B"] {
            assert!(Mn::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn factor_code_accepts_field_variants() {
        for input in ["w01018", "a34004", "LA", "011", "B01", "ele01", "O3", "SB1"] {
            assert!(FactorCode::parse(input).is_ok(), "{input}");
        }
    }

    #[test]
    fn factor_code_rejects_suffix_separator() {
        let error = FactorCode::parse("w01018-Rtd").unwrap_err();
        assert!(error.to_string().contains("'-'"), "{error}");
    }

    #[test]
    fn system_code_lengths() {
        assert!(SystemCode::parse("32").is_ok());
        assert!(SystemCode::parse("101").is_ok());
        assert!(SystemCode::parse("3").is_err());
        assert!(SystemCode::parse("3 2").is_err());
    }

    #[test]
    fn limit_rejects_inverted_bounds() {
        let ph = FactorCode::parse("w01001").unwrap();
        let error = FactorLimit::new(ph.clone(), Some(9.0), Some(6.0), None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("lower limit must not exceed upper limit"),
            "{error}"
        );
        assert!(FactorLimit::new(ph.clone(), None, None, None).is_err());
        assert!(FactorLimit::new(ph.clone(), Some(f64::NAN), None, None).is_err());
        assert!(FactorLimit::new(ph, Some(6.0), Some(9.0), None).is_ok());
    }

    #[test]
    fn geo_point_ranges() {
        assert!(GeoPoint::new(118.08, 24.48).is_ok());
        assert!(GeoPoint::new(181.0, 24.48).is_err());
        assert!(GeoPoint::new(118.08, f64::INFINITY).is_err());
    }

    #[test]
    fn previous_password_valid_until_expiry() {
        let mut point = MonitoringPoint {
            mn: Mn::parse("MN001").unwrap(),
            name: "outlet".to_owned(),
            area: AreaCode::parse("350203").unwrap(),
            system_code: SystemCode::parse("32").unwrap(),
            password: Secret::new("new-pw".to_owned()),
            location: None,
            limits: Vec::new(),
            interval_secs: 60,
            attributes: BTreeMap::new(),
            previous_password: None,
        };
        let now: Timestamp = "2026-12-04T08:00:00Z".parse().unwrap();
        assert_eq!(point.check_password("new-pw", now), PasswordMatch::Current);
        assert_eq!(point.check_password("old-pw", now), PasswordMatch::Wrong);

        let until: Timestamp = "2026-12-05T00:00:00Z".parse().unwrap();
        point.previous_password = Some(PreviousPassword {
            password: Secret::new("old-pw".to_owned()),
            valid_until: until,
        });
        assert_eq!(point.check_password("old-pw", now), PasswordMatch::Previous);
        assert_eq!(point.check_password("new-pw", now), PasswordMatch::Current);
        assert_eq!(point.check_password("other", now), PasswordMatch::Wrong);
        assert_eq!(point.check_password("old-pw", until), PasswordMatch::Wrong);
    }
}
