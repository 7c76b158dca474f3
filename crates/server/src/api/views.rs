//! The JSON shapes of API responses and request bodies.
//!
//! Domain types are not serialized directly where the contract differs from
//! them: a point never shows its password, a reading flattens its values, an
//! alert carries its point's name.

use jiff::Timestamp;
use oversight_core::{
    Alert, Area, AreaCode, AreaLevel, DataFlag, DataKind, FactorCode, FactorLimit, FactorValues,
    GeoPoint, Mn, MonitoringPoint, Reading, Secret, SystemCode,
};
use oversight_store::{PointStatus, Revision};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// An area as listed by `/areas`.
#[derive(Debug, Serialize)]
pub(super) struct AreaView {
    code: AreaCode,
    name: String,
    level: AreaLevel,
    parent: Option<AreaCode>,
}

impl From<Area> for AreaView {
    fn from(area: Area) -> Self {
        Self {
            level: area.level(),
            parent: area.parent(),
            code: area.code,
            name: area.name,
        }
    }
}

/// One step of an area's path from its province.
#[derive(Debug, Serialize)]
pub(super) struct PathStep {
    pub(super) code: AreaCode,
    pub(super) name: String,
    pub(super) level: AreaLevel,
}

/// An area with its path, as returned by `/areas/{code}`.
#[derive(Debug, Serialize)]
pub(super) struct AreaDetail {
    #[serde(flatten)]
    pub(super) area: AreaView,
    pub(super) path: Vec<PathStep>,
}

/// A monitoring point without its password.
#[derive(Debug, Serialize)]
pub(super) struct PointView {
    mn: Mn,
    name: String,
    area: AreaCode,
    system_code: SystemCode,
    location: Option<GeoPoint>,
    limits: Vec<FactorLimit>,
    interval_secs: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusView>,
}

impl PointView {
    pub(super) fn new(point: MonitoringPoint, status: Option<StatusView>) -> Self {
        Self {
            mn: point.mn,
            name: point.name,
            area: point.area,
            system_code: point.system_code,
            location: point.location,
            limits: point.limits,
            interval_secs: point.interval_secs,
            status,
        }
    }
}

/// When a point last sent data or made other contact, and whether it counts
/// as online.
#[derive(Debug, Serialize)]
pub(super) struct StatusView {
    last_data_time: Option<Timestamp>,
    /// When its latest upload arrived.
    last_received_at: Option<Timestamp>,
    /// When it last made contact without data, such as an HJ 212 heartbeat.
    last_contact_at: Option<Timestamp>,
    /// Whether the later of the two times is at or after `online_since`,
    /// the contact that the offline rule measures silence from.
    online: bool,
}

impl StatusView {
    pub(super) fn new(status: Option<&PointStatus>, online_since: Timestamp) -> Self {
        let last_seen = status.and_then(PointStatus::last_seen);
        Self {
            last_data_time: status.and_then(|status| status.last_data_time),
            last_received_at: status.and_then(|status| status.last_received_at),
            last_contact_at: status.and_then(|status| status.last_contact_at),
            online: last_seen.is_some_and(|at| at >= online_since),
        }
    }
}

/// The body of `POST /points`: a point with its HJ 212 password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PointBody {
    mn: String,
    name: String,
    area: String,
    system_code: String,
    #[schema(value_type = String)]
    password: Secret<String>,
    #[serde(default)]
    location: Option<LocationBody>,
    #[serde(default)]
    limits: Vec<LimitBody>,
    #[serde(default)]
    interval_secs: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    longitude: f64,
    latitude: f64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LimitBody {
    factor: String,
    #[serde(default)]
    upper: Option<f64>,
    #[serde(default)]
    lower: Option<f64>,
    #[serde(default)]
    unit: Option<String>,
}

impl PointBody {
    /// Validates the body into a point; each error names the field and the fix.
    pub(super) fn into_point(self) -> Result<MonitoringPoint, ApiError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::invalid(format!(
                "invalid name {:?}: expected 1 to 200 characters",
                self.name
            )));
        }
        check_password(self.password.expose())?;
        let interval_secs = self
            .interval_secs
            .unwrap_or(MonitoringPoint::DEFAULT_INTERVAL_SECS);
        if !(1..=86_400).contains(&interval_secs) {
            return Err(ApiError::invalid(format!(
                "invalid interval_secs {interval_secs}: expected 1 to 86400 seconds"
            )));
        }
        let location = match self.location {
            Some(location) => Some(GeoPoint::new(location.longitude, location.latitude)?),
            None => None,
        };
        let mut limits = Vec::with_capacity(self.limits.len());
        for limit in self.limits {
            let factor = FactorCode::parse(&limit.factor)?;
            if limits
                .iter()
                .any(|known: &FactorLimit| known.factor == factor)
            {
                return Err(ApiError::invalid(format!(
                    "duplicate limit for factor {factor}: give each factor one entry"
                )));
            }
            limits.push(FactorLimit::new(
                factor,
                limit.lower,
                limit.upper,
                limit.unit,
            )?);
        }
        Ok(MonitoringPoint {
            mn: Mn::parse(&self.mn)?,
            name: name.to_owned(),
            area: AreaCode::parse(&self.area)?,
            system_code: SystemCode::parse(&self.system_code)?,
            password: self.password,
            previous_password: None,
            location,
            limits,
            interval_secs,
            attributes: Default::default(),
        })
    }
}

