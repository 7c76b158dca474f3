//! Monitoring point import from CSV.
//!
//! Columns (header row required, any order):
//!
//! | column | required | content |
//! |---|---|---|
//! | `mn` | yes | the datalogger's MN |
//! | `name` | yes | the point's name |
//! | `area` | yes | area code; the area must be imported already |
//! | `st` | yes | HJ 212 system code, such as `32` |
//! | `password` | yes | HJ 212 access password (PW) |
//! | `longitude`, `latitude` | no | degrees; both or neither |
//! | `interval_secs` | no | expected upload interval, default 60 |
//! | `limits` | no | `factor:lower:upper:unit` items separated by `|` |
//!
//! A limit item leaves a bound empty when there is none: `w01018::100:mg/L`
//! is COD at most 100 mg/L, `w01001:6:9:` is pH from 6 to 9.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use oversight_core::{
    Actor, AreaCode, FactorCode, FactorLimit, GeoPoint, Mn, MonitoringPoint, Secret, SystemCode,
};
use oversight_store::Store;

use super::{
    BATCH_ROWS, ImportError, ImportReport, Progress, RowError, line_of, open_csv, readable,
};
use crate::api::check_password;

/// Every column a point file may have, required ones first.
pub const POINT_COLUMNS: &[&str] = &[
    "mn",
    "name",
    "area",
    "st",
    "password",
    "longitude",
    "latitude",
    "interval_secs",
    "limits",
];

const REQUIRED: usize = 5;

/// Imports the points of a CSV file; rows whose MN exists replace the stored
/// point. The ledger records each point as written by `actor`.
pub async fn import_point_file(
    store: &dyn Store,
    path: &Path,
    actor: &Actor,
    progress: &mut dyn Progress,
) -> Result<ImportReport, ImportError> {
    let (mut reader, headers, encoding) =
        open_csv(path, &POINT_COLUMNS[..REQUIRED], &POINT_COLUMNS[REQUIRED..])?;
    let columns: HashMap<&str, usize> = POINT_COLUMNS
        .iter()
        .filter_map(|name| {
            headers
                .iter()
                .position(|h| h == *name)
                .map(|index| (*name, index))
        })
        .collect();

    let mut report = ImportReport {
        encoding: Some(encoding),
        ..ImportReport::default()
    };
    let mut good = Vec::new();
    let mut first_line: HashMap<Mn, u64> = HashMap::new();
    let mut areas = AreaCheck::default();
    for record in reader.records() {
        let Some(record) = readable(record, &mut report) else {
            continue;
        };
        let line = line_of(&record);
        let field = |name: &str| {
            columns
                .get(name)
                .and_then(|&index| record.get(index))
                .unwrap_or_default()
        };
        let point = match parse_point(line, &field) {
            Ok(point) => point,
            Err(error) => {
                report.errors.push(error);
                continue;
            }
        };
        if let Some(first) = first_line.get(&point.mn) {
            let message = format!("duplicate MN: line {first} has it already; keep one row per MN");
            report
                .errors
                .push(RowError::new(line, "mn", point.mn.as_str(), message));
            continue;
        }
        if !areas.exists(store, &point.area).await? {
            let message = format!(
                "area {} not found: import it first with `oversight import areas`",
                point.area
            );
            report
                .errors
                .push(RowError::new(line, "area", point.area.as_str(), message));
            continue;
        }
        first_line.insert(point.mn.clone(), line);
        good.push(point);
    }

    progress.start(good.len() as u64);
    for batch in good.chunks(BATCH_ROWS) {
        store.upsert_points(batch, actor).await?;
        report.imported += batch.len() as u64;
        progress.advance(report.imported);
    }
    Ok(report)
}

/// Caches which areas exist, so a file of many points queries the store once per area.
#[derive(Default)]
struct AreaCheck {
    known: HashSet<AreaCode>,
    missing: HashSet<AreaCode>,
}

impl AreaCheck {
    async fn exists(&mut self, store: &dyn Store, code: &AreaCode) -> Result<bool, ImportError> {
        if self.known.contains(code) {
            return Ok(true);
        }
        if self.missing.contains(code) {
            return Ok(false);
        }
        let exists = store.area(code).await?.is_some();
        if exists {
            self.known.insert(code.clone());
        } else {
            self.missing.insert(code.clone());
        }
        Ok(exists)
    }
}

