//! The monitoring points a simulation sends for, for registering them first.

use oversight_core::{AreaCode, FactorCode, FactorLimit, Mn, MonitoringPoint, Secret, SystemCode};

use crate::{SimulateConfig, SimulateError};

/// Returns the points of every connection of `config` in `area`, with the
/// profile's limits and an interval matching the upload rate.
pub fn points(
    config: &SimulateConfig,
    area: &AreaCode,
) -> Result<Vec<MonitoringPoint>, SimulateError> {
    let system_code = SystemCode::parse(config.profile.system_code())?;
    let limits = limits(config)?;
    (0..config.connections)
        .map(|index| {
            let identity = config.device(index);
            Ok(MonitoringPoint {
                mn: Mn::parse(&identity.mn)?,
                name: format!("simulated {} {}", config.profile.as_str(), index + 1),
                area: area.clone(),
                system_code: system_code.clone(),
                password: Secret::new(identity.password),
                previous_password: None,
                location: None,
                limits: limits.clone(),
                interval_secs: config.upload_interval_secs(),
                attributes: Default::default(),
            })
        })
        .collect()
}

fn limits(config: &SimulateConfig) -> Result<Vec<FactorLimit>, SimulateError> {
    let mut limits = Vec::new();
    for model in config.profile.factors() {
        if model.lower.is_none() && model.upper.is_none() {
            continue;
        }
        let unit = (!model.unit.is_empty()).then(|| model.unit.to_owned());
        limits.push(FactorLimit::new(
            FactorCode::parse(model.code)?,
            model.lower,
            model.upper,
            unit,
        )?);
    }
    Ok(limits)
}

/// Writes `points` as the point import CSV: columns `mn`, `name`, `area`,
/// `st`, `password`, `interval_secs` and `limits`, where `limits` lists
/// `factor:lower:upper:unit` items separated by `|`.
pub fn write_points_csv(
    points: &[MonitoringPoint],
    out: impl std::io::Write,
) -> Result<(), SimulateError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "mn",
        "name",
        "area",
        "st",
        "password",
        "interval_secs",
        "limits",
    ])?;
    for point in points {
        let limits: Vec<String> = point
            .limits
            .iter()
            .map(|limit| {
                let bound =
                    |value: Option<f64>| value.map(|value| value.to_string()).unwrap_or_default();
                let unit = limit.unit.as_deref().unwrap_or_default();
                format!(
                    "{}:{}:{}:{unit}",
                    limit.factor,
                    bound(limit.lower),
                    bound(limit.upper)
                )
            })
            .collect();
        writer.write_record([
            point.mn.as_str(),
            &point.name,
            point.area.as_str(),
            point.system_code.as_str(),
            point.password.expose(),
            &point.interval_secs.to_string(),
            &limits.join("|"),
        ])?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_carry_profile_limits() {
        let config = SimulateConfig {
            connections: 3,
            rate: 1.0 / 30.0,
            ..SimulateConfig::default()
        };
        let area = AreaCode::parse("350203").unwrap();
        let points = points(&config, &area).unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!(points[2].mn.as_str(), "SIM000000000000000000002");
        assert_eq!(points[0].interval_secs, 30);
        assert_eq!(points[0].system_code.as_str(), "32");
        let cod = points[0]
            .limit(&FactorCode::parse("w01018").unwrap())
            .unwrap();
        assert_eq!(cod.upper, Some(100.0));
        let ph = points[0]
            .limit(&FactorCode::parse("w01001").unwrap())
            .unwrap();
        assert_eq!((ph.lower, ph.upper), (Some(6.0), Some(9.0)));
    }

    #[test]
    fn csv_has_import_columns() {
        let config = SimulateConfig {
            connections: 1,
            ..SimulateConfig::default()
        };
        let points = points(&config, &AreaCode::parse("350203").unwrap()).unwrap();
        let mut out = Vec::new();
        write_points_csv(&points, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("mn,name,area,st,password,interval_secs,limits")
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("SIM000000000000000000000,simulated wastewater 1,350203,32,123456,1,"),
            "{row}"
        );
        assert!(row.contains("w01001:6:9:|w01018::100:mg/L"), "{row}");
    }
}
