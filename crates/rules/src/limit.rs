//! How one reading compares with its factor's limit.
//!
//! Data flags decide whether a value counts at all (HJ 212-2017 Table 8):
//!
//! - no flag, or `N` (instrument normal): the primary value (`rtd`, else
//!   `avg`) is compared with the limits;
//! - `T` (above the instrument's measuring range): the true value is above
//!   what the instrument can measure, so it counts as above the upper limit,
//!   and as critical because how far above is unknown;
//! - every other flag (`D` fault, `C` calibrating, `M` maintenance, `F`
//!   stopped, `B` communication abnormal, `S` manually set, and letters
//!   outside the table): the value is no evidence about the discharge, so it
//!   neither opens nor resolves an alert.

use oversight_core::{DataFlag, FactorLimit, Reading, Severity};

/// The result of comparing one reading with its factor's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Evidence {
    /// Above the upper limit.
    Above {
        /// The primary value, when the reading has one.
        value: Option<f64>,
        /// How far beyond the limit it is.
        severity: Severity,
    },
    /// Below the lower limit.
    Below {
        /// The primary value.
        value: f64,
        /// How far beyond the limit it is.
        severity: Severity,
    },
    /// Within every configured limit.
    Within,
    /// No evidence either way: invalid flag, or no finite primary value.
    Ignored,
}

/// Compares `reading` with `limit`; `critical_ratio` is
/// [`RulesConfig::critical_ratio`](crate::RulesConfig::critical_ratio).
pub(crate) fn classify(reading: &Reading, limit: &FactorLimit, critical_ratio: f64) -> Evidence {
    let value = reading.values.primary().filter(|value| value.is_finite());
    match reading.flag {
        None => {}
        Some(flag) if flag.is_normal() => {}
        Some(DataFlag::OVER_RANGE) => {
            return match limit.upper {
                Some(_) => Evidence::Above {
                    value,
                    severity: Severity::Critical,
                },
                // Above the measuring range is never below a lower limit.
                None => Evidence::Within,
            };
        }
        Some(_) => return Evidence::Ignored,
    }
    let Some(value) = value else {
        return Evidence::Ignored;
    };
    if let Some(upper) = limit.upper
        && value > upper
    {
        let severity = upper_severity(value, upper, critical_ratio);
        return Evidence::Above {
            value: Some(value),
            severity,
        };
    }
    if let Some(lower) = limit.lower
        && value < lower
    {
        let severity = lower_severity(value, lower, critical_ratio);
        return Evidence::Below { value, severity };
    }
    Evidence::Within
}

/// Critical at `ratio` times the upper limit or more. A limit of zero or
/// less has no meaningful ratio, so any excess over it is a warning.
fn upper_severity(value: f64, upper: f64, ratio: f64) -> Severity {
    if upper > 0.0 && value >= upper * ratio {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// Critical at the lower limit divided by `ratio` or less, such as pH 3
/// against a lower limit of 6 with the default ratio 2.
fn lower_severity(value: f64, lower: f64, ratio: f64) -> Severity {
    if lower > 0.0 && value <= lower / ratio {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use oversight_core::{DataKind, FactorCode, FactorValues, Mn};

    use super::*;

    fn reading(rtd: Option<f64>, avg: Option<f64>, flag: Option<&str>) -> Reading {
        Reading {
            mn: Mn::parse("MN1").unwrap(),
            kind: DataKind::Realtime,
            factor: FactorCode::parse("w01018").unwrap(),
            data_time: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            values: FactorValues {
                rtd,
                avg,
                ..FactorValues::default()
            },
            flag: flag.map(|flag| DataFlag::parse(flag).unwrap()),
        }
    }

    fn limit(lower: Option<f64>, upper: Option<f64>) -> FactorLimit {
        FactorLimit::new(FactorCode::parse("w01018").unwrap(), lower, upper, None).unwrap()
    }

    #[test]
    fn classify_upper_limit() {
        let cod = limit(None, Some(100.0));
        assert_eq!(
            classify(&reading(Some(50.0), None, None), &cod, 2.0),
            Evidence::Within
        );
        assert_eq!(
            classify(&reading(Some(100.0), None, None), &cod, 2.0),
            Evidence::Within
        );
        assert_eq!(
            classify(&reading(Some(150.0), None, Some("N")), &cod, 2.0),
            Evidence::Above {
                value: Some(150.0),
                severity: Severity::Warning
            }
        );
        assert_eq!(
            classify(&reading(Some(200.0), None, None), &cod, 2.0),
            Evidence::Above {
                value: Some(200.0),
                severity: Severity::Critical
            }
        );
    }

    #[test]
    fn classify_lower_limit() {
        let ph = limit(Some(6.0), Some(9.0));
        assert_eq!(
            classify(&reading(Some(5.0), None, None), &ph, 2.0),
            Evidence::Below {
                value: 5.0,
                severity: Severity::Warning
            }
        );
        assert_eq!(
            classify(&reading(Some(3.0), None, None), &ph, 2.0),
            Evidence::Below {
                value: 3.0,
                severity: Severity::Critical
            }
        );
        assert_eq!(
            classify(&reading(Some(7.0), None, None), &ph, 2.0),
            Evidence::Within
        );
    }

    #[test]
    fn classify_uses_avg_without_rtd() {
        let cod = limit(None, Some(100.0));
        assert_eq!(
            classify(&reading(None, Some(120.0), None), &cod, 2.0),
            Evidence::Above {
                value: Some(120.0),
                severity: Severity::Warning
            }
        );
    }

    #[test]
    fn classify_ignores_invalid_flags() {
        let cod = limit(None, Some(100.0));
        for flag in ["D", "C", "M", "F", "B", "S", "X"] {
            let high = reading(Some(500.0), None, Some(flag));
            assert_eq!(
                classify(&high, &cod, 2.0),
                Evidence::Ignored,
                "high value flagged {flag}"
            );
            let normal = reading(Some(5.0), None, Some(flag));
            assert_eq!(
                classify(&normal, &cod, 2.0),
                Evidence::Ignored,
                "normal value flagged {flag}"
            );
        }
    }

    #[test]
    fn classify_over_range_counts_as_above() {
        let cod = limit(None, Some(100.0));
        assert_eq!(
            classify(&reading(Some(20.0), None, Some("T")), &cod, 2.0),
            Evidence::Above {
                value: Some(20.0),
                severity: Severity::Critical
            }
        );
        let lower_only = limit(Some(5.0), None);
        assert_eq!(
            classify(&reading(Some(1.0), None, Some("T")), &lower_only, 2.0),
            Evidence::Within
        );
    }

    #[test]
    fn classify_ignores_missing_and_non_finite() {
        let cod = limit(None, Some(100.0));
        assert_eq!(
            classify(&reading(None, None, None), &cod, 2.0),
            Evidence::Ignored
        );
        assert_eq!(
            classify(&reading(Some(f64::NAN), None, None), &cod, 2.0),
            Evidence::Ignored
        );
        assert_eq!(
            classify(&reading(Some(f64::INFINITY), None, None), &cod, 2.0),
            Evidence::Ignored
        );
    }

    #[test]
    fn severity_with_non_positive_limits() {
        assert_eq!(upper_severity(10.0, 0.0, 2.0), Severity::Warning);
        assert_eq!(lower_severity(-10.0, -1.0, 2.0), Severity::Warning);
    }
}
