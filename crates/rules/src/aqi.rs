//! Individual air quality index (IAQI) after HJ 633-2012 Table 1.
//!
//! `IAQI = (IAQI_hi - IAQI_lo) / (BP_hi - BP_lo) × (C - BP_lo) + IAQI_lo` for
//! the breakpoints `BP_lo ≤ C ≤ BP_hi`. Concentrations are in µg/m³, CO in
//! mg/m³. The result is not rounded: the standard rounds IAQI up to a whole
//! number, and `ceil(x) > n` holds exactly when `x > n` for a whole `n`, so
//! rules that compare with whole numbers get the same answer.

/// The IAQI value at each breakpoint column.
const IAQI_LEVELS: [f64; 8] = [0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0];

/// Breakpoints per pollutant and averaging period, one per IAQI level.
/// `f64::NAN` marks a level the standard leaves undefined for that column.
const BREAKPOINTS: &[(&str, [f64; 8])] = &[
    (
        "so2_24h",
        [0.0, 50.0, 150.0, 475.0, 800.0, 1600.0, 2100.0, 2620.0],
    ),
    (
        "so2_1h",
        [
            0.0,
            150.0,
            500.0,
            650.0,
            800.0,
            f64::NAN,
            f64::NAN,
            f64::NAN,
        ],
    ),
    (
        "no2_24h",
        [0.0, 40.0, 80.0, 180.0, 280.0, 565.0, 750.0, 940.0],
    ),
    (
        "no2_1h",
        [0.0, 100.0, 200.0, 700.0, 1200.0, 2340.0, 3090.0, 3840.0],
    ),
    (
        "pm10_24h",
        [0.0, 50.0, 150.0, 250.0, 350.0, 420.0, 500.0, 600.0],
    ),
    ("co_24h", [0.0, 2.0, 4.0, 14.0, 24.0, 36.0, 48.0, 60.0]),
    ("co_1h", [0.0, 5.0, 10.0, 35.0, 60.0, 90.0, 120.0, 150.0]),
    (
        "o3_1h",
        [0.0, 160.0, 200.0, 300.0, 400.0, 800.0, 1000.0, 1200.0],
    ),
    (
        "o3_8h",
        [0.0, 100.0, 160.0, 215.0, 265.0, 800.0, f64::NAN, f64::NAN],
    ),
    (
        "pm25_24h",
        [0.0, 35.0, 75.0, 115.0, 150.0, 250.0, 350.0, 500.0],
    ),
];

/// Returns the pollutant names [`iaqi`] accepts.
pub fn pollutants() -> impl Iterator<Item = &'static str> {
    BREAKPOINTS.iter().map(|(name, _)| *name)
}

/// Returns the IAQI of `concentration` for `pollutant` (such as `pm25_24h`),
/// or `None` for an unknown pollutant or a negative or non-finite
/// concentration.
///
/// Above the last breakpoint the standard defines, the IAQI of that
/// breakpoint is returned as a lower bound (500 for most columns), so that
/// alert conditions still fire. The standard gives no IAQI above 800 µg/m³
/// for 1-hour SO2 (bound 200) and 8-hour O3 (bound 300); it uses the 24-hour
/// SO2 and 1-hour O3 values there instead.
pub fn iaqi(pollutant: &str, concentration: f64) -> Option<f64> {
    let (_, breakpoints) = BREAKPOINTS.iter().find(|(name, _)| *name == pollutant)?;
    if !concentration.is_finite() || concentration < 0.0 {
        return None;
    }
    for index in 1..breakpoints.len() {
        let (low, high) = (breakpoints[index - 1], breakpoints[index]);
        if high.is_nan() {
            return Some(IAQI_LEVELS[index - 1]);
        }
        if concentration <= high {
            let (iaqi_low, iaqi_high) = (IAQI_LEVELS[index - 1], IAQI_LEVELS[index]);
            return Some((iaqi_high - iaqi_low) / (high - low) * (concentration - low) + iaqi_low);
        }
    }
    Some(IAQI_LEVELS[IAQI_LEVELS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm25_example() {
        // 80 µg/m³ lies in 75–115, IAQI 100–150: 50 / 40 × 5 + 100 = 106.25.
        assert_eq!(iaqi("pm25_24h", 80.0), Some(106.25));
    }

    #[test]
    fn breakpoints_map_to_levels() {
        assert_eq!(iaqi("pm10_24h", 0.0), Some(0.0));
        assert_eq!(iaqi("pm10_24h", 150.0), Some(100.0));
        assert_eq!(iaqi("co_24h", 60.0), Some(500.0));
        assert_eq!(iaqi("o3_8h", 800.0), Some(300.0));
    }

    #[test]
    fn beyond_last_breakpoint_is_bounded() {
        assert_eq!(iaqi("so2_1h", 801.0), Some(200.0));
        assert_eq!(iaqi("o3_8h", 801.0), Some(300.0));
        assert_eq!(iaqi("pm25_24h", 501.0), Some(500.0));
        assert_eq!(iaqi("pm25_24h", -1.0), None);
        assert_eq!(iaqi("pm1_24h", 10.0), None);
    }
}
