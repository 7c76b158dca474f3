//! Environmental noise limits after GB 3096-2008 Table 1, LAeq in dB(A).
//!
//! Day is 06:00 to 22:00 and night 22:00 to 06:00 local time, the standard's
//! default split. Local governments above county level may move it; a rule
//! can compare `hour` directly where they have.

/// Day and night limits per functional-area class (声环境功能区类别).
const LIMITS: &[(&str, f64, f64)] = &[
    ("0", 50.0, 40.0),
    ("1", 55.0, 45.0),
    ("2", 60.0, 50.0),
    ("3", 65.0, 55.0),
    ("4a", 70.0, 55.0),
    ("4b", 70.0, 60.0),
];

/// Returns the limit of `class` (`0`, `1`, `2`, `3`, `4a` or `4b`) by day or
/// by night, or `None` for an unknown class.
pub fn limit(class: &str, night: bool) -> Option<f64> {
    let (_, day_limit, night_limit) = LIMITS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(class))?;
    Some(if night { *night_limit } else { *day_limit })
}

/// Returns the class names [`limit`] accepts.
pub fn classes() -> impl Iterator<Item = &'static str> {
    LIMITS.iter().map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_class() {
        assert_eq!(limit("2", false), Some(60.0));
        assert_eq!(limit("2", true), Some(50.0));
        assert_eq!(limit("4B", true), Some(60.0));
        assert_eq!(limit("4a", true), Some(55.0));
        assert_eq!(limit("5", false), None);
    }
}