/// Checks an HJ 212 access password (PW): 1 to 64 printable ASCII characters
/// other than the data segment separators.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let valid = !password.is_empty()
        && password.len() <= 64
        && password
            .chars()
            .all(|c| c.is_ascii_graphic() && !";=,&".contains(c));
    if valid {
        return Ok(());
    }
    // The password itself is never echoed.
    Err(ApiError::invalid(
        "invalid password: expected 1 to 64 printable ASCII characters without spaces, \
         ';', '=', ',' or '&', as the datalogger sends in PW",
    ))
}

/// A reading or revision as the readings and revisions routes return it:
/// values flattened, absent ones omitted.
#[derive(Debug, Serialize)]
pub(super) struct ReadingView {
    pub(super) factor: FactorCode,
    pub(super) kind: DataKind,
    pub(super) data_time: Timestamp,
    received_at: Timestamp,
    #[serde(flatten)]
    values: FactorValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    flag: Option<DataFlag>,
    /// How many differing resends of this reading are stored; present on
    /// readings, absent on revisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) revisions: Option<u64>,
}

impl From<Reading> for ReadingView {
    fn from(reading: Reading) -> Self {
        Self {
            factor: reading.factor,
            kind: reading.kind,
            data_time: reading.data_time,
            received_at: reading.received_at,
            values: reading.values,
            flag: reading.flag,
            revisions: None,
        }
    }
}

/// A revision as the revisions route returns it: the reading format without
/// `revisions`, and the address of the connection that sent it.
#[derive(Debug, Serialize)]
pub(super) struct RevisionView {
    #[serde(flatten)]
    reading: ReadingView,
    /// The sender's address (IP:port), or null when it was stored without
    /// one, as revisions stored before addresses were recorded are.
    peer: Option<String>,
}

impl From<Revision> for RevisionView {
    fn from(revision: Revision) -> Self {
        Self {
            reading: ReadingView::from(revision.reading),
            peer: revision.peer,
        }
    }
}

/// An alert with its point's name.
#[derive(Debug, Serialize)]
pub(super) struct AlertView {
    #[serde(flatten)]
    pub(super) alert: Alert,
    pub(super) point_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> PointBody {
        serde_json::from_value(json).unwrap()
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "mn": "88888880000001", "name": "outlet 1", "area": "350203",
            "system_code": "32", "password": "123456",
            "limits": [{"factor": "w01018", "upper": 100.0, "unit": "mg/L"}]
        })
    }

    #[test]
    fn point_body_defaults() {
        let point = body(valid()).into_point().unwrap();
        assert_eq!(point.interval_secs, 60);
        assert_eq!(point.limits.len(), 1);
        assert!(point.location.is_none());
    }

    #[test]
    fn point_body_rejects_bad_fields() {
        let cases = [
            ("mn", serde_json::json!("A;B"), "MN"),
            ("area", serde_json::json!("3x"), "area code"),
            ("system_code", serde_json::json!("3"), "system code"),
            ("password", serde_json::json!(""), "password"),
            ("interval_secs", serde_json::json!(0), "interval_secs"),
            ("name", serde_json::json!(" "), "name"),
        ];
        for (field, value, expected) in cases {
            let mut json = valid();
            json[field] = value;
            let error = body(json).into_point().unwrap_err();
            assert!(
                error.message.contains(expected),
                "{field}: {}",
                error.message
            );
        }
    }

    #[test]
    fn point_body_rejects_duplicate_limit() {
        let mut json = valid();
        json["limits"] = serde_json::json!([{"factor": "w01018", "upper": 1.0}, {"factor": "w01018", "upper": 2.0}]);
        let error = body(json).into_point().unwrap_err();
        assert!(
            error.message.contains("duplicate limit"),
            "{}",
            error.message
        );
    }

    #[test]
    fn password_error_hides_value() {
        let error = check_password("bad pass").unwrap_err();
        assert!(!error.message.contains("bad pass"), "{}", error.message);
    }
}