/// Parses one row into a point, or names the first bad column.
fn parse_point<'a>(
    line: u64,
    field: &dyn Fn(&str) -> &'a str,
) -> Result<MonitoringPoint, RowError> {
    let bad = |column: &str, message: &str| RowError::new(line, column, field(column), message);
    let mn = Mn::parse(field("mn")).map_err(|error| bad("mn", error.rule))?;
    let name = field("name");
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad("name", "expected 1 to 200 characters"));
    }
    let area = AreaCode::parse(field("area")).map_err(|error| bad("area", error.rule))?;
    let system_code = SystemCode::parse(field("st")).map_err(|error| bad("st", error.rule))?;
    let password = field("password");
    if let Err(error) = check_password(password) {
        // The password is never echoed in a report.
        return Err(RowError::new(line, "password", "****", error.message));
    }
    let location = parse_location(line, field)?;
    let interval_secs = match field("interval_secs") {
        "" => MonitoringPoint::DEFAULT_INTERVAL_SECS,
        text => match text.parse::<u32>() {
            Ok(secs) if (1..=86_400).contains(&secs) => secs,
            _ => {
                return Err(bad(
                    "interval_secs",
                    "expected a whole number of seconds from 1 to 86400",
                ));
            }
        },
    };
    let limits = parse_limits(field("limits")).map_err(|message| bad("limits", &message))?;
    Ok(MonitoringPoint {
        mn,
        name: name.to_owned(),
        area,
        system_code,
        password: Secret::new(password.to_owned()),
        previous_password: None,
        location,
        limits,
        interval_secs,
        attributes: Default::default(),
    })
}

fn parse_location<'a>(
    line: u64,
    field: &dyn Fn(&str) -> &'a str,
) -> Result<Option<GeoPoint>, RowError> {
    let (longitude, latitude) = (field("longitude"), field("latitude"));
    if longitude.is_empty() && latitude.is_empty() {
        return Ok(None);
    }
    let number = |column: &str, text: &str| {
        text.parse::<f64>().map_err(|_| {
            RowError::new(line, column, text, "expected decimal degrees such as 118.0894; give both longitude and latitude or neither")
        })
    };
    let longitude_value = number("longitude", longitude)?;
    let latitude_value = number("latitude", latitude)?;
    GeoPoint::new(longitude_value, latitude_value)
        .map(Some)
        .map_err(|error| {
            let column = if error.what == "longitude" {
                "longitude"
            } else {
                "latitude"
            };
            RowError::new(line, column, &error.value, error.rule)
        })
}

/// Parses a `limits` cell: `factor:lower:upper:unit` items separated by `|`.
///
/// Returns a message that names the bad item and the expected form.
pub fn parse_limits(cell: &str) -> Result<Vec<FactorLimit>, String> {
    let mut limits: Vec<FactorLimit> = Vec::new();
    for item in cell
        .split('|')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let parts: Vec<&str> = item.splitn(4, ':').map(str::trim).collect();
        let form = "expected factor:lower:upper:unit such as w01018::100:mg/L or w01001:6:9:";
        let [factor, lower, upper, rest @ ..] = parts.as_slice() else {
            return Err(format!("limit {item:?}: {form}"));
        };
        let factor =
            FactorCode::parse(factor).map_err(|error| format!("limit {item:?}: {error}"))?;
        let bound = |text: &str| -> Result<Option<f64>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<f64>()
                .map(Some)
                .map_err(|_| format!("limit {item:?}: bound {text:?} is not a number; {form}"))
        };
        let unit = rest
            .first()
            .filter(|unit| !unit.is_empty())
            .map(|unit| (*unit).to_owned());
        if limits.iter().any(|known| known.factor == factor) {
            return Err(format!(
                "limit {item:?}: factor {factor} appears twice; give one item per factor"
            ));
        }
        let limit = FactorLimit::new(factor, bound(lower)?, bound(upper)?, unit)
            .map_err(|error| format!("limit {item:?}: {error}"))?;
        limits.push(limit);
    }
    Ok(limits)
}
